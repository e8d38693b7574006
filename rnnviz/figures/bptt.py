"""Figures of backprop through time: the unrolled graph, gradient norms and why they behave so.

Pure builders that take only what they draw (arrays keyed by step, cell or block, labels, the
display options; the analysis results Spectrum, JacobianNorms and GrowthFit are such arrays)
and return a go.Figure. The page takes them from its study, studies/bptt.py. Steps are 1-based.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..analysis import JacobianNorms, Spectrum, Survival
from ..cells import CELLS
from ..numerics import row_norms
from . import theme
from .steps import Reached, Slot, SlotCursor, StepFigure, StepNumber, Template

GRAPH_HOW_TO_READ = (
    "The network unrolled in time: one column per step, inputs x at the bottom, the hidden state h "
    "(and the LSTM's cell state c) in the middle, outputs y and the loss L on top. In forward mode the "
    "highlighted column is step t. In backward mode each edge's width and colour show how much gradient "
    "flows along it (log scale, bright = large): press ◁ Play backward to watch the gradient leave L and "
    "travel back from t = T to 1, fading as it goes. Hover a node for its value and its gradient."
)
NORMS_HOW_TO_READ = (
    "The size of the gradient reaching each h_t, on a log axis. Read it from the right, where the loss "
    "is (t = T), to the left: each step back multiplies it by about the same factor, so a vanishing "
    "gradient is a straight line that falls going left, an exploding one a line that climbs going left. "
    "Dashed: the LSTM's cell state c_t, its highway. The faint lines are the other cells on the same "
    "input and seed."
)
SPECTRUM_HOW_TO_READ = (
    "Left: the singular values of W_hh, largest first; above 1 (dashed) a direction can grow. "
    "Right: its eigenvalues in the complex plane. Inside the unit circle repeated multiplication "
    "shrinks a vector, outside it grows: the spectral radius is the largest |eigenvalue|."
)
JACOBIAN_HOW_TO_READ = (
    "||dh_T/dh_t||: how strongly the state at step t can still move the last state. Each step back "
    "multiplies by one step Jacobian (diag(φ') W_hh for the RNN); the per-step norms are the dots."
)
SATURATION_HOW_TO_READ = (
    "The fraction of units whose activation is flat (derivative below a tenth of its maximum) at "
    "each step: tanh near ±1, a gate near 0 or 1, a ReLU unit that is off. Such units pass almost no "
    "gradient: a high meter means a fast-fading signal."
)
CONTRIB_HOW_TO_READ = (
    "dL/dW_hh is a sum over steps. Each bar is the size of one step's term, by how far back from "
    "the end it lies: the weight update is made almost entirely of the most recent steps."
)
SALIENCY_HOW_TO_READ = (
    "||dL/dx_t||: how much each input can still change the loss. Inputs whose gradient has "
    "vanished cannot be learned from, however much they matter."
)

MAX_COLUMNS = 16  # steps shown at once in the unrolled graph


def cell_label(cell: str) -> str:
    return CELLS[cell].label


# --- the unrolled graph ---------------------------------------------------------------------


def drawn_steps(T: int) -> list[int | None]:
    """The 1-based steps of the backward graph's columns; None marks the ellipsis between first and last."""
    if T <= MAX_COLUMNS:
        return list(range(1, T + 1))
    head = MAX_COLUMNS // 2 - 1
    tail = MAX_COLUMNS - head - 1
    return [*range(1, head + 1), None, *range(T - tail + 1, T + 1)]


def flow_levels(values: np.ndarray) -> np.ndarray:
    """Edge flows -> 0..1: log10 over 8 decades below the largest flow; overflow counts as the largest."""
    finite = values[np.isfinite(values) & (values > 0)]
    top = np.log10(finite.max()) if finite.size else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        levels = np.clip((np.log10(np.maximum(values, 1e-300)) - top + 8.0) / 8.0, 0.0, 1.0)
    levels[~np.isfinite(values)] = 1.0
    return levels


