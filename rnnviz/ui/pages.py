"""The app's map lives in rnnviz/pages.py (no Streamlit there, so the export command reads it too)."""

from ..pages import PAGES, Page

__all__ = ["PAGES", "Page"]
