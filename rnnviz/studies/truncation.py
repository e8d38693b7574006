"""Truncated BPTT on the Backprop-through-time page: the same forward pass and loss, the gradient
cut every k steps (engine.bptt_truncated), beside the full one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis import hidden_grad_norms
from ..config import Param
from ..engine import backward_from_trace, truncation_windows
from .bptt import CellGradients

WINDOWS = {"full": "full BPTT", **{str(k): f"{k} step{'s' * (k > 1)}" for k in (1, 2, 5, 10, 20, 50, 100)}}
PARAMS = {"window": Param("full", WINDOWS)}  # the page's control, kept in the URL


@dataclass(frozen=True)
class Truncation:
    """||dL/dh_t|| of one cell's loss by full and by truncated BPTT, and where the cuts are."""

    window: int | None  # k; None: full BPTT (or k >= T)
    full: np.ndarray  # (T,) ||dL/dh_t|| by full BPTT
    cut: np.ndarray  # (T,) ||dL/dh_t|| with no gradient crossing a cut
    windows: tuple[tuple[int, int], ...]  # the windows as 0-based [start, stop) rows, in time order

    @property
    def T(self) -> int:
        return len(self.full)

    @property
    def reached(self) -> int:
        """The earliest step t (1-based) that the gradient of the loss at T still reaches, cut."""
        return self.windows[-1][0] + 1


def windows_below(T: int) -> dict[str, str]:
    """The window choices that cut a sequence of T steps (k < T), after "full": a longer window is full BPTT."""
    return {key: label for key, label in WINDOWS.items() if key == "full" or int(key) < T}


def window_value(raw: str) -> int | None:
    """The control's value as a window k (None: full)."""
    return None if raw == "full" else int(raw)


def truncation(gradients: CellGradients, window: int | None) -> Truncation:
    """The main cell's loss, back-propagated with the state cut every `window` steps."""
    sc = gradients.scenario
    T = sc.trace.h.shape[0]
    window = None if window is None or window >= T else window
    cut = backward_from_trace(sc.params, sc.trace, gradients.readout.dL_dh, window=window)
    return Truncation(window, gradients.h_norms, hidden_grad_norms(cut), tuple(truncation_windows(T, window)))
