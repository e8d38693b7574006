"""The Attention page's view: the attention matrix, the decoder stepped through, and the input gradients
with and without attention; and the sentences that state the engine's numbers about them."""

from __future__ import annotations

import numpy as np

from .. import attention as at
from ..figures import attention as fig
from ..figures import theme
from ..studies.attention import PARAMS, AttentionStudy, ModelRun, slug
from . import Item, Stepping, View

__all__ = ["PARAMS", "build", "stepping"]

LABELS = {"additive": "with attention", "general": "with attention", "none": "without attention"}  # plot lines
COLOURS = {"additive": theme.COLOURS["blue"], "general": theme.COLOURS["blue"], "none": theme.ALARM}


def stepping(study: AttentionStudy) -> Stepping:
    """The decoder step t in 1..U, each labelled with the token it must write."""
    view = f"attention-{slug(study.scenario)}"
    return Stepping(T=study.U, labels=study.output_tokens, view=view, label="Decoder step t")


def copied_weight(study: AttentionStudy, attention: np.ndarray) -> np.ndarray:
    """(U, 2) per decoder step: the 1-based position of the digit it copies and its weight (NaN at </s>)."""
    out = np.full((study.U, 2), np.nan)
    rows = np.arange(study.T)
    out[rows, 0] = study.alignment + 1
    out[rows, 1] = attention[rows, study.alignment]
    return out


def right_token(study: AttentionStudy, run: ModelRun) -> np.ndarray:
    """(U, 2) per decoder step: the right token's index and the probability the model gives it."""
    target = study.target
    return np.stack([target.astype(float), run.decoding.probs[np.arange(study.U), target]], axis=1)


def build(study: AttentionStudy, present: bool = False) -> View:
    """Every item of the page for this study (the model the controls chose is the one stepped through)."""
    run = study.shown
    dec = run.decoding
    attention = dec.attention
    step = fig.decoder_step(dec.context, dec.s, dec.probs, right_token(study, run), at.VOCAB, study.output_tokens,
                            attention, study.input_tokens,
                            None if attention is None else copied_weight(study, attention), present)
    stepped = [Item("attention-decoder-step", step, caption=fig.STEP_CAPTION if attention is not None
                    else fig.STEP_CAPTION_NONE)]
    if attention is not None:
        matrix = fig.attention_matrix(attention, study.input_tokens, study.output_tokens, study.alignment, present)
        stepped.insert(0, Item("attention-matrix", matrix, caption=fig.MATRIX_CAPTION))
    relative = {LABELS[key]: r.relative for key, r in study.runs.items()}
    norms = {LABELS[key]: r.gradients.norm for key, r in study.runs.items()}
    colours = {LABELS[key]: COLOURS[key] for key in study.runs}
    gradients = fig.input_gradients(relative, norms, study.input_tokens, colours, present)
    sections = {"stepped": stepped,
                "gradients": [Item("attention-input-gradients", gradients, caption=fig.GRADIENTS_CAPTION)]}
    return View("attention", sections, stepping(study), scenario=slug(study.scenario), tables=tables(study))


def tables(study: AttentionStudy) -> dict[str, dict[str, np.ndarray]]:
    """The numbers: one row per input position (both models' gradients), one per decoder step x input position."""
    s = np.arange(1, study.T + 1)
    grads = {"s": s, "x_s": np.array(study.input_tokens, dtype=object)}
    for key, run in study.runs.items():
        g = run.gradients
        grads |= {f"||dL/dx_s|| {LABELS[key]}": g.norm, f"one-step path {LABELS[key]}": g.direct,
                  f"through the recurrence {LABELS[key]}": g.through_recurrence}
    U, T = study.U, study.T
    dec = study.shown.decoding
    steps = {"t": np.repeat(np.arange(1, U + 1), T), "y_t": np.repeat(np.array(study.output_tokens, dtype=object), T),
             "s": np.tile(s, U), "x_s": np.tile(np.array(study.input_tokens, dtype=object), U)}
    if dec.attention is not None:
        steps |= {"e_ts": dec.scores.reshape(U * T), "a_ts": dec.attention.reshape(U * T)}
    steps |= {"p(right y_t)": np.repeat(dec.probs[np.arange(U), study.target], T)}
    return {"attention-gradients": grads, "attention-steps": steps}


# --- what the page says: every number from the study ------------------------------------------------


def answer_text(run: ModelRun) -> str:
    """The model's own answer as text: "6537019284" then "</s>" if it wrote one."""
    return " ".join(at.tokens(run.answer))


def answers_sentence(study: AttentionStudy) -> str:
    """Both models' greedy answers, and whether each is right (plain text: digits and rnnviz's words only)."""
    parts = []
    for key, run in study.runs.items():
        verdict = "right" if run.right else "wrong"
        parts.append(f"{LABELS[key].capitalize()}, the model writes {answer_text(run)} ({verdict}).")
    right = " ".join(at.tokens(study.target))
    return f"The right answer is {right}. " + " ".join(parts)


def fade_sentence(study: AttentionStudy) -> str:
    """How much of the nearest input's gradient the farthest input gets, with and without attention."""
    with_ = next(run for key, run in study.runs.items() if key != "none")
    without = study.runs["none"]
    if study.T < 2:
        return "With one digit there is no distance to cross: type at least two."
    return (f"From the last digit to the first, {study.T - 1} encoder steps apart: without attention the first digit "
            f"gets {ratio_text(without.fade)} the last digit's gradient; with attention it gets "
            f"{ratio_text(with_.fade)} it.")


def share_text(x: float) -> str:
    """A ratio on its own: "6.8%", "0.051%", "1.8 times as much"."""
    if not np.isfinite(x):
        return "not defined (no gradient reaches the last digit)"
    return f"{100 * x:.2g}%" if x < 1 else f"{x:.2g} times as much"


def ratio_text(x: float) -> str:
    """A ratio before "the last digit's gradient": "6.8% of", "1.8 times"."""
    if not np.isfinite(x):
        return "an undefined share of (no gradient reaches the last digit)"
    return f"{100 * x:.2g}% of" if x < 1 else f"{x:.2g} times"


def looks_sentence(study: AttentionStudy) -> str:
    """How closely the shown model's attention follows the reversal: steps whose largest weight is within one
    position of the digit they copy, and the mean weight within that band."""
    attention = study.shown.decoding.attention
    if attention is None:
        return ""
    T, want = study.T, study.alignment
    peak = attention[:T].argmax(axis=1)
    near = int(np.sum(np.abs(peak - want) <= 1))
    exact = int(np.sum(peak == want))
    band = float(np.mean([attention[t, max(s - 1, 0): s + 2].sum() for t, s in enumerate(want)]))
    steps = "the one digit step" if T == 1 else f"the {T} digit steps"
    return (f"Of {steps}, {near} look hardest within one position of the digit they copy ({exact} "
            f"exactly on it), and on average {band:.0%} of a step's attention lies within that band.")

