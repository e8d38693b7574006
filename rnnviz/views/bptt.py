"""The Backprop-through-time page's view: the unrolled graph, the gradient's size at every step, and why."""

from __future__ import annotations

from ..cells import CELLS
from ..config import Config, Display, Param, slug
from ..figures import bptt as fig
from ..figures import stack as stack_fig
from ..studies.bptt import LOSS_ON, BpttStudy
from ..studies.stack import StackGradients
from . import Item, Stepping, View

MODES = {"forward": "Forward", "backward": "Backward"}
PARAMS = {  # the page's own controls, kept in the URL
    "loss": Param("last", LOSS_ON),
    "mode": Param("backward", MODES),
}
STEP_PARAMS = {"forward": "t", "backward": "reached"}  # the URL parameter of the graph's step, by mode


REACH_HELP = ("Of the gradient at the last step, how much arrives at the first: ||dL/dh_1|| / ||dL/dh_T|| (for the "
              "LSTM along its cell state c when that carries more; with a loss on every step, ||dh_T/dh_1||). Below "
              "1% vanishing, above 100× exploding, in between carried.")
FACTOR_HELP = "The average factor a step back multiplies it by: the fraction to the power 1/(T − 1)."
PATHS = {"h": "along h", "c": "along the cell state c", "J": "at most (||dh_T/dh_1||)"}


def fraction_text(x: float) -> str:
    """A fraction of the gradient as a person reads it: 17%, 0.27%, 8.8e-19, 4.6e+02 (×)."""
    if x != x:
        return "—"
    if 1e-3 <= x < 1:
        return f"{100 * x:.2g}%"
    return f"{x:.2g}" if x < 1e-3 else f"{x:.3g}×"


def reach_sentence(label: str, reach) -> str:
    """"LSTM: carried — 17% of the gradient at t = T reaches t = 1 along the cell state c (× 0.978 a step)"."""
    if reach.regime == "undefined":
        return f"{label}: no gradient reaches the first step to compare."
    return (f"{label}: {reach.regime} — {fraction_text(reach.fraction)} of the gradient at t = T reaches t = 1 "
            f"{PATHS[reach.path]} (× {reach.factor:.3g} a step back)")


def bound_note(study: BpttStudy) -> str:
    """Why Pascanu's bound is, or is not, on the gradient plot (RNNs only), in plain words; "" otherwise."""
    g = study.gamma_sigma
    if g is None:
        return ""
    if study.bound is not None:
        return (f"The dotted line is the bound of Pascanu, Mikolov & Bengio (2013): each step back multiplies the "
                f"gradient by at most γ σ_max = {g:.3g} (γ = 1 bounds the slope of tanh and ReLU, σ_max is W_hh's "
                "largest singular value). Below 1, the gradient must vanish at least that fast.")
    note = (f"Pascanu's bound is not drawn: γ σ_max = {g:.3g} is not below 1, so (γ σ_max)^(T−t) grows going back "
            "and says nothing about vanishing. The gradient can vanish all the same: ")
    dead = study.dead_units
    if dead is not None:
        return note + (f"on average {100 * dead:.0f}% of the ReLU units are off (slope 0) at each step, and each "
                       "step's Jacobian stretches the gradient in some directions only, not the one it points in.")
    return note + ("saturated units (slope near 0) and directions that W_hh shrinks multiply to less than the "
                   "largest stretch at every step.")


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
        "norms": [Item("bptt-grad-norms", fig.grad_norms(study.h_norms, study.c_norms, main.cell, study.reach,
                                                         study.bound, main.exploded_at, present),
                       caption=fig.NORMS_HOW_TO_READ)],
        "why": [
            Item("bptt-spectrum", fig.spectrum(study.spectrum, present), caption=fig.SPECTRUM_HOW_TO_READ, half=True),
            Item("bptt-jacobians", fig.jacobian_norms(study.jacobians, present), caption=fig.JACOBIAN_HOW_TO_READ,
                 half=True),
            Item("bptt-saturation", fig.saturation_meter(study.saturation, present, dead=study.dead_units is not None),
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


STACK_STATS_NOTE = "Layer 1's forward direction alone, as one cell:"
STACK_NOTE = ("The sections below study layer 1's forward direction alone, as one cell with its own readout: "
              "the plots above are the whole stack's.")


def stack_view(grads: StackGradients, cfg: Config, display: Display) -> View:
    """The stack's gradient: ||dL/dh_t|| of every layer on one log axis, and both directions meeting."""
    present, label = display.present, CELLS[grads.study.config.cell].label
    items = [Item("bptt-stack-norms", stack_fig.layer_grad_norms(grads.h_norms, grads.loss_steps, label, present,
                                                                 grads.message),
                  caption=stack_fig.LAYER_NORMS_CAPTION)]
    if grads.study.D == 2:
        items.append(Item("bptt-stack-meet", stack_fig.directions_meet(grads.h_norms, present),
                          caption=stack_fig.MEET_CAPTION))
    loss = "" if grads.loss_on == "last" else f"-loss{grads.loss_on}"
    return View("bptt", {"stack": items}, scenario=slug(cfg) + loss)
