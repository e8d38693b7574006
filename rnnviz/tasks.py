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
- text: windows of a fixed text, predicting the next character (cross-entropy on every step).
Every generator is seeded: the same arguments give the same sample.

TASKS is the registry of tasks (label, minimum length, and the one sample function that both
the shared scenario, one sequence, and training, mini-batches, call); SOURCES is the registry of
the shared scenario's inputs (free text, sine, noise, a task sample).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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

    @property
    def T(self) -> int:
        return self.xs.shape[0]

    @property
    def target_mask(self) -> np.ndarray:
        """(T,) bool: the steps whose targets are real, where any loss may apply (not placeholders)."""
        return np.ones(self.T, dtype=bool) if self.has_target is None else self.has_target


def _check_T(T, minimum=1, name="T"):
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {T!r}")
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
    return Sample("text", xs, targets, mask, "xent", len(vocab), tuple(text), vocab, has_target=mask)


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
    return Sample("temporal_order", xs, targets, mask, "xent", 4, tokens, TEMPORAL_SYMBOLS)


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
    return Sample("memorisation", xs, targets, mask, "xent", n_values + 1, tokens, names)


TRAIN_TEXT = "the quick brown fox jumps over the lazy dog. "


def text_windows_sample(T: int, seed: int = 0, batch: int | None = None) -> Sample:
    """Windows of T characters of TRAIN_TEXT (repeated) from random starts, one-hot, predicting
    the next character at every step (each window reads one character past its end)."""
    T = _check_T(T)
    batch_ = _check_batch(batch)
    text = TRAIN_TEXT * (T // len(TRAIN_TEXT) + 3)
    vocab = tuple(sorted(set(TRAIN_TEXT)))
    index = {ch: k for k, ch in enumerate(vocab)}
    ids = np.array([index[ch] for ch in text])
    starts = np.random.default_rng(seed).integers(0, len(TRAIN_TEXT), batch_ or 1)
    windows = np.stack([ids[s : s + T + 1] for s in starts], axis=1)  # (T + 1, B)
    xs = np.eye(len(vocab))[windows[:-1]]  # (T, B, V)
    tokens = tuple(vocab[k] for k in windows[:-1, 0]) if batch_ is None else None
    xs, targets = _squeeze(batch_, xs, windows[1:])
    return Sample("text", xs, targets, np.ones(T, dtype=bool), "xent", len(vocab), tokens, vocab)


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
    in_scenario: bool = True  # offered as the shared scenario's task input; the text task is not,
    #                           the scenario takes free text as an input of its own


TASKS: Registry[Task] = Registry("task", [
    Task("adding", "Adding problem", 10, adding_sample),
    Task("temporal_order", "Temporal order", 10, temporal_order_sample),
    Task("memorisation", "Delayed recall", 10, _delayed_recall),
    Task("text", "Next character of a text", 1, text_windows_sample, in_scenario=False),
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
