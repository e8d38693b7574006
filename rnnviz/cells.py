"""The equations of the vanilla RNN, LSTM and GRU cells, forward and backward, side by side.

PyTorch's conventions (nn.RNNCell, nn.LSTMCell, nn.GRUCell): both biases are added, LSTM gate
rows are ordered i, f, g, o and GRU rows r, z, n. Each cell has one section below, and in it,
on one screen: the forward loop over time, the local derivatives, the backward loop (backprop
through time) whose docstring states the recurrence one rule per line, the gradient along each
edge of the unrolled graph, and one step of the row propagation and the step Jacobians the
analysis needs. KINDS, at the end, is the one table through which the rest of rnnviz finds a
cell's math and facts; nothing outside this module branches on the kind of cell. CELLS, after
it, is the registry of the cells the app offers ("rnn-tanh", "rnn-relu", "lstm", "gru").

The loops are written for a reader first and for speed second: the input projections of all
steps are computed before the loop, each step does one matrix product with W_hh, and every
elementwise derivative that does not depend on the incoming gradient is precomputed for all
steps at once, so the backward loop only chains products.

Shapes: T steps, I inputs, H hidden units, G row blocks of the weights (1, 4, 3), A gates (0,
4, 3). The loops are written for (T, ..., H): one sequence (T, H), or a batch (T, B, H); the
step views are (H,) or (B, H).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import autograd.numpy as anp
import numpy as np

from .numerics import sigmoid
from .registry import Registry

NONLINEARITIES = ("tanh", "relu")


@dataclass(frozen=True, eq=False)
class Run:
    """What a forward loop computes for all steps; its cell's backward loop reads it back."""

    h: np.ndarray  # (T, ..., H) hidden states h_1..h_T
    act: np.ndarray  # (T, ..., A, H) gate activations, stacked in the order of CellKind.gates
    c: np.ndarray | None = None  # (T, ..., H) LSTM cell states c_1..c_T, else None
    h_proj: np.ndarray | None = None  # (T, ..., G*H) W_hh h_{t-1} + b_hh if the loop keeps it (GRU)
    saved: Mapping[str, np.ndarray] = field(default_factory=dict)  # what else the backward loop
    #                                   reads: the RNN's pre-activation "a", the LSTM's "tanh_c"


@dataclass(frozen=True, eq=False)
class BackRun:
    """What a backward loop computes: the total state gradients and the pre-activation ones."""

    dh: np.ndarray  # (T, ..., H) total dL/dh_t
    dx_proj: np.ndarray  # (T, ..., G*H) dL/d(W_ih x_t + b_ih)
    dh_proj: np.ndarray  # (T, ..., G*H) dL/d(W_hh h_{t-1} + b_hh)
    dh0: np.ndarray  # (..., H) dL/dh_0
    dc: np.ndarray | None = None  # (T, ..., H) total dL/dc_t for the LSTM
    dc0: np.ndarray | None = None  # (..., H) dL/dc_0 for the LSTM


def _matvec(w: np.ndarray, batched: bool):
    """v, out -> out = W v for a state v (n,), or for each row of a batch v (B, n).

    The one matrix product of every step. For a single sequence, BLAS's matrix-vector product
    on a C-ordered W is the fastest form (~25% faster than v @ W^T at H = 64).
    """
    if batched:
        w_T = np.ascontiguousarray(w.T)
        return lambda v, out: np.dot(v, w_T, out=out)
    w = np.ascontiguousarray(w)
    return lambda v, out: np.dot(w, v, out=out)


def _sigmoid_inplace(a: np.ndarray) -> None:
    """a <- numerics.sigmoid(a), without temporaries (the forward loops' hot path)."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1.0
    np.reciprocal(a, out=a)


def _blocks(flat: np.ndarray, G: int) -> np.ndarray:
    """(..., G*H) -> (..., G, H), a view: one row block per gate."""
    return flat.reshape(*flat.shape[:-1], G, flat.shape[-1] // G)


def _diag_times(d: np.ndarray, w: np.ndarray) -> np.ndarray:
    """diag(d_k) W for every k: d (n, H), w (H, H) -> (n, H, H), by broadcasting."""
    return d[:, :, None] * w[None]


def _gate_slopes(act: np.ndarray, sigmoid_gates: tuple[bool, ...]) -> np.ndarray:
    """Each gate's derivative over its maximum: sigmoid' / 0.25 = 4 a (1 - a), tanh' = 1 - a^2."""
    sig = np.array(sigmoid_gates)[:, None]  # (A, 1)
    return np.where(sig, 4.0 * act * (1.0 - act), 1.0 - act * act)


# --------------------------------------------------------------------------------------------
# Vanilla RNN:  a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh,   h_t = phi(a_t),   phi = tanh or relu
# --------------------------------------------------------------------------------------------


def _relu(a, out):
    return np.maximum(a, 0.0, out=out)  # NaN stays NaN, as torch.relu keeps it


