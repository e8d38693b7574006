"""Input and output setups: one-to-many, many-to-one, many-to-many and encoder-decoder, and where gradient goes."""

import streamlit as st

from rnnviz import ui
from rnnviz.setups import SETUPS
from rnnviz.ui import lessons
from rnnviz.ui.export import export_panel
from rnnviz.ui.pages import PAGES
from rnnviz.views import setups as view

cfg, display = ui.page("setups")
st.title("Input and output setups")
st.markdown(
    "The same recurrent cell serves very different tasks, depending on **where inputs enter** and **where the "
    "loss applies**: one input and a sequence out, a sequence in and one answer, an answer at every step, or an "
    "encoder that reads everything before a decoder writes. The gradient enters only where a loss is and flows "
    "only back in time, so each setup changes **which steps receive gradient**, and how much."
)
lessons.player("setups")
lessons.terms(PAGES["setups"].terms)
if not ui.unused_weights_note(cfg, view.unused_weights_sentence(cfg)):
    ui.weights_note(cfg)
setup = ui.choice(st.segmented_control, "Setup", "setup", param=view.PARAMS["setup"]) or view.PARAMS["setup"].default
study = ui.setups_study(cfg)
st.caption(f"{SETUPS[setup].label}: {SETUPS[setup].example}. One layer, one direction of the cell chosen in the "
           f"sidebar. {view.receives_sentence(study, setup)}")
shown = view.build(study, cfg, display, setup)
ui.show(shown, "setup", display, key="setups-setup")
st.subheader("Every setup on the same input")
ui.show(shown, "compare", display, key="setups-compare")
export_panel("setups")
