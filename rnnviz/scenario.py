"""From a Config to everything a page draws: the input sample, the weights and the forward trace."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import tasks
from .cells import CELLS, init_params
from .config import Config
from .engine import Trace, forward


@dataclass(frozen=True)
class Scenario:
    """One configured run of a cell over one input sequence."""

    config: Config
    sample: tasks.Sample
    params: dict[str, np.ndarray]
    trace: Trace

    @property
    def T(self) -> int:
        return self.trace.T

    @property
    def step_labels(self) -> list[str]:
        """(T,) what each step reads: its character or symbol, else x_t's value(s)."""
        if self.sample.tokens is not None:
            return list(self.sample.tokens)
        xs = self.sample.xs
        return [", ".join(f"{v:.2f}" for v in row[:3]) + ("…" if len(row) > 3 else "") for row in xs]


def make_sample(cfg: Config) -> tasks.Sample:
    """The input sequence the controls describe, multiplied by the input scale."""
    sample = _raw_sample(cfg)
    if cfg.input_scale == 1.0:
        return sample
    return replace(sample, xs=sample.xs * cfg.input_scale)


def _raw_sample(cfg: Config) -> tasks.Sample:
    source = tasks.SOURCES[cfg.source]
    return source.sample(text=cfg.text, length=cfg.length, seed=cfg.seed, task=cfg.task)


def make_params(cfg: Config, input_size: int) -> dict[str, np.ndarray]:
    """The cell's weights, seeded, with W_hh rescaled if the controls ask for it."""
    cell = CELLS[cfg.cell]
    radius = cfg.radius if cfg.init == "radius" else None
    forget = float(cfg.forget_bias) if cell.has_forget_gate and cfg.forget_bias != "default" else None
    return init_params(cell.kind, input_size, cfg.hidden, seed=cfg.seed, spectral_radius=radius, forget_bias=forget,
                       **cell.init)


def build_scenario(cfg: Config) -> Scenario:
    """Sample, weights and forward trace for one Config."""
    sample = make_sample(cfg)
    params = make_params(cfg, sample.xs.shape[-1])
    trace = forward(cfg.kind, params, sample.xs, nonlinearity=cfg.nonlinearity)
    return Scenario(cfg, sample, params, trace)
