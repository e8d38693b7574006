"""Training a recurrent cell with a linear readout on a long-dependency task, with gradient clipping.

Mini-batches go through the engine's batched forward and BPTT; the readout's loss and gradient
come from autograd. Optimisers follow PyTorch's update rules (torch.optim.SGD with and without
momentum, torch.optim.Adam with its defaults), clipping follows torch.nn.utils (one norm over
every parameter, cell and readout). OPTIMIZERS and CLIPS are their registries; the cell and the
task come from cells.CELLS and tasks.TASKS. Everything is seeded: the same RunConfig gives the
same run. A run whose loss or weights stop being finite ends there and says at which update.
train() returns the run's records and its trained weights, for a notebook or a page to reuse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

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
    h_norms_start: np.ndarray  # (T,) ||dL/dh_t|| on a fixed probe batch before training
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
    """(loss, grads for cell and readout, ||dL/dh_t|| per step) for one batch."""

    def readout_on(h):
        with np.errstate(over="ignore", invalid="ignore"):
            h = np.nan_to_num(h, nan=0.0, posinf=0.0, neginf=0.0)
            result = readout_loss(readout, h, sample.targets, sample.loss_mask, sample.loss)
        return result.loss, result.dL_dh, result.grads

    loss, back, readout_grads, nonfinite_step = loss_and_bptt(
        cfg.kind, params, sample.xs, readout_on, nonlinearity=cfg.nonlinearity
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
