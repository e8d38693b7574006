"""Step through: the forward pass, one step at a time, inside the cell."""

import streamlit as st

from rnnviz import ui
from rnnviz.ui import lessons
from rnnviz.ui.export import export_panel
from rnnviz.ui.pages import PAGES
from rnnviz.views import step as view

cfg, display = ui.page("step")
study = ui.step_study(cfg)
stack = ui.stack_study(cfg)  # None for one one-way layer

st.title("Step through the cell")
st.markdown(
    "A recurrent cell reads its input one step at a time and carries a **state** from step to step. "
    "Move **t** with ◀ ▶, the slider or the arrow keys, or press Play, and watch every number the cell "
    "computes: how the gates open and close, and how the state is rewritten."
)
lessons.player("step")
lessons.terms(PAGES["step"].terms)
ui.weights_note(cfg)
if study.trace.nonfinite_step is not None:
    st.error(f"The state exploded at step {study.trace.nonfinite_step}: it overflowed to inf/NaN. "
             "Lower the spectral radius or switch to tanh.")
if stack is not None and stack.trace.nonfinite_message:
    st.error(f"In the stack, {stack.trace.nonfinite_message}. Lower the spectral radius or the input scale.")

H = study.trace.H
unit = 0 if H == 1 else ui.page_control(st.slider, "Unit j for the equations and the text view", "unit",
                                        view.unit_param(H), 0, H - 1)
steps = view.stepping(study)
step = ui.step(steps, speed=int(ui.stored("speed", view.PARAMS["speed"])),
               autoplay=bool(ui.stored("play", view.PARAMS["play"])))
ui.show(view.build(study, cfg, display, unit, stack), "figures", display, key="step-view", step=step)
ui.sync_step(steps.view, steps.T, steps.param)
export_panel("step")
