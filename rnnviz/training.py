"""Training a recurrent cell with a linear readout on a long-dependency task, with gradient clipping.

Mini-batches go through the engine's batched forward and BPTT; the readout's loss and gradient
come from autograd. Optimisers follow PyTorch's update rules (torch.optim.SGD with and without
momentum, torch.optim.Adam with its defaults), clipping follows torch.nn.utils (one norm over
every parameter, cell and readout). OPTIMIZERS and CLIPS are their registries; the cell and the
task come from cells.CELLS and tasks.TASKS. Everything is seeded: the same RunConfig gives the
same run. BPTT is full, or truncated to a window of cfg.window steps (engine.bptt_truncated). A
run whose loss or weights stop being finite ends there and says at which update.
train() returns the run's records and its trained weights, for a notebook or a page to reuse;
save_run() and load_run() keep a run in a small .npz file (no pickle), named by run_key(cfg).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cache
from pathlib import Path

import numpy as np

from . import tasks
from .analysis import hidden_grad_norms
from .cells import CELLS, CellChoice, init_params
from .engine import clip_grad_norm, clip_grad_value, loss_and_bptt
from .numerics import global_norm
from .readout import init_readout, readout_loss
from .registry import Registry
from .tasks import TASKS


@dataclass(frozen=True)
class Clip:
    """A clipping rule: apply(grads, threshold) -> (clipped grads, their global norm before clipping).

    One shape for every rule, so a training loop need not know which it runs (engine.py says
    why clip_grad_norm and clip_grad_value themselves return differently shaped results).
    """

    key: str
    label: str
    apply: Callable[[dict, float], tuple[dict, float]]


CLIPS: Registry[Clip] = Registry("clip", [
    Clip("none", "No clipping", lambda grads, threshold: (grads, global_norm(grads.values()))),
    Clip("norm", "Clip by global norm τ", clip_grad_norm),
    Clip("value", "Clip by value v", lambda grads, v: (clip_grad_value(grads, v), global_norm(grads.values()))),
])


@dataclass(frozen=True)
class Optimizer:
    """An update rule: step(g, state, k, lr) -> (change to add, new state); state None at first."""

    key: str
    label: str
    step: Callable


def _sgd(g, state, k, lr):
    return -lr * g, None


def _momentum(g, buf, k, lr):
    """torch.optim.SGD(momentum=0.9, dampening=0): buf = 0.9 buf + g, buf = g at the first step."""
    buf = g.copy() if buf is None else 0.9 * buf + g
    return -lr * buf, buf


def _adam(g, state, k, lr, b1=0.9, b2=0.999, eps=1e-8):
    """torch.optim.Adam with its defaults; k is the 1-based step count (bias correction)."""
    m, v = state if state is not None else (None, None)
    m = (1 - b1) * g if m is None else b1 * m + (1 - b1) * g
    v = (1 - b2) * g * g if v is None else b2 * v + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1**k), v / (1 - b2**k)
    return -lr * m_hat / (np.sqrt(v_hat) + eps), (m, v)


OPTIMIZERS: Registry[Optimizer] = Registry("optimizer", [
    Optimizer("sgd", "SGD", _sgd),
    Optimizer("momentum", "SGD with momentum 0.9", _momentum),
    Optimizer("adam", "Adam", _adam),
])


@dataclass(frozen=True)
class RunConfig(CellChoice):
    """One training run: the network, the task, the optimiser and the clipping."""

    cell: str = "rnn-tanh"  # a key of cells.CELLS
    hidden: int = 32
    task: str = "adding"  # a key of tasks.TASKS
    length: int = 50  # T (the text task uses windows of this many characters)
    batch: int = 32
    updates: int = 200
    optimizer: str = "sgd"  # a key of OPTIMIZERS
    lr: float = 0.1
    clip: str = "none"  # a key of CLIPS
    threshold: float = 1.0  # tau for "norm", v for "value"
    seed: int = 0
    radius: float | None = None  # spectral radius of each W_hh block; None: PyTorch default
    forget_bias: float | None = None  # LSTM forget-gate bias
    window: int | None = None  # truncated BPTT's window k (engine.bptt_truncated); None: full BPTT


@dataclass(frozen=True)
class TrainingRun:
    """Per-update records of a run (U = updates done), and the weights it ended with.

    The model is reusable: rnnviz.forward(run.config.kind, run.params, xs,
    nonlinearity=run.config.nonlinearity) runs the trained cell, and run.readout its readout.
    """

    config: RunConfig
    loss: np.ndarray  # (U,) training loss of each mini-batch, before its update
    grad_norm: np.ndarray  # (U,) global gradient norm before clipping
    clipped_norm: np.ndarray  # (U,) global gradient norm after clipping
    clipped: np.ndarray  # (U,) bool: did clipping change the gradient
    update_norm: np.ndarray  # (U,) norm of the parameter change
    cosine: np.ndarray  # (U,) cosine between the raw and the clipped gradient
    diverged_at: int | None  # 1-based update whose loss or weights were not finite, else None
    stopped_at: int | None  # updates done when a caller stopped the run early, else None
    h_norms_start: np.ndarray  # (T,) ||dL/dh_t|| on a fixed probe batch before training, by the BPTT
    #                            the run trains with (zero beyond config.window steps back, if it has one)
    h_norms_end: np.ndarray  # (T,) the same after training (or at divergence)
    params: dict[str, np.ndarray]  # the cell's weights after the last update (the engine's keys);
    #                                for a diverged run the last finite ones, before the update that broke them
    readout: dict[str, np.ndarray]  # the readout's, likewise: "weight_out" (O, H), "bias_out" (O,)
    final_loss: float = field(default=float("nan"))  # the probe batch's loss with those weights

    @property
    def updates_done(self) -> int:
        return len(self.loss)


def _check(cfg: RunConfig) -> None:
    task = TASKS[cfg.task]  # an unknown key raises a ValueError naming it
    _ = CELLS[cfg.cell], OPTIMIZERS[cfg.optimizer], CLIPS[cfg.clip]
    checks = [
        (isinstance(cfg.hidden, int) and 1 <= cfg.hidden <= 256, "hidden", "an integer in 1..256"),
        (isinstance(cfg.length, int) and 10 <= cfg.length <= 500, "length", "an integer in 10..500"),
        (isinstance(cfg.batch, int) and 1 <= cfg.batch <= 256, "batch", "an integer in 1..256"),
        (isinstance(cfg.updates, int) and 1 <= cfg.updates <= 5000, "updates", "an integer in 1..5000"),
        (np.isfinite(cfg.lr) and cfg.lr > 0, "lr", "a positive number"),
        (np.isfinite(cfg.threshold) and cfg.threshold > 0, "threshold", "a positive number"),
        (cfg.window is None or (isinstance(cfg.window, int) and cfg.window >= 1), "window",
         "None (full BPTT) or an integer >= 1"),
    ]
    for ok, name, expected in checks:
        if not ok:
            raise ValueError(f"{name} must be {expected}, got {getattr(cfg, name)!r}")
    if cfg.length < task.min_length:
        raise ValueError(f"length must be at least {task.min_length} for task {cfg.task!r}, got {cfg.length}")


def make_batch(cfg: RunConfig, index: int) -> tasks.Sample:
    """Mini-batch number `index` (0 is the fixed probe batch): (T, B, I), seeded by (seed, index)."""
    seed = int(np.random.SeedSequence([cfg.seed, index]).generate_state(1)[0])
    return tasks.task_sample(cfg.task, cfg.length, seed=seed, batch=cfg.batch)


def _loss_and_grads(cfg, params, readout, sample):
    """(loss, grads for cell and readout, ||dL/dh_t|| per step) for one batch, by BPTT truncated to
    cfg.window (None: full): the gradient the update uses."""

    def readout_on(h):
        with np.errstate(over="ignore", invalid="ignore"):
            h = np.nan_to_num(h, nan=0.0, posinf=0.0, neginf=0.0)
            result = readout_loss(readout, h, sample.targets, sample.loss_mask, sample.loss)
        return result.loss, result.dL_dh, result.grads

    loss, back, readout_grads, nonfinite_step = loss_and_bptt(
        cfg.kind, params, sample.xs, readout_on, nonlinearity=cfg.nonlinearity, window=cfg.window
    )
    grads = dict(back.params) | dict(readout_grads)
    return (loss if nonfinite_step is None else float("nan")), grads, hidden_grad_norms(back)


class OptimizerState:
    """An OPTIMIZERS rule applied to named parameters, keeping each one's state between steps.

    OptimizerState(key, lr, names).delta(grads) -> the change to add to each parameter; set .lr
    between steps for a schedule. Any model with named parameters can train with it (attention.py).
    """

    def __init__(self, key: str, lr: float, names):
        self.rule, self.lr, self.step_count = OPTIMIZERS[key], lr, 0
        self.state = {n: None for n in names}

    def delta(self, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The change to add to each parameter."""
        self.step_count += 1
        out = {}
        for n, g in grads.items():
            out[n], self.state[n] = self.rule.step(g, self.state[n], self.step_count, self.lr)
        return out


