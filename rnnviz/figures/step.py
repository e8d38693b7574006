"""Figures of the forward pass at one step: the cell diagram, vector strips, heatmaps over time.

Builders are pure and take only what they draw: the step's vectors (studies.step.StepVector:
a key, its values at every step, whether it is a gate in [0, 1]), labels, the step t and the
display options -> go.Figure. Steps are 1-based, as on the page: t = 1 is the first input.
Arrays go to Plotly as float32 NumPy arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from ..cells import Cell
from . import theme

if TYPE_CHECKING:
    from ..studies.step import StepVector

CELL_DIAGRAM_HOW_TO_READ = (
    "Each coloured strip is one vector at step t, one cell per hidden unit (hover for exact "
    "values). Gates are on a 0–1 scale (dark = closed, yellow = open); states and candidates "
    "on a blue–white–red scale centred at 0. Circles are pointwise operations: × multiplies, "
    "+ adds. Turn on Play mode to animate through the steps in the browser."
)
VECTORS_HOW_TO_READ = (
    "The same vectors, side by side and larger: read down the column of one unit to follow "
    "it through the cell. Values are printed in each cell when there is room."
)
HEATMAPS_HOW_TO_READ = (
    "Every vector over the whole sequence: rows are units, columns are steps, the orange line "
    "marks step t. Long horizontal bands are units that hold a value — memory; a forget gate "
    "that stays yellow keeps its cell state."
)
TEXT_HOW_TO_READ = (
    "The input text, each character coloured by the chosen unit's hidden state h_t[j] after "
    "reading it (red > 0, blue < 0), as in Karpathy's char-rnn visualisations. The outlined "
    "character is step t."
)


def label(name: str, t: str = "t") -> str:
    """Plotly rich text for a vector name: h_t, c_{t-1}, f_t."""
    return f"{name}<sub>{t}</sub>"


def vector_label(key: str) -> str:
    """The rich-text label of a step vector's key: "h_prev" -> h_{t−1}, "a" -> a_t (pre-activation)."""
    if key.endswith("_prev"):
        return label(key.removesuffix("_prev"), "t−1")
    return label(key) + (" (pre-activation)" if key == "a" else "")


def _value_hover(text: str, n: int) -> np.ndarray:
    return np.array([f"{text}[{j}]" for j in range(n)])


# --- the cell diagram -------------------------------------------------------------------------

