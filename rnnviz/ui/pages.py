"""The app's map: one table of pages, which feeds the sidebar's links and the home page."""

from __future__ import annotations

from dataclasses import dataclass

from ..registry import Registry
from ..studies.training import PARAMS as TRAINING_PARAMS


@dataclass(frozen=True)
class Page:
    """One page of the app."""

    key: str  # "step", "bptt", "training"; pages, studies and figures share it as a module name
    file: str  # the script, as st.page_link and AppTest.switch_page take it
    label: str  # in the sidebar, the browser tab and the home page's "Open in …" links
    icon: str  # a Material icon, ":material/…:"
    description: str  # one line: what the page teaches (the home page's section heading)
    params: tuple[str, ...] = ()  # the URL parameters of the page's own controls (beside config.PARAMS)


PAGES: Registry[Page] = Registry("page", [
    Page("home", "app.py", "Home", ":material/home:", "What is here, and lessons that open a prepared scenario."),
    Page("step", "pages/1_Step_through.py", "Step through", ":material/footprint:",
         "The forward pass, step by step", params=("t", "unit", "play", "speed")),
    Page("bptt", "pages/2_Backprop_through_time.py", "Backprop through time", ":material/undo:",
         "Backprop through time: vanishing and exploding gradients", params=("t", "reached", "loss", "mode")),
    Page("training", "pages/3_Clipping_and_training.py", "Clipping and training", ":material/content_cut:",
         "Clipping and training: exploding gradients in real runs, and the cliff", params=tuple(TRAINING_PARAMS)),
])
