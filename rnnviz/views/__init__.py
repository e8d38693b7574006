"""What each page shows, as data: its figures and text blocks, named, captioned and laid out.

A view function takes a page's study (and its display options and page controls) and returns a
View: the page's items in reading order. The page script draws them (rnnviz.ui), the export zip
and `python -m rnnviz.export` write them to files, and the tests read them, so all three show the
same figures. Nothing here imports Streamlit. One module per page, named after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go

from ..figures.steps import StepBlock, StepFigure


@dataclass(frozen=True)
class Item:
    """One figure or text block of a view, with what is written around it."""

    name: str  # what it is, for file names and tests: "step-cell", "bptt-grad-norms"
    figure: go.Figure | StepFigure | None = None
    block: StepBlock | None = None
    title: str = ""  # plain text above it (figures carry their own title)
    caption: str = ""  # plain text below it: how to read it
    half: bool = False  # half the page's width (two halves side by side)


@dataclass(frozen=True)
class Stepping:
    """The step control of a view: t in 1..T, the URL parameter that keeps it, the labels per step."""

    T: int
    labels: tuple[str, ...]  # (T,) what each step reads (raw text: escaped where it is drawn)
    param: str = "t"
    view: str = ""  # what t belongs to: the browser keeps its t while this stays the same
    label: str = "Step t"
    text: str = "t = {t} of {T}"
    direction: str = "forward"  # Play runs t upwards, or downwards ("backward")


@dataclass(frozen=True)
class View:
    """A page's items, grouped in sections that the page draws one after the other."""

    page: str  # ui.pages.PAGES key
    sections: dict[str, list[Item]]  # section name -> its items, in reading order
    stepping: Stepping | None = None  # the step control, if the figures follow t
    scenario: str = ""  # config.slug of the scenario: file names say which one they show
    tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # name -> column -> (rows,)

    @property
    def items(self) -> list[Item]:
        return [item for items in self.sections.values() for item in items]

    def filename(self, item: Item) -> str:
        """rnnviz-<item>-<scenario>[-t<step>]: {t2} stands for the step in a stepped figure."""
        stepped = isinstance(item.figure, StepFigure) or item.block is not None
        return "-".join(["rnnviz", item.name, *([self.scenario] if self.scenario else []),
                         *(["t{t2}"] if stepped and self.stepping else [])])
