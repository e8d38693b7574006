"""Figures of the Compare-cells page: how long each cell remembers, the gradient each step receives,
the gates that carry memory, and the numbers at step t; all follow the shared step cursor t.

Pure builders that take only what they draw: per cell (its label, its line colour's key) the arrays
over steps, the step labels and the display options. Each returns a figures.steps.StepFigure (or a
StepBlock), so the browser moves the cursor through t itself. Steps are 1-based.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..equations import num
from . import theme
from .steps import Cell, Label, StepBlock, StepFigure, StepNumber


@dataclass(frozen=True)
class Curve:
    """One line of a compare figure: a cell's values over the steps."""

    cell: str  # a key of cells.CELLS: its colour
    name: str  # the legend's text (Plotly rich text), e.g. "LSTM: ||h′ − h||"
    values: np.ndarray  # (T,)
    dash: str = "solid"


MEMORY_CAPTION = (
    "Each cell reads the input twice with the same weights: once as it is, once with step k changed (the dashed "
    "line). The curves are how far apart the two runs' hidden states are at every later step, on a log axis: a "
    "cell that forgets falls steeply, one that remembers stays up. Dashed blue: the LSTM's cell state c, where it "
    "keeps what it remembers. Below about 10⁻¹⁶ of the state's size the difference is float64 rounding; a curve "
    "that stops has fallen to exactly 0: nothing of the change is left at all."
)
def gradients_caption(trained: bool) -> str:
    """How to read the gradient plot; `trained`: each cell's own trained readout and task loss."""
    loss = ("each model's own trained readout and its task's loss" if trained
            else "the same readout and loss as on the Backprop page")
    return (f"The size of the gradient reaching each hidden state h_t from a loss on the last step, {loss}, "
            "computed by the engine's backprop through time. Read it from the right (the loss, t = T) to the left: "
            "a line that falls steeply going left is a vanishing gradient, one that stays flat carries the error "
            "signal back to early steps. The same kind of picture as the memory plot, read backwards.")
READINGS_CAPTION = ("The numbers under the cursor: what is left at step t of the change made at step k, the "
                    "gradient that reaches h_t, and the memory gates' average over the units at step t.")


def gates_caption(lstm_label: str, gru_label: str) -> str:
    """How to read the memory gates, in the conventions of cells.py (PyTorch's)."""
    return (f"The gates that decide, unit by unit, how much of the old state is kept. {lstm_label}: "
            "c_t = f_t × c_t−1 + i_t × g_t, so a forget gate f near 1 (yellow) keeps the cell state and near 0 "
            f"(dark) wipes it. {gru_label}: h_t = (1 − z_t) × n_t + z_t × h_t−1, so an update gate z near 1 keeps "
            "the old h and near 0 replaces it with the new candidate n. The RNN has no such gate: every step "
            "rewrites h through W_hh and tanh, so nothing protects what it held.")


def _cursor(xref: str, yref: str, present: bool) -> dict:
    return {"type": "line", "name": "cursor", "x0": StepNumber(), "x1": StepNumber(), "xref": xref, "y0": 0,
            "y1": 1, "yref": f"{yref} domain", "line": {"color": theme.CURSOR, "width": theme.sizes(present).line}}


def log_dtick(arrays, most: int = 7) -> int:
    """Decades between labelled ticks of a log axis over these values: 1, 2, 3, 5, 10 or 20, so that at most
    about `most` labels share the axis (a forgotten change spans 16 decades; the RNN's gradient, 30)."""
    finite = [np.asarray(a, dtype=float) for a in arrays]
    finite = np.concatenate([a[np.isfinite(a) & (a > 0)] for a in finite]) if finite else np.empty(0)
    if finite.size == 0:
        return 1
    span = np.ceil(np.log10(finite.max())) - np.floor(np.log10(finite.min()))
    return next((d for d in (1, 2, 3, 5, 10, 20) if span / d <= most), 50)


def _line(steps: np.ndarray, curve: Curve, present: bool, markers: bool) -> dict:
    s = theme.sizes(present)
    plain = curve.name.replace("<sub>", "_").replace("</sub>", "")
    return {"type": "scatter", "x": steps, "y": theme.log_values(curve.values), "name": curve.name,
            "mode": "lines+markers" if markers else "lines",
            "line": {"color": theme.cell_colour(curve.cell), "width": s.line, "dash": curve.dash},
            "marker": {"size": s.marker * 0.7}, "hovertemplate": f"{plain} at t = %{{x}}: %{{y:.3e}}<extra></extra>"}


def memory_curves(curves: Sequence[Curve], k: int, step_labels: Sequence[str], present: bool = False) -> StepFigure:
    """||h′_t − h_t|| against t on a log axis for every cell, from the changed step k on.

    curves: each cell's (T,) distances (0 before k: not drawn); k: the changed step (1-based).
    """
    T = len(step_labels)
    s = theme.sizes(present)
    steps = np.arange(k, T + 1)
    data = [_line(steps, Curve(c.cell, c.name, np.asarray(c.values)[k - 1:], c.dash), present, T - k < 60)
            for c in curves]
    changed = {"type": "line", "x0": k, "x1": k, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain",
               "line": {"color": theme.MUTED, "width": s.line * 0.8, "dash": "dash"}}
    note = {"x": k, "y": 1.0, "yref": "y domain", "xanchor": "left", "yanchor": "top", "showarrow": False,
            "text": f" input changed at step {k}", "font": {"size": s.font, "color": theme.MUTED},
            "bgcolor": theme.LABEL_BACKGROUND}
    layout = {
        "xaxis": {"title": {"text": "step t"}, "range": [0.5, T + 0.5]},
        "yaxis": {"title": {"text": "||h′<sub>t</sub> − h<sub>t</sub>||"}, "type": "log", "exponentformat": "power",
                  "dtick": log_dtick([np.asarray(c.values)[k - 1:] for c in curves], 6 if present else 8)},
        "legend": theme.legend(present, x=0.0),
        "shapes": [changed, _cursor("x", "y", present)], "annotations": [note], "hovermode": "x unified",
    }
    return theme.step_figure(data, layout, title=f"How long each cell remembers a change at step {k}",
                             present=present, height=440, labels=step_labels)


