"""Stacked and bidirectional layers, as PyTorch's nn.RNN / nn.LSTM / nn.GRU (num_layers, bidirectional).

Depth and direction by composition, as d2l's StackedRNNScratch (`outputs, Hs[i] = rnns[i](outputs,
Hs[i])`): each layer and direction is the single-layer engine (`forward`, `bptt`) run on the
outputs of the layer below, and a reverse direction is that same engine run on the time-reversed
sequence. No cell equation is written here; backward, each layer's dL/dx is the dL/dh of the
layer below.

L layers, D directions (d = 0 forward, 1 reverse), H hidden units. Parameters are keyed like the
modules' state_dict: weight_ih_l{l}, weight_hh_l{l}, bias_ih_l{l}, bias_hh_l{l}, and the same
with _reverse; layer 0 reads the I inputs, layer l > 0 the D*H outputs of layer l - 1 (forward
half first). States h0, c0, h_n, c_n are (L*D, [B,] H), row l*D + d, as in PyTorch.

Time order. Every per-step array is indexed by the sequence's own time t = 1..T (row t - 1),
in either direction. The reverse direction reads x_T first: its state h_t = cell(x_t, h_{t+1})
has read x_t..x_T, and its initial state (h0[l*D + 1]) is read at step T. So in a reverse
direction's Trace (a ReverseTrace) row t - 1 of h, c, gates, pre_x, pre_h belongs to step t;
h_prev[t - 1] is h_{t+1} (h0 at t = T) and pre_h holds W_hh h_{t+1} + b_hh; its final state, the
one in h_n, is h_1. In its Backward, dh[t - 1] is the total dL/dh_t through steps t - 1, ..., 1
(which the reverse cell runs after step t), and dpre_h[t - 1] pairs with h_{t+1}. Its
nonfinite_step is where that direction broke in the order it ran: the latest step t whose state
overflowed, the earliest step t whose gradient did.

Overflow never raises. A state that overflows makes the input of the layer above non-finite, and
the single-layer engine accepts finite inputs only, so each direction of a layer above runs up to
the step where its input (in its own reading order) stops being finite, and is NaN from there on
(PyTorch carries inf/NaN through instead: meaningless numbers either way). `StackTrace.nonfinite`
names the lowest layer that overflowed. The backward pass through a layer whose input was not
finite is NaN throughout; `StackBackward.nonfinite` names the highest layer whose gradient broke.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .cells import BLOCKS, KINDS, NONLINEARITIES, PARAM_NAMES
from .engine import Backward, Trace, bptt, forward

DIRECTIONS = ("forward", "reverse")  # d = 0, 1
_SUFFIXES = ("", "_reverse")  # the state_dict key suffix of each direction
_KEY = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?")


def stack_key(name: str, layer: int, direction: int) -> str:
    """The state_dict key of one parameter: stack_key("weight_hh", 1, 1) == "weight_hh_l1_reverse"."""
    return f"{name}_l{layer}{_SUFFIXES[direction]}"


class NonFinite(NamedTuple):
    """Where numbers stopped being finite: layer l and direction d as in the keys, step t 1-based."""

    layer: int  # l, 0-based (weight_ih_l{l}); messages say layer l + 1
    direction: int  # d: 0 forward, 1 reverse
    step: int  # t in 1..T, the sequence's own time

    def where(self, num_directions: int) -> str:
        """'layer 1', or 'layer 1 (reverse direction)' in a bidirectional stack."""
        side = f" ({DIRECTIONS[self.direction]} direction)" if num_directions == 2 else ""
        return f"layer {self.layer + 1}{side}"


@dataclass(frozen=True)
class ReverseTrace(Trace):
    """A reverse direction's Trace in the sequence's time order: step t reads h_{t+1}; h0 is read at t = T."""

    @property
    def h_prev(self) -> np.ndarray:
        """(T, H): h_2..h_T, h0: the state each step reads, the next one in the sequence."""
        return np.concatenate([self.h[1:], self.h0[None]])

    @property
    def c_prev(self) -> np.ndarray | None:
        """(T, H): c_2..c_T, c0 for the LSTM, else None."""
        return None if self.c is None else np.concatenate([self.c[1:], self.c0[None]])

    def as_run(self) -> Trace:
        """The plain Trace in the order the cell ran (row 0 is step T), for engine functions that take a Trace."""
        return _per_step_reversed(self, Trace)


@dataclass(frozen=True)
class StackTrace:
    """The forward pass of the stack. Shapes for one sequence; a batch adds B after the first axis."""

    kind: str
    nonlinearity: str
    output: np.ndarray  # (T, D*H) the top layer's h_t: forward half, then reverse half
    h_n: np.ndarray  # (L*D, H) final states, row l*D + d: h_T forward, h_1 reverse
    c_n: np.ndarray | None  # (L*D, H) final LSTM cell states, else None
    layers: dict[tuple[int, int], Trace]  # (l, d) -> that layer and direction, in sequence time order
    nonfinite: NonFinite | None  # the lowest layer (then direction) whose state overflowed, else None

    @property
    def num_layers(self) -> int:
        return max(l for l, _ in self.layers) + 1

    @property
    def num_directions(self) -> int:
        return max(d for _, d in self.layers) + 1

    @property
    def nonfinite_message(self) -> str | None:
        """E.g. 'layer 1 (reverse direction) exploded at step 7: its state overflowed to inf/NaN'."""
        if self.nonfinite is None:
            return None
        where = self.nonfinite.where(self.num_directions)
        return f"{where} exploded at step {self.nonfinite.step}: its state overflowed to inf/NaN"


@dataclass(frozen=True)
class StackBackward:
    """Gradients of the loss through the stack. Shapes for one sequence; a batch adds B after the first axis."""

    params: dict[str, np.ndarray]  # dL/dparam, same keys and shapes as the params
    dxs: np.ndarray  # (T, I) dL/dx_t
    dh0: np.ndarray  # (L*D, H) dL/dh0
    dc0: np.ndarray | None  # (L*D, H) dL/dc0 for the LSTM, else None
    layers: dict[tuple[int, int], Backward]  # (l, d) -> that layer and direction, in sequence time order
    nonfinite: NonFinite | None  # the highest layer (then direction) whose dL/dh or dL/dc went
    #                              inf/NaN, at the step where its backward pass broke; else None

    @property
    def num_layers(self) -> int:
        return max(l for l, _ in self.layers) + 1

    @property
    def num_directions(self) -> int:
        return max(d for _, d in self.layers) + 1

    @property
    def nonfinite_message(self) -> str | None:
        """E.g. 'layer 2: the gradient exploded at step 3 (dL/dh_t overflowed to inf/NaN)'."""
        if self.nonfinite is None:
            return None
        where = self.nonfinite.where(self.num_directions)
        return f"{where}: the gradient exploded at step {self.nonfinite.step} (dL/dh_t overflowed to inf/NaN)"


# --- parameters -------------------------------------------------------------------------------


def init_stack(kind, input_size, hidden_size, num_layers=1, bidirectional=False, seed=0) -> dict[str, np.ndarray]:
    """PyTorch's init for nn.RNN / nn.LSTM / nn.GRU: every entry from U(-1/sqrt(H), 1/sqrt(H)), seeded.

    Keys, shapes and key order are the module's state_dict: weight_ih_l{l}[_reverse] (G*H, I or
    D*H), weight_hh (G*H, H), bias_ih, bias_hh (G*H,). The first four draws are
    init_params(kind, input_size, hidden_size, seed)'s: layer 0's forward direction is that layer.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    I, H, L = (_positive_int(n, v) for n, v in
               (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)))
    if not isinstance(bidirectional, (bool, np.bool_)):
        raise ValueError(f"bidirectional must be True or False, got {bidirectional!r}")
    D, G = 2 if bidirectional else 1, len(BLOCKS[kind])
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(H)
    params = {}
    for l in range(L):
        for d in range(D):
            shapes = {"weight_ih": (G * H, I if l == 0 else D * H), "weight_hh": (G * H, H),
                      "bias_ih": (G * H,), "bias_hh": (G * H,)}
            for name in PARAM_NAMES:
                params[stack_key(name, l, d)] = rng.uniform(-k, k, shapes[name])
    return params