def unrolled_graph(nodes: dict[str, tuple[np.ndarray, np.ndarray | None]], flows: dict[str, np.ndarray],
                   loss: float, loss_steps: np.ndarray, cell: str, mode: str, present: bool = False,
                   loss_on: str = "Last step only") -> StepFigure:
    """The unrolled network, following the step control.

    mode "forward": every step is a column, the view keeps MAX_COLUMNS of them around step t and
    highlights t. mode "backward": the gradient's flow, edge width and colour on a log scale; the
    control is "the gradient has reached step t" (Play runs it back from T to 1), edges of steps
    not reached yet are grey; long sequences show the first and last steps with an ellipsis.
    nodes: row ("x", "h", "c" if the cell has a cell state, "y") -> (values (T, n), gradients
    (T, n) or None), for the hover; flows: edge ("xh", "hy", "hh", and "cc", "ch", "hc" with a
    cell state) -> (T,) size of the gradient along it; loss and loss_steps (T,) bool: where it
    applies; cell: a key of cells.CELLS.
    """
    T = nodes["h"][0].shape[0]
    if mode == "forward" and T > MAX_COLUMNS:
        return _forward_window(nodes, cell, present)
    cell_state = "c" in nodes
    s = theme.sizes(present)
    columns = drawn_steps(T)
    col_of = {step: k for k, step in enumerate(columns) if step is not None}
    y = {"x": 0.0, "h": 1.0, "c": 2.0, "y": 3.0 if cell_state else 2.0}
    y_loss = y["y"] + 1.0
    x_loss = len(columns) - 1 + 1.2
    edges = []  # (kind of flow, step t, (x0, y0), (x1, y1))
    for step, k in col_of.items():
        edges.append(("xh", step, (k, y["x"]), (k, y["h"])))
        edges.append(("hy", step, (k, y["h"]), (k, y["y"])))
        if cell_state:
            edges.append(("hc", step, (k, y["h"]), (k, y["c"])))
        prev = col_of.get(step - 1)
        if prev is not None:
            edges.append(("hh", step, (prev, y["h"]), (k, y["h"])))
            if cell_state:
                edges.append(("cc", step, (prev, y["c"]), (k, y["c"])))
                edges.append(("ch", step, (prev, y["h"]), (k, y["c"])))
        if loss_steps[step - 1]:
            edges.append(("yL", step, (k, y["y"]), (x_loss, y_loss)))
    grey = {"color": theme.INACTIVE, "width": 1.5}
    data = []
    if mode == "forward":  # one grey trace for every edge: the forward pass has no flow to show
        xs, ys = [], []
        for _, _, (x0, y0), (x1, y1) in edges:
            xs += [x0, x1, None]
            ys += [y0, y1, None]
        data.append({"type": "scatter", "x": xs, "y": ys, "mode": "lines", "line": grey, "hoverinfo": "skip",
                     "showlegend": False})
    else:
        values = np.array([flows["hy" if edge == "yL" else edge][step - 1] for edge, step, _, _ in edges])
        levels = flow_levels(values)
        stops = np.array([p for p, _ in theme.MAGNITUDE])
        colours = [theme.MAGNITUDE[i][1] for i in np.abs(stops[None, :] - levels[:, None]).argmin(axis=1)]
        for e, (edge, step, (x0, y0), (x1, y1)) in enumerate(edges):
            lit = {"color": colours[e], "width": 1.0 + 9.0 * float(levels[e])}
            data.append({"type": "scatter", "x": [x0, x1], "y": [y0, y1], "mode": "lines", "showlegend": False,
                         "line": Reached(step, lit, grey), "hoverinfo": "text",
                         "text": f"{_EDGE_NAMES[edge]} at t = {step}: gradient {_fmt(values[e])}"})
    for key, (node_values, node_grads) in nodes.items():  # one scatter per row of nodes
        data.append({"type": "scatter", "x": np.array(list(col_of.values())), "y": np.full(len(col_of), y[key]),
                     "mode": "markers+text", "text": [f"{key}<sub>{step}</sub>" for step in col_of],
                     "textposition": "middle center", "cliponaxis": True,
                     "textfont": {"size": s.tick if min(len(columns), MAX_COLUMNS) > 10 else s.font,
                                  "color": theme.INK},
                     "marker": {"size": 34 if present else 28, "color": theme.PAPER,
                                "line": {"color": theme.INK, "width": 1.5}},
                     "hovertext": [_node_hover(key, step, node_values, node_grads) for step in col_of],
                     "hoverinfo": "text", "showlegend": False, "name": key})
    data.append({"type": "scatter", "x": [x_loss], "y": [y_loss], "mode": "markers+text", "text": ["L"],
                 "marker": {"size": 40, "color": theme.LOSS_FILL, "line": {"color": theme.INK, "width": 1.5}},
                 "hovertext": [f"loss L = {_fmt(loss)} (on {loss_on.lower()})"], "cliponaxis": True,
                 "hoverinfo": "text", "showlegend": False, "textfont": {"size": s.font}})
    shapes, notes = [], []
    if None in columns:
        notes.append({"x": columns.index(None), "y": y["h"], "text": "…", "showarrow": False,
                      "font": {"size": s.title * 2}})
    if mode == "forward":
        x_range = [-0.7, x_loss + 0.7]
        shapes.append({"type": "rect", "name": "cursor", "x0": StepNumber(-1.42), "x1": StepNumber(-0.58), "y0": -0.5,
                       "y1": y["y"] + 0.5, "fillcolor": theme.CURSOR, "opacity": 0.18, "line": {"width": 0},
                       "layer": "below"})
        title = Template(f"Unrolled {cell_label(cell)}, forward: step t = {{t}} of {{T}}")
    else:
        x_range = [-0.7, x_loss + 0.7]
        title = Template("Backward: the gradient has reached step {t} of {T} (width and colour: log scale)")
    layout = {
        "shapes": shapes, "annotations": notes,
        "xaxis": {"visible": False, "range": x_range, "fixedrange": True},
        "yaxis": {"visible": False, "range": [-0.6, y_loss + 0.6], "fixedrange": True},
    }
    steps = [str(k) for k in range(1, T + 1)]
    return theme.step_figure(data, layout, title=title, present=present, height=360 + (90 if cell_state else 0),
                             labels=steps)


