"""Input sequences and tasks: each returns inputs, targets, and where the loss applies.

The long-dependency tasks follow the generators Pascanu, Mikolov and Bengio (2013) published
with "On the difficulty of training recurrent neural networks" (after Hochreiter & Schmidhuber
1997 and Martens & Sutskever 2011), with the sequence length fixed to T:
- adding: channel 0 marks two steps, one in the first 10% of the sequence and one in the next
  40%; channel 1 holds U(0, 1) values; the target at the last step is the mean of the two
  marked values (MSE).
- temporal order: six one-hot symbols; A or B at one step in [0.1T, 0.2T) and another in
  [0.5T, 0.6T), distractors c, d, e, f elsewhere; the class at the last step is the order
  (AA, BA, AB, BB) (cross-entropy).
- memorisation (delayed recall / copy): `n_pos` symbols from `n_values` are shown, then
  `delay` blank steps, a recall marker, and `n_pos` - 1 more blanks; the targets are "blank"
  everywhere except the last `n_pos` steps, which must repeat the symbols (cross-entropy on
  every step).
- text: windows of a fixed text, predicting the next character (cross-entropy on every step);
  "alice" does the same on ALICE_TEXT, a few KB of Lewis Carroll's "Alice's Adventures in
  Wonderland" (1865; public domain) in texts/alice.txt.
- brackets: a string of ( and ) and the letters a, b, c that never closes a bracket it has not
  opened and never nests deeper than MAX_DEPTH; the target at every step is the nesting depth
  after that character (classes 0..MAX_DEPTH, cross-entropy on every step). A network can only
  answer by counting: the gallery's LSTM keeps the count in one unit.
Every generator is seeded: the same arguments give the same sample.

TASKS is the registry of tasks (label, minimum length, and the one sample function that both
the shared scenario, one sequence, and training, mini-batches, call); SOURCES is the registry of
the shared scenario's inputs (free text, sine, noise, a task sample).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .registry import Registry

MAX_TEXT_LENGTH = 2000


@dataclass(frozen=True)
class Sample:
    """One input sequence (or a batch) with its targets and loss mask."""

    name: str
    xs: np.ndarray  # (T, I) inputs, or (T, B, I) for a batch
    targets: np.ndarray  # "mse": (T, O) or (T, B, O) floats; "xent": (T,) or (T, B) classes
    loss_mask: np.ndarray  # (T,) bool: steps where the loss applies
    loss: str  # "mse" or "xent"
    n_out: int  # O: readout size (outputs or classes)
    tokens: tuple[str, ...] | None = None  # (T,) a label per step (characters, symbols)
    vocab: tuple[str, ...] | None = None  # names of the one-hot input channels, if any
    has_target: np.ndarray | None = None  # (T,) bool: steps that have a target at all; None: every
    #                                       step (a text's last character has no next one)
    classes: tuple[str, ...] | None = None  # (O,) names of the readout's classes ("xent"), e.g. the
    #                                         next character; None for values (MSE) or unnamed classes

    @property
    def T(self) -> int:
        return self.xs.shape[0]

    @property
    def target_mask(self) -> np.ndarray:
        """(T,) bool: the steps whose targets are real, where any loss may apply (not placeholders)."""
        return np.ones(self.T, dtype=bool) if self.has_target is None else self.has_target


VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥"}  # characters a label draws as a visible sign


def visible_token(token: str) -> str:
    """A step's character as labels show it: space, newline and tab as visible signs."""
    return VISIBLE.get(token, token)


def _check_T(T, minimum=1, name="T", maximum=None):
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {T!r}")
    if maximum is not None and T > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {T!r}")
    return int(T)


def _check_batch(batch):
    if batch is None:
        return None
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch must be a positive integer or None, got {batch!r}")
    return int(batch)


def _squeeze(batch, *arrays):
    """Drop the batch axis (axis 1) when the caller asked for a single sequence."""
    return arrays if batch is not None else tuple(a[:, 0] for a in arrays)


# --- free text -------------------------------------------------------------------------------


