"""Figures of training runs with and without clipping, and of the cliff.

Builders take the training engine's records (TrainingRun: per-update arrays and the run's
configuration) or the cliff's surface and descent paths, and return a go.Figure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from ..training import TrainingRun, outcome
from . import theme

if TYPE_CHECKING:
    from ..studies.training import Descent

LOSS_HOW_TO_READ = (
    "Training loss per update, on a log axis, one line per run on the same data. The axis stops at "
    "ten times the starting loss: a run that climbs past it has been thrown off by an exploding "
    "gradient, and its updates above the chart are marked along the top edge (hover for the value). "
    "A cross marks where a run's numbers stopped being finite."
)
GRAD_HOW_TO_READ = (
    "The gradient's global norm before clipping, per update. Dots mark updates that were clipped; "
    "the dashed lines are the norm thresholds τ. Spikes of many orders of magnitude are the cliff; "
    "norms above the chart are marked along its top edge."
)
COSINE_HOW_TO_READ = (
    "Cosine between the raw and the clipped gradient, on [-1, 1]. Norm clipping only shortens the "
    "gradient (cosine exactly 1); value clipping cuts each entry separately and turns its direction "
    "(cosine below 1: the update no longer points straight down the slope)."
)
COSINE_HIDDEN = (
    "No run clips by value, so the chart of cos(raw, clipped) is left out: clipping by the norm only "
    "shortens the gradient (cosine exactly 1) and no clipping leaves it as it is. Set a run to “Clip "
    "by value v” to see value clipping turn the gradient."
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
    "clipped, the step stays small and the descent carries on. Right, top: the same loss zoomed in "
    "around the start (the dotted box on the map), where the clipped steps can be told apart. Right, "
    "bottom: the loss E after each step, computed where the step landed, off the map too (the map's "
    "colours cannot show that): the table below gives the numbers."
)

# One colour per clipping rule, on every chart, legend and summary of the page; a second run with
# the same rule (another threshold) is told apart by its dash.
CLIP_COLOURS = {"none": theme.ALARM, "norm": theme.COLOURS["blue"], "value": theme.COLOURS["green"]}
DASHES = ("solid", "dash", "dot")
TOP_FACTOR = {"loss": 10.0, "grad": 1e3}  # the axis stops at this many times the starting value


def run_label(run: TrainingRun) -> str:
    cfg = run.config
    window = "" if cfg.window is None else f", BPTT window k = {cfg.window}"
    if cfg.clip == "none":
        return "no clipping" + window
    if cfg.clip == "norm":
        return f"norm clipping at τ = {cfg.threshold:g}" + window
    return f"value clipping at v = {cfg.threshold:g}" + window


def window_note(runs: list[TrainingRun], constant: float | None = None) -> str | None:
    """What truncated BPTT withholds from the runs that use it (None if every run is full BPTT),
    with the final losses of a truncated and a full run side by side when both are here (and the
    loss of the best constant answer, training.constant_loss, if given)."""
    windows = sorted({run.config.window for run in runs if run.config.window is not None})
    if not windows:
        return None
    T = len(runs[0].h_norms_start)
    reach = "; ".join(f"with k = {k}, the loss at step {T} reaches back only to step {T - k + 1}" for k in windows)
    text = (f"Truncated BPTT: the sequence is cut every k steps, counted back from its last step T = {T}, and no "
            f"gradient crosses a cut: {reach} (the profile of ||dL/dh_t|| stops there). Whatever the answer needs "
            "from before the cut cannot shape the weights: on a task whose dependency is longer than k, the "
            "truncated run learns only what the last k steps tell it.")
    full = [r for r in runs if r.config.window is None and r.diverged_at is None and r.updates_done]
    cut = [r for r in runs if r.config.window is not None and r.diverged_at is None and r.updates_done]
    if full and cut:
        a, b = (float(np.mean(r.loss[-min(10, r.updates_done):])) for r in (full[0], cut[0]))
        text += (f" Here full BPTT ends at a loss of {a:.3g} and k = {cut[0].config.window} at {b:.3g}"
                 f"{f' ({b / a:.3g} times higher)' if a > 0 and b > a else ''} (means of the last updates)")
        text += (f"; a constant answer, ignoring the input, scores {constant:.3g}." if constant is not None
                 else ".")
    return text


def run_styles(runs: list[TrainingRun]) -> list[tuple[str, str]]:
    """(colour, dash) of each run: the colour of its clipping rule, the dash of its place among
    the runs with that rule."""
    seen: dict[str, int] = {}
    out = []
    for run in runs:
        k = seen[run.config.clip] = seen.get(run.config.clip, -1) + 1
        out.append((CLIP_COLOURS[run.config.clip], DASHES[k % len(DASHES)]))
    return out


def _line(x, y, name: str, colour: str, width: float, hover: str, **extra) -> dict:
    """One run's line: x, y, legend name, colour, width and the hover text ("%{y}" etc.)."""
    return {"type": "scatter", "x": x, "y": y, "mode": "lines", "name": name, "legendgroup": name,
            "line": {"color": colour, "width": width, **extra.pop("line", {})},
            "hovertemplate": hover + "<extra>" + name + "</extra>", **extra}