# Layout of each cell's diagram in a 10 x 6 box: strips (vectors) and operation circles, and
# arrows between them. A strip is (key, x_centre, y_centre, width).
_W = 1.5  # strip width
_LAYOUTS = {
    "lstm": {
        "strips": [("c_prev", 0.9, 5.2, _W), ("c", 9.1, 5.2, _W), ("h_prev", 0.9, 0.9, _W),
                   ("x", 2.6, -0.1, _W), ("f", 2.8, 2.4, 1.2), ("i", 4.2, 2.4, 1.2),
                   ("g", 5.6, 2.4, 1.2), ("o", 7.0, 2.4, 1.2), ("h", 9.1, 0.9, _W)],
        "ops": [("×", 2.8, 5.2), ("+", 4.9, 5.2), ("×", 4.9, 3.7), ("tanh", 7.9, 4.3), ("×", 7.9, 2.4)],
        "arrows": [((1.65, 5.2), (2.55, 5.2)), ((3.05, 5.2), (4.65, 5.2)), ((5.15, 5.2), (8.35, 5.2)),
                   ((2.8, 2.75), (2.8, 4.95)), ((4.2, 2.75), (4.75, 3.5)), ((5.6, 2.75), (5.05, 3.5)),
                   ((4.9, 3.95), (4.9, 4.95)), ((7.9, 5.2), (7.9, 4.6)), ((7.9, 4.0), (7.9, 2.65)),
                   ((7.6, 2.4), (7.65, 2.4)), ((8.15, 2.4), (8.6, 1.2)), ((1.65, 0.9), (7.0, 0.9)),
                   ((2.6, 0.15), (2.6, 0.85))],
        "bus": [(2.8, 0.9, 2.05), (4.2, 0.9, 2.05), (5.6, 0.9, 2.05), (7.0, 0.9, 2.05)],
        "belt": "c",
    },
    "gru": {
        # h_{t-1} runs along the top: scaled by z, plus (1 - z) n. r gates W_hn h_{t-1} inside n.
        "strips": [("h_prev", 0.9, 4.6, _W), ("x", 2.4, -0.1, _W), ("z", 4.0, 2.0, 1.2),
                   ("r", 5.8, 2.0, 1.2), ("n", 7.6, 2.3, 1.2), ("h", 9.1, 4.6, _W)],
        "ops": [("×", 4.0, 4.6), ("+", 7.6, 4.6), ("1−", 6.3, 3.6), ("×", 7.6, 3.6), ("×", 7.6, 1.3)],
        "arrows": [((1.65, 4.6), (3.75, 4.6)), ((4.25, 4.6), (7.35, 4.6)), ((7.85, 4.6), (8.35, 4.6)),
                   ((4.0, 2.3), (4.0, 4.35)), ((4.4, 2.3), (6.05, 3.5)), ((6.55, 3.6), (7.35, 3.6)),
                   ((7.6, 2.6), (7.6, 3.35)), ((7.6, 3.85), (7.6, 4.35)), ((6.4, 1.85), (7.35, 1.4)),
                   ((7.6, 1.55), (7.6, 2.0)), ((1.0, 4.3), (1.0, 0.8)), ((1.0, 0.8), (7.6, 0.8)),
                   ((2.4, 0.15), (2.4, 0.75))],
        "bus": [(4.0, 0.8, 1.7), (5.8, 0.8, 1.7), (7.6, 0.8, 1.05)],
        "belt": "h",
    },
    "rnn": {
        "strips": [("h_prev", 0.9, 2.6, _W), ("x", 3.0, 0.4, _W), ("a", 5.0, 2.6, _W), ("h", 9.1, 2.6, _W)],
        "ops": [("+", 3.0, 2.6), ("φ", 7.0, 2.6)],
        "arrows": [((1.65, 2.6), (2.75, 2.6)), ((3.0, 0.65), (3.0, 2.35)), ((3.25, 2.6), (4.25, 2.6)),
                   ((5.75, 2.6), (6.75, 2.6)), ((7.25, 2.6), (8.35, 2.6))],
        "bus": [],
        "belt": "h",
    },
}
_OP_NOTES = {
    "lstm": "c<sub>t</sub> = f⊙c<sub>t−1</sub> + i⊙g,  h<sub>t</sub> = o⊙tanh(c<sub>t</sub>)",
    "gru": "h<sub>t</sub> = (1−z)⊙n + z⊙h<sub>t−1</sub>,  "
           "n = tanh(W<sub>in</sub>x + r⊙(W<sub>hn</sub>h<sub>t−1</sub>))",
    "rnn": "h<sub>t</sub> = φ(W<sub>ih</sub>x<sub>t</sub> + W<sub>hh</sub>h<sub>t−1</sub> + b), φ = {phi}",
}


def _strip_trace(v: StepVector, t: int, xc: float, yc: float, width: float, zmax: float, bar: dict | None) -> dict:
    n = v.values.shape[1]
    return {
        "type": "heatmap", "name": v.key, "z": _strip_z(v, t),
        "x0": xc - width / 2 + width / (2 * n), "dx": width / n, "y0": yc, "dy": 0.5,
        "colorscale": theme.SEQUENTIAL if v.bounded else theme.DIVERGING,
        "zmin": 0.0 if v.bounded else -zmax, "zmax": 1.0 if v.bounded else zmax,
        "showscale": bar is not None, **({"colorbar": bar} if bar else {}), "xgap": 1 if n <= 32 else 0,
        "customdata": _value_hover(_plain(vector_label(v.key)), n)[None],
        "hovertemplate": "%{customdata} = %{z:.4f}<extra></extra>",
    }


def _plain(text: str) -> str:
    return text.replace("<sub>", "_").replace("</sub>", "")


