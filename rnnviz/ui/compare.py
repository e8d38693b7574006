"""The Compare-cells page's cached studies: the three cells (random weights from the shared scenario, or
the gallery's trained trio), their memory of a change at step k, and the engine's measured time per step."""

from __future__ import annotations

import streamlit as st

from ..config import Config, shown
from ..studies import compare
from . import VALUES_KEY, _guarded, literal_markdown
from .cache import memo


@memo
def cached_study(cfg: Config) -> compare.CompareStudy:
    return compare.build(cfg)


@memo
def cached_trained() -> compare.CompareStudy:
    return compare.build_trained()


@memo
def cached_memory(cfg: Config | None, k: int) -> compare.MemoryStudy:
    """The second run of each cell (cfg None: the trained trio); the first comes from its own cache, so
    moving k runs only this."""
    return compare.memory(cached_trained() if cfg is None else cached_study(cfg), k)


@memo
def cached_step_time(cell: str, input_size: int, hidden_size: int) -> compare.StepTime:
    """Measured once per cell and size while the entry lives: the page's reruns show the same number."""
    return compare.step_time(cell, input_size, hidden_size)


def study(cfg: Config, models: str) -> compare.CompareStudy:
    """The three cells, cached: on cfg's input with random weights, or the gallery's trio ("gallery");
    bad input stops the page with a clear message."""
    if models == "gallery":
        return _trained(cached_trained)
    return _guarded(cached_study, cfg, empty="to compare the cells on it")


def memory(cfg: Config, models: str, k: int) -> compare.MemoryStudy:
    if models == "gallery":
        return _trained(cached_memory, None, k)
    return _guarded(cached_memory, cfg, k)


def _trained(fn, *args):
    """fn(*args) on the gallery's files, or a clear message and st.stop() if they cannot be read."""
    try:
        return fn(*args)
    except (OSError, ValueError) as err:
        st.error(f"rnnviz cannot read the gallery's trained models: {literal_markdown(shown(str(err), 300))}")
        st.stop()


MODELS_KEY = "_compare_models"  # the weights the page showed last in this session


def new_input(models: str) -> None:
    """When the user switches between random and trained weights, forget k: the other input has its own
    default step (a link's k, read on the session's first run, is kept)."""
    last = st.session_state.get(MODELS_KEY)
    if last is not None and last != models:
        st.session_state[VALUES_KEY].pop("perturb", None)
        if "perturb" in st.query_params:  # nor read again from the URL (the control writes it back at once)
            del st.query_params["perturb"]
    st.session_state[MODELS_KEY] = models


def step_times(study: compare.CompareStudy) -> dict[str, compare.StepTime]:
    """cell key -> the engine's time per step at the study's sizes (measured on first use)."""
    sizes = {cell: run.sizes for cell, run in study.cells.items()}
    if all(cached_step_time.holds(cell, I, H) for cell, (_, H, I) in sizes.items()):
        return {cell: cached_step_time(cell, I, H) for cell, (_, H, I) in sizes.items()}
    with st.spinner("Timing the engine on this server…"):
        return {cell: cached_step_time(cell, I, H) for cell, (_, H, I) in sizes.items()}
