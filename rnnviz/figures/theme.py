"""The one place where figures get colours, fonts and sizes.

Colour-blind-safe choices: a diverging scale centred at 0 for signed values (h, c, g, gradients
of either sign), a sequential scale on [0, 1] for sigmoid gates, and the Okabe-Ito palette for
lines. Presentation mode enlarges every text to at least 18 px and thickens lines for a
projector, on a white background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from plotly.colors import make_colorscale

from ..cells import CELLS
from ..tasks import visible_token
from .steps import StepFigure, escape_label

# Explicit [position, colour] lists: figures skip Python-side validation (see figure()), and
# plotly.js knows neither the "_r" names nor ColorBrewer's RdBu (its own "RdBu" is grey-centred).
DIVERGING = make_colorscale(list(reversed(plotly.colors.diverging.RdBu)))  # blue < 0 < red, white at 0
SEQUENTIAL = make_colorscale(plotly.colors.sequential.Viridis)  # dark 0 -> yellow 1, perceptually uniform
MAGNITUDE = make_colorscale(plotly.colors.sequential.Cividis)  # magnitudes >= 0, such as gradient norms
# Okabe & Ito (2008): distinguishable under every common colour-vision deficiency
COLOURS = {"blue": "#0072B2", "vermillion": "#D55E00", "green": "#009E73", "purple": "#CC79A7",
           "orange": "#E69F00", "sky": "#56B4E9", "black": "#000000"}
LINES = tuple(COLOURS.values())
INK = "#1a1a1a"  # text and outlines
MUTED = "#6b6b6b"  # arrows, reference lines, notes
GRID = "#e8e8e8"
PAPER = "white"  # the background, and the fill of nodes and operation circles
CURSOR = COLOURS["orange"]  # the current step, on every figure
ALARM = COLOURS["vermillion"]  # where numbers exploded; the unclipped descent
CALM = COLOURS["sky"]  # the clipped descent
INACTIVE = "#c8c8c8"  # an edge the animated backward pass has not reached yet
LOSS_FILL = "#fde6c8"  # the loss node of the unrolled graph
LABEL_BACKGROUND = "rgba(255,255,255,0.85)"  # behind a note drawn over a heatmap
FONT_FAMILY = "Inter, 'Source Sans Pro', 'DejaVu Sans', Arial, sans-serif"


@dataclass(frozen=True)
class Sizes:
    font: int
    title: int
    tick: int
    line: float
    marker: int


NORMAL = Sizes(font=14, title=18, tick=13, line=2.0, marker=7)
PRESENT = Sizes(font=20, title=26, tick=18, line=3.5, marker=11)
# Presentation mode: a figure with its title fits a 1280x720 projector under Streamlit's header
# and rnnviz's step control, so the lecturer scrolls from figure to figure, never within one.
PRESENT_MAX_HEIGHT = 540


def cell_colour(cell: str) -> str:
    """The line colour of a cell of cells.CELLS (its `colour` names one of COLOURS)."""
    return COLOURS[CELLS[cell].colour]


def line_colour(k: int) -> str:
    """The colour of the k-th line (0-based) of a figure that draws several: LINES in turn."""
    return LINES[k % len(LINES)]


def legend(present: bool, y: float = -0.22, **extra) -> dict:
    """A horizontal legend under the plot: tick-sized text, the body size in presentation mode (>= 20 px)."""
    s = sizes(present)
    return {"orientation": "h", "y": y, "font": {"size": s.font if present else s.tick}, **extra}


def sizes(present: bool) -> Sizes:
    return PRESENT if present else NORMAL


def figure(data: list[dict], layout: dict, *, title: str, present: bool, height: int | None = None,
           frames: list[dict] | None = None) -> go.Figure:
    """A styled go.Figure from plain dicts, built once, without Plotly's per-call machinery.

    Adding traces, shapes and annotations one by one validates each (~5 ms apiece: a cell
    diagram took 250 ms), and even one update_layout costs ~200 ms on a figure with many axes;
    a dict spec with the house style merged in takes a few ms. tests/test_figures.py runs every
    builder's output through Plotly's full validator instead.
    """
    spec = {"data": data, "layout": _merge(house_layout(layout, title, present, height), layout)}
    if frames:
        spec["frames"] = frames
    return go.Figure(spec, _validate=False)


def step_figure(data: list[dict], layout: dict, *, title, present: bool, height: int | None = None,
                arrays: dict[str, np.ndarray] | None = None, labels=()) -> StepFigure:
    """figure() for a figure that follows the step t: values may be step references (figures.steps).

    arrays: name -> (T, n), what Row/Cell/Whole references point into; labels (T,): what each step
    reads (raw; escaped here for Plotly's pseudo-HTML).
    """
    spec = {"data": data, "layout": _merge(house_layout(layout, title, present, height), layout)}
    return StepFigure(spec, dict(arrays or {}), tuple(escape_label(x) for x in labels))


def house_layout(layout: dict, title, present: bool, height: int | None = None) -> dict:
    """The house style for a layout: title, fonts, white background, margins, every axis."""
    s = sizes(present)
    # automargin: Plotly widens the margins to fit tick labels and axis titles, so the two never overlap
    axis_style = {"tickfont": {"size": s.tick}, "title": {"font": {"size": s.font}, "standoff": 6}, "linecolor": MUTED,
                  "gridcolor": GRID, "zeroline": False, "automargin": True}
    axes = [k for k in layout if k.startswith(("xaxis", "yaxis"))] or ["xaxis", "yaxis"]
    # log axes label whole decades only: Plotly's labels between them (2, 5) are small and crowd the axis
    log_axes = {k: {"dtick": 1} for k in axes if isinstance(layout.get(k), dict) and layout[k].get("type") == "log"
                and "dtick" not in layout[k]}
    style = {
        # the title stands on the plot area and pushes the top margin up as it needs: a title that
        # wraps (client.js breaks one that runs past its chart) gets the room for its lines
        "title": {"text": title, "font": {"size": s.title, "color": INK}, "x": 0.0, "xanchor": "left",
                  "xref": "paper", "y": 1.0, "yref": "paper", "yanchor": "bottom", "pad": {"b": 12},
                  "automargin": True},
        "font": {"family": FONT_FAMILY, "size": s.font, "color": INK},
        "paper_bgcolor": PAPER,
        "plot_bgcolor": PAPER,
        "margin": {"l": 70, "r": 30, "t": 30, "b": 50},
        "hoverlabel": {"font": {"size": s.font, "family": FONT_FAMILY}},
        **{axis: axis_style | log_axes.get(axis, {}) for axis in axes},
    }
    if height is not None:
        style["height"] = int(min(height * 1.25, PRESENT_MAX_HEIGHT)) if present else int(height)
    return style


def _merge(base: dict, override: dict) -> dict:
    """base updated by override, recursively for nested dicts (override wins)."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def stacked_axes(n_rows: int, titles: list[str], present: bool, gap: float = 0.35, shared_x: bool = False) -> dict:
    """Layout entries for n_rows plots stacked vertically (row 1 on top), each titled.

    Replaces plotly.subplots.make_subplots, whose validated construction costs ~100 ms.
    Trace k (1-based) uses xaxis "x{k}" / yaxis "y{k}" ("x" / "y" for k = 1).
    """
    s = sizes(present)
    space = gap / n_rows  # fraction of the height between rows, room for the row title
    height = (1.0 - space * (n_rows - 1)) / n_rows
    layout: dict = {"annotations": []}
    for k in range(1, n_rows + 1):
        top = 1.0 - (k - 1) * (height + space)
        suffix = "" if k == 1 else str(k)
        layout[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": [0.0, 1.0],
                                    **({"matches": "x"} if shared_x and k > 1 else {})}
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "domain": [max(top - height, 0.0), top]}
        layout["annotations"].append({"text": titles[k - 1], "x": 0.0, "xref": "paper", "xanchor": "left",
                                      "y": top, "yref": "paper", "yanchor": "bottom", "showarrow": False,
                                      "font": {"size": s.font}})
    return layout


