"""The equations of the vanilla RNN, LSTM and GRU cells, forward and backward, side by side.

PyTorch's conventions (nn.RNNCell, nn.LSTMCell, nn.GRUCell): both biases are added, LSTM gate
rows are ordered i, f, g, o and GRU rows r, z, n. Each cell has a forward loop over time and a
backward loop (backprop through time) right below it, written for a reader first and for speed
second: the input projections of all steps are computed before the loop, and each step does one
matrix product with W_hh. Every elementwise derivative that does not depend on the incoming
gradient is precomputed for all steps at once, so the backward loop only chains products.

Shapes: T steps, I inputs, H hidden units, G gate blocks (1, 4, 3). The loops are written for
(T, ..., H): one sequence (T, H), or a batch (T, B, H); the step views are (H,) or (B, H).
"""

from __future__ import annotations

import numpy as np

KINDS = ("rnn", "lstm", "gru")
NONLINEARITIES = ("tanh", "relu")

# Names of the row blocks of weight_ih / weight_hh, in PyTorch's order. The RNN has one block,
# named "h" after the state it produces.
BLOCKS = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
GATES = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
# Blocks squashed by a sigmoid (values in [0, 1]); the others use tanh (or ReLU for the RNN).
SIGMOID_BLOCKS = frozenset({"i", "f", "o", "r", "z"})