_Optimizer = OptimizerState  # its earlier, private name


def _cosine(a: dict, b: dict) -> float:
    dot = sum(float(np.sum(a[n] * b[n])) for n in a)
    na, nb = global_norm(a.values()), global_norm(b.values())
    return dot / (na * nb) if na > 0 and nb > 0 and np.isfinite(na * nb) else float("nan")


def train_steps(cfg: RunConfig) -> Iterator[TrainingRun]:
    """Train, yielding the run so far after every update; the last one yielded is the result."""
    _check(cfg)
    probe = make_batch(cfg, 0)
    I, n_out = probe.xs.shape[-1], probe.n_out
    cell = CELLS[cfg.cell]
    params = init_params(
        cell.kind,
        I,
        cfg.hidden,
        seed=cfg.seed,
        spectral_radius=cfg.radius,
        forget_bias=cfg.forget_bias if cell.has_forget_gate else None,
        **cell.init,
    )
    readout = init_readout(cfg.hidden, n_out, seed=cfg.seed)
    optimizer = OptimizerState(cfg.optimizer, cfg.lr, [*params, *readout])
    _, _, h_start = _loss_and_grads(cfg, params, readout, probe)
    rec = {k: [] for k in ("loss", "grad_norm", "clipped_norm", "clipped", "update_norm", "cosine")}
    diverged_at = None

    def snapshot(final: bool) -> TrainingRun:
        arrays = {k: np.array(v, dtype=bool if k == "clipped" else float) for k, v in rec.items()}
        h_end = h_start
        final_loss = float("nan")
        if final and diverged_at is None:
            final_loss, _, h_end = _loss_and_grads(cfg, params, readout, probe)
        return TrainingRun(
            config=cfg,
            **arrays,
            diverged_at=diverged_at,
            stopped_at=None,
            h_norms_start=h_start,
            h_norms_end=h_end,
            params=params,
            readout=readout,
            final_loss=final_loss,
        )

    with np.errstate(over="ignore", invalid="ignore"):
        for u in range(1, cfg.updates + 1):
            loss, grads, _ = _loss_and_grads(cfg, params, readout, make_batch(cfg, u))
            clipped, total = CLIPS[cfg.clip].apply(grads, cfg.threshold)
            after = global_norm(clipped.values())
            delta = optimizer.delta(clipped)
            before = params, readout
            params = {n: params[n] + delta[n] for n in params}
            readout = {n: readout[n] + delta[n] for n in readout}
            rec["loss"].append(loss)
            rec["grad_norm"].append(total)
            rec["clipped_norm"].append(after)
            rec["clipped"].append(any(not np.array_equal(grads[n], clipped[n], equal_nan=True) for n in grads))
            rec["update_norm"].append(global_norm(delta.values()))
            rec["cosine"].append(_cosine(grads, clipped))
            weights_ok = all(np.all(np.isfinite(p)) for p in (*params.values(), *readout.values()))
            if not (np.isfinite(loss) and np.isfinite(total) and weights_ok):
                diverged_at = u
                params, readout = before  # an update that broke the numbers is not kept
                yield snapshot(final=True)
                return
            yield snapshot(final=u == cfg.updates)