def axis_ref(k: int) -> tuple[str, str]:
    """("x3", "y3") for stacked row 3; ("x", "y") for row 1."""
    return ("x", "y") if k == 1 else (f"x{k}", f"y{k}")


def colorbar(title: str, present: bool, **extra) -> dict:
    """A colour bar, its title written along its right side (clear of its top tick label)."""
    s = sizes(present)
    return {"title": {"text": title, "font": {"size": s.font}, "side": "right"}, "tickfont": {"size": s.tick},
            "thickness": 18 if present else 14, **extra}


def arrows(segments, width: float, colour: str = MUTED) -> dict:
    """Arrows from (x0, y0) to (x1, y1), each segment of `segments`, as one scatter trace.

    One trace, not an annotation per arrow: Plotly lays out every annotation on its own (its text, its
    box, a layout of the page to measure it), and a cell diagram's 17 arrows were a third of its redraw.
    The head is an "arrow" marker at the end, turned along its segment (angleref "previous").
    """
    ends = np.asarray(segments, dtype=np.float32).reshape(-1, 2, 2)  # (arrow, start/end, x/y)
    gap = np.full((len(ends), 1, 2), np.nan, dtype=np.float32)
    xy = np.concatenate([ends, gap], axis=1).reshape(-1, 2)  # start, end, gap (a break in the line)
    head = np.tile(np.array([0.0, 6.5 * width, 0.0], dtype=np.float32), len(ends))  # a head at the ends only
    return {"type": "scatter", "mode": "lines+markers", "name": "arrows", "x": xy[:, 0], "y": xy[:, 1],
            "line": {"color": colour, "width": width},
            "marker": {"symbol": "arrow", "angleref": "previous", "size": head, "color": colour},
            "hoverinfo": "skip", "showlegend": False, "cliponaxis": False}