def text_sample(text: str) -> Sample:
    """Characters of `text` as one-hot inputs (vocabulary: its sorted distinct characters).

    The target at step t is the next character (cross-entropy), so the loss applies at every
    step but the last, which has no target: its row of `targets` is a placeholder.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    if len(text) == 0:
        raise ValueError("text must have at least one character, got an empty string")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"text must have at most {MAX_TEXT_LENGTH} characters, got {len(text)}")
    vocab = tuple(sorted(set(text)))
    index = {ch: k for k, ch in enumerate(vocab)}
    ids = np.array([index[ch] for ch in text])  # (T,)
    xs = np.eye(len(vocab))[ids]  # (T, V)
    targets = np.append(ids[1:], 0)  # next character; the last row is a placeholder
    mask = np.ones(len(text), dtype=bool)
    mask[-1] = False
    return Sample("text", xs, targets, mask, "xent", len(vocab), tuple(text), vocab, has_target=mask, classes=vocab)


def text_in_vocab(text: str, vocab: Sequence[str], name: str = "text") -> Sample:
    """Like text_sample, but one-hot over a given vocabulary (a trained model's): inputs (T, V),
    the next character's index in `vocab` as the target. A character outside it is an error."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    if not 2 <= len(text) <= MAX_TEXT_LENGTH:
        raise ValueError(f"text must have 2 to {MAX_TEXT_LENGTH} characters, got {len(text)}")
    vocab = tuple(vocab)
    index = {ch: k for k, ch in enumerate(vocab)}
    unknown = sorted(set(text) - set(index))
    if unknown:
        shown = " ".join(visible_token(ch) for ch in unknown[:10]) + (" …" if len(unknown) > 10 else "")
        raise ValueError(
            f"text has characters the model never saw: {shown}; it knows only "
            f"{' '.join(visible_token(ch) for ch in vocab)}"
        )
    ids = np.array([index[ch] for ch in text])  # (T,)
    mask = np.ones(len(text), dtype=bool)
    mask[-1] = False  # the last character has no next one
    return Sample(name, np.eye(len(vocab))[ids], np.append(ids[1:], 0), mask, "xent", len(vocab), tuple(text),
                  vocab, has_target=mask, classes=vocab)


# --- signals ---------------------------------------------------------------------------------


def sine_sample(T: int, period: float = 20.0, noise: float = 0.1, seed: int = 0,
                batch: int | None = None) -> Sample:
    """A sine wave with Gaussian noise and a random phase; the target is the next value (MSE)."""
    T = _check_T(T)
    batch_ = _check_batch(batch)
    if not (np.isfinite(period) and period > 0):
        raise ValueError(f"period must be a positive number, got {period!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    B = batch_ or 1
    phase = rng.uniform(0, 2 * np.pi, B)
    steps = np.arange(T + 1)[:, None]
    wave = np.sin(2 * np.pi * steps / period + phase) + noise * rng.standard_normal((T + 1, B))
    xs, targets = wave[:-1, :, None], wave[1:, :, None]  # (T, B, 1) each
    mask = np.ones(T, dtype=bool)
    xs, targets = _squeeze(batch_, xs, targets)
    return Sample("sine", xs, targets, mask, "mse", 1)


def noise_sample(T: int, input_size: int = 1, scale: float = 1.0, seed: int = 0,
                 batch: int | None = None) -> Sample:
    """Gaussian noise inputs; the target at the last step is x_1 (a pure memory probe, MSE)."""
    T = _check_T(T)
    batch_ = _check_batch(batch)
    input_size = _check_T(input_size, name="input_size")
    if not (np.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale must be a number >= 0, got {scale!r}")
    rng = np.random.default_rng(seed)
    xs = scale * rng.standard_normal((T, batch_ or 1, input_size))
    targets = np.broadcast_to(xs[:1], xs.shape).copy()  # every row holds x_1
    mask = np.zeros(T, dtype=bool)
    mask[-1] = True
    xs, targets = _squeeze(batch_, xs, targets)
    return Sample("noise", xs, targets, mask, "mse", input_size)


# --- long-dependency tasks -------------------------------------------------------------------


def adding_sample(T: int, seed: int = 0, batch: int | None = None) -> Sample:
    """The adding problem: report the mean of the two marked values at the last step."""
    T = _check_T(T, minimum=10)
    batch_ = _check_batch(batch)
    B = batch_ or 1
    rng = np.random.default_rng(seed)
    first = rng.integers(0, int(0.1 * T), B)  # in the first 10%
    second = rng.integers(int(0.1 * T), int(0.5 * T), B)  # in the next 40%
    xs = np.zeros((T, B, 2))
    xs[:, :, 1] = rng.uniform(size=(T, B))  # values
    seqs = np.arange(B)
    xs[first, seqs, 0] = 1.0  # markers
    xs[second, seqs, 0] = 1.0
    total = (xs[first, seqs, 1] + xs[second, seqs, 1]) / 2.0  # (B,)
    targets = np.zeros((T, B, 1))
    targets[-1, :, 0] = total
    mask = np.zeros(T, dtype=bool)
    mask[-1] = True
    xs, targets = _squeeze(batch_, xs, targets)
    return Sample("adding", xs, targets, mask, "mse", 1, vocab=("marker", "value"))


TEMPORAL_SYMBOLS = ("A", "B", "c", "d", "e", "f")  # the target class is first + 2 * second (A = 0, B = 1)
TEMPORAL_CLASSES = ("AA", "BA", "AB", "BB")  # class k: the two symbols in the order they came


def temporal_order_sample(T: int, seed: int = 0, batch: int | None = None) -> Sample:
    """The temporal order problem: classify the order of two A/B symbols among distractors."""
    T = _check_T(T, minimum=10)
    batch_ = _check_batch(batch)
    B = batch_ or 1
    rng = np.random.default_rng(seed)
    span = max(int(0.1 * T), 1)
    p0 = rng.integers(0, span, B) + int(0.1 * T)  # in [0.1T, 0.2T)
    p1 = rng.integers(0, span, B) + int(0.5 * T)  # in [0.5T, 0.6T)
    v0, v1 = rng.integers(0, 2, B), rng.integers(0, 2, B)
    symbols = rng.integers(2, 6, (T, B))  # distractors c, d, e, f
    seqs = np.arange(B)
    symbols[p0, seqs] = v0
    symbols[p1, seqs] = v1
    xs = np.eye(6)[symbols]  # (T, B, 6)
    targets = np.zeros((T, B), dtype=np.int64)
    targets[-1] = v0 + 2 * v1
    mask = np.zeros(T, dtype=bool)
    mask[-1] = True
    tokens = tuple(TEMPORAL_SYMBOLS[s] for s in symbols[:, 0]) if batch_ is None else None
    xs, targets = _squeeze(batch_, xs, targets)
    return Sample("temporal_order", xs, targets, mask, "xent", 4, tokens, TEMPORAL_SYMBOLS, classes=TEMPORAL_CLASSES)


def memorisation_sample(delay: int, n_values: int = 5, n_pos: int = 10, seed: int = 0,
                        batch: int | None = None) -> Sample:
    """Delayed recall (copy): show n_pos symbols, wait, and repeat them after the marker.

    T = delay + 2 * n_pos. Inputs have n_values + 2 channels (symbols, blank, marker); targets
    have n_values + 1 classes (symbols, blank).
    """
    delay = _check_T(delay, minimum=0, name="delay")
    n_values = _check_T(n_values, minimum=2, name="n_values")
    n_pos = _check_T(n_pos, minimum=1, name="n_pos")
    batch_ = _check_batch(batch)
    B = batch_ or 1
    T = delay + 2 * n_pos
    blank, marker = n_values, n_values + 1
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, n_values, (n_pos, B))
    inputs = np.full((T, B), blank)
    inputs[:n_pos] = symbols
    inputs[delay + n_pos] = marker
    xs = np.eye(n_values + 2)[inputs]  # (T, B, n_values + 2)
    targets = np.full((T, B), blank, dtype=np.int64)
    targets[-n_pos:] = symbols
    mask = np.ones(T, dtype=bool)
    names = (*(str(k) for k in range(n_values)), "_", ">")
    tokens = tuple(names[s] for s in inputs[:, 0]) if batch_ is None else None
    xs, targets = _squeeze(batch_, xs, targets)
    return Sample("memorisation", xs, targets, mask, "xent", n_values + 1, tokens, names, classes=names[:-1])


TRAIN_TEXT = "the quick brown fox jumps over the lazy dog. "
ALICE_TEXT = (Path(__file__).parent / "texts" / "alice.txt").read_text(encoding="utf-8")
# ^ from Lewis Carroll, "Alice's Adventures in Wonderland" (1865; public domain: published over 150
#   years ago, its author died in 1898): the first paragraphs of chapter I, "How doth the little
#   crocodile" (chapter II) and "You are old, Father William" (chapter V), in ASCII quotes and
#   dashes, the prose wrapped at 66 columns as a plain-text edition is.
ALICE_VOCAB = tuple(sorted(set(ALICE_TEXT)))  # its 51 distinct characters


def text_windows_sample(T: int, seed: int = 0, batch: int | None = None) -> Sample:
    """Windows of T characters of TRAIN_TEXT (repeated) from random starts, one-hot, predicting
    the next character at every step (each window reads one character past its end)."""
    T = _check_T(T)
    batch_ = _check_batch(batch)
    text = TRAIN_TEXT * (T // len(TRAIN_TEXT) + 3)
    starts = np.random.default_rng(seed).integers(0, len(TRAIN_TEXT), batch_ or 1)
    return _windows("text", text, tuple(sorted(set(TRAIN_TEXT))), starts, T, batch_)


def alice_windows_sample(T: int, seed: int = 0, batch: int | None = None) -> Sample:
    """Windows of T characters of ALICE_TEXT from random starts (each window wholly inside the
    text, reading one character past its end), predicting the next character at every step."""
    T = _check_T(T, maximum=len(ALICE_TEXT) - 1)
    batch_ = _check_batch(batch)
    starts = np.random.default_rng(seed).integers(0, len(ALICE_TEXT) - T, batch_ or 1)
    return _windows("alice", ALICE_TEXT, ALICE_VOCAB, starts, T, batch_)


def _windows(name: str, text: str, vocab: tuple[str, ...], starts: np.ndarray, T: int, batch: int | None) -> Sample:
    """One-hot windows text[s : s + T] (T, B, V) with the next characters as targets (T, B)."""
    index = {ch: k for k, ch in enumerate(vocab)}
    ids = np.array([index[ch] for ch in text])
    windows = np.stack([ids[s : s + T + 1] for s in starts], axis=1)  # (T + 1, B)
    xs = np.eye(len(vocab))[windows[:-1]]  # (T, B, V)
    tokens = tuple(vocab[k] for k in windows[:-1, 0]) if batch is None else None
    xs, targets = _squeeze(batch, xs, windows[1:])
    return Sample(name, xs, targets, np.ones(T, dtype=bool), "xent", len(vocab), tokens, vocab, classes=vocab)


def alice_sample() -> Sample:
    """The whole of ALICE_TEXT as one sequence, read from its first character to its last."""
    starts = np.zeros(1, dtype=np.int64)
    return _windows("alice", ALICE_TEXT, ALICE_VOCAB, starts, len(ALICE_TEXT) - 1, None)


# --- bracket depth ---------------------------------------------------------------------------

BRACKET_SYMBOLS = ("(", ")", "a", "b", "c")  # the input channels: brackets and filler letters
MAX_DEPTH = 6  # the deepest nesting a bracket string reaches; the classes are depths 0..MAX_DEPTH
DEPTH_CLASSES = tuple(str(d) for d in range(MAX_DEPTH + 1))


def brackets_sample(T: int, seed: int = 0, batch: int | None = None) -> Sample:
    """Bracket depth: T characters of ( ) a b c, the target at each step the depth after it.

    Each character is a letter with probability 0.3, else ( or ) with even odds, except that
    depth 0 forces ( and MAX_DEPTH forces ): a bracket string that is always valid so far.
    """
    T = _check_T(T)
    batch_ = _check_batch(batch)
    B = batch_ or 1
    rng = np.random.default_rng(seed)
    letter = rng.random((T, B)) < 0.3
    which_letter = rng.integers(2, 5, (T, B))  # a, b, c
    opens = rng.random((T, B)) < 0.5
    symbols = np.empty((T, B), dtype=np.int64)
    depth = np.zeros((T, B), dtype=np.int64)
    d = np.zeros(B, dtype=np.int64)
    for t in range(T):  # each step's choice depends on the depth so far
        bracket = np.where(d == 0, 0, np.where(d == MAX_DEPTH, 1, np.where(opens[t], 0, 1)))
        symbols[t] = np.where(letter[t], which_letter[t], bracket)
        d = d + (symbols[t] == 0) - (symbols[t] == 1)
        depth[t] = d
    return _bracket_sample(symbols, depth, batch_)


def brackets_from_text(text: str) -> Sample:
    """A typed string of ( ) a b c as a bracket-depth sample; a ) with nothing open, or nesting
    deeper than MAX_DEPTH, is an error naming the position."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    if not 1 <= len(text) <= MAX_TEXT_LENGTH:
        raise ValueError(f"text must have 1 to {MAX_TEXT_LENGTH} characters, got {len(text)}")
    unknown = sorted(set(text) - set(BRACKET_SYMBOLS))
    if unknown:
        raise ValueError(f"text may hold only {' '.join(BRACKET_SYMBOLS)}; it has {' '.join(map(repr, unknown[:10]))}")
    symbols = np.array([BRACKET_SYMBOLS.index(ch) for ch in text])  # (T,)
    depth = np.cumsum((symbols == 0).astype(np.int64) - (symbols == 1))  # (T,)
    for t, d in enumerate(depth):
        if d < 0:
            raise ValueError(f"character {t + 1} of the text closes a bracket that was never opened")
        if d > MAX_DEPTH:
            raise ValueError(f"character {t + 1} of the text nests {d} deep; the model knows depths 0 to {MAX_DEPTH}")
    return _bracket_sample(symbols[:, None], depth[:, None], None)


def _bracket_sample(symbols: np.ndarray, depth: np.ndarray, batch: int | None) -> Sample:
    """symbols (T, B) indices into BRACKET_SYMBOLS, depth (T, B) after each one -> a Sample."""
    T = symbols.shape[0]
    xs = np.eye(len(BRACKET_SYMBOLS))[symbols]  # (T, B, 5)
    tokens = tuple(BRACKET_SYMBOLS[s] for s in symbols[:, 0]) if batch is None else None
    xs, targets = _squeeze(batch, xs, depth)
    return Sample("brackets", xs, targets, np.ones(T, dtype=bool), "xent", MAX_DEPTH + 1, tokens, BRACKET_SYMBOLS,
                  classes=DEPTH_CLASSES)


def _delayed_recall(T: int, seed: int = 0, batch: int | None = None) -> Sample:
    """Delayed recall of 5 symbols in T steps: the delay is T - 10."""
    return memorisation_sample(delay=T - 10, n_pos=5, seed=seed, batch=batch)


# --- the registries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """A task: what the task controls offer and what they run."""

    key: str  # the URL value, e.g. "adding"
    label: str
    min_length: int  # the shortest T the task is defined for
    sample: Callable[..., Sample]  # (T, seed=0, batch=None) -> Sample of T steps (B sequences)
    in_scenario: bool = True  # offered as the shared scenario's task input; the text tasks are not,
    #                           the scenario takes free text as an input of its own
    encode: Callable[[str], Sample] | None = None  # a typed text as this task's input and targets
    #                                                (characters outside the task's inputs: ValueError)


TASKS: Registry[Task] = Registry("task", [
    Task("adding", "Adding problem", 10, adding_sample),
    Task("temporal_order", "Temporal order", 10, temporal_order_sample),
    Task("memorisation", "Delayed recall", 10, _delayed_recall),
    Task("text", "Next character of a text", 1, text_windows_sample, in_scenario=False,
         encode=lambda text: text_in_vocab(text, sorted(set(TRAIN_TEXT)))),
    Task("alice", "Next character of Alice in Wonderland", 1, alice_windows_sample, in_scenario=False,
         encode=lambda text: text_in_vocab(text, ALICE_VOCAB, name="alice")),
    Task("brackets", "Bracket depth", 1, brackets_sample, encode=brackets_from_text),
])


def task_sample(task: str, length: int, seed: int = 0, batch: int | None = None) -> Sample:
    """The task's sample with T = length, or the task's minimum length if that is longer."""
    entry = TASKS[task]
    return entry.sample(max(length, entry.min_length), seed=seed, batch=batch)


@dataclass(frozen=True)
class Source:
    """An input of the shared scenario: one sequence from the scenario's controls."""

    key: str  # the URL value, e.g. "sine"
    label: str
    sample: Callable[..., Sample]  # (*, text, length, seed, task) -> Sample of one sequence
    typed: bool = False  # its steps are the characters of a text the user typed: pages draw them as text


SOURCES: Registry[Source] = Registry("source", [
    Source("text", "Free text", lambda *, text, length, seed, task: text_sample(text), typed=True),
    Source("sine", "Sine wave", lambda *, text, length, seed, task: sine_sample(length, seed=seed)),
    Source("noise", "Gaussian noise", lambda *, text, length, seed, task: noise_sample(length, seed=seed)),
    Source("task", "Task sample", lambda *, text, length, seed, task: task_sample(task, length, seed=seed)),
])
