"""The Clipping-and-training page's study: training runs with and without clipping, and the cliff.

The runs come from the training engine, rnnviz.training, which stays a library module: a
notebook, benchmarks/training.py and later pages train models with it, and nothing in it
belongs to this page. This study holds what the page adds: its controls (URL parameters) and
presets, the run configurations they describe, and the cliff of Pascanu, Mikolov and Bengio
(2013), a one-unit model built for the page.

The cliff: x_t = w * sigmoid(x_{t-1}) + b, x_0 = 0.5, loss E = (sigmoid(x_50) - 0.7)^2. Across a
thin line in (w, b) the final state jumps between two attractors; right next to that line the
gradient reaches 1e6-1e10, and a plain gradient step there is thrown far away. Clipping the
gradient's norm keeps the step small. How close "next to" is depends on b: the wall thins as b
falls, from ~1e-7 wide at b = -3 to below float64's resolution of w under b = -5.5, so the start
is searched for per b (wall_point). Gradients come from autograd through the unrolled recursion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from autograd import grad

from ..cells import CELLS
from ..config import Param
from ..engine import clip_grad_norm
from ..numerics import global_norm, sigmoid
from ..tasks import TASKS
from ..training import CLIPS, OPTIMIZERS, RunConfig, estimated_seconds

# --- the page's controls, presets and the runs they describe ------------------------------------

PARTS = {"train": "Training runs", "cliff": "The cliff"}
RADII = {"default": "PyTorch default", "0.8": "0.8", "1.0": "1.0", "1.2": "1.2", "1.3": "1.3", "1.5": "1.5"}
RATES = {str(v): str(v) for v in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)}
BATCHES = {str(v): str(v) for v in (8, 16, 32, 64)}
RUN_CLIPS = {**CLIPS.labels(), "off": "— (no run)"}
RUNS = (1, 2, 3)  # up to three runs side by side, each with its own clipping and BPTT window
# Truncated BPTT's window k per run (engine.bptt_truncated): the gradient reaches back k steps.
WINDOWS = {"full": "full BPTT", **{str(k): f"truncated: {k} step{'s' * (k > 1)} back" for k in (1, 2, 5, 10, 20, 50)}}
CLIFF_RATES = [0.001, 0.01, 0.03, 0.1, 0.3, 1.0]
CLIFF_TAUS = [0.01, 0.1, 0.3, 1.0, 3.0, 10.0]

PARAMS = {  # the page's controls, kept in the URL, with their checks
    "part": Param("train", PARTS),
    "tr_cell": Param("rnn-tanh", CELLS.labels()),
    "tr_task": Param("adding", TASKS.labels()),
    "tr_length": Param(50, low=10, high=200, kind="int"),
    "tr_hidden": Param(32, low=4, high=64, kind="int"),
    "tr_batch": Param("32", BATCHES),
    "tr_updates": Param(200, low=10, high=1000, kind="int"),
    "tr_opt": Param("sgd", OPTIMIZERS.labels()),
    "tr_lr": Param("0.1", RATES),
    "tr_radius": Param("1.3", RADII),
    "tr_seed": Param(0, low=0, high=9999, kind="int"),
    **{f"r{k}_clip": Param(v, RUN_CLIPS) for k, v in zip(RUNS, ("none", "norm", "off"), strict=True)},
    **{f"r{k}_th": Param(v, low=1e-4, high=1e3, kind="float") for k, v in zip(RUNS, (1.0, 1.0, 0.05), strict=True)},
    **{f"r{k}_window": Param("full", WINDOWS) for k in RUNS},
    "cl_b": Param(-4.0, low=-8.0, high=0.0, kind="float"),
    "cl_snap": Param(True, kind="bool"),
    "cl_w": Param(6.0, low=0.0, high=12.0, kind="float"),
    "cl_lr": Param(0.1, low=0.001, high=1.0, kind="float"),
    "cl_steps": Param(20, low=1, high=100, kind="int"),
    "cl_tau": Param(1.0, low=0.01, high=10.0, kind="float"),
}
TRAIN = {"tr_cell": "rnn-tanh", "tr_task": "adding", "tr_length": 50, "tr_hidden": 32, "tr_batch": "32",
         "tr_updates": 200, "tr_opt": "sgd", "tr_lr": "0.1", "tr_radius": "1.3", "tr_seed": 0,
         "r1_clip": "none", "r1_th": 1.0, "r2_clip": "norm", "r2_th": 1.0, "r3_clip": "off", "r3_th": 0.05,
         "r1_window": "full", "r2_window": "full", "r3_window": "full"}
LSTM_ADDING = {**TRAIN, "part": "train", "tr_cell": "lstm", "tr_length": 10, "tr_updates": 500, "tr_opt": "adam",
               "tr_lr": "0.01", "tr_radius": "default"}
PRESETS = {  # key -> (button label, control values)
    "explode": ("Exploding without clipping", {**TRAIN, "part": "train"}),
    "norm_value": ("Norm vs value clipping", {**TRAIN, "part": "train", "r1_clip": "norm", "r1_th": 1.0,
                                              "r2_clip": "value", "r2_th": 0.05, "r3_clip": "none"}),
    "cliff": ("The cliff", {"part": "cliff", "cl_b": -4.0, "cl_snap": True, "cl_lr": 0.1, "cl_steps": 20,
                            "cl_tau": 1.0}),
    "lstm_adding": ("LSTM on the adding problem", {**LSTM_ADDING, "r1_clip": "none", "r2_clip": "norm"}),
    # The adding problem's markers sit in the first half (tasks.adding_sample): at T = 10 at least 6 steps
    # before the loss, beyond a window of 5; the full run is lstm_adding's second run (shared).
    "truncated": ("Truncated BPTT", {**LSTM_ADDING, "r1_clip": "norm", "r2_clip": "norm", "r2_window": "5"}),
}


def run_configs(values: dict) -> list[RunConfig]:
    """The runs the controls describe (control name -> value), one per run not switched off.

    A run without clipping ignores its threshold, so changing it does not make a new run; nor
    does a window as long as the sequence (it is full BPTT).
    """
    radius = values["tr_radius"]
    base = RunConfig(cell=values["tr_cell"], task=values["tr_task"], length=int(values["tr_length"]),
                     hidden=int(values["tr_hidden"]), batch=int(values["tr_batch"]),
                     updates=int(values["tr_updates"]), optimizer=values["tr_opt"], lr=float(values["tr_lr"]),
                     seed=int(values["tr_seed"]), radius=None if radius == "default" else float(radius))
    T = max(base.length, TASKS[base.task].min_length)  # the length the task's sequences have
    configs = []
    for k in RUNS:
        clip, window = values[f"r{k}_clip"], values.get(f"r{k}_window", "full")
        window = None if window == "full" or int(window) >= T else int(window)
        if clip == "none":
            configs.append(base.with_(clip="none", window=window))
        elif clip != "off":
            configs.append(base.with_(clip=clip, threshold=float(values[f"r{k}_th"]), window=window))
    return configs


def settings_text(values: dict) -> str:
    """The runs' shared settings in one line (control name -> value): "RNN (tanh) on the adding
    problem: T = 50, H = 32, batch 32, 200 updates of SGD at lr 0.1"."""
    return (f"{CELLS.labels()[values['tr_cell']]} on the {TASKS.labels()[values['tr_task']].lower()}: "
            f"T = {int(values['tr_length'])}, H = {int(values['tr_hidden'])}, batch {values['tr_batch']}, "
            f"{int(values['tr_updates'])} updates of {OPTIMIZERS.labels()[values['tr_opt']]} at lr {values['tr_lr']}")


