"""Step through: the forward pass, one step at a time, inside the cell."""

import streamlit as st

from rnnviz import equations, ui
from rnnviz.config import Param
from rnnviz.figures import step as fig
from rnnviz.ui.client import Item

SPEEDS = {100: "100", 200: "200", 400: "400", 800: "800", 1500: "1500"}  # ms a step of Play

cfg, display = ui.page("step")
present = display.present
study = ui.step_study(cfg)

st.title("Step through the cell")
st.markdown(
    "A recurrent cell reads its input one step at a time and carries a **state** from step to step. "
    "Move **t** with ◀ ▶, the slider or the arrow keys, or press Play, and watch every number the cell "
    "computes: how the gates open and close, and how the state is rewritten."
)
ui.weights_note(cfg)
if study.trace.nonfinite_step is not None:
    st.error(f"The state exploded at step {study.trace.nonfinite_step}: it overflowed to inf/NaN. "
             "Lower the spectral radius or switch to tanh.")

H, channels, numeric = study.trace.H, study.sample.vocab, study.text_tokens is None and study.sample.tokens is None
unit = 0 if H == 1 else ui.page_control(st.slider, "Unit j for the equations and the text view", "unit",
                                        Param(0, low=0, high=H - 1, kind="int"), 0, H - 1)
play = ui.stored("play", Param(False, kind="bool"))  # links with play=true start playing
speed = ui.stored("speed", Param(400, SPEEDS, kind="choice"))
labels = study.step_labels
step = ui.step(study.T, labels, "step", speed=int(speed), autoplay=bool(play))

items = []
if numeric:
    items.append(Item(fig.input_signal(study.sample.xs, labels, channels, present), caption=fig.INPUT_CAPTION,
                      filename=ui.filename("step-input", cfg)))
items += [
    Item(fig.cell_diagram(study.vectors, study.cell, labels, present, channels, numeric),
         caption=fig.diagram_caption(study.cell, cfg.source), filename=ui.filename("step-cell", cfg, step=True)),
    Item(fig.vector_strips(study.vectors, labels, present, channels), caption=fig.vectors_caption(cfg.source),
         half=True, filename=ui.filename("step-vectors", cfg, step=True)),
    Item(block=equations.step_equations(study.trace, unit, labels), half=True,
         title=f"The equations for unit j = {unit}",
         caption="Each pre-activation is split into its input part (W x + b) and its recurrent part (W h + b), "
                 "as PyTorch computes them; under each number is the term it is. σ squashes to 0…1, tanh to −1…1."),
]
if study.text_tokens is not None:
    items.append(Item(fig.text_activation(study.text_tokens, study.trace.h[:, unit], unit, present),
                      caption=fig.TEXT_CAPTION, filename=ui.filename(f"step-text-unit{unit}", cfg, step=True)))
items.append(Item(fig.state_heatmaps(study.over_time, labels, present), caption=fig.heatmaps_caption(study.cell),
                  filename=ui.filename("step-heatmaps", cfg, step=True)))
ui.figures(items, display, key="step-view", step=step)
ui.sync_step("step", study.T)