def gradient_flow(curves: Sequence[Curve], step_labels: Sequence[str], present: bool = False) -> StepFigure:
    """||dL/dh_t|| against t on a log axis for every cell, with the cursor at t."""
    T = len(step_labels)
    steps = np.arange(1, T + 1)
    data = [_line(steps, c, present, T <= 60) for c in curves]
    layout = {
        "xaxis": {"title": {"text": "step t   (◀ going back from the loss at t = T)"}, "range": [0.5, T + 0.5]},
        "yaxis": {"title": {"text": "||dL/dh<sub>t</sub>||"}, "type": "log", "exponentformat": "power",
                  "dtick": log_dtick([c.values for c in curves], 5 if present else 7)},
        "legend": theme.legend(present, x=0.0),
        "shapes": [_cursor("x", "y", present)], "hovermode": "x unified",
    }
    return theme.step_figure(data, layout, title="Gradient reaching each step from a loss at the last step",
                             present=present, height=420, labels=step_labels)


@dataclass(frozen=True)
class GateRows:
    """One memory gate over time: a row of the gates figure."""

    title: str  # rich text above the row, e.g. "LSTM forget gate f<sub>t</sub>: 1 keeps c"
    name: str  # for the hover: "f"
    values: np.ndarray  # (T, H) in [0, 1]


def memory_gates(rows: Sequence[GateRows], step_labels: Sequence[str], present: bool = False) -> StepFigure:
    """Each memory gate as a (unit x step) heatmap on the 0–1 scale, with the cursor at t."""
    n_rows = len(rows)
    layout = theme.stacked_axes(n_rows, [r.title for r in rows], present, gap=0.3, shared_x=True)
    head = 0.12  # the top row's title stands inside the plot area, clear of the figure's title above it
    for k in range(1, n_rows + 1):
        domain = layout[f"yaxis{'' if k == 1 else k}"]["domain"]
        layout[f"yaxis{'' if k == 1 else k}"]["domain"] = [y * (1 - head) for y in domain]
    for note in layout["annotations"]:
        note["y"] *= 1 - head
    data, shapes = [], []
    for row, gate in enumerate(rows, start=1):
        xref, yref = theme.axis_ref(row)
        bar = theme.colorbar("gate value", present, len=1.0, y=0.5, x=1.01) if row == 1 else None
        data.append({
            "type": "heatmap", "name": gate.name, "z": theme.f32(gate.values).T, "x0": 1, "dx": 1, "y0": 0, "dy": 1,
            "xaxis": xref, "yaxis": yref, "colorscale": theme.SEQUENTIAL, "zmin": 0.0, "zmax": 1.0,
            "showscale": bar is not None, **({"colorbar": bar} if bar else {}),
            "hovertemplate": f"{gate.name}" + "[%{y}] at t = %{x}: %{z:.4f}<extra></extra>",
        })
        suffix = "" if row == 1 else str(row)
        layout[f"yaxis{suffix}"]["title"] = {"text": "unit"}
        layout[f"xaxis{suffix}"]["showticklabels"] = row == n_rows
        shapes.append(_cursor(xref, yref, present))
    layout[f"xaxis{'' if n_rows == 1 else n_rows}"]["title"] = {"text": "step t"}
    layout["shapes"] = shapes
    H = max(r.values.shape[1] for r in rows)
    per_row = 140 if H <= 16 else 190
    return theme.step_figure(data, layout, title="The gates that carry memory (units × steps)", present=present,
                             height=per_row * n_rows + 110, labels=step_labels)


@dataclass(frozen=True)
class Reading:
    """One line of numbers at step t: a cell's value per column."""

    what: str  # trusted markup: what the numbers are, e.g. "||h′<sub>t</sub> − h<sub>t</sub>||"
    values: dict[str, np.ndarray]  # column label (a cell's) -> (T,)


def readings(lines: Sequence[Reading], step_labels: Sequence[str]) -> StepBlock:
    """The numbers at step t, one line per quantity, each cell's number with its name under it."""
    arrays: dict[str, np.ndarray] = {}
    out = [("At step t = ", StepNumber(), ", reading ‘", Label(), "’:")]
    for n, line in enumerate(lines):
        tokens: list = [f"{line.what}:  "]
        for m, (label, values) in enumerate(line.values.items()):
            key = f"r{n}_{m}"
            arrays[key] = np.asarray(values, dtype=float).reshape(-1, 1)  # (T, 1)
            tokens += [(Cell(key, 0), label), "   "]
        out.append(tuple(tokens[:-1]))
    return StepBlock(tuple(out), arrays, tuple(step_labels))


def count_text(label: str, G: int, H: int, I: int, n_params: int) -> str:
    """"H(I + H + 2) × G = 8 × (11 + 8 + 2) × 4 = 672", the formula with the cell's sizes; n_params is
    the count of its weight arrays (the two agree for every cell the engine runs)."""
    return f"{label}: H(I + H + 2) × {G} = {H} × ({I} + {H} + 2) × {G} = {n_params:,}"


def time_text(forward_us: float, bptt_us: float) -> str:
    """"forward 12.3 µs a step, forward + BPTT 40.1 µs a step"."""
    return f"forward {num(forward_us)} µs a step · forward + BPTT {num(bptt_us)} µs a step"