def rnn_forward(x_proj, weight_hh, bias_hh, h0, c0, nonlinearity) -> Run:
    """x_proj (T, ..., H) = W_ih x_t + b_ih; h0 (..., H). Saves a (T, ..., H), the pre-activation."""
    pre = x_proj + bias_hh  # a_t, filled in by the loop: + W_hh h_{t-1}
    h = np.empty_like(pre)
    w_hh_times = _matvec(weight_hh, h0.ndim == 2)
    squash = np.tanh if nonlinearity == "tanh" else _relu
    recurrent = np.empty_like(h0)
    h_prev = h0
    # Per-step views are made once by zip: inside the loop a view costs as much as the math.
    for a_t, h_t in zip(pre, h, strict=True):
        w_hh_times(h_prev, recurrent)  # W_hh h_{t-1}
        a_t += recurrent  # a_t = (W_ih x_t + b_ih + b_hh) + W_hh h_{t-1}
        squash(a_t, out=h_t)  # h_t = phi(a_t)
        h_prev = h_t
    return Run(h=h, act=np.empty((*h.shape[:-1], 0, h.shape[-1])), saved={"a": pre})


def rnn_step(gx, gh, h, c=None, nonlinearity="tanh"):
    """One step from its two projections gx = W_ih x + b_ih, gh = W_hh h + b_hh (..., H), any leading
    axes, in autograd.numpy so that autograd differentiates it (models built on the cell, attention.py).
    Returns (h', None)."""
    a = gx + gh  # a = W_ih x + b_ih + W_hh h + b_hh
    return (anp.tanh(a) if nonlinearity == "tanh" else anp.maximum(a, 0.0)), None  # h' = phi(a)


def rnn_local(run: Run, h_prev, c_prev, nonlinearity) -> dict[str, np.ndarray]:
    """phi'(a_t) for all steps (T, ..., H), as "dphi".

    tanh' = 1 - h^2. relu' = 1 where a > 0 and 0 where a <= 0 (0 at the kink); at a NaN
    pre-activation it is 1, as in PyTorch, whose relu backward zeroes the gradient only where
    the output is <= 0: an overflowed forward pass shows up in the gradients, not as zeros.
    """
    if nonlinearity == "tanh":
        return {"dphi": 1.0 - run.h * run.h}
    return {"dphi": np.where(run.saved["a"] <= 0.0, 0.0, 1.0)}


def rnn_backward(run: Run, h_prev, c_prev, weight_hh, dL_dh, nonlinearity, dL_dc_last=None) -> BackRun:
    """BPTT for the RNN; dL_dh (T, ..., H). One rule per line, for t = T..1 (da_{T+1} = 0):

        dh_t = dL_dh_t + W_hh^T da_{t+1}      h_t feeds the readout and a_{t+1} = ... + W_hh h_t
        da_t = dh_t * phi'(a_t)               h_t = phi(a_t)
        dh_0 = W_hh^T da_1                    a_1 = ... + W_hh h_0
    """
    dphi = rnn_local(run, h_prev, c_prev, nonlinearity)["dphi"]
    dh = np.empty_like(dL_dh)  # total dL/dh_t
    da = np.empty_like(dL_dh)  # dL/da_t
    dh_next = np.zeros_like(dL_dh[0])  # W_hh^T da_{t+1}: dL/dh_t arriving through step t+1
    w_hh_T_times = _matvec(weight_hh.T, dL_dh.ndim == 3)
    back = slice(None, None, -1)  # t = T..1
    for dL_dh_t, dphi_t, dh_t, da_t in zip(dL_dh[back], dphi[back], dh[back], da[back], strict=True):
        np.add(dL_dh_t, dh_next, out=dh_t)  # from the readout + from the future
        np.multiply(dh_t, dphi_t, out=da_t)  # chain through phi
        w_hh_T_times(da_t, dh_next)  # W_hh^T da_t
    return BackRun(dh=dh, dx_proj=da, dh_proj=da, dh0=dh_next)


def rnn_edge_grads(run: Run, back, weight_hh) -> dict[str, np.ndarray]:
    """(T, ..., H) gradient along each edge at step t: "hh" h_t -> h_{t-1}, W_hh^T da_t."""
    return {"hh": back.dh_proj @ weight_hh}


def rnn_rows(loc, k, weight_hh, rows_h, rows_c, spread):
    """Rows R of d(out)/dh_t -> those of d(out)/dh_{t-1} across step t = k + 1: R diag(phi') W_hh."""
    return (rows_h * loc["dphi"][k]) @ weight_hh, None


def rnn_step_jacobians(loc, w, steps) -> dict[str, np.ndarray]:
    """{"hh": dh_t/dh_{t-1} = diag(phi'(a_t)) W_hh} at the 0-based steps, (n, H, H)."""
    return {"hh": _diag_times(loc["dphi"][steps], w[0])}


def rnn_slopes(run: Run, nonlinearity) -> dict[str, np.ndarray]:
    """phi'(a_t) over its maximum (1 for tanh and relu): "h" -> (T, ..., H)."""
    return {"h": rnn_local(run, None, None, nonlinearity)["dphi"]}


# --------------------------------------------------------------------------------------------
# LSTM:  i, f, o = sigmoid(.), g = tanh(.) of W_i* x_t + b_i* + W_h* h_{t-1} + b_h*
#        c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
# --------------------------------------------------------------------------------------------


def lstm_forward(x_proj, weight_hh, bias_hh, h0, c0, nonlinearity) -> Run:
    """x_proj (T, ..., 4H) = W_ih x_t + b_ih; h0, c0 (..., H). act = i, f, g, o; saves tanh_c."""
    pre_in = x_proj + bias_hh  # W_ih x_t + b_ih + b_hh, all steps at once
    lead, H = pre_in.shape[:-1], pre_in.shape[-1] // 4
    act = np.empty((*lead, 4, H))  # filled with pre-activations, then squashed in place
    c = np.empty((*lead, H))
    tanh_c = np.empty((*lead, H))
    h = np.empty((*lead, H))
    w_hh_times = _matvec(weight_hh, h0.ndim == 2)  # (4H, H)
    g_buf, ig_buf = np.empty_like(h0), np.empty_like(h0)
    gate = lambda k: act[..., k, :]  # noqa: E731  (T, ..., H) view of one gate
    steps = zip(pre_in, act.reshape(pre_in.shape), act, gate(0), gate(1), gate(2), gate(3),
                c, tanh_c, h, strict=True)
    h_prev, c_prev = h0, c0
    for pre_in_t, a_flat, a_t, i_t, f_t, g_t, o_t, c_t, tanh_c_t, h_t in steps:
        w_hh_times(h_prev, a_flat)  # W_hh h_{t-1}
        a_flat += pre_in_t  # + W_ih x_t + b_ih + b_hh
        np.tanh(g_t, out=g_buf)  # g = tanh(.), kept aside while ...
        _sigmoid_inplace(a_t)  # ... i, f, o = sigmoid(.) squashes all four blocks
        np.copyto(g_t, g_buf)
        np.multiply(f_t, c_prev, out=c_t)
        np.multiply(i_t, g_t, out=ig_buf)
        c_t += ig_buf  # c_t = f * c_{t-1} + i * g
        np.tanh(c_t, out=tanh_c_t)
        np.multiply(o_t, tanh_c_t, out=h_t)  # h_t = o * tanh(c_t)
        h_prev, c_prev = h_t, c_t
    return Run(h=h, act=act, c=c, saved={"tanh_c": tanh_c})


def lstm_step(gx, gh, h, c, nonlinearity="tanh"):
    """rnn_step's twin for the LSTM: gx, gh (..., 4H) in blocks i, f, g, o; returns (h', c')."""
    H = h.shape[-1]
    a = gx + gh  # (..., 4H)
    i, f, o = sigmoid(a[..., :H]), sigmoid(a[..., H : 2 * H]), sigmoid(a[..., 3 * H :])
    g = anp.tanh(a[..., 2 * H : 3 * H])
    c_new = f * c + i * g  # c' = f * c + i * g
    return o * anp.tanh(c_new), c_new  # h' = o * tanh(c')


def lstm_local(run: Run, h_prev, c_prev, nonlinearity) -> dict[str, np.ndarray]:
    """The LSTM's local derivatives for all steps.

    dc_from_dh (T, ..., H):    h = o tanh(c)            -> dh/dc
    do_pre     (T, ..., H):    h = o tanh(c), o = s(.)  -> dh/d(o pre-activation)
    dc_pre_ifg (T, ..., 3, H): c = f c_prev + i g       -> dc/d(pre-activation) of i, f, g
    f          (T, ..., H):    c = f c_prev + ...       -> dc/dc_prev
    """
    act, tanh_c = run.act, run.saved["tanh_c"]
    i, f, g, o = (act[..., k, :] for k in range(4))
    return {
        "dc_from_dh": o * (1.0 - tanh_c * tanh_c),
        "do_pre": tanh_c * o * (1.0 - o),
        "dc_pre_ifg": np.stack([g * i * (1.0 - i), c_prev * f * (1.0 - f), i * (1.0 - g * g)], axis=-2),
        "f": f,
    }


