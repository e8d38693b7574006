"""The one place where figures get colours, fonts and sizes.

Colour-blind-safe choices: a diverging scale centred at 0 for signed values (h, c, g, gradients
of either sign), a sequential scale on [0, 1] for sigmoid gates, and the Okabe-Ito palette for
lines. Presentation mode enlarges every text to at least 18 px and thickens lines for a
projector, on a white background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

DIVERGING = "RdBu_r"  # blue < 0 < red, white at 0 (ColorBrewer, colour-blind safe)
SEQUENTIAL = "Viridis"  # dark 0 -> yellow 1 (perceptually uniform, colour-blind safe)
MAGNITUDE = "Cividis"  # non-negative magnitudes such as gradient norms
# Okabe & Ito (2008): distinguishable under every common colour-vision deficiency
LINES = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
KIND_COLOURS = {"rnn": LINES[1], "lstm": LINES[0], "gru": LINES[2]}
INK = "#1a1a1a"
MUTED = "#6b6b6b"
CURSOR = "#E69F00"  # the current step, on every figure
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


def sizes(present: bool) -> Sizes:
    return PRESENT if present else NORMAL


def style(fig: go.Figure, title: str, present: bool, height: int | None = None) -> go.Figure:
    """Apply the house layout: title, fonts, white background, margins."""
    s = sizes(present)
    fig.update_layout(
        title={"text": title, "font": {"size": s.title, "color": INK}, "x": 0.0, "xanchor": "left"},
        font={"family": FONT_FAMILY, "size": s.font, "color": INK},
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin={"l": 70, "r": 30, "t": 60 + (12 if present else 0), "b": 50},
        hoverlabel={"font": {"size": s.font, "family": FONT_FAMILY}},
    )
    fig.update_xaxes(tickfont={"size": s.tick}, title_font={"size": s.font}, linecolor=MUTED,
                     gridcolor="#e8e8e8", zeroline=False)
    fig.update_yaxes(tickfont={"size": s.tick}, title_font={"size": s.font}, linecolor=MUTED,
                     gridcolor="#e8e8e8", zeroline=False)
    if height is not None:
        fig.update_layout(height=int(height * (1.25 if present else 1.0)))
    return fig


def colorbar(title: str, present: bool, **extra) -> dict:
    s = sizes(present)
    return {"title": {"text": title, "font": {"size": s.font}}, "tickfont": {"size": s.tick},
            "thickness": 18 if present else 14, **extra}


def f32(a) -> np.ndarray:
    """float32 for Plotly: finite values clipped into float32's range, inf/NaN as NaN (a gap)."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(a), np.clip(a, -3e38, 3e38), np.nan).astype(np.float32)


def signed_range(*arrays) -> float:
    """A symmetric colour range for signed values: at least 1, so tanh outputs fill it."""
    peak = 1.0
    for a in arrays:
        if a is not None:
            finite = np.abs(a[np.isfinite(a)])
            if finite.size:
                peak = max(peak, float(finite.max()))
    return peak


def export_config(filename: str) -> dict:
    """Plotly's modebar: the camera button saves a 3x PNG named for the figure and step."""
    return {
        "toImageButtonOptions": {"format": "png", "scale": 3, "filename": filename},
        "displaylogo": False,
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }
