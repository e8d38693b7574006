"""Figures of the forward pass, moving with the step t: the cell diagram, the vectors, the input,
the text and every vector over time.

Builders are pure and take only what they draw: the step's vectors (studies.step.StepVector: a
key, its values at every step, whether it is a gate in [0, 1]), labels and the display options.
Each returns a figures.steps.StepFigure: one spec for every step, whose t-dependent values are
step references, so the browser moves it through time without the server; `.at(t)` is the
static figure of step t. Steps are 1-based: t = 1 is the first input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..cells import Cell
from . import theme
from .steps import Grid, Row, StepFigure, StepNumber, Template, Whole

if TYPE_CHECKING:
    from ..studies.step import StepVector


def label(name: str, t: str = "t") -> str:
    """Plotly rich text for a vector name: h_t, c_{t-1}, f_t."""
    return f"{name}<sub>{t}</sub>"


def vector_label(key: str) -> str:
    """The rich-text label of a step vector's key: "h_prev" -> h_{t−1}, "a" -> a_t (pre-activation)."""
    if key.endswith("_prev"):
        return label(key.removesuffix("_prev"), "t−1")
    return label(key) + (" (pre-activation)" if key == "a" else "")


def _plain(text: str) -> str:
    return text.replace("<sub>", "_").replace("</sub>", "")


def _unit_names(v: StepVector, channels: Sequence[str] | None) -> np.ndarray:
    """Hover names of a vector's entries: x's channels by name ("x['e']"), units by index."""
    n = v.values.shape[1]
    name = _plain(vector_label(v.key))
    if v.key == "x" and channels is not None and len(channels) == n:
        return np.array([f"{name}[{j}] ({theme.visible_char(c)})" for j, c in enumerate(channels)])
    return np.array([f"{name}[{j}]" for j in range(n)])


def _arrays(vectors: Sequence[StepVector]) -> dict[str, np.ndarray]:
    return {v.key: theme.f32(v.values) for v in vectors}


# --- how to read them: captions written for the cell and input on screen -------------------------------


def diagram_caption(cell: Cell, source: str) -> str:
    """How to read the cell diagram of this cell."""
    parts = {
        "lstm": "The cell state c runs along the top: the forget gate f multiplies the old c, the input gate i "
                "lets the candidate g in, and the output gate o decides how much of tanh(c) becomes h.",
        "gru": "The state h runs along the top: the update gate z keeps a share of the old h and (1 − z) takes "
               "the candidate n, which the reset gate r computes from a gated part of the old h.",
        "rnn": "The input part and the recurrent part are added into the pre-activation a, and "
               f"{cell.nonlinearity} squashes it into the new state h.",
    }[cell.kind]
    reading = "x is the one-hot character" if source == "text" else "x is the input vector at step t"
    return (f"Each strip is one vector at step t, one square per unit; hover for the exact value. {parts} "
            f"{reading}. Gates are on a 0–1 scale (dark = closed, yellow = open); states on a blue–white–red "
            "scale centred at 0. Circles are pointwise operations: × multiplies, + adds.")


def vectors_caption(source: str) -> str:
    """How to read the vector strips, for this input."""
    x_row = ("x's squares are the characters of the vocabulary: the one lit up is the character read at step t."
             if source == "text" else "x's squares are the input's channels.")
    return ("The same vectors, side by side and larger: read down the column of one unit to follow it through "
            f"the cell. {x_row} Values are printed in each square when there is room.")


def heatmaps_caption(cell: Cell) -> str:
    """How to read the heatmaps over time, for this cell's vectors."""
    memory = {
        "lstm": " A forget gate that stays yellow keeps its cell state: long bands in c are memory.",
        "gru": " An update gate z that stays yellow keeps the old state: long bands in h are memory.",
        "rnn": "",
    }[cell.kind]
    return ("Every vector over the whole sequence: rows are units, columns are steps, the orange line marks "
            "step t. Long horizontal bands are units that hold a value." + memory)


