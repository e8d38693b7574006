"""Clipping and training: exploding gradients in real training runs, and how clipping tames them."""

from dataclasses import replace

import streamlit as st

from rnnviz import cliff, ui
from rnnviz.cells import CELLS
from rnnviz.config import Param
from rnnviz.figures import training as fig
from rnnviz.tasks import TASKS
from rnnviz.training import CLIPS, OPTIMIZERS, RunConfig, train

PARTS = {"train": "Training runs", "cliff": "The cliff"}
RADII = {"default": "PyTorch default", "0.8": "0.8", "1.0": "1.0", "1.2": "1.2", "1.3": "1.3", "1.5": "1.5"}
RATES = {str(v): str(v) for v in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)}
BATCHES = {str(v): str(v) for v in (8, 16, 32, 64)}
RUN_CLIPS = {**CLIPS.labels(), "off": "— (no run)"}
TRAIN = {"tr_cell": "rnn-tanh", "tr_task": "adding", "tr_length": 50, "tr_hidden": 32, "tr_batch": "32",
         "tr_updates": 200, "tr_opt": "sgd", "tr_lr": "0.1", "tr_radius": "1.3", "tr_seed": 0,
         "r1_clip": "none", "r1_th": 1.0, "r2_clip": "norm", "r2_th": 1.0, "r3_clip": "off", "r3_th": 0.05}
PRESETS = {
    "explode": ("Exploding without clipping", {**TRAIN, "part": "train"}),
    "norm_value": ("Norm vs value clipping", {**TRAIN, "part": "train", "r1_clip": "norm", "r1_th": 1.0,
                                              "r2_clip": "value", "r2_th": 0.05, "r3_clip": "none"}),
    "cliff": ("The cliff", {"part": "cliff", "cl_b": -4.0, "cl_snap": True, "cl_lr": 0.1, "cl_steps": 20,
                            "cl_tau": 1.0}),
    "lstm_adding": ("LSTM on the adding problem", {**TRAIN, "part": "train", "tr_cell": "lstm", "tr_length": 10,
                                                   "tr_updates": 500, "tr_opt": "adam", "tr_lr": "0.01",
                                                   "tr_radius": "default", "r1_clip": "none", "r2_clip": "norm"}),
}
P = {  # page controls kept in the URL, with their checks
    "part": Param("train", PARTS), "tr_cell": Param("rnn-tanh", CELLS.labels()),
    "tr_task": Param("adding", TASKS.labels()),
    "tr_length": Param(50, low=10, high=200, kind="int"), "tr_hidden": Param(32, low=4, high=64, kind="int"),
    "tr_batch": Param("32", BATCHES), "tr_updates": Param(200, low=10, high=1000, kind="int"),
    "tr_opt": Param("sgd", OPTIMIZERS.labels()), "tr_lr": Param("0.1", RATES), "tr_radius": Param("1.3", RADII),
    "tr_seed": Param(0, low=0, high=9999, kind="int"),
    **{f"r{k}_clip": Param(v, RUN_CLIPS) for k, v in ((1, "none"), (2, "norm"), (3, "off"))},
    **{f"r{k}_th": Param(v, low=1e-4, high=1e3, kind="float") for k, v in ((1, 1.0), (2, 1.0), (3, 0.05))},
    "cl_b": Param(-4.0, low=-8.0, high=0.0, kind="float"), "cl_snap": Param(True, kind="bool"),
    "cl_w": Param(6.0, low=0.0, high=12.0, kind="float"), "cl_lr": Param(0.1, low=0.001, high=1.0, kind="float"),
    "cl_steps": Param(20, low=1, high=100, kind="int"), "cl_tau": Param(1.0, low=0.01, high=10.0, kind="float"),
}

cfg = ui.page("Clipping and training", scenario_controls=False)
st.title("Clipping and training")
st.markdown(
    "An exploding gradient in one backward pass is half the story; the other half is what it does to "
    "**training**. One huge gradient can throw the weights far from everything learned so far. "
    "**Clipping** caps the gradient before the update: by its global norm (the direction is kept) or "
    "entry by entry (the direction turns). Pick a preset, or set the runs up yourself."
)
preset_cols = st.columns(len(PRESETS))
for col, (key, (label, values)) in zip(preset_cols, PRESETS.items(), strict=True):
    col.button(label, key=f"preset_{key}", on_click=ui.set_values, args=(values,), use_container_width=True)


def control(widget, label, name, *args, **kwargs):
    return ui.page_control(widget, label, name, P[name], *args, **kwargs)


part = control(st.segmented_control, "Part", "part", list(PARTS), format_func=PARTS.get) or "train"

