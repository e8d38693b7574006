"""Forward passes (Trace) and backprop through time (Backward) for RNN, LSTM and GRU.

This module checks inputs, computes the input projections for all steps at once, runs the
cell's loops (cells.KINDS[kind]), and packs results into frozen dataclasses of read-only arrays.
A single sequence xs (T, I) gives (T, H) results; a batch xs (T, B, I) gives (T, B, H).

Overflow never raises. `nonfinite_step`, on a Trace and on a Backward alike, is where that pass
broke: the first step, counting in the order the pass runs, at which a state it computes is inf
or NaN. The forward pass runs t = 1..T, so a Trace's is its first broken step (h_t or c_t); BPTT
runs t = T..1, so a Backward's is its latest broken step (dL/dh_t or dL/dc_t), and every
earlier step is usually broken too. None: every state is finite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .cells import KINDS, NONLINEARITIES, PARAM_NAMES, BackRun, CellKind, Run
from .numerics import global_norm, nonfinite_step


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
    act: np.ndarray  # (T, A, H) gate activations, stacked in the order of cells.KINDS[kind].gates
    #                  (A = 4 LSTM i f g o, 3 GRU r z n, 0 RNN); `gates` is the per-gate view
    x_proj: np.ndarray  # (T, G*H) input part of every pre-activation: W_ih x_t + b_ih
    h_proj: np.ndarray  # (T, G*H) recurrent part: W_hh h_{t-1} + b_hh
    saved: dict[str, np.ndarray]  # the rest the backward loop reads: RNN "a" (T, H) the full
    #                               pre-activation, LSTM "tanh_c" (T, H)
    nonfinite_step: int | None  # where the forward pass broke: the first t whose h_t or c_t is
    #                             inf/NaN (1-based), else None

    @property
    def T(self) -> int:
        return self.h.shape[0]

    @property
    def H(self) -> int:
        return self.h.shape[-1]

    @property
    def gates(self) -> dict[str, np.ndarray]:
        """gate -> (T, H) activations, views of act: LSTM i f g o, GRU r z n, RNN none."""
        return {name: self.act[..., k, :] for k, name in enumerate(KINDS[self.kind].gates)}

    @property
    def pre_x(self) -> dict[str, np.ndarray]:
        """block -> (T, H) input part of the pre-activation, W_i* x_t + b_i* (views of x_proj)."""
        return _split_blocks(self.x_proj, KINDS[self.kind])

    @property
    def pre_h(self) -> dict[str, np.ndarray]:
        """block -> (T, H) recurrent part, W_h* h_{t-1} + b_h* (views of h_proj)."""
        return _split_blocks(self.h_proj, KINDS[self.kind])

    @property
    def pre(self) -> dict[str, np.ndarray]:
        """block -> (T, H): the full pre-activation pre_x + pre_h; a block whose recurrent part
        a gate multiplies first (GRU "n") is pre_x + gate * pre_h."""
        gated, gates = KINDS[self.kind].gated_recurrence, self.gates
        px, ph = self.pre_x, self.pre_h
        return {b: px[b] + (gates[gated[b]] * ph[b] if b in gated else ph[b]) for b in px}

    @property
    def h_prev(self) -> np.ndarray:
        """(T, H): h_0..h_{T-1}, the state each step reads."""
        return _prev(self.h0, self.h)

    @property
    def c_prev(self) -> np.ndarray | None:
        """(T, H): c_0..c_{T-1} for the LSTM, else None."""
        return _prev(self.c0, self.c)

    @property
    def run(self) -> Run:
        """The forward loop's results, as the cell's backward loop and local derivatives read them."""
        return Run(h=self.h, act=self.act, c=self.c, h_proj=self.h_proj, saved=self.saved)


@dataclass(frozen=True)
class Backward:
    """Gradients of the loss from backprop through time. Shapes for one sequence."""

    kind: str
    dh: np.ndarray  # (T, H) total dL/dh_t, through every later step
    dc: np.ndarray | None  # (T, H) total dL/dc_t for the LSTM, else None
    dh0: np.ndarray  # (H,) dL/dh_0
    dc0: np.ndarray | None  # (H,) dL/dc_0 for the LSTM, else None
    dxs: np.ndarray  # (T, I) dL/dx_t
    params: dict[str, np.ndarray]  # dL/dparam, same keys and shapes as the params
    dx_proj: np.ndarray  # (T, G*H) dL/d(W_ih x_t + b_ih), every block
    dh_proj: np.ndarray  # (T, G*H) dL/d(W_hh h_{t-1} + b_hh); W_hh's gradient sums
    #                      outer(dh_proj[t], h_{t-1}) over t
    nonfinite_step: int | None  # where BPTT broke: the latest t whose dL/dh_t or dL/dc_t is
    #                             inf/NaN (1-based; BPTT runs t = T..1), else None

    @property
    def dpre_x(self) -> dict[str, np.ndarray]:
        """block -> (T, H) dL/d(input part of the pre-activation), views of dx_proj."""
        return _split_blocks(self.dx_proj, KINDS[self.kind])

    @property
    def dpre_h(self) -> dict[str, np.ndarray]:
        """block -> (T, H) dL/d(recurrent part of the pre-activation), views of dh_proj."""
        return _split_blocks(self.dh_proj, KINDS[self.kind])


def forward(kind, params, xs, h0=None, c0=None, nonlinearity="tanh") -> Trace:
    """Run the cell over xs (T, I) or a batch (T, B, I); h0, c0 (H,) or (B, H), default zeros."""
    spec, params, xs, h0, c0 = _check_inputs(kind, params, xs, h0, c0, nonlinearity)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        x_proj, run = _run_forward(spec, params, xs, h0, c0, nonlinearity)
        return _pack_trace(spec, nonlinearity, xs, h0, c0, x_proj, run, params)


def bptt(kind, params, xs, dL_dh, h0=None, c0=None, nonlinearity="tanh", *, dL_dc_last=None) -> Backward:
    """Backprop through time. dL_dh (T, H) (or (T, B, H)): gradient reaching each h_t from outside.

    dL_dc_last (H,) (or (B, H)), LSTM only: a gradient reaching the last cell state c_T from
    outside (a loss on c_n). With a batch, parameter gradients are summed over the sequences.
    """
    spec, params, xs, h0, c0 = _check_inputs(kind, params, xs, h0, c0, nonlinearity)
    expected = (*xs.shape[:-1], params["weight_hh"].shape[1])  # like h
    dL_dh = _as_float_array("dL_dh", dL_dh)
    if dL_dh.shape != expected:
        raise ValueError(f"dL_dh must have shape {expected} (like h), got {dL_dh.shape}")
    if dL_dc_last is not None:
        if not spec.has_cell_state:
            raise ValueError(f"dL_dc_last applies to kind='lstm' only, got dL_dc_last for kind={kind!r}")
        dL_dc_last = _as_float_array("dL_dc_last", dL_dc_last)
        if dL_dc_last.shape != expected[1:]:
            raise ValueError(f"dL_dc_last must have shape {expected[1:]} (like c_T), got {dL_dc_last.shape}")
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        _, run = _run_forward(spec, params, xs, h0, c0, nonlinearity)
        return _run_backward(spec, params, xs, h0, c0, nonlinearity, run, dL_dh, dL_dc_last)


def truncation_windows(T: int, window: int | None) -> list[tuple[int, int]]:
    """Truncated BPTT's windows over steps 1..T, as 0-based [start, stop) row ranges, in time order.

    The sequence is cut into windows of `window` steps counted back from the end (the last window
    ends at T, the first may be shorter); None, or window >= T, is one window: full BPTT.
    """
    if window is None or window >= T:
        return [(0, T)]
    if int(window) != window or window < 1:
        raise ValueError(f"window must be a whole number of steps >= 1 (or None: full BPTT), got {window!r}")
    stops = range(T, 0, -int(window))
    return [(max(stop - int(window), 0), stop) for stop in reversed(stops)]


def bptt_truncated(kind, params, xs, dL_dh, window: int | None, h0=None, c0=None, nonlinearity="tanh") -> Backward:
    """Truncated backprop through time: bptt with the state cut between windows of `window` steps.

    The forward pass is the whole sequence's; the backward pass treats the state that enters each
    window (h, and c for the LSTM) as a constant, as `h.detach()` every `window` steps would in
    PyTorch. So a gradient dL_dh[s] reaches back only to the first step of the window holding s:
    with a loss on the last step, dL/dh_t is exactly the full BPTT's for t > T - window and zero
    for t <= T - window. Windows: truncation_windows(T, window) (counted back from the end). dh0 and
    dc0 are the first window's (zero unless it starts at t = 1, which it always does). Shapes as bptt.
    """
    spec, params, xs, h0, c0 = _check_inputs(kind, params, xs, h0, c0, nonlinearity)
    dL_dh = _as_float_array("dL_dh", dL_dh)
    expected = (*xs.shape[:-1], params["weight_hh"].shape[1])
    if dL_dh.shape != expected:
        raise ValueError(f"dL_dh must have shape {expected} (like h), got {dL_dh.shape}")
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        _, run = _run_forward(spec, params, xs, h0, c0, nonlinearity)
        return _run_backward(spec, params, xs, h0, c0, nonlinearity, run, dL_dh, window=window)


def loss_and_bptt(kind, params, xs, loss_of_h, h0=None, c0=None, nonlinearity="tanh", window: int | None = None):
    """Forward, a loss on the hidden states, and BPTT in one pass, without building a Trace.

    loss_of_h(h) takes h (T, [B,] H) and returns (loss, dL_dh, extra). Returns
    (loss, Backward, extra, nonfinite_step) where nonfinite_step is the forward pass's. The lean
    path for training loops, which need gradients, not every intermediate of the forward pass.
    window: truncated BPTT's window (see bptt_truncated); None is full BPTT.
    """
    spec, params, xs, h0, c0 = _check_inputs(kind, params, xs, h0, c0, nonlinearity)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        _, run = _run_forward(spec, params, xs, h0, c0, nonlinearity)
        loss, dL_dh, extra = loss_of_h(run.h)
        back = _run_backward(spec, params, xs, h0, c0, nonlinearity, run, np.asarray(dL_dh, dtype=np.float64),
                             window=window)
    return loss, back, extra, nonfinite_step(run.h, run.c)


def backward_from_trace(params, trace: Trace, dL_dh, window: int | None = None) -> Backward:
    """bptt for a forward pass already run: the same gradients, without repeating the forward.
    window: truncated BPTT's (bptt_truncated); None is full BPTT."""
    check_params(trace.kind, params)
    params = {k: np.asarray(params[k], dtype=np.float64) for k in PARAM_NAMES}
    dL_dh = _as_float_array("dL_dh", dL_dh)
    if dL_dh.shape != trace.h.shape:
        raise ValueError(f"dL_dh must have shape {trace.h.shape} (like h), got {dL_dh.shape}")
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        return _run_backward(KINDS[trace.kind], params, trace.xs, trace.h0, trace.c0, trace.nonlinearity,
                             trace.run, dL_dh, window=window)