def _forward_window(nodes: dict[str, tuple[np.ndarray, np.ndarray | None]], cell: str,
                    present: bool) -> StepFigure:
    """The forward graph of a long sequence: MAX_COLUMNS columns that show the steps around t.

    The columns stay where they are; their labels and hover texts follow t (Slot references), and
    the highlight sits on the column of step t, so moving t redraws a few labels, not T columns.
    """
    T = nodes["h"][0].shape[0]
    width = MAX_COLUMNS
    s = theme.sizes(present)
    cell_state = "c" in nodes
    y = {"x": 0.0, "h": 1.0, "c": 2.0, "y": 3.0 if cell_state else 2.0}
    xs, ys = [], []
    for k in range(width):
        segments = [((k, y["x"]), (k, y["h"])), ((k, y["h"]), (k, y["y"]))]
        if cell_state:
            segments.append(((k, y["h"]), (k, y["c"])))
        if k > 0:
            segments.append(((k - 1, y["h"]), (k, y["h"])))
            if cell_state:
                segments += [((k - 1, y["c"]), (k, y["c"])), ((k - 1, y["h"]), (k, y["c"]))]
        for (x0, y0), (x1, y1) in segments:
            xs += [x0, x1, None]
            ys += [y0, y1, None]
    data = [{"type": "scatter", "x": xs, "y": ys, "mode": "lines", "hoverinfo": "skip", "showlegend": False,
             "line": {"color": theme.INACTIVE, "width": 1.5}}]
    arrays = {}
    for key, (values, grads) in nodes.items():
        arrays[f"{key}_norm"] = row_norms(values)[:, None]
        hover = f"<b>{key}<sub>{{s}}</sub></b><br>||{key}|| = {{{key}_norm}}"
        if grads is not None:
            arrays[f"{key}_grad"] = row_norms(grads)[:, None]
            hover += f"<br>||dL/d{key}<sub>{{s}}</sub>|| = {{{key}_grad}}"
        data.append({"type": "scatter", "x": np.arange(width), "y": np.full(width, y[key]), "mode": "markers+text",
                     "text": [Slot(k, width, T, f"{key}<sub>{{s}}</sub>") for k in range(width)],
                     "textposition": "middle center", "textfont": {"size": s.tick, "color": theme.INK},
                     "marker": {"size": 34 if present else 28, "color": theme.PAPER,
                                "line": {"color": theme.INK, "width": 1.5}},
                     "hovertext": [Slot(k, width, T, hover) for k in range(width)], "hoverinfo": "text",
                     "showlegend": False, "name": key})
    shapes = [{"type": "rect", "name": "cursor", "x0": SlotCursor(width, T, -0.42), "x1": SlotCursor(width, T, 0.42),
               "y0": -0.5, "y1": y["y"] + 0.5, "fillcolor": theme.CURSOR, "opacity": 0.18, "line": {"width": 0},
               "layer": "below"}]
    layout = {"shapes": shapes,
              "xaxis": {"visible": False, "range": [-0.7, width - 0.3], "fixedrange": True},
              "yaxis": {"visible": False, "range": [-0.6, y["y"] + 0.6], "fixedrange": True}}
    title = Template(f"Unrolled {cell_label(cell)}, forward: step t = {{t}} of {{T}} (steps around t)")
    return theme.step_figure(data, layout, title=title, present=present, height=300 + (90 if cell_state else 0),
                             arrays=arrays, labels=[str(k) for k in range(1, T + 1)])


