"""rnnviz home page: what is here, and lessons that open a page with a prepared scenario."""

import streamlit as st

from rnnviz import ui

ui.page("Home")

st.title("rnnviz — see inside a recurrent neural network")
st.markdown(
    "rnnviz runs a vanilla **RNN**, an **LSTM** or a **GRU** on a sequence and shows every number "
    "the cell computes: the hidden and cell states, each gate's activation, the equations with the "
    "live numbers plugged in — and, going backwards, the gradient that flows through time. "
    "The numbers are exactly PyTorch's (float64). Pick a lesson, or set the controls on the left "
    "and open a page; a copied link reopens exactly the same view."
)

LESSONS = [
    ("Step through an LSTM reading text", "Watch the forget gate decide what the cell state keeps, "
     "one character at a time.", {"cell": "lstm", "source": "text", "text": "hello world", "hidden": "8"}),
    ("A vanilla RNN on a sine wave", "The simplest recurrence: one tanh of the input plus the old state.",
     {"cell": "rnn-tanh", "source": "sine", "length": "40", "hidden": "6"}),
    ("A GRU on the adding problem", "Two marked numbers far apart: see which units react to the markers.",
     {"cell": "gru", "source": "task", "task": "adding", "length": "30", "hidden": "8"}),
    ("An RNN that saturates", "Spectral radius 1.8 drives tanh units to ±1, where they stop learning.",
     {"cell": "rnn-tanh", "source": "noise", "length": "40", "init": "radius", "radius": "1.8",
      "hidden": "16"}),
]

cols = st.columns(2)
for k, (title, sentence, params) in enumerate(LESSONS):
    with cols[k % 2].container(border=True):
        st.markdown(f"#### {title}")
        st.write(sentence)
        st.page_link("pages/1_Step_through.py", label="Open in Step through", icon=":material/play_arrow:",
                     query_params=params)