def lstm_backward(run: Run, h_prev, c_prev, weight_hh, dL_dh, nonlinearity, dL_dc_last=None) -> BackRun:
    """BPTT for the LSTM; dL_dh (T, ..., H). One rule per line, for t = T..1 (from T+1 only dL_dc_last):

        dh_t     = dL_dh_t + W_hh^T dpre_{t+1}                 h_t feeds the readout and step t+1's gates
        dc_t     = dh_t o_t (1 - tanh^2 c_t) + f_{t+1} dc_{t+1}  h_t = o tanh(c_t); c_{t+1} = f c_t + ...
        dpre_o_t = dh_t tanh(c_t) o_t (1 - o_t)                o = sigmoid(pre_o)
        dpre_i_t = dc_t g_t i_t (1 - i_t)                      c_t = f c_{t-1} + i g
        dpre_f_t = dc_t c_{t-1} f_t (1 - f_t)
        dpre_g_t = dc_t i_t (1 - g_t^2)                        g = tanh(pre_g)
        dh_0 = W_hh^T dpre_1,  dc_0 = f_1 dc_1                  the state the first step read
    """
    loc = lstm_local(run, h_prev, c_prev, nonlinearity)
    dc_from_dh, do_pre, dc_pre_ifg, f = loc["dc_from_dh"], loc["do_pre"], loc["dc_pre_ifg"], loc["f"]
    dh = np.empty_like(dL_dh)
    dc = np.empty_like(dL_dh)
    dpre = np.empty_like(run.act)  # (T, ..., 4, H): i, f, g, o
    dh_next = np.zeros_like(dL_dh[0])  # arriving through h_{t+1}'s gates
    # arriving through c_{t+1} = f_{t+1} * c_t + ...; at t = T whatever reaches c_T from outside (..., H)
    dc_next = np.zeros_like(dL_dh[0]) if dL_dc_last is None else dL_dc_last
    dpre_flat = dpre.reshape(*dpre.shape[:-2], -1)  # (T, ..., 4H)
    w_hh_T_times = _matvec(weight_hh.T, dL_dh.ndim == 3)
    back = slice(None, None, -1)  # t = T..1
    steps = zip(dL_dh[back], dc_from_dh[back], do_pre[back], dc_pre_ifg[back], f[back],
                dh[back], dc[back], dc[back][..., None, :], dpre_flat[back],
                dpre[back][..., :3, :], dpre[back][..., 3, :], strict=True)
    for (dL_dh_t, dc_from_dh_t, do_pre_t, dc_pre_ifg_t, f_t,
         dh_t, dc_t, dc_t_bcast, dpre_t, dpre_ifg_t, dpre_o_t) in steps:
        np.add(dL_dh_t, dh_next, out=dh_t)
        np.multiply(dh_t, dc_from_dh_t, out=dc_t)
        dc_t += dc_next  # total dL/dc_t: through h_t and through c_{t+1}
        np.multiply(dc_pre_ifg_t, dc_t_bcast, out=dpre_ifg_t)  # i, f, g
        np.multiply(dh_t, do_pre_t, out=dpre_o_t)  # o
        w_hh_T_times(dpre_t, dh_next)  # W_hh^T dpre
        dc_next = dc_t * f_t  # the cell-state highway: multiply by the forget gate
    return BackRun(dh=dh, dx_proj=dpre_flat, dh_proj=dpre_flat, dh0=dh_next, dc=dc, dc0=dc_next)


def lstm_edge_grads(run: Run, back, weight_hh) -> dict[str, np.ndarray]:
    """(T, ..., H) gradient along each edge at step t.

    "hh": h_t -> h_{t-1} through the o gate, "ch": c_t -> h_{t-1} through the i, f, g gates,
    "cc": c_t -> c_{t-1} (f_t dc_t, the cell-state highway), "hc": h_t -> c_t.
    """
    H = back.dh.shape[-1]
    o, f = run.act[..., 3, :], run.act[..., 1, :]
    tanh_c = run.saved["tanh_c"]
    return {
        "hh": back.dh_proj[..., 3 * H :] @ weight_hh[3 * H :],
        "ch": back.dh_proj[..., : 3 * H] @ weight_hh[: 3 * H],
        "cc": back.dc * f,
        "hc": back.dh * o * (1.0 - tanh_c * tanh_c),
    }


def lstm_rows(loc, k, weight_hh, rows_h, rows_c, spread):
    """Rows (R_h, R_c) of d(out)/d(h_t, c_t) -> those at t - 1, across step t = k + 1.

    q = R_h dh_t/dc_t + R_c is the rows' total on c_t; it reaches h_{t-1} through the i, f, g
    gates, and c_{t-1} through f; R_h reaches h_{t-1} through the o gate too.
    """
    H = rows_h.shape[1]
    q = rows_h * loc["dc_from_dh"][k] + rows_c
    np.multiply(q[:, None, :], loc["dc_pre_ifg"][k][None], out=spread[:, :3])
    np.multiply(rows_h, loc["do_pre"][k], out=spread[:, 3])
    return spread.reshape(H, 4 * H) @ weight_hh, q * loc["f"][k]


