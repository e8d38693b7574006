"""The gallery: small networks trained by rnnviz's own training code, each with a story for a student.

With random weights every gate sits near 0.5 and nothing on the Step page decides anything. These
networks were trained (rnnviz.training.train, from the seed in their recipe) until one unit or
gate does a job a student can watch: it counts brackets, holds a symbol through a delay, or
reacts to something visible in a text. GALLERY is their registry: its keys are what
`python -m rnnviz.gallery list` prints and what a page's `weights=` names. Each entry says what
the network learned, the input that shows it best, the unit or gate to watch, and the tricks the
shipped weights keep on fresh samples (tests/test_gallery.py recomputes every one).

Files: gallery_data/<name>.safetensors is the state_dict of a PyTorch model with an nn.RNN /
nn.LSTM / nn.GRU named `rnn` and an nn.Linear named `fc`, in float32 as PyTorch saves it, with
the vocabulary in the metadata: rnnviz.load_weights reads it exactly as it reads a user's own
file, so gallery weights and "your own weights" share one format and one loader. The metadata
also records the recipe and a fingerprint of the weights after CHECKPOINT updates, so a test can
check a long build without rerunning all of it. The two encoder-decoders with attention are
not listed here: rnnviz.attention keeps their files and builds them.

`python -m rnnviz.gallery build [NAME ...]` retrains from the recipes and rewrites the files.
Training is deterministic: the same recipe gives the same float64 arrays on the same NumPy and
BLAS, and their float32 rounding is what the files hold.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import safetensors.numpy

from . import tasks
from .analysis import hidden_grad_norms
from .cells import CELLS, KINDS
from .engine import Trace, backward_from_trace, forward
from .readout import Prediction, last_step_mask, predict, readout_loss
from .registry import Registry
from .tasks import TASKS, Sample
from .training import CLIPS, OPTIMIZERS, RunConfig, TrainingRun, train_steps
from .weights import LoadedWeights, load_weights

GALLERY_DIR = Path(__file__).parent / "gallery_data"
CHECKPOINT = 20  # every file records a fingerprint of the weights after this many updates (a fast test)
FRESH_SEED = 20_261_122  # fresh samples for the tricks; training batches' seeds come from
#                          SeedSequence([recipe.seed, index]): 32-bit draws that meet this one with
#                          a chance of about 5000 / 2^32 for a 5000-update run
FRESH = 200  # sequences in a trick's fresh batch


# --- what an entry says -------------------------------------------------------------------------


@dataclass(frozen=True)
class Watch:
    """What to look at on the Step page: one unit of one vector (h, c or a gate such as "f")."""

    vector: str  # "h", "c", or a gate of the cell ("f", "z", ...)
    unit: int  # k, 0-based as the pages number units

    @property
    def label(self) -> str:
        return f"unit {self.unit} of {self.vector}"


@dataclass(frozen=True)
class BestInput:
    """The input that shows the trick best: a typed text (the task's encode), or a task sample."""

    text: str | None = None
    length: int | None = None  # T of the task sample, when there is no text
    seed: int = 0


@dataclass(frozen=True)
class Trick:
    """A claim the shipped weights keep: MEASURES[measure] on fresh samples passes threshold."""

    claim: str  # what it shows, in a student's words
    measure: str  # a key of MEASURES
    threshold: float
    measured: float  # what `build` measured on the shipped weights (tests recompute it)
    at_least: bool = True  # holds when measured >= threshold; False: <= (a network that must fail)
    feature: str | None = None  # for "unit_r": a key of FEATURES
    length: int | None = None  # T of the fresh samples; None: the recipe's length

    def holds(self, value: float) -> bool:
        return bool(value >= self.threshold if self.at_least else value <= self.threshold)


@dataclass(frozen=True)
class Entry:
    """One trained recurrent cell with a linear readout: how it was made and what to look at."""

    key: str  # URL-safe name, e.g. "lstm-brackets"
    title: str
    story: str  # one paragraph for a student: trained on what, learned what, what to look at
    recipe: RunConfig  # what `build` runs: cell, sizes, task, seed, updates, optimiser, clipping
    best: BestInput
    watch: Watch
    tricks: tuple[Trick, ...]
    partner: str | None = None  # a gallery model trained the same way with another cell
    @property
    def label(self) -> str:
        return self.title


# --- a loaded model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GalleryModel:
    """A gallery entry with its weights, read by rnnviz.load_weights from its file."""

    entry: Entry
    weights: LoadedWeights
    path: Path

    @property
    def key(self) -> str:
        return self.entry.key

    @property
    def cell(self) -> str:
        """A key of cells.CELLS."""
        return self.entry.recipe.cell

    @property
    def kind(self) -> str:
        return self.weights.kind

    @property
    def nonlinearity(self) -> str:
        return self.weights.nonlinearity

    @property
    def hidden(self) -> int:
        return self.weights.hidden_size

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The engine's four keys, float64: weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,)."""
        return self.weights.params

    @property
    def readout(self) -> dict[str, np.ndarray]:
        """weight_out (O, H), bias_out (O,)."""
        return self.weights.readout

    @property
    def vocab(self) -> list[str]:
        """(I,) the name of each input channel (a character, a symbol)."""
        return self.weights.vocab

    @property
    def classes(self) -> tuple[str, ...] | None:
        """(O,) what each readout output means (the next character, a depth), None for a value."""
        return self.sample().classes

    @property
    def task(self) -> str:
        return self.entry.recipe.task

    @property
    def loss_on(self) -> str:
        """Where the task's loss applies, as the Backprop study names it: "last" or "all"."""
        sample = self.sample()
        return "last" if np.array_equal(sample.loss_mask, last_step_mask(sample.T)) else "all"

    @property
    def trained_on(self) -> str:
        """One line for a page: "LSTM, 8 units, trained on Bracket depth (T = 40): ..."."""
        return f"{self.entry.title}: {recipe_text(self.entry.recipe)}"

    def sample(self, text: str | None = None) -> Sample:
        """The best input (text None), or a typed text encoded for this model (ValueError if it cannot be)."""
        task, best = TASKS[self.task], self.entry.best
        if text is None:
            return task.encode(best.text) if best.text is not None else tasks.task_sample(
                self.task, best.length, seed=best.seed)
        if task.encode is None:
            raise ValueError(f"{self.key} reads {task.label} samples, not typed text")
        return task.encode(text)

    def input_values(self) -> dict[str, object]:
        """The shared scenario's input controls (config.PARAMS names) that describe the best input."""
        best = self.entry.best
        if best.text is not None:
            return {"source": "text", "text": best.text}
        return {"source": "task", "task": self.task, "length": best.length, "seed": best.seed}

    def run(self, sample: Sample) -> Trace:
        """The forward pass over a sample (one sequence or a batch)."""
        return forward(self.kind, self.params, sample.xs, nonlinearity=self.nonlinearity)

    def predict(self, sample: Sample) -> Prediction:
        """What the readout predicts at every step of a sample: (T, [B,] O) outputs, class probabilities."""
        return predict(self.readout, self.run(sample).h, sample.loss, sample.classes)


def recipe_text(recipe: RunConfig) -> str:
    """How a recipe trains, in one sentence."""
    cell = CELLS[recipe.cell]
    clip_label = CLIPS[recipe.clip].label.lower().replace(" τ", "").replace(" v", "")
    clip = "" if recipe.clip == "none" else f", {clip_label} {recipe.threshold:g}"
    forget = (f", forget-gate bias {recipe.forget_bias:g} at the start"
              if recipe.forget_bias is not None and cell.has_forget_gate else "")
    return (f"{cell.label} with {recipe.hidden} units, trained on {TASKS[recipe.task].label} (T = {recipe.length}): "
            f"{recipe.updates} updates of {OPTIMIZERS[recipe.optimizer].label} (lr {recipe.lr:g}) on batches of "
            f"{recipe.batch}{clip}{forget}, seed {recipe.seed}")


# --- measures: what a trick's number is -----------------------------------------------------------

KEEPS = {"f": "c", "z": "h"}  # a gate that carries memory -> the state it keeps: LSTM c_t = f_t * c_{t-1}
#                              + i_t * g_t, GRU h_t = z_t * h_{t-1} + (1 - z_t) * n_t


def _fresh(model: GalleryModel, trick: Trick) -> Sample:
    """FRESH sequences of the model's task that training never drew (T = the trick's length or the recipe's)."""
    if model.task == "alice":  # one text: read it whole, from the start, in one pass
        return tasks.alice_sample()
    return tasks.task_sample(model.task, trick.length or model.entry.recipe.length, seed=FRESH_SEED, batch=FRESH)


def _vector(trace: Trace, name: str) -> np.ndarray:
    """(T, [B,] H) h, c or a gate's activations."""
    return {"h": trace.h, "c": trace.c, **trace.gates}[name]


def _pearson(values: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """(H,) Pearson r of each unit's values (N, H) with a feature (N,); 0 where either is constant."""
    a, b = values - values.mean(axis=0), feature - feature.mean()
    denom = np.sqrt(np.sum(a * a, axis=0) * np.sum(b * b))
    return np.divide(b @ a, denom, out=np.zeros(a.shape[1]), where=denom > 0)


def _eta(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(H,) the correlation ratio of each unit's values (B, H) by integer groups (B,): sqrt(between-group
    variance / total variance); |r| for two groups, 1 when the group alone sets the value."""
    centred = values - values.mean(axis=0)
    total = np.sum(centred**2, axis=0)
    between = sum(np.sum(groups == g) * centred[groups == g].mean(axis=0) ** 2 for g in np.unique(groups))
    return np.sqrt(np.divide(between, total, out=np.zeros_like(total), where=total > 0))


def _line_position(tokens) -> np.ndarray:
    """(T,) characters since the last line end (0 at a line's first character)."""
    out, k = [], 0
    for ch in tokens:
        out.append(k)
        k = 0 if ch == "\n" else k + 1
    return np.array(out, dtype=float)


def _in_quote(tokens) -> np.ndarray:
    """(T,) 1 inside '...' (the quote marks too), else 0. A ' between two letters is an
    apostrophe (I'm, don't), not a quote."""
    out, inside = [], False
    padded = [" ", *tokens, " "]
    for t, ch in enumerate(tokens):
        if ch == "'" and not (padded[t].isalpha() and padded[t + 2].isalpha()):
            inside = not inside
            out.append(1.0)
            continue
        out.append(float(inside))
    return np.array(out)


def _is(chars: Callable[[str], bool]) -> Callable[[tuple[str, ...]], np.ndarray]:
    return lambda tokens: np.array([chars(ch) for ch in tokens], dtype=float)


# What a character model's units may follow: name -> (T,) values, one per character read.
FEATURES: dict[str, Callable[[tuple[str, ...]], np.ndarray]] = {
    "space": _is(lambda ch: ch == " "),
    "line end": _is(lambda ch: ch == "\n"),
    "vowel": _is(lambda ch: ch in "aeiouAEIOU"),
    "letter": _is(str.isalpha),
    "capital": _is(str.isupper),
    "punctuation": _is(lambda ch: ch in ",.;:!?-"),
    "inside quotes": _in_quote,
    "position in the line": _line_position,
}


def _feature(trick: Trick, sample: Sample) -> np.ndarray:
    """(T, [B]) what a unit is correlated with: the depth (bracket targets) or a text feature."""
    if trick.feature == "depth":
        return sample.targets.astype(float)
    return FEATURES[trick.feature](sample.tokens)


def _held(sample: Sample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a memory task asks to hold: (first symbol (B,), the step it must be held to (B,),
    the steps it is held over (T, B) bool, which read nothing new worth keeping).

    Delayed recall: the first of the symbols shown, held to the last blank before the recall
    marker, over the blank delay. Temporal order: the first A/B, held to the last step, over
    every step after it.
    """
    T, B = sample.xs.shape[:2]
    steps = np.arange(T)[:, None]  # (T, 1)
    if sample.name == "memorisation":
        marker = int(np.argmax(sample.xs[:, 0, sample.vocab.index(">")]))
        shown = int(np.argmax(sample.xs[:, 0, sample.vocab.index("_")]))  # the first blank
        first = sample.xs[0].argmax(-1)  # (B,)
        return first, np.full(B, marker - 1), np.broadcast_to((steps >= shown) & (steps < marker), (T, B))
    if sample.name == "temporal_order":
        symbol = sample.xs.argmax(-1)  # (T, B) indices into TEMPORAL_SYMBOLS; A = 0, B = 1
        at = np.argmax(symbol < 2, axis=0)  # (B,) the first A/B
        return symbol[at, np.arange(B)], np.full(B, T - 1), steps > at
    raise ValueError(f"nothing to hold in task {sample.name!r}")


def unit_r(model: GalleryModel, trick: Trick, vector: str) -> np.ndarray:
    """(H,) Pearson r between each unit of a vector and the trick's feature, over every step of fresh
    samples. Signed: a unit that rises with the feature is what a student sees "follow" it."""
    sample = _fresh(model, trick)
    values = _vector(model.run(sample), vector)  # (T, [B,] H)
    return _pearson(values.reshape(-1, model.hidden), _feature(trick, sample).ravel())


def holds_first(model: GalleryModel, trick: Trick, vector: str) -> np.ndarray:
    """(H,) how well each unit's state (the vector, or the state a gate keeps) at the step the first
    symbol must be held to tells which symbol it was: the correlation ratio over fresh samples."""
    sample = _fresh(model, trick)
    first, until, _ = _held(sample)
    state = _vector(model.run(sample), vector if vector in ("h", "c") else KEEPS[vector])  # (T, B, H)
    return _eta(state[until, np.arange(len(first))], first)


def gate_hold(model: GalleryModel, trick: Trick) -> float:
    """The watched gate's mean over the steps the first symbol is held (near 1: it keeps its state)."""
    watch = model.entry.watch
    sample = _fresh(model, trick)
    _, _, held = _held(sample)  # (T, B)
    gate = _vector(model.run(sample), watch.vector)[..., watch.unit]  # (T, B)
    return float(np.mean(gate[held]))


def accuracy(model: GalleryModel, trick: Trick) -> float:
    """The fraction of fresh steps where the loss applies whose most likely class is the target."""
    sample = _fresh(model, trick)
    y = model.predict(sample).y
    mask = sample.loss_mask
    return float(np.mean(y[mask].argmax(-1) == sample.targets[mask]))


def recall_accuracy(model: GalleryModel, trick: Trick) -> float:
    """Delayed recall: the fraction of the recalled symbols (after the marker) answered right."""
    sample = _fresh(model, trick)
    recall = int(np.argmax(sample.xs[:, 0, sample.vocab.index(">")]))  # the marker: recall starts here
    y = model.predict(sample).y
    return float(np.mean(y[recall:].argmax(-1) == sample.targets[recall:]))


def gradient_reach(model: GalleryModel, trick: Trick) -> float:
    """log10(||dL/dh_1|| / ||dL/dh_T||) on the best input, with the model's readout and its task's loss."""
    norms = hidden_grad_norms_of(model, model.sample())
    return float(np.log10(norms[0] / norms[-1]))


def hidden_grad_norms_of(model: GalleryModel, sample: Sample) -> np.ndarray:
    """(T,) ||dL/dh_t|| of the model's own loss (its readout, its task's targets and loss mask) on a sample."""
    trace = model.run(sample)
    result = readout_loss(model.readout, trace.h, sample.targets, sample.loss_mask, sample.loss)
    return hidden_grad_norms(backward_from_trace(model.params, trace, result.dL_dh))


@dataclass(frozen=True)
class Measure:
    """What a trick's number is. A measure of units gives one number per unit of a vector: the
    trick's is the watched unit's, and search_units looks through all of them."""

    key: str
    label: str
    fn: Callable[..., float | np.ndarray]  # (model, trick) -> the number; per unit: (model, trick, vector) -> (H,)
    per_unit: bool = False


MEASURES: Registry[Measure] = Registry("measure", [
    Measure("unit_r", "r between the watched unit and a feature, over every step", unit_r, per_unit=True),
    Measure("holds_first", "how well the watched unit's state tells the first symbol", holds_first, per_unit=True),
    Measure("gate_hold", "the watched gate's mean while it holds the first symbol", gate_hold),
    Measure("accuracy", "accuracy where the loss applies", accuracy),
    Measure("recall_accuracy", "accuracy of the recalled symbols", recall_accuracy),
    Measure("gradient_reach", "log10 ||dL/dh_1|| / ||dL/dh_T|| on the best input", gradient_reach),
])


def measure(model: GalleryModel, trick: Trick) -> float:
    """The trick's number on fresh samples, from the model's weights as shipped."""
    m = MEASURES[trick.measure]
    if m.per_unit:
        watch = model.entry.watch
        return float(m.fn(model, trick, watch.vector)[watch.unit])
    return float(m.fn(model, trick))


@dataclass(frozen=True)
class Found:
    """A unit found by search_units: its feature (for "unit_r" on a text), the watch, its number."""

    feature: str | None
    watch: Watch
    value: float


def search_units(model: GalleryModel, trick: Trick) -> list[Found]:
    """Every unit the trick's measure could watch, best first (empty for a measure of the whole model).

    "unit_r" looks through h and c (if the cell has it) and, for a text, every FEATURE;
    "holds_first" through the units of the watched vector. That is how the gallery's watches were
    chosen after training: build prints the top few, and the tests check the watch is the first.
    """
    m = MEASURES[trick.measure]
    if not m.per_unit:
        return []
    if m.key == "holds_first":
        vectors, features = [model.entry.watch.vector], [trick.feature]
    else:
        vectors = ["h", "c"] if KINDS[model.kind].has_cell_state else ["h"]
        features = list(FEATURES) if model.task == "alice" else [trick.feature]
    found = []
    for feature in features:
        probe = Trick(trick.claim, trick.measure, trick.threshold, trick.measured, feature=feature, length=trick.length)
        for vector in vectors:
            for unit, value in enumerate(m.fn(model, probe, vector)):
                found.append(Found(feature if m.key == "unit_r" else None, Watch(vector, unit), float(value)))
    return sorted(found, key=lambda f: -f.value)


# --- the registry -------------------------------------------------------------------------------

# Recipes. Models that are compared share one recipe and differ in the cell only (forget_bias
# applies to the LSTM alone: training.train ignores it for the others).
BRACKETS = RunConfig(cell="lstm", hidden=8, task="brackets", length=40, batch=32, updates=1500, optimizer="adam",
                     lr=0.01, clip="norm", threshold=1.0, seed=2)
RECALL = RunConfig(cell="lstm", hidden=32, task="memorisation", length=30, batch=64, updates=4000, optimizer="adam",
                   lr=0.01, clip="norm", threshold=1.0, seed=1, forget_bias=3.0)
ORDER = RunConfig(cell="lstm", hidden=32, task="temporal_order", length=50, batch=32, updates=600, optimizer="adam",
                  lr=0.01, clip="norm", threshold=1.0, seed=1, forget_bias=1.0)
ALICE = RunConfig(cell="lstm", hidden=16, task="alice", length=100, batch=32, updates=2000, optimizer="adam",
                  lr=0.01, clip="norm", threshold=1.0, seed=1)

RECALL_INPUT = BestInput(length=30, seed=3)
ORDER_INPUT = BestInput(length=50, seed=3)

GALLERY: Registry[Entry] = Registry("gallery model", [
    Entry(
        "lstm-brackets", "An LSTM that counts brackets",
        story=(
            "Trained to say, after every character of a string of brackets and letters, how deeply the brackets "
            "are nested there. There is no shortcut: the network must count, adding one for every ( and taking "
            "one away for every ), and ignore the letters. It keeps the count in its cell state: step through the"
            " best input and watch unit 7 of c climb a stair at each ( and step down at each ), while the letters"
            " leave it where it is. The readout reads the depth off that one number."
        ),
        recipe=BRACKETS,
        best=BestInput(text="a(b(c)a)((b(c(a))b))(((((a)))))c()b(a(b)c)"),
        watch=Watch("c", 7),
        tricks=(
            Trick("unit 7 of c follows the nesting depth", "unit_r", 0.95, 0.9856, feature="depth", length=60),
            Trick("the readout names the depth", "accuracy", 0.99, 1.0000, length=60),
        ),
    ),
    Entry(
        "lstm-recall", "An LSTM that remembers five symbols",
        story=(
            "Shown five symbols, then twenty blank steps, then a marker, it must repeat the five symbols in "
            "order. Everything it needs must be carried across the blanks, and nothing new arrives to refresh it. "
            "Watch unit 13 of the forget gate f: through the delay it stays at 1 (to three decimals), so "
            "c_t = f_t * c_{t-1} + i_t * g_t keeps what was written while the symbols were shown, and in the c row "
            "of the heatmaps unit 13 is a flat band whose shade still says which symbol came first. At the marker "
            "the output gate lets the memory out and the readout names the symbols one by one."
        ),
        recipe=RECALL,
        best=RECALL_INPUT,
        watch=Watch("f", 13),
        tricks=(
            Trick("recalls the five symbols", "recall_accuracy", 0.95, 0.9760),
            Trick("unit 13 of c still tells the first symbol at the end of the delay", "holds_first", 0.8, 0.8222),
            Trick("unit 13 of the forget gate stays at 1 through the delay", "gate_hold", 0.999, 0.9999),
        ),
        partner="gru-recall",
    ),
    Entry(
        "gru-recall", "A GRU that remembers five symbols",
        story=(
            "The same task and the same training as the LSTM beside it, with a GRU. A GRU has no separate cell "
            "state: it holds its memory in h itself, through the update gate z, since h_t = z_t * h_{t-1} + "
            "(1 - z_t) * n_t. Watch unit 2 of z during the blank steps: near 1, the old h passes through almost "
            "untouched, the GRU's version of an open forget gate, and unit 2 of h keeps a level that still says "
            "which symbol came first when the marker arrives."
        ),
        recipe=RECALL.with_(cell="gru"),
        best=RECALL_INPUT,
        watch=Watch("z", 2),
        tricks=(
            Trick("recalls the five symbols, nine in ten right at least", "recall_accuracy", 0.9, 0.9390),
            Trick("unit 2 of h still tells the first symbol at the end of the delay", "holds_first", 0.95, 0.9841),
            Trick("unit 2 of the update gate stays near 1 through the delay", "gate_hold", 0.99, 0.9960),
        ),
        partner="lstm-recall",
    ),
    Entry(
        "rnn-order", "A tanh RNN that cannot learn the order of two symbols",
        story=(
            "Sequences of 50 letters with two special symbols, A or B, hidden among them near the start and near "
            "the middle; the task is to name the order of the two (AA, AB, BA or BB) at the very end. Trained "
            "exactly like the LSTM and the GRU beside it, the plain tanh RNN fails: it stays at guessing (about "
            "one answer in four right), because the gradient from the loss at the end shrinks by a factor at "
            "every step back and is gone long before it reaches the first symbol. Open it on Backprop through "
            "time and see ||dL/dh_t|| fall by many decades towards t = 1."
        ),
        recipe=ORDER.with_(cell="rnn-tanh"),
        best=ORDER_INPUT,
        watch=Watch("h", 0),
        tricks=(
            Trick("no better than a little above guessing", "accuracy", 0.4, 0.2300, at_least=False),
            Trick("no unit holds the first symbol to the end", "holds_first", 0.5, 0.0506, at_least=False),
            Trick("the gradient from the loss fades before it reaches the first steps", "gradient_reach", -10.0,
                  -30.0362, at_least=False),
        ),
        partner="lstm-order",
    ),
    Entry(
        "lstm-order", "An LSTM that learns the order of two symbols",
        story=(
            "The temporal-order task of the tanh RNN beside it, with the same recipe (sizes, seed, optimiser, "
            "clipping, updates), but an LSTM. It learns: its cell state gives the gradient a path along which it "
            "is multiplied by the forget gate instead of by W_hh and tanh', so the loss at the end still reaches "
            "the first symbol. On Backprop through time its gradient norm stays within a few decades all the way "
            "back; on Step through, watch the unit that takes a different value after an A than after a B and "
            "keeps it to the end."
        ),
        recipe=ORDER,
        best=ORDER_INPUT,
        watch=Watch("h", 22),
        tricks=(
            Trick("names the order", "accuracy", 0.95, 1.0000),
            Trick("the gradient from the loss reaches the first steps", "gradient_reach", -4.0, -1.6368),
            Trick("one unit holds the first symbol to the end", "holds_first", 0.95, 0.9996),
        ),
        partner="rnn-order",
    ),
    Entry(
        "gru-order", "A GRU that learns the order of two symbols",
        story=(
            "The temporal-order task once more, same recipe, with a GRU. Like the LSTM it learns, because its "
            "update gate lets h pass from step to step almost unchanged, which carries the first symbol forward "
            "and the gradient back. Watch the unit that settles to one value after an A and another after a B, "
            "and holds it through the filler letters."
        ),
        recipe=ORDER.with_(cell="gru"),
        best=ORDER_INPUT,
        watch=Watch("h", 29),
        tricks=(
            Trick("names the order", "accuracy", 0.95, 1.0000),
            Trick("the gradient from the loss reaches the first steps", "gradient_reach", -4.0, -0.0141),
            Trick("one unit holds the first symbol to the end", "holds_first", 0.95, 1.0000),
        ),
        partner="lstm-order",
    ),
    Entry(
        "lstm-alice", "An LSTM that read Alice in Wonderland",
        story=(
            "A character-level model trained on a few pages of Lewis Carroll's Alice's Adventures in Wonderland "
            "(1865, public domain, stored in the repository) to predict the next character. Sixteen units are too"
            " few to learn English, but enough to pick up what is visible in the text: which letters follow "
            "which, where words end, where lines break. Type your own sentence (using only characters of the "
            "text) and watch the unit that lights up on vowels; the prediction row shows the character it expects"
            " next."
        ),
        recipe=ALICE,
        best=BestInput(text="'You are old, Father William,' the young man said,\n"
                            "'And your hair has become very white;"),
        watch=Watch("h", 15),
        tricks=(
            Trick("unit 15 of h lights up on vowels", "unit_r", 0.6, 0.6542, feature="vowel"),
            Trick("predicts the next character of the text it was trained on", "accuracy", 0.6, 0.7190),
        ),
    ),
])


# The tanh RNN, the LSTM and the GRU trained by one recipe on one long-dependency task: the
# models to put side by side (Backprop through time's overlays, a comparison of the cells).
TRIO = ("rnn-order", "lstm-order", "gru-order")


def path(name: str, folder: Path | str = GALLERY_DIR) -> Path:
    """Where the weights of `name` (a key of GALLERY) live."""
    return Path(folder) / f"{GALLERY[name].key}.safetensors"


@functools.lru_cache(maxsize=len(GALLERY) + 1)
def _load_shipped(name: str) -> GalleryModel:
    return load(name, GALLERY_DIR)


def load(name: str, folder: Path | str | None = None) -> GalleryModel:
    """The gallery model `name`, its weights read by rnnviz.load_weights (the shipped files are read once)."""
    if folder is None:
        return _load_shipped(GALLERY[name].key)
    entry = GALLERY[name]
    file = path(name, folder)
    if not file.exists():
        raise FileNotFoundError(f"{file} does not exist: build it with python -m rnnviz.gallery build {name}")
    weights = load_weights(file)
    model = GalleryModel(entry, weights, file)
    expected = list(model.sample().vocab)
    if weights.vocab != expected or weights.kind != CELLS[entry.recipe.cell].kind or weights.readout is None:
        raise ValueError(f"{file} does not hold {name}: {weights.describe()}; rebuild it")
    return model


def weights_and_input(name: str) -> tuple[LoadedWeights, Sample]:
    """A gallery model's weights (as rnnviz.load_weights reads a user's file) and its best input."""
    model = load(name)
    return model.weights, model.sample()


def recorded(file: Path | str) -> dict:
    """The gallery metadata a file records: name, recipe, checkpoint {updates, sha256}, final_loss."""
    with open(file, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_size))
    return json.loads(header["__metadata__"]["gallery"])


# --- building --------------------------------------------------------------------------------------


def tensors(kind: str, params: dict, readout: dict) -> dict[str, np.ndarray]:
    """A PyTorch state_dict of nn.RNN/LSTM/GRU `rnn` + nn.Linear `fc`, in float32 (PyTorch's keys)."""
    out = {f"rnn.{name}_l0": np.asarray(params[name], dtype=np.float32) for name in
           ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    out["fc.weight"] = np.asarray(readout["weight_out"], dtype=np.float32)
    out["fc.bias"] = np.asarray(readout["bias_out"], dtype=np.float32)
    return out


def fingerprint(params: dict, readout: dict) -> str:
    """sha256 of the float32 weights (little-endian, in the state_dict's order): equal iff the file would be."""
    digest = hashlib.sha256()
    for key, value in tensors("", params, readout).items():
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(value, dtype="<f4").tobytes())
    return digest.hexdigest()


def train_with_checkpoint(recipe: RunConfig, checkpoint: int = CHECKPOINT) -> tuple[TrainingRun, str]:
    """Train the recipe to the end, and the fingerprint of its weights after `checkpoint` updates."""
    run, at_checkpoint = None, None
    for run in train_steps(recipe):
        if run.updates_done == checkpoint:
            at_checkpoint = fingerprint(run.params, run.readout)
    if run.diverged_at is not None:
        raise RuntimeError(f"{recipe} diverged at update {run.diverged_at}")
    return run, at_checkpoint


def save(file: Path | str, entry: Entry, run: TrainingRun, checkpoint: str) -> None:
    """Write the run's weights as a .safetensors file rnnviz.load_weights reads, with the recipe."""
    sample = tasks.task_sample(entry.recipe.task, entry.recipe.length)
    record = {"name": entry.key, "recipe": asdict(entry.recipe), "final_loss": run.final_loss,
              "checkpoint": {"updates": CHECKPOINT, "sha256": checkpoint}}
    metadata = {"kind": entry.recipe.kind, "nonlinearity": entry.recipe.nonlinearity,
                "vocab": json.dumps(list(sample.vocab)), "classes": json.dumps(list(sample.classes or ())),
                "gallery": json.dumps(record, sort_keys=True)}
    Path(file).write_bytes(safetensors.numpy.save(tensors(entry.recipe.kind, run.params, run.readout), metadata))


def build(names=None, folder: Path | str = GALLERY_DIR, log=print) -> dict[str, Path]:
    """Train the gallery's models (all, or `names`) from their recipes and write their files."""
    names = list(GALLERY) if not names else list(names)
    for name in names:
        GALLERY[name]  # an unknown name fails before any training
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
        entry = GALLERY[name]
        wall, cpu = time.perf_counter(), time.process_time()
        run, checkpoint = train_with_checkpoint(entry.recipe)
        spent = time.perf_counter() - wall, time.process_time() - cpu
        paths[name] = path(name, folder)
        save(paths[name], entry, run, checkpoint)
        model = load(name, folder)
        log(f"{name}: {spent[0]:.1f} s ({spent[1]:.1f} s CPU), {paths[name].stat().st_size:,} bytes, "
            f"final loss {run.final_loss:.4g}")
        for trick in entry.tricks:
            value = measure(model, trick)
            verdict = "ok" if trick.holds(value) else "FAILS"
            log(f"  {trick.measure}{f' ({trick.feature})' if trick.feature else ''}: {value:.4f} "
                f"({'>=' if trick.at_least else '<='} {trick.threshold:g}: {verdict}; recorded {trick.measured:.4f})")
            top = search_units(model, trick)[:5]
            if top:
                log("    search: " + ", ".join(f"{f.feature + ': ' if f.feature else ''}{f.watch.label} {f.value:.3f}"
                                               for f in top))
    return paths


# --- the command line ------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rnnviz.gallery",
        description="The gallery of small trained networks: list their names, or retrain them from their seeds.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="print the names, one a line")
    builder = commands.add_parser("build", help="train the models (all, or the NAMEs) and write their weights")
    builder.add_argument("names", nargs="*", metavar="NAME", help="models to build (default: all)")
    args = parser.parse_args(argv)
    if args.command == "list":
        print("\n".join(GALLERY))
        return 0
    try:
        build(args.names)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
