"""The Compare-cells page's study: an RNN, an LSTM and a GRU on the same input, side by side.

Each cell reads the shared input with weights drawn from the same seed, or the gallery's three
models trained by one recipe read their task's sample. A readout on the hidden states gives a loss
on the last step (the Backprop page's; a trained model's own readout) and the engine's BPTT carries
its gradient back. Then the same weights read the input once more with step k changed, and the
distance between the two runs' states at every later step says how long each cell remembers it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import gallery, tasks
from ..analysis import weight_spectrum
from ..cells import CELLS, KINDS, init_params
from ..config import Config
from ..engine import Backward, Trace, backward_from_trace, bptt, forward
from ..numerics import row_norms
from ..readout import ReadoutResult, init_readout, predict, readout_loss
from .bptt import loss_mask
from .step import make_params, make_sample

COMPARED = ("rnn", "lstm", "gru")  # the engine's kinds, in the page's order
TIMING_STEPS = 500  # the sequence the time per step is measured on: long enough that a call's overhead is spread thin
TIMING_SECONDS = 0.1  # a cell's timing repeats until it has run this long (and TIMING_CALLS times); the fastest counts
TIMING_CALLS = 5


def compared_cells(cell: str) -> tuple[str, ...]:
    """The cells (keys of CELLS) the page compares: one of each kind; the RNN is `cell` if that is
    an RNN (tanh or ReLU), else the first RNN."""
    chosen = []
    for kind in COMPARED:
        if CELLS[cell].kind == kind:
            chosen.append(cell)
        else:
            chosen.append(next(key for key, c in CELLS.items() if c.kind == kind))
    return tuple(chosen)


@dataclass(frozen=True)
class CellRun:
    """One cell on the shared input: its weights, forward pass, the readout's loss and BPTT."""

    cell: str  # a key of CELLS
    params: dict[str, np.ndarray]  # weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,)
    trace: Trace
    readout: ReadoutResult  # the loss on the last step, as on the Backprop page
    backward: Backward  # engine BPTT of that loss
    h_norms: np.ndarray  # (T,) ||dL/dh_t||
    readout_params: dict[str, np.ndarray] | None = None  # weight_out (O, H), bias_out (O,)
    readout_sample: tasks.Sample | None = None  # what the readout was scored on

    @property
    def label(self) -> str:
        return CELLS[self.cell].label

    @property
    def kind(self) -> str:
        return CELLS[self.cell].kind

    @property
    def n_params(self) -> int:
        """How many numbers the cell learns: the sizes of its weight arrays, added up."""
        return int(sum(np.asarray(a).size for a in self.params.values()))

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(G, H, I): row blocks (1, 4, 3), hidden size and input size, read off weight_ih's shape."""
        G = KINDS[self.kind].G
        rows, I = np.asarray(self.params["weight_ih"]).shape
        return G, rows // G, I

    @property
    def answer_probability(self) -> float:
        """The probability the readout gives the right class at the last step (a task scored there by
        cross-entropy); NaN otherwise."""
        sample = self.readout_sample
        if sample is None or sample.loss != "xent":
            return float("nan")
        probs = predict(self.readout_params, self.trace.h, "xent").probs  # (T, O)
        return float(probs[-1, int(np.asarray(sample.targets)[-1])])

    @property
    def spectral_radius(self) -> float:
        """The largest |eigenvalue| among W_hh's H x H blocks: how much one step can stretch the state."""
        return max(sp.spectral_radius for sp in weight_spectrum(self.kind, self.params).values())

    @property
    def memory_gate(self) -> str | None:
        """The gate that multiplies the old state itself (LSTM f, GRU z); None for the RNN."""
        return KINDS[self.kind].memory_gate

    @property
    def gate_values(self) -> np.ndarray | None:
        """(T, H) the memory gate's value at every step and unit, or None."""
        gate = self.memory_gate
        return None if gate is None else self.trace.gates[gate]