def n_blocks(kind: str) -> int:
    """G: the number of row blocks in weight_ih and weight_hh."""
    return len(BLOCKS[kind])


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), as PyTorch computes it; exp overflow gives exactly 0."""
    return 1.0 / (1.0 + np.exp(-x))


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
    """a <- sigmoid(a) without temporaries (the forward loops' hot path)."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1.0
    np.reciprocal(a, out=a)


# --------------------------------------------------------------------------------------------
# Vanilla RNN:  h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),  phi = tanh or relu
# --------------------------------------------------------------------------------------------


def rnn_forward(pre_in, weight_hh, h0, nonlinearity):
    """pre_in (T, ..., H) = W_ih x_t + b_ih + b_hh; h0 (..., H). Returns pre = a_t, h (T, ..., H)."""
    pre = np.empty_like(pre_in)  # a_t, the full pre-activation
    h = np.empty_like(pre_in)
    w_hh_times = _matvec(weight_hh, h0.ndim == 2)
    squash = np.tanh if nonlinearity == "tanh" else _relu
    h_prev = h0
    # Per-step views are made once by zip: inside the loop a view costs as much as the math.
    for pre_in_t, a_t, h_t in zip(pre_in, pre, h, strict=True):
        w_hh_times(h_prev, a_t)  # W_hh h_{t-1}
        a_t += pre_in_t  # + W_ih x_t + b_ih + b_hh
        squash(a_t, out=h_t)
        h_prev = h_t
    return pre, h


def _relu(a, out):
    return np.maximum(a, 0.0, out=out)


def rnn_local(h, pre, nonlinearity):
    """phi'(a_t) for all steps (T, ..., H): tanh' = 1 - h^2; relu' = 1 where a > 0, 0 at the kink."""
    return 1.0 - h * h if nonlinearity == "tanh" else (pre > 0.0).astype(float)


def rnn_backward(h, pre, weight_hh, dL_dh, nonlinearity):
    """BPTT for the RNN. h, pre = a_t, dL_dh: (T, ..., H). Returns dh, dpre (T, ..., H), dh0."""
    dphi = rnn_local(h, pre, nonlinearity)
    dh = np.empty_like(h)  # total dL/dh_t
    dpre = np.empty_like(h)  # dL/da_t
    dh_next = np.zeros_like(h[0])  # dL/dh_t arriving through step t+1
    w_hh_T_times = _matvec(weight_hh.T, h.ndim == 3)
    back = slice(None, None, -1)  # t = T..1
    for dL_dh_t, dphi_t, dh_t, dpre_t in zip(dL_dh[back], dphi[back], dh[back], dpre[back], strict=True):
        np.add(dL_dh_t, dh_next, out=dh_t)  # from the readout + from the future
        np.multiply(dh_t, dphi_t, out=dpre_t)  # chain through phi
        w_hh_T_times(dpre_t, dh_next)  # a_t = W_hh h_{t-1} + ...  ->  W_hh^T dpre
    return dh, dpre, dh_next


# --------------------------------------------------------------------------------------------
# LSTM:  i, f, o = sigmoid(.), g = tanh(.) of W_i* x_t + b_i* + W_h* h_{t-1} + b_h*
#        c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
# --------------------------------------------------------------------------------------------


def lstm_forward(pre_in, weight_hh, h0, c0):
    """pre_in (T, ..., 4H) = W_ih x_t + b_ih + b_hh; h0, c0 (..., H).

    Returns act (T, ..., 4, H) = i, f, g, o; c, tanh_c, h (T, ..., H).
    """
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
    return act, c, tanh_c, h


def lstm_local(act, c_prev, tanh_c):
    """The LSTM's local derivatives for all steps: (dc_from_dh, do_pre, dc_pre_ifg).

    dc_from_dh (T, ..., H): h = o tanh(c)              -> dh/dc
    do_pre     (T, ..., H): h = o tanh(c), o = s(.)     -> dh/d(o pre-activation)
    dc_pre_ifg (T, ..., 3, H): c = f c_prev + i g       -> dc/d(pre-activation) of i, f, g
    """
    i, f, g, o = (act[..., k, :] for k in range(4))
    dc_from_dh = o * (1.0 - tanh_c * tanh_c)
    do_pre = tanh_c * o * (1.0 - o)
    dc_pre_ifg = np.stack([g * i * (1.0 - i), c_prev * f * (1.0 - f), i * (1.0 - g * g)], axis=-2)
    return dc_from_dh, do_pre, dc_pre_ifg


def lstm_backward(act, c_prev, tanh_c, weight_hh, dL_dh, dL_dc_last=None):
    """BPTT for the LSTM. act (T, ..., 4, H); c_prev, tanh_c, dL_dh (T, ..., H).

    dL_dc_last (..., H), if given, is a gradient reaching c_T from outside (e.g. a loss on c_n).
    Returns dh, dc (T, ..., H), dpre (T, ..., 4, H), dh0, dc0 (..., H).
    """
    f = act[..., 1, :]
    dc_from_dh, do_pre, dc_pre_ifg = lstm_local(act, c_prev, tanh_c)
    dh = np.empty_like(dL_dh)
    dc = np.empty_like(dL_dh)
    dpre = np.empty_like(act)
    dh_next = np.zeros_like(dL_dh[0])  # arriving through h_{t+1}'s gates
    # arriving through c_{t+1} = f_{t+1} * c_t + ...; at t = T, whatever reaches c_T from outside
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
    return dh, dc, dpre, dh_next, dc_next


# --------------------------------------------------------------------------------------------
# GRU:  r, z = sigmoid(W_i* x_t + b_i* + W_h* h_{t-1} + b_h*)
#       n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn)),   h_t = (1 - z) * n + z * h_{t-1}
# --------------------------------------------------------------------------------------------


def gru_forward(x_proj, weight_hh, bias_hh, h0):
    """x_proj (T, ..., 3H) = W_ih x_t + b_ih; h0 (..., H).

    Returns act (T, ..., 3, H) = r, z, n; h (T, ..., H); h_proj (T, ..., 3H) = W_hh h_{t-1} + b_hh.
    """
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
    return act, h, h_proj


def gru_local(act, h_prev, h_proj_n):
    """The GRU's local derivatives dh_t/d(pre-activation) of r, z, n for all steps: (dx_pre, dh_pre).

    dx_pre (T, ..., 3, H) is for the input side; dh_pre for the recurrent side, which differs in
    the n block: n's recurrent part is multiplied by r before the tanh. The direct path
    h_t = ... + z h_{t-1} adds z on top.
    """
    r, z, n = (act[..., k, :] for k in range(3))
    dn_pre = (1.0 - z) * (1.0 - n * n)  # h = (1-z) n + z h_prev, n = tanh(.) -> dh/d(n pre)
    dx_pre = np.stack([dn_pre * h_proj_n * r * (1.0 - r), (h_prev - n) * z * (1.0 - z), dn_pre], -2)
    dh_pre = dx_pre.copy()
    dh_pre[..., 2, :] *= r
    return dx_pre, dh_pre


def gru_backward(act, h_prev, h_proj_n, weight_hh, dL_dh):
    """BPTT for the GRU. act (T, ..., 3, H); h_prev, h_proj_n = W_hn h + b_hn, dL_dh (T, ..., H).

    Returns dh (T, ..., H), dpre_x, dpre_h (T, ..., 3, H), dh0 (..., H). The two pre-activation
    gradients differ in the n block: the recurrent part enters n multiplied by r.
    """
    z = act[..., 1, :]
    dx_pre, dh_pre = gru_local(act, h_prev, h_proj_n)
    dh = np.empty_like(dL_dh)
    dpre_h = np.empty_like(act)
    dh_next = np.zeros_like(dL_dh[0])
    through_w = np.empty_like(dL_dh[0])
    dpre_h_flat = dpre_h.reshape(*act.shape[:-2], -1)  # (T, ..., 3H)
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
    return dh, dpre_x, dpre_h, dh_next


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
    _check_kind(kind)
    input_size = _check_size("input_size", input_size)
    hidden_size = _check_size("hidden_size", hidden_size)
    if hh_init not in HH_INITS:
        raise ValueError(f"hh_init must be one of {HH_INITS}, got {hh_init!r}")
    if spectral_radius is not None and not (np.isfinite(spectral_radius) and spectral_radius >= 0):
        raise ValueError(f"spectral_radius must be a finite number >= 0, got {spectral_radius!r}")
    if forget_bias is not None:
        if kind != "lstm":
            raise ValueError(f"forget_bias applies to kind='lstm' only, got kind={kind!r}")
        if not np.isfinite(forget_bias):
            raise ValueError(f"forget_bias must be finite, got {forget_bias!r}")
    G, H, I = n_blocks(kind), hidden_size, input_size
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
        params["bias_ih"][H : 2 * H] = forget_bias
        params["bias_hh"][H : 2 * H] = 0.0
    return params


def random_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal (n, n) matrix: QR of a Gaussian, signs fixed by diag(R)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def with_spectral_radius(w: np.ndarray, radius: float) -> np.ndarray:
    """w (n, n) rescaled so that its largest |eigenvalue| is radius (unchanged if it is 0)."""
    current = np.max(np.abs(np.linalg.eigvals(w)))
    return w * (radius / current) if current > 0 else w.copy()


def _check_kind(kind) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
