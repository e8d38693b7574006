"""What the gradient pages show, computed from a Trace and a Backward: norms, Jacobians, spectra.

Everything here is derived from the engine's results. Where a cell's math is needed (its local
derivatives, its step Jacobians, one step of carrying gradient rows back), it comes from the
cell's own section of cells.py, through cells.KINDS: nothing here re-derives an equation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cells import KINDS
from .engine import Backward, Trace
from .numerics import row_norms


def hidden_grad_norms(backward: Backward) -> np.ndarray:
    """(T,) ||dL/dh_t|| for every t (2-norm over units; over units and sequences for a batch)."""
    dh = backward.dh
    return row_norms(dh.reshape(dh.shape[0], -1))


def cell_grad_norms(backward: Backward) -> np.ndarray | None:
    """(T,) ||dL/dc_t|| for a cell with a cell state, else None."""
    dc = backward.dc
    return None if dc is None else row_norms(dc.reshape(dc.shape[0], -1))


# --- per-step Jacobians -------------------------------------------------------------------------


def step_jacobian(kind: str, params, trace: Trace, t: int) -> dict[str, np.ndarray]:
    """The Jacobian of step t (1-based) of one sequence: how the state at t-1 moves the state at t.

    Returns {"hh": dh_t/dh_{t-1} (H, H)} and for the LSTM also "hc" = dh_t/dc_{t-1},
    "ch" = dc_t/dh_{t-1} and "cc" = dc_t/dc_{t-1} (= diag(f_t)).
    """
    if not 1 <= t <= trace.T:
        raise ValueError(f"t must be in [1, {trace.T}], got {t!r}")
    return {name: block[0] for name, block in step_jacobians(kind, params, trace, np.array([t - 1])).items()}


def step_jacobians(kind: str, params, trace: Trace, steps: np.ndarray) -> dict[str, np.ndarray]:
    """Step Jacobians at the 0-based `steps`, all at once: name -> (n, H, H).

    Built by the cell's own step_jacobians (cells.py) from its local derivatives.
    """
    spec = KINDS[kind]
    return spec.step_jacobians(local_derivatives(trace), _blocks(spec, params), steps)


def _blocks(spec, params) -> np.ndarray:
    """weight_hh as (G, H, H): one block per gate."""
    w_hh = np.asarray(params["weight_hh"])
    H = w_hh.shape[1]
    return w_hh.reshape(spec.G, H, H)


def local_derivatives(trace: Trace) -> dict[str, np.ndarray]:
    """The per-step local derivatives the cell's backward loop uses (cells.py), from a trace."""
    return KINDS[trace.kind].local(trace.run, trace.h_prev, trace.c_prev, trace.nonlinearity)


@dataclass(frozen=True)
class JacobianNorms:
    """Spectral norms of Jacobians at the steps `t` of one sequence.

    A norm past float range is 0 or inf; NaN only where the Jacobian itself is not finite.
    """

    t: np.ndarray  # (K,) the 1-based steps evaluated (every step when T <= max_points)
    step: np.ndarray  # (K,) ||dh_t/dh_{t-1}||_2
    to_last: np.ndarray  # (K,) ||dh_T/dh_t||_2 (total, through every path; 1 at t = T)
    cell_to_last: np.ndarray | None  # (K,) ||dc_T/dc_t||_2 if asked for (cell state), else None


def jacobian_norms(kind: str, params, trace: Trace, max_points: int = 128, cell: bool = False) -> JacobianNorms:
    """Spectral norms of the step Jacobians and of dh_T/dh_t, at up to max_points steps.

    Row j of dh_T/dh_t is e_j^T dh_T/dh_t: exactly what BPTT carries back from a unit gradient
    on h_T. So the H rows are propagated backwards through every step with the same local
    derivatives as the cell's backward loop (its `rows`, cells.py), and no Jacobian is ever
    built; for a cell with a cell state the rows carry an h part and a c part (c_t held fixed
    in dh_T/dh_t, as in BPTT). SVDs are taken at evenly spaced steps only. With cell=True (a
    cell with a cell state) also dc_T/dc_t, at twice the cost.
    """
    if trace.h.ndim != 2:
        raise ValueError("jacobian_norms takes the trace of one sequence, not a batch")
    spec = KINDS[kind]
    T, H = trace.h.shape
    wanted = np.unique(np.linspace(1, T, min(T, max_points)).round().astype(int))  # 1-based
    loc = local_derivatives(trace)
    w_hh = np.asarray(params["weight_hh"])
    eye, zero = np.eye(H), np.zeros((H, H))
    to_last = _propagate_rows(spec, loc, w_hh, eye, zero if spec.has_cell_state else None, wanted, T)
    cell_to_last = None
    if spec.has_cell_state and cell:  # dc_T/dc_t: the rows of c_T, through the cell-state path and h alike
        cell_to_last = _propagate_rows(spec, loc, w_hh, zero, eye, wanted, T, read_cell=True)
    return JacobianNorms(
        t=wanted,
        step=_spectral_norms(step_jacobians(kind, params, trace, wanted - 1)["hh"]),
        to_last=to_last,
        cell_to_last=cell_to_last,
    )


