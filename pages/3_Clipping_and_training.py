"""Clipping and training: exploding gradients in real training runs, and how clipping tames them."""

import streamlit as st

from rnnviz import ui
from rnnviz.studies import training as study
from rnnviz.ui import lessons
from rnnviz.ui import training as controls
from rnnviz.ui.export import export_panel
from rnnviz.ui.pages import PAGES
from rnnviz.views import training as view

cfg, display = ui.page("training", scenario_controls=False)
controls.warm()
controls.connection_note()
st.title("Clipping and training")
st.markdown(
    "An exploding gradient in one backward pass is half the story; the other half is what it does to "
    "**training**. One huge gradient can throw the weights far from everything learned so far. "
    "**Clipping** caps the gradient before the update: by its global norm (the direction is kept) or "
    "entry by entry (the direction turns). Pick a preset, or set the runs up yourself."
)
ui.unused_weights_note(cfg, "Every run here trains a one-layer, one-direction cell from PyTorch's "
                            "initialisation, with the settings below.")
lessons.player("training")
lessons.terms(PAGES["training"].terms)
controls.preset_buttons()

if controls.part() == "cliff":
    st.subheader("The cliff (Pascanu, Mikolov & Bengio 2013)")
    cliff = ui.cached(study.cliff_study)(*controls.cliff_start())
    surface = ui.cached(study.loss_surface)()
    cliff_view = view.cliff_view(cliff, surface, display, controls.cliff_slug())
    ui.show(cliff_view, "cliff", display, key="cliff")
    if not lessons.is_held("train-cliff"):  # the numbers answer a lesson's open question, as the figure does
        m1, m2, m3 = st.columns(3)
        m1.metric("Gradient norm at the start", f"{cliff.start_grad_norm:.3g}")
        m2.metric("First step, no clipping", f"{cliff.first_steps['no clipping']:.3g}",
                  help="How far the weights move.")
        m3.metric("First step, clipped", f"{cliff.first_steps['clipped']:.3g}")
        for line in view.cliff_summary(cliff):
            st.markdown(line)
        st.table(cliff_view.tables["cliff-steps"])
    export_panel("training")
    st.stop()

st.subheader("The runs")
configs = controls.run_configs()
if not configs:
    st.info("Every run is switched off: choose a clipping setting for at least one run.")
    st.stop()
if controls.show_runs(configs, display):
    export_panel("training")