@dataclass(frozen=True)
class CompareStudy:
    """The three cells on one input."""

    sample: tasks.Sample  # the shared input, xs (T, I)
    cells: dict[str, CellRun]  # cell key -> its run: the RNN, the LSTM, the GRU
    typed: bool  # the steps are characters the user typed (drawn as text)
    trained: dict[str, str] = field(default_factory=dict)  # cell key -> its gallery model; {} for random weights

    @property
    def T(self) -> int:
        return self.sample.T

    @property
    def step_labels(self) -> list[str]:
        """(T,) what each step reads: its character or symbol, else x_t's value(s)."""
        if self.sample.tokens is not None:
            return [tasks.visible_token(token) for token in self.sample.tokens]
        return [", ".join(f"{v:.2f}" for v in row[:3]) + ("…" if len(row) > 3 else "") for row in self.sample.xs]

    def by_kind(self, kind: str) -> CellRun:
        return next(run for run in self.cells.values() if run.kind == kind)

    @property
    def first_kept_step(self) -> int:
        """The step whose input the task asks to be remembered, 1-based: temporal order's first A or B;
        1 for any other input (the change whose memory lasts longest)."""
        tokens = self.sample.tokens
        if self.sample.name == "temporal_order" and tokens is not None:
            wanted = tasks.TEMPORAL_SYMBOLS[:2]
            return next((t for t, token in enumerate(tokens, start=1) if token in wanted), 1)
        return 1


def cell_run(cell: str, params: dict[str, np.ndarray], sample: tasks.Sample,
             readout: dict[str, np.ndarray]) -> CellRun:
    """Forward, the readout's loss on the last step and BPTT for one cell on the sample.

    params: the engine's four arrays; readout: weight_out (O, H), bias_out (O,).
    """
    nonlinearity = CELLS[cell].nonlinearity
    trace = forward(CELLS[cell].kind, params, sample.xs, nonlinearity=nonlinearity)
    with np.errstate(over="ignore", invalid="ignore"):  # an exploded state: the loss reads 0 there, as on Backprop
        result = readout_loss(readout, np.nan_to_num(trace.h, nan=0.0, posinf=0.0, neginf=0.0),
                              sample.targets, loss_mask(sample, "last"), sample.loss)
    back = backward_from_trace(params, trace, result.dL_dh)
    return CellRun(cell, params, trace, result, back, row_norms(back.dh), readout, sample)


def build(cfg: Config) -> CompareStudy:
    """The shared input of cfg, and each compared cell with weights from cfg's seed (and its init
    settings), the readout the Backprop page uses."""
    sample = make_sample(cfg)
    readout = init_readout(cfg.hidden, sample.n_out, seed=cfg.seed)
    cells = {}
    for cell in compared_cells(cfg.cell):
        params = make_params(cfg.with_(cell=cell), sample.xs.shape[-1])
        cells[cell] = cell_run(cell, params, sample, readout)
    return CompareStudy(sample, cells, typed=tasks.SOURCES[cfg.source].typed)


def build_trained(names: tuple[str, ...] = gallery.TRIO) -> CompareStudy:
    """The gallery's models trained by one recipe (gallery.TRIO: a tanh RNN, an LSTM and a GRU on temporal
    order), each with its own readout, on the sample they share (their recipe's best input)."""
    models = [gallery.load(name) for name in names]
    sample = models[0].sample()
    for model in models[1:]:
        other = model.sample()
        if other.tokens != sample.tokens or not np.array_equal(other.xs, sample.xs):
            raise ValueError(f"gallery models {names} do not share one input: {model.key}'s differs")
    cells = {model.cell: cell_run(model.cell, model.params, sample, model.readout) for model in models}
    return CompareStudy(sample, cells, typed=False, trained={model.cell: model.key for model in models})


# --- memory: the same weights on the input changed at step k -------------------------------------


@dataclass(frozen=True)
class Perturbation:
    """The input with step k changed."""

    k: int  # 1-based
    xs: np.ndarray  # (T, I) the changed input: equal to the input but at step k
    was: str  # what step k read, and what it reads now (raw text for a symbol; numbers otherwise)
    now: str
    symbol: bool  # True: step k reads another symbol of the vocabulary; False: a vector was added


def perturb(sample: tasks.Sample, k: int) -> Perturbation:
    """The sample's input with step k (1-based) changed.

    A one-hot step (a character, a task's symbol) reads the vocabulary's next symbol instead, at
    the same size; any other input gets 1/sqrt(I) added to every channel, a change of length 1.
    """
    xs = np.asarray(sample.xs, dtype=float)
    T, I = xs.shape
    if not 1 <= k <= T:
        raise ValueError(f"k must be a step in 1..{T}, got {k!r}")
    changed = xs.copy()  # (T, I)
    row = xs[k - 1]
    hot = np.flatnonzero(row)
    if sample.vocab is not None and sample.tokens is not None and I > 1 and hot.size == 1:
        j = int(hot[0])
        changed[k - 1] = 0.0
        changed[k - 1, (j + 1) % I] = row[j]
        return Perturbation(k, changed, sample.vocab[j], sample.vocab[(j + 1) % I], symbol=True)
    changed[k - 1] += 1.0 / np.sqrt(I)
    shown = lambda r: ", ".join(f"{v:.3g}" for v in r[:4]) + (", …" if I > 4 else "")  # noqa: E731
    return Perturbation(k, changed, shown(row), shown(changed[k - 1]), symbol=False)


