"""The Backprop-through-time page's study: gradients through time, and why they vanish or explode.

A readout on the hidden states gives a loss (on the last step, or on every step); BPTT carries
its gradient back. The same input and seed run through one cell of every other kind too, so the
page can overlay RNN, LSTM and GRU. Trained weights (rnnviz.trained) bring their own readout, and
a gallery model is overlaid with the gallery's models trained the same way on the same task.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import analysis
from ..cells import KINDS, overlay_cells
from ..config import Config
from ..engine import Backward, backward_from_trace
from ..numerics import row_norms
from ..readout import ReadoutResult, init_readout, last_step_mask, readout_loss
from .step import StepStudy
from .step import build as build_step

LOSS_ON = {"last": "Last step only", "all": "Every step"}
TINY = 1e-6  # "the gradient from step t is below TINY of its final size after k steps"


@dataclass(frozen=True)
class CellGradients:
    """One cell's forward trace, loss and backward pass, with the gradient's summary."""

    scenario: StepStudy  # the cell's forward pass over the sample (what the Step page shows)
    readout: ReadoutResult
    backward: Backward
    h_norms: np.ndarray  # (T,) ||dL/dh_t||
    c_norms: np.ndarray | None  # (T,) ||dL/dc_t|| for a cell with a cell state
    fit: analysis.GrowthFit  # per-step factor of ||dL/dh_t|| going back, and its regime
    steps_to_tiny: int | None  # steps back until ||dL/dh_t|| < TINY * ||dL/dh_T||, or None
    exploded_at: int | None  # where the first pass to break broke (engine's nonfinite_step):
    #                          the forward pass's first non-finite step, else BPTT's latest
    exploded_in: str | None  # "forward" or "backward"

    @property
    def cell(self) -> str:
        return self.scenario.config.cell

    @property
    def reach(self) -> analysis.Survival:
        """What reaches t = 1 of the gradient at T: along h, or along the cell state c when that carries more."""
        h = analysis.survival(self.h_norms, "h")
        if self.c_norms is None:
            return h
        c = analysis.survival(self.c_norms, "c")
        return c if np.isnan(h.fraction) or (c.fraction > h.fraction) else h

    @property
    def loss_steps(self) -> np.ndarray:
        """(T,) bool: the steps where the loss applies (a gradient enters from the readout)."""
        dL_dh = self.readout.dL_dh
        return np.any(dL_dh.reshape(dL_dh.shape[0], -1) != 0, axis=1)

    @property
    def graph_nodes(self) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        """Each row of the unrolled graph: node -> (values (T, n), gradients dL/d(node) (T, n) or None)."""
        tr, back = self.scenario.trace, self.backward
        cell_state = {"c": (tr.c, back.dc)} if tr.c is not None else {}
        return {"x": (tr.xs, back.dxs), "h": (tr.h, back.dh), **cell_state, "y": (self.readout.y, None)}

    @property
    def edge_flows(self) -> dict[str, np.ndarray]:
        """(T,) size of the gradient flowing along each kind of edge of the unrolled graph at step t.

        "xh": into x_t, "hy": from the readout into h_t, and the cell's own (cells.py edge_grads):
        "hh" from h_t back into h_{t-1}; with a cell state "cc" c_t -> c_{t-1} (the highway),
        "ch" c_t's gates -> h_{t-1}, "hc" h_t -> c_t.
        """
        sc, back = self.scenario, self.backward
        spec = KINDS[sc.trace.kind]
        with np.errstate(over="ignore", invalid="ignore"):
            own = spec.edge_grads(sc.trace.run, back, np.asarray(sc.params["weight_hh"]))
        return {"xh": row_norms(back.dxs), "hy": row_norms(self.readout.dL_dh),
                **{edge: row_norms(g) for edge, g in own.items()}}


@dataclass(frozen=True)
class BpttStudy:
    """The main cell's gradients and why they behave so, plus the other cells for comparison."""

    main: CellGradients
    others: dict[str, CellGradients]  # cell key -> the same input and seed in that cell
    loss_on: str  # "last" or "all"
    jacobians: analysis.JacobianNorms  # ||dh_T/dh_t|| and ||dh_t/dh_{t-1}|| at sampled t
    contributions: dict[str, np.ndarray]  # block -> (T,) norm of step t's term of dL/dW_hh
    saturation: dict[str, np.ndarray]  # activation -> (T,) fraction of saturated units
    spectrum: dict[str, analysis.Spectrum]  # block -> singular values and eigenvalues of W_hh
    bound: np.ndarray | None  # (T,) Pascanu et al.'s bound on ||dL/dh_t||, where it bounds (gamma sigma_max < 1)
    gamma_sigma: float | None  # gamma * sigma_max(W_hh) for the RNN (Pascanu's per-step factor), else None
    saliency: np.ndarray  # (T,) ||dL/dx_t||

    @property
    def h_norms(self) -> dict[str, np.ndarray]:
        """cell -> (T,) ||dL/dh_t||: the overlays, then the main cell."""
        return {cell: cg.h_norms for cell, cg in (*self.others.items(), (self.main.cell, self.main))}

    @property
    def c_norms(self) -> dict[str, np.ndarray]:
        """cell -> (T,) ||dL/dc_t|| for the cells with a cell state, in the order of h_norms."""
        cells = (*self.others.items(), (self.main.cell, self.main))
        return {cell: cg.c_norms for cell, cg in cells if cg.c_norms is not None}

    @property
    def loss_on_label(self) -> str:
        return LOSS_ON[self.loss_on]

    @property
    def reach(self) -> analysis.Survival:
        """What reaches t = 1 of the main cell's gradient at T. With a loss on every step fresh gradient
        enters everywhere, so the ratio of the gradients says nothing: then it is ||dh_T/dh_1||, the most
        of a gradient at T that can arrive at t = 1 (path "J")."""
        if self.loss_on == "last":
            return self.main.reach
        return analysis.survival(self.jacobians.to_last, "J")

    @property
    def dead_units(self) -> float | None:
        """For a ReLU RNN, the mean fraction of units that are off (slope 0) at a step, else None."""
        if self.main.scenario.trace.nonlinearity != "relu" or KINDS[self.main.scenario.trace.kind].gates:
            return None
        return float(np.mean(self.saturation["all"]))


