"""The cell's equations for one unit j, with the live numbers of step t plugged in and every term named.

`step_equations` returns a figures.steps.StepBlock: lines of trusted markup and number references
(Cell) that the browser evaluates at each t, so the equations move with the step control. Each
number carries the term it is, written under it (W_ii x_t + b_ii, f_t, c_t−1, …), as PyTorch's
documentation names the weights. The gate lines come from the cell's facts (cells.KINDS: its
gates, which are sigmoids, which block's recurrent part a gate multiplies); the lines that update
the state differ by cell and are written out once each, in STATE_LINES.
"""

from __future__ import annotations

import numpy as np

from .cells import KINDS
from .engine import Trace
from .figures.steps import Cell, Label, StepBlock, StepNumber


def num(x: float) -> str:
    """A number as the equations print it: 3 significant digits, negatives in parentheses."""
    if not np.isfinite(x):
        return "∞" if x > 0 else ("−∞" if x < 0 else "NaN")
    text = f"{abs(x):.3g}" if abs(x) >= 1e-3 or x == 0 else f"{abs(x):.2e}"
    if "e" in text:
        mantissa, exp = text.split("e")
        text = f"{float(mantissa):g}×10^{int(exp)}"
    return f"(−{text})" if x < 0 else text


def _sub(name: str, sub: str) -> str:
    return f"{name}<sub>{sub}</sub>"


def _term(array: str, caption: str) -> tuple:
    """A number with the term it is written under it."""
    return (Cell(array, 0), caption)


def _input_part(block: str) -> str:
    return f"W<sub>i{block}</sub>x<sub>t</sub> + b<sub>i{block}</sub>"


def _recurrent_part(block: str) -> str:
    return f"W<sub>h{block}</sub>h<sub>t−1</sub> + b<sub>h{block}</sub>"


def _lhs(name: str, j: int) -> list:
    return [f"{name}<sub>t</sub>[{j}] = "]


def _gate_line(spec, name: str, j: int) -> list:
    """g_t[j] = squash(input part + recurrent part) = value; the recurrent part times its gate if it has one."""
    fn = "σ" if name in spec.sigmoid_gates else "tanh"
    gate = spec.gated_recurrence.get(name)
    line = [*_lhs(name, j), f"{fn}(", _term(f"pre_x.{name}", _input_part(name)), " + "]
    if gate is not None:
        line += [_term(gate, _sub(gate, "t")), " × "]
    line += [_term(f"pre_h.{name}", _recurrent_part(name)), ") = ", _term(name, _sub(name, "t"))]
    return line


def _rnn_state(j: int, nonlinearity: str) -> list[list]:
    return [[*_lhs("h", j), f"{nonlinearity}(", _term("pre_x.h", _input_part("h")), " + ",
             _term("pre_h.h", "W<sub>hh</sub>h<sub>t−1</sub> + b<sub>hh</sub>"), ") = ", _term("h", "h<sub>t</sub>")]]


def _lstm_state(j: int, nonlinearity: str) -> list[list]:
    return [
        [*_lhs("c", j), _term("f", "f<sub>t</sub>"), " × ", _term("c_prev", "c<sub>t−1</sub>"), " + ",
         _term("i", "i<sub>t</sub>"), " × ", _term("g", "g<sub>t</sub>"), " = ", _term("c", "c<sub>t</sub>")],
        [*_lhs("h", j), _term("o", "o<sub>t</sub>"), " × tanh(", _term("c", "c<sub>t</sub>"), ") = ",
         _term("h", "h<sub>t</sub>")],
    ]


def _gru_state(j: int, nonlinearity: str) -> list[list]:
    return [[*_lhs("h", j), "(1 − ", _term("z", "z<sub>t</sub>"), ") × ", _term("n", "n<sub>t</sub>"), " + ",
             _term("z", "z<sub>t</sub>"), " × ", _term("h_prev", "h<sub>t−1</sub>"), " = ",
             _term("h", "h<sub>t</sub>")]]


STATE_LINES = {"rnn": _rnn_state, "lstm": _lstm_state, "gru": _gru_state}  # kind -> its state update


def step_equations(trace: Trace, j: int, labels) -> StepBlock:
    """The equations of unit j (0-based) at every step: each gate, then the new state.

    Each gate's pre-activation is split into its input part W_i* x_t + b_i* and its recurrent
    part W_h* h_{t-1} + b_h*, as the engine computes them. labels (T,): what each step reads.
    """
    spec = KINDS[trace.kind]
    column = lambda a: np.asarray(a)[:, [j]]  # noqa: E731  (T, 1): unit j at every step
    arrays = {f"pre_x.{b}": column(a) for b, a in trace.pre_x.items()}
    arrays |= {f"pre_h.{b}": column(a) for b, a in trace.pre_h.items()}
    arrays |= {name: column(a) for name, a in trace.gates.items()}
    arrays |= {"h": column(trace.h), "h_prev": column(trace.h_prev)}
    if trace.c is not None:
        arrays |= {"c": column(trace.c), "c_prev": column(trace.c_prev)}
    lines = [[f"Unit j = {j} at step t = ", StepNumber(), ", reading ‘", Label(), "’:"]]
    lines += [_gate_line(spec, name, j) for name in spec.gates]
    lines += STATE_LINES[trace.kind](j, trace.nonlinearity)
    return StepBlock(tuple(tuple(line) for line in lines), arrays, tuple(labels))