def check_stack_params(kind, params) -> tuple[int, int, int, int]:
    """Validate stacked parameters; returns (num_layers, num_directions, input_size, hidden_size)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of arrays keyed like a state_dict, got {type(params).__name__}")
    matches = [_KEY.fullmatch(key) if isinstance(key, str) else None for key in params]
    if not any(matches):
        raise ValueError(f"params has no stack parameter (got keys {list(params)}); expected PyTorch's state_dict "
                         "names weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse, ..._l1")
    L = max(int(m[2]) for m in matches if m) + 1
    D = 2 if any(m[3] for m in matches if m) else 1
    expected = [stack_key(n, l, d) for l in range(L) for d in range(D) for n in PARAM_NAMES]
    unknown = [key for key in params if key not in expected]
    if unknown:
        hint = " (proj_size is not supported)" if any(str(k).startswith("weight_hr") for k in unknown) else ""
        raise ValueError(f"params has keys that name no stack parameter: {unknown}{hint}; expected PyTorch's "
                         "state_dict names weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse, ..._l1")
    described = f"{L}-layer{' bidirectional' if D == 2 else ''} {kind}"
    missing = [key for key in expected if key not in params]
    if missing:
        raise ValueError(f"params is missing {missing} for a {described} (keys found up to layer {L - 1})")
    w_ih, w_hh = np.shape(params["weight_ih_l0"]), np.shape(params["weight_hh_l0"])
    if len(w_ih) != 2 or len(w_hh) != 2:
        raise ValueError(f"params['weight_ih_l0'] and params['weight_hh_l0'] must be 2-D, got shapes {w_ih} and {w_hh}")
    G, H, I = len(BLOCKS[kind]), w_hh[1], w_ih[1]
    for l in range(L):
        I_l = I if l == 0 else D * H
        expected = {"weight_ih": (G * H, I_l), "weight_hh": (G * H, H), "bias_ih": (G * H,), "bias_hh": (G * H,)}
        reads = f"input size {I}" if l == 0 else f"input size D*H = {I_l}, the outputs of layer {l - 1}"
        for d in range(D):
            for name, shape in expected.items():
                key = stack_key(name, l, d)
                got = np.shape(params[key])
                if got != shape:
                    raise ValueError(f"params[{key!r}] must have shape {shape} for a {described} with H={H} "
                                     f"({reads}), got {got}")
                if not np.all(np.isfinite(params[key])):
                    raise ValueError(f"params[{key!r}] contains inf or NaN; expected finite weights")
    return L, D, I, H


def layer_params(params, layer: int, direction: int) -> dict[str, np.ndarray]:
    """The single-layer engine's four arrays (weight_ih, ...) of one layer and direction."""
    return {name: np.asarray(params[stack_key(name, layer, direction)], dtype=np.float64) for name in PARAM_NAMES}


