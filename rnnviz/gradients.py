"""Everything the Backprop-through-time page shows, for one configuration.

A readout on the hidden states gives a loss (on the last step, or on every step); BPTT carries
its gradient back. The same input and seed run through the other two cells too, so a page can
overlay RNN, LSTM and GRU. Nothing here imports Streamlit or Plotly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import analysis
from .cells import KINDS, overlay_cells
from .config import Config
from .engine import Backward, backward_from_trace
from .numerics import row_norms
from .readout import ReadoutResult, every_step_mask, init_readout, last_step_mask, readout_loss
from .scenario import Scenario, build_scenario

LOSS_ON = {"last": "Last step only", "all": "Every step"}
TINY = 1e-6  # "the gradient from step t is below TINY of its final size after k steps"


@dataclass(frozen=True)
class CellGradients:
    """One cell's forward trace, loss and backward pass, with the gradient's summary."""

    scenario: Scenario
    readout: ReadoutResult
    backward: Backward
    h_norms: np.ndarray  # (T,) ||dL/dh_t||
    c_norms: np.ndarray | None  # (T,) ||dL/dc_t|| for the LSTM
    fit: analysis.GrowthFit  # per-step factor of ||dL/dh_t|| going back, and its regime
    steps_to_tiny: int | None  # steps back until ||dL/dh_t|| < TINY * ||dL/dh_T||, or None
    exploded_at: int | None  # first step whose numbers were not finite (forward, then backward)
    exploded_in: str | None  # "forward" or "backward"

    @property
    def cell(self) -> str:
        return self.scenario.config.cell


@dataclass(frozen=True)
class GradientStudy:
    """The main cell's gradients and why they behave so, plus the other cells for comparison."""

    main: CellGradients
    others: dict[str, CellGradients]  # cell key -> the same input and seed in that cell
    loss_on: str  # "last" or "all"
    jacobians: analysis.JacobianNorms  # ||dh_T/dh_t|| and ||dh_t/dh_{t-1}|| at sampled t
    contributions: dict[str, np.ndarray]  # block -> (T,) norm of step t's term of dL/dW_hh
    saturation: dict[str, np.ndarray]  # block -> (T,) fraction of saturated units
    spectrum: dict[str, analysis.Spectrum]  # block -> singular values and eigenvalues of W_hh
    bound: np.ndarray | None  # (T,) Pascanu et al.'s bound on ||dL/dh_t|| (RNN, last-step loss)
    saliency: np.ndarray  # (T,) ||dL/dx_t||


def loss_mask(T: int, loss_on: str) -> np.ndarray:
    if loss_on not in LOSS_ON:
        raise ValueError(f"loss_on must be one of {tuple(LOSS_ON)}, got {loss_on!r}")
    return last_step_mask(T) if loss_on == "last" else every_step_mask(T)


def cell_gradients(cfg: Config, loss_on: str = "last") -> CellGradients:
    """Forward, readout loss and BPTT for one Config."""
    sc = build_scenario(cfg)
    tr, sample = sc.trace, sc.sample
    readout = init_readout(cfg.hidden, sample.n_out, seed=cfg.seed)
    with np.errstate(over="ignore", invalid="ignore"):
        result = readout_loss(readout, np.nan_to_num(tr.h, nan=0.0, posinf=0.0, neginf=0.0),
                              sample.targets, loss_mask(tr.T, loss_on), sample.loss)
    back = backward_from_trace(sc.params, tr, result.dL_dh)
    h_norms = analysis.hidden_grad_norms(back)
    exploded_at, exploded_in = tr.nonfinite_step, "forward" if tr.nonfinite_step else None
    if exploded_at is None and back.nonfinite_step is not None:
        exploded_at, exploded_in = back.nonfinite_step, "backward"
    return CellGradients(
        scenario=sc, readout=result, backward=back, h_norms=h_norms,
        c_norms=analysis.cell_grad_norms(back), fit=analysis.growth_fit(h_norms),
        steps_to_tiny=analysis.steps_until_below(h_norms, TINY),
        exploded_at=exploded_at, exploded_in=exploded_in,
    )


def gradient_study(cfg: Config, loss_on: str = "last", others: dict[str, CellGradients] | None = None) -> GradientStudy:
    """The full study for cfg; `others` may pass precomputed overlays (e.g. from a cache)."""
    main = cell_gradients(cfg, loss_on)
    if others is None:
        others = {c: cell_gradients(cfg.with_(cell=c), loss_on) for c in overlay_cells(cfg.cell)}
    sc = main.scenario
    kind = cfg.kind
    gamma = KINDS[kind].gamma
    bound = None
    if gamma is not None and loss_on == "last":
        # Pascanu, Mikolov & Bengio (2013): ||dh_T/dh_t|| <= (gamma * sigma_max(W_hh))^(T-t), with
        # gamma bounding |phi'| (1 for tanh and relu); so ||dL/dh_t|| <= ||dL/dh_T|| (gamma sigma_max)^(T-t).
        (spectrum,) = analysis.weight_spectrum(kind, sc.params).values()  # the one block of W_hh
        steps_back = np.arange(sc.T)[::-1]
        with np.errstate(over="ignore"):
            bound = main.h_norms[-1] * (gamma * float(spectrum.singular_values[0])) ** steps_back.astype(float)
    return GradientStudy(
        main=main, others=others, loss_on=loss_on,
        jacobians=analysis.jacobian_norms(kind, sc.params, sc.trace, max_points=64),
        contributions=analysis.weight_hh_contributions(sc.trace, main.backward),
        saturation=analysis.saturation(sc.trace),
        spectrum=analysis.weight_spectrum(kind, sc.params),
        bound=bound,
        saliency=row_norms(main.backward.dxs),
    )
