"""Clipping and training: exploding gradients in real training runs, and how clipping tames them."""

import streamlit as st

from rnnviz import ui
from rnnviz.figures import training as fig
from rnnviz.studies import training as study
from rnnviz.ui import training as controls

_, display = ui.page("training", scenario_controls=False)
present = display.present
st.title("Clipping and training")
st.markdown(
    "An exploding gradient in one backward pass is half the story; the other half is what it does to "
    "**training**. One huge gradient can throw the weights far from everything learned so far. "
    "**Clipping** caps the gradient before the update: by its global norm (the direction is kept) or "
    "entry by entry (the direction turns). Pick a preset, or set the runs up yourself."
)
controls.preset_buttons()

if controls.part() == "cliff":
    st.subheader("The cliff (Pascanu, Mikolov & Bengio 2013)")
    cliff = study.cliff_study(*controls.cliff_start())
    surface = ui.cached(study.loss_surface)()
    ui.chart(fig.cliff_surface(*surface, cliff.descents, present), "cliff", fig.CLIFF_HOW_TO_READ)
    m1, m2, m3 = st.columns(3)
    m1.metric("Gradient norm at the start", f"{cliff.start_grad_norm:.3g}")
    m2.metric("First step, no clipping", f"{cliff.first_steps['no clipping']:.3g}", help="How far the weights move.")
    m3.metric("First step, clipped", f"{cliff.first_steps['clipped']:.3g}")
    st.stop()

st.subheader("The runs")
configs = controls.run_configs()
if not configs:
    st.info("Every run is switched off: choose a clipping setting for at least one run.")
    st.stop()
runs = controls.trained(configs)
for col, run in zip(st.columns(len(runs)), runs, strict=True):
    headline, detail = fig.run_summary(run)
    col.metric(fig.run_label(run), headline)
    col.caption(detail)

left, right = st.columns(2)
with left:
    ui.chart(fig.loss_curves(runs, present), "train-loss", fig.LOSS_HOW_TO_READ)
    ui.chart(fig.cosines(runs, present), "train-cosine", fig.COSINE_HOW_TO_READ)
with right:
    ui.chart(fig.grad_norms(runs, present), "train-grad-norms", fig.GRAD_HOW_TO_READ)
    ui.chart(fig.gradient_profiles(runs, present), "train-profiles", fig.PROFILE_HOW_TO_READ)
