"""rnnviz home page: what is here, and lessons that open a page with a prepared scenario."""

import streamlit as st

from rnnviz import ui
from rnnviz.ui.pages import PAGES

ui.page("home")

st.title("rnnviz — see inside a recurrent neural network")
st.markdown(
    "rnnviz runs a vanilla **RNN**, an **LSTM** or a **GRU** on a sequence and shows every number "
    "the cell computes: the hidden and cell states, each gate's activation, the equations with the "
    "live numbers plugged in — and, going backwards, the gradient that flows through time. "
    "The numbers are exactly PyTorch's (float64). Pick a lesson, or set the controls on the left "
    "and open a page; a copied link reopens exactly the same view."
)

STEP_LESSONS = [
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

GRADIENT_LESSONS = [
    ("Vanishing: an RNN at spectral radius 0.8", "Every step back multiplies the gradient by about 0.76: "
     "after 60 steps almost nothing of the first inputs reaches the loss.",
     {"cell": "rnn-relu", "source": "noise", "length": "60", "hidden": "16", "init": "radius", "radius": "0.8",
      "forget_bias": "3"}),
    ("Exploding: the same RNN at 1.2", "The same network with W_hh scaled to 1.2: now each step back multiplies "
     "the gradient by more than 1, and it grows without bound.",
     {"cell": "rnn-relu", "source": "noise", "length": "60", "hidden": "16", "init": "radius", "radius": "1.2",
      "forget_bias": "3"}),
    ("The LSTM's gradient highway", "With its forget gate open, the LSTM carries the gradient along its cell "
     "state almost undiminished, while the RNN's fades.",
     {"cell": "lstm", "source": "task", "task": "adding", "length": "80", "hidden": "16", "forget_bias": "3"}),
    ("Saturation stops a tanh RNN", "Large inputs push tanh units to ±1, where their derivative is 0: "
     "watch the saturation meter and the gradient.",
     {"cell": "rnn-tanh", "source": "noise", "length": "60", "hidden": "16", "input_scale": "5"}),
]


TRAINING_LESSONS = [
    ("Clipping tames an explosion", "Two runs on the same data: without clipping the loss blows up by hundreds "
     "of orders of magnitude; with the gradient's norm clipped at 1 the same network learns.", {}),
    ("The cliff", "A one-unit recurrent net whose loss has a wall: one plain gradient step from next to it is "
     "thrown off the map, a clipped one stays put.", {"part": "cliff"}),
]

LESSONS = {"step": STEP_LESSONS, "bptt": GRADIENT_LESSONS, "training": TRAINING_LESSONS}  # page key -> its lessons

for key, lessons in LESSONS.items():
    page = PAGES[key]
    st.subheader(page.description)
    cols = st.columns(2)
    for k, (title, sentence, params) in enumerate(lessons):
        with cols[k % 2].container(border=True):
            st.markdown(f"#### {title}")
            st.write(sentence)
            st.page_link(page.file, label=f"Open in {page.label}", icon=":material/play_arrow:", query_params=params)
