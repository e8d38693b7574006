"""Truncated BPTT on the Backprop-through-time page: its window control and its figure, in one call."""

from __future__ import annotations

import streamlit as st

from ..config import Config, Display
from ..studies import truncation as study
from ..views import truncation as view
from . import _private, bptt_study, memo, page_control, show


def section(cfg: Config, display: Display, loss_on: str) -> None:
    """A window control (URL `window`) and, for a window k shorter than the sequence, ||dL/dh_t||
    with the gradient cut every k steps beside the full one."""
    T = bptt_study(cfg, loss_on).main.scenario.T
    windows = study.windows_below(T)  # only windows that cut: a URL's k >= T gets the one note, then full
    raw = page_control(st.segmented_control, "Truncated BPTT: window k", "window", study.PARAMS["window"],
                       list(windows), format_func=windows.get,
                       help="Truncated backprop through time: the sequence is cut every k steps (counted back from "
                            f"the end) and no gradient crosses a cut, as when training detaches the hidden state every "
                            f"k steps. Full BPTT: no cut. Offered: the windows shorter than this sequence (T = {T}).") \
        or "full"
    window = study.window_value(raw)
    trained = _private(cfg)
    if trained is not None:  # a file's or a session's weights: kept in that session only, like its other studies
        from .weights import private_study

        cut = private_study(_private_truncation, cfg, loss_on, window, trained=trained)
    else:
        cut = memo(_truncation)(cfg, loss_on, window)
    if cut.window is not None:  # full BPTT is the figure above: nothing new to draw
        show(view.build(cut, cfg.cell, display), "truncation", display, key="bptt-truncated")
    st.caption(view.summary(cut))


def _private_truncation(cfg: Config, loss_on: str, window: int | None, trained) -> study.Truncation:
    """_truncation for private weights (private_study passes them; bptt_study finds them in the session)."""
    return _truncation(cfg, loss_on, window)


def _truncation(cfg: Config, loss_on: str, window: int | None) -> study.Truncation:
    """The page's main cell, its gradient cut every `window` steps (kept by memo: cfg is hashable)."""
    return study.truncation(bptt_study(cfg, loss_on).main, window)