def _arrow(x0, y0, x1, y1, width) -> dict:
    return {"x": x1, "y": y1, "ax": x0, "ay": y0, "xref": "x", "yref": "y", "axref": "x", "ayref": "y",
            "showarrow": True, "arrowhead": 2, "arrowsize": 1.1, "arrowwidth": width,
            "arrowcolor": theme.MUTED, "text": ""}


def cell_diagram(vectors: Sequence[StepVector], cell: Cell, step_labels: Sequence[str], t: int,
                 present: bool = False, frame_ms: int = 400, animate: bool = False) -> go.Figure:
    """The cell at step t in colah's visual grammar, every vector a strip of coloured units.

    vectors: the step's vectors (values (T, n) each); cell: the cells.CELLS entry, for the
    diagram of its kind, its name and its nonlinearity; step_labels (T,): what each step reads.
    With `animate`, Plotly frames for the steps (at most 150) let ▶ play through time in the
    browser, without a round trip to the server.
    """
    layout = _LAYOUTS[cell.kind]
    by_key = {v.key: v for v in vectors}
    s = theme.sizes(present)
    signed_max = theme.signed_range(*(v.values for v in vectors if not v.bounded and v.key != "x"))
    x_max = theme.signed_range(by_key["x"].values)
    data, shapes, notes = [], [], []
    strip_keys = []
    shown_bar = {"gate": False, "signed": False}
    for key, xc, yc, width in layout["strips"]:
        v = by_key[key]
        scale = "gate" if v.bounded else "signed"
        bar = None
        if not shown_bar[scale] and key != "x":
            shown_bar[scale] = True
            bar = theme.colorbar("gates" if v.bounded else "states", present,
                                 x=1.0 if v.bounded else 1.08, len=0.45, y=0.75 if v.bounded else 0.25)
        data.append(_strip_trace(v, t, xc, yc, width, x_max if key == "x" else signed_max, bar))
        strip_keys.append(key)
        text = f"<b>{vector_label(key)}</b>"
        if key == "x":  # inputs enter from below: label to the left, clear of the arrow
            notes.append({"x": xc - width / 2 - 0.08, "y": yc, "text": text, "showarrow": False,
                          "xanchor": "right", "font": {"size": s.font + 1}})
        else:
            notes.append({"x": xc, "y": yc + 0.48, "text": text, "showarrow": False, "font": {"size": s.font + 1}})
        shapes.append({"type": "rect", "x0": xc - width / 2, "x1": xc + width / 2, "y0": yc - 0.27,
                       "y1": yc + 0.27, "line": {"color": theme.INK, "width": 1.5}, "layer": "above"})
    for symbol, xc, yc in layout["ops"]:
        r = 0.3 if len(symbol) > 2 else 0.25
        shapes.append({"type": "circle", "x0": xc - r, "x1": xc + r, "y0": yc - r, "y1": yc + r,
                       "line": {"color": theme.INK, "width": s.line * 0.7}, "fillcolor": theme.PAPER,
                       "layer": "above"})
        notes.append({"x": xc, "y": yc, "text": symbol, "showarrow": False,
                      "font": {"size": s.font if len(symbol) > 2 else s.font + 6}})
    notes += [_arrow(x0, y0, x1, y1, s.line * 0.7) for (x0, y0), (x1, y1) in layout["arrows"]]
    notes += [_arrow(xb, y0, xb, y1, s.line * 0.7) for xb, y0, y1 in layout["bus"]]  # the input bus
    ys = [y for _, _, y, _ in layout["strips"]]
    y_low, y_high = min(ys) - 1.0, max(ys) + 0.7  # the diagram's own extent: no empty bands
    notes.append({"x": 5.0, "y": min(ys) - 0.75, "text": _OP_NOTES[cell.kind].format(phi=cell.nonlinearity),
                  "showarrow": False, "font": {"size": s.font, "color": theme.MUTED}})
    layout = {
        "shapes": shapes, "annotations": notes,
        "xaxis": {"visible": False, "range": [-0.1, 10.3], "fixedrange": True},
        "yaxis": {"visible": False, "range": [y_low, y_high], "fixedrange": True},
    }

    def title(k: int) -> str:
        return f"{cell.label} cell at step t = {k} of {len(step_labels)}, reading {step_labels[k - 1]!r}"

    frames = None
    if animate:
        frames, controls = _frames(title, [by_key[key] for key in strip_keys], t, frame_ms, present)
        layout |= controls
    return theme.figure(data, layout, title=title(t), present=present,
                        height=int(150 + 60 * (y_high - y_low)), frames=frames)


