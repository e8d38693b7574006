"""Backprop through time: the unrolled graph, and gradients that vanish or explode."""

import streamlit as st

from rnnviz import ui
from rnnviz.cells import CELLS
from rnnviz.studies.bptt import TINY
from rnnviz.ui import bptt as bptt_ui
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


bptt_ui.graph(mode_col, cfg, display, loss_on or "last")  # a fragment: moving t or the mode redraws only it
shown = view.build(study, cfg, display)
norms_col, stats_col = st.columns([3, 1])
with norms_col:
    ui.show(shown, "norms", display, key="bptt-norms")
with stats_col:
    fit = main.fit
    st.metric("Per-step factor going back", "—" if fit.regime == "undefined" else f"× {fit.factor:.3g}",
              help="A straight-line fit of log ||dL/dh_t|| against the number of steps back.")
    st.metric("Regime", fit.regime)
    if main.steps_to_tiny is not None:
        st.markdown(f"The gradient from step t is below **{TINY:g}** of its final size after "
                    f"**{main.steps_to_tiny} steps** back.")
    else:
        st.markdown(f"The gradient never falls below {TINY:g} of its final size in these {T} steps.")
    for cell, other in study.others.items():
        st.caption(f"{CELLS[cell].label}: {other.fit.regime}"
                   + ("" if other.fit.regime == "undefined" else f", × {other.fit.factor:.3g} per step"))

st.subheader("Why it happens")
ui.show(shown, "why", display, key="bptt-why")
if study.bound is not None:
    st.caption("The dotted line on the gradient plot is the bound of Pascanu, Mikolov & Bengio (2013): with γ = 1 "
               "bounding the activation's derivative, ||dL/dh_t|| ≤ ||dL/dh_T|| (γ σ_max)^(T−t); when σ_max < 1/γ "
               "the gradient must vanish at least that fast.")

st.subheader("Saliency: which inputs can still teach the network")
ui.show(shown, "saliency", display, key="bptt-saliency")
