"""Presentation mode for a lecture hall: every text at least 20 px on a 1280x720 projector.

Figures take their sizes from figures/theme.py (PRESENT: chart text >= 18 px, ticks included;
PRESENT_MAX_HEIGHT: a figure and the step control fit one 1280x720 screen) and rnnviz's own element
its text from ui.PRESENT_FONT; this module enlarges Streamlit's own text: body, captions, metrics,
widget labels, buttons, alerts and headings. The sidebar starts collapsed (Streamlit's arrow at the
top left reopens it).
"""

from __future__ import annotations

import streamlit as st

BODY_PX = 22
SMALL_PX = 20  # the smallest text on the page: captions, labels, help

CSS = f"""
<style>
  [data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
  [data-testid="stMain"] [data-testid="stMarkdownContainer"] li,
  [data-testid="stMain"] [data-testid="stMarkdownContainer"] {{ font-size: {BODY_PX}px; line-height: 1.45; }}
  [data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p {{ font-size: {SMALL_PX}px; }}
  [data-testid="stWidgetLabel"], [data-testid="stWidgetLabel"] p {{ font-size: {SMALL_PX}px; }}
  [data-testid="stMetricLabel"], [data-testid="stMetricLabel"] p {{ font-size: {SMALL_PX}px; }}
  [data-testid="stMetricValue"] {{ font-size: 40px; }}
  [data-testid="stMain"] button p, [data-testid="stMain"] a p,
  [data-testid="stMain"] button, [data-testid="stPageLink"] p {{ font-size: {SMALL_PX}px; }}
  [data-testid="stAlertContainer"] p {{ font-size: {SMALL_PX + 1}px; }}
  [data-testid="stMain"] [role="radiogroup"] p, [data-testid="stMain"] [data-baseweb="select"] div,
  [data-testid="stMain"] [data-baseweb="tab"] p, [data-testid="stMain"] input,
  [data-testid="stMain"] [data-testid="stSliderTickBarMin"], [data-testid="stMain"] [data-testid="stSliderTickBarMax"],
  [data-testid="stMain"] [data-testid="stSliderThumbValue"] {{ font-size: {SMALL_PX}px; }}
  [data-testid="stMain"] h1 {{ font-size: 44px; }}
  [data-testid="stMain"] h2 {{ font-size: 34px; }}
  [data-testid="stMain"] h3 {{ font-size: 28px; }}
  [data-testid="stMain"] h4 {{ font-size: 25px; }}
  [data-testid="stMain"] .block-container {{ padding-left: 2.5rem; padding-right: 2.5rem; padding-top: 3.5rem; }}
</style>
"""


def apply(present: bool) -> None:
    """Presentation mode's styles, when it is on."""
    if present:
        st.html(CSS)