if part == "cliff":
    st.subheader("The cliff (Pascanu, Mikolov & Bengio 2013)")
    c0, c1, c2, c3, c4 = st.columns(5)
    snap = control(c0.toggle, "Start next to the wall", "cl_snap",
                   help="On: w is placed 1e-11 from the wall at your b, where the gradient is enormous. "
                        "Off: choose w yourself.")
    b0 = control(c1.slider, "Start: bias b", "cl_b", -8.0, 0.0, step=0.25)
    lr = control(c2.select_slider, "Learning rate", "cl_lr", [0.001, 0.01, 0.03, 0.1, 0.3, 1.0])
    steps = control(c3.slider, "Steps", "cl_steps", 1, 100)
    tau = control(c4.select_slider, "Clip the norm at τ", "cl_tau", [0.01, 0.1, 0.3, 1.0, 3.0, 10.0])
    if snap:
        start = cliff.wall_point(b0)
        if start is None:
            st.warning(f"At b = {b0} there is no wall inside the map: choose b between −6.5 and −3, "
                       "or turn off “Start next to the wall” and choose w.")
            st.stop()
    else:
        start = (control(c0.slider, "Start: weight w", "cl_w", 0.0, 12.0, step=0.25), b0)
    surface = ui.cached(cliff.loss_surface)()
    descents = {"no clipping": cliff.descend(start, lr, steps), "clipped": cliff.descend(start, lr, steps, tau)}
    ui.chart(fig.cliff_surface(*surface, descents, cfg.present), "cliff", fig.CLIFF_HOW_TO_READ)
    raw, clipped = descents["no clipping"], descents["clipped"]
    m1, m2, m3 = st.columns(3)
    m1.metric("Gradient norm at the start", f"{raw.grad_norms[0]:.3g}")
    m2.metric("First step, no clipping", f"{lr * raw.grad_norms[0]:.3g}", help="How far the weights move.")
    m3.metric("First step, clipped", f"{lr * min(raw.grad_norms[0], tau):.3g}")
    st.stop()

st.subheader("The runs")
a, b, c, d, e = st.columns(5)
run_cell = ui.choice(a.selectbox, "Cell", "tr_cell", param=P["tr_cell"])
task = ui.choice(b.selectbox, "Task", "tr_task", param=P["tr_task"])
length = control(c.slider, "Sequence length T", "tr_length", 10, 200)
hidden = control(d.slider, "Hidden size H", "tr_hidden", 4, 64)
batch = control(e.select_slider, "Batch", "tr_batch", list(BATCHES))
a, b, c, d, e = st.columns(5)
updates = control(a.slider, "Updates", "tr_updates", 10, 1000, step=10)
optimizer = ui.choice(b.selectbox, "Optimiser", "tr_opt", param=P["tr_opt"])
lr = control(c.select_slider, "Learning rate", "tr_lr", list(RATES))
radius = control(d.select_slider, "Spectral radius of W_hh", "tr_radius", list(RADII), format_func=RADII.get)
seed = control(e.number_input, "Seed", "tr_seed", 0, 9999)
base = RunConfig(cell=run_cell, task=task, length=int(length), hidden=int(hidden), batch=int(batch),
                 updates=int(updates), optimizer=optimizer, lr=float(lr), seed=int(seed),
                 radius=None if radius == "default" else float(radius))
configs = []
for k, col in enumerate(st.columns(3), start=1):
    with col.container(border=True):
        clip = control(st.selectbox, f"Run {k}: clipping", f"r{k}_clip", list(RUN_CLIPS), format_func=RUN_CLIPS.get)
        if clip in ("norm", "value"):
            th = control(st.number_input, "τ (global norm)" if clip == "norm" else "v (per entry)", f"r{k}_th",
                         1e-4, 1e3, format="%g")
            configs.append(base.with_(clip=clip, threshold=float(th)))
        elif clip == "none":
            configs.append(base.with_(clip="none"))
if not configs:
    st.info("Every run is switched off: choose a clipping setting for at least one run.")
    st.stop()

finished = st.session_state.setdefault("_runs", {})  # RunConfig -> TrainingRun: never retrained
partial = st.session_state.setdefault("_partial_runs", {})
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
    bar = st.progress(0.0, text="Training…")
    for n, run_cfg in enumerate(missing):
        def keep_going(run, n=n, run_cfg=run_cfg):
            partial[run_cfg] = run
            if run.updates_done % 5 == 0 or run.updates_done == run_cfg.updates:
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
runs = [finished[c] for c in configs]
for col, run in zip(st.columns(len(runs)), runs, strict=True):
    headline, detail = fig.run_summary(run)
    col.metric(fig.run_label(run), headline)
    col.caption(detail)

left, right = st.columns(2)
with left:
    ui.chart(fig.loss_curves(runs, cfg.present), "train-loss", fig.LOSS_HOW_TO_READ)
    ui.chart(fig.cosines(runs, cfg.present), "train-cosine", fig.COSINE_HOW_TO_READ)
with right:
    ui.chart(fig.grad_norms(runs, cfg.present), "train-grad-norms", fig.GRAD_HOW_TO_READ)
    ui.chart(fig.gradient_profiles(runs, cfg.present), "train-profiles", fig.PROFILE_HOW_TO_READ)
