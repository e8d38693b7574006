"""What the gradient pages show, computed from a Trace and a Backward: norms, Jacobians, spectra.

Everything here is derived from the engine's results; nothing re-derives the cell equations
except the per-step Jacobians, which are checked against autograd in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cells import BLOCKS, SIGMOID_BLOCKS
from .engine import Backward, Trace

REGIMES = ("vanishing", "stable", "exploding")


def hidden_grad_norms(backward: Backward) -> np.ndarray:
    """(T,) ||dL/dh_t|| for every t (2-norm over units; over units and sequences for a batch)."""
    dh = backward.dh
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sqrt(np.sum(dh.reshape(dh.shape[0], -1) ** 2, axis=1))


def cell_grad_norms(backward: Backward) -> np.ndarray | None:
    """(T,) ||dL/dc_t|| for the LSTM, else None."""
    if backward.dc is None:
        return None
    dc = backward.dc
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sqrt(np.sum(dc.reshape(dc.shape[0], -1) ** 2, axis=1))


# --- per-step Jacobians -------------------------------------------------------------------------


def step_jacobian(kind: str, params, trace: Trace, t: int) -> dict[str, np.ndarray]:
    """The Jacobian of step t (1-based) of one sequence: how the state at t-1 moves the state at t.

    Returns {"hh": dh_t/dh_{t-1} (H, H)} and for the LSTM also "hc" = dh_t/dc_{t-1},
    "ch" = dc_t/dh_{t-1} and "cc" = dc_t/dc_{t-1} (= diag(f_t)).
    """
    if not 1 <= t <= trace.T:
        raise ValueError(f"t must be in [1, {trace.T}], got {t!r}")
    return _step_jacobians(kind, params, trace, slice(t - 1, t))[0]


def _step_jacobians(kind, params, trace, steps: slice) -> list[dict[str, np.ndarray]]:
    """Jacobians for a range of 0-based steps, built from the trace's activations."""
    w_hh = np.asarray(params["weight_hh"])
    H = w_hh.shape[1]
    w = w_hh.reshape(len(BLOCKS[kind]), H, H)  # one (H, H) block per gate
    out = []
    for k in range(*steps.indices(trace.T)):
        if kind == "rnn":
            if trace.nonlinearity == "tanh":
                dphi = 1.0 - trace.h[k] ** 2
            else:
                dphi = (trace.pre["h"][k] > 0).astype(float)
            out.append({"hh": dphi[:, None] * w[0]})  # diag(phi'(a_t)) W_hh
        elif kind == "lstm":
            i, f, g, o = (trace.gates[n][k] for n in "ifgo")
            c_prev = trace.c0 if k == 0 else trace.c[k - 1]
            tanh_c = np.tanh(trace.c[k])
            # dc_t/dh_{t-1} = sum over i, f, g of diag(dc/d pre) W_block
            ch = ((g * i * (1 - i))[:, None] * w[0] + (c_prev * f * (1 - f))[:, None] * w[1]
                  + (i * (1 - g * g))[:, None] * w[2])
            dh_dc = o * (1 - tanh_c ** 2)  # h = o tanh(c)
            hh = (tanh_c * o * (1 - o))[:, None] * w[3] + dh_dc[:, None] * ch
            out.append({"hh": hh, "hc": np.diag(dh_dc * f), "ch": ch, "cc": np.diag(f)})
        else:
            r, z, n = (trace.gates[b][k] for b in "rzn")
            h_prev = trace.h0 if k == 0 else trace.h[k - 1]
            hn = trace.pre_h["n"][k]  # W_hn h_{t-1} + b_hn
            dn = (1 - n * n)[:, None] * (r[:, None] * w[2] + (hn * r * (1 - r))[:, None] * w[0])
            dz = (z * (1 - z))[:, None] * w[1]
            hh = np.diag(z) + (h_prev - n)[:, None] * dz + (1 - z)[:, None] * dn
            out.append({"hh": hh})
    return out


def _state_jacobian(kind, blocks) -> np.ndarray:
    """The full state Jacobian: (H, H) for RNN/GRU, (2H, 2H) over (h, c) for the LSTM."""
    if kind != "lstm":
        return blocks["hh"]
    return np.block([[blocks["hh"], blocks["hc"]], [blocks["ch"], blocks["cc"]]])


