"""The plain unrolled equations, differentiated by autograd: the oracle for the hand-written BPTT.

Nothing here is fast and nothing here is clever: each cell is written exactly as the PyTorch
docs state it, one step at a time, with no precomputation. Tests compare engine.bptt against
`autograd_bptt`, and benchmarks/engine.py times the engine against it.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import grad

from .cells import KINDS
from .numerics import sigmoid


def _rnn_step(gx, gh, h, c, nonlinearity, c_tap):
    a = gx + gh
    return (anp.tanh(a) if nonlinearity == "tanh" else anp.maximum(a, 0.0)), None


def _lstm_step(gx, gh, h, c, nonlinearity, c_tap):
    H = h.shape[0]
    i = sigmoid(gx[:H] + gh[:H])
    f = sigmoid(gx[H : 2 * H] + gh[H : 2 * H])
    g = anp.tanh(gx[2 * H : 3 * H] + gh[2 * H : 3 * H])
    o = sigmoid(gx[3 * H :] + gh[3 * H :])
    c_new = f * c + i * g + c_tap
    return o * anp.tanh(c_new), c_new


def _gru_step(gx, gh, h, c, nonlinearity, c_tap):
    H = h.shape[0]
    r = sigmoid(gx[:H] + gh[:H])
    z = sigmoid(gx[H : 2 * H] + gh[H : 2 * H])
    n = anp.tanh(gx[2 * H :] + r * gh[2 * H :])
    return (1.0 - z) * n + z * h, None


# Written apart from cells.py on purpose: the oracle must not share the engine's derivation.
PLAIN_STEPS = {"rnn": _rnn_step, "lstm": _lstm_step, "gru": _gru_step}


def plain_step(kind, params, x, h, c, nonlinearity="tanh", c_tap=0.0):
    """One step of the cell on x (I,), h (H,), c (H,) or None; returns (h', c').

    c_tap (H,) is added to the LSTM's new cell state before h' reads it (see plain_forward).
    """
    w_ih, w_hh, b_ih, b_hh = (params[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    gx = anp.dot(w_ih, x) + b_ih  # (G*H,)
    gh = anp.dot(w_hh, h) + b_hh  # (G*H,)
    return PLAIN_STEPS[kind](gx, gh, h, c, nonlinearity, c_tap)


def plain_forward(kind, params, xs, h0, c0=None, nonlinearity="tanh", dh_taps=None, dc_taps=None):
    """Unrolled forward over xs (T, I). Returns (hs (T, H), cs (T, H) or None).

    dh_taps / dc_taps (T, H), added to each h_t / c_t, let autograd read the total gradient
    with respect to every state: d loss / d tap_t at tap = 0 is dL/dh_t.
    """
    h, c = h0, c0
    hs, cs = [], []
    for t in range(xs.shape[0]):
        c_tap = dc_taps[t] if dc_taps is not None else 0.0
        h, c = plain_step(kind, params, xs[t], h, c, nonlinearity, c_tap)
        if dh_taps is not None:
            h = h + dh_taps[t]
        hs.append(h)
        cs.append(c)
    return anp.stack(hs), (anp.stack(cs) if c is not None else None)


def autograd_bptt(kind, params, xs, dL_dh, h0=None, c0=None, nonlinearity="tanh") -> dict:
    """The gradients engine.bptt returns, computed by autograd through the plain equations.

    The loss is sum_t dL_dh[t] . h_t, whose gradient reaching each h_t from outside is dL_dh.
    Returns a dict with "dh", "dc", "dh0", "dc0", "dxs" and "params".
    """
    T, H = dL_dh.shape
    has_c = KINDS[kind].has_cell_state
    h0 = np.zeros(H) if h0 is None else h0
    if has_c:
        c0 = np.zeros(H) if c0 is None else c0

    def loss(v):
        hs, _ = plain_forward(kind, v["params"], v["xs"], v["h0"], v.get("c0"), nonlinearity,
                              v["dh_taps"], v.get("dc_taps"))
        return anp.sum(hs * dL_dh)

    inputs = {"params": dict(params), "xs": xs, "h0": h0, "dh_taps": np.zeros((T, H))}
    if has_c:
        inputs |= {"c0": c0, "dc_taps": np.zeros((T, H))}
    g = grad(loss)(inputs)
    return {
        "dh": g["dh_taps"], "dc": g.get("dc_taps"), "dh0": g["h0"], "dc0": g.get("c0"),
        "dxs": g["xs"], "params": g["params"],
    }
