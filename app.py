"""rnnviz home page: a two-minute primer, guided lessons, and scenarios that open a page prepared."""

import streamlit as st

from rnnviz import ui
from rnnviz.ui import lessons
from rnnviz.ui.pages import PAGES

ui.page("home")

st.title("rnnviz — see inside a recurrent neural network")
st.markdown(
    "rnnviz runs a vanilla **RNN**, an **LSTM** or a **GRU** on a sequence and shows every number the cell "
    "computes — the hidden and cell states, each gate, the equations with the live numbers — and then the "
    "gradient that flows back through time. The numbers are exactly PyTorch's (float64). Follow a guided "
    "lesson, open a prepared scenario, or set the controls on the left; a copied link reopens the same view."
)
lessons.terms(PAGES["home"].terms)

st.subheader("A recurrent network in two minutes")
st.markdown(
    "A **recurrent neural network** reads a sequence — characters, numbers, words — one item at a time. It keeps "
    "a memory, the **hidden state** h_t, a list of numbers it rewrites at every step from two things: the new "
    "input x_t and its previous state h_t−1. The same small network, the **cell**, does this at every step with "
    "the same weights; for the vanilla RNN, h_t = tanh(W_ih x_t + W_hh h_t−1 + b).\n\n"
    "To learn, the network must find out how each earlier step affected its mistake at the end: the **gradient** "
    "of the loss. **Backpropagation through time** carries that gradient back from the last step, one step at "
    "a time, multiplying it at every step. Multiply by less than one again and again and it **vanishes**; by "
    "more than one, and it **explodes**. That is why a plain RNN struggles to learn that something long ago "
    "mattered.\n\n"
    "The **LSTM** and the **GRU** add **gates** — numbers between zero and one that decide, unit by unit, what to "
    "keep, forget and write — and a path (the LSTM's **cell state**) along which the gradient is multiplied only "
    "by a gate, so it can survive many steps. **Gradient clipping** caps the gradient before a training update, "
    "so that one explosion cannot throw the weights away.\n\n"
    "Where to start: **Step through** shows one cell computing, step by step; **Backprop through time** shows "
    "the gradient fading or growing; **Clipping and training** shows what an explosion does to training; "
    "**Compare cells** puts an RNN, an LSTM and a GRU side by side to see how long each remembers; "
    "**Attention** shows an encoder-decoder whose decoder looks back at every input, and how that keeps the "
    "gradient from fading with distance. Every "
    "term has a plain explanation under “Terms on this page”."
)

st.subheader("Guided lessons: predict, then see")
st.caption("Each lesson walks through the pages in a few steps, and asks you to predict before it shows the answer.")
lessons.home_cards()

for key in ("step", "bptt", "training", "compare", "attention"):  # the pages with scenario cards
    st.subheader(PAGES[key].description)
    lessons.scenario_cards(key)