# --- forward and backward -----------------------------------------------------------------------


def forward_stack(kind, params, xs, h0=None, c0=None, nonlinearity="tanh") -> StackTrace:
    """Run the stack over xs (T, I) or (T, B, I); h0, c0 (L*D, [B,] H) in PyTorch's order, default zeros."""
    L, D, xs, h0, c0 = _check_stack_inputs(kind, params, xs, h0, c0, nonlinearity)
    layers: dict[tuple[int, int], Trace] = {}
    x_in = xs
    for l in range(L):
        for d in range(D):
            layers[l, d] = _forward_direction(kind, layer_params(params, l, d), x_in, _row(h0, l * D + d),
                                              _row(c0, l * D + d), nonlinearity, d, from_below=l > 0)
        x_in = np.concatenate([layers[l, d].h for d in range(D)], axis=-1)  # (T, [B,] D*H)
    # h_n, c_n: the state each direction computes last (h_T forward, h_1 reverse), row l*D + d
    last = [(layers[l, d], -1 if d == 0 else 0) for l in range(L) for d in range(D)]
    return StackTrace(
        kind=kind,
        nonlinearity=nonlinearity,
        output=_read_only(x_in),
        h_n=_read_only(np.stack([tr.h[t] for tr, t in last])),
        c_n=_read_only(np.stack([tr.c[t] for tr, t in last])) if KINDS[kind].has_cell_state else None,
        layers=layers,
        nonfinite=_first_nonfinite(layers, sorted(layers)),  # bottom-up: where the forward pass broke
    )


