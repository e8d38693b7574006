"""Truncated BPTT on the Backprop-through-time page, as a view: the cut gradient beside the full one."""

from __future__ import annotations

from ..config import Display
from ..figures import truncation as fig
from ..studies.truncation import Truncation
from . import Item, View


def build(cut: Truncation, cell: str, display: Display, scenario: str = "") -> View:
    """One figure: ||dL/dh_t|| by full and by truncated BPTT (section "truncation")."""
    figure = fig.truncated_grad_norms(cut.full, cut.cut, cut.windows, cut.window, cell, display.present)
    item = Item("bptt-truncated", figure, caption=fig.HOW_TO_READ)
    return View("bptt", {"truncation": [item]}, scenario=scenario)


def summary(cut: Truncation) -> str:
    """One sentence from the numbers: how far back the gradient reaches, cut and in full."""
    if cut.window is None:
        return (f"Full BPTT: the gradient above travels back through all T = {cut.T} steps. Choose a window k "
                "to cut it after k steps, as truncated BPTT does in training, and see what the earlier steps lose.")
    return (f"With k = {cut.window}, the gradient of the loss at t = {cut.T} reaches back to t = {cut.reached} and "
            f"no further: the {cut.reached - 1} step{'s' * (cut.reached != 2)} before get nothing from it, whatever "
            f"they did (full BPTT gives t = 1 ||dL/dh_1|| = {cut.full[0]:.3g}; truncated, {cut.cut[0]:.3g}).")
