"""The Step-through page's study: from a Config to the input sample, the weights and the forward trace.

`build` makes the weights from the Config (seeded, PyTorch's initialisation); `build_with` runs
given weights (a gallery model's, a user's file) over a given sample, and with their readout also
gives what the network predicts at every step. `build_gallery` does that for a gallery model.
The Backprop-through-time study starts from the same study of each cell it compares.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .. import tasks
from ..cells import CELLS, Cell, init_params
from ..config import Config
from ..engine import Trace, forward
from ..readout import Prediction, predict


@dataclass(frozen=True)
class StepVector:
    """One vector of a step, with its values at every step: what the Step page draws."""

    key: str  # "x", "h_prev", "c_prev", a gate ("f"), "c", "a" (the RNN's pre-activation), "h"
    values: np.ndarray  # (T, n)
    bounded: bool  # True: a sigmoid gate, in [0, 1]; False: a signed value


@dataclass(frozen=True)
class StepStudy:
    """One configured run of a cell over one input sequence."""

    config: Config
    sample: tasks.Sample
    params: dict[str, np.ndarray]
    trace: Trace
    readout: dict[str, np.ndarray] | None = None  # a trained readout: weight_out (O, H), bias_out (O,)

    @property
    def T(self) -> int:
        return self.trace.T

    @property
    def prediction(self) -> Prediction | None:
        """What the trained readout predicts after every step (next character, recalled symbol, depth),
        or None without one that fits the input."""
        if self.readout is None:
            return None
        O = self.readout["weight_out"].shape[0]
        sample = self.sample
        classes = sample.classes if sample.classes is not None and len(sample.classes) == O else None
        if classes is None and sample.vocab is not None and len(sample.vocab) == O and sample.loss == "xent":
            classes = sample.vocab  # a language model's readout: the next token
        return predict(self.readout, self.trace.h, "xent" if classes is not None else "mse", classes)

    @property
    def cell(self) -> Cell:
        return CELLS[self.config.cell]

    @property
    def step_labels(self) -> list[str]:
        """(T,) what each step reads: its character or symbol, else x_t's value(s)."""
        return step_labels(self.sample)

    @property
    def text_tokens(self) -> list[str] | None:
        """(T,) the characters, when the input is a text the user typed; else None."""
        return list(self.sample.tokens) if tasks.SOURCES[self.config.source].typed else None

    @property
    def vectors(self) -> list[StepVector]:
        """The vectors of one step in reading order (cells.CellKind.step_vectors): inputs, gates, states."""
        spec, values = self.cell.spec, self._values()
        return [StepVector(key, values[key], key in spec.sigmoid_gates) for key in spec.step_vectors]

    @property
    def over_time(self) -> list[StepVector]:
        """h, then c (if the cell has one), then every gate: the rows of the heatmaps over time."""
        spec, values = self.cell.spec, self._values()
        keys = ["h", *(["c"] if spec.has_cell_state else []), *spec.gates]
        return [StepVector(key, values[key], key in spec.sigmoid_gates) for key in keys]

    def _values(self) -> dict[str, np.ndarray]:
        tr = self.trace
        return {"x": np.asarray(self.sample.xs, dtype=float), "h_prev": tr.h_prev, "c_prev": tr.c_prev,
                **tr.gates, "c": tr.c, "h": tr.h, **tr.saved}


def step_labels(sample: tasks.Sample) -> list[str]:
    """(T,) what each step of a sample reads: its character or symbol, else x_t's value(s)."""
    if sample.tokens is not None:
        return [tasks.visible_token(token) for token in sample.tokens]
    return [", ".join(f"{v:.2f}" for v in row[:3]) + ("…" if len(row) > 3 else "") for row in sample.xs]


def make_sample(cfg: Config) -> tasks.Sample:
    """The input sequence the controls describe, multiplied by the input scale."""
    source = tasks.SOURCES[cfg.source]
    sample = source.sample(text=cfg.text, length=cfg.length, seed=cfg.seed, task=cfg.task)
    if cfg.input_scale == 1.0:
        return sample
    return replace(sample, xs=sample.xs * cfg.input_scale)


def make_params(cfg: Config, input_size: int) -> dict[str, np.ndarray]:
    """The cell's weights, seeded, with W_hh rescaled if the controls ask for it."""
    cell = CELLS[cfg.cell]
    radius = cfg.radius if cfg.init == "radius" else None
    forget = float(cfg.forget_bias) if cell.has_forget_gate and cfg.forget_bias != "default" else None
    return init_params(cell.kind, input_size, cfg.hidden, seed=cfg.seed, spectral_radius=radius, forget_bias=forget,
                       **cell.init)


def build(cfg: Config, trained=None) -> StepStudy:
    """Sample, weights and forward trace for one Config.

    Trained weights (cfg.weights not random) come from `trained` (rnnviz.trained.Trained), or for
    a gallery model from its name.
    """
    if cfg.trained:
        from ..trained import fitted, resolve, sample_for  # trained.py imports this module's neighbours

        trained = trained if trained is not None and trained.key == cfg.weights else resolve(cfg)
        cfg = fitted(cfg, trained)
        return build_with(cfg, trained.params, sample_for(trained, cfg), trained.readout, trained.weights.nonlinearity)
    sample = make_sample(cfg)
    params = make_params(cfg, sample.xs.shape[-1])
    trace = forward(cfg.kind, params, sample.xs, nonlinearity=cfg.nonlinearity)
    return StepStudy(cfg, sample, params, trace)


def build_with(cfg: Config, params, sample: tasks.Sample, readout=None, nonlinearity: str | None = None) -> StepStudy:
    """Given weights over a given sample: params (the engine's keys) of cfg's cell, sample.xs (T, I).

    cfg names the cell (its kind and nonlinearity, unless `nonlinearity` says otherwise) and the
    input the sample came from (the pages' labels and text view); readout (O, H) is optional.
    """
    cell = CELLS[cfg.cell]
    H = np.shape(params["weight_hh"])[1]
    if H != cfg.hidden:
        raise ValueError(f"cfg.hidden must be the weights' hidden size {H}, got {cfg.hidden}")
    trace = forward(cell.kind, params, sample.xs, nonlinearity=nonlinearity or cell.nonlinearity)
    return StepStudy(cfg, sample, params, trace, readout)