# --- the two passes, on (T, I) or (T, B, I) alike --------------------------------------------------------


def _run_forward(spec: CellKind, params, xs, h0, c0, nonlinearity) -> tuple[np.ndarray, Run]:
    """The input projections of all steps at once, then the cell's loop: (x_proj, Run)."""
    x_proj = xs @ params["weight_ih"].T + params["bias_ih"]  # (T, [B,] G*H)
    return x_proj, spec.forward(x_proj, params["weight_hh"], params["bias_hh"], h0, c0, nonlinearity)


def _run_backward(spec: CellKind, params, xs, h0, c0, nonlinearity, run: Run, dL_dh, dL_dc_last=None,
                  window: int | None = None) -> Backward:
    """The cell's backward loop (once per truncation window, see bptt_truncated); then the parameter
    gradients, from the pre-activation gradients."""
    I = xs.shape[-1]
    GH, H = params["weight_hh"].shape
    h_prev, c_prev = _prev(h0, run.h), _prev(c0, run.c)  # (T, [B,] H)
    windows = truncation_windows(len(xs), window)
    parts = [spec.backward(_rows(run, a, b), h_prev[a:b], None if c_prev is None else c_prev[a:b],
                           params["weight_hh"], dL_dh[a:b], nonlinearity, dL_dc_last if b == len(xs) else None)
             for a, b in windows]  # each window starts with no gradient from the next: the cut
    back = parts[0] if len(parts) == 1 else _joined(parts)
    # The parameter gradients are sums over steps (and sequences) of outer products:
    # dW_ih = sum_t dx_proj[t] x_t^T, dW_hh = sum_t dh_proj[t] h_{t-1}^T; one matmul each.
    flat_x, flat_h = back.dx_proj.reshape(-1, GH), back.dh_proj.reshape(-1, GH)
    grads = {
        "weight_ih": flat_x.T @ xs.reshape(-1, I),
        "weight_hh": flat_h.T @ h_prev.reshape(-1, H),
        "bias_ih": flat_x.sum(axis=0),
        "bias_hh": flat_h.sum(axis=0),
    }
    dxs = back.dx_proj @ params["weight_ih"]  # (T, [B,] I)
    return _pack_backward(spec, back, dxs, grads)


def _rows(run: Run, a: int, b: int) -> Run:
    """The forward loop's records of steps a..b-1 (0-based rows): what one window's backward reads."""
    def cut(v):
        return None if v is None else v[a:b]

    return Run(h=run.h[a:b], act=run.act[a:b], c=cut(run.c), h_proj=cut(run.h_proj),
               saved={name: v[a:b] for name, v in run.saved.items()})


def _joined(parts: list[BackRun]) -> BackRun:
    """The windows' backward records (in time order) as one; the state gradients into step 1 are
    the first window's (the others' are the cut, dropped)."""
    def cat(name):
        return None if getattr(parts[0], name) is None else np.concatenate([getattr(p, name) for p in parts])

    return BackRun(dh=cat("dh"), dx_proj=cat("dx_proj"), dh_proj=cat("dh_proj"), dh0=parts[0].dh0, dc=cat("dc"),
                   dc0=parts[0].dc0)


def _prev(initial, states):
    """(T, ...) states_0..states_{T-1}: the state each step reads; None for a missing state."""
    return None if states is None else np.concatenate([initial[None], states[:-1]])


# --- packing results ------------------------------------------------------------------------


def _frozen(a):
    """A contiguous, read-only copy-or-view for the result dataclasses."""
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def _split_blocks(flat, spec: CellKind) -> dict[str, np.ndarray]:
    """(T, [B,] G*H) -> block name -> (T, [B,] H), views."""
    blocks = flat.reshape(*flat.shape[:-1], spec.G, flat.shape[-1] // spec.G)
    return {name: blocks[..., k, :] for k, name in enumerate(spec.blocks)}


def _pack_trace(spec: CellKind, nonlinearity, xs, h0, c0, x_proj, run: Run, params) -> Trace:
    h_proj = run.h_proj  # the GRU's loop keeps it; for the others, one matmul here
    if h_proj is None:
        h_proj = _prev(h0, run.h) @ params["weight_hh"].T + params["bias_hh"]
    return Trace(
        kind=spec.key,
        nonlinearity=nonlinearity,
        xs=_frozen(xs),
        h=_frozen(run.h),
        c=_frozen(run.c),
        h0=_frozen(h0),
        c0=_frozen(c0),
        act=_frozen(run.act),
        x_proj=_frozen(x_proj),
        h_proj=_frozen(h_proj),
        saved={name: _frozen(a) for name, a in run.saved.items()},
        nonfinite_step=nonfinite_step(run.h, run.c),
    )


def _pack_backward(spec: CellKind, back: BackRun, dxs, grads) -> Backward:
    return Backward(
        kind=spec.key,
        dh=_frozen(back.dh),
        dc=_frozen(back.dc),
        dh0=_frozen(back.dh0),
        dc0=_frozen(back.dc0),
        dxs=_frozen(dxs),
        params={name: _frozen(g) for name, g in grads.items()},
        dx_proj=_frozen(back.dx_proj),
        dh_proj=_frozen(back.dh_proj),
        nonfinite_step=nonfinite_step(back.dh, back.dc, reverse=True),
    )


# --- input checks -----------------------------------------------------------------------------


def _as_float_array(name, value) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of numbers, got {type(value).__name__}") from err


def check_params(kind, params) -> tuple[int, int]:
    """Validate a parameter dict for `kind`; returns (input_size, hidden_size)."""
    spec = KINDS[kind]
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
    G, H, I = spec.G, w_hh[1], w_ih[1]
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
    """Validate and normalise: (CellKind, params, xs (T, [B,] I), h0 and c0 ([B,] H)), float64."""
    spec = KINDS[kind]
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
    bad_step = nonfinite_step(xs)
    if bad_step is not None:
        raise ValueError(f"xs contains NaN or inf (first at step t = {bad_step}); expected finite inputs")
    if xs.ndim == 3 and xs.shape[1] == 0:
        raise ValueError(f"xs must hold at least one sequence, got batch size 0 (shape {xs.shape})")
    state_shape = (*xs.shape[1:-1], H)  # (H,) or (B, H)
    h0 = _initial_state("h0", h0, state_shape)
    if spec.has_cell_state:
        c0 = _initial_state("c0", c0, state_shape)
    elif c0 is not None:
        with_c = " or ".join(repr(k) for k, s in KINDS.items() if s.has_cell_state)
        raise ValueError(f"c0 applies to kind={with_c} only, got c0 for kind={kind!r}")
    return spec, params, xs, h0, c0


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
#
# The two rules return differently shaped results, as PyTorch's do, and for the same reason:
# clip_grad_norm must compute the global norm to clip at all, and returns it (the norm before
# clipping, what clip_grad_norm_ returns); clip_grad_value never needs it (clip_grad_value_
# returns None), so it returns only the clipped gradients. A caller that wants the norm either
# way takes numerics.global_norm(grads.values()) (training.CLIPS does, for one shape per rule).


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
    total_norm = global_norm(arrays)
    with np.errstate(over="ignore", invalid="ignore"):
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