def defaults() -> dict:
    """Every control's default value (control name -> value)."""
    return {name: param.default for name, param in PARAMS.items()}


def preset_runs() -> dict[str, list[RunConfig]]:
    """The runs the page opens with ("defaults") and each training preset's (preset key -> runs):
    the server trains these ahead of time and shares them (see rnnviz.ui.training)."""
    out = {"defaults": run_configs(defaults())}
    for key, (_, values) in PRESETS.items():
        if values["part"] == "train":
            out[key] = run_configs({**defaults(), **values})
    return out


# The most training one request may start, in CPU seconds of one core: about a minute. Three
# LSTM runs at the controls' limits (T = 200, H = 64, batch 64, 1,000 updates) would take ~7
# minutes; every preset takes under 4 s (benchmarks/training.py).
CAP_SECONDS = 60.0


def request_seconds(configs: list[RunConfig]) -> float:
    """The estimated CPU seconds of training these runs (training.estimated_seconds)."""
    return float(sum(estimated_seconds(c) for c in configs))


def runs_slug(configs: list[RunConfig]) -> str:
    """A short name of the runs for file names: their shared settings, then each run's clipping.

    "rnn-tanh-h32-adding-T50-b32-sgd-lr0.1-u200-radius1.3-s0-none-norm1".
    """
    if not configs:
        return "no-runs"
    c = configs[0]
    parts = [c.cell, f"h{c.hidden}", f"{c.task}-T{c.length}", f"b{c.batch}", c.optimizer, f"lr{c.lr:g}",
             f"u{c.updates}", *([f"radius{c.radius:g}"] if c.radius is not None else []), f"s{c.seed}"]
    runs = [(run.clip if run.clip == "none" else f"{run.clip}{run.threshold:g}")
            + ("" if run.window is None else f"-window{run.window}") for run in configs]
    return "-".join(parts + runs)