@dataclass(frozen=True)
class MemoryStudy:
    """How far each cell's states move, at every step, when the input at step k changes."""

    perturbation: Perturbation
    perturbed: dict[str, Trace]  # cell key -> the same weights on the changed input
    drift_h: dict[str, np.ndarray]  # cell key -> (T,) ||h'_t - h_t|| (0 before step k)
    drift_c: dict[str, np.ndarray]  # cell key -> (T,) ||c'_t - c_t||, for the cells with a cell state

    @property
    def k(self) -> int:
        return self.perturbation.k

    def kept(self, cell: str) -> float:
        """||h'_T - h_T|| / ||h'_k - h_k||: what is left at the last step of the change made at step k
        (NaN when k is the last step, or the change did not move h_k)."""
        drift, k = self.drift_h[cell], self.k
        if k == len(drift) or not drift[k - 1] > 0:
            return float("nan")
        with np.errstate(over="ignore", invalid="ignore"):
            return float(drift[-1] / drift[k - 1])


def memory(study: CompareStudy, k: int) -> MemoryStudy:
    """Each cell run once more, with the same weights, on the input changed at step k."""
    change = perturb(study.sample, k)
    perturbed, drift_h, drift_c = {}, {}, {}
    for cell, run in study.cells.items():
        again = forward(run.trace.kind, run.params, change.xs, nonlinearity=run.trace.nonlinearity)
        perturbed[cell] = again
        drift_h[cell] = row_norms(again.h - run.trace.h)
        if run.trace.c is not None:
            drift_c[cell] = row_norms(again.c - run.trace.c)
    return MemoryStudy(change, perturbed, drift_h, drift_c)


def final_answers(study: CompareStudy, memory: MemoryStudy) -> dict[str, tuple[str, str]]:
    """cell key -> (what its readout answers at the last step on the input, on the changed input), for
    a task with named classes scored at the last step (temporal order: "AB", ...); {} otherwise."""
    classes = study.sample.classes
    if study.sample.loss != "xent" or classes is None:
        return {}
    out = {}
    for cell, run in study.cells.items():
        before = predict(run.readout_params, run.trace.h, "xent", classes).top_labels[-1]
        after = predict(run.readout_params, memory.perturbed[cell].h, "xent", classes).top_labels[-1]
        out[cell] = (before, after)
    return out


# --- the engine's speed ------------------------------------------------------------------------


@dataclass(frozen=True)
class StepTime:
    """The engine's time per step for one cell and size, measured on this machine."""

    forward_us: float  # microseconds a step: forward pass
    bptt_us: float  # microseconds a step: forward pass and backprop through time (engine.bptt)
    steps: int  # the length of the sequence timed


def _fastest(*fns) -> list[float]:
    """Seconds of the fastest call of each fn, called in turn (so that a busy moment of the machine
    slows them alike) at least TIMING_CALLS times and until TIMING_SECONDS have passed in all."""
    best, spent, calls = [float("inf")] * len(fns), 0.0, 0
    while calls < TIMING_CALLS or spent < TIMING_SECONDS:
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            took = time.perf_counter() - start
            best[k], spent = min(best[k], took), spent + took
        calls += 1
    return best


def step_time(cell: str, input_size: int, hidden_size: int, steps: int = TIMING_STEPS) -> StepTime:
    """Time the engine's forward and BPTT for `cell` at these sizes, on `steps` random inputs.

    The time per step depends on the sizes only, not on the numbers: weights and inputs are drawn
    here (seed 0), the loss gradient enters at the last step.
    """
    kind, nonlinearity = CELLS[cell].kind, CELLS[cell].nonlinearity
    params = init_params(kind, input_size, hidden_size, seed=0)
    xs = np.random.default_rng(0).standard_normal((steps, input_size))  # (steps, I)
    dL_dh = np.zeros((steps, hidden_size))  # (steps, H)
    dL_dh[-1] = 1.0
    fwd, both = _fastest(lambda: forward(kind, params, xs, nonlinearity=nonlinearity),
                         lambda: bptt(kind, params, xs, dL_dh, nonlinearity=nonlinearity))
    return StepTime(1e6 * fwd / steps, 1e6 * both / steps, steps)