def run_summary(run: TrainingRun, constant: float | None = None) -> tuple[str, str]:
    """(headline, detail) for one run: its verdict (training.outcome: "learned" only when it beats the
    best constant answer), its loss at the start and the end, or where it failed; with `constant`,
    the loss of the best constant answer on its task (training.constant_loss) beside it."""
    end = outcome(run)
    tail = min(10, run.updates_done)
    stopped = (f", stopped after {run.stopped_at} of {run.config.updates} updates"
               if run.stopped_at is not None else "")
    if end.verdict == "diverged":
        return "diverged", f"at update {run.diverged_at} (loss {end.first:.3g} at the start)"
    if end.verdict == "not started":
        return "not started", f"no update done yet{stopped}"
    scale = "" if constant is None else f"; a constant answer scores {constant:.3g}"
    return (HEADLINES.get(end.verdict, end.verdict),
            f"loss {end.first:.3g} → {end.last:.3g} (mean of the last {tail} updates{scale}){stopped}")


# a verdict as a metric's headline, short enough for its column (the detail and the lessons say it whole)
HEADLINES = {"no better than a constant answer": "only the average"}


def _log_window(series: list[np.ndarray], factor: float) -> tuple[float, float]:
    """(bottom, top) of a log axis for these series: the top `factor` times the largest first
    value, the bottom under the smallest positive value below the top."""
    firsts = [float(a[0]) for a in series if a.size and np.isfinite(a[0]) and a[0] > 0]
    top = factor * max(firsts) if firsts else 1.0
    low = [a[np.isfinite(a) & (a > 0) & (a <= top)] for a in series]
    low = np.concatenate(low) if low else np.array([])
    bottom = float(low.min()) / 1.5 if low.size else top / 1e3
    return min(bottom, top / 10), top


def _log_axis(bottom: float, top: float) -> dict:
    """A log axis over [bottom, top]: a label per decade (no crowd of 2 3 4 ... 9 between)."""
    decades = np.log10(top) - np.log10(bottom)
    return {"type": "log", "exponentformat": "power", "range": [np.log10(bottom), np.log10(top)],
            "dtick": 1 if decades >= 1.5 else "D2"}


def _off_chart(x: np.ndarray, values: np.ndarray, top: float, name: str, colour: str, size: float,
               what: str) -> dict | None:
    """Markers along the top edge where values are above it, hovering their real value."""
    above = np.isfinite(values) & (values > top)
    if not above.any():
        return None
    return {"type": "scatter", "x": x[above], "y": np.full(int(above.sum()), top), "mode": "markers",
            "name": f"{name}: above the chart", "legendgroup": name, "showlegend": False, "cliponaxis": False,
            "marker": {"symbol": "triangle-up", "size": size, "color": colour},
            "customdata": values[above],
            "hovertemplate": f"update %{{x}}: {what} %{{customdata:.3e}} (above the chart)<extra>{name}</extra>"}


