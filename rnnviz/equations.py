"""The cell's equations for one unit at one step, as LaTeX with the live numbers plugged in."""

from __future__ import annotations

import numpy as np

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


def _gate(name: str, fn: str, t: int, j: int, pre_x: float, pre_h: float, value: float,
          product: float | None = None) -> str:
    inner = f"{num(pre_x)} + {num(pre_h)}" if product is None else f"{num(pre_x)} + {num(product)}"
    return rf"{name}_{{{t}}}[{j}] = \{fn}\!\left({inner}\right) = {num(value)}"


def step_equations(trace: Trace, t: int, j: int) -> list[str]:
    """LaTeX lines for unit j (0-based) at step t (1-based): each gate, then the new state.

    Each gate's pre-activation is split into its input part W_i* x_t + b_i* and its recurrent
    part W_h* h_{t-1} + b_h*, as the engine computes them.
    """
    k = t - 1
    px = {b: float(v[k, j]) for b, v in trace.pre_x.items()}
    ph = {b: float(v[k, j]) for b, v in trace.pre_h.items()}
    h_prev = float(trace.h_prev[k, j])
    h = float(trace.h[k, j])
    if trace.kind == "rnn":
        fn = r"\tanh" if trace.nonlinearity == "tanh" else r"\mathrm{relu}"
        return [
            rf"h_{{{t}}}[{j}] = {fn}\!\left(\underbrace{{{num(px['h'])}}}_{{W_{{ih}}x_t+b_{{ih}}}}"
            rf" + \underbrace{{{num(ph['h'])}}}_{{W_{{hh}}h_{{t-1}}+b_{{hh}}}}\right) = {num(h)}"
        ]
    g = {name: float(v[k, j]) for name, v in trace.gates.items()}
    if trace.kind == "lstm":
        c_prev, c = float(trace.c_prev[k, j]), float(trace.c[k, j])
        return [
            _gate("i", "sigma", t, j, px["i"], ph["i"], g["i"]),
            _gate("f", "sigma", t, j, px["f"], ph["f"], g["f"]),
            _gate("g", "tanh", t, j, px["g"], ph["g"], g["g"]),
            _gate("o", "sigma", t, j, px["o"], ph["o"], g["o"]),
            rf"\begin{{aligned}} c_{{{t}}}[{j}] &= f \cdot c_{{{t - 1}}} + i \cdot g \\"
            rf" &= {num(g['f'])} \times {num(c_prev)} + {num(g['i'])} \times {num(g['g'])} = {num(c)}"
            rf" \end{{aligned}}",
            rf"h_{{{t}}}[{j}] = o \cdot \tanh(c_{{{t}}}) = {num(g['o'])} \times \tanh({num(c)}) = {num(h)}",
        ]
    # GRU: the recurrent part of n is multiplied by r before the tanh
    return [
        _gate("r", "sigma", t, j, px["r"], ph["r"], g["r"]),
        _gate("z", "sigma", t, j, px["z"], ph["z"], g["z"]),
        rf"n_{{{t}}}[{j}] = \tanh\!\left({num(px['n'])} + {num(g['r'])} \times {num(ph['n'])}\right)"
        rf" = {num(g['n'])}",
        rf"\begin{{aligned}} h_{{{t}}}[{j}] &= (1 - z)\, n + z\, h_{{{t - 1}}} \\"
        rf" &= (1 - {num(g['z'])}) \times {num(g['n'])} + {num(g['z'])} \times {num(h_prev)} = {num(h)}"
        rf" \end{{aligned}}",
    ]
