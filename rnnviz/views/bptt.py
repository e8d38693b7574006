"""The Backprop-through-time page's view: the unrolled graph, the gradient's size at every step, and why."""

from __future__ import annotations

from ..config import Config, Display, Param, slug
from ..figures import bptt as fig
from ..studies.bptt import LOSS_ON, BpttStudy
from . import Item, Stepping, View

MODES = {"forward": "Forward", "backward": "Backward"}
PARAMS = {  # the page's own controls, kept in the URL
    "loss": Param("last", LOSS_ON),
    "mode": Param("backward", MODES),
}
STEP_PARAMS = {"forward": "t", "backward": "reached"}  # the URL parameter of the graph's step, by mode


def stepping(study: BpttStudy, mode: str) -> Stepping:
    """Forward: the step t; backward: how far back the gradient has reached (Play runs it from T to 1)."""
    T = study.main.scenario.T
    labels = tuple(str(k) for k in range(1, T + 1))
    if mode == "forward":
        return Stepping(T, labels, "t", "bptt-forward")
    return Stepping(T, labels, "reached", "bptt-backward", label="Reached step", text="reached step {t} of {T}",
                    direction="backward")


def build(study: BpttStudy, cfg: Config, display: Display, mode: str = "backward") -> View:
    main, present = study.main, display.present
    graph = fig.unrolled_graph(main.graph_nodes, main.edge_flows, main.readout.loss, main.loss_steps, main.cell,
                               mode, present, loss_on=study.loss_on_label)
    sections = {
        "graph": [Item(f"bptt-graph-{mode}", graph, caption=fig.GRAPH_HOW_TO_READ)],
        "norms": [Item("bptt-grad-norms", fig.grad_norms(study.h_norms, study.c_norms, main.cell, main.fit,
                                                         study.bound, main.exploded_at, present),
                       caption=fig.NORMS_HOW_TO_READ)],
        "why": [
            Item("bptt-spectrum", fig.spectrum(study.spectrum, present), caption=fig.SPECTRUM_HOW_TO_READ, half=True),
            Item("bptt-jacobians", fig.jacobian_norms(study.jacobians, present), caption=fig.JACOBIAN_HOW_TO_READ,
                 half=True),
            Item("bptt-saturation", fig.saturation_meter(study.saturation, present),
                 caption=fig.SATURATION_HOW_TO_READ, half=True),
            Item("bptt-contributions", fig.contributions(study.contributions, present),
                 caption=fig.CONTRIB_HOW_TO_READ, half=True),
        ],
        "saliency": [Item("bptt-saliency", fig.saliency(study.saliency, main.scenario.sample.xs,
                                                         main.scenario.text_tokens, present),
                          caption=fig.SALIENCY_HOW_TO_READ)],
    }
    loss = "" if study.loss_on == "last" else f"-loss{study.loss_on}"  # the two losses' files never collide
    return View("bptt", sections, stepping(study, mode), scenario=slug(cfg) + loss)
