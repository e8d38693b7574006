"""The small numeric helpers every part of rnnviz shares: sigmoid, norms, where numbers broke.

Each lives here once. Norms never warn: an exploded gradient has an honest norm of inf (or NaN
where inf met 0), which the pages report as an explosion rather than an error.
"""

from __future__ import annotations

from collections.abc import Iterable

import autograd.numpy as anp
import numpy as np


def sigmoid(x):
    """1 / (1 + exp(-x)), as PyTorch computes it; exp overflow gives exactly 0.

    Written with autograd.numpy, so autograd can differentiate it (the oracle, the cliff) and
    plain arrays go through it as NumPy arrays. The engine's forward loops apply the same
    formula in place (cells._sigmoid_inplace), for speed.
    """
    return 1.0 / (1.0 + anp.exp(-x))


def row_norms(a) -> np.ndarray:
    """(...,) 2-norm over the last axis of a (..., n): one norm per step (and sequence)."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sqrt(np.sum(a * a, axis=-1))


def global_norm(arrays: Iterable) -> float:
    """The 2-norm of all arrays together, as if flattened into one vector (0.0 for none)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sqrt(sum(float(np.sum(np.square(a))) for a in arrays)))


def nonfinite_step(*arrays, reverse: bool = False) -> int | None:
    """Where a pass over steps first met inf/NaN: a 1-based step t, or None if all is finite.

    Axis 0 of every array is the step. The search runs in the order of the pass: t = 1..T, or
    t = T..1 with reverse=True (backprop through time), so the result is the first step of the
    forward pass, or the latest step of the backward pass, whose numbers are not finite.
    None entries (an RNN's missing cell state) are skipped.
    """
    present = [a for a in arrays if a is not None]
    bad = np.zeros(present[0].shape[0], dtype=bool)
    for a in present:
        bad |= ~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
    if not bad.any():
        return None
    return int(len(bad) - np.argmax(bad[::-1])) if reverse else int(np.argmax(bad)) + 1
