"""Forward passes (Trace) and backprop through time (Backward) for RNN, LSTM and GRU.

This module checks inputs, computes the input projections for all steps at once, runs the
per-cell loops of cells.py, and packs results into frozen dataclasses of read-only arrays.
A single sequence xs (T, I) gives (T, H) results; a batch xs (T, B, I) gives (T, B, H).
Overflow never raises: `nonfinite_step` says where the numbers first stopped being finite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from . import cells
from .cells import BLOCKS, GATES, KINDS, NONLINEARITIES, PARAM_NAMES, _check_kind


@dataclass(frozen=True)
class Trace:
    """Everything the forward pass computes. Shapes for one sequence; a batch adds B after T."""

    kind: str
    nonlinearity: str
    xs: np.ndarray  # (T, I) inputs x_1..x_T
    h: np.ndarray  # (T, H) hidden states h_1..h_T
    c: np.ndarray | None  # (T, H) LSTM cell states c_1..c_T, else None
    h0: np.ndarray  # (H,) initial hidden state
    c0: np.ndarray | None  # (H,) initial LSTM cell state, else None
    gates: dict[str, np.ndarray]  # name -> (T, H) activations: LSTM i f g o, GRU r z n
    pre_x: dict[str, np.ndarray]  # block -> (T, H) input part  W_i* x_t + b_i*
    pre_h: dict[str, np.ndarray]  # block -> (T, H) recurrent part W_h* h_{t-1} + b_h*
    nonfinite_step: int | None  # first step t (1-based) whose h_t or c_t is inf/NaN, else None

    @property
    def T(self) -> int:
        return self.h.shape[0]

    @property
    def H(self) -> int:
        return self.h.shape[-1]

    @property
    def h_prev(self) -> np.ndarray:
        """(T, H): h_0..h_{T-1}, the state each step reads."""
        return np.concatenate([self.h0[None], self.h[:-1]])

    @property
    def c_prev(self) -> np.ndarray | None:
        """(T, H): c_0..c_{T-1} for the LSTM, else None."""
        return None if self.c is None else np.concatenate([self.c0[None], self.c[:-1]])

    @property
    def pre(self) -> dict[str, np.ndarray]:
        """block -> (T, H): the full pre-activation pre_x + pre_h (for GRU "n": pre_x + r*pre_h)."""
        out = {b: self.pre_x[b] + self.pre_h[b] for b in self.pre_x}
        if self.kind == "gru":
            out["n"] = self.pre_x["n"] + self.gates["r"] * self.pre_h["n"]
        return out


@dataclass(frozen=True)
class Backward:
    """Gradients of the loss from backprop through time. Shapes for one sequence."""

    dh: np.ndarray  # (T, H) total dL/dh_t, through every later step
    dc: np.ndarray | None  # (T, H) total dL/dc_t for the LSTM, else None
    dh0: np.ndarray  # (H,) dL/dh_0
    dc0: np.ndarray | None  # (H,) dL/dc_0 for the LSTM, else None
    dxs: np.ndarray  # (T, I) dL/dx_t
    params: dict[str, np.ndarray]  # dL/dparam, same keys and shapes as the params
    dpre_x: dict[str, np.ndarray]  # block -> (T, H) dL/d(input part of the pre-activation)
    dpre_h: dict[str, np.ndarray]  # block -> (T, H) dL/d(recurrent part); W_hh's grad sums
    #                                 outer(dpre_h[b][t], h_{t-1}) over t
    nonfinite_step: int | None  # the latest step t (1-based) whose dL/dh_t or dL/dc_t is
    #                             inf/NaN: where the backward pass first broke; else None


def forward(kind, params, xs, h0=None, c0=None, nonlinearity="tanh") -> Trace:
    """Run the cell over xs (T, I) or a batch (T, B, I); h0, c0 (H,) or (B, H), default zeros."""
    kind, nonlinearity, params, xs, h0, c0 = _check_inputs(
        kind, params, xs, h0, c0, nonlinearity
    )
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        run = _run_forward(kind, params, xs, h0, c0, nonlinearity)
        return _pack_trace(kind, nonlinearity, xs, h0, c0, run, params)


def bptt(kind, params, xs, dL_dh, h0=None, c0=None, nonlinearity="tanh", *, dL_dc_last=None) -> Backward:
    """Backprop through time. dL_dh (T, H) (or (T, B, H)): gradient reaching each h_t from outside.

    dL_dc_last (H,) (or (B, H)), LSTM only: a gradient reaching the last cell state c_T from
    outside. With a batch, parameter gradients are summed over the sequences.
    """
    kind, nonlinearity, params, xs, h0, c0 = _check_inputs(
        kind, params, xs, h0, c0, nonlinearity
    )
    expected = (*xs.shape[:-1], params["weight_hh"].shape[1])  # like h
    dL_dh = _as_float_array("dL_dh", dL_dh)
    if dL_dh.shape != expected:
        raise ValueError(f"dL_dh must have shape {expected} (like h), got {dL_dh.shape}")
    if dL_dc_last is not None:
        if kind != "lstm":
            raise ValueError(f"dL_dc_last applies to kind='lstm' only, got dL_dc_last for kind={kind!r}")
        dL_dc_last = _as_float_array("dL_dc_last", dL_dc_last)
        if dL_dc_last.shape != expected[1:]:
            raise ValueError(f"dL_dc_last must have shape {expected[1:]} (like c_T), got {dL_dc_last.shape}")
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        run = _run_forward(kind, params, xs, h0, c0, nonlinearity)
        back = _run_backward(kind, params, xs, h0, c0, nonlinearity, run, dL_dh, dL_dc_last)
    return _pack_backward(kind, back)


def loss_and_bptt(kind, params, xs, loss_of_h, h0=None, c0=None, nonlinearity="tanh"):
    """Forward, a loss on the hidden states, and BPTT in one pass, without building a Trace.

    loss_of_h(h) takes h (T, [B,] H) and returns (loss, dL_dh, extra). Returns
    (loss, Backward, extra, nonfinite_step) where nonfinite_step is the forward pass's. The lean
    path for training loops, which need gradients, not every intermediate of the forward pass.
    """
    kind, nonlinearity, params, xs, h0, c0 = _check_inputs(kind, params, xs, h0, c0, nonlinearity)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        run = _run_forward(kind, params, xs, h0, c0, nonlinearity)
        nonfinite_step = _first_nonfinite(run["h"], run["c"])
        loss, dL_dh, extra = loss_of_h(run["h"])
        back = _run_backward(kind, params, xs, h0, c0, nonlinearity, run, np.asarray(dL_dh, dtype=np.float64))
    return loss, _pack_backward(kind, back), extra, nonfinite_step


def backward_from_trace(params, trace: Trace, dL_dh) -> Backward:
    """bptt for a forward pass already run: the same gradients, without repeating the forward."""
    kind = trace.kind
    check_params(kind, params)
    params = {k: np.asarray(params[k], dtype=np.float64) for k in PARAM_NAMES}
    dL_dh = _as_float_array("dL_dh", dL_dh)
    if dL_dh.shape != trace.h.shape:
        raise ValueError(f"dL_dh must have shape {trace.h.shape} (like h), got {dL_dh.shape}")
    if kind == "rnn":
        run = {"h": trace.h, "pre": trace.pre["h"]}
    elif kind == "lstm":
        run = {"h": trace.h, "c": trace.c, "tanh_c": np.tanh(trace.c),
               "act": np.stack([trace.gates[g] for g in GATES[kind]], axis=-2)}
    else:
        run = {"h": trace.h, "act": np.stack([trace.gates[g] for g in GATES[kind]], axis=-2),
               "h_proj": np.concatenate([trace.pre_h[b] for b in BLOCKS[kind]], axis=-1)}
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        back = _run_backward(kind, params, trace.xs, trace.h0, trace.c0, trace.nonlinearity, run, dL_dh)
    return _pack_backward(kind, back)


# --- the two passes, on (T, I) or (T, B, I) alike --------------------------------------------------------


def _run_forward(kind, params, xs, h0, c0, nonlinearity) -> dict:
    """Forward on xs (T, [B,] I); returns a dict of (T, [B,] ...) arrays."""
    x_proj = xs @ params["weight_ih"].T + params["bias_ih"]  # (T, [B,] G*H), all steps at once
    w_hh, b_hh = params["weight_hh"], params["bias_hh"]
    if kind == "gru":
        act, h, h_proj = cells.gru_forward(x_proj, w_hh, b_hh, h0)
        return {"x_proj": x_proj, "h_proj": h_proj, "h": h, "act": act, "c": None}
    # RNN and LSTM add b_hh with the input part, before the loop; the recurrent part the
    # pages show (W_hh h_{t-1} + b_hh) is recomputed in _pack_trace, which bptt never calls.
    pre_in = x_proj + b_hh
    if kind == "rnn":
        pre, h = cells.rnn_forward(pre_in, w_hh, h0, nonlinearity)
        return {"x_proj": x_proj, "pre": pre, "h": h, "act": None, "c": None}
    act, c, tanh_c, h = cells.lstm_forward(pre_in, w_hh, h0, c0)
    return {"x_proj": x_proj, "h": h, "act": act, "c": c, "tanh_c": tanh_c}


def _run_backward(kind, params, xs, h0, c0, nonlinearity, run, dL_dh, dL_dc_last=None) -> dict:
    """BPTT; parameter gradients from the per-step pre-activation gradients."""
    I = xs.shape[-1]
    GH, H = params["weight_hh"].shape
    h_prev = np.concatenate([h0[None], run["h"][:-1]])  # (T, [B,] H)
    w_hh = params["weight_hh"]
    dc = dc0 = None
    if kind == "rnn":
        dh, dpre_x, dh0 = cells.rnn_backward(run["h"], run["pre"], w_hh, dL_dh, nonlinearity)
        dpre_h = dpre_x
    elif kind == "lstm":
        c_prev = np.concatenate([c0[None], run["c"][:-1]])
        dh, dc, dpre, dh0, dc0 = cells.lstm_backward(run["act"], c_prev, run["tanh_c"], w_hh, dL_dh, dL_dc_last)
        dpre_x = dpre_h = dpre.reshape(*dh.shape[:-1], GH)
    else:
        h_proj_n = run["h_proj"].reshape(*h_prev.shape[:-1], 3, H)[..., 2, :]  # W_hn h_{t-1} + b_hn
        dh, dpre_x, dpre_h, dh0 = cells.gru_backward(run["act"], h_prev, h_proj_n, w_hh, dL_dh)
        dpre_x, dpre_h = dpre_x.reshape(*dh.shape[:-1], GH), dpre_h.reshape(*dh.shape[:-1], GH)
    # The parameter gradients are sums over steps (and sequences) of outer products:
    # dW_ih = sum_t dpre_x[t] x_t^T, dW_hh = sum_t dpre_h[t] h_{t-1}^T; one matmul each.
    flat_x, flat_h = dpre_x.reshape(-1, GH), dpre_h.reshape(-1, GH)
    grads = {
        "weight_ih": flat_x.T @ xs.reshape(-1, I),
        "weight_hh": flat_h.T @ h_prev.reshape(-1, H),
        "bias_ih": flat_x.sum(axis=0),
        "bias_hh": flat_h.sum(axis=0),
    }
    dxs = dpre_x @ params["weight_ih"]  # (T, [B,] I)
    return {"dh": dh, "dc": dc, "dh0": dh0, "dc0": dc0, "dxs": dxs, "params": grads,
            "dpre_x": dpre_x, "dpre_h": dpre_h}


# --- packing results ------------------------------------------------------------------------


def _first_nonfinite(*arrays) -> int | None:
    """1-based index of the first step (axis 0) where any array has inf/NaN, else None."""
    bad = np.zeros(arrays[0].shape[0], dtype=bool)
    for a in arrays:
        if a is not None:
            bad |= ~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
    return int(np.argmax(bad)) + 1 if bad.any() else None


def _last_nonfinite(*arrays) -> int | None:
    """1-based index of the last step (axis 0) where any array has inf/NaN, else None."""
    bad = np.zeros(arrays[0].shape[0], dtype=bool)
    for a in arrays:
        if a is not None:
            bad |= ~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
    return int(len(bad) - np.argmax(bad[::-1])) if bad.any() else None


def _frozen(a):
    """A contiguous, read-only copy-or-view for the result dataclasses."""
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def _split_blocks(flat, kind) -> dict[str, np.ndarray]:
    """(T, [B,] G*H) -> block name -> (T, [B,] H)."""
    G = len(BLOCKS[kind])
    blocks = flat.reshape(*flat.shape[:-1], G, flat.shape[-1] // G)
    return {name: _frozen(blocks[..., k, :]) for k, name in enumerate(BLOCKS[kind])}


def _pack_trace(kind, nonlinearity, xs, h0, c0, run, params) -> Trace:
    act = run["act"]
    h_proj = run.get("h_proj")  # the GRU's loop keeps it; for the others, one matmul here
    if h_proj is None:
        h_proj = np.concatenate([h0[None], run["h"][:-1]]) @ params["weight_hh"].T + params["bias_hh"]
    gates = {name: _frozen(act[..., k, :]) for k, name in enumerate(GATES[kind])}
    return Trace(
        kind=kind,
        nonlinearity=nonlinearity,
        xs=_frozen(xs),
        h=_frozen(run["h"]),
        c=_frozen(run["c"]),
        h0=_frozen(h0),
        c0=_frozen(c0),
        gates=gates,
        pre_x=_split_blocks(run["x_proj"], kind),
        pre_h=_split_blocks(h_proj, kind),
        nonfinite_step=_first_nonfinite(run["h"], run["c"]),
    )


def _pack_backward(kind, back) -> Backward:
    return Backward(
        dh=_frozen(back["dh"]),
        dc=_frozen(back["dc"]),
        dh0=_frozen(back["dh0"]),
        dc0=_frozen(back["dc0"]),
        dxs=_frozen(back["dxs"]),
        params={name: _frozen(g) for name, g in back["params"].items()},
        dpre_x=_split_blocks(back["dpre_x"], kind),
        dpre_h=_split_blocks(back["dpre_h"], kind),
        nonfinite_step=_last_nonfinite(back["dh"], back["dc"]),
    )


# --- input checks -----------------------------------------------------------------------------


def _as_float_array(name, value) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of numbers, got {type(value).__name__}") from err


def check_params(kind, params) -> tuple[int, int]:
    """Validate a parameter dict for `kind`; returns (input_size, hidden_size)."""
    _check_kind(kind)
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of arrays, got {type(params).__name__}")
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; expected keys {list(PARAM_NAMES)}")
    w_ih, w_hh = np.shape(params["weight_ih"]), np.shape(params["weight_hh"])
    if len(w_hh) != 2 or len(w_ih) != 2:
        raise ValueError(
            f"params['weight_ih'] and params['weight_hh'] must be 2-D, got shapes {w_ih} and {w_hh}"
        )
    G, H, I = len(BLOCKS[kind]), w_hh[1], w_ih[1]
    expected = {"weight_ih": (G * H, I), "weight_hh": (G * H, H), "bias_ih": (G * H,),
                "bias_hh": (G * H,)}
    for name, shape in expected.items():
        got = np.shape(params[name])
        if got != shape:
            raise ValueError(
                f"params[{name!r}] must have shape {shape} for kind={kind!r} with H={H}, "
                f"I={I}, got {got}"
            )
        if not np.all(np.isfinite(params[name])):
            raise ValueError(f"params[{name!r}] contains inf or NaN; expected finite weights")
    return I, H


def _check_inputs(kind, params, xs, h0, c0, nonlinearity):
    """Validate and normalise to float64 arrays: xs (T, [B,] I), h0 and c0 ([B,] H)."""
    _check_kind(kind)
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    I, H = check_params(kind, params)
    params = {k: np.asarray(params[k], dtype=np.float64) for k in PARAM_NAMES}
    xs = _as_float_array("xs", xs)
    if xs.ndim not in (2, 3):
        raise ValueError(f"xs must have shape (T, I) or (T, B, I), got {xs.shape}")
    if xs.shape[0] == 0:
        raise ValueError(f"xs must have at least one step (T >= 1), got T = 0 (shape {xs.shape})")
    if xs.shape[-1] != I:
        raise ValueError(f"xs must have {I} features in its last axis (input_size), got {xs.shape}")
    if not np.isfinite(xs).all():
        t = int(np.argmax(~np.isfinite(xs.reshape(xs.shape[0], -1)).all(axis=1))) + 1
        raise ValueError(f"xs contains NaN or inf (first at step t = {t}); expected finite inputs")
    if xs.ndim == 3 and xs.shape[1] == 0:
        raise ValueError(f"xs must hold at least one sequence, got batch size 0 (shape {xs.shape})")
    state_shape = (*xs.shape[1:-1], H)  # (H,) or (B, H)
    h0 = _initial_state("h0", h0, state_shape)
    if kind == "lstm":
        c0 = _initial_state("c0", c0, state_shape)
    elif c0 is not None:
        raise ValueError(f"c0 applies to kind='lstm' only, got c0 for kind={kind!r}")
    return kind, nonlinearity, params, xs, h0, c0


def _initial_state(name, value, shape) -> np.ndarray:
    """None -> zeros; (H,) is accepted for a batch too (the same state for every sequence)."""
    if value is None:
        return np.zeros(shape)
    value = _as_float_array(name, value)
    if value.shape != shape:
        if value.shape != shape[-1:]:
            allowed = " or ".join(str(s) for s in dict.fromkeys([shape[-1:], shape]))
            raise ValueError(f"{name} must have shape {allowed}, got {value.shape}")
        value = np.broadcast_to(value, shape)
    if not np.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or inf; expected a finite initial state")
    return np.array(value)  # a private copy: nothing the caller handed in is kept or changed


# --- gradient clipping (torch.nn.utils semantics) --------------------------------------------


def _grad_items(grads):
    if isinstance(grads, Mapping):
        return list(grads.items()), True
    if isinstance(grads, Sequence) or isinstance(grads, np.ndarray):
        return list(enumerate([grads] if isinstance(grads, np.ndarray) else grads)), False
    raise ValueError(f"grads must be a dict or a list of arrays, got {type(grads).__name__}")


def clip_grad_norm(grads, max_norm):
    """Like torch.nn.utils.clip_grad_norm_, without mutating: returns (clipped, total_norm).

    total_norm is the 2-norm over all arrays together, before clipping. Every array is
    multiplied by min(1, max_norm / (total_norm + 1e-6)); a non-finite total norm gives
    non-finite gradients, as in PyTorch (error_if_nonfinite=False).
    """
    if not np.isfinite(max_norm) or max_norm < 0:
        raise ValueError(f"max_norm must be a finite number >= 0, got {max_norm!r}")
    items, is_dict = _grad_items(grads)
    arrays = [np.asarray(g, dtype=np.float64) for _, g in items]
    with np.errstate(over="ignore", invalid="ignore"):
        total_norm = float(np.sqrt(sum(np.sum(a * a) for a in arrays))) if arrays else 0.0
        coef = min(max_norm / (total_norm + 1e-6), 1.0) if not np.isnan(total_norm) else np.nan
        clipped = [a * coef for a in arrays]
    if is_dict:
        return {k: c for (k, _), c in zip(items, clipped, strict=True)}, total_norm
    return clipped, total_norm


def clip_grad_value(grads, clip_value):
    """Like torch.nn.utils.clip_grad_value_, without mutating: every entry into [-v, v]."""
    if not np.isfinite(clip_value) or clip_value < 0:
        raise ValueError(f"clip_value must be a finite number >= 0, got {clip_value!r}")
    items, is_dict = _grad_items(grads)
    clipped = [np.clip(np.asarray(g, dtype=np.float64), -clip_value, clip_value) for _, g in items]
    if is_dict:
        return {k: c for (k, _), c in zip(items, clipped, strict=True)}
    return clipped


__all__ = ["KINDS", "Backward", "Trace", "bptt", "clip_grad_norm", "clip_grad_value", "forward"]