_EDGE_NAMES = {"xh": "x → h", "hy": "h → y", "hh": "h(t−1) → h(t)", "cc": "c(t−1) → c(t) (cell-state highway)",
               "ch": "h(t−1) → c(t) (gates)", "hc": "c(t) → h(t)", "yL": "y → L"}


def _node_hover(key: str, step: int, values: np.ndarray, grads: np.ndarray | None) -> str:
    value, grad = values[step - 1], None if grads is None else grads[step - 1]
    head = ", ".join(f"{v:.3f}" for v in value[:4]) + (", …" if len(value) > 4 else "")
    text = f"<b>{key}<sub>{step}</sub></b> = [{head}]<br>||{key}|| = {_fmt(float(row_norms(value)))}"
    if grad is not None:
        text += f"<br>||dL/d{key}<sub>{step}</sub>|| = {_fmt(float(row_norms(grad)))}"
    return text


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return "overflow (inf)" if value > 0 or np.isinf(value) else "not a number"
    return f"{value:.3g}"


# --- gradient norms ---------------------------------------------------------------------------


def grad_norms(h_norms: dict[str, np.ndarray], c_norms: dict[str, np.ndarray], main: str, reach: Survival,
               bound: np.ndarray | None = None, exploded_at: int | None = None, present: bool = False) -> go.Figure:
    """||dL/dh_t|| against t (log axis) for every cell, with ||dL/dc_t||, the bound and the explosion.

    h_norms, c_norms: cell key -> (T,), the main cell's among them (c_norms for the cells with a
    cell state); reach: what of the main cell's gradient reaches t = 1 (its regime); bound (T,):
    Pascanu et al.'s bound, where it bounds.
    """
    s = theme.sizes(present)
    T = len(h_norms[main])
    steps = np.arange(1, T + 1)
    data = []
    for cell, norms in h_norms.items():
        if cell == main:
            continue
        colour = theme.cell_colour(cell)
        data.append(_norm_line(steps, norms, f"{cell_label(cell)}: ||dL/dh<sub>t</sub>||", colour,
                               s.line * 0.8, opacity=0.55))
        if cell in c_norms:  # the cell-state highway, even when it is the overlay
            data.append(_norm_line(steps, c_norms[cell], f"{cell_label(cell)}: ||dL/dc<sub>t</sub>||", colour,
                                   s.line * 0.8, dash="dash", opacity=0.75))
    if main in c_norms:
        data.append(_norm_line(steps, c_norms[main], f"{cell_label(main)}: ||dL/dc<sub>t</sub>||",
                               theme.cell_colour(main), s.line, dash="dash"))
    if bound is not None:
        data.append(_norm_line(steps, bound, "bound: ||dL/dh<sub>T</sub>|| (γσ<sub>max</sub>)<sup>T−t</sup>",
                               theme.MUTED, s.line * 0.8, dash="dot"))
    data.append(_norm_line(steps, h_norms[main], f"{cell_label(main)}: ||dL/dh<sub>t</sub>||",
                           theme.cell_colour(main), s.line * 1.6))
    shapes, notes = [], []
    if exploded_at is not None:
        shapes.append({"type": "line", "x0": exploded_at, "x1": exploded_at, "y0": 0, "y1": 1,
                       "yref": "paper", "line": {"color": theme.ALARM, "width": s.line, "dash": "dash"}})
        notes.append({"x": exploded_at, "y": 1, "yref": "paper", "text": f"exploded at step {exploded_at}",
                      "showarrow": False, "yanchor": "bottom", "font": {"color": theme.ALARM, "size": s.font}})
    regime = "—" if reach.regime == "undefined" else reach.regime
    layout = {
        "xaxis": {"title": {"text": "step t   (◀ going back from the loss at t = T)"}, "range": [0.5, T + 0.5]},
        "yaxis": {"title": {"text": "||dL/dh<sub>t</sub>||"}, "type": "log", "exponentformat": "power"},
        "legend": theme.legend(present, x=0.0),
        "shapes": shapes, "annotations": notes, "hovermode": "x unified",
    }
    return theme.figure(data, layout, title=f"Gradient reaching each step — {cell_label(main)}: {regime}",
                        present=present, height=460)