def loss_curves(runs: list[TrainingRun], present: bool = False) -> go.Figure:
    s = theme.sizes(present)
    bottom, top = _log_window([r.loss for r in runs], TOP_FACTOR["loss"])
    data, extra, notes, above = [], [], [], 0
    for run, (colour, dash) in zip(runs, run_styles(runs), strict=True):
        name = run_label(run)
        updates = np.arange(1, run.updates_done + 1)
        loss = np.asarray(run.loss, dtype=float)
        # the real values (float64): the fixed axis range cuts what is above it
        data.append(_line(updates, theme.log_values(loss), name, colour, s.line, "update %{x}: loss %{y:.4g}",
                          line={"dash": dash}))
        marks = _off_chart(updates, loss, top, name, colour, s.marker * 0.9, "loss")
        if marks is not None:
            extra.append(marks)
            first = int(updates[np.argmax(np.isfinite(loss) & (loss > top))])
            above += 1  # one line each, stacked down from the top edge, inside the plot (clear of the
            #              title and the export buttons above it); the learning runs sit far below
            left = first <= 0.5 * max(r.config.updates for r in runs)  # the text runs into the plot
            notes.append({"x": first, "y": np.log10(top), "yanchor": "top", "xanchor": "left" if left else "right",
                          "yshift": -8 - (s.tick + 8) * (above - 1), "xshift": 4 if left else -4, "showarrow": False,
                          "text": f"▲ {name}: above the chart from update {first}",
                          "font": {"color": colour, "size": s.tick}, "bgcolor": theme.LABEL_BACKGROUND})
        if run.diverged_at is not None:
            finite = loss[np.isfinite(loss)]
            y = min(float(finite[-1]) if finite.size else top, top)
            extra.append({"type": "scatter", "x": [run.diverged_at], "y": [max(y, bottom)], "mode": "markers",
                          "name": f"{name}: diverged",
                          "marker": {"symbol": "x", "size": s.marker * 2.2, "color": colour}, "showlegend": False,
                          "cliponaxis": False, "legendgroup": name,
                          "hovertemplate": f"diverged at update {run.diverged_at}<extra>{name}</extra>"})
            notes.append({"x": run.diverged_at, "y": np.log10(max(y, bottom)), "text": f"diverged at update "
                          f"{run.diverged_at}", "showarrow": True, "arrowhead": 2, "ax": 0, "ay": 36,
                          "font": {"color": colour, "size": s.font}, "bgcolor": theme.LABEL_BACKGROUND})
    layout = {
        "xaxis": {"title": {"text": "update"}},
        "yaxis": {"title": {"text": "training loss"}, **_log_axis(bottom, top)},
        "annotations": notes,
        "legend": theme.legend(present),
    }
    return theme.figure(data + extra, layout, title="Training loss, with and without clipping", present=present,
                        height=420)