def _strip_z(v: StepVector, t: int) -> np.ndarray:
    return theme.f32(v.values[t - 1])[None, :]  # (1, n)


MAX_FRAMES = 150


def _frames(title, strips: list[StepVector], t, frame_ms, present) -> tuple[list[dict], dict]:
    """Frames for up to MAX_FRAMES evenly spaced steps, and the layout's ▶ / ❚❚ pair and slider."""
    T = strips[0].values.shape[0]
    steps = np.unique(np.linspace(1, T, min(T, MAX_FRAMES)).round().astype(int))
    traces = list(range(len(strips)))
    frames = [
        {"name": str(k), "traces": traces, "layout": {"title": {"text": title(k)}},
         "data": [{"type": "heatmap", "z": _strip_z(v, k)} for v in strips]}
        for k in steps
    ]
    s = theme.sizes(present)
    play = {"frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True,
            "transition": {"duration": 0}, "mode": "immediate"}
    controls = {
        "updatemenus": [{"type": "buttons", "direction": "left", "x": 0.0, "y": -0.02, "xanchor": "left",
                         "yanchor": "top", "pad": {"t": 0, "r": 8}, "font": {"size": s.font},
                         "buttons": [
                             {"label": "▶ Play", "method": "animate", "args": [None, play]},
                             {"label": "❚❚ Pause", "method": "animate",
                              "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}]},
                         ]}],
        "sliders": [{"active": int(np.searchsorted(steps, t)), "x": 0.26, "len": 0.74, "y": -0.02,
                     "yanchor": "top", "pad": {"t": 0},
                     "currentvalue": {"prefix": "t = ", "font": {"size": s.font}}, "font": {"size": s.tick},
                     "steps": [{"label": str(k), "method": "animate",
                                "args": [[str(k)], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}]}
                               for k in steps]}],
        "margin": {"b": 90},
    }
    return frames, controls


# --- the vectors at step t, side by side -----------------------------------------------------


def vector_strips(vectors: Sequence[StepVector], t: int, present: bool = False) -> go.Figure:
    """Every vector of step t as a row of coloured cells, values printed when there is room."""
    n_rows = len(vectors)
    s = theme.sizes(present)
    layout = theme.stacked_axes(n_rows, [vector_label(v.key) for v in vectors], present, gap=0.5)
    signed_max = theme.signed_range(*(v.values for v in vectors if not v.bounded and v.key != "x"))
    data = []
    for row, v in enumerate(vectors, start=1):
        z = _strip_z(v, t)
        n = z.shape[1]
        zmax = 1.0 if v.bounded else (theme.signed_range(v.values) if v.key == "x" else signed_max)
        xref, yref = theme.axis_ref(row)
        data.append({
            "type": "heatmap", "name": v.key, "z": z, "x": np.arange(n), "xaxis": xref, "yaxis": yref,
            "colorscale": theme.SEQUENTIAL if v.bounded else theme.DIVERGING,
            "zmin": 0.0 if v.bounded else -zmax, "zmax": 1.0 if v.bounded else zmax, "showscale": False, "xgap": 2,
            **({"texttemplate": "%{z:.2f}", "textfont": {"size": s.tick}} if n <= 16 else {}),
            "customdata": _value_hover(_plain(vector_label(v.key)), n)[None],
            "hovertemplate": "%{customdata} = %{z:.4f}<extra></extra>",
        })
        layout[f"yaxis{'' if row == 1 else row}"]["visible"] = False
        layout[f"xaxis{'' if row == 1 else row}"]["showticklabels"] = row == n_rows
    layout[f"xaxis{'' if n_rows == 1 else n_rows}"]["title"] = {"text": "unit j"}
    return theme.figure(data, layout, title=f"The vectors at step t = {t}", present=present,
                        height=62 * n_rows + 110)