def _norm_line(steps, values, name, colour, width, dash="solid", opacity=1.0) -> dict:
    return {"type": "scatter", "x": steps, "y": theme.log_values(values), "mode": "lines", "name": name,
            "line": {"color": colour, "width": width, "dash": dash}, "opacity": opacity,
            "hovertemplate": "%{y:.3e}"}


# --- why it happens -----------------------------------------------------------------------------


def spectrum(spectra: dict[str, Spectrum], present: bool = False) -> go.Figure:
    """Singular values of each W_hh block (left) and its eigenvalues with the unit circle (right)."""
    s = theme.sizes(present)
    data = []
    for k, (block, sp) in enumerate(spectra.items()):
        colour = theme.line_colour(k)
        name = "W_hh" if block == "h" else f"W_h{block}"
        index = np.arange(1, len(sp.singular_values) + 1)
        data.append({"type": "scatter", "x": index, "y": theme.f32(sp.singular_values),
                     "mode": "lines+markers", "name": name, "legendgroup": name, "xaxis": "x", "yaxis": "y",
                     "line": {"color": colour, "width": s.line}, "marker": {"size": s.marker * 0.7},
                     "hovertemplate": "σ<sub>%{x}</sub> = %{y:.4f}<extra>" + name + "</extra>"})
        data.append({"type": "scatter", "x": theme.f32(sp.eigenvalues.real), "y": theme.f32(sp.eigenvalues.imag),
                     "mode": "markers", "name": name, "legendgroup": name, "showlegend": False,
                     "xaxis": "x2", "yaxis": "y2", "marker": {"color": colour, "size": s.marker},
                     "hovertemplate": "λ = %{x:.3f} %{y:+.3f}i<extra>" + name + "</extra>"})
    angle = np.linspace(0, 2 * np.pi, 121)
    data.append({"type": "scatter", "x": np.cos(angle), "y": np.sin(angle), "mode": "lines", "xaxis": "x2",
                 "yaxis": "y2", "line": {"color": theme.MUTED, "dash": "dot", "width": s.line * 0.6},
                 "name": "unit circle", "hoverinfo": "skip"})
    radius = max(sp.spectral_radius for sp in spectra.values())
    H = max(len(sp.singular_values) for sp in spectra.values())
    r = max(1.15, radius * 1.1)
    layout = {
        "xaxis": {"domain": [0.0, 0.5], "title": {"text": "index i"}},
        "yaxis": {"title": {"text": "singular value σ<sub>i</sub>"}, "rangemode": "tozero"},
        "xaxis2": {"domain": [0.6, 1.0], "title": {"text": "Re λ"}, "range": [-r, r], "anchor": "y2"},
        "yaxis2": {"title": {"text": "Im λ"}, "range": [-r, r], "anchor": "x2", "scaleanchor": "x2"},
        "shapes": [{"type": "line", "xref": "x", "yref": "y", "x0": 0.5, "x1": H + 0.5,
                    "y0": 1, "y1": 1, "line": {"color": theme.MUTED, "dash": "dash", "width": s.line * 0.6}}],
        "legend": theme.legend(present, y=-0.25),
    }
    return theme.figure(data, layout, title=f"W_hh: singular values and eigenvalues (spectral radius {radius:.3g})",
                        present=present, height=420)