def grad_norms(runs: list[TrainingRun], present: bool = False) -> go.Figure:
    s = theme.sizes(present)
    bottom, top = _log_window([r.grad_norm for r in runs], TOP_FACTOR["grad"])
    thresholds = [r.config.threshold for r in runs if r.config.clip == "norm"]
    top = max([top, *(10 * t for t in thresholds)])
    bottom = min([bottom, *(t / 10 for t in thresholds)])
    data, extra, shapes = [], [], []
    for run, (colour, dash) in zip(runs, run_styles(runs), strict=True):
        name = run_label(run)
        updates = np.arange(1, run.updates_done + 1)
        norms = np.asarray(run.grad_norm, dtype=float)
        data.append(_line(updates, theme.log_values(norms), name, colour, s.line * 0.8,
                          "update %{x}: ||g|| = %{y:.3e}", line={"dash": dash}))
        if run.clipped.any():
            data.append({"type": "scatter", "x": updates[run.clipped], "y": theme.log_values(norms[run.clipped]),
                         "mode": "markers", "name": f"clipped ({name})", "showlegend": False, "legendgroup": name,
                         "marker": {"color": colour, "size": s.marker * 0.8},
                         "hovertemplate": "update %{x}: clipped<extra></extra>"})
        marks = _off_chart(updates, norms, top, name, colour, s.marker * 0.9, "||g||")
        if marks is not None:
            extra.append(marks)
        if run.config.clip == "norm":
            tau = run.config.threshold
            shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": tau, "y1": tau,
                           "line": {"color": colour, "dash": "dash", "width": s.line * 0.7}})
    layout = {
        "xaxis": {"title": {"text": "update"}},
        "yaxis": {"title": {"text": "||gradient|| before clipping"}, **_log_axis(bottom, top)},
        "shapes": shapes,
        "legend": theme.legend(present),
    }
    return theme.figure(data + extra, layout, title="Gradient norm per update (dots: clipped)", present=present,
                        height=420)


def shows_cosines(runs: list[TrainingRun]) -> bool:
    """The cosine chart says something only when a run clips by value."""
    return any(run.config.clip == "value" for run in runs)


def cosines(runs: list[TrainingRun], present: bool = False) -> go.Figure:
    s = theme.sizes(present)
    data = []
    for run, (colour, dash) in zip(runs, run_styles(runs), strict=True):
        if run.config.clip == "none":
            continue  # nothing clipped, nothing turned: its cosine is 1 by definition, even after it blew up
        data.append(_line(np.arange(1, run.updates_done + 1), theme.f32(run.cosine), run_label(run), colour,
                          s.line * 0.8, "update %{x}: cos = %{y:.4f}", mode="lines+markers",
                          marker={"size": s.marker * 0.5}, line={"dash": dash}))
    layout = {
        "xaxis": {"title": {"text": "update"}},
        "yaxis": {"title": {"text": "cos(raw, clipped)"}, "range": [-1.05, 1.05], "tickvals": [-1, -0.5, 0, 0.5, 1]},
        "legend": theme.legend(present, y=-0.3),
    }
    return theme.figure(data, layout, title="Does clipping turn the gradient?", present=present, height=360)


def gradient_profiles(runs: list[TrainingRun], present: bool = False) -> go.Figure:
    s = theme.sizes(present)
    data = []
    for run, (colour, _) in zip(runs, run_styles(runs), strict=True):
        steps = np.arange(1, len(run.h_norms_start) + 1)
        name = run_label(run)
        data.append(_line(steps, theme.log_values(run.h_norms_start), f"{name}, start", colour, s.line * 0.8,
                          "t = %{x}: %{y:.3e}", line={"dash": "dot"}))
        if run.stopped_at is not None or run.diverged_at is not None:
            continue  # no end-of-training profile: the run did not finish
        blew_up = outcome(run).verdict == "blew up"  # finite but huge: its "end" is the blown-up network's
        data.append(_line(steps, theme.log_values(run.h_norms_end), f"{name}, end" + (" (blown up)" * blew_up),
                          colour, s.line, "t = %{x}: %{y:.3e}"))
    layout = {
        "xaxis": {"title": {"text": "step t"}},
        "yaxis": {"title": {"text": "||dL/dh<sub>t</sub>||"}, "type": "log", "exponentformat": "power"},
        "legend": theme.legend(present, y=-0.3),
    }
    return theme.figure(
        data, layout, title="Gradient reaching each step, before and after training", present=present, height=360
    )


DESCENT_CLIPS = {"no clipping": "none", "clipped": "norm"}  # the cliff's descents, as clipping rules


