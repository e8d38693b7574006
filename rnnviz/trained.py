"""Weights a page runs instead of random ones: a gallery model, a user's file, or a run of this session.

A `Trained` is what the pages need of any trained recurrent cell: its weights as rnnviz.load_weights
reads them (params, readout, vocabulary), the cell it is, the task it learned (if rnnviz knows it),
one line saying what it was trained on, and the input that shows it best. `key` is its identity in
Config.weights and in the studies' cache keys: a gallery model's name, or a hash of a file's bytes or
of a run's weights ("upload-…", "run-…"), so two different weights never share a cached study.
`sample_for` turns the shared scenario's input controls into an input the network can read: typed
text through its vocabulary (or its task's encoding), a sample of its own task, or noise of its input
size; anything else is a ValueError saying what would work.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from . import gallery, tasks
from .cells import CELLS
from .config import Config
from .readout import init_readout
from .tasks import TASKS, Sample
from .training import TrainingRun
from .weights import LoadedWeights, load_weights


@dataclass(frozen=True, eq=False)
class Trained:
    """A trained cell with what the pages show about it (arrays read-only, float64)."""

    key: str  # Config.weights: a GALLERY key, "upload-<12 hex>" or "run-<12 hex>"
    origin: str  # "gallery", "upload" or "session"
    weights: LoadedWeights  # params (the engine's keys, layer 0 forward), readout (O, H) or None, vocab
    cell: str  # a key of CELLS
    task: str | None  # the TASKS key it was trained on, when rnnviz trained it
    title: str  # what it is: "An LSTM that counts brackets", "your file model.safetensors"
    trained_on: str  # one sentence: its cell and size, and what it was trained on (if rnnviz knows)
    best: dict  # the input controls (config.PARAMS names) that show it best
    watch: gallery.Watch | None = None  # the unit or gate to watch (gallery models)

    @property
    def hidden(self) -> int:
        return self.weights.hidden_size

    @property
    def params(self) -> dict[str, np.ndarray]:
        return self.weights.params

    @property
    def readout(self) -> dict[str, np.ndarray] | None:
        """weight_out (O, H) and bias_out (O,): layer 0 forward reads it only when the file has one layer
        and one direction (a readout of a stack reads the top layer's output)."""
        if self.weights.readout is None or self.weights.readout["weight_out"].shape[1] != self.hidden:
            return None
        return self.weights.readout

    @property
    def stacked(self) -> bool:
        """More than one layer or direction: Step through and Backprop show the whole stack, the single-cell
        views its layer 0, forward."""
        return self.weights.num_layers > 1 or self.weights.bidirectional

    @property
    def direction(self) -> str:
        """config.DIRECTIONS key of the file's stack."""
        return "bidirectional" if self.weights.bidirectional else "one-way"

    @property
    def stack_readout(self) -> dict[str, np.ndarray] | None:
        """The readout of the stack's output (O, D * H): the top layer's, every direction; None without one."""
        D = 2 if self.weights.bidirectional else 1
        readout = self.weights.readout
        return readout if readout is not None and readout["weight_out"].shape[1] == D * self.hidden else None


def from_gallery(name: str) -> Trained:
    """The gallery model `name` (a key of GALLERY)."""
    model = gallery.load(name)
    return Trained(model.key, "gallery", model.weights, model.cell, model.task, model.entry.title,
                   gallery.recipe_text(model.entry.recipe) + ".", model.input_values(), model.entry.watch)


def content_key(prefix: str, arrays: dict[str, np.ndarray], words=()) -> str:
    """prefix-<12 hex>: a hash of named arrays (names, shapes and float64 bytes) and of words (a vocabulary)."""
    digest = hashlib.sha256(json.dumps(list(words)).encode())
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name], dtype="<f8")
        digest.update(f"{name}{value.shape}".encode())
        digest.update(value.tobytes())
    return f"{prefix}-{digest.hexdigest()[:12]}"


def from_upload(data: bytes, name: str = "your file") -> Trained:
    """A user's file (the bytes of a .safetensors or .npz): ValueError naming the problem if rnnviz cannot use it."""
    weights = load_weights(data)
    cell = next(key for key, c in CELLS.items() if c.kind == weights.kind and c.nonlinearity == weights.nonlinearity)
    arrays = {**weights.stack, **(weights.readout or {})}
    key = content_key("upload", arrays, [weights.nonlinearity, *(weights.vocab or ())])
    best = ({"source": "text", "text": _vocab_text(weights.vocab)} if weights.vocab is not None
            else {"source": "noise", "length": 30, "seed": 0})
    return Trained(key, "upload", weights, cell, None, f"your file {name}",
                   f"{weights.describe()}; what it was trained on, only you know.", best)


