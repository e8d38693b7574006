"""Figures of training runs with and without clipping, and of the cliff.

Builders take the training engine's records (TrainingRun: per-update arrays and the run's
configuration) or the cliff's surface and descent paths, and return a go.Figure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from ..training import TrainingRun
from . import theme

if TYPE_CHECKING:
    from ..studies.training import Descent

LOSS_HOW_TO_READ = (
    "Training loss per update, on a log axis, one line per run on the same data. A run whose loss "
    "shoots up by many orders of magnitude has been thrown off by an exploding gradient; a cross "
    "marks where a run's numbers stopped being finite."
)
GRAD_HOW_TO_READ = (
    "The gradient's global norm before clipping, per update. Dots mark updates that were clipped; "
    "the dashed lines are the norm thresholds τ. Spikes of many orders of magnitude are the cliff."
)
COSINE_HOW_TO_READ = (
    "Cosine between the raw and the clipped gradient. Norm clipping only shortens the gradient "
    "(cosine 1); value clipping cuts each entry separately and turns its direction (cosine < 1)."
)
PROFILE_HOW_TO_READ = (
    "||dL/dh_t|| on a fixed batch, before (dotted) and after (solid) training: how far back in "
    "time the loss can still reach, and how training changed that. Runs that diverged or were "
    "stopped have no 'after' line."
)
CLIFF_HOW_TO_READ = (
    "The loss of a one-unit recurrent net over its two weights (Pascanu et al. 2013). The sharp "
    "edge between the dark and the bright region is a wall: there the gradient is enormous. A plain "
    "gradient step from next to the wall is thrown far off the map; with the gradient's norm "
    "clipped, the step stays small and the descent carries on."
)


def run_label(run: TrainingRun) -> str:
    cfg = run.config
    if cfg.clip == "none":
        return "no clipping"
    if cfg.clip == "norm":
        return f"norm clipping at τ = {cfg.threshold:g}"
    return f"value clipping at v = {cfg.threshold:g}"


def _line(x, y, name: str, colour: str, width: float, hover: str, **extra) -> dict:
    """One run's line: x, y, legend name, colour, width and the hover text ("%{y}" etc.)."""
    return {"type": "scatter", "x": x, "y": y, "mode": "lines", "name": name,
            "line": {"color": colour, "width": width, **extra.pop("line", {})},
            "hovertemplate": hover + "<extra>" + name + "</extra>", **extra}


def run_summary(run: TrainingRun) -> tuple[str, str]:
    """(headline, detail) for one run: its loss at the start and the end, or where it failed."""
    first = float(run.loss[0]) if run.updates_done else float("nan")
    tail = run.loss[-min(10, run.updates_done):]
    if run.diverged_at is not None:
        return "diverged", f"at update {run.diverged_at} (loss {first:.3g} at the start)"
    last = float(np.mean(tail))
    verb = "blew up" if last > 100 * first else ("learned" if last < 0.9 * first else "barely moved")
    stopped = f", stopped after {run.stopped_at} updates" if run.stopped_at is not None else ""
    return verb, f"loss {first:.3g} → {last:.3g} (mean of the last {len(tail)} updates){stopped}"


def loss_curves(runs: list[TrainingRun], present: bool = False) -> go.Figure:
    s = theme.sizes(present)
    data, notes = [], []
    for k, run in enumerate(runs):
        colour = theme.line_colour(k)
        updates = np.arange(1, run.updates_done + 1)
        data.append(_line(updates, theme.log_values(run.loss), run_label(run), colour, s.line,
                          "update %{x}: loss %{y:.4g}"))
        if run.diverged_at is not None:
            last = run.loss[np.isfinite(run.loss)]
            y = float(last[-1]) if last.size else 1.0
            data.append(
                {
                    "type": "scatter",
                    "x": [run.diverged_at],
                    "y": [max(y, 1e-12)],
                    "mode": "markers",
                    "marker": {"symbol": "x", "size": s.marker * 2.2, "color": colour},
                    "showlegend": False,
                    "hovertemplate": f"diverged at update {run.diverged_at}<extra></extra>",
                }
            )
            notes.append(
                {
                    "x": run.diverged_at,
                    "y": np.log10(max(y, 1e-12)),
                    "text": f"diverged at update {run.diverged_at}",
                    "showarrow": True,
                    "arrowhead": 2,
                    "ax": 0,
                    "ay": -36,
                    "font": {"color": colour, "size": s.font},
                }
            )
    layout = {
        "xaxis": {"title": {"text": "update"}},
        "yaxis": {"title": {"text": "training loss"}, "type": "log", "exponentformat": "power"},
        "annotations": notes,
        "legend": theme.legend(present),
    }
    return theme.figure(data, layout, title="Training loss, with and without clipping", present=present, height=420)


