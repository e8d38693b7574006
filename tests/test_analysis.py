"""Analyses against closed forms and against autograd."""

import numpy as np
import pytest
from autograd import jacobian

import rnnviz
from rnnviz import analysis
from rnnviz.reference import plain_step

from .conftest import random_problem


def _linear_relu_rnn(lam, H=5, T=12):
    """A ReLU RNN kept in its linear regime: W = lam * P for a permutation P (orthogonal and
    non-negative) and positive inputs, so every pre-activation stays > 0 and h_t = W h_{t-1} + u."""
    P = np.eye(H)[np.random.default_rng(0).permutation(H)]
    params = {"weight_ih": np.eye(H), "weight_hh": lam * P, "bias_ih": np.zeros(H), "bias_hh": np.zeros(H)}
    xs = np.random.default_rng(1).uniform(0.5, 1.0, (T, H))
    return params, xs


@pytest.mark.parametrize("lam", [0.7, 1.0, 1.3])
def test_linear_rnn_gradient_norms_are_powers_of_lambda(lam):
    params, xs = _linear_relu_rnn(lam)
    T, H = xs.shape
    dL_dh = np.zeros((T, H))
    dL_dh[-1] = np.arange(1, H + 1)  # loss on the last step only
    bw = rnnviz.bptt("rnn", params, xs, dL_dh, nonlinearity="relu")
    trace = rnnviz.forward("rnn", params, xs, nonlinearity="relu")
    steps_back = np.arange(T)[::-1]  # T - t
    norms = analysis.hidden_grad_norms(bw)
    np.testing.assert_allclose(norms, lam ** steps_back * np.linalg.norm(dL_dh[-1]), rtol=1e-12)
    jn = analysis.jacobian_norms("rnn", params, trace)
    np.testing.assert_array_equal(jn.t, np.arange(1, T + 1))
    np.testing.assert_allclose(jn.to_last, lam ** steps_back, rtol=1e-12)  # ||dh_T/dh_t|| = lam^(T-t)
    np.testing.assert_allclose(jn.step, lam, rtol=1e-12)
    fit = analysis.growth_fit(norms)
    assert fit.factor == pytest.approx(lam, rel=1e-10)
    assert fit.regime == {0.7: "vanishing", 1.0: "stable", 1.3: "exploding"}[lam]


def test_lstm_with_zero_recurrent_weights_carries_dc_through_the_forget_gates():
    params, xs, _, h0, c0 = random_problem("lstm", T=8, H=4, seed=9)
    params["weight_hh"] = np.zeros_like(params["weight_hh"])
    trace = rnnviz.forward("lstm", params, xs, h0, c0)
    T, H = trace.h.shape
    dL_dh = np.zeros((T, H))
    dL_dh[-1] = 1.0
    bw = rnnviz.bptt("lstm", params, xs, dL_dh, h0, c0)
    f = trace.gates["f"]
    for t in range(T):  # dc_T/dc_t = diag(prod_{k>t} f_k)
        product = np.prod(f[t + 1 :], axis=0)
        np.testing.assert_allclose(bw.dc[t], bw.dc[-1] * product, rtol=1e-12)
    jn = analysis.jacobian_norms("lstm", params, trace, cell=True)
    expected = [np.max(np.prod(f[t + 1 :], axis=0)) for t in range(T)]
    np.testing.assert_allclose(jn.cell_to_last, expected, rtol=1e-12)


