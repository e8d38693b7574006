"""Step through: the forward pass, one step at a time, inside the cell."""

import streamlit as st

from rnnviz import equations, ui
from rnnviz.config import Param
from rnnviz.figures import step as fig

SPEEDS = {100: "100", 200: "200", 400: "400", 800: "800", 1500: "1500"}  # ms per step of Play

cfg, display = ui.page("step")
study = ui.step_study(cfg)

st.title("Step through the cell")
st.markdown(
    "A recurrent cell reads its input one step at a time and carries a **state** from step to "
    "step. Move **t** to walk through the sequence and watch every number the cell computes: "
    "how the gates open and close, and how the state is rewritten."
)
if study.trace.nonfinite_step is not None:
    st.error(f"The state exploded at step {study.trace.nonfinite_step}: it overflowed to inf/NaN. "
             "Lower the spectral radius or switch to tanh.")


@st.fragment
def at_step() -> None:
    # Only this function reruns when t, the unit or the speed change: the study is cached above.
    t = ui.step_slider(study.T)
    unit_col, play_col, speed_col = st.columns([4, 2, 3], vertical_alignment="bottom")
    H = study.trace.H
    unit = 0 if H == 1 else ui.page_control(unit_col.slider, "Unit j for the equations and the text view",
                                            "unit", Param(0, low=0, high=H - 1, kind="int"), 0, H - 1)
    play = ui.page_control(play_col.toggle, "Play mode", "play", Param(False, kind="bool"),
                           help="Adds ▶ Play under the cell: the browser animates through the steps.")
    frame_ms = 400
    if play:
        frame_ms = ui.page_control(speed_col.select_slider, "Play speed (ms per step)", "speed",
                                   Param(400, SPEEDS, kind="choice"), list(SPEEDS))
    diagram = fig.cell_diagram(study.vectors, study.cell, study.step_labels, t, display.present, frame_ms, play)
    ui.chart(diagram, "step-cell", fig.CELL_DIAGRAM_HOW_TO_READ, t)

    left, right = st.columns([1, 1], gap="large")
    with left:
        ui.chart(fig.vector_strips(study.vectors, t, display.present), "step-vectors", fig.VECTORS_HOW_TO_READ, t)
    with right:
        st.markdown(f"#### The equations for unit j = {unit} at t = {t}")
        for line in equations.step_equations(study.trace, t, unit):
            st.latex(line)
        st.caption("Each pre-activation is split into its input part (W x + b) and its recurrent "
                   "part (W h + b); σ squashes to 0–1, tanh to −1…1.")

    if study.text_tokens is not None:
        text_view = fig.text_activation(study.text_tokens, study.trace.h[:, unit], unit, t, display.present)
        ui.chart(text_view, "step-text", fig.TEXT_HOW_TO_READ, t)
    ui.chart(fig.state_heatmaps(study.over_time, t, display.present), "step-heatmaps", fig.HEATMAPS_HOW_TO_READ, t)


at_step()
