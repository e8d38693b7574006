"""Shared helpers for the tests."""

import numpy as np
import pytest

import rnnviz

CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def random_problem(kind, T=6, I=3, H=4, seed=0, batch=None, scale=1.0):
    """Params, inputs, an upstream gradient and initial states for a small random case."""
    rng = np.random.default_rng(seed)
    params = rnnviz.init_params(kind, I, H, seed=seed)
    params = {k: v * scale for k, v in params.items()}
    lead = (T,) if batch is None else (T, batch)
    xs = rng.normal(size=(*lead, I))
    dL_dh = rng.normal(size=(*lead, H))
    state = (H,) if batch is None else (batch, H)
    h0 = rng.normal(size=state) * 0.5
    c0 = rng.normal(size=state) * 0.5 if kind == "lstm" else None
    return params, xs, dL_dh, h0, c0
