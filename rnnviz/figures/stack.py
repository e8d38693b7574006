"""Figures of a stacked / bidirectional network: every layer's state at step t, over time, and its gradient.

Builders take the arrays they draw keyed by (layer, direction) — layer 0-based, direction 0
forward and 1 reverse, every array in the sequence's own time order (row t - 1 is step t) — and
the step labels. The step figures are figures.steps.StepFigures: the browser moves them through t.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from . import theme
from .steps import Row, StepFigure, StepNumber, Template, Whole

Key = tuple[int, int]  # (layer, direction)
ARROWS = ("→", "←")  # the way each direction reads the sequence
# each direction's line: colours apart from the layers' (line_colour(l)) in the plot beside it
FLOWS = (("forward → (its gradient flows ◀ to t = 1)", theme.COLOURS["green"]),
         ("reverse ← (its gradient flows ▶ to t = T)", theme.COLOURS["purple"]))

STACK_CAPTION = (
    "The whole network at step t: the input x_t at the bottom, then one row per layer, each square one unit of "
    "h_t (blue < 0 < red). Layer l reads the states of layer l − 1 at the same step. In a bidirectional layer the "
    "forward direction (left) has read the sequence from its start up to t, the reverse direction (right) from "
    "its end down to t; the layer above reads both side by side, so from layer 2 up every state has seen the "
    "whole sequence. The detailed cell below is layer 1's forward direction."
)
OVER_TIME_CAPTION = (
    "Every layer and direction's h over the whole sequence: rows are units, columns are steps, the orange line "
    "marks step t and the shaded band the steps that direction has run through by then: the forward direction "
    "those up to t, the reverse direction those from T down to t. (From layer 2 up in a bidirectional stack, each "
    "of those steps already carries the whole sequence, read by the layer below.)"
)
LAYER_NORMS_CAPTION = (
    "||dL/dh_t|| for every layer on one log axis (colour: layer; dashed: the reverse direction). The gradient "
    "reaches a lower layer only through the layers above it, each adding its own Jacobians: it travels back in time "
    "(left along a line) and down in depth (from line to line), and both multiply."
)
MEET_CAPTION = (
    "One panel per layer: the forward direction's gradient flows back from the loss towards t = 1 (right to left), "
    "the reverse direction's towards t = T (left to right), because the reverse direction computed the later steps' "
    "states from the earlier ones. Where the two meet, a step gets gradient from both sides of the sequence."
)


def layer_name(layer: int, direction: int, D: int) -> str:
    """"layer 2", or "layer 2, reverse ←" in a bidirectional stack."""
    side = f", {('forward', 'reverse')[direction]} {ARROWS[direction]}" if D == 2 else ""
    return f"layer {layer + 1}{side}"


def _key(layer: int, direction: int) -> str:
    return f"h_l{layer}_d{direction}"


def _read_text(layer: int, direction: int, D: int) -> Template:
    """What the state has read by step t, as a template."""
    if layer > 0 and D == 2:
        return Template("has seen all of x<sub>1</sub> … x<sub>{T}</sub>")
    if direction == 0:
        return Template("has read x<sub>1</sub> … x<sub>{t}</sub>")
    return Template("has read x<sub>{T}</sub> … x<sub>{t}</sub>")


def stack_at_step(h: Mapping[Key, np.ndarray], xs: np.ndarray, step_labels: Sequence[str], cell_label: str,
                  present: bool = False, channels: Sequence[str] | None = None) -> StepFigure:
    """Every layer's h_t (and x_t) at step t, a strip of units each; a bidirectional layer's two directions
    side by side. h: (layer, direction) -> (T, H); xs (T, I)."""
    s = theme.sizes(present)
    L = max(l for l, _ in h) + 1
    D = max(d for _, d in h) + 1
    zmax = theme.signed_range(*h.values())
    x_max = theme.signed_range(xs)
    width = 4.2 if D == 2 else 6.0
    centres = (2.6, 7.4) if D == 2 else (5.0,)
    gap = 2.0  # height of one layer's row: its strip, its two-line name, the arrows from below
    data, shapes, notes, arrows = [], [], [], []
    arrays = {"x": theme.f32(xs), **{_key(*k): theme.f32(v) for k, v in h.items()}}

    def strip(key: str, values: np.ndarray, xc: float, yc: float, w: float, vmax: float, name: str,
              bar: bool) -> None:
        n = values.shape[1]
        names = np.array([f"{name}[{j}]" for j in range(n)])
        if key == "x" and channels is not None and len(channels) == n:
            names = np.array([f"x[{j}] ({theme.visible_char(c)})" for j, c in enumerate(channels)])
        data.append({"type": "heatmap", "name": key, "z": Row(key), "x0": xc - w / 2 + w / (2 * n), "dx": w / n,
                     "y0": yc, "dy": 0.5, "colorscale": theme.DIVERGING, "zmin": -vmax, "zmax": vmax,
                     "showscale": bar, **({"colorbar": theme.colorbar("h", present, len=0.8, y=0.55)} if bar else {}),
                     "xgap": 1 if n <= 32 else 0, "customdata": names[None],
                     "hovertemplate": "%{customdata} = %{z:.4f}<extra></extra>"})
        shapes.append({"type": "rect", "x0": xc - w / 2, "x1": xc + w / 2, "y0": yc - 0.27, "y1": yc + 0.27,
                       "line": {"color": theme.INK, "width": 1.5}, "layer": "above"})


    strip("x", xs, 5.0, 0.0, 6.0, x_max, "x", False)
    notes.append({"x": 1.9, "y": 0.0, "text": Template("<b>x<sub>{t}</sub></b> ‘{label}’"), "showarrow": False,
                  "xanchor": "right", "font": {"size": s.font + 1}})
    for layer in range(L):
        y = gap * (layer + 1)
        for d in range(D):
            xc = centres[d]
            strip(_key(layer, d), h[layer, d], xc, y, width, zmax, f"h (layer {layer + 1}{', reverse' if d else ''})",
                  layer == 0 and d == 0)
            # its name, and under it what it has read by step t; the arrows from below end under the strip
            notes.append({"x": xc, "y": y + 0.3, "yanchor": "bottom", "showarrow": False, "font": {"size": s.font},
                          "text": Template(f"<b>{layer_name(layer, d, D)}</b>: h<sub>t</sub><br>"
                                           f'<span style="color:{theme.MUTED};font-size:{s.tick}px">'
                                           f"{_read_text(layer, d, D).text}</span>")})
            # what this state reads from below: x_t, or every direction of the layer below at step t
            below = [(5.0, 0.3)] if layer == 0 else [(centres[e], gap * layer + 1.05) for e in range(D)]
            arrows += [((bx, by), (xc + (bx - xc) * 0.25, y - 0.3)) for bx, by in below]
    data.append(theme.arrows(arrows, s.line * 0.7))
    y_high = gap * L + 1.2
    layout = {"shapes": shapes, "annotations": theme.labels(notes),
              "xaxis": {"visible": False, "range": [-0.3, 10.3], "fixedrange": True},
              "yaxis": {"visible": False, "range": [-0.6, y_high], "fixedrange": True},
              "margin": {"r": 80, "b": 10}}  # no axes below: the house margin's 50 px were blank
    title = Template(f"{L}-layer{' bidirectional' if D == 2 else ''} {cell_label} at step t = {{t}} of {{T}}")
    return theme.step_figure(data, layout, title=title, present=present, height=int(80 + 70 * (y_high + 0.6)),
                             arrays=arrays, labels=step_labels)


def stack_over_time(h: Mapping[Key, np.ndarray], step_labels: Sequence[str], present: bool = False) -> StepFigure:
    """Each layer and direction's h as a (unit x time) heatmap, top layer first, the cursor at t and a band
    over what that direction has read by step t."""
    L = max(l for l, _ in h) + 1
    D = max(d for _, d in h) + 1
    keys = [(l, d) for l in reversed(range(L)) for d in range(D)]  # the top layer on top, as in the stack
    T = len(step_labels)
    layout = theme.stacked_axes(len(keys), [f"{layer_name(l, d, D)}: h" for l, d in keys], present, gap=0.3,
                                shared_x=True)
    zmax = theme.signed_range(*h.values())
    s = theme.sizes(present)
    data, shapes = [], []
    for row, (l, d) in enumerate(keys, start=1):
        xref, yref = theme.axis_ref(row)
        data.append({"type": "heatmap", "name": _key(l, d), "z": Whole(_key(l, d), transpose=True), "x0": 1, "dx": 1,
                     "y0": 0, "dy": 1, "xaxis": xref, "yaxis": yref, "colorscale": theme.DIVERGING, "zmin": -zmax,
                     "zmax": zmax, "showscale": row == 1,
                     **({"colorbar": theme.colorbar("h", present, len=1.0, y=0.5, x=1.01)} if row == 1 else {}),
                     "hovertemplate": f"{layer_name(l, d, D)}: h" + "[%{y}] at t = %{x}: %{z:.4f}<extra></extra>"})
        suffix = "" if row == 1 else str(row)
        layout[f"yaxis{suffix}"]["title"] = {"text": "unit"}
        layout[f"xaxis{suffix}"]["showticklabels"] = row == len(keys)
        read = ({"x0": 0.5, "x1": StepNumber(0.5)} if d == 0 else {"x0": StepNumber(-0.5), "x1": T + 0.5})
        shapes.append({"type": "rect", "name": "cursor-read", **read, "xref": xref, "y0": 0, "y1": 1,
                       "yref": f"{yref} domain", "fillcolor": "rgba(230,159,0,0.13)",
                       "line": {"color": "rgba(230,159,0,0.5)", "width": 1}})
        shapes.append({"type": "line", "name": "cursor", "x0": StepNumber(), "x1": StepNumber(), "xref": xref,
                       "y0": 0, "y1": 1, "yref": f"{yref} domain", "line": {"color": theme.CURSOR, "width": s.line}})
    layout[f"xaxis{'' if len(keys) == 1 else len(keys)}"]["title"] = {"text": "step t"}
    layout["shapes"] = shapes
    return theme.step_figure(data, layout, title="Every layer's h over time (units × steps)", present=present,
                             height=120 * len(keys) + 90, arrays={_key(*k): theme.f32(v) for k, v in h.items()},
                             labels=step_labels)


def _line(steps, values, name, colour, width, dash="solid") -> dict:
    """A norm line; with markers on short sequences, where a lone non-zero step would draw no line at all.
    A dashed (reverse) line's markers are larger open diamonds, so a point it shares with the solid
    (forward) line of the same colour still shows around it."""
    marker = ({"size": width * 2.5, "color": colour} if dash == "solid" else
              {"size": width * 6, "color": colour, "symbol": "diamond-open", "line": {"width": width}})
    return {"type": "scatter", "x": steps, "y": theme.log_values(values), "name": name,
            "mode": "lines+markers" if len(steps) <= 60 else "lines", "marker": marker,
            "line": {"color": colour, "width": width, "dash": dash}, "hovertemplate": "%{y:.3e}"}


def layer_grad_norms(norms: Mapping[Key, np.ndarray], loss_steps: np.ndarray, cell_label: str,
                     present: bool = False, message: str | None = None) -> go.Figure:
    """||dL/dh_t|| of every layer and direction against t, one log axis. norms: (layer, direction) -> (T,);
    loss_steps (T,) bool: where the loss applies (marked under the axis)."""
    s = theme.sizes(present)
    L = max(l for l, _ in norms) + 1
    D = max(d for _, d in norms) + 1
    T = len(next(iter(norms.values())))
    steps = np.arange(1, T + 1)
    data = [_line(steps, norms[l, d], f"{layer_name(l, d, D)}: ||dL/dh<sub>t</sub>||", theme.line_colour(l),
                  s.line * (1.4 if d == 0 else 1.1), "solid" if d == 0 else "dash")
            for l in reversed(range(L)) for d in range(D)]
    loss_at = steps[np.asarray(loss_steps, dtype=bool)]
    notes = []
    if message:
        notes.append({"x": 0, "y": 1, "xref": "paper", "yref": "paper", "text": message, "showarrow": False,
                      "xanchor": "left", "yanchor": "top", "font": {"color": theme.ALARM, "size": s.font}})
    layout = {
        "xaxis": {"title": {"text": "step t"}, "range": [0.5, T + 0.5]},
        "yaxis": {"title": {"text": "||dL/dh<sub>t</sub>||"}, "type": "log", "exponentformat": "power"},
        "legend": theme.legend(present, x=0.0), "hovermode": "x unified", "annotations": notes,
        "shapes": [{"type": "rect", "x0": t - 0.5, "x1": t + 0.5, "y0": 0, "y1": 0.025, "yref": "paper",
                    "fillcolor": theme.LOSS_FILL, "line": {"width": 0}} for t in loss_at[:200]],
    }
    title = f"Gradient reaching each layer's h<sub>t</sub> — {L}-layer{' bidirectional' if D == 2 else ''} {cell_label}"
    return theme.figure(data, layout, title=title, present=present, height=460)


def directions_meet(norms: Mapping[Key, np.ndarray], present: bool = False) -> go.Figure:
    """Per layer (top first), the forward and the reverse direction's ||dL/dh_t||: the two flows meeting.
    norms: (layer, direction) -> (T,), both directions."""
    s = theme.sizes(present)
    L = max(l for l, _ in norms) + 1
    T = len(norms[0, 0])
    steps = np.arange(1, T + 1)
    layout = theme.stacked_axes(L, [f"layer {l + 1}" for l in reversed(range(L))], present, gap=0.35, shared_x=True)
    data = []
    for row, l in enumerate(reversed(range(L)), start=1):
        xref, yref = theme.axis_ref(row)
        for d, (name, colour) in enumerate(FLOWS):
            data.append(_line(steps, norms[l, d], name, colour, s.line * 1.2, "solid" if d == 0 else "dash")
                        | {"xaxis": xref, "yaxis": yref, "showlegend": row == 1, "legendgroup": str(d)})
        suffix = "" if row == 1 else str(row)
        layout[f"yaxis{suffix}"] |= {"type": "log", "exponentformat": "power", "dtick": 1,
                                     "title": {"text": "||dL/dh<sub>t</sub>||"}}
        layout[f"xaxis{suffix}"] |= {"range": [0.5, T + 0.5], "showticklabels": row == L}
    layout[f"xaxis{'' if L == 1 else L}"]["title"] = {"text": "step t"}
    layout["legend"] = theme.legend(present, x=0.0, y=-0.12 - 0.06 / L)
    return theme.figure(data, layout, title="The two directions' gradients meeting", present=present,
                        height=200 * L + 140)
