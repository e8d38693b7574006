"""The Backprop-through-time page's Streamlit side that outlives a run: the unrolled graph's fragment.

A fragment keeps what it needs for its reruns until the session's next full run: a fragment
defined in the page script keeps the script's variables (its globals), here the study and every
figure of the page, tens of MB for each session parked on a large view, whatever the studies'
cache holds. Defined here, it keeps only its arguments, and takes the study from the cache.
"""

from __future__ import annotations

import streamlit as st

from ..config import Config, Display
from ..views import bptt as view
from . import bptt_study, choice, show, step, sync_step


@st.fragment
def graph(mode_col, cfg: Config, display: Display, loss_on: str) -> None:
    """The unrolled graph, its Forward/Backward switch (drawn in `mode_col`) and its step control."""
    study = bptt_study(cfg, loss_on)
    mode = choice(mode_col.segmented_control, "Unrolled graph", "mode", param=view.PARAMS["mode"]) or "backward"
    steps = view.stepping(study, mode)
    show(view.build(study, cfg, display, mode), "graph", display, key=f"bptt-graph-{mode}", step=step(steps))
    sync_step(steps.view, steps.T, steps.param)