def descent_colour(name: str) -> str:
    return CLIP_COLOURS[DESCENT_CLIPS.get(name, "none")]


def _inside(path: np.ndarray, w_range, b_range) -> np.ndarray:
    """(n,) bool: which points of path (n, 2) are finite and inside the window."""
    with np.errstate(invalid="ignore"):
        return (np.isfinite(path).all(axis=1) & (path[:, 0] >= w_range[0]) & (path[:, 0] <= w_range[1])
                & (path[:, 1] >= b_range[0]) & (path[:, 1] <= b_range[1]))


def _heatmap(w, b, E, axes: tuple[str, str] = ("x", "y")) -> dict:
    """The loss map on these axes, coloured by the figure's one colour axis (E in [0, 0.49])."""
    return {"type": "heatmap", "x": theme.f32(w), "y": theme.f32(b), "z": theme.f32(E), "coloraxis": "coloraxis",
            "xaxis": axes[0], "yaxis": axes[1],
            "hovertemplate": "w = %{x:.4f}, b = %{y:.4f}: E = %{z:.4f}<extra></extra>"}


def _paths(descents: dict[str, Descent], w_range, b_range, present: bool, numbers: bool,
           axes: tuple[str, str] = ("x", "y")) -> tuple[list, list]:
    """Each descent's path up to where it leaves the window (an arrow and its landing point from
    there), as traces and annotations on these axes; numbers=True labels the steps (and leaves
    the legend to the other panel)."""
    s = theme.sizes(present)
    ref = {"xref": axes[0], "yref": axes[1]}
    data, notes = [], []
    for name, d in descents.items():
        colour = descent_colour(name)
        inside = _inside(d.path, w_range, b_range)
        first_out = int(np.argmin(inside)) if not inside.all() else None
        shown = d.path[: first_out if first_out is not None else len(d.path)]
        steps = np.arange(len(shown))
        data.append({"type": "scatter", "x": shown[:, 0], "y": shown[:, 1], "mode": "lines+markers", "name": name,
                     "xaxis": axes[0], "yaxis": axes[1], "legendgroup": name, "showlegend": not numbers,
                     "line": {"color": colour, "width": s.line * 1.4},
                     "marker": {"size": s.marker * 1.2, "color": colour, "line": {"color": theme.PAPER, "width": 1.5}},
                     "customdata": np.stack([steps, d.losses[: len(shown)]], axis=1),
                     "hovertemplate": "step %{customdata[0]}: w = %{x:.5f}, b = %{y:.5f}, E = %{customdata[1]:.4f}"
                                      "<extra>" + name + "</extra>"})
        if numbers and len(shown) > 1:  # step numbers in small boxes, readable on any colour of the map
            labelled = np.unique(np.r_[0, 1, 2, np.arange(5, len(shown), 5), len(shown) - 1])
            notes += [{**ref, "x": shown[k, 0], "y": shown[k, 1], "text": str(k), "showarrow": False, "xshift": 12,
                       "yshift": 10, "font": {"color": colour, "size": s.tick}, "bgcolor": theme.LABEL_BACKGROUND,
                       "borderpad": 1} for k in labelled]
        if first_out is not None and first_out > 0:
            (w0, b0), (w1, b1) = d.path[first_out - 1], d.path[first_out]
            direction = np.array([w1 - w0, b1 - b0], dtype=float)
            size = np.linalg.norm(direction) if np.isfinite(direction).all() else 0.0
            direction = direction / size if size > 0 else np.array([1.0, 1.0]) / np.sqrt(2)
            span = np.array([w_range[1] - w_range[0], b_range[1] - b_range[0]])
            tip = np.clip(np.array([w0, b0]) + 0.3 * span * direction, [w_range[0], b_range[0]],
                          [w_range[1], b_range[1]])
            landing = "overflow" if not np.isfinite([w1, b1]).all() else f"({w1:.3g}, {b1:.3g})"
            notes.append({**ref, "x": tip[0], "y": tip[1], "ax": w0, "ay": b0, "axref": axes[0], "ayref": axes[1],
                          "showarrow": True, "arrowhead": 3, "arrowwidth": s.line * 1.2, "arrowcolor": colour,
                          "text": ""})
            right_half = tip[0] > (w_range[0] + w_range[1]) / 2  # the label grows into the map, not off it
            notes.append({**ref, "x": tip[0], "y": tip[1], "text": f"{name}: thrown to {landing}",
                          "showarrow": False, "xanchor": "right" if right_half else "left", "yanchor": "bottom",
                          "font": {"color": colour, "size": s.font if not numbers else s.tick},
                          "bgcolor": theme.LABEL_BACKGROUND})
    return data, notes


