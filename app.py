"""rnnviz home page."""

import streamlit as st

st.set_page_config(page_title="rnnviz", page_icon="🔁", layout="wide")
st.title("rnnviz")
st.write(
    "An interactive visual explainer for recurrent neural networks: step a vanilla RNN, an LSTM "
    "or a GRU through a sequence, see every number the cell computes, and watch the gradient "
    "flow back through time."
)