# --- heatmaps over time ------------------------------------------------------------------------


def state_heatmaps(rows: Sequence[StepVector], t: int, present: bool = False) -> go.Figure:
    """Each vector (h, c, every gate) as a (unit x time) heatmap, with a cursor at step t."""
    n_rows = len(rows)
    layout = theme.stacked_axes(n_rows, [vector_label(r.key) for r in rows], present, gap=0.25, shared_x=True)
    signed_max = theme.signed_range(*(r.values for r in rows if not r.bounded))
    T, H = rows[0].values.shape
    steps = np.arange(1, T + 1)
    one_scale = all(r.bounded == rows[0].bounded for r in rows)  # RNN: only h, one bar for the whole height
    shown = {"gate": False, "signed": False}
    data, shapes = [], []
    for row, v in enumerate(rows, start=1):
        key, values, gate = v.key, v.values, v.bounded
        scale = "gate" if gate else "signed"
        bar = None
        if not shown[scale]:
            shown[scale] = True
            bar = theme.colorbar("gate" if gate else "value", present, len=1.0 if one_scale else 0.4,
                                 y=0.5 if one_scale else (0.25 if gate else 0.8), x=1.01)
        xref, yref = theme.axis_ref(row)
        data.append({
            "type": "heatmap", "name": key, "z": theme.f32(values.T), "x": steps, "y": np.arange(H),
            "xaxis": xref, "yaxis": yref, "colorscale": theme.SEQUENTIAL if gate else theme.DIVERGING,
            "zmin": 0.0 if gate else -signed_max, "zmax": 1.0 if gate else signed_max,
            "showscale": bar is not None, **({"colorbar": bar} if bar else {}),
            "hovertemplate": f"{key}" + "[%{y}] at t = %{x}: %{z:.4f}<extra></extra>",
        })
        layout[f"yaxis{'' if row == 1 else row}"]["title"] = {"text": "unit"}
        layout[f"xaxis{'' if row == 1 else row}"]["showticklabels"] = row == n_rows
        shapes.append({"type": "line", "x0": t, "x1": t, "xref": xref, "y0": 0, "y1": 1,
                       "yref": f"{yref} domain", "line": {"color": theme.CURSOR, "width": theme.sizes(present).line}})
    layout[f"xaxis{'' if n_rows == 1 else n_rows}"]["title"] = {"text": "step t"}
    layout["shapes"] = shapes
    return theme.figure(data, layout, title="Every vector over time (units × steps)", present=present,
                        height=150 * n_rows + 80)


# --- the text, coloured by one unit --------------------------------------------------------------


def text_activation(tokens: Sequence[str], values: np.ndarray, unit: int, t: int, present: bool = False,
                    per_row: int = 32) -> go.Figure:
    """Each character of the input coloured by values (T,) = h_t[unit] after reading it; step t outlined."""
    z, chars, steps = theme.char_grid(list(tokens), values, per_row)
    rows, per_row = z.shape
    vmax = theme.signed_range(values)
    s = theme.sizes(present)
    r, c = (t - 1) // per_row, (t - 1) % per_row
    return theme.figure([{
        "type": "heatmap", "z": theme.f32(z), "text": chars, "texttemplate": "%{text}",
        "textfont": {"size": s.title}, "colorscale": theme.DIVERGING, "zmin": -vmax, "zmax": vmax,
        "xgap": 3, "ygap": 3, "customdata": steps,
        "hovertemplate": "step %{customdata}: '%{text}'  h[" + str(unit) + "] = %{z:.4f}<extra></extra>",
        "colorbar": theme.colorbar(f"h[{unit}]", present, len=1.0, y=0.5),
    }], {
        "shapes": [{"type": "rect", "x0": c - 0.5, "x1": c + 0.5, "y0": r - 0.5, "y1": r + 0.5,
                    "line": {"color": theme.CURSOR, "width": s.line * 1.5}}],
        "xaxis": {"visible": False}, "yaxis": {"visible": False, "autorange": "reversed"},
    }, title=f"The text, coloured by unit {unit}'s hidden state", present=present, height=130 + 56 * rows)