TEXT_CAPTION = ("The input text, each character coloured by the chosen unit's hidden state h_t[j] after reading "
                "it (red > 0, blue < 0), as in Karpathy's char-rnn visualisations. The outlined character is step t.")
INPUT_CAPTION = ("The input over the whole sequence, one line per channel; the orange line marks step t. Each "
                 "step's input enters the cell as x_t.")


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
    },
    "rnn": {
        "strips": [("h_prev", 0.9, 2.6, _W), ("x", 3.0, 0.4, _W), ("a", 5.0, 2.6, _W), ("h", 9.1, 2.6, _W)],
        "ops": [("+", 3.0, 2.6), ("φ", 7.0, 2.6)],
        "arrows": [((1.65, 2.6), (2.75, 2.6)), ((3.0, 0.65), (3.0, 2.35)), ((3.25, 2.6), (4.25, 2.6)),
                   ((5.75, 2.6), (6.75, 2.6)), ((7.25, 2.6), (8.35, 2.6))],
        "bus": [],
    },
}
_OP_NOTES = {
    "lstm": "c<sub>t</sub> = f⊙c<sub>t−1</sub> + i⊙g,  h<sub>t</sub> = o⊙tanh(c<sub>t</sub>)",
    "gru": "h<sub>t</sub> = (1−z)⊙n + z⊙h<sub>t−1</sub>,  "
           "n = tanh(W<sub>in</sub>x<sub>t</sub> + b<sub>in</sub> + r⊙(W<sub>hn</sub>h<sub>t−1</sub>"
           " + b<sub>hn</sub>))",
    "rnn": "h<sub>t</sub> = {phi}(W<sub>ih</sub>x<sub>t</sub> + b<sub>ih</sub> + W<sub>hh</sub>h<sub>t−1</sub>"
           " + b<sub>hh</sub>)",
}


def _strip(v: StepVector, names: np.ndarray, xc: float, yc: float, width: float, zmax: float,
           bar: dict | None) -> dict:
    n = v.values.shape[1]
    return {
        "type": "heatmap", "name": v.key, "z": Row(v.key),
        "x0": xc - width / 2 + width / (2 * n), "dx": width / n, "y0": yc, "dy": 0.5,
        "colorscale": theme.SEQUENTIAL if v.bounded else theme.DIVERGING,
        "zmin": 0.0 if v.bounded else -zmax, "zmax": 1.0 if v.bounded else zmax,
        "showscale": bar is not None, **({"colorbar": bar} if bar else {}), "xgap": 1 if n <= 32 else 0,
        "customdata": names[None], "hovertemplate": "%{customdata} = %{z:.4f}<extra></extra>",
    }


def step_title(cell_label: str, reading: str) -> Template:
    """"LSTM cell at step t = 3 of 11, reading ‘l’": the title that follows t."""
    return Template(f"{cell_label} cell at step t = {{t}} of {{T}}, reading {reading}")


def reading(numeric: bool) -> str:
    """How a title quotes what step t reads: a character in quotes, numbers as x = …."""
    return "x = {label}" if numeric else "‘{label}’"


