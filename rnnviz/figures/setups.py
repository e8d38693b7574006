"""Figures of the input-output setups: each unrolled graph with the gradient its steps receive, and all
setups side by side.

Builders take the per-step arrays of a setup (which steps read an input, where the loss applies,
which are the decoder's, ||dL/dh_n|| and ||dL/dx_n||) and labels; no model math here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from . import theme

GRAPH_CAPTION = (
    "The setup unrolled: one column per step, the input x at the bottom (only where one enters), the hidden "
    "state h in the middle, the loss L on top where it applies. Each h is coloured by the size of the gradient "
    "dL/dh it receives (log scale, bright = large, dark = small); a hollow outline means none at all, exactly zero: "
    "no loss lies at or after it. In the "
    "encoder-decoder the only way back into the encoder is the one arrow that hands its last state to the decoder."
)
NORMS_CAPTION = (
    "The same gradients as sizes on a log axis: ||dL/dh_n|| (solid) and ||dL/dx_n|| (squares, only where an "
    "input enters). A gap is a step that receives none. Shaded: where the loss applies."
)
COMPARE_CAPTION = (
    "Every setup on the same input, one row each: the colour is log10 ||dL/dh_n|| at each step, blank where it is "
    "exactly zero. Gradient enters where the loss applies and only flows back in time: steps after the last loss "
    "get none, and the further a step lies before the losses, the less reaches it."
)
DECADES = 8  # the colour scale spans this many decades below the largest gradient


def _log_levels(norms: np.ndarray) -> tuple[np.ndarray, float, float]:
    """log10 of the norms (NaN where zero or not finite), and the colour range: DECADES below the top."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(np.isfinite(norms) & (norms > 0), np.log10(np.where(norms > 0, norms, 1.0)), np.nan)
    top = float(np.nanmax(logs)) if np.isfinite(logs).any() else 0.0
    return logs, top - DECADES, top


def _segments(pairs: Sequence[tuple[float, float, float, float]]) -> tuple[list, list]:
    """Line segments (x0, y0, x1, y1) as one scatter's x and y, separated by None."""
    xs, ys = [], []
    for x0, y0, x1, y1 in pairs:
        xs += [x0, x1, None]
        ys += [y0, y1, None]
    return xs, ys


def unrolled_setup(label: str, inputs_at: np.ndarray, loss_at: np.ndarray, decoder: np.ndarray,
                   h_norms: np.ndarray, step_labels: Sequence[str], present: bool = False) -> go.Figure:
    """The unrolled graph of one setup, each h coloured by ||dL/dh_n||. All arrays (N,); step_labels (N,)."""
    s = theme.sizes(present)
    N = len(h_norms)
    n = np.arange(1, N + 1)
    size = float(np.clip(700 / N, 5, 26 if present else 22))
    logs, low, high = _log_levels(h_norms)
    inputs_at, loss_at, decoder = (np.asarray(a, dtype=bool) for a in (inputs_at, loss_at, decoder))
    edge = {"mode": "lines", "hoverinfo": "skip", "showlegend": False}
    hh_x, hh_y = _segments([(k, 1, k + 1, 1) for k in n[:-1] if decoder[k - 1] == decoder[k]])
    xh_x, xh_y = _segments([(k, 0, k, 1) for k in n[inputs_at]])
    hl_x, hl_y = _segments([(k, 1, k, 2) for k in n[loss_at]])
    data = [
        {"type": "scatter", "x": hh_x, "y": hh_y, "line": {"color": theme.MUTED, "width": s.line * 0.6}, **edge},
        {"type": "scatter", "x": xh_x, "y": xh_y, "line": {"color": theme.MUTED, "width": s.line * 0.5}, **edge},
        {"type": "scatter", "x": hl_x, "y": hl_y, "line": {"color": theme.ALARM, "width": s.line * 0.5}, **edge},
    ]
    handoff = np.flatnonzero(~decoder[:-1] & decoder[1:])  # the encoder's last step -> the decoder's first
    notes = []
    for k in handoff:
        notes.append({"x": k + 2, "y": 1, "ax": k + 1, "ay": 1, "xref": "x", "yref": "y", "axref": "x", "ayref": "y",
                      "showarrow": True, "arrowhead": 2, "arrowwidth": s.line * 1.2, "arrowcolor": theme.CURSOR,
                      "text": ""})
        notes.append({"x": k + 1.2, "y": 1.5, "text": "last state → decoder", "showarrow": False, "xanchor": "right",
                      "font": {"size": s.tick, "color": theme.CURSOR}})  # over the encoder: it has no loss nodes
    labels = np.array([theme.escape_label(x) for x in step_labels], dtype=object)
    data.append({"type": "scatter", "x": n[inputs_at], "y": np.zeros(int(inputs_at.sum())), "mode": "markers",
                 "name": "input x", "marker": {"size": size * 0.8, "color": theme.PAPER, "symbol": "square",
                                               "line": {"color": theme.INK, "width": 1}},
                 "customdata": labels[inputs_at], "hovertemplate": "x<sub>%{x}</sub>: ‘%{customdata}’<extra></extra>"})
    received = np.isfinite(logs)
    # no gradient at all: a hollow outline, which no colour of the scale (Cividis is grey in its middle) resembles
    for mask, name, hollow, extra in ((~received, "h, no gradient (hollow)", "-open", {"color": theme.MUTED}),
                                      (received, "h, coloured by log10 ||dL/dh||", "",
                                       {"color": theme.f32(logs[received]), "colorscale": theme.MAGNITUDE,
                                        "cmin": low, "cmax": high, "showscale": True,
                                        "colorbar": theme.colorbar("log10 ||dL/dh||", present, len=0.9, y=0.5)})):
        if not mask.any():
            continue
        data.append({"type": "scatter", "x": n[mask], "y": np.ones(int(mask.sum())), "mode": "markers", "name": name,
                     "marker": {"size": size, "symbol": np.where(decoder[mask], "circle" + hollow,
                                                                 "diamond" + hollow).tolist(),
                                "line": {"color": theme.MUTED if hollow else theme.INK, "width": 2 if hollow else 1},
                                **extra},
                     "customdata": theme.log_values(h_norms[mask]),
                     "hovertemplate": "h<sub>%{x}</sub>: ||dL/dh|| = %{customdata:.3e}<extra></extra>"})
    data.append({"type": "scatter", "x": n[loss_at], "y": np.full(int(loss_at.sum()), 2.0), "mode": "markers",
                 "name": "loss L", "marker": {"size": size, "color": theme.LOSS_FILL, "line": {"color": theme.ALARM,
                                                                                              "width": 1.5}},
                 "hovertemplate": "loss at step %{x}<extra></extra>"})
    shapes = []
    if (~decoder).any():
        last_enc = int(np.flatnonzero(~decoder)[-1]) + 1
        shapes.append({"type": "rect", "x0": 0.5, "x1": last_enc + 0.5, "y0": -0.45, "y1": 2.45,
                       "fillcolor": "rgba(86,180,233,0.10)", "line": {"width": 0}, "layer": "below"})
        notes += [{"x": (last_enc + 1) / 2, "y": 2.45, "text": "encoder", "showarrow": False, "yanchor": "bottom",
                   "font": {"size": s.font}},
                  {"x": (last_enc + N + 1) / 2, "y": 2.45, "text": "decoder", "showarrow": False, "yanchor": "bottom",
                   "font": {"size": s.font}}]
    layout = {
        "xaxis": {"title": {"text": "step"}, "range": [0.3, N + 0.7], "zeroline": False},
        "yaxis": {"tickvals": [0, 1, 2], "ticktext": ["x", "h", "L"], "range": [-0.6, 2.8], "fixedrange": True},
        "legend": theme.legend(present, y=-0.3, x=0.0), "annotations": notes, "shapes": shapes,
    }
    return theme.figure(data, layout, title=f"{label}: the unrolled graph and the gradient each h receives",
                        present=present, height=360)