def _vocab_text(vocab: list[str]) -> str:
    """A first input for a file with a vocabulary: its first entries, in order (at most 40 steps)."""
    return "".join(vocab[:40]) if all(len(v) == 1 for v in vocab) else vocab[0]


def from_run(run: TrainingRun, label: str) -> Trained:
    """A run trained on the Clipping-and-training page (its final weights and readout)."""
    cfg = run.config
    sample = tasks.task_sample(cfg.task, cfg.length)
    readout = {k: np.array(v, dtype=np.float64) for k, v in run.readout.items()}
    params = {k: np.array(v, dtype=np.float64) for k, v in run.params.items()}
    stack = {f"{k}_l0": v for k, v in params.items()}
    kind = CELLS[cfg.cell]
    weights = LoadedWeights(kind.kind, kind.nonlinearity, params, readout, list(sample.vocab or ()) or None, 1,
                            False, stack, params["weight_ih"].shape[1], cfg.hidden, file_format="run")
    # a task that reads typed text (next character, brackets) starts from one of its own samples, as text
    best = ({"source": "text", "text": "".join(sample.tokens)[:MAX_BEST_TEXT]} if TASKS[cfg.task].encode is not None
            else {"source": "task", "task": cfg.task, "length": cfg.length, "seed": 0})
    return Trained(content_key("run", params | readout), "session", weights, cfg.cell, cfg.task,
                   f"{label}, trained in this session", gallery.recipe_text(cfg) + ".", best)


MAX_BEST_TEXT = 120  # characters of a run's first input: enough to see it work, short enough to read


def sample_for(trained: Trained, cfg: Config) -> Sample:
    """The input the controls describe, in a form the network reads (inputs (T, I) of its input size)."""
    I = trained.weights.input_size
    if cfg.source == "text":
        if trained.task is not None and TASKS[trained.task].encode is not None:
            return TASKS[trained.task].encode(cfg.text)
        if trained.weights.vocab is not None:
            return tasks.text_in_vocab(cfg.text, trained.weights.vocab)
        raise ValueError(f"this network reads {_reads(trained)}, not typed text: choose another input")
    if cfg.source == "task":
        if trained.task is not None:
            return tasks.task_sample(trained.task, cfg.length, seed=cfg.seed)
        raise ValueError("rnnviz does not know which task this network learned: choose Gaussian noise or text")
    if cfg.source == "noise":
        return tasks.noise_sample(cfg.length, input_size=I, seed=cfg.seed)
    if cfg.source == "sine" and I == 1:
        return tasks.sine_sample(cfg.length, seed=cfg.seed)
    raise ValueError(f"this network reads {_reads(trained)}: choose another input")


def _reads(trained: Trained) -> str:
    if trained.task is not None:
        return f"{TASKS[trained.task].label} inputs"
    return f"vectors of {trained.weights.input_size} numbers"


def readout_for(trained: Trained, sample: Sample, seed: int = 0) -> dict[str, np.ndarray]:
    """The trained readout, or (a file without one, or whose outputs the task cannot score) one at
    PyTorch's initialisation, so the Backprop page still has a loss."""
    readout = trained.readout
    if readout is not None and readout["weight_out"].shape[0] == sample.n_out:
        return readout
    return init_readout(trained.hidden, sample.n_out, seed=seed)


def fitted(cfg: Config, trained: Trained) -> Config:
    """cfg with the network's own cell, size, layers and directions, and the controls that make random
    weights at their defaults (they do nothing here, so they must not split the cache)."""
    default = Config()
    return cfg.with_(cell=trained.cell, hidden=trained.hidden, weights=trained.key, init=default.init,
                     layers=trained.weights.num_layers, direction=trained.direction,
                     radius=default.radius, forget_bias=default.forget_bias, input_scale=default.input_scale,
                     task=trained.task or cfg.task)


def resolve(cfg: Config) -> Trained:
    """The Trained a Config's weights name, for the public ones (the gallery's); ValueError otherwise."""
    if cfg.weights in gallery.GALLERY:
        return from_gallery(cfg.weights)
    raise ValueError(f"weights must be random or one of the gallery's models ({', '.join(gallery.GALLERY)}), "
                     f"got {cfg.weights!r}: a file's or a run's weights live in the session that has them")
