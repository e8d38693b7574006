"""The input-output setups: every setup's gradients (and which steps receive any) against a direct computation.

The direct computation is the same unrolled network written out in torch over nn.RNNCell /
nn.LSTMCell / nn.GRUCell, with the encoder's last state handed to the decoder as a tensor and
every h_n kept (retain_grad), the loss a plain masked mean as readout.readout_loss defines it.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnviz.cells import init_params
from rnnviz.config import Config
from rnnviz.readout import init_readout
from rnnviz.setups import SETUPS, run_setup
from rnnviz.studies.setups import build

from .conftest import CASES

torch = pytest.importorskip("torch")

T, I, H, O = 7, 3, 4, 2


def torch_cell(kind, nonlinearity, params):
    cell = {"rnn": lambda: torch.nn.RNNCell(I, H, nonlinearity=nonlinearity), "lstm": lambda: torch.nn.LSTMCell(I, H),
            "gru": lambda: torch.nn.GRUCell(I, H)}[kind]().double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(torch.from_numpy(params[name]))
    return cell


def torch_setup(key, kind, nonlinearity, params, encoder, xs, readout, targets, has_target):
    """(dL/dh_n (N, H), dL/dx_n (N, I)) of the setup, by torch's autograd over the unrolled cells."""
    setup = SETUPS[key]
    x = torch.from_numpy(xs).requires_grad_(True)
    x_dec = x if setup.inputs == "all" else torch.cat([x[:1], torch.zeros_like(x[1:])])
    hs = []

    def run(cell, inputs, state):
        for t in range(T):
            state = cell(inputs[t][None], state)
            h = state[0] if kind == "lstm" else state
            h.retain_grad()
            hs.append(h)
        return state

    state = None
    if setup.encoder:
        state = run(torch_cell(kind, nonlinearity, encoder), x, None)
    run(torch_cell(kind, nonlinearity, params), x_dec, state)
    dec = torch.cat(hs[-T:])  # (T, H)
    y = dec @ torch.from_numpy(readout["weight_out"]).T + torch.from_numpy(readout["bias_out"])
    mask = np.zeros(T, bool)
    if setup.loss == "last":
        mask[-1] = True
    else:
        mask[:] = has_target
    loss = torch.mean(((y - torch.from_numpy(targets)) ** 2).mean(dim=1)[torch.from_numpy(mask)])
    loss.backward()
    dh = torch.cat([h.grad if h.grad is not None else torch.zeros_like(h) for h in hs]).numpy()
    dx = x.grad.numpy()
    inputs_at = np.ones(T, bool) if setup.inputs == "all" else np.arange(T) == 0
    dx_dec = np.where(inputs_at[:, None], dx, 0.0) if not setup.encoder else None
    return dh, dx_dec


@pytest.mark.parametrize("kind,nonlinearity", CASES)
@pytest.mark.parametrize("key", list(SETUPS))
def test_every_setups_gradients_match_the_unrolled_network_in_torch(key, kind, nonlinearity):
    rng = np.random.default_rng(3)
    params, encoder = init_params(kind, I, H, seed=1), init_params(kind, I, H, seed=2)
    xs, targets = rng.normal(size=(T, I)), rng.normal(size=(T, O))
    has_target = np.arange(T) < T - 1  # like a text: the last step has no target
    readout = init_readout(H, O, seed=4)
    run = run_setup(key, kind, params, xs, readout, targets, "mse", has_target, encoder, nonlinearity)
    assert xs.flags.writeable  # the caller's array is left as it was
    dh, dx = torch_setup(key, kind, nonlinearity, params, encoder, xs, readout, targets, has_target)
    np.testing.assert_allclose(run.dh, dh, rtol=1e-9, atol=1e-13)
    # which steps receive gradient: exactly the steps torch's autograd reaches
    np.testing.assert_array_equal(run.receives, np.linalg.norm(dh, axis=1) > 0)
    if dx is not None:  # the encoder-decoder's x feeds both networks: its per-network dL/dx is checked below
        np.testing.assert_allclose(run.dxs, dx, rtol=1e-9, atol=1e-13)


