"""The Setups page's view: the chosen setup's unrolled graph and gradients, and every setup side by side."""

from __future__ import annotations

import numpy as np

from ..cells import CELLS
from ..config import Config, Display, Param, slug
from ..figures import setups as fig
from ..setups import SETUPS
from ..studies.setups import SetupsStudy
from . import Item, View

PARAMS = {"setup": Param("many-to-one", SETUPS.labels())}  # the page's own control, kept in the URL


def build(study: SetupsStudy, cfg: Config, display: Display, setup: str = "many-to-one") -> View:
    """The chosen setup's graph and gradient sizes ("setup"), and all setups compared ("compare")."""
    present, run, label = display.present, study.runs[setup], SETUPS[setup].label
    chosen = [
        Item(f"setups-graph-{setup}", fig.unrolled_setup(label, run.inputs_at, run.loss_at, run.decoder, run.h_norms,
                                                         study.labels(setup), present), caption=fig.GRAPH_CAPTION),
        Item(f"setups-norms-{setup}", fig.setup_norms(label, run.h_norms, run.x_norms, run.inputs_at, run.loss_at,
                                                      present), caption=fig.NORMS_CAPTION),
    ]
    compare = [Item("setups-compare", fig.compare_setups({k: r.h_norms for k, r in study.runs.items()},
                                                         SETUPS.labels(), present), caption=fig.COMPARE_CAPTION)]
    return View("setups", {"setup": chosen, "compare": compare}, scenario=slug(cfg))


def receives_sentence(study: SetupsStudy, setup: str) -> str:
    """Which steps receive gradient, in words with the engine's counts."""
    run = study.runs[setup]
    got, N = int(run.receives.sum()), run.N
    x_got, x_in = int((run.x_norms > 0).sum()), int(run.inputs_at.sum())
    text = f"{got} of its {N} states receive gradient; {x_got} of its {x_in} inputs do."
    if SETUPS[setup].encoder:
        enc = ~run.decoder
        h = run.h_norms
        text += (f" The gradient enters the encoder only through its last state: ||dL/dh|| is {h[enc][-1]:.3g} there "
                 f"and {h[enc][0]:.3g} at its first step.")
    return text


def table(study: SetupsStudy) -> dict[str, np.ndarray]:
    """The numbers: one row per setup and step, with where inputs enter, where the loss is, and the gradients."""
    rows = [(key, n + 1, run.decoder[n], run.inputs_at[n], run.loss_at[n], run.h_norms[n], run.x_norms[n])
            for key, run in study.runs.items() for n in range(run.N)]
    names = ("setup", "step", "decoder", "input_enters", "loss_applies", "grad_h_norm", "grad_x_norm")
    return {name: np.array([row[k] for row in rows]) for k, name in enumerate(names)}


def unused_weights_sentence(cfg: Config) -> str:
    """What the page runs instead of the sidebar's trained weights (a gallery model, a file, a session's run)."""
    return (f"Every setup runs one layer, one direction of the same cell, {CELLS[cfg.cell].label} with "
            f"H = {cfg.hidden}, with random weights (PyTorch's initialisation, seed {cfg.seed}).")