RESCALE_EVERY = 4  # steps between renormalisations of the propagated rows


def _propagate_rows(spec, loc, w_hh, rows_h, rows_c, wanted, T, read_cell=False) -> np.ndarray:
    """Carry (H, H) gradient rows from step T back to step 1; spectral norms at `wanted` steps.

    The rows shrink or grow geometrically: dividing out their largest entry every few steps and
    keeping it in log_scale keeps them in float range (subnormals are ~100x slower too). The
    interval is one step until the per-step change is known to be below 1e20, then four.
    """
    H = w_hh.shape[1]
    keep = np.zeros(T + 1, dtype=bool)
    keep[wanted] = True
    saved, log_scales = [], []
    log_scale = 0.0
    every, since = 1, 0  # rescale interval (adaptive) and steps since the last rescale
    spread = np.empty((H, spec.G, H))  # each row spread over the gate blocks
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for t in range(T, 0, -1):  # the rows are d(out_T)/d(state_t)
            if keep[t]:
                saved.append(rows_c if read_cell else rows_h)
                log_scales.append(log_scale)
            if t == 1:
                break
            # across step t (0-based t - 1), whose Jacobian d state_t / d state_{t-1} we cross
            rows_h, rows_c = spec.rows(loc, t - 1, w_hh, rows_h, rows_c, spread)
            since += 1
            if since < every:
                continue
            peak = max(np.max(np.abs(rows_h)), np.max(np.abs(rows_c)) if rows_c is not None else 0.0)
            if np.isfinite(peak) and peak > 0:
                rows_h = rows_h / peak
                rows_c = None if rows_c is None else rows_c / peak
                log_scale += np.log(peak)
                # every step while one step can move the scale by more than 1e20, else every few
                every = RESCALE_EVERY if abs(np.log(peak)) / since < 46.0 else 1
            since = 0
    order = np.argsort(wanted)[::-1]  # saved from t = T downwards
    norms = np.empty(len(wanted))
    with np.errstate(over="ignore"):  # past float range the norm is honestly inf
        norms[order] = np.exp(np.array(log_scales)) * _spectral_norms(np.stack(saved))
    return norms


def _spectral_norms(mats: np.ndarray) -> np.ndarray:
    """(N,) largest singular value of each (N, n, n) matrix; NaN where a matrix is not finite."""
    out = np.full(mats.shape[0], np.nan)
    ok = np.isfinite(mats).all(axis=(1, 2))
    if ok.any():
        out[ok] = np.linalg.svd(mats[ok], compute_uv=False)[:, 0]
    return out


# --- where the weight gradient comes from -------------------------------------------------------


def weight_hh_contributions(trace: Trace, backward: Backward) -> dict[str, np.ndarray]:
    """Norm of each step's term in dL/dW_hh = sum_t dpre_h_t h_{t-1}^T, per gate block.

    Returns block -> (T,) ||dpre_h[block][t]|| * ||h_{t-1}|| (the Frobenius norm of an outer
    product is the product of the norms), plus "total": the norm of the full (G*H, H) term.
    """
    h_prev_norm = row_norms(trace.h_prev)  # (T,)
    with np.errstate(over="ignore", invalid="ignore"):
        out = {b: row_norms(d) * h_prev_norm for b, d in backward.dpre_h.items()}
    out["total"] = row_norms(np.stack(list(out.values()), axis=-1))  # the blocks' terms together
    return out


# --- the growth factor and its regime -----------------------------------------------------------


@dataclass(frozen=True)
class GrowthFit:
    """A straight-line fit of log ||dL/dh_t|| against the number of steps back, T - t."""

    factor: float  # per-step factor: ||dL/dh_{t-1}|| ~ factor * ||dL/dh_t||; NaN if unfit
    regime: str  # "vanishing", "stable", "exploding", or "undefined" (no finite, nonzero norms)
    steps_used: int  # how many steps entered the fit