def loss_mask(sample, loss_on: str) -> np.ndarray:
    """(T,) where the loss applies: the last step, or every step that has a target (a text's
    last character has none: no loss against a placeholder)."""
    if loss_on not in LOSS_ON:
        raise ValueError(f"loss_on must be one of {tuple(LOSS_ON)}, got {loss_on!r}")
    return last_step_mask(sample.T) if loss_on == "last" else sample.target_mask


def cell_gradients(cfg: Config, loss_on: str = "last", trained=None) -> CellGradients:
    """Forward, readout loss and BPTT for one Config: a readout at PyTorch's initialisation for random
    weights, the network's own for trained ones (`trained`, or the gallery model cfg.weights names)."""
    sc = build_step(cfg, trained)
    if not cfg.trained:
        return gradients_with(sc, init_readout(cfg.hidden, sc.sample.n_out, seed=cfg.seed), loss_on)
    from ..trained import readout_for, resolve

    trained = trained if trained is not None and trained.key == cfg.weights else resolve(cfg)
    return gradients_with(sc, readout_for(trained, sc.sample, cfg.seed), loss_on)


def gradients_with(sc: StepStudy, readout, loss_on: str = "last") -> CellGradients:
    """Readout loss and BPTT for a forward pass already run (sc), with a given readout (O, H)."""
    tr, sample = sc.trace, sc.sample
    with np.errstate(over="ignore", invalid="ignore"):
        result = readout_loss(readout, np.nan_to_num(tr.h, nan=0.0, posinf=0.0, neginf=0.0),
                              sample.targets, loss_mask(sample, loss_on), sample.loss)
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


def build(cfg: Config, loss_on: str = "last", others: dict[str, CellGradients] | None = None,
          trained=None) -> BpttStudy:
    """The full study for cfg; `others` may pass precomputed overlays (e.g. from a cache).

    With trained weights the overlays are the gallery models trained the same way on the same task
    (partner_configs), never random cells: those say little next to a trained one.
    """
    main = cell_gradients(cfg, loss_on, trained)
    if others is None:
        configs = partner_configs(cfg) if cfg.trained else {c: cfg.with_(cell=c) for c in overlay_cells(cfg.cell)}
        others = {c: cell_gradients(other, loss_on) for c, other in configs.items()}
    return _study(main, others, loss_on)


def partner_configs(cfg: Config) -> dict[str, Config]:
    """cell -> the Config of each gallery model trained like cfg's (gallery.TRIO, or the entry's
    partner) on cfg's input; empty for weights outside the gallery."""
    from .. import gallery

    if cfg.weights not in gallery.GALLERY:
        return {}
    names = gallery.TRIO if cfg.weights in gallery.TRIO else [gallery.GALLERY[cfg.weights].partner]
    partners = [gallery.GALLERY[n] for n in names if n is not None and n != cfg.weights]
    return {e.recipe.cell: cfg.with_(weights=e.key, cell=e.recipe.cell, hidden=e.recipe.hidden) for e in partners}


def _study(main: CellGradients, others: dict[str, CellGradients], loss_on: str) -> BpttStudy:
    sc = main.scenario
    kind = sc.trace.kind
    gamma = KINDS[kind].gamma
    bound, gamma_sigma = None, None
    if gamma is not None:
        # Pascanu, Mikolov & Bengio (2013): ||dh_T/dh_t|| <= (gamma * sigma_max(W_hh))^(T-t), with
        # gamma bounding |phi'| (1 for tanh and relu); so ||dL/dh_t|| <= ||dL/dh_T|| (gamma sigma_max)^(T-t).
        # Above 1 the bound grows going back and says nothing about vanishing: it is drawn only below 1.
        (spectrum,) = analysis.weight_spectrum(kind, sc.params).values()  # the one block of W_hh
        gamma_sigma = gamma * float(spectrum.singular_values[0])
        if loss_on == "last" and gamma_sigma < 1.0:
            steps_back = np.arange(sc.T)[::-1]
            with np.errstate(over="ignore", under="ignore"):
                bound = main.h_norms[-1] * gamma_sigma ** steps_back.astype(float)
    return BpttStudy(
        main=main, others=others, loss_on=loss_on,
        jacobians=analysis.jacobian_norms(kind, sc.params, sc.trace, max_points=64),
        contributions=analysis.weight_hh_contributions(sc.trace, main.backward),
        saturation=analysis.saturation(sc.trace),
        spectrum=analysis.weight_spectrum(kind, sc.params),
        bound=bound, gamma_sigma=gamma_sigma,
        saliency=row_norms(main.backward.dxs),
    )