def setup_norms(label: str, h_norms: np.ndarray, x_norms: np.ndarray, inputs_at: np.ndarray, loss_at: np.ndarray,
                present: bool = False) -> go.Figure:
    """||dL/dh_n|| and ||dL/dx_n|| (where an input enters) against the step, log axis. All arrays (N,)."""
    s = theme.sizes(present)
    N = len(h_norms)
    n = np.arange(1, N + 1)
    inputs_at = np.asarray(inputs_at, dtype=bool)
    data = [{"type": "scatter", "x": n, "y": theme.log_values(h_norms), "mode": "lines+markers" if N <= 60 else "lines",
             "name": "||dL/dh<sub>n</sub>||", "line": {"color": theme.COLOURS["blue"], "width": s.line * 1.3},
             "marker": {"size": s.marker * 0.7}, "hovertemplate": "%{y:.3e}"},
            {"type": "scatter", "x": n[inputs_at], "y": theme.log_values(x_norms[inputs_at]), "mode": "markers",
             "name": "||dL/dx<sub>n</sub>||", "marker": {"color": theme.COLOURS["green"], "size": s.marker,
                                                         "symbol": "square"}, "hovertemplate": "%{y:.3e}"}]
    shapes = [{"type": "rect", "x0": k - 0.5, "x1": k + 0.5, "y0": 0, "y1": 1, "yref": "paper",
               "fillcolor": LOSS_SHADE, "line": {"width": 0}, "layer": "below"} for k in n[np.asarray(loss_at, bool)]]
    layout = {"xaxis": {"title": {"text": "step"}, "range": [0.5, N + 0.5]},
              "yaxis": {"title": {"text": "gradient size"}, "type": "log", "exponentformat": "power"},
              "legend": theme.legend(present, x=0.0), "shapes": shapes[:2000], "hovermode": "x unified"}
    return theme.figure(data, layout, title=f"{label}: the gradient at every step", present=present, height=380)


LOSS_SHADE = "rgba(253,230,200,0.6)"  # theme.LOSS_FILL, see-through behind the lines


def compare_setups(norms: Mapping[str, np.ndarray], labels: Mapping[str, str], present: bool = False) -> go.Figure:
    """One row per setup: log10 ||dL/dh_n|| at each of its steps; blank where it is exactly zero.
    norms: setup key -> (N,); labels: setup key -> its name."""
    keys = list(norms)
    width = max(len(v) for v in norms.values())
    z = np.full((len(keys), width), np.nan)
    for row, key in enumerate(keys):
        z[row, : len(norms[key])] = _log_levels(norms[key])[0]
    top = float(np.nanmax(z)) if np.isfinite(z).any() else 0.0
    data = [{"type": "heatmap", "z": theme.f32(z), "x0": 1, "dx": 1, "y": [labels[k] for k in keys],
             "colorscale": theme.MAGNITUDE, "zmin": top - DECADES, "zmax": top, "xgap": 1 if width <= 80 else 0,
             "ygap": 3, "colorbar": theme.colorbar("log10 ||dL/dh||", present, len=1.0, y=0.5),
             "hovertemplate": "%{y}, step %{x}: log10 ||dL/dh|| = %{z:.2f}<extra></extra>"}]
    layout = {"xaxis": {"title": {"text": "step (the encoder-decoder: encoder, then decoder)"}},
              "yaxis": {"autorange": "reversed", "fixedrange": True}, "margin": {"l": 170}}
    return theme.figure(data, layout, title="Which steps receive gradient, in every setup", present=present,
                        height=110 + 60 * len(keys))