def lstm_step_jacobians(loc, w, steps) -> dict[str, np.ndarray]:
    """Step Jacobians at the 0-based steps, each (n, H, H): "hh" dh_t/dh_{t-1}, "hc" dh_t/dc_{t-1},
    "ch" dc_t/dh_{t-1}, "cc" dc_t/dc_{t-1} = diag(f_t)."""
    coef, k, f = loc["dc_pre_ifg"][steps], loc["dc_from_dh"][steps], loc["f"][steps]
    eye = np.eye(w.shape[-1])[None]
    ch = _diag_times(coef[:, 0], w[0]) + _diag_times(coef[:, 1], w[1]) + _diag_times(coef[:, 2], w[2])
    hh = _diag_times(loc["do_pre"][steps], w[3]) + k[:, :, None] * ch
    return {"hh": hh, "hc": (k * f)[:, :, None] * eye, "ch": ch, "cc": f[:, :, None] * eye}


# --------------------------------------------------------------------------------------------
# GRU:  r, z = sigmoid(W_i* x_t + b_i* + W_h* h_{t-1} + b_h*)
#       n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn)),   h_t = (1 - z) * n + z * h_{t-1}
# --------------------------------------------------------------------------------------------


def gru_forward(x_proj, weight_hh, bias_hh, h0, c0, nonlinearity) -> Run:
    """x_proj (T, ..., 3H) = W_ih x_t + b_ih; h0 (..., H). act = r, z, n; keeps h_proj (T, ..., 3H)."""
    lead, H = x_proj.shape[:-1], x_proj.shape[-1] // 3
    act = np.empty((*lead, 3, H))
    h_proj = np.empty_like(x_proj)  # n needs its recurrent part apart: r multiplies it
    h = np.empty((*lead, H))
    w_hh_times = _matvec(weight_hh, h0.ndim == 2)  # (3H, H)
    x_p, h_p = x_proj.reshape(act.shape), h_proj.reshape(act.shape)
    steps = zip(h_proj, x_p[..., :2, :], h_p[..., :2, :], x_p[..., 2, :], h_p[..., 2, :],
                act[..., :2, :], act[..., 0, :], act[..., 1, :], act[..., 2, :], h, strict=True)
    h_prev = h0
    for h_proj_t, x_rz, h_rz, x_n, h_n, rz_t, r_t, z_t, n_t, h_t in steps:
        w_hh_times(h_prev, h_proj_t)
        h_proj_t += bias_hh  # W_hh h_{t-1} + b_hh
        np.add(x_rz, h_rz, out=rz_t)
        _sigmoid_inplace(rz_t)  # r, z
        np.multiply(r_t, h_n, out=n_t)
        n_t += x_n
        np.tanh(n_t, out=n_t)  # n = tanh(x part + r * h part)
        np.subtract(h_prev, n_t, out=h_t)
        h_t *= z_t
        h_t += n_t  # h_t = n + z * (h_{t-1} - n) = (1 - z) n + z h_{t-1}
        h_prev = h_t
    return Run(h=h, act=act, h_proj=h_proj)


def gru_step(gx, gh, h, c=None, nonlinearity="tanh"):
    """rnn_step's twin for the GRU: gx, gh (..., 3H) in blocks r, z, n; returns (h', None)."""
    H = h.shape[-1]
    r, z = sigmoid(gx[..., :H] + gh[..., :H]), sigmoid(gx[..., H : 2 * H] + gh[..., H : 2 * H])
    n = anp.tanh(gx[..., 2 * H :] + r * gh[..., 2 * H :])  # r gates the recurrent part only
    return n + z * (h - n), None  # h' = (1 - z) * n + z * h


def gru_local(run: Run, h_prev, c_prev, nonlinearity) -> dict[str, np.ndarray]:
    """The GRU's local derivatives dh_t/d(pre-activation) of r, z, n for all steps.

    dx_pre (T, ..., 3, H) is for the input side; dh_pre for the recurrent side, which differs in
    the n block: n's recurrent part is multiplied by r before the tanh. z (T, ..., H) is the
    direct path h_t = ... + z h_{t-1}.
    """
    act = run.act
    r, z, n = (act[..., k, :] for k in range(3))
    h_proj_n = _blocks(run.h_proj, 3)[..., 2, :]  # W_hn h_{t-1} + b_hn
    dn_pre = (1.0 - z) * (1.0 - n * n)  # h = (1-z) n + z h_prev, n = tanh(.) -> dh/d(n pre)
    dx_pre = np.stack([dn_pre * h_proj_n * r * (1.0 - r), (h_prev - n) * z * (1.0 - z), dn_pre], -2)
    dh_pre = dx_pre.copy()
    dh_pre[..., 2, :] *= r
    return {"dx_pre": dx_pre, "dh_pre": dh_pre, "z": z}