def grad_norms(runs: list[TrainingRun], present: bool = False) -> go.Figure:
    s = theme.sizes(present)
    data, shapes = [], []
    for k, run in enumerate(runs):
        colour = theme.line_colour(k)
        updates = np.arange(1, run.updates_done + 1)
        data.append(_line(updates, theme.log_values(run.grad_norm), run_label(run), colour, s.line * 0.8,
                          "update %{x}: ||g|| = %{y:.3e}"))
        if run.clipped.any():
            data.append(
                {
                    "type": "scatter",
                    "x": updates[run.clipped],
                    "y": theme.log_values(run.grad_norm[run.clipped]),
                    "mode": "markers",
                    "name": f"clipped ({run_label(run)})",
                    "showlegend": False,
                    "marker": {"color": colour, "size": s.marker * 0.8},
                    "hovertemplate": "update %{x}: clipped<extra></extra>",
                }
            )
        if run.config.clip == "norm":
            shapes.append(
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": run.config.threshold,
                    "y1": run.config.threshold,
                    "line": {"color": colour, "dash": "dash", "width": s.line * 0.7},
                }
            )
    layout = {
        "xaxis": {"title": {"text": "update"}},
        "yaxis": {"title": {"text": "||gradient|| before clipping"}, "type": "log", "exponentformat": "power"},
        "shapes": shapes,
        "legend": theme.legend(present),
    }
    return theme.figure(data, layout, title="Gradient norm per update (dots: clipped)", present=present, height=420)


def cosines(runs: list[TrainingRun], present: bool = False) -> go.Figure:
    s = theme.sizes(present)
    data = []
    for k, run in enumerate(runs):
        data.append(_line(np.arange(1, run.updates_done + 1), theme.f32(run.cosine), run_label(run),
                          theme.line_colour(k), s.line * 0.8, "update %{x}: cos = %{y:.4f}",
                          mode="lines+markers", marker={"size": s.marker * 0.5}))
    layout = {
        "xaxis": {"title": {"text": "update"}},
        "yaxis": {"title": {"text": "cos(raw, clipped)"}},
        "legend": theme.legend(present, y=-0.3),
    }
    return theme.figure(data, layout, title="Does clipping turn the gradient?", present=present, height=360)


def gradient_profiles(runs: list[TrainingRun], present: bool = False) -> go.Figure:
    s = theme.sizes(present)
    data = []
    for k, run in enumerate(runs):
        colour = theme.line_colour(k)
        steps = np.arange(1, len(run.h_norms_start) + 1)
        data.append(_line(steps, theme.log_values(run.h_norms_start), f"{run_label(run)}, start", colour, s.line * 0.8,
                          "t = %{x}: %{y:.3e}", line={"dash": "dot"}))
        if run.stopped_at is not None or run.diverged_at is not None:
            continue  # no end-of-training profile: the run did not finish
        data.append(_line(steps, theme.log_values(run.h_norms_end), f"{run_label(run)}, end", colour, s.line,
                          "t = %{x}: %{y:.3e}"))
    layout = {
        "xaxis": {"title": {"text": "step t"}},
        "yaxis": {"title": {"text": "||dL/dh<sub>t</sub>||"}, "type": "log", "exponentformat": "power"},
        "legend": theme.legend(present, y=-0.3),
    }
    return theme.figure(
        data, layout, title="Gradient reaching each step, before and after training", present=present, height=360
    )


