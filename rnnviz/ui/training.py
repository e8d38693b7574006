"""The Clipping-and-training page's Streamlit side: its controls, and the session's store of runs.

Training takes seconds, so finished runs are kept in the session (keyed by their RunConfig) and
never trained again; a run stopped half-way (the Stop button, or leaving the page) is kept with
what it did. The controls' definitions, presets and the runs they describe are in
studies/training.py; this module lays the widgets out and drives training with a progress bar.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ..studies import training as study
from ..training import RunConfig, TrainingRun, train
from . import cached, choice, is_hidden, page_control, set_values, stored

RUNS_KEY = "_runs"  # RunConfig -> TrainingRun: the finished (or stopped) runs of this session
PARTIAL_KEY = "_partial_runs"  # RunConfig -> the run so far, while it trains
PROGRESS_EVERY = 5  # updates between redraws of the progress bar


def control(widget, label: str, name: str, *args, **kwargs):
    """One of the page's controls (studies.training.PARAMS), kept in the URL."""
    return page_control(widget, label, name, study.PARAMS[name], *args, **kwargs)


def page_choice(widget, label: str, name: str, **kwargs):
    return choice(widget, label, name, param=study.PARAMS[name], **kwargs)


def preset_buttons() -> None:
    """One button per preset: a click sets the page's controls to the preset's values. A student link
    drops the presets that would change a control it hides."""
    presets = {key: preset for key, preset in study.PRESETS.items() if not any(map(is_hidden, preset[1]))}
    if not presets:
        return
    for col, (key, (label, values)) in zip(st.columns(len(presets)), presets.items(), strict=True):
        col.button(label, key=f"preset_{key}", on_click=set_values, args=(values,), use_container_width=True)


def part() -> str:
    """Which part of the page to show: "train" or "cliff"."""
    return page_choice(st.segmented_control, "Part", "part") or "train"


def cliff_start() -> tuple[tuple[float, float], float, int, float]:
    """The cliff's controls: (start (w, b), learning rate, steps, tau). Stops the page, with a
    note, when "start next to the wall" is on and this b has no usable wall."""
    c0, c1, c2, c3, c4 = st.columns(5)
    snap = control(c0.toggle, "Start next to the wall", "cl_snap",
                   help="On: w is placed right next to the wall at your b, where the gradient is at least 1e5 "
                        "(1e6 where the wall is wide enough for float64). Off: choose w yourself.")
    b0 = control(c1.slider, "Start: bias b", "cl_b", -8.0, 0.0, step=0.25)
    lr = control(c2.select_slider, "Learning rate", "cl_lr", study.CLIFF_RATES)
    steps = control(c3.slider, "Steps", "cl_steps", 1, 100)
    tau = control(c4.select_slider, "Clip the norm at τ", "cl_tau", study.CLIFF_TAUS)
    if not snap:
        return (control(c0.slider, "Start: weight w", "cl_w", 0.0, 12.0, step=0.25), b0), lr, steps, tau
    start = cached(study.wall_point)(b0)
    if start is None:
        b, low, high = (f"{v:g}".replace("-", "−") for v in (b0, *study.SNAP_B_RANGE))
        st.warning(f"At b = {b} there is no wall inside the map that a start in float64 can stand next to: "
                   f"choose b between {low} and {high}, or turn off “Start next to the wall” and choose w.")
        st.stop()
    return start, lr, steps, tau


def cliff_slug() -> str:
    """The cliff's scenario for its file names, from the page's controls (as the export names it)."""
    return study.cliff_slug({name: stored(name, param) for name, param in study.PARAMS.items()})


def run_configs() -> list[RunConfig]:
    """The shared settings of the runs, then each run's clipping; the runs not switched off."""
    a, b, c, d, e = st.columns(5)
    page_choice(a.selectbox, "Cell", "tr_cell")
    page_choice(b.selectbox, "Task", "tr_task")
    control(c.slider, "Sequence length T", "tr_length", 10, 200)
    control(d.slider, "Hidden size H", "tr_hidden", 4, 64)
    control(e.select_slider, "Batch", "tr_batch", list(study.BATCHES))
    a, b, c, d, e = st.columns(5)
    control(a.slider, "Updates", "tr_updates", 10, 1000, step=10)
    page_choice(b.selectbox, "Optimiser", "tr_opt")
    control(c.select_slider, "Learning rate", "tr_lr", list(study.RATES))
    page_choice(d.select_slider, "Spectral radius of W_hh", "tr_radius")
    control(e.number_input, "Seed", "tr_seed", 0, 9999)
    for k, col in zip(study.RUNS, st.columns(len(study.RUNS)), strict=True):
        with col.container(border=True):
            clip = page_choice(st.selectbox, f"Run {k}: clipping", f"r{k}_clip")
            if clip in ("norm", "value"):
                control(st.number_input, "τ (global norm)" if clip == "norm" else "v (per entry)", f"r{k}_th",
                        1e-4, 1e3, format="%g")
    return study.run_configs({name: stored(name, param) for name, param in study.PARAMS.items()})


def trained(configs: list[RunConfig]) -> list[TrainingRun]:
    """The runs for `configs`, from the session's store; the missing ones are trained when the
    user presses Train, with a progress bar and a Stop button. Stops the page until then."""
    finished = st.session_state.setdefault(RUNS_KEY, {})
    partial = st.session_state.setdefault(PARTIAL_KEY, {})
    for run_cfg, run in list(partial.items()):  # a run interrupted by Stop: keep what it did
        finished.setdefault(run_cfg, replace(run, stopped_at=run.updates_done))
        del partial[run_cfg]
    missing = [c for c in configs if c not in finished]
    if missing:
        train_col, stop_col = st.columns([1, 5])
        go = train_col.button(f"Train {len(missing)} run{'s' * (len(missing) > 1)}", type="primary")
        stop_col.button("Stop", help="Stops the run in progress; what it did so far is kept.")
        if not go:
            st.info("These runs are not trained yet: press **Train**. Finished runs are kept, so changing a plot "
                    "or coming back to this page does not train them again.")
            st.stop()
        _train(missing, finished, partial)
    return [finished[c] for c in configs]


def _train(missing: list[RunConfig], finished: dict, partial: dict) -> None:
    """Train each missing run in turn; every update is kept in `partial`, so Stop loses nothing."""
    bar = st.progress(0.0, text="Training…")
    for n, run_cfg in enumerate(missing):
        def keep_going(run, n=n, run_cfg=run_cfg):
            partial[run_cfg] = run
            if run.updates_done % PROGRESS_EVERY == 0 or run.updates_done == run_cfg.updates:
                bar.progress((n + run.updates_done / run_cfg.updates) / len(missing),
                             text=f"Run {n + 1} of {len(missing)}: update {run.updates_done} of {run_cfg.updates}")
            return True

        try:
            finished[run_cfg] = train(run_cfg, keep_going)
        except ValueError as err:
            st.error(f"rnnviz cannot train this run: {err}")
            st.stop()
        partial.pop(run_cfg, None)
    bar.empty()