def gru_backward(run: Run, h_prev, c_prev, weight_hh, dL_dh, nonlinearity, dL_dc_last=None) -> BackRun:
    """BPTT for the GRU; dL_dh (T, ..., H). One rule per line, for t = T..1 (nothing from T+1):

        dh_t       = dL_dh_t + z_{t+1} dh_{t+1} + W_hh^T dpre_h_{t+1}   h_{t+1} = ... + z h_t, and h_t feeds the gates
        dpre_n_t   = dh_t (1 - z_t)(1 - n_t^2)                          h_t = (1 - z) n + z h_{t-1}, n = tanh(.)
        dpre_z_t   = dh_t (h_{t-1} - n_t) z_t (1 - z_t)                 z = sigmoid(pre_z)
        dpre_r_t   = dpre_n_t (W_hn h_{t-1} + b_hn) r_t (1 - r_t)       pre_n = x part + r (W_hn h_{t-1} + b_hn)
        dpre_h_t   = dpre_t, its n block times r_t                      the recurrent part enters n through r
        dh_0       = z_1 dh_1 + W_hh^T dpre_h_1
    """
    loc = gru_local(run, h_prev, c_prev, nonlinearity)
    dx_pre, dh_pre, z = loc["dx_pre"], loc["dh_pre"], loc["z"]
    dh = np.empty_like(dL_dh)
    dpre_h = np.empty_like(run.act)
    dh_next = np.zeros_like(dL_dh[0])
    through_w = np.empty_like(dL_dh[0])
    dpre_h_flat = dpre_h.reshape(*dpre_h.shape[:-2], -1)  # (T, ..., 3H)
    w_hh_T_times = _matvec(weight_hh.T, dL_dh.ndim == 3)
    back = slice(None, None, -1)  # t = T..1
    steps = zip(dL_dh[back], dh_pre[back], z[back], dh[back], dh[back][..., None, :],
                dpre_h[back], dpre_h_flat[back], strict=True)
    for dL_dh_t, dh_pre_t, z_t, dh_t, dh_t_bcast, dpre_h_t, dpre_h_flat_t in steps:
        np.add(dL_dh_t, dh_next, out=dh_t)
        np.multiply(dh_pre_t, dh_t_bcast, out=dpre_h_t)
        w_hh_T_times(dpre_h_flat_t, through_w)  # W_hh^T dpre_h
        dh_next = dh_t * z_t  # h_t = ... + z * h_{t-1}: the direct path
        dh_next += through_w
    dpre_x = dx_pre * dh[..., None, :]  # needed only after the loop: one vectorised product
    return BackRun(dh=dh, dx_proj=dpre_x.reshape(dpre_h_flat.shape), dh_proj=dpre_h_flat, dh0=dh_next)


def gru_edge_grads(run: Run, back, weight_hh) -> dict[str, np.ndarray]:
    """(T, ..., H) gradient along each edge at step t: "hh" h_t -> h_{t-1}, directly and through W_hh."""
    return {"hh": back.dh * run.act[..., 1, :] + back.dh_proj @ weight_hh}


def gru_rows(loc, k, weight_hh, rows_h, rows_c, spread):
    """Rows R of d(out)/dh_t -> those of d(out)/dh_{t-1} across step t = k + 1:
    R diag(z_t) + (R spread over the r, z, n blocks by their local derivatives) W_hh."""
    H = rows_h.shape[1]
    np.multiply(rows_h[:, None, :], loc["dh_pre"][k][None], out=spread)
    return rows_h * loc["z"][k] + spread.reshape(H, 3 * H) @ weight_hh, None


def gru_step_jacobians(loc, w, steps) -> dict[str, np.ndarray]:
    """{"hh": dh_t/dh_{t-1} = diag(z_t) + sum over blocks diag(dh_pre) W_h*} at the 0-based steps."""
    coef, z = loc["dh_pre"][steps], loc["z"][steps]
    eye = np.eye(w.shape[-1])[None]
    hh = z[:, :, None] * eye + _diag_times(coef[:, 0], w[0]) + _diag_times(coef[:, 1], w[1])
    return {"hh": hh + _diag_times(coef[:, 2], w[2])}


