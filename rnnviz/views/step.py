"""The Step-through page's view: the input, the cell diagram, the vectors, the equations, the text and
every vector over time, all following the step t."""

from __future__ import annotations

from .. import equations
from ..cells import CELLS
from ..config import Config, Display, Param, slug
from ..figures import stack as stack_fig
from ..figures import step as fig
from ..gallery import GALLERY
from ..studies.stack import StackStudy
from ..studies.step import StepStudy
from . import Item, Stepping, View

SPEEDS = {100: "100", 200: "200", 400: "400", 800: "800", 1500: "1500"}  # ms a step of Play
PARAMS = {  # the page's own controls, kept in the URL (t's range depends on the sequence: see stepping)
    "play": Param(False, kind="bool"),  # a link with play=true starts playing
    "speed": Param(400, SPEEDS, kind="choice"),
}
EQUATIONS_CAPTION = ("Each pre-activation is split into its input part (W x + b) and its recurrent part (W h + b), "
                     "as PyTorch computes them; under each number is the term it is. σ squashes to 0…1, tanh to −1…1.")


def unit_param(H: int) -> Param:
    """The unit j whose equations and text view are shown: 0..H-1."""
    return Param(0, low=0, high=H - 1, kind="int")


def stepping(study: StepStudy) -> Stepping:
    return Stepping(T=study.T, labels=tuple(study.step_labels), view="step")


def build(study: StepStudy, cfg: Config, display: Display, unit: int = 0, stack: StackStudy | None = None) -> View:
    """Every item of the page for this study, unit j = `unit` in the equations and the text view.

    With a stack (several layers or both directions), the whole stack at step t and over time come
    before the detailed cell, which is the stack's layer 1, forward direction.
    """
    present, labels, channels = display.present, study.step_labels, study.sample.vocab
    numeric = study.sample.tokens is None
    figures = []
    if numeric:
        figures.append(Item("step-input", fig.input_signal(study.sample.xs, labels, channels, present),
                            caption=fig.INPUT_CAPTION))
    figures += trained_items(study, cfg, display)
    if stack is not None:
        figures += stack_items(stack, display)
    figures += [
        Item("step-cell", fig.cell_diagram(study.vectors, study.cell, labels, present, channels, numeric),
             caption=fig.diagram_caption(study.cell, cfg.source)),
        Item("step-vectors", fig.vector_strips(study.vectors, labels, present, channels),
             caption=fig.vectors_caption(cfg.source), half=True),
        Item(f"step-equations-unit{unit}", block=equations.step_equations(study.trace, unit, labels), half=True,
             title=f"The equations for unit j = {unit}", caption=EQUATIONS_CAPTION),
    ]
    if study.text_tokens is not None:
        figures.append(Item(f"step-text-unit{unit}", fig.text_activation(study.text_tokens, study.trace.h[:, unit],
                                                                          unit, present), caption=fig.TEXT_CAPTION))
    figures.append(Item("step-heatmaps", fig.state_heatmaps(study.over_time, labels, present),
                        caption=fig.heatmaps_caption(study.cell)))
    return View("step", {"figures": figures}, stepping(study), scenario=slug(cfg))


def trained_items(study: StepStudy, cfg: Config, display: Display) -> list[Item]:
    """For trained weights: the gallery's unit to watch over the steps, and what the readout predicts."""
    present, labels, items = display.present, study.step_labels, []
    watch = GALLERY[cfg.weights].watch if cfg.weights in GALLERY else None
    if watch is not None:
        values = {v.key: v.values for v in study.over_time}[watch.vector][:, watch.unit]  # (T,)
        items.append(Item("step-watch", fig.watch_line(values, labels, watch.vector, watch.unit, present),
                          caption=fig.WATCH_CAPTION))
    prediction = study.prediction
    if prediction is not None and prediction.probs is not None:
        items.append(Item("step-prediction", fig.prediction_map(prediction.probs, prediction.top,
                                                                prediction.classes, labels, present),
                          caption=fig.PREDICTION_CAPTION))
    elif prediction is not None:
        items.append(Item("step-prediction", fig.value_prediction(prediction.y, labels, present),
                          caption=fig.VALUE_PREDICTION_CAPTION))
    return items




def stack_items(stack: StackStudy, display: Display) -> list[Item]:
    """The stack at step t (every layer, both directions side by side) and every layer's h over time."""
    h = {key: tr.h for key, tr in stack.trace.layers.items()}
    labels = stack.step_labels
    return [
        Item("step-stack", stack_fig.stack_at_step(h, stack.sample.xs, labels, CELLS[stack.config.cell].label,
                                                   display.present, stack.sample.vocab),
             caption=stack_fig.STACK_CAPTION),
        Item("step-stack-time", stack_fig.stack_over_time(h, labels, display.present),
             caption=stack_fig.OVER_TIME_CAPTION),
    ]