def train(cfg: RunConfig, keep_going: Callable[[TrainingRun], bool] | None = None) -> TrainingRun:
    """Run cfg to the end (or divergence); the run's records and its trained weights (run.params,
    run.readout). keep_going(run_so_far) -> False stops early, keeping the weights so far."""
    run = None
    for run in train_steps(cfg):
        if keep_going is not None and not keep_going(run):
            return replace(run, stopped_at=run.updates_done)
    return run


# --- what a run is measured against ------------------------------------------------------------


@cache
def constant_loss(task: str, length: int) -> float:
    """The loss of the best constant answer on a task (one output for every step and sequence,
    ignoring the input): the targets' variance for "mse", their classes' entropy for "xent", on
    a 512-sequence sample. A run whose loss ends near it has learned no more than the average."""
    sample = tasks.task_sample(task, max(length, TASKS[task].min_length), seed=12345, batch=512)
    mask = np.asarray(sample.loss_mask, dtype=bool)
    if sample.has_target is not None:
        mask = mask & np.asarray(sample.has_target, dtype=bool)
    targets = np.asarray(sample.targets)[mask]  # (steps * B, O) for "mse", (steps * B,) for "xent"
    if sample.loss == "mse":
        return float(np.mean(np.var(targets.reshape(-1, targets.shape[-1]), axis=0)))
    p = np.bincount(targets.ravel().astype(int), minlength=sample.n_out) / targets.size
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