# --------------------------------------------------------------------------------------------
# The table: each kind's facts and math, looked up by name
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellKind:
    """One kind of cell the engine runs: its facts, and its math from the sections above.

    Every function takes the same arguments across kinds, so engine.py and analysis.py call
    them without knowing which cell they run:
      forward(x_proj, weight_hh, bias_hh, h0, c0, nonlinearity) -> Run
      local(run, h_prev, c_prev, nonlinearity) -> dict of (T, ...) local derivatives
      backward(run, h_prev, c_prev, weight_hh, dL_dh, nonlinearity, dL_dc_last=None) -> BackRun
        (dL_dc_last: a gradient reaching the last cell state from outside; None without a cell state)
      edge_grads(run, backward, weight_hh) -> edge -> (T, ..., H) gradient along that edge
      rows(local, k, weight_hh, rows_h, rows_c, spread) -> the rows one step further back
      step_jacobians(local, weight_hh blocks (G, H, H), steps (n,)) -> name -> (n, H, H)
      slopes(run, nonlinearity) -> activation -> its derivative over the maximum, in [0, 1];
        None for a gated cell: its gates' own (activation_slopes)
      step(gx, gh, h, c, nonlinearity="tanh") -> (h', c'): one step from the two projections, any
        leading axes, in autograd.numpy (differentiable; for models autograd trains, attention.py)
    """

    key: str  # "rnn", "lstm", "gru"
    label: str  # "RNN", "LSTM", "GRU"
    article: str  # "a" or "an", as in "an LSTM's shape"
    blocks: tuple[str, ...]  # row blocks of weight_ih / weight_hh, in PyTorch's order
    gates: tuple[str, ...]  # Trace.gates, in the order of Trace.act's axis -2
    sigmoid_gates: frozenset[str]  # gates squashed into [0, 1]; the others by tanh
    has_cell_state: bool  # an LSTM-style c_t beside h_t
    step_vectors: tuple[str, ...]  # the vectors of one step, in reading order (Step page)
    forward: Callable[..., Run]
    local: Callable[..., dict]
    backward: Callable[..., BackRun]
    edge_grads: Callable[..., dict]
    rows: Callable
    step_jacobians: Callable[..., dict]
    step: Callable[..., tuple]
    slopes: Callable[..., dict] | None = None
    nonlinearities: tuple[str, ...] = ("tanh",)  # the `nonlinearity` values that mean something for it
    forget_gate: str | None = None  # the block whose bias init_params(forget_bias=) sets
    gated_recurrence: Mapping[str, str] = field(default_factory=dict, hash=False)  # block -> the gate that
    #                                   multiplies its recurrent part before the squash (GRU n: r)
    gamma: float | None = None  # a bound on |phi'|, for Pascanu et al.'s bound on the gradient
    #                             (diag(phi') W_hh is each step's Jacobian); None for gated cells
    memory_gate: str | None = None  # the gate that multiplies the old state itself, so that near 1 it
    #                                 keeps it: LSTM f (c_t = f c_{t-1} + ...), GRU z (h_t = ... + z h_{t-1})

    @property
    def G(self) -> int:
        """The number of row blocks in weight_ih and weight_hh."""
        return len(self.blocks)

    @property
    def named(self) -> str:
        """The kind with its article, for a sentence: "an LSTM"."""
        return f"{self.article} {self.label}"

    def activation_slopes(self, run: Run, nonlinearity: str) -> dict[str, np.ndarray]:
        """activation -> (T, ..., H) its derivative over the maximum: the cell's own rule (the
        RNN's phi'), else each gate's, sigmoid' / 0.25 or tanh'."""
        if self.slopes is not None:
            return self.slopes(run, nonlinearity)
        rel = _gate_slopes(run.act, tuple(g in self.sigmoid_gates for g in self.gates))
        return {g: rel[..., k, :] for k, g in enumerate(self.gates)}


KINDS: Registry[CellKind] = Registry("kind", [
    CellKind(
        "rnn", "RNN", "an", blocks=("h",), gates=(), sigmoid_gates=frozenset(), has_cell_state=False,
        step_vectors=("x", "h_prev", "a", "h"),
        forward=rnn_forward, local=rnn_local, backward=rnn_backward, edge_grads=rnn_edge_grads,
        rows=rnn_rows, step_jacobians=rnn_step_jacobians, step=rnn_step, slopes=rnn_slopes, gamma=1.0,
        nonlinearities=NONLINEARITIES,
    ),
    CellKind(
        "lstm", "LSTM", "an", blocks=("i", "f", "g", "o"), gates=("i", "f", "g", "o"), sigmoid_gates=frozenset("ifo"),
        has_cell_state=True, step_vectors=("x", "h_prev", "c_prev", "i", "f", "g", "o", "c", "h"),
        forward=lstm_forward, local=lstm_local, backward=lstm_backward, edge_grads=lstm_edge_grads,
        rows=lstm_rows, step_jacobians=lstm_step_jacobians, step=lstm_step, forget_gate="f", memory_gate="f",
    ),
    CellKind(
        "gru", "GRU", "a", blocks=("r", "z", "n"), gates=("r", "z", "n"), sigmoid_gates=frozenset("rz"),
        has_cell_state=False, step_vectors=("x", "h_prev", "r", "z", "n", "h"),
        forward=gru_forward, local=gru_local, backward=gru_backward, edge_grads=gru_edge_grads,
        rows=gru_rows, step_jacobians=gru_step_jacobians, step=gru_step, gated_recurrence={"n": "r"},
        memory_gate="z",
    ),
])
# Views of the table for the public API (rnnviz.BLOCKS["lstm"], rnnviz.GATES["gru"]).
BLOCKS = {key: kind.blocks for key, kind in KINDS.items()}
GATES = {key: kind.gates for key, kind in KINDS.items()}


