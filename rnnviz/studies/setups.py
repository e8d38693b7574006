"""The Setups page's study: the scenario's input through every input-output setup, and back.

One cell (the shared controls' cell, H, weights and input; one layer, one direction) run as
one-to-many, many-to-one, many-to-many and encoder-decoder (rnnviz.setups). The encoder of the
encoder-decoder has weights of its own, drawn like the cell's from the seed sequence (seed, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import tasks
from ..cells import CELLS, init_params
from ..config import Config
from ..readout import init_readout
from ..setups import SETUPS, SetupRun, run_setup
from .step import make_params, make_sample, step_labels

ENCODER_SEED = 1  # the encoder's weights: init_params(seed=[cfg.seed, ENCODER_SEED])


@dataclass(frozen=True)
class SetupsStudy:
    """Every setup of one scenario."""

    config: Config
    sample: tasks.Sample
    runs: dict[str, SetupRun]  # setup key -> its run, in SETUPS' order

    @property
    def step_labels(self) -> list[str]:
        """(T,) what each input step reads."""
        return step_labels(self.sample)

    def labels(self, key: str) -> list[str]:
        """(N,) the step labels of one setup's steps: the encoder-decoder reads the sequence twice."""
        labels = self.step_labels
        return labels * 2 if SETUPS[key].encoder else labels


def encoder_params(cfg: Config, input_size: int) -> dict[str, np.ndarray]:
    """The encoder's weights: the cell's init options, its own seed."""
    cell = CELLS[cfg.cell]
    radius = cfg.radius if cfg.init == "radius" else None
    forget = float(cfg.forget_bias) if cell.has_forget_gate and cfg.forget_bias != "default" else None
    return init_params(cell.kind, input_size, cfg.hidden, seed=[cfg.seed, ENCODER_SEED], spectral_radius=radius,
                       forget_bias=forget, **cell.init)


def build(cfg: Config) -> SetupsStudy:
    """Every setup over the scenario's input."""
    sample = make_sample(cfg)
    I = sample.xs.shape[-1]
    params, encoder = make_params(cfg, I), encoder_params(cfg, I)
    readout = init_readout(cfg.hidden, sample.n_out, seed=cfg.seed)
    runs = {key: run_setup(key, cfg.kind, params, sample.xs, readout, sample.targets, sample.loss,
                           has_target=sample.target_mask, encoder_params=encoder, nonlinearity=cfg.nonlinearity)
            for key in SETUPS}
    return SetupsStudy(cfg, sample, runs)
