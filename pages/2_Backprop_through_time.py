"""Backprop through time: the unrolled graph, and gradients that vanish or explode."""

import streamlit as st

from rnnviz import ui
from rnnviz.cells import CELLS
from rnnviz.studies.bptt import TINY
from rnnviz.ui import bptt as bptt_ui
from rnnviz.ui import lessons, truncation
from rnnviz.ui.export import export_panel
from rnnviz.ui.pages import PAGES
from rnnviz.views import bptt as view

cfg, display = ui.page("bptt")
st.title("Backprop through time")
st.markdown(
    "To learn, a recurrent network must find out how each earlier step affected the loss, so the "
    "gradient is carried **backwards through every step**, multiplied each time by that step's "
    "Jacobian. When those factors are below 1 the signal from the distant past **vanishes** "
    "geometrically, and the network cannot learn long dependencies; above 1 it **explodes**. "
    "The LSTM's cell state adds a path where the factor is just the forget gate — a highway on which "
    "the gradient can survive."
)
lessons.player("bptt")
lessons.terms(PAGES["bptt"].terms)
ui.weights_note(cfg)
loss_col, mode_col = st.columns(2)
loss_on = ui.choice(loss_col.segmented_control, "Loss on", "loss", param=view.PARAMS["loss"],
                    help="Last step only: the long-dependency case. Every step: fresh gradient enters everywhere.")
study = ui.bptt_study(cfg, loss_on or "last")
main = study.main
T = main.scenario.T
if main.exploded_at is not None:
    st.error(f"**Exploded at step {main.exploded_at}**: the {main.exploded_in} pass overflowed to inf/NaN there. "
             "The plots show the numbers up to that point. Lower the spectral radius or the input scale.")


if cfg.stacked:  # several layers or both directions: the whole stack's gradient first
    ui.show(view.stack_view(ui.stack_gradients(cfg, loss_on or "last"), cfg, display), "stack", display,
            key="bptt-stack")
    st.caption(view.STACK_NOTE)
bptt_ui.graph(mode_col, cfg, display, loss_on or "last")  # a fragment: moving t or the mode redraws only it
shown = view.build(study, cfg, display)
norms_col, stats_col = st.columns([3, 1])
with norms_col:
    ui.show(shown, "norms", display, key="bptt-norms")
if not lessons.is_held("bptt-grad-norms"):  # the numbers answer a lesson's open question
    with stats_col:
        reach = study.reach
        if cfg.stacked:  # these numbers are the single cell's below the stack's plots, not the stack's
            st.caption(view.STACK_STATS_NOTE)
        st.metric("Reaches t = 1", view.fraction_text(reach.fraction), help=view.REACH_HELP)
        st.metric("Per step back", "—" if reach.regime == "undefined" else f"× {reach.factor:.3g}",
                  help=view.FACTOR_HELP)
        st.metric("Regime", reach.regime)
        if main.steps_to_tiny is not None:
            st.markdown(f"Below **{TINY:g}** of its size at t = T after **{main.steps_to_tiny} steps** back.")
        for cell, other in study.others.items():
            st.caption(view.reach_sentence(CELLS[cell].label, other.reach))

st.subheader("Truncated BPTT: the gradient cut after k steps")
truncation.section(cfg, display, loss_on or "last")

st.subheader("Why it happens")
ui.show(shown, "why", display, key="bptt-why")
if view.bound_note(study):
    st.caption(view.bound_note(study))

st.subheader("Saliency: which inputs can still teach the network")
ui.show(shown, "saliency", display, key="bptt-saliency")
export_panel("bptt")