def bptt_stack(kind, params, xs, dL_doutput, dL_dh_n=None, dL_dc_n=None, h0=None, c0=None,
               nonlinearity="tanh") -> StackBackward:
    """Backprop through the stack: every layer and direction's bptt, top layer first.

    dL_doutput (T, [B,] D*H) reaches the output from outside (None: zeros); dL_dh_n, dL_dc_n
    (L*D, [B,] H) reach h_n, c_n. With a batch, parameter gradients are summed over the sequences.
    """
    L, D, xs, h0, c0 = _check_stack_inputs(kind, params, xs, h0, c0, nonlinearity)
    H = np.shape(params["weight_hh_l0"])[1]
    lead, states = xs.shape[:-1], (L * D, *xs.shape[1:-1], H)  # (T, [B]) and h_n's shape
    dL_doutput = _gradient("dL_doutput", dL_doutput, (*lead, D * H), "output: T, [B,] D*H")
    dL_dh_n = _gradient("dL_dh_n", dL_dh_n, states, "h_n: L*D, [B,] H")
    if dL_dc_n is not None and not KINDS[kind].has_cell_state:
        raise ValueError(f"dL_dc_n applies to kind='lstm' only, got dL_dc_n for kind={kind!r}")
    dL_dc_n = _gradient("dL_dc_n", dL_dc_n, states, "c_n: L*D, [B,] H") if KINDS[kind].has_cell_state else None

    # The input of every layer; the top layer's forward pass runs inside bptt.
    inputs = [xs]  # layer l reads inputs[l] (T, [B,] I or D*H)
    for l in range(L - 1):
        below = [_forward_direction(kind, layer_params(params, l, d), inputs[l], _row(h0, l * D + d),
                                    _row(c0, l * D + d), nonlinearity, d, from_below=l > 0) for d in range(D)]
        inputs.append(np.concatenate([tr.h for tr in below], axis=-1))

    layers: dict[tuple[int, int], Backward] = {}
    grads: dict[str, np.ndarray] = {}
    dL_dx_above = dL_doutput  # (T, [B,] D*H): the gradient reaching layer l's outputs from outside it
    for l in reversed(range(L)):
        dL_dx = 0.0
        for d in range(D):
            i = l * D + d
            dL_dh = dL_dx_above[..., d * H : (d + 1) * H].copy()  # (T, [B,] H)
            dL_dh[-1 if d == 0 else 0] += dL_dh_n[i]  # h_n is the last state this direction computes
            bw = _backward_direction(kind, layer_params(params, l, d), inputs[l], dL_dh, _row(h0, i), _row(c0, i),
                                     _row(dL_dc_n, i), nonlinearity, d, from_below=l > 0)
            layers[l, d] = bw
            grads |= {stack_key(name, l, d): g for name, g in bw.params.items()}
            dL_dx = dL_dx + bw.dxs  # both directions read the same input
        dL_dx_above = dL_dx  # each layer's dL/dx is the dL/dh of the layer below
    ordered = [layers[l, d] for l in range(L) for d in range(D)]  # row l*D + d of dh0
    top_down = sorted(layers, key=lambda key: (-key[0], key[1]))  # the order the backward pass runs
    return StackBackward(
        params={key: grads[key] for key in params},
        dxs=_read_only(dL_dx_above),
        dh0=_read_only(np.stack([bw.dh0 for bw in ordered])),
        dc0=_read_only(np.stack([bw.dc0 for bw in ordered])) if KINDS[kind].has_cell_state else None,
        layers=layers,
        nonfinite=_first_nonfinite(layers, top_down),
    )


# --- one layer, one direction -------------------------------------------------------------------


def _forward_direction(kind, p, x_in, h0, c0, nonlinearity, direction, from_below) -> Trace:
    """forward() of one layer and direction on x_in (T, [B,] I) in sequence order; the Trace in sequence order.

    from_below: x_in is a lower layer's output, whose overflow is reported, not raised.
    """
    x_run = x_in[::-1] if direction else x_in  # the order this direction reads the sequence
    n_ok = _finite_steps(x_run) if from_below else len(x_run)
    if n_ok == len(x_run):
        trace = forward(kind, p, x_run, h0, c0, nonlinearity)
    else:  # run on the finite steps (the rest zeroed), then NaN from the first non-finite input on
        trace = forward(kind, p, _zeroed_from(x_run, n_ok), h0, c0, nonlinearity)
        trace = _per_step(trace, lambda a: _nan_from(a, n_ok), xs=_read_only(x_run),
                          nonfinite_step=min(trace.nonfinite_step or n_ok + 1, n_ok + 1))
    return _per_step_reversed(trace, ReverseTrace) if direction else trace