def cliff_surface(w, b, E, descents: dict[str, Descent], present: bool = False) -> go.Figure:
    """The loss E (n_b, n_w) over the grid w (n_w,) x b (n_b,), with descent paths (name -> Descent).

    The map is the grid's extent; a path that leaves it gets an arrow and its landing point.
    """
    s = theme.sizes(present)
    w_range, b_range = (float(w[0]), float(w[-1])), (float(b[0]), float(b[-1]))
    data = [
        {
            "type": "heatmap",
            "x": theme.f32(w),
            "y": theme.f32(b),
            "z": theme.f32(E),
            "colorscale": theme.SEQUENTIAL,
            "colorbar": theme.colorbar("loss E", present),
            "hovertemplate": "w = %{x:.3f}, b = %{y:.3f}: E = %{z:.4f}<extra></extra>",
        }
    ]
    notes = []
    colours = {"no clipping": theme.ALARM, "clipped": theme.CALM}
    for k, (name, d) in enumerate(descents.items()):
        colour = colours.get(name, theme.line_colour(k))
        inside = (
            np.isfinite(d.path).all(axis=1)
            & (d.path[:, 0] >= w_range[0])
            & (d.path[:, 0] <= w_range[1])
            & (d.path[:, 1] >= b_range[0])
            & (d.path[:, 1] <= b_range[1])
        )
        first_out = int(np.argmin(inside)) if not inside.all() else None
        shown = d.path[: first_out if first_out is not None else len(d.path)]
        data.append(
            {
                "type": "scatter",
                "x": shown[:, 0],
                "y": shown[:, 1],
                "mode": "lines+markers",
                "name": name,
                "line": {"color": colour, "width": s.line * 1.4},
                "marker": {"size": s.marker * 1.2, "color": colour, "line": {"color": theme.PAPER, "width": 1.5}},
                "hovertemplate": "w = %{x:.4f}, b = %{y:.4f}<extra>" + name + "</extra>",
            }
        )
        if first_out is not None:
            (w0, b0), (w1, b1) = d.path[first_out - 1], d.path[first_out]
            direction = np.array([w1 - w0, b1 - b0], dtype=float)
            size = np.linalg.norm(direction) if np.isfinite(direction).all() else 0.0
            direction = direction / size if size > 0 else np.array([1.0, 1.0]) / np.sqrt(2)
            tip = np.clip(np.array([w0, b0]) + 2.5 * direction, [w_range[0], b_range[0]], [w_range[1], b_range[1]])
            landing = "overflow" if not np.isfinite([w1, b1]).all() else f"({w1:.3g}, {b1:.3g})"
            notes.append({"x": tip[0], "y": tip[1], "ax": w0, "ay": b0, "xref": "x", "yref": "y", "axref": "x",
                          "ayref": "y", "showarrow": True, "arrowhead": 3, "arrowwidth": s.line * 1.2,
                          "arrowcolor": colour, "text": ""})
            notes.append({"x": tip[0], "y": tip[1], "text": f"{name}: thrown to {landing}", "showarrow": False,
                          "xanchor": "left" if direction[0] >= 0 else "right", "yanchor": "bottom",
                          "font": {"color": colour, "size": s.font}, "bgcolor": theme.LABEL_BACKGROUND})
    layout = {
        "xaxis": {"title": {"text": "w (recurrent weight)"}, "range": list(w_range)},
        "yaxis": {"title": {"text": "b (bias)"}, "range": list(b_range)},
        "annotations": notes,
        "legend": theme.legend(present, y=-0.2),
    }
    return theme.figure(
        data,
        layout,
        title="The cliff: x<sub>t</sub> = w σ(x<sub>t−1</sub>) + b,  E = (σ(x<sub>50</sub>) − 0.7)²",
        present=present,
        height=560,
    )