def cell_diagram(vectors: Sequence[StepVector], cell: Cell, step_labels: Sequence[str], present: bool = False,
                 channels: Sequence[str] | None = None, numeric: bool = False) -> StepFigure:
    """The cell at step t in colah's visual grammar, every vector a strip of coloured units.

    vectors: the step's vectors (values (T, n) each); cell: the cells.CELLS entry, for the
    diagram of its kind, its name and its nonlinearity; step_labels (T,): what each step reads;
    channels: the names of x's entries (a vocabulary), if it has them.
    """
    layout = _LAYOUTS[cell.kind]
    by_key = {v.key: v for v in vectors}
    s = theme.sizes(present)
    signed_max = theme.signed_range(*(v.values for v in vectors if not v.bounded and v.key != "x"))
    x_max = theme.signed_range(by_key["x"].values)
    data, shapes, notes = [], [], []
    shown_bar = {"gate": False, "signed": False}
    for key, xc, yc, width in layout["strips"]:
        v = by_key[key]
        scale = "gate" if v.bounded else "signed"
        bar = None
        if not shown_bar[scale] and key != "x":
            shown_bar[scale] = True
            bar = theme.colorbar("gates" if v.bounded else "states", present,
                                 x=1.0 if v.bounded else 1.09, len=0.45, y=0.75 if v.bounded else 0.25)
        data.append(_strip(v, _unit_names(v, channels), xc, yc, width, x_max if key == "x" else signed_max, bar))
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
    bus = [((xb, y0), (xb, y1)) for xb, y0, y1 in layout["bus"]]  # the input bus
    data.append(theme.arrows(layout["arrows"] + bus, s.line * 0.7))
    ys = [y for _, _, y, _ in layout["strips"]]
    y_low, y_high = min(ys) - 1.0, max(ys) + 0.7  # the diagram's own extent: no empty bands
    notes.append({"x": 5.0, "y": min(ys) - 0.75, "text": _OP_NOTES[cell.kind].format(phi=cell.nonlinearity),
                  "showarrow": False, "font": {"size": s.font, "color": theme.MUTED}})
    spec_layout = {
        "shapes": shapes, "annotations": theme.labels(notes),
        "xaxis": {"visible": False, "range": [-0.1, 10.3], "fixedrange": True},
        "yaxis": {"visible": False, "range": [y_low, y_high], "fixedrange": True},
        "margin": {"r": 90, "b": 10},  # no axes below: the house margin's 50 px were blank on slides
    }
    return theme.step_figure(data, spec_layout, title=step_title(cell.label, reading(numeric)), present=present,
                             height=int(110 + 60 * (y_high - y_low)), arrays=_arrays(vectors), labels=step_labels)


# --- the vectors at step t, side by side -----------------------------------------------------


def vector_strips(vectors: Sequence[StepVector], step_labels: Sequence[str], present: bool = False,
                  channels: Sequence[str] | None = None) -> StepFigure:
    """Every vector of step t as a row of coloured squares; values printed when there is room.

    x's row is labelled by its channels (the characters of a one-hot input) instead of values.
    """
    n_rows = len(vectors)
    s = theme.sizes(present)
    layout = theme.stacked_axes(n_rows, [vector_label(v.key) for v in vectors], present, gap=0.55)
    signed_max = theme.signed_range(*(v.values for v in vectors if not v.bounded and v.key != "x"))
    data = []
    for row, v in enumerate(vectors, start=1):
        n = v.values.shape[1]
        zmax = 1.0 if v.bounded else (theme.signed_range(v.values) if v.key == "x" else signed_max)
        xref, yref = theme.axis_ref(row)
        named = v.key == "x" and channels is not None and len(channels) == n
        trace = {
            "type": "heatmap", "name": v.key, "z": Row(v.key), "x": np.arange(n), "xaxis": xref, "yaxis": yref,
            "colorscale": theme.SEQUENTIAL if v.bounded else theme.DIVERGING,
            "zmin": 0.0 if v.bounded else -zmax, "zmax": 1.0 if v.bounded else zmax, "showscale": False,
            "xgap": 2, "customdata": _unit_names(v, channels)[None],
            "hovertemplate": "%{customdata} = %{z:.4f}<extra></extra>",
        }
        if named and n <= 40:  # a one-hot input: its characters, not 0s and 1s
            trace |= {"text": np.array([[theme.visible_char(c) for c in channels]], dtype=object),
                      "texttemplate": "%{text}", "textfont": {"size": s.tick}}
        elif n <= 12 or (n <= 16 and not present):
            trace |= {"texttemplate": "%{z:.2f}", "textfont": {"size": s.tick - (1 if n > 12 else 0)}}
        data.append(trace)
        layout[f"yaxis{'' if row == 1 else row}"] |= {"visible": False, "fixedrange": True}
        layout[f"xaxis{'' if row == 1 else row}"] |= {"showticklabels": row == n_rows, "fixedrange": True}
    layout[f"xaxis{'' if n_rows == 1 else n_rows}"]["title"] = {"text": "unit j"}
    per_row = 58 if present else 62
    return theme.step_figure(data, layout, title=Template("The vectors at step t = {t}"), present=present,
                             height=per_row * n_rows + 110, arrays=_arrays(vectors), labels=step_labels)


