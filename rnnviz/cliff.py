"""The cliff of Pascanu, Mikolov and Bengio (2013): a one-unit recurrent net with a wall in its loss.

x_t = w * sigmoid(x_{t-1}) + b, x_0 = 0.5, loss E = (sigmoid(x_50) - 0.7)^2. Across a thin line in
(w, b) the final state jumps between two attractors; within ~1e-10 of that line the gradient
reaches 1e5-1e10, and a plain gradient step there is thrown far away. Clipping the gradient's
norm keeps the step small. Gradients come from autograd through the unrolled recursion.
"""

from __future__ import annotations

from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np
from autograd import grad

T_CLIFF = 50
X0 = 0.5
TARGET = 0.7
W_RANGE = (0.0, 12.0)
B_RANGE = (-8.0, 0.0)


def _sigmoid(x):
    return 1.0 / (1.0 + anp.exp(-x))


def cliff_loss(params):
    """E(w, b) for params = (w, b); works on scalars (for autograd) and on grids (for the surface)."""
    w, b = params[0], params[1]
    x = X0 + 0.0 * w
    for _ in range(T_CLIFF):
        x = w * _sigmoid(x) + b
    return (_sigmoid(x) - TARGET) ** 2


cliff_grad = grad(lambda p: cliff_loss(p))


def loss_surface(n: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(w (n,), b (n,), E (n, n)) over W_RANGE x B_RANGE; E[i, j] is at (w[j], b[i])."""
    w = np.linspace(*W_RANGE, n)
    b = np.linspace(*B_RANGE, n)
    ww, bb = np.meshgrid(w, b)
    with np.errstate(over="ignore"):
        return w, b, np.asarray(cliff_loss((ww, bb)))


def wall_point(b: float, w_low: float = W_RANGE[0], w_high: float = W_RANGE[1], gap: float = 1e-11):
    """A point (w, b) just on the high side of the wall at this b, or None if the row has no wall.

    Bisects along w for the jump in E; `gap` back from the jump the gradient is enormous.
    """
    e_low, e_high = cliff_loss((w_low, b)), cliff_loss((w_high, b))
    if abs(e_low - e_high) < 0.05:
        return None
    high_side_is_low = e_low > e_high
    lo, hi = w_low, w_high
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if (cliff_loss((mid, b)) > 0.5 * (e_low + e_high)) == high_side_is_low:
            lo = mid
        else:
            hi = mid
    if abs(cliff_loss((lo - 1e-6, b)) - cliff_loss((hi + 1e-6, b))) < 0.05:
        return None  # within 2e-6 the loss barely changes: a slope, not a wall
    # lo stays on the side where E is high (if that is the low-w side) and hi on the other;
    # step `gap` back into the high-loss side, where the gradient is largest
    w = lo - gap if high_side_is_low else hi + gap
    return float(w), float(b)


@dataclass(frozen=True)
class Descent:
    """A gradient-descent path on the cliff's loss."""

    path: np.ndarray  # (n + 1, 2) (w, b) after each step, starting at the start
    grad_norms: np.ndarray  # (n,) ||dE/d(w, b)|| at each step, before clipping
    losses: np.ndarray  # (n + 1,) E along the path
    clipped: np.ndarray  # (n,) bool


def descend(start, lr: float, steps: int, clip_norm: float | None = None) -> Descent:
    """Plain gradient descent from start = (w, b); with clip_norm, the gradient's norm is capped
    at clip_norm first (torch.nn.utils.clip_grad_norm_'s rule)."""
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if clip_norm is not None and not (np.isfinite(clip_norm) and clip_norm > 0):
        raise ValueError(f"clip_norm must be a positive number or None, got {clip_norm!r}")
    p = np.asarray(start, dtype=float)
    path, norms, clipped = [p.copy()], [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            g = np.asarray(cliff_grad(p), dtype=float)
            norm = float(np.linalg.norm(g))
            norms.append(norm)
            scale = min(clip_norm / (norm + 1e-6), 1.0) if clip_norm is not None else 1.0
            clipped.append(scale < 1.0)
            p = p - lr * scale * g
            path.append(p.copy())
            if not np.all(np.isfinite(p)):
                break
        losses = np.array([float(cliff_loss(q)) if np.all(np.isfinite(q)) else np.nan for q in path])
    return Descent(np.array(path), np.array(norms), losses, np.array(clipped, dtype=bool))
