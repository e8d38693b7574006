"""Compare cells: an RNN, an LSTM and a GRU side by side on the same input: memory and gradient flow."""

import streamlit as st

from rnnviz import ui
from rnnviz.ui import compare, lessons
from rnnviz.ui.export import export_panel
from rnnviz.ui.pages import PAGES
from rnnviz.views import compare as view

cfg, display = ui.page("compare")
st.title("Compare cells: RNN, LSTM and GRU")
st.markdown(
    "The same input goes through a vanilla **RNN**, an **LSTM** and a **GRU**. Change the input at one step "
    "**k** and watch how long each cell still feels the change: that is its **memory**. Then see how much "
    "**gradient** reaches each step from a loss at the end, and the **gates** that decide what the LSTM and the "
    "GRU keep. One cursor **t** moves through all of them: ◀ ▶, the slider or the arrow keys."
)
lessons.player("compare")
lessons.terms(PAGES["compare"].terms)
models = ui.choice(st.radio, "Weights", "models", param=view.PARAMS["models"], help=view.MODELS_HELP, horizontal=True)
study = compare.study(cfg, models)
ui.unused_weights_note(cfg, view.unused_weights_sentence(study, cfg))
if study.trained:
    st.caption(view.trained_note(study))
else:
    if not cfg.trained:
        ui.weights_note(cfg)
    st.caption(view.random_note(study, cfg))

T = study.T
compare.new_input(models)  # another input: k starts again at its default
k = 1 if T == 1 else ui.page_control(st.slider, "Change the input at step k", "perturb",
                                     view.perturb_param(T, study.first_kept_step), 1, T,
                                     help="The step whose input is changed in the second run of each cell.")
memory = compare.memory(cfg, models, k)
st.markdown(" ".join(part for part in (ui.plain(view.change_sentence(memory)), view.kept_sentence(study, memory),
                                        view.answers_sentence(study, memory)) if part))
broken = view.broken_sentence(study, memory)
if broken:
    st.warning(broken)

steps = view.stepping(study)
step = ui.step(steps)
ui.show(view.build(study, memory, cfg, display), "figures", display, key="compare-view", step=step)
ui.sync_step(steps.view, steps.T, steps.param)

st.subheader("Size and speed")
times = compare.step_times(study)
counts = view.count_lines(study)
for col, (cell, run) in zip(st.columns(len(study.cells)), study.cells.items(), strict=True):
    col.metric(f"{run.label}: parameters", f"{run.n_params:,}")
    col.caption(counts[cell])
    col.caption(view.time_line(times[cell]))
st.caption(view.SIZE_NOTE)
export_panel("compare")