def _ranges(w, b) -> tuple[tuple[float, float], tuple[float, float]]:
    return (float(w[0]), float(w[-1])), (float(b[0]), float(b[-1]))


CLIFF_TITLE = "The cliff: x<sub>t</sub> = w σ(x<sub>t−1</sub>) + b,  E = (σ(x<sub>50</sub>) − 0.7)²"


def cliff_surface(w, b, E, descents: dict[str, Descent], present: bool = False, zoom=None) -> go.Figure:
    """The loss E (n_b, n_w) over the grid w (n_w,) x b (n_b,), with descent paths (name -> Descent).

    The map is the grid's extent; a path that leaves it gets an arrow and its landing point.
    zoom: (w (n,), b (n,), E (n, n)), the loss on a small window around the start: drawn as a box
    on the map and as a second panel with the steps numbered, beside a third with the loss after
    each step (so the clipped descent is never a dot, and where a thrown step lands is told).
    """
    s = theme.sizes(present)
    w_range, b_range = _ranges(w, b)
    paths, notes = _paths(descents, w_range, b_range, present, numbers=False)
    data, shapes = [_heatmap(w, b, E), *paths], []
    layout = {
        "xaxis": {"title": {"text": "w (recurrent weight)"}, "range": list(w_range)},
        "yaxis": {"title": {"text": "b (bias)"}, "range": list(b_range)},
        "coloraxis": {"colorscale": theme.SEQUENTIAL, "cmin": 0.0, "cmax": 0.49,
                      "colorbar": theme.colorbar("loss E", present)},
        "legend": theme.legend(present, y=-0.12),
    }
    if zoom is not None:
        zw, zb, zE = zoom
        zw_range, zb_range = _ranges(zw, zb)
        pad_w, pad_b = 0.012 * (w_range[1] - w_range[0]), 0.012 * (b_range[1] - b_range[0])  # visible when tiny
        shapes.append({"type": "rect", "x0": zw_range[0] - pad_w, "x1": zw_range[1] + pad_w, "y0": zb_range[0] - pad_b,
                       "y1": zb_range[1] + pad_b, "line": {"color": theme.PAPER, "width": 2, "dash": "dot"}})
        notes.append({"x": zw_range[0] - pad_w, "y": zb_range[0] - pad_b, "text": "zoomed in: right",
                      "xanchor": "right", "yanchor": "top", "showarrow": False,
                      "font": {"color": theme.INK, "size": s.tick}, "bgcolor": theme.LABEL_BACKGROUND})
        zoom_paths, zoom_notes = _paths(descents, zw_range, zb_range, present, numbers=True, axes=("x2", "y2"))
        data += [_heatmap(zw, zb, zE, ("x2", "y2")), *zoom_paths]
        notes += zoom_notes
        for name, d in descents.items():  # the loss after each step, computed where the step landed
            data.append(_line(np.arange(len(d.losses)), theme.f32(d.losses), name, descent_colour(name), s.line,
                              "after step %{x}: E = %{y:.4f}", mode="lines+markers", marker={"size": s.marker * 0.7},
                              xaxis="x3", yaxis="y3", showlegend=False))
        panel = {"showarrow": False, "xref": "paper", "yref": "paper", "xanchor": "left", "yanchor": "bottom",
                 "font": {"size": s.font}}
        notes += [{**panel, "x": 0.56, "y": 1.0, "text": "Zoomed in around the start (numbers: steps)"},
                  {**panel, "x": 0.56, "y": 0.3, "text": "The loss E after each step"}]
        layout |= {
            "xaxis": {**layout["xaxis"], "domain": [0.0, 0.46]},
            "xaxis2": {"title": {"text": "w"}, "range": list(zw_range), "domain": [0.56, 1.0], "anchor": "y2"},
            "yaxis2": {"title": {"text": "b"}, "range": list(zb_range), "domain": [0.44, 1.0], "anchor": "x2"},
            "xaxis3": {"title": {"text": "step"}, "domain": [0.56, 1.0], "anchor": "y3", "rangemode": "tozero"},
            "yaxis3": {"title": {"text": "E"}, "domain": [0.0, 0.3], "anchor": "x3", "rangemode": "tozero"},
        }
    layout |= {"annotations": notes, "shapes": shapes}
    return theme.figure(data, layout, title=CLIFF_TITLE, present=present, height=640 if zoom is not None else 560)