@dataclass(frozen=True)
class JacobianNorms:
    """Spectral norms of Jacobians along one sequence. NaN where numbers stopped being finite."""

    step: np.ndarray  # (T,) ||dh_t/dh_{t-1}||_2 of each step
    to_last: np.ndarray  # (T,) ||dh_T/dh_t||_2 (total, through every path; 1 at t = T)
    cell_to_last: np.ndarray | None  # (T,) LSTM ||dc_T/dc_t||_2, else None


def jacobian_norms(kind: str, params, trace: Trace, chunk: int = 128) -> JacobianNorms:
    """Spectral norms of the per-step Jacobians and of dh_T/dh_t for every t of one sequence.

    dh_T/dh_t is the product of state Jacobians J_T ... J_{t+1}, accumulated backwards; for the
    LSTM the state is (h, c) and dh_T/dh_t is its h-to-h block (c_t held fixed, as in BPTT).
    """
    if trace.h.ndim != 2:
        raise ValueError("jacobian_norms takes the trace of one sequence, not a batch")
    T, H = trace.h.shape
    step = np.empty(T)
    to_last = np.empty(T)
    cell_to_last = np.empty(T) if kind == "lstm" else None
    S = 2 * H if kind == "lstm" else H
    product = np.eye(S)  # d state_T / d state_t, starting at t = T
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for stop in range(T, 0, -chunk):  # chunks of steps, last to first
            start = max(stop - chunk, 0)
            jacs = _step_jacobians(kind, params, trace, slice(start, stop))
            products = np.empty((stop - start, S, S))
            for k in range(stop - 1, start - 1, -1):
                products[k - start] = product  # d state_T / d state_{k+1}
                product = product @ _state_jacobian(kind, jacs[k - start])
            step[start:stop] = _spectral_norms(np.stack([j["hh"] for j in jacs]))
            to_last[start:stop] = _spectral_norms(products[:, :H, :H])
            if cell_to_last is not None:
                cell_to_last[start:stop] = _spectral_norms(products[:, H:, H:])
    return JacobianNorms(step=step, to_last=to_last, cell_to_last=cell_to_last)


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
    h_prev_norm = np.linalg.norm(trace.h_prev, axis=-1)  # (T,)
    with np.errstate(over="ignore", invalid="ignore"):
        out = {b: np.linalg.norm(d, axis=-1) * h_prev_norm for b, d in backward.dpre_h.items()}
        out["total"] = np.sqrt(sum(v**2 for v in out.values()))
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
    w_hh = np.asarray(params["weight_hh"])
    H = w_hh.shape[1]
    blocks = w_hh.reshape(len(BLOCKS[kind]), H, H)
    return {
        name: Spectrum(np.linalg.svd(w, compute_uv=False), np.linalg.eigvals(w))
        for name, w in zip(BLOCKS[kind], blocks, strict=True)
    }


# --- saturation -------------------------------------------------------------------------------


def saturation(trace: Trace, threshold: float = 0.1) -> dict[str, np.ndarray]:
    """Fraction of saturated units per step: block -> (T,), plus "all" over every block.

    A unit is saturated when its activation's derivative is below `threshold` times that
    derivative's maximum: |tanh'| < 0.1 means |tanh| > 0.95, sigmoid' < 0.025 means the gate
    is within 0.026 of 0 or 1. For ReLU a unit with a <= 0 is dead: derivative 0.
    """
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    if trace.kind == "rnn":
        if trace.nonlinearity == "tanh":
            acts = {"h": (1 - trace.h ** 2) < threshold}
        else:
            acts = {"h": trace.pre["h"] <= 0}
    else:
        acts = {}
        for name, a in trace.gates.items():
            d = a * (1 - a) / 0.25 if name in SIGMOID_BLOCKS else 1 - a ** 2
            acts[name] = d < threshold
    T = trace.T
    out = {name: s.reshape(T, -1).mean(axis=1) for name, s in acts.items()}
    out["all"] = np.mean([out[name] for name in acts], axis=0)
    return out
