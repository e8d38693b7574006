"""A linear readout y_t = W_out h_t + b_out and its loss, differentiated by autograd.

The readout turns hidden states into predictions and a scalar loss; its gradient with respect to
each h_t is the `dL_dh` that engine.bptt carries back through time. The loss applies where a
boolean mask over steps says (the last step only, every step, or a task's own choice).
"""

from __future__ import annotations

from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np
from autograd import value_and_grad

LOSSES = ("mse", "xent")


@dataclass(frozen=True)
class ReadoutResult:
    """Predictions, loss and gradients of a readout over one sequence (or a batch)."""

    y: np.ndarray  # (T, O) outputs (logits for "xent"); (T, B, O) for a batch
    loss: float  # mean over the masked steps (and sequences)
    dL_dh: np.ndarray  # (T, H) gradient reaching each h_t from the readout; zero where unmasked
    grads: dict[str, np.ndarray]  # "weight_out" (O, H), "bias_out" (O,)
    loss_per_step: np.ndarray  # (T,) each step's loss (mean over the batch), 0 where unmasked


def init_readout(hidden_size: int, output_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """nn.Linear's default init: weight_out (O, H), bias_out (O,) from U(-1/sqrt(H), 1/sqrt(H))."""
    for name, value in (("hidden_size", hidden_size), ("output_size", output_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    rng = np.random.default_rng([seed, 1])  # a stream apart from init_params(seed)
    k = 1.0 / np.sqrt(hidden_size)
    return {
        "weight_out": rng.uniform(-k, k, (output_size, hidden_size)),
        "bias_out": rng.uniform(-k, k, output_size),
    }


def last_step_mask(T: int) -> np.ndarray:
    """(T,) bool: the loss applies at the last step only."""
    mask = np.zeros(T, dtype=bool)
    mask[-1] = True
    return mask


def every_step_mask(T: int) -> np.ndarray:
    """(T,) bool: the loss applies at every step."""
    return np.ones(T, dtype=bool)


def _logsumexp(y):
    """log sum exp over the last axis, shifted by the max so exp never overflows."""
    m = anp.max(y, axis=-1, keepdims=True)  # the shift's gradient cancels exactly
    return m + anp.log(anp.sum(anp.exp(y - m), axis=-1, keepdims=True))


def _per_step_loss(readout, h, targets, loss):
    """(T, ...) loss of each step (and sequence); h (T, [B,] H)."""
    y = anp.dot(h, readout["weight_out"].T) + readout["bias_out"]  # (T, [B,] O)
    if loss == "mse":
        return anp.mean((y - targets) ** 2, axis=-1), y
    # softmax cross-entropy with integer class targets: -log softmax(y)[target]
    log_probs = y - _logsumexp(y)
    n_out = y.shape[-1]
    one_hot = (targets[..., None] == np.arange(n_out)).astype(float)
    return -anp.sum(log_probs * one_hot, axis=-1), y


def readout_loss(readout, h, targets, loss_mask, loss="mse") -> ReadoutResult:
    """Loss of y_t = W_out h_t + b_out against targets where loss_mask (T,) is True.

    h (T, H) or (T, B, H). targets: for "mse" (T, O) or (T, B, O) floats; for "xent" (T,) or
    (T, B) integer classes. Rows outside the mask are ignored (any finite value will do).
    The loss is the mean over masked steps, sequences and (for MSE) outputs, like PyTorch's
    MSELoss / CrossEntropyLoss with reduction="mean".
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    h = np.asarray(h, dtype=np.float64)
    mask = np.asarray(loss_mask, dtype=bool)
    if mask.shape != (h.shape[0],):
        raise ValueError(f"loss_mask must have shape ({h.shape[0]},) (one per step), got {mask.shape}")
    targets = np.asarray(targets, dtype=np.int64 if loss == "xent" else np.float64)
    O, H = np.shape(readout["weight_out"])
    if H != h.shape[-1]:
        raise ValueError(f"readout['weight_out'] must have {h.shape[-1]} columns, got shape {(O, H)}")
    expected = h.shape[:-1] + ((O,) if loss == "mse" else ())
    if targets.shape != expected:
        raise ValueError(f"targets must have shape {expected} for loss={loss!r}, got {targets.shape}")
    if loss == "xent" and targets[mask].size and (targets[mask].min() < 0 or targets[mask].max() >= O):
        raise ValueError(f"targets must be classes in [0, {O - 1}] where the loss applies")
    # A step weight of 1/count turns the masked sum into a mean; no masked step -> zero loss.
    n_seq = int(np.prod(h.shape[1:-1]))
    weight = mask / max(mask.sum() * n_seq, 1)  # (T,)
    weight = weight.reshape((-1,) + (1,) * (h.ndim - 2))
    targets = np.where(mask.reshape((-1,) + (1,) * (targets.ndim - 1)), targets, 0)

    def objective(v):
        per_step, _ = _per_step_loss(v["readout"], v["h"], targets, loss)
        return anp.sum(per_step * weight)

    with np.errstate(over="ignore", invalid="ignore"):
        value, g = value_and_grad(objective)({"readout": dict(readout), "h": h})
        per_step, y = _per_step_loss(readout, h, targets, loss)
    per_step = np.where(mask.reshape((-1,) + (1,) * (per_step.ndim - 1)), per_step, 0.0)
    per_step = per_step.reshape(h.shape[0], -1).mean(axis=1)
    return ReadoutResult(y=np.asarray(y), loss=float(value), dL_dh=g["h"], grads=g["readout"],
                         loss_per_step=per_step)


@dataclass(frozen=True)
class Prediction:
    """What a readout predicts at every step: for a page to show next to h_t."""

    y: np.ndarray  # (T, O) outputs: logits for "xent", the predicted values for "mse"
    probs: np.ndarray | None  # (T, O) softmax(y_t) for "xent", else None
    top: np.ndarray | None  # (T,) the most likely class at each step for "xent", else None
    classes: tuple[str, ...] | None  # (O,) the names of the classes, if known

    @property
    def top_labels(self) -> list[str] | None:
        """(T,) the name of each step's most likely class (its index if unnamed); None for values."""
        if self.top is None:
            return None
        return [self.classes[k] if self.classes is not None else str(k) for k in self.top]


def predict(readout, h, loss: str = "mse", classes=None) -> Prediction:
    """y_t = W_out h_t + b_out at every step of h (T, H), and for "xent" the class probabilities."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    h = np.asarray(h, dtype=np.float64)
    W, b = np.asarray(readout["weight_out"]), np.asarray(readout["bias_out"])
    if W.shape[1] != h.shape[-1]:
        raise ValueError(f"readout['weight_out'] must have {h.shape[-1]} columns, got shape {W.shape}")
    if classes is not None and len(classes) != W.shape[0]:
        raise ValueError(f"classes must name the {W.shape[0]} outputs, got {len(classes)} names")
    with np.errstate(over="ignore", invalid="ignore"):
        y = h @ W.T + b  # (T, O)
        if loss == "mse":
            return Prediction(y, None, None, None if classes is None else tuple(classes))
        shifted = np.exp(y - y.max(axis=-1, keepdims=True))  # softmax, shifted so exp never overflows
        probs = shifted / shifted.sum(axis=-1, keepdims=True)
    return Prediction(y, probs, y.argmax(axis=-1), None if classes is None else tuple(classes))