def cliff_slug(values: dict) -> str:
    """A short name of the cliff's scenario (control name -> value) for file names: the net (one recurrent
    unit, x_t = w σ(x_t−1) + b, over T_CLIFF steps) and the controls, "rnn-h1-T50-b-4-wall-lr0.1-n20-tau1"."""
    start = "wall" if values["cl_snap"] else f"w{float(values['cl_w']):g}"
    return (f"rnn-h1-T{T_CLIFF}-b{float(values['cl_b']):g}-{start}-lr{float(values['cl_lr']):g}"
            f"-n{int(values['cl_steps'])}-tau{float(values['cl_tau']):g}")


# --- the cliff -----------------------------------------------------------------------------------

T_CLIFF = 50
X0 = 0.5
TARGET = 0.7
W_RANGE = (0.0, 12.0)
B_RANGE = (-8.0, 0.0)
SNAP_B_RANGE = (-5.5, -3.0)  # the biases b on the page's grid that have a start next to the wall
#                               (wall_point); below, the wall is too thin for float64 (tested)


def cliff_loss(params):
    """E(w, b) for params = (w, b); works on scalars (for autograd) and on grids (for the surface)."""
    w, b = params[0], params[1]
    x = X0 + 0.0 * w
    for _ in range(T_CLIFF):
        x = w * sigmoid(x) + b
    return (sigmoid(x) - TARGET) ** 2


cliff_grad = grad(lambda p: cliff_loss(p))


def loss_surface(n: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(w (n,), b (n,), E (n, n)) over W_RANGE x B_RANGE; E[i, j] is at (w[j], b[i])."""
    w = np.linspace(*W_RANGE, n)
    b = np.linspace(*B_RANGE, n)
    ww, bb = np.meshgrid(w, b)
    with np.errstate(over="ignore"):
        return w, b, np.asarray(cliff_loss((ww, bb)))


STEEP = 1e6  # the gradient norm sought next to the wall
MIN_STEEP = 1e5  # the least a start "next to the wall" may have: one plain step at the page's smallest
#                  learning rate (0.001) still moves the weights by 100, far off the 12 x 8 map
OFFSETS = 10.0 ** np.arange(-4.0, -16.25, -0.25)  # distances from the wall tried, far to near


def wall_point(b: float, w_low: float = W_RANGE[0], w_high: float = W_RANGE[1]):
    """A start (w, b) on the high side of the wall at this b with a steep gradient, or None.

    Bisects along w for the jump in E, then steps back into the high-loss side: by the largest
    of OFFSETS at which the gradient's norm reaches STEEP (bisecting over them: the gradient
    grows towards the wall), or, where the wall is too thin for that (float64 resolves w to
    ~2e-15), to the wall's edge if the gradient there reaches MIN_STEEP. None if the row has no
    wall, or none that steep: a start there could not show what clipping does.
    """
    e_low, e_high = cliff_loss((w_low, b)), cliff_loss((w_high, b))
    if abs(e_low - e_high) < 0.05:
        return None
    high_side_is_low = e_low > e_high
    lo, hi = w_low, w_high
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if (cliff_loss((mid, b)) > 0.5 * (e_low + e_high)) == high_side_is_low:
            lo = mid
        else:
            hi = mid
    if abs(cliff_loss((lo - 1e-6, b)) - cliff_loss((hi + 1e-6, b))) < 0.05:
        return None  # within 2e-6 the loss barely changes: a slope, not a wall
    # lo stays on the side where E is high (if that is the low-w side) and hi on the other
    edge, away = (lo, -1.0) if high_side_is_low else (hi, 1.0)
    points = [(edge + away * offset, b) for offset in OFFSETS]  # far to near

    def norm(k: int) -> float:
        with np.errstate(over="ignore", invalid="ignore"):
            return global_norm([np.asarray(cliff_grad(np.array(points[k])))])

    # The gradient grows towards the wall: bisect for the farthest offset that is steep enough.
    near = len(points) - 1
    if norm(near) < STEEP:  # the wall is thinner than float64 resolves: take its edge, if steep enough
        return (float(points[near][0]), float(b)) if norm(near) >= MIN_STEEP else None
    far = 0
    if norm(far) >= STEEP:
        return float(points[far][0]), float(b)
    while near - far > 1:  # norm(far) < STEEP <= norm(near)
        mid = (far + near) // 2
        far, near = (far, mid) if norm(mid) >= STEEP else (mid, near)
    return float(points[near][0]), float(b)


@dataclass(frozen=True)
class Descent:
    """A gradient-descent path on the cliff's loss."""

    path: np.ndarray  # (n + 1, 2) (w, b) after each step, starting at the start
    grad_norms: np.ndarray  # (n,) ||dE/d(w, b)|| at each step, before clipping
    losses: np.ndarray  # (n + 1,) E along the path
    clipped: np.ndarray  # (n,) bool