LEARNED_BELOW = 0.9  # "learned": the final loss under 90 % of the best constant answer's
MOVED_BELOW = 0.9  # "moved": the final loss under 90 % of the first one


@dataclass(frozen=True)
class Outcome:
    """How a run ended, in the one vocabulary every text about runs uses (the run's summary, its
    legend entry, the lessons): a run "learned" only when it beats the best constant answer
    (constant_loss) clearly, because a loss that falls to the targets' average has learned the
    average, not the task."""

    # "diverged" | "blew up" | "learned" | "no better than a constant answer" | "barely moved" | "not started"
    verdict: str
    first: float  # loss of the first mini-batch
    last: float  # mean loss of the last (up to) 10 updates
    constant: float  # loss of the best constant answer on the run's task
    diverged_at: int | None

    @property
    def learned(self) -> bool:
        return self.verdict == "learned"

    @property
    def phrase(self) -> str:
        """The verdict as a clause: "diverged at update 12", "went from 0.124 to 0.045, no better than ..."."""
        if self.verdict == "diverged":
            return f"diverged at update {self.diverged_at}"
        if self.verdict in ("blew up", "not started"):
            return self.verdict
        moved = f"went from {self.first:.3g} to {self.last:.3g}"
        return moved if self.verdict == "learned" else f"{moved}: {self.verdict}"


def outcome(run: TrainingRun) -> Outcome:
    """The run's Outcome, judged against the best constant answer on its task and length."""
    constant = constant_loss(run.config.task, run.config.length)
    if run.diverged_at is not None:
        return Outcome("diverged", float(run.loss[0]), math.nan, constant, run.diverged_at)
    if not run.updates_done:
        return Outcome("not started", math.nan, math.nan, constant, None)
    first, last = float(run.loss[0]), float(np.mean(run.loss[-min(10, run.updates_done):]))
    if last > 100 * first:
        verdict = "blew up"
    elif last < LEARNED_BELOW * constant:
        verdict = "learned"
    elif last < MOVED_BELOW * first:
        verdict = "no better than a constant answer"
    else:
        verdict = "barely moved"
    return Outcome(verdict, first, last, constant, None)


# --- what a run costs --------------------------------------------------------------------------

# CPU seconds per update ~ T * (a + b B H + c B H^2 + d B O [per-step outputs]) + e, per kind of
# cell: the per-step Python overhead, the elementwise work, the matrix products and the
# readout's loss at every step (the text task). Fitted on this project's 2-core machine, one
# BLAS thread, and rounded up; benchmarks/training.py --calibrate measures them again and prints
# how far the estimate is from the measured time.
COST = {  # kind -> (a, b, c, d, e)
    "rnn": (7e-6, 8e-8, 2e-11, 7e-8, 1e-3),
    "lstm": (7e-6, 1.6e-7, 2e-10, 7e-8, 1e-3),
    "gru": (3.5e-5, 8e-8, 4.5e-10, 7e-8, 1e-3),
}