def _point(p) -> str:
    return "overflow" if not np.isfinite(p).all() else f"({p[0]:.4g}, {p[1]:.4g})"


def cliff_steps(descents: dict[str, Descent], first: int = 3) -> dict[str, np.ndarray]:
    """A table of the first steps and the last of each descent: column -> (rows,) of text."""
    rows = []
    for name, d in descents.items():
        n = len(d.grad_norms)
        for k in sorted({*range(min(first, n)), n - 1} - {-1}):
            moved = float(np.linalg.norm(d.path[k + 1] - d.path[k])) if np.isfinite(d.path[k + 1]).all() else np.inf
            rows.append({"descent": name, "step": str(k + 1), "E before": f"{d.losses[k]:.4g}",
                         "E after": f"{d.losses[k + 1]:.4g}", "‖dE/d(w, b)‖": f"{d.grad_norms[k]:.3g}",
                         "clipped": "yes" if d.clipped[k] else "no", "moved by": f"{moved:.3g}",
                         "lands at (w, b)": _point(d.path[k + 1])})
    return {col: np.array([r[col] for r in rows], dtype=object) for col in (rows[0] if rows else {})}


def cliff_summary(descents: dict[str, Descent], tau: float, w_range, b_range) -> list[str]:
    """One plain sentence per descent, from its numbers: its first step, and where it ends; the
    map is w_range x b_range."""
    lines = []
    for name, d in descents.items():
        if not len(d.grad_norms):
            continue
        moved = float(np.linalg.norm(d.path[1] - d.path[0])) if np.isfinite(d.path[1]).all() else np.inf
        rule = f" (the gradient's norm capped at τ = {tau:g})" if name == "clipped" else ""
        text = (f"{name.capitalize()}{rule}: step 1 takes E from {d.losses[0]:.4g} to {d.losses[1]:.4g} and moves "
                f"(w, b) by {moved:.3g}, to {_point(d.path[1])}")
        text += "." if _inside(d.path[1:2], w_range, b_range)[0] else ", far off the map."
        n = len(d.grad_norms)
        last_move = float(np.linalg.norm(d.path[-1] - d.path[-2])) if np.isfinite(d.path[-2:]).all() else np.inf
        if n > 1:
            text += f" After {n} steps E = {d.losses[-1]:.4g}"
            if last_move < 1e-12:
                text += f"; the gradient there is {d.grad_norms[-1]:.3g}, so the steps no longer move."
            else:
                text += f", last step moved by {last_move:.3g}."
        lines.append(text)
    return lines