# --- the input over time ----------------------------------------------------------------------------


def input_signal(xs: np.ndarray, step_labels: Sequence[str], channels: Sequence[str] | None,
                 present: bool = False, max_channels: int = 6) -> StepFigure:
    """x_t over the sequence, one line per channel (at most max_channels), with a cursor at t."""
    T, I = xs.shape
    s = theme.sizes(present)
    steps = np.arange(1, T + 1)
    names = list(channels) if channels is not None and len(channels) == I else [f"x[{j}]" for j in range(I)]
    data = [{"type": "scatter", "x": steps, "y": theme.f32(xs[:, j]), "mode": "lines" if T > 60 else "lines+markers",
             "name": names[j], "line": {"color": theme.line_colour(j), "width": s.line},
             "marker": {"size": s.marker * 0.6},
             "hovertemplate": f"{names[j]}" + " at t = %{x}: %{y:.3f}<extra></extra>"}
            for j in range(min(I, max_channels))]
    layout = {
        "xaxis": {"title": {"text": "step t"}, "range": [0.5, T + 0.5]},
        "yaxis": {"title": {"text": "x<sub>t</sub>"}},
        "legend": theme.legend(present, y=1.0, x=1.0, xanchor="right", yanchor="bottom"),
        "shapes": [_cursor_line("x", "y", present)],
        "showlegend": I > 1,
    }
    title = "The input x<sub>t</sub>" + (f" (first {max_channels} of {I} channels)" if I > max_channels else "")
    return theme.step_figure(data, layout, title=title, present=present, height=230, labels=step_labels)


def _cursor_line(xref: str, yref: str, present: bool) -> dict:
    return {"type": "line", "name": "cursor", "x0": StepNumber(), "x1": StepNumber(), "xref": xref, "y0": 0, "y1": 1,
            "yref": f"{yref} domain", "line": {"color": theme.CURSOR, "width": theme.sizes(present).line}}


# --- heatmaps over time ------------------------------------------------------------------------


def state_heatmaps(rows: Sequence[StepVector], step_labels: Sequence[str], present: bool = False) -> StepFigure:
    """Each vector (h, c, every gate) as a (unit x time) heatmap, with a cursor at step t."""
    n_rows = len(rows)
    # presented, the panels are short (the figure fits a 720 px screen): more room for each panel's
    # title, and only the first and the last unit on the y axis (four 18 px labels would overlap)
    layout = theme.stacked_axes(n_rows, [vector_label(r.key) for r in rows], present, gap=0.5 if present else 0.3,
                                shared_x=True)
    signed_max = theme.signed_range(*(r.values for r in rows if not r.bounded))
    one_scale = all(r.bounded == rows[0].bounded for r in rows)  # RNN: only h, one bar for the whole height
    shown = {"gate": False, "signed": False}
    data, shapes = [], []
    for row, v in enumerate(rows, start=1):
        key, gate = v.key, v.bounded
        scale = "gate" if gate else "signed"
        bar = None
        if not shown[scale]:
            shown[scale] = True
            bar = theme.colorbar("gate" if gate else "value", present, len=1.0 if one_scale else 0.4,
                                 y=0.5 if one_scale else (0.25 if gate else 0.8), x=1.01)
        xref, yref = theme.axis_ref(row)
        data.append({
            "type": "heatmap", "name": key, "z": Whole(key, transpose=True), "x0": 1, "dx": 1, "y0": 0, "dy": 1,
            "xaxis": xref, "yaxis": yref, "colorscale": theme.SEQUENTIAL if gate else theme.DIVERGING,
            "zmin": 0.0 if gate else -signed_max, "zmax": 1.0 if gate else signed_max,
            "showscale": bar is not None, **({"colorbar": bar} if bar else {}),
            "hovertemplate": f"{key}" + "[%{y}] at t = %{x}: %{z:.4f}<extra></extra>",
        })
        layout[f"yaxis{'' if row == 1 else row}"]["title"] = {"text": "unit"}
        if present:
            last = v.values.shape[1] - 1
            layout[f"yaxis{'' if row == 1 else row}"]["tickvals"] = [0, last] if last else [0]
        layout[f"xaxis{'' if row == 1 else row}"]["showticklabels"] = row == n_rows
        shapes.append(_cursor_line(xref, yref, present))
    layout[f"xaxis{'' if n_rows == 1 else n_rows}"]["title"] = {"text": "step t"}
    layout["shapes"] = shapes
    return theme.step_figure(data, layout, title="Every vector over time (units × steps)", present=present,
                             height=140 * n_rows + 90, arrays=_arrays(rows), labels=step_labels)


