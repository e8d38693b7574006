"""The Clipping-and-training page's view: the runs' curves, or the cliff."""

from __future__ import annotations

from ..config import Display
from ..figures import training as fig
from ..studies.training import B_RANGE, W_RANGE, CliffStudy, runs_slug
from ..training import TrainingRun
from . import Item, View


def runs_view(runs: list[TrainingRun], display: Display, scenario: str = "") -> View:
    """Loss, gradient norms, the raw/clipped cosine (only when a run clips by value: otherwise it is
    1 throughout) and ||dL/dh_t|| before and after, for these runs; file names say the runs'
    settings unless `scenario` is given."""
    present = display.present
    items = [
        Item("train-loss", fig.loss_curves(runs, present), caption=fig.LOSS_HOW_TO_READ, half=True),
        Item("train-grad-norms", fig.grad_norms(runs, present), caption=fig.GRAD_HOW_TO_READ, half=True),
    ]
    if fig.shows_cosines(runs):
        items.append(Item("train-cosine", fig.cosines(runs, present), caption=fig.COSINE_HOW_TO_READ, half=True))
    items.append(Item("train-profiles", fig.gradient_profiles(runs, present), caption=fig.PROFILE_HOW_TO_READ,
                      half=True))
    return View("training", {"runs": items}, scenario=scenario or runs_slug([run.config for run in runs]))


def cliff_view(cliff: CliffStudy, surface, display: Display, scenario: str = "") -> View:
    """The loss surface of the one-unit net with the plain and the clipped descent (with a zoom
    around the start and the loss after each step), and a table of the first steps ("cliff-steps"); file
    names say `scenario` (studies.training.cliff_slug of the controls)."""
    figure = fig.cliff_surface(*surface, cliff.descents, display.present, zoom=cliff.zoom)
    return View("training", {"cliff": [Item("train-cliff", figure, caption=fig.CLIFF_HOW_TO_READ)]}, scenario=scenario,
                tables={"cliff-steps": fig.cliff_steps(cliff.descents)})


def cliff_summary(cliff: CliffStudy) -> list[str]:
    """What each descent did, in plain sentences from its numbers."""
    return fig.cliff_summary(cliff.descents, cliff.tau, W_RANGE, B_RANGE)
