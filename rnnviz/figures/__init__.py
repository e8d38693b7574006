"""Plotly figure builders: pure functions from engine results to go.Figure."""

from . import step, theme

__all__ = ["step", "theme"]
