"""The app's map lives in rnnviz/pages.py (no Streamlit there, so the export command reads it too)."""

from ..pages import BPTT_TERMS, LESSON_PARAMS, PAGES, STEP_TERMS, TRAINING_TERMS, Page

__all__ = ["BPTT_TERMS", "LESSON_PARAMS", "PAGES", "STEP_TERMS", "TRAINING_TERMS", "Page"]
