"""The Compare-cells page's cached studies: the three cells on the shared input, their memory of a
change at step k, and the engine's measured time per step."""

from __future__ import annotations

import streamlit as st

from ..config import Config
from ..studies import compare
from . import _guarded
from .cache import memo


@memo
def cached_study(cfg: Config) -> compare.CompareStudy:
    return compare.build(cfg)


@memo
def cached_memory(cfg: Config, k: int) -> compare.MemoryStudy:
    """The second run of each cell; the first comes from its own cache, so moving k runs only this."""
    return compare.memory(cached_study(cfg), k)


@memo
def cached_step_time(cell: str, input_size: int, hidden_size: int) -> compare.StepTime:
    """Measured once per cell and size while the entry lives: the page's reruns show the same number."""
    return compare.step_time(cell, input_size, hidden_size)


def study(cfg: Config) -> compare.CompareStudy:
    """The three cells on cfg's input, cached; bad input stops the page with a clear message."""
    return _guarded(cached_study, cfg, empty="to compare the cells on it")


def memory(cfg: Config, k: int) -> compare.MemoryStudy:
    return _guarded(cached_memory, cfg, k)


def step_times(study: compare.CompareStudy) -> dict[str, compare.StepTime]:
    """cell key -> the engine's time per step at the study's sizes (measured on first use)."""
    sizes = {cell: run.sizes for cell, run in study.cells.items()}
    if all(cached_step_time.holds(cell, I, H) for cell, (_, H, I) in sizes.items()):
        return {cell: cached_step_time(cell, I, H) for cell, (_, H, I) in sizes.items()}
    with st.spinner("Timing the engine on this server…"):
        return {cell: cached_step_time(cell, I, H) for cell, (_, H, I) in sizes.items()}