@pytest.mark.parametrize("kind,nonlinearity", [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")])
def test_step_jacobians_match_autograd(kind, nonlinearity):
    params, xs, _, h0, c0 = random_problem(kind, T=4, H=3, seed=11)
    trace = rnnviz.forward(kind, params, xs, h0, c0, nonlinearity)
    for t in (1, 3):
        h_prev = h0 if t == 1 else trace.h[t - 2]
        c_prev = (c0 if t == 1 else trace.c[t - 2]) if kind == "lstm" else None
        blocks = analysis.step_jacobian(kind, params, trace, t)
        step = lambda h, c: plain_step(kind, params, xs[t - 1], h, c, nonlinearity)  # noqa: E731
        np.testing.assert_allclose(blocks["hh"], jacobian(lambda h: step(h, c_prev)[0])(h_prev), atol=1e-13)
        if kind == "lstm":
            np.testing.assert_allclose(blocks["hc"], jacobian(lambda c: step(h_prev, c)[0])(c_prev), atol=1e-13)
            np.testing.assert_allclose(blocks["ch"], jacobian(lambda h: step(h, c_prev)[1])(h_prev), atol=1e-13)
            np.testing.assert_allclose(blocks["cc"], jacobian(lambda c: step(h_prev, c)[1])(c_prev), atol=1e-13)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_jacobian_to_last_agrees_with_bptt(kind):
    # dL/dh_t for a loss on h_T only is (dh_T/dh_t)^T dL_dh[T]; its norm is bounded by the
    # spectral norm times ||dL_dh[T]||, with equality for the top singular direction.
    params, xs, _, h0, c0 = random_problem(kind, T=6, H=3, seed=12)
    trace = rnnviz.forward(kind, params, xs, h0, c0)
    jn = analysis.jacobian_norms(kind, params, trace)
    assert jn.to_last[-1] == pytest.approx(1.0)
    for t in range(6):
        dL_dh = np.zeros((6, 3))
        worst = 0.0
        for unit in np.eye(3):
            dL_dh[-1] = unit
            worst = max(worst, np.linalg.norm(rnnviz.bptt(kind, params, xs, dL_dh, h0, c0).dh[t]))
        assert worst <= jn.to_last[t] * (1 + 1e-12)
        assert worst >= jn.to_last[t] / np.sqrt(3) * (1 - 1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_weight_hh_contributions_are_the_terms_of_its_gradient(kind):
    params, xs, dL_dh, h0, c0 = random_problem(kind, T=5, seed=13)
    trace = rnnviz.forward(kind, params, xs, h0, c0)
    bw = rnnviz.bptt(kind, params, xs, dL_dh, h0, c0)
    contrib = analysis.weight_hh_contributions(trace, bw)
    H = trace.H
    terms = [np.outer(np.concatenate([bw.dpre_h[b][t] for b in rnnviz.BLOCKS[kind]]), trace.h_prev[t]) for t in range(5)]
    np.testing.assert_allclose(sum(terms), bw.params["weight_hh"], atol=1e-13)
    np.testing.assert_allclose(contrib["total"], [np.linalg.norm(m) for m in terms], rtol=1e-12)
    first = rnnviz.BLOCKS[kind][0]
    np.testing.assert_allclose(contrib[first], [np.linalg.norm(m[:H]) for m in terms], rtol=1e-12)


def test_long_sequences_evaluate_evenly_spaced_steps_with_exact_norms():
    params, _ = _linear_relu_rnn(0.99, H=4, T=2)
    xs = np.random.default_rng(2).uniform(0.5, 1.0, (1000, 4))
    trace = rnnviz.forward("rnn", params, xs, nonlinearity="relu")
    jn = analysis.jacobian_norms("rnn", params, trace, max_points=50)
    assert len(jn.t) == 50 and jn.t[0] == 1 and jn.t[-1] == 1000
    np.testing.assert_allclose(jn.to_last, 0.99 ** (1000 - jn.t), rtol=1e-10)  # through 999 products


def test_growth_fit_ignores_zeros_and_reports_undefined():
    assert analysis.growth_fit(np.zeros(5)).regime == "undefined"
    fit = analysis.growth_fit(np.array([0.0, np.inf, 0.25, 0.5, 1.0]))
    assert fit.factor == pytest.approx(0.5) and fit.regime == "vanishing" and fit.steps_used == 3


def test_steps_until_below_counts_steps_back_from_T():
    norms = 0.1 ** np.arange(10)[::-1]  # 1e-9 ... 1
    assert analysis.steps_until_below(norms, 1e-6) == 7
    assert analysis.steps_until_below(np.ones(5), 1e-6) is None


def test_saturation_counts_units_with_small_derivatives():
    params = {"weight_ih": np.array([[10.0], [0.1]]), "weight_hh": np.zeros((2, 2)),
              "bias_ih": np.zeros(2), "bias_hh": np.zeros(2)}
    trace = rnnviz.forward("rnn", params, np.ones((3, 1)))
    np.testing.assert_array_equal(analysis.saturation(trace)["all"], 0.5)  # tanh(10) saturated, tanh(0.1) not
    relu = rnnviz.forward("rnn", params, -np.ones((3, 1)), nonlinearity="relu")
    np.testing.assert_array_equal(analysis.saturation(relu)["h"], 1.0)  # both dead
    lstm = rnnviz.forward("lstm", rnnviz.init_params("lstm", 1, 3, forget_bias=20.0), np.zeros((2, 1)))
    np.testing.assert_array_equal(analysis.saturation(lstm)["f"], 1.0)


def test_weight_spectrum_per_gate_block():
    params = rnnviz.init_params("lstm", 2, 5, seed=3)
    spectra = analysis.weight_spectrum("lstm", params)
    assert list(spectra) == ["i", "f", "g", "o"]
    block_f = params["weight_hh"][5:10]
    np.testing.assert_allclose(spectra["f"].singular_values, np.linalg.svd(block_f, compute_uv=False))
    assert spectra["f"].eigenvalues.shape == (5,)


def test_jacobian_norms_past_float_range_are_inf_not_an_exception():
    params = {"weight_ih": np.zeros((1, 1)), "weight_hh": np.array([[1e200]]),
              "bias_ih": np.array([1.0]), "bias_hh": np.array([0.0])}
    trace = rnnviz.forward("rnn", params, np.zeros((4, 1)), nonlinearity="relu")
    jn = analysis.jacobian_norms("rnn", params, trace)  # each step multiplies by 1e200
    assert jn.to_last[3] == 1.0 and jn.to_last[2] == pytest.approx(1e200)
    assert jn.to_last[1] == np.inf and jn.to_last[0] == np.inf  # 1e400, 1e600: past float range