def descend(start, lr: float, steps: int, clip_norm: float | None = None) -> Descent:
    """Plain gradient descent from start = (w, b); with clip_norm, the gradient's norm is capped
    at clip_norm first (torch.nn.utils.clip_grad_norm_'s rule)."""
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if clip_norm is not None and not (np.isfinite(clip_norm) and clip_norm > 0):
        raise ValueError(f"clip_norm must be a positive number or None, got {clip_norm!r}")
    p = np.asarray(start, dtype=float)
    path, norms, clipped = [p.copy()], [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            g = np.asarray(cliff_grad(p), dtype=float)
            if clip_norm is None:
                step, norm = g, global_norm([g])
            else:
                (step,), norm = clip_grad_norm([g], clip_norm)
            norms.append(norm)
            clipped.append(not np.array_equal(step, g))
            p = p - lr * step
            path.append(p.copy())
            if not np.all(np.isfinite(p)):
                break
        losses = np.array([float(cliff_loss(q)) if np.all(np.isfinite(q)) else np.nan for q in path])
    return Descent(np.array(path), np.array(norms), losses, np.array(clipped, dtype=bool))


@dataclass(frozen=True)
class CliffStudy:
    """Two descents from one start on the cliff's loss: without clipping, and with the norm clipped
    at tau; and the loss on a window around the start that shows the clipped descent's steps."""

    start: tuple[float, float]  # (w, b)
    lr: float
    tau: float
    descents: dict[str, Descent]  # "no clipping", "clipped"
    zoom: tuple[np.ndarray, np.ndarray, np.ndarray]  # (w (n,), b (n,), E (n, n)) around the start

    @property
    def start_grad_norm(self) -> float:
        return float(self.descents["no clipping"].grad_norms[0])

    @property
    def first_steps(self) -> dict[str, float]:
        """How far the first step moves the weights: lr ||g|| without clipping, lr min(||g||, tau) with."""
        g = self.start_grad_norm
        return {"no clipping": self.lr * g, "clipped": self.lr * min(g, self.tau)}


ZOOM_MIN = 0.04  # the smallest window side (in w and in b) around the start


def zoom_window(start, paths: list[np.ndarray]) -> tuple[tuple[float, float], tuple[float, float]]:
    """(w range, b range) around the start and the parts of `paths` ((n, 2) each) that stay within
    a few units of it, padded, and at least ZOOM_MIN wide, inside the map."""
    start = np.asarray(start, dtype=float)
    near = [start[None, :]]
    for path in paths:
        finite = path[np.isfinite(path).all(axis=1)]
        near.append(finite[np.abs(finite - start).max(axis=1) <= 3.0])
    points = np.concatenate(near)
    out = []
    for axis, (low, high) in enumerate((W_RANGE, B_RANGE)):
        lo, hi = float(points[:, axis].min()), float(points[:, axis].max())
        half = max((hi - lo) * 0.65, ZOOM_MIN / 2)
        mid = min(max((lo + hi) / 2, low + half), high - half)
        out.append((mid - half, mid + half))
    return out[0], out[1]


def surface_on(w_range, b_range, n: int = 90) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(w (n,), b (n,), E (n, n)) over a window; E[i, j] is at (w[j], b[i])."""
    w, b = np.linspace(*w_range, n), np.linspace(*b_range, n)
    ww, bb = np.meshgrid(w, b)
    with np.errstate(over="ignore"):
        return w, b, np.asarray(cliff_loss((ww, bb)))


def cliff_study(start, lr: float, steps: int, tau: float) -> CliffStudy:
    """Plain and clipped gradient descent from the same start, and the loss around the start."""
    descents = {"no clipping": descend(start, lr, steps), "clipped": descend(start, lr, steps, tau)}
    zoom = surface_on(*zoom_window(start, [d.path for d in descents.values()]))
    return CliffStudy((float(start[0]), float(start[1])), lr, tau, descents, zoom)
