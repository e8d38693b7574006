"""The input-output setups of a recurrent network, and which steps receive gradient in each.

Karpathy's "The Unreasonable Effectiveness of RNNs" picture: one-to-many (an image in, a caption
out), many-to-one (a sentence in, its sentiment out), many-to-many aligned (a tag for every word)
and the encoder-decoder (a sentence in, its translation out, through the encoder's final state).
Each is the single-layer engine (`forward`, `bptt`) run with inputs on some steps and a loss on
some steps; the encoder-decoder runs it twice, the decoder starting from the encoder's last state,
and carries the decoder's dL/dh_0 (and dL/dc_0) back into the encoder as the gradient of its last
state. No cell equation is written here.

Steps n = 1..N run one after the other: N = T, or 2T for the encoder-decoder (encoder 1..T, then
the decoder T+1..2T, both reading the same T inputs: the decoder reads the sequence again, fed the
true tokens, as a decoder trained with teacher forcing is).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .engine import bptt, forward
from .readout import ReadoutResult, last_step_mask, readout_loss
from .registry import Registry


@dataclass(frozen=True)
class Setup:
    """Where inputs enter and where the loss applies."""

    key: str  # in the URL: setup=<key>
    label: str
    example: str  # what it is used for
    inputs: str  # "all": x_t at every step; "first": x_1 only (zeros after)
    loss: str  # "all": every step that has a target; "last": the last step only
    encoder: bool = False  # an encoder reads the inputs first; the loss is on the decoder's steps


SETUPS: Registry[Setup] = Registry("setup", [
    Setup("one-to-many", "One to many", "image captioning: one input, a sequence out", inputs="first", loss="all"),
    Setup("many-to-one", "Many to one", "sentiment: a sequence in, one answer at the end", inputs="all", loss="last"),
    Setup("many-to-many", "Many to many (aligned)", "tagging: an answer for every input", inputs="all", loss="all"),
    Setup("encoder-decoder", "Encoder-decoder", "translation: read the whole input, then write the output",
          inputs="all", loss="all", encoder=True),
])


@dataclass(frozen=True)
class SetupRun:
    """One setup's forward and backward pass. N = T, or 2T for the encoder-decoder."""

    setup: str  # a key of SETUPS
    decoder: np.ndarray  # (N,) bool: the decoder's steps (all True but in an encoder-decoder's encoder)
    inputs_at: np.ndarray  # (N,) bool: where an input x enters
    loss_at: np.ndarray  # (N,) bool: where the loss applies
    h: np.ndarray  # (N, H) hidden states, in the order they are computed
    dh: np.ndarray  # (N, H) total dL/dh_n, through every later step (and, in the encoder, the decoder)
    dxs: np.ndarray  # (N, I) dL/dx_n; zero where no input enters
    readout: ReadoutResult  # on the decoder's (or the only network's) states

    @property
    def N(self) -> int:
        return len(self.h)

    @property
    def h_norms(self) -> np.ndarray:
        """(N,) ||dL/dh_n||."""
        return np.linalg.norm(self.dh, axis=1)

    @property
    def x_norms(self) -> np.ndarray:
        """(N,) ||dL/dx_n||."""
        return np.linalg.norm(self.dxs, axis=1)

    @property
    def receives(self) -> np.ndarray:
        """(N,) bool: the steps whose h receives any gradient (not exactly zero)."""
        return self.h_norms > 0


def setup_masks(setup: Setup, T: int, has_target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inputs_at, loss_at), each (T,) bool, for the network that carries the loss (the decoder)."""
    inputs_at = np.ones(T, dtype=bool) if setup.inputs == "all" else np.arange(T) == 0
    loss_at = last_step_mask(T) if setup.loss == "last" else np.asarray(has_target, dtype=bool)
    return inputs_at, loss_at


def run_setup(key: str, kind: str, params: dict, xs: np.ndarray, readout: dict, targets: np.ndarray, loss: str,
              has_target: np.ndarray | None = None, encoder_params: dict | None = None,
              nonlinearity: str = "tanh") -> SetupRun:
    """Forward, readout loss and BPTT for setup `key` over xs (T, I).

    params: the (decoder's) cell; encoder_params: the encoder's, needed for "encoder-decoder" only.
    readout, targets, loss: as readout.readout_loss; has_target (T,): steps that have a target
    (default all).
    """
    setup = SETUPS[key]
    xs = np.array(xs, dtype=np.float64)  # a private copy: forward() freezes the array it is given
    T = len(xs)
    inputs_at, loss_at = setup_masks(setup, T, np.ones(T, dtype=bool) if has_target is None else has_target)
    xs_in = np.where(inputs_at[:, None], xs, 0.0)  # (T, I): no input is a zero input
    h0 = c0 = None
    if setup.encoder:
        if encoder_params is None:
            raise ValueError("encoder_params is required for setup 'encoder-decoder', got None")
        enc = forward(kind, encoder_params, xs, nonlinearity=nonlinearity)
        h0, c0 = enc.h[-1], None if enc.c is None else enc.c[-1]  # the decoder starts where the encoder ended
    dec = forward(kind, params, xs_in, h0, c0, nonlinearity)
    with np.errstate(over="ignore", invalid="ignore"):
        result = readout_loss(readout, np.nan_to_num(dec.h, nan=0.0, posinf=0.0, neginf=0.0), targets, loss_at, loss)
    back = bptt(kind, params, xs_in, result.dL_dh, h0, c0, nonlinearity)
    dxs = np.where(inputs_at[:, None], back.dxs, 0.0)  # a zero that is not an input has no gradient to report
    h, dh, decoder = dec.h, back.dh, np.ones(T, dtype=bool)
    if setup.encoder:
        # the decoder's dL/dh_0 (and dL/dc_0) is the gradient reaching the encoder's last state
        dL_dh_enc = np.zeros_like(enc.h)
        dL_dh_enc[-1] = back.dh0
        enc_back = bptt(kind, encoder_params, xs, dL_dh_enc, nonlinearity=nonlinearity, dL_dc_last=back.dc0)
        h, dh = np.concatenate([enc.h, h]), np.concatenate([enc_back.dh, dh])
        dxs = np.concatenate([enc_back.dxs, dxs])
        inputs_at, loss_at = np.concatenate([np.ones(T, dtype=bool), inputs_at]), np.concatenate([np.zeros(T, bool),
                                                                                                   loss_at])
        decoder = np.concatenate([np.zeros(T, dtype=bool), decoder])
    return SetupRun(key, decoder, inputs_at, loss_at, h, dh, dxs, result)