# --- the text, coloured by one unit --------------------------------------------------------------


def text_activation(tokens: Sequence[str], values: np.ndarray, unit: int, present: bool = False,
                    per_row: int = 32) -> StepFigure:
    """Each character of the input coloured by values (T,) = h_t[unit] after reading it; step t outlined."""
    z, chars, steps = theme.char_grid(list(tokens), values, per_row)
    rows, per_row = z.shape
    vmax = theme.signed_range(values)
    s = theme.sizes(present)
    cursor = {"type": "rect", "name": "cursor", "x0": Grid(per_row, "col", -0.5), "x1": Grid(per_row, "col", 0.5),
              "y0": Grid(per_row, "row", -0.5), "y1": Grid(per_row, "row", 0.5),
              "line": {"color": theme.CURSOR, "width": s.line * 1.5}}
    return theme.step_figure([{
        "type": "heatmap", "z": theme.f32(z), "text": chars, "texttemplate": "%{text}",
        "textfont": {"size": s.title}, "colorscale": theme.DIVERGING, "zmin": -vmax, "zmax": vmax,
        "xgap": 3, "ygap": 3, "customdata": steps,
        "hovertemplate": "step %{customdata}: ‘%{text}’  h[" + str(unit) + "] = %{z:.4f}<extra></extra>",
        "colorbar": theme.colorbar(f"h[{unit}]", present, len=1.0, y=0.5),
    }], {
        "shapes": [cursor],
        "xaxis": {"visible": False, "fixedrange": True},
        "yaxis": {"visible": False, "autorange": "reversed", "fixedrange": True},
    }, title=f"The text, coloured by unit {unit}'s hidden state", present=present, height=130 + 56 * rows,
        labels=tokens)


# --- a trained network: the unit to watch, and what its readout predicts ----------------------------

WATCH_CAPTION = ("The one number the gallery's story asks you to watch, at every step, with the input under the "
                 "axis; the orange line marks step t. A trained unit does a job you can see: it climbs, falls or "
                 "holds as the input changes.")
PREDICTION_CAPTION = ("What the trained readout y_t = W_out h_t + b_out says after each step: for each class (rows) "
                      "its probability, softmax(y_t), brighter for more likely; the most likely class is written in "
                      "its cell. Hover for the exact probabilities.")
VALUE_PREDICTION_CAPTION = ("What the trained readout y_t = W_out h_t + b_out gives after each step, one line per "
                            "output; the orange line marks step t.")


MAX_TICKS = 120  # steps up to which every input is written under the axis (a text of a few lines)


