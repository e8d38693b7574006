"""Truncated BPTT's figure: ||dL/dh_t|| by full BPTT and with the gradient cut every k steps."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..cells import CELLS
from . import theme

HOW_TO_READ = (
    "||dL/dh_t|| on a log axis, by full BPTT (thin grey) and truncated (thick): the sequence is cut every k "
    "steps, counted back from its last step, and no gradient crosses a cut (dashed lines), as when the "
    "hidden state is detached every k steps in training. With the loss on the last step, the truncated "
    "line ends k steps back: the steps before the cut (shaded) get no gradient from the loss at all — "
    "zero, so nothing is drawn there. With the loss on every step, each window gets only its own losses."
)


def truncated_grad_norms(full: np.ndarray, cut: np.ndarray, windows, window: int | None, cell: str,
                         present: bool = False) -> go.Figure:
    """full, cut (T,): ||dL/dh_t|| by full and by truncated BPTT of a cell (a key of CELLS); windows:
    truncated BPTT's windows as 0-based [start, stop) rows; window: k (None: no cut)."""
    s = theme.sizes(present)
    label = CELLS[cell].label
    T = len(full)
    steps = np.arange(1, T + 1)
    name = "full BPTT" if window is None else f"truncated, k = {window}"
    data = [
        {"type": "scatter", "x": steps, "y": theme.log_values(full), "mode": "lines", "name": "full BPTT",
         "line": {"color": theme.MUTED, "width": s.line * 0.8},
         "hovertemplate": "t = %{x}: %{y:.3e}<extra>full</extra>"},
        {"type": "scatter", "x": steps, "y": theme.log_values(cut), "mode": "lines+markers", "name": name,
         "line": {"color": theme.cell_colour(cell), "width": s.line * 1.6}, "marker": {"size": s.marker * 0.6},
         "hovertemplate": "t = %{x}: %{y:.3e}<extra>" + name + "</extra>"},
    ]
    shapes, notes = [], []
    if window is not None:
        last_start = windows[-1][0]  # rows before it get nothing from a loss on the last step
        shapes.append({"type": "rect", "x0": 0.5, "x1": last_start + 0.5, "y0": 0, "y1": 1, "yref": "paper",
                       "fillcolor": theme.MUTED, "opacity": 0.08, "line": {"width": 0}, "layer": "below"})
        for start, _ in windows[1:]:  # a cut between row start - 1 and row start: steps start and start + 1
            shapes.append({"type": "line", "x0": start + 0.5, "x1": start + 0.5, "y0": 0, "y1": 1, "yref": "paper",
                           "line": {"color": theme.MUTED, "width": s.line * 0.7, "dash": "dash"}})
        notes.append({"x": last_start + 0.5, "y": 1, "yref": "paper", "yanchor": "bottom", "xanchor": "right",
                      "showarrow": False, "text": f"cut: the loss at t = {T} reaches back to t = {last_start + 1} ▸",
                      "font": {"color": theme.MUTED, "size": s.tick}})
    layout = {
        "xaxis": {"title": {"text": "step t   (◀ going back from the loss at t = T)"}, "range": [0.5, T + 0.5]},
        "yaxis": {"title": {"text": "||dL/dh<sub>t</sub>||"}, "type": "log", "exponentformat": "power"},
        "legend": theme.legend(present, x=0.0),
        "shapes": shapes, "annotations": notes, "hovermode": "x unified",
    }
    title = (f"Truncated BPTT — {label}: the gradient cut every {window} steps" if window is not None
             else f"Truncated BPTT — {label}: no cut (the window is the whole sequence)")
    return theme.figure(data, layout, title=title, present=present, height=400)