def growth_fit(norms: np.ndarray, tol: float = 0.02) -> GrowthFit:
    """Fit the per-step growth factor of gradient norms (T,) going back in time; label the regime.

    Vanishing if the factor is below 1 - tol (shrinks by more than tol per step), exploding if
    above 1 + tol, stable otherwise. Zero and non-finite norms are left out of the fit.
    """
    norms = np.asarray(norms, dtype=float)
    back = np.arange(len(norms))[::-1].astype(float)  # T - t for t = 1..T
    ok = np.isfinite(norms) & (norms > 0)
    if ok.sum() < 2:
        return GrowthFit(factor=float("nan"), regime="undefined", steps_used=int(ok.sum()))
    slope = np.polyfit(back[ok], np.log(norms[ok]), 1)[0]
    factor = float(np.exp(slope))
    regime = "vanishing" if factor < 1 - tol else "exploding" if factor > 1 + tol else "stable"
    return GrowthFit(factor=factor, regime=regime, steps_used=int(ok.sum()))


CARRIED = (1e-2, 1e2)  # the fraction of the gradient that reaches t = 1: below, vanishing; above, exploding


@dataclass(frozen=True)
class Survival:
    """How much of the gradient at the last step reaches the first: the regime, named by what arrives."""

    fraction: float  # ||g_1|| / ||g_T||; NaN if undefined (a zero or non-finite end)
    factor: float  # the per-step factor: fraction ** (1 / (T - 1))
    regime: str  # "vanishing", "carried", "exploding", or "undefined"
    path: str  # which gradient: "h" (dL/dh_t), "c" (dL/dc_t, the LSTM's cell state) or "J" (||dh_T/dh_t||)


def survival(norms: np.ndarray, path: str = "h") -> Survival:
    """The fraction of a gradient that survives from the last step (norms[-1]) back to the first (norms[0]).

    Carried if between 1e-2 and 1e2 of it arrives (CARRIED), vanishing below, exploding above: the
    name says what reaches the start of the sequence, which is what decides whether a network can
    learn from it, whatever happens on the way.
    """
    norms = np.asarray(norms, dtype=float)
    first, last = (float(norms[0]), float(norms[-1])) if norms.size else (np.nan, np.nan)
    if norms.size < 2 or not (np.isfinite(last) and last > 0) or np.isnan(first):
        return Survival(float("nan"), float("nan"), "undefined", path)
    with np.errstate(over="ignore", divide="ignore"):
        fraction = first / last
        factor = float(fraction ** (1.0 / (norms.size - 1))) if fraction > 0 else 0.0
    low, high = CARRIED
    regime = "vanishing" if fraction < low else "exploding" if fraction > high else "carried"
    return Survival(float(fraction), factor, regime, path)


def steps_until_below(norms: np.ndarray, fraction: float = 1e-6) -> int | None:
    """Fewest steps k back from T after which ||dL/dh_{T-k}|| < fraction * ||dL/dh_T||, or None."""
    norms = np.asarray(norms, dtype=float)
    final = norms[-1]
    if not np.isfinite(final) or final == 0:
        return None
    below = np.nonzero(norms[::-1] < fraction * final)[0]
    return int(below[0]) if below.size else None


# --- the recurrent weights themselves -----------------------------------------------------------


@dataclass(frozen=True)
class Spectrum:
    """Singular values (descending) and eigenvalues of one (H, H) block of W_hh."""

    singular_values: np.ndarray  # (H,)
    eigenvalues: np.ndarray  # (H,) complex

    @property
    def spectral_radius(self) -> float:
        return float(np.max(np.abs(self.eigenvalues)))


def weight_spectrum(kind: str, params) -> dict[str, Spectrum]:
    """block -> Spectrum of that (H, H) block of weight_hh (one block, "h", for the RNN)."""
    spec = KINDS[kind]
    return {
        name: Spectrum(np.linalg.svd(w, compute_uv=False), np.linalg.eigvals(w))
        for name, w in zip(spec.blocks, _blocks(spec, params), strict=True)
    }


# --- saturation -------------------------------------------------------------------------------


def saturation(trace: Trace, threshold: float = 0.1) -> dict[str, np.ndarray]:
    """Fraction of saturated units per step: activation -> (T,), plus "all" over every one.

    A unit is saturated when its activation's derivative is below `threshold` times that
    derivative's maximum (the cell's `slopes`, cells.py): |tanh'| < 0.1 means |tanh| > 0.95,
    sigmoid' < 0.025 means the gate is within 0.026 of 0 or 1; a ReLU unit with a <= 0 is dead,
    derivative 0. The activations are the gates, or the RNN's h.
    """
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    slopes = KINDS[trace.kind].activation_slopes(trace.run, trace.nonlinearity)
    T = trace.T
    out = {name: (slope < threshold).reshape(T, -1).mean(axis=1) for name, slope in slopes.items()}
    out["all"] = np.mean([out[name] for name in slopes], axis=0)
    return out