def _backward_direction(kind, p, x_in, dL_dh, h0, c0, dL_dc_last, nonlinearity, direction, from_below) -> Backward:
    """bptt() of one layer and direction; x_in, dL_dh (T, [B,] ...) and the Backward in sequence order."""
    x_run, dL_dh_run = (x_in[::-1], dL_dh[::-1]) if direction else (x_in, dL_dh)
    n_ok = _finite_steps(x_run) if from_below else len(x_run)
    if n_ok == len(x_run):
        bw = bptt(kind, p, x_run, dL_dh_run, h0, c0, nonlinearity, dL_dc_last=dL_dc_last)
    else:  # a layer below overflowed: no gradient through this layer means anything
        bw = bptt(kind, p, _zeroed_from(x_run, n_ok), dL_dh_run, h0, c0, nonlinearity, dL_dc_last=dL_dc_last)
        nan = lambda a: None if a is None else _read_only(np.full_like(a, np.nan))  # noqa: E731
        bw = _per_step(bw, nan, dh0=nan(bw.dh0), dc0=nan(bw.dc0), params={k: nan(g) for k, g in bw.params.items()},
                       nonfinite_step=len(x_run))
    if direction:
        bw = _per_step_reversed(bw, Backward)
    return bw


# --- helpers ------------------------------------------------------------------------------------

_NOT_PER_STEP = frozenset({"h0", "c0", "dh0", "dc0", "params"})  # the arrays of a Trace / Backward without a T axis


def _per_step(result, fn, cls=None, **changes):
    """A copy of a Trace or Backward (as cls) with fn applied to every (T, ...) array, in dicts too."""
    values = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    for name, value in values.items():
        if name in _NOT_PER_STEP:
            continue
        if isinstance(value, np.ndarray):
            values[name] = fn(value)
        elif isinstance(value, dict):
            values[name] = {k: fn(v) for k, v in value.items()}
    return (cls or type(result))(**(values | changes))


def _per_step_reversed(result, cls):
    """result with every per-step array in the opposite time order; nonfinite_step t -> T + 1 - t."""
    T, step = len(result.dh if isinstance(result, Backward) else result.h), result.nonfinite_step
    return _per_step(result, lambda a: _read_only(a[::-1]), cls,
                     nonfinite_step=None if step is None else T + 1 - step)


def _finite_steps(x) -> int:
    """How many leading steps of x (T, ...) are finite."""
    ok = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    return len(x) if ok.all() else int(np.argmin(ok))


def _zeroed_from(x, n):
    out = x.copy()
    out[n:] = 0.0
    return out


def _nan_from(a, n):
    out = np.array(a)
    out[n:] = np.nan
    return _read_only(out)


def _first_nonfinite(results, order) -> NonFinite | None:
    """The first (l, d) in order whose Trace or Backward has a nonfinite_step, with that step."""
    for l, d in order:
        if results[l, d].nonfinite_step is not None:
            return NonFinite(l, d, results[l, d].nonfinite_step)
    return None


def _row(states, i):
    return None if states is None else states[i]


def _read_only(a):
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def _positive_int(name, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _gradient(name, value, shape, like) -> np.ndarray:
    """An incoming gradient as float64 of this shape; None -> zeros."""
    if value is None:
        return np.zeros(shape)
    value = np.asarray(value, dtype=np.float64)
    if value.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (like {like}), got {value.shape}")
    return value


def _check_stack_inputs(kind, params, xs, h0, c0, nonlinearity):
    """Validate what the layers' engine calls do not: returns L, D, xs, h0, c0 (float64; h0, c0 may be None).

    xs beyond its number of axes (steps, features, finite values) is checked by forward on layer 0.
    """
    L, D, _, H = check_stack_params(kind, params)
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    try:  # a private copy: forward() freezes the array it is given, which must not be the caller's
        xs = np.array(xs, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"xs must be an array of numbers, got {type(xs).__name__}") from err
    shape = xs.shape
    if len(shape) not in (2, 3):
        raise ValueError(f"xs must have shape (T, I) or (T, B, I), got {shape}")
    states = (L * D, *shape[1:-1], H)
    described = f"(num_layers * num_directions = {L * D}, {'B, ' if len(shape) == 3 else ''}H = {H})"
    if c0 is not None and not KINDS[kind].has_cell_state:
        raise ValueError(f"c0 applies to kind='lstm' only, got c0 for kind={kind!r}")
    checked = []
    for name, value in (("h0", h0), ("c0", c0)):
        if value is not None:
            value = np.asarray(value, dtype=np.float64)
            if value.shape != states:
                raise ValueError(f"{name} must have shape {states} {described}, got {value.shape}")
        checked.append(value)
    return L, D, xs, *checked