def watch_line(values: np.ndarray, step_labels: Sequence[str], vector: str, unit: int,
               present: bool = False) -> StepFigure:
    """One unit of one vector (T,) over the steps, each step's input as its tick label, a cursor at t."""
    T = len(values)
    s = theme.sizes(present)
    steps = np.arange(1, T + 1)
    name = f"{vector}[{unit}]"
    shown = [theme.escape_label(x) for x in step_labels]
    mode = "lines+markers" if T <= MAX_TICKS else "lines"
    data = [{"type": "scatter", "x": steps, "y": theme.f32(values), "mode": mode, "name": name,
             "line": {"color": theme.line_colour(0), "width": s.line * 1.5},
             "marker": {"size": s.marker * 0.7}, "customdata": shown,
             "hovertemplate": f"{name}" + " after step %{x} (‘%{customdata}’): %{y:.4f}<extra></extra>"}]
    ticks = {"tickmode": "array", "tickvals": steps.tolist(), "ticktext": shown} if T <= MAX_TICKS else {}
    layout = {
        "xaxis": {"title": {"text": "step t (the input it reads)"}, "range": [0.5, T + 0.5], **ticks},
        "yaxis": {"title": {"text": label(vector) + f"[{unit}]"}},
        "shapes": [_cursor_line("x", "y", present)],
        "showlegend": False,
    }
    return theme.step_figure(data, layout, title=f"The unit to watch: {label(vector)}[{unit}] at every step",
                             present=present, height=300, labels=step_labels)


def prediction_map(probs: np.ndarray, top: np.ndarray, classes: Sequence[str], step_labels: Sequence[str],
                   present: bool = False) -> StepFigure:
    """probs (T, O): each class's probability after each step as a (class x step) heatmap; top (T,) the
    most likely class, written in its cell; a cursor at t."""
    T, O = probs.shape
    names = [theme.visible_char(c) if len(c) == 1 else theme.escape_label(c) for c in classes]
    text = np.full((O, T), "", dtype=object)
    text[top, np.arange(T)] = [names[k] for k in top]
    data = [{"type": "heatmap", "z": theme.f32(probs.T), "x0": 1, "dx": 1, "y": names, "text": text,
             "texttemplate": "%{text}" if T <= 80 else "", "colorscale": theme.SEQUENTIAL, "zmin": 0.0, "zmax": 1.0,
             "colorbar": theme.colorbar("probability", present, len=1.0, y=0.5),
             "hovertemplate": "after step %{x}: P(%{y}) = %{z:.3f}<extra></extra>"}]
    layout = {
        "xaxis": {"title": {"text": "step t"}, "range": [0.5, T + 0.5]},
        "yaxis": {"title": {"text": "class"}, "type": "category", "autorange": "reversed"},
        "shapes": [_cursor_line("x", "y", present)],
    }
    return theme.step_figure(data, layout, title="What the readout predicts after each step", present=present,
                             height=140 + min(O, 60) * 16, labels=step_labels)


def value_prediction(y: np.ndarray, step_labels: Sequence[str], present: bool = False) -> StepFigure:
    """y (T, O): the readout's outputs after each step, one line per output, a cursor at t."""
    T, O = y.shape
    s = theme.sizes(present)
    steps = np.arange(1, T + 1)
    data = [{"type": "scatter", "x": steps, "y": theme.f32(y[:, k]), "mode": "lines", "name": f"y[{k}]",
             "line": {"color": theme.line_colour(k), "width": s.line},
             "hovertemplate": f"y[{k}]" + " after step %{x}: %{y:.4f}<extra></extra>"} for k in range(min(O, 6))]
    layout = {"xaxis": {"title": {"text": "step t"}, "range": [0.5, T + 0.5]}, "yaxis": {"title": {"text": "y_t"}},
              "shapes": [_cursor_line("x", "y", present)], "showlegend": O > 1,
              "legend": theme.legend(present, y=1.0, x=1.0, xanchor="right", yanchor="bottom")}
    return theme.step_figure(data, layout, title="What the readout gives after each step", present=present,
                             height=260, labels=step_labels)
