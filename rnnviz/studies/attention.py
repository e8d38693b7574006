"""The Attention page's study: the encoder-decoder of rnnviz.attention on one digit string, with and without attention.

The models are the gallery's (rnnviz.attention.GALLERY): the same encoder-decoder trained on digit
reversal with additive attention and without any. Both run on the input the page's controls
describe, with their trained weights or with the weights their training started from, because the
page's point is a comparison: how the loss's gradient reaches each input position x_s with
attention (a one-step path for every s) and without (only through the encoder's final state, so
the far inputs' gradient fades with their distance). One of the two, the one the control chooses,
is stepped through: its attention weights, its context vectors, its outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import attention as at
from ..config import Param

MODELS = {"additive": "reversal-additive", "general": "reversal-general",  # attention -> its GALLERY name
          "none": "reversal-none"}
SCORES = {  # how each model scores input position s for decoder step t, as the page says it
    "additive": "Additive (Bahdanau): e_ts = v · tanh(W_q s_t−1 + W_k k_s), a small network scores each input.",
    "general": "Dot-product, general (Luong): e_ts = s_t−1 · W_k k_s, one matrix between the decoder's state and "
               "each input's vector.",
    "none": "No attention: the decoder reads only the encoder's last state, k_fin.",
}


def partner(attention: str) -> str:
    """The model the shown one is compared with: without attention, or (for none) with additive attention."""
    return "none" if attention != "none" else "additive"

ATTENTIONS = {key: at.ATTENTIONS[key] for key in MODELS}
WEIGHTS = {"trained": "Trained (shipped with rnnviz)", "untrained": "Untrained (where training started)"}
MAX_DIGITS = 20  # the models were trained on 5 to 12 digits; up to 20 shows what happens past that
DEFAULT_DIGITS = "4829107356"
_RUN = at.GALLERY[MODELS["additive"]]  # both gallery models trained the same way, attention apart
WEIGHTS_HELP = (f"Trained: after {_RUN.updates} updates on digit strings of {_RUN.min_length} to {_RUN.max_length} "
                "digits. Untrained: PyTorch's initialisation, the weights training started from.")
SPEEDS = {100: "100", 200: "200", 400: "400", 800: "800", 1500: "1500"}  # ms a decoder step of Play

PARAMS = {  # the page's own controls, kept in the URL (t's range depends on the input: see views.attention)
    "attention": Param("additive", ATTENTIONS),
    "digits": Param(DEFAULT_DIGITS, kind="text", high=MAX_DIGITS, chars="0123456789"),
    "model": Param("trained", WEIGHTS),  # not "weights": that is the shared control of the other pages
    "play": Param(False, kind="bool"),
    "speed": Param(400, SPEEDS, kind="choice"),
}


@dataclass(frozen=True)
class Scenario:
    """What the page computes from: hashable, the studies' cache key."""

    attention: str = "additive"  # a key of MODELS: the model stepped through
    digits: str = DEFAULT_DIGITS  # the input, 1..MAX_DIGITS digits
    weights: str = "trained"  # a key of WEIGHTS


@dataclass(frozen=True)
class ModelRun:
    """One model on the input: decoded (teacher-forced on the right answer), answered, and differentiated."""

    name: str  # its GALLERY key
    model: at.ModelConfig
    decoding: at.Decoding  # teacher-forced on the reversal: U = T + 1 steps
    answer: np.ndarray  # (<= T + 1,) its own greedy answer, up to and with </s> if it writes one
    gradients: at.InputGradients  # of the loss on the right answer, by input position

    @property
    def right(self) -> bool:
        """Did its greedy answer reverse the input exactly (then stop)?"""
        target = at.reversal_target(self.decoding.src)
        return self.answer.shape == target.shape and bool(np.all(self.answer == target))

    @property
    def relative(self) -> np.ndarray:
        """(T,) ||dL/dx_s|| / ||dL/dx_T||: each input's gradient as a share of the last input's, the one
        nearest the decoder (NaN if the last input gets none)."""
        norm = self.gradients.norm
        with np.errstate(divide="ignore", invalid="ignore"):
            return norm / norm[-1] if norm[-1] > 0 else np.full_like(norm, np.nan)

    @property
    def fade(self) -> float:
        """||dL/dx_1|| / ||dL/dx_T||: how much of the nearest input's gradient the farthest input gets."""
        return float(self.relative[0])


@dataclass(frozen=True)
class AttentionStudy:
    """Two models on one input, with and without attention; `shown` is the one the page steps through."""

    scenario: Scenario
    src: np.ndarray  # (T,) input digit ids
    target: np.ndarray  # (U,) the right answer: the digits reversed, then </s>; U = T + 1
    runs: dict[str, ModelRun]  # attention -> that model's run: the shown one, then its partner

    @property
    def T(self) -> int:
        return int(self.src.shape[0])

    @property
    def U(self) -> int:
        return int(self.target.shape[0])

    @property
    def shown(self) -> ModelRun:
        return self.runs[self.scenario.attention]

    @property
    def alignment(self) -> np.ndarray:
        """(T,) the input position (0-based) each answer digit copies: decoder step t reads input T + 1 - t."""
        return at.reversal_alignment(self.T)

    @property
    def input_tokens(self) -> tuple[str, ...]:
        return at.tokens(self.src)

    @property
    def output_tokens(self) -> tuple[str, ...]:
        """(U,) the right answer's tokens, one per decoder step."""
        return at.tokens(self.target)


def check(scenario: Scenario) -> Scenario:
    """The scenario, or ValueError naming what is wrong (a user's typed digits, an unknown choice)."""
    if scenario.attention not in MODELS:
        raise ValueError(f"attention must be one of {tuple(MODELS)}, got {scenario.attention!r}")
    if scenario.weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {tuple(WEIGHTS)}, got {scenario.weights!r}")
    text = scenario.digits
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_DIGITS or not all(ch in "0123456789" for ch in text):
        raise ValueError(f"the input must be 1 to {MAX_DIGITS} digits 0-9, got {text!r}")
    return scenario


def weights_of(name: str, weights: str) -> tuple[at.ModelConfig, dict[str, np.ndarray]]:
    """A gallery model's architecture and its trained weights, or the weights its training started from."""
    saved = at.load_gallery(name)
    if weights == "trained":
        return saved.model, saved.params
    return saved.model, at.init_seq2seq(saved.model, seed=at.GALLERY[name].seed)


def model_run(name: str, weights: str, src: np.ndarray) -> ModelRun:
    """One model on src (T,): stepped through on the right answer, its own answer, its input gradients."""
    model, params = weights_of(name, weights)
    target = at.reversal_target(src)
    decoding = at.decode(model, params, src, target=target)
    answer = at.decode(model, params, src).predicted  # greedy: stops after </s>, or after T + 1 steps
    return ModelRun(name, model, decoding, answer, at.input_gradients(model, params, src, target))


def build(scenario: Scenario) -> AttentionStudy:
    """The chosen gallery model and its partner (see partner) on the scenario's digits."""
    check(scenario)
    src = at.digits(scenario.digits)
    runs = {key: model_run(MODELS[key], scenario.weights, src) for key in (scenario.attention,
                                                                           partner(scenario.attention))}
    return AttentionStudy(scenario, src, at.reversal_target(src), runs)


def slug(scenario: Scenario) -> str:
    """A short name for file names: "additive-4829107356-trained"."""
    return f"{scenario.attention}-{scenario.digits}-{scenario.weights}"
