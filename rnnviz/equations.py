"""The cell's equations for one unit at one step, as LaTeX with the live numbers plugged in.

The gate lines come from the cell's facts (cells.KINDS: its gates, which are sigmoids, which
block's recurrent part a gate multiplies); the lines that update the state differ by cell and
are written out once each, in STATE_LINES.
"""

from __future__ import annotations

import numpy as np

from .cells import KINDS
from .engine import Trace


def num(x: float) -> str:
    """A number for an equation: 3 significant digits, negatives in parentheses."""
    if not np.isfinite(x):
        return r"\infty" if x > 0 else (r"-\infty" if x < 0 else r"\mathrm{NaN}")
    text = f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"
    if "e" in text:
        mantissa, exp = text.split("e")
        text = rf"{mantissa}\times10^{{{int(exp)}}}"
    return f"({text})" if x < 0 else text


def _gate_line(name: str, t: int, j: int, v: dict) -> str:
    """g_t[j] = squash(input part + recurrent part) = value, the recurrent part times its gate if it has one."""
    spec = v["spec"]
    fn = r"\sigma" if name in spec.sigmoid_gates else r"\tanh"
    px, ph = num(v["pre_x"][name]), num(v["pre_h"][name])
    gate = spec.gated_recurrence.get(name)
    inner = f"{px} + {ph}" if gate is None else rf"{px} + {num(v['gates'][gate])} \times {ph}"
    return rf"{name}_{{{t}}}[{j}] = {fn}\!\left({inner}\right) = {num(v['gates'][name])}"


def _rnn_state(t: int, j: int, v: dict) -> list[str]:
    fn = r"\tanh" if v["nonlinearity"] == "tanh" else r"\mathrm{relu}"
    return [
        rf"h_{{{t}}}[{j}] = {fn}\!\left(\underbrace{{{num(v['pre_x']['h'])}}}_{{W_{{ih}}x_t+b_{{ih}}}}"
        rf" + \underbrace{{{num(v['pre_h']['h'])}}}_{{W_{{hh}}h_{{t-1}}+b_{{hh}}}}\right) = {num(v['h'])}"
    ]


def _lstm_state(t: int, j: int, v: dict) -> list[str]:
    g = v["gates"]
    return [
        rf"\begin{{aligned}} c_{{{t}}}[{j}] &= f \cdot c_{{{t - 1}}} + i \cdot g \\"
        rf" &= {num(g['f'])} \times {num(v['c_prev'])} + {num(g['i'])} \times {num(g['g'])} = {num(v['c'])}"
        rf" \end{{aligned}}",
        rf"h_{{{t}}}[{j}] = o \cdot \tanh(c_{{{t}}}) = {num(g['o'])} \times \tanh({num(v['c'])}) = {num(v['h'])}",
    ]


def _gru_state(t: int, j: int, v: dict) -> list[str]:
    g = v["gates"]
    return [
        rf"\begin{{aligned}} h_{{{t}}}[{j}] &= (1 - z)\, n + z\, h_{{{t - 1}}} \\"
        rf" &= (1 - {num(g['z'])}) \times {num(g['n'])} + {num(g['z'])} \times {num(v['h_prev'])} = {num(v['h'])}"
        rf" \end{{aligned}}",
    ]


STATE_LINES = {"rnn": _rnn_state, "lstm": _lstm_state, "gru": _gru_state}  # kind -> its state update


def step_equations(trace: Trace, t: int, j: int) -> list[str]:
    """LaTeX lines for unit j (0-based) at step t (1-based): each gate, then the new state.

    Each gate's pre-activation is split into its input part W_i* x_t + b_i* and its recurrent
    part W_h* h_{t-1} + b_h*, as the engine computes them.
    """
    k = t - 1
    at = lambda a: None if a is None else float(a[k, j])  # noqa: E731  one unit at step t
    v = {
        "spec": KINDS[trace.kind], "nonlinearity": trace.nonlinearity,
        "pre_x": {b: at(a) for b, a in trace.pre_x.items()}, "pre_h": {b: at(a) for b, a in trace.pre_h.items()},
        "gates": {name: at(a) for name, a in trace.gates.items()},
        "h_prev": at(trace.h_prev), "h": at(trace.h), "c_prev": at(trace.c_prev), "c": at(trace.c),
    }
    return [*(_gate_line(name, t, j, v) for name in v["spec"].gates), *STATE_LINES[trace.kind](t, j, v)]