def jacobian_norms(jn: JacobianNorms, present: bool = False) -> go.Figure:
    """||dh_T/dh_t|| at the sampled steps, and each step's ||dh_t/dh_{t-1}||."""
    s = theme.sizes(present)
    data = [
        {"type": "scatter", "x": jn.t, "y": theme.log_values(jn.to_last), "mode": "lines",
         "name": "||dh<sub>T</sub>/dh<sub>t</sub>||", "line": {"color": theme.line_colour(0), "width": s.line * 1.4},
         "hovertemplate": "t = %{x}: %{y:.3e}<extra></extra>"},
        {"type": "scatter", "x": jn.t, "y": theme.log_values(jn.step), "mode": "markers",
         "name": "||dh<sub>t</sub>/dh<sub>t−1</sub>||",
         "marker": {"color": theme.line_colour(1), "size": s.marker * 0.8},
         "hovertemplate": "t = %{x}: %{y:.3f}<extra></extra>"},
    ]
    layout = {"xaxis": {"title": {"text": "step t"}}, "yaxis": {"title": {"text": "spectral norm"}, "type": "log",
                                                                  "exponentformat": "power"},
              "legend": theme.legend(present, y=-0.25)}
    return theme.figure(data, layout, title="How strongly step t can still move the last state",
                        present=present, height=380)


def saturation_meter(saturation: dict[str, np.ndarray], present: bool = False, dead: bool = False) -> go.Figure:
    """Fraction of saturated units per step (T,), per activation and overall ("all").

    dead: a ReLU network, whose flat units are not saturated but off (a <= 0, slope 0): named so."""
    s = theme.sizes(present)
    steps = np.arange(1, len(saturation["all"]) + 1)
    data = []
    blocks = [b for b in saturation if b != "all"]
    for k, block in enumerate(blocks):
        if len(blocks) > 1:
            data.append({"type": "scatter", "x": steps, "y": theme.f32(saturation[block]), "mode": "lines",
                         "name": block, "line": {"color": theme.line_colour(k), "width": s.line * 0.7},
                         "opacity": 0.7, "hovertemplate": f"{block}: " + "%{y:.0%}<extra></extra>"})
    data.append({"type": "scatter", "x": steps, "y": theme.f32(saturation["all"]), "mode": "lines",
                 "name": "all units", "fill": "tozeroy", "line": {"color": theme.INK, "width": s.line},
                 "hovertemplate": ("off" if dead else "saturated") + ": %{y:.0%}<extra></extra>"})
    what = "dead units (ReLU off)" if dead else "saturated units"
    layout = {"xaxis": {"title": {"text": "step t"}},
              "yaxis": {"title": {"text": what}, "range": [0, 1.02], "tickformat": ".0%"},
              "legend": theme.legend(present, y=-0.25)}
    title = "Dead-unit meter: ReLU units that are off" if dead else "Saturation meter"
    return theme.figure(data, layout, title=title, present=present, height=380)