# --------------------------------------------------------------------------------------------
# The cells the app offers: an engine kind with its options, and how the app names and draws it
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One choice of cell: the pages' selectboxes, the URL's `cell=` values, training's `cell`."""

    key: str  # the URL value, e.g. "rnn-relu"
    label: str  # e.g. "RNN (ReLU)"
    kind: str  # a key of KINDS
    colour: str  # a name in figures.theme.COLOURS, the cell's line colour
    nonlinearity: str = "tanh"  # for kind "rnn": "tanh" or "relu"
    init: Mapping[str, object] = field(default_factory=dict, hash=False)  # extra init_params
    #                                   keyword arguments, e.g. {"hh_init": "orthogonal"}

    @property
    def spec(self) -> CellKind:
        """The engine kind's facts and math."""
        return KINDS[self.kind]

    @property
    def has_cell_state(self) -> bool:
        return self.spec.has_cell_state

    @property
    def has_forget_gate(self) -> bool:
        return self.spec.forget_gate is not None


CELLS: Registry[Cell] = Registry("cell", [
    Cell("rnn-tanh", "RNN (tanh)", "rnn", colour="vermillion"),
    Cell("rnn-relu", "RNN (ReLU)", "rnn", colour="vermillion", nonlinearity="relu"),
    Cell("lstm", "LSTM", "lstm", colour="blue"),
    Cell("gru", "GRU", "gru", colour="green"),
])


class CellChoice:
    """For a dataclass with a `cell` key of CELLS: the engine's kind and nonlinearity, and a copy
    with changes."""

    cell: str

    @property
    def kind(self) -> str:
        return CELLS[self.cell].kind

    @property
    def nonlinearity(self) -> str:
        return CELLS[self.cell].nonlinearity

    def with_(self, **changes):
        return replace(self, **changes)


def overlay_cells(cell: str) -> list[str]:
    """The cells drawn beside `cell` for comparison: the first cell of every other kind."""
    main_kind = CELLS[cell].kind
    firsts = {}
    for key, other in CELLS.items():
        firsts.setdefault(other.kind, key)
    return [key for kind, key in firsts.items() if kind != main_kind]


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------

PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
HH_INITS = ("uniform", "orthogonal")


def init_params(
    kind: str,
    input_size: int,
    hidden_size: int,
    seed: int = 0,
    *,
    hh_init: str = "uniform",
    spectral_radius: float | None = None,
    forget_bias: float | None = None,
) -> dict[str, np.ndarray]:
    """PyTorch's default init: every entry from U(-1/sqrt(H), 1/sqrt(H)), seeded.

    weight_ih (G*H, I), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,).
    hh_init="orthogonal" draws each H x H block of weight_hh as a random orthogonal matrix.
    spectral_radius rescales each H x H block of weight_hh to that largest |eigenvalue|.
    forget_bias (LSTM only) sets the forget gate's total bias: bias_ih[f] = forget_bias and
    bias_hh[f] = 0.
    """
    spec = KINDS[kind]
    input_size = _check_size("input_size", input_size)
    hidden_size = _check_size("hidden_size", hidden_size)
    if hh_init not in HH_INITS:
        raise ValueError(f"hh_init must be one of {HH_INITS}, got {hh_init!r}")
    if spectral_radius is not None and not (np.isfinite(spectral_radius) and spectral_radius >= 0):
        raise ValueError(f"spectral_radius must be a finite number >= 0, got {spectral_radius!r}")
    if forget_bias is not None:
        if spec.forget_gate is None:
            with_gate = [k for k, s in KINDS.items() if s.forget_gate is not None]
            raise ValueError(f"forget_bias applies to kind={' or '.join(map(repr, with_gate))} only, got kind={kind!r}")
        if not np.isfinite(forget_bias):
            raise ValueError(f"forget_bias must be finite, got {forget_bias!r}")
    G, H, I = spec.G, hidden_size, input_size
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(H)
    params = {
        "weight_ih": rng.uniform(-k, k, (G * H, I)),
        "weight_hh": rng.uniform(-k, k, (G * H, H)),
        "bias_ih": rng.uniform(-k, k, G * H),
        "bias_hh": rng.uniform(-k, k, G * H),
    }
    blocks = params["weight_hh"].reshape(G, H, H)  # a view: edits below change weight_hh
    if hh_init == "orthogonal":
        for b in range(G):
            blocks[b] = random_orthogonal(H, rng)
    if spectral_radius is not None:
        for b in range(G):
            blocks[b] = with_spectral_radius(blocks[b], spectral_radius)
    if forget_bias is not None:
        block = spec.blocks.index(spec.forget_gate)
        rows = slice(block * H, (block + 1) * H)
        params["bias_ih"][rows] = forget_bias
        params["bias_hh"][rows] = 0.0
    return params


def random_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal (n, n) matrix: QR of a Gaussian, signs fixed by diag(R)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def with_spectral_radius(w: np.ndarray, radius: float) -> np.ndarray:
    """w (n, n) rescaled so that its largest |eigenvalue| is radius (unchanged if it is 0)."""
    current = np.max(np.abs(np.linalg.eigvals(w)))
    return w * (radius / current) if current > 0 else w.copy()


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