def test_encoder_decoder_inputs_gradients_add_up_to_torchs():
    kind = "lstm"
    rng = np.random.default_rng(5)
    params, encoder = init_params(kind, I, H, seed=1), init_params(kind, I, H, seed=2)
    xs, targets = rng.normal(size=(T, I)), rng.normal(size=(T, O))
    readout = init_readout(H, O, seed=4)
    run = run_setup("encoder-decoder", kind, params, xs, readout, targets, "mse", None, encoder)
    x = torch.from_numpy(xs).requires_grad_(True)
    enc, dec = torch_cell(kind, "tanh", encoder), torch_cell(kind, "tanh", params)
    state, hs = None, []
    for t in range(T):
        state = enc(x[t][None], state)
    for t in range(T):
        state = dec(x[t][None], state)
        hs.append(state[0])
    y = torch.cat(hs) @ torch.from_numpy(readout["weight_out"]).T + torch.from_numpy(readout["bias_out"])
    torch.mean((y - torch.from_numpy(targets)) ** 2).backward()
    np.testing.assert_allclose(run.dxs[:T] + run.dxs[T:], x.grad.numpy(), rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("cell", ["rnn-tanh", "lstm", "gru"])
def test_which_steps_receive_gradient_in_each_setup(cell):
    # On a text (its last character has no next one to predict): what each setup's wiring implies.
    study = build(Config(cell=cell, text="hello there", hidden=4))
    T_ = study.sample.T
    runs = study.runs
    one, many_one, aligned, seq2seq = (runs[k] for k in ("one-to-many", "many-to-one", "many-to-many",
                                                         "encoder-decoder"))
    # one-to-many: an input at step 1 only, so only x_1 gets gradient; every h with a loss at or after it does
    assert list(np.flatnonzero(one.x_norms > 0)) == [0]
    assert one.receives[:-1].all() and not one.receives[-1]  # no loss at or after the last step
    # many-to-one: the loss at T reaches every step through the recurrence
    assert many_one.receives.all() and many_one.loss_at.sum() == 1 and many_one.loss_at[-1]
    # many-to-many: a loss at every step with a target
    assert aligned.receives[:-1].all() and not aligned.receives[-1]
    # encoder-decoder: the encoder has no loss of its own, yet all of it receives gradient through its last state
    assert seq2seq.N == 2 * T_ and not seq2seq.loss_at[:T_].any() and seq2seq.receives[:T_].all()
    assert seq2seq.h_norms[T_ - 1] > 0


def test_without_the_hand_off_the_encoder_would_receive_nothing():
    # The direct check of the encoder's only path: its gradient is the decoder's dL/dh0 carried back.
    from rnnviz.engine import bptt, forward

    study = build(Config(cell="gru", text="abcdef", hidden=3))
    run = study.runs["encoder-decoder"]
    T_ = study.sample.T
    from rnnviz.studies.setups import encoder_params
    from rnnviz.studies.step import make_params

    cfg = study.config
    enc_p, dec_p = encoder_params(cfg, study.sample.xs.shape[1]), make_params(cfg, study.sample.xs.shape[1])
    enc = forward("gru", enc_p, study.sample.xs)
    dec_back = bptt("gru", dec_p, study.sample.xs, run.readout.dL_dh, h0=enc.h[-1])
    dL_dh = np.zeros_like(enc.h)
    dL_dh[-1] = dec_back.dh0
    np.testing.assert_allclose(run.dh[:T_], bptt("gru", enc_p, study.sample.xs, dL_dh).dh, rtol=1e-12)
    cut = bptt("gru", enc_p, study.sample.xs, np.zeros_like(enc.h))  # no hand-off: no gradient at all
    assert not np.any(cut.dh)