@cache
def _task_sizes(task: str) -> tuple[int, int, bool]:
    """(I, O, a loss at every step) of a task, from a one-sequence sample."""
    sample = tasks.task_sample(task, max(10, TASKS[task].min_length), seed=0, batch=1)
    every_step = bool(np.asarray(sample.loss_mask)[:-1].any())  # more than the last step
    return sample.xs.shape[-1], sample.n_out, every_step


def estimated_seconds(cfg: RunConfig) -> float:
    """About how many CPU seconds (one core) train(cfg) takes, for all of cfg.updates (COST)."""
    a, b, c, d, e = COST[cfg.kind]
    _, n_out, every_step = _task_sizes(cfg.task)
    T, B, H = max(cfg.length, TASKS[cfg.task].min_length), cfg.batch, cfg.hidden
    per_update = T * (a + b * B * H + c * B * H * H + d * B * n_out * every_step) + e
    return cfg.updates * per_update


# --- keeping runs: a key per configuration, and a run as a small .npz file ------------------------

# The modules whose code decides a run's numbers: a change to any of them makes new keys, so a
# run kept on disk is never shown for code that would train it differently.
ENGINE_MODULES = ("training", "engine", "cells", "tasks", "readout", "numerics", "analysis", "registry")
_RECORDS = ("loss", "grad_norm", "clipped_norm", "clipped", "update_norm", "cosine", "h_norms_start", "h_norms_end")


@cache
def engine_version() -> str:
    """A short hash of the training engine's source (ENGINE_MODULES)."""
    h = hashlib.blake2b(digest_size=8)
    for name in ENGINE_MODULES:
        h.update(Path(__file__).with_name(f"{name}.py").read_bytes())
    return h.hexdigest()


def run_key(cfg: RunConfig) -> str:
    """A file-name-safe key for the run cfg describes, with this engine: same key, same run."""
    settings = json.dumps(asdict(cfg), sort_keys=True, allow_nan=False)
    return hashlib.blake2b(f"{settings}|{engine_version()}".encode(), digest_size=16).hexdigest()


def run_arrays(run: TrainingRun) -> dict[str, np.ndarray]:
    """The run as named arrays (np.savez's input): records, weights ("params.<key>",
    "readout.<key>"), and "meta", a JSON text of the configuration and the scalars."""
    meta = {"config": asdict(run.config), "diverged_at": run.diverged_at, "stopped_at": run.stopped_at,
            "final_loss": None if not np.isfinite(run.final_loss) else float(run.final_loss),
            "engine": engine_version()}
    out = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    out |= {name: np.asarray(getattr(run, name)) for name in _RECORDS}
    out |= {f"params.{k}": v for k, v in run.params.items()} | {f"readout.{k}": v for k, v in run.readout.items()}
    return out


def run_from_arrays(arrays) -> TrainingRun:
    """The inverse of run_arrays (a dict or an opened .npz); ValueError if it is not such a run."""
    try:
        meta = json.loads(str(arrays["meta"][()]))
        known = {f.name for f in fields(RunConfig)}
        cfg = RunConfig(**{k: v for k, v in meta["config"].items() if k in known})
        records = {name: np.asarray(arrays[name]) for name in _RECORDS}
        names = [str(n) for n in arrays.keys()] if hasattr(arrays, "keys") else list(arrays)
        params = {n.split(".", 1)[1]: np.asarray(arrays[n]) for n in names if n.startswith("params.")}
        readout = {n.split(".", 1)[1]: np.asarray(arrays[n]) for n in names if n.startswith("readout.")}
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"not a saved training run: {err}") from err
    final = meta.get("final_loss")
    return TrainingRun(config=cfg, **records, diverged_at=meta.get("diverged_at"), stopped_at=meta.get("stopped_at"),
                       params=params, readout=readout, final_loss=float("nan") if final is None else float(final))


def save_run(run: TrainingRun, path: str | Path) -> int:
    """Write the run to `path` (.npz, written whole or not at all); returns its size in bytes."""
    path = Path(path)
    buffer = io.BytesIO()
    np.savez(buffer, **run_arrays(run))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buffer.getvalue())
        os.replace(tmp, path)  # atomic: a reader sees the old file or the new one, never half of one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(buffer.getvalue())


def load_run(path: str | Path) -> TrainingRun:
    """A run written by save_run; ValueError if the file is not one (or is damaged)."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return run_from_arrays(arrays)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: {err}") from err
