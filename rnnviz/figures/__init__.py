"""Plotly figure builders: pure functions from arrays and labels to go.Figure, one module per page."""

from . import bptt, step, theme, training

__all__ = ["bptt", "step", "theme", "training"]
