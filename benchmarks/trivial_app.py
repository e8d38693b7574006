"""Streamlit's floor: the smallest app with what an rnnviz view has — a ▶ button, a slider, one Plotly chart.

benchmarks/browser.py serves it beside rnnviz and times the same interactions on both.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="trivial", layout="wide")
if "n" not in st.session_state:
    st.session_state.n = 0
if st.button("▶", key="next"):
    st.session_state.n += 1
k = st.slider("k", 1, 20, 3, key="k")
x = np.arange(50, dtype=np.float32)
y = np.sin(x / k + st.session_state.n).astype(np.float32)
st.plotly_chart(go.Figure(go.Scatter(x=x, y=y), layout={"title": {"text": f"n = {st.session_state.n}, k = {k}"}}))