def contributions(terms: dict[str, np.ndarray], present: bool = False, max_bars: int = 100) -> go.Figure:
    """Stacked bars: the size of each step's term of dL/dW_hh (block -> (T,), and "total"), by steps back."""
    T = len(terms["total"])
    blocks = [b for b in terms if b != "total"]
    back = np.arange(T)[::-1]  # T - t for t = 1..T
    width = max(1, -(-T // max_bars))  # bin steps back so at most max_bars bars are drawn
    bins = back // width
    n_bins = bins.max() + 1
    data = []
    for k, block in enumerate(blocks):
        sums = np.bincount(bins, weights=np.nan_to_num(terms[block], posinf=0.0), minlength=n_bins)
        label = "W_hh" if block == "h" else f"block {block}"
        data.append({"type": "bar", "x": np.arange(n_bins) * width, "y": theme.f32(sums), "name": label,
                     "marker": {"color": theme.line_colour(k)},
                     "hovertemplate": f"{label}, " + "%{x} steps back: %{y:.3e}<extra></extra>"})
    axis = "steps back from the end, T − t" + (f" (bins of {width})" if width > 1 else "")
    layout = {"barmode": "stack", "bargap": 0.1, "xaxis": {"title": {"text": axis}},
              "yaxis": {"title": {"text": "||term of dL/dW<sub>hh</sub>||"}},
              "legend": theme.legend(present, y=-0.25)}
    return theme.figure(data, layout, title="Where the weight gradient comes from", present=present, height=380)


def saliency(values: np.ndarray, xs: np.ndarray, tokens: Sequence[str] | None = None, present: bool = False,
             per_row: int = 32) -> go.Figure:
    """||dL/dx_t|| (T,) per input: characters coloured (a typed text, tokens (T,)), or bars under
    the input signal xs (T, I) (numbers)."""
    s = theme.sizes(present)
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(np.where(values > 0, values, np.nan))
    if tokens is not None:
        z, chars, steps = theme.char_grid(list(tokens), logs, per_row)
        rows = z.shape[0]
        hover = np.array([[f"step {k}: ||dL/dx|| = {values[k - 1]:.3e}" if k else "" for k in row] for row in steps],
                         dtype=object)
        data = [{"type": "heatmap", "z": theme.f32(z), "text": chars, "texttemplate": "%{text}",
                 "textfont": {"size": s.title}, "colorscale": theme.MAGNITUDE, "xgap": 3, "ygap": 3,
                 "customdata": hover, "hovertemplate": "%{customdata}<extra></extra>",
                 "colorbar": theme.colorbar("log<sub>10</sub> ||dL/dx||", present)}]
        layout = {"xaxis": {"visible": False}, "yaxis": {"visible": False, "autorange": "reversed"}}
        return theme.figure(data, layout, title="Saliency: how much each character can still change the loss",
                            present=present, height=130 + 56 * rows)
    steps = np.arange(1, len(values) + 1)
    xs = np.asarray(xs, dtype=float)
    layout = theme.stacked_axes(2, ["input x<sub>t</sub>", "||dL/dx<sub>t</sub>||"], present, gap=0.3, shared_x=True)
    data = [{"type": "scatter", "x": steps, "y": theme.f32(xs[:, j]), "mode": "lines", "xaxis": "x", "yaxis": "y",
             "name": f"x[{j}]", "line": {"width": s.line * 0.8, "color": theme.line_colour(j)}}
            for j in range(min(xs.shape[1], 4))]
    data.append({"type": "bar", "x": steps, "y": theme.f32(values), "xaxis": "x2", "yaxis": "y2", "name": "||dL/dx||",
                 "marker": {"color": theme.line_colour(0)}, "hovertemplate": "t = %{x}: %{y:.3e}<extra></extra>"})
    layout["yaxis2"]["type"] = "log"
    layout["yaxis2"]["exponentformat"] = "power"
    layout["xaxis2"]["title"] = {"text": "step t"}
    layout["xaxis"]["showticklabels"] = False
    layout["showlegend"] = False
    return theme.figure(data, layout, title="Saliency: how much each input can still change the loss",
                        present=present, height=440)