def labels(notes: list[dict]) -> list[dict]:
    """Annotations the browser draws as HTML over the plot (client.js: named "label"), not through Plotly,
    which lays out and measures each annotation on its own; exports draw them as annotations."""
    return [{**note, "name": "label"} for note in notes]


def f32(a) -> np.ndarray:
    """float32 for Plotly: finite values clipped into float32's range, inf/NaN as NaN (a gap)."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(a), np.clip(a, -3e38, 3e38), np.nan).astype(np.float32)


def log_values(a) -> np.ndarray:
    """For a log axis: float64 (magnitudes like 1e281 must survive), NaN where <= 0 or not finite."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def visible_char(ch: str) -> str:
    """A character as a figure draws it: space and newline made visible, markup made inert."""
    return escape_label(visible_token(ch))


def char_grid(tokens: list[str], values: np.ndarray, per_row: int = 32):
    """Characters laid out in rows for a text heatmap: (z, chars, steps), each (rows, per_row).

    Short texts get big cells (at least 16 per row); spaces and newlines are drawn visibly;
    cells past the end are NaN (no colour, no hover). steps holds each cell's 1-based step.
    """
    T = len(tokens)
    per_row = max(min(T, per_row), 16)
    rows = -(-T // per_row)
    z = np.full((rows, per_row), np.nan)
    chars = np.full((rows, per_row), "", dtype=object)
    steps = np.zeros((rows, per_row), dtype=np.int64)
    for k, ch in enumerate(tokens):
        r, c = divmod(k, per_row)
        z[r, c] = values[k]
        chars[r, c] = visible_char(ch)
        steps[r, c] = k + 1
    return z, chars, steps


def signed_range(*arrays) -> float:
    """A symmetric colour range for signed values: at least 1, so tanh outputs fill it."""
    peak = 1.0
    for a in arrays:
        if a is not None:
            finite = np.abs(a[np.isfinite(a)])
            if finite.size:
                peak = max(peak, float(finite.max()))
    return peak
