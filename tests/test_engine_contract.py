"""The engine contract: shapes, init, what Trace carries, bad input, overflow, clipping."""

import numpy as np
import pytest

import rnnviz
from rnnviz.analysis import weight_spectrum

from .conftest import random_problem


@pytest.mark.parametrize("kind,G", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_init_params_has_pytorch_shapes_and_range(kind, G):
    params = rnnviz.init_params(kind, 3, 16, seed=7)
    assert params["weight_ih"].shape == (G * 16, 3)
    assert params["weight_hh"].shape == (G * 16, 16)
    assert params["bias_ih"].shape == params["bias_hh"].shape == (G * 16,)
    k = 1 / np.sqrt(16)
    for value in params.values():
        assert value.dtype == np.float64 and np.all(np.abs(value) <= k)
    # spread over the whole interval, not a corner of it
    assert params["weight_hh"].max() > 0.9 * k and params["weight_hh"].min() < -0.9 * k


def test_init_params_is_reproducible_per_seed():
    a, b, c = (rnnviz.init_params("lstm", 2, 5, seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["weight_hh"], c["weight_hh"])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("radius", [0.5, 1.3])
def test_spectral_radius_rescales_every_block(kind, radius):
    params = rnnviz.init_params(kind, 2, 8, seed=0, spectral_radius=radius)
    for spectrum in weight_spectrum(kind, params).values():
        assert spectrum.spectral_radius == pytest.approx(radius, rel=1e-12)


def test_orthogonal_hh_blocks_are_orthogonal_and_scalable():
    params = rnnviz.init_params("gru", 2, 6, seed=0, hh_init="orthogonal")
    for block in params["weight_hh"].reshape(3, 6, 6):
        np.testing.assert_allclose(block @ block.T, np.eye(6), atol=1e-12)
    scaled = rnnviz.init_params("rnn", 2, 6, seed=0, hh_init="orthogonal", spectral_radius=0.9)
    np.testing.assert_allclose(np.linalg.svd(scaled["weight_hh"], compute_uv=False), 0.9, rtol=1e-12)


def test_forget_bias_sets_the_total_forget_gate_bias():
    params = rnnviz.init_params("lstm", 2, 4, seed=0, forget_bias=2.0)
    total = params["bias_ih"] + params["bias_hh"]
    np.testing.assert_array_equal(total[4:8], 2.0)
    # with zero inputs and state the forget gate is exactly sigmoid(2)
    trace = rnnviz.forward("lstm", params, np.zeros((1, 2)))
    np.testing.assert_allclose(trace.gates["f"][0], 1 / (1 + np.exp(-2.0)), rtol=1e-15)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_trace_pre_activations_rebuild_the_gates_and_state(kind):
    params, xs, _, h0, c0 = random_problem(kind, T=5, seed=2)
    trace = rnnviz.forward(kind, params, xs, h0, c0)
    w_ih, w_hh = params["weight_ih"], params["weight_hh"]
    H = trace.H
    h_prev = trace.h_prev
    for k, block in enumerate(rnnviz.BLOCKS[kind]):
        rows = slice(k * H, (k + 1) * H)
        np.testing.assert_allclose(trace.pre_x[block], xs @ w_ih[rows].T + params["bias_ih"][rows], atol=1e-14)
        np.testing.assert_allclose(trace.pre_h[block], h_prev @ w_hh[rows].T + params["bias_hh"][rows], atol=1e-14)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    pre = trace.pre
    if kind == "rnn":
        np.testing.assert_allclose(trace.h, np.tanh(pre["h"]), atol=1e-14)
        assert trace.gates == {} and trace.c is None
    elif kind == "lstm":
        for gate in "ifo":
            np.testing.assert_allclose(trace.gates[gate], sig(pre[gate]), atol=1e-14)
        np.testing.assert_allclose(trace.gates["g"], np.tanh(pre["g"]), atol=1e-14)
        np.testing.assert_allclose(
            trace.c, trace.gates["f"] * trace.c_prev + trace.gates["i"] * trace.gates["g"], atol=1e-14)
    else:
        np.testing.assert_allclose(trace.gates["n"], np.tanh(pre["n"]), atol=1e-14)
        z = trace.gates["z"]
        np.testing.assert_allclose(trace.h, (1 - z) * trace.gates["n"] + z * h_prev, atol=1e-14)


def test_results_are_read_only():
    params, xs, dL_dh, _, _ = random_problem("lstm")
    trace = rnnviz.forward("lstm", params, xs)
    bw = rnnviz.bptt("lstm", params, xs, dL_dh)
    for array in (trace.h, trace.c, trace.gates["f"], bw.dh, bw.params["weight_hh"]):
        with pytest.raises(ValueError):
            array[0] = 1.0


def test_inputs_are_not_changed():
    params, xs, dL_dh, h0, _ = random_problem("gru")
    copies = ({k: v.copy() for k, v in params.items()}, xs.copy(), dL_dh.copy(), h0.copy())
    rnnviz.bptt("gru", params, xs, dL_dh, h0)
    assert all(np.array_equal(params[k], copies[0][k]) for k in params)
    assert np.array_equal(xs, copies[1]) and np.array_equal(dL_dh, copies[2]) and np.array_equal(h0, copies[3])


# --- bad input -------------------------------------------------------------------------------

GOOD = rnnviz.init_params("rnn", 2, 3)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: rnnviz.forward("transformer", GOOD, np.zeros((4, 2))), r"kind must be one of .*'transformer'"),
        (lambda: rnnviz.forward("rnn", GOOD, np.zeros((0, 2))), r"T >= 1.*T = 0"),
        (lambda: rnnviz.forward("rnn", GOOD, np.zeros((4, 5))), r"xs must have 2 features.*\(4, 5\)"),
        (lambda: rnnviz.forward("rnn", GOOD, np.zeros(4)), r"xs must have shape \(T, I\).*\(4,\)"),
        (lambda: rnnviz.forward("rnn", GOOD, np.array([[0, 0], [np.nan, 0]])), r"xs contains NaN.*t = 2"),
        (lambda: rnnviz.forward("rnn", GOOD, [["a", "b"]]), r"xs must be an array of numbers"),
        (lambda: rnnviz.forward("rnn", GOOD, np.zeros((4, 2)), nonlinearity="sigmoid"),
         r"nonlinearity must be one of .*'sigmoid'"),
        (lambda: rnnviz.forward("rnn", GOOD, np.zeros((4, 2)), h0=np.zeros(5)), r"h0 must have shape \(3,\), got \(5,\)"),
        (lambda: rnnviz.forward("rnn", GOOD, np.zeros((4, 2)), c0=np.zeros(3)), r"c0 applies to kind='lstm' only"),
        (lambda: rnnviz.forward("lstm", GOOD, np.zeros((4, 2))), r"params\['weight_ih'\] must have shape \(12, 2\)"),
        (lambda: rnnviz.forward("rnn", {"weight_ih": 1}, np.zeros((4, 2))), r"params is missing"),
        (lambda: rnnviz.forward("rnn", GOOD | {"bias_hh": np.array([np.inf, 0, 0])}, np.zeros((4, 2))),
         r"params\['bias_hh'\] contains inf or NaN"),
        (lambda: rnnviz.bptt("rnn", GOOD, np.zeros((4, 2)), np.zeros((3, 3))), r"dL_dh must have shape \(4, 3\).*\(3, 3\)"),
        (lambda: rnnviz.init_params("rnn", 2, 0), r"hidden_size must be a positive integer, got 0"),
        (lambda: rnnviz.init_params("gru", 2, 3, forget_bias=1.0), r"forget_bias applies to kind='lstm' only"),
        (lambda: rnnviz.init_params("rnn", 2, 3, spectral_radius=-1), r"spectral_radius must be .* got -1"),
        (lambda: rnnviz.clip_grad_norm({"w": np.ones(2)}, -1.0), r"max_norm must be .* got -1.0"),
        (lambda: rnnviz.clip_grad_value({"w": np.ones(2)}, float("nan")), r"clip_value must be .* got nan"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- overflow is reported, not raised -----------------------------------------------------


def test_relu_rnn_overflow_reports_the_first_nonfinite_step():
    # h_t = relu(1e100 * h_{t-1} + 1): 1, 1e100, 1e200, 1e300 are finite, then inf.
    params = {"weight_ih": np.zeros((1, 1)), "weight_hh": np.array([[1e100]]),
              "bias_ih": np.array([1.0]), "bias_hh": np.array([0.0])}
    xs = np.zeros((6, 1))
    trace = rnnviz.forward("rnn", params, xs, nonlinearity="relu")
    assert trace.nonfinite_step == 5
    assert np.all(np.isfinite(trace.h[:4])) and not np.isfinite(trace.h[4, 0])


def test_exploding_gradient_reports_where_the_backward_pass_broke():
    # A linear-regime relu RNN with gain 1e60 per step: dL/dh_t = 1e60^(T-t), inf from 6 steps back.
    params = {"weight_ih": np.zeros((1, 1)), "weight_hh": np.array([[1e60]]),
              "bias_ih": np.array([1e-300]), "bias_hh": np.array([0.0])}
    T = 10
    dL_dh = np.zeros((T, 1))
    dL_dh[-1] = 1.0
    bw = rnnviz.bptt("rnn", params, np.zeros((T, 1)), dL_dh, h0=np.array([1e-300]), nonlinearity="relu")
    assert bw.nonfinite_step == T - 6  # 1e60^5 = 1e300 is finite, 1e60^6 is not
    assert np.isfinite(bw.dh[T - 6]) and not np.isfinite(bw.dh[T - 7, 0])


def _overflowing_relu_rnn():
    # Unit 0 grows by 1e200 per step: inf at step 3; then W_hh's 0 * inf is NaN at step 4.
    params = {"weight_ih": np.eye(2), "weight_hh": np.array([[1e200, 0.0], [0.0, 0.5]]),
              "bias_ih": np.zeros(2), "bias_hh": np.zeros(2)}
    xs = np.ones((6, 2))
    dL_dh = np.zeros((6, 2))
    dL_dh[-1] = 1.0
    return params, xs, dL_dh


def test_relu_rnn_whose_forward_overflowed_has_pytorchs_nonfinite_gradients():
    # relu'(NaN) passes the gradient in PyTorch (it zeroes only where the output is <= 0), so the
    # NaN of the forward pass reaches the gradients; it must not turn into silent zeros.
    torch = pytest.importorskip("torch")
    params, xs, dL_dh = _overflowing_relu_rnn()
    cell = torch.nn.RNNCell(2, 2, nonlinearity="relu").double()
    with torch.no_grad():
        for name, value in params.items():
            getattr(cell, name).copy_(torch.from_numpy(value))
    h, hs = torch.zeros(1, 2, dtype=torch.float64), []
    for t in range(len(xs)):
        h = cell(torch.from_numpy(xs[t : t + 1]), h)
        h.retain_grad()
        hs.append(h)
    (torch.stack(hs)[:, 0] * torch.from_numpy(dL_dh)).sum().backward()
    torch_dh = torch.stack([h.grad[0] for h in hs]).numpy()

    bw = rnnviz.bptt("rnn", params, xs, dL_dh, nonlinearity="relu")
    np.testing.assert_array_equal(bw.dh, torch_dh)  # inf, NaN and finite entries alike
    for name in params:
        np.testing.assert_array_equal(bw.params[name], getattr(cell, name).grad.numpy(), err_msg=name)
    torch_bad = np.nonzero(~np.isfinite(torch_dh).all(axis=1))[0]
    assert bw.nonfinite_step == torch_bad.max() + 1 == 4


def test_nonfinite_step_is_where_each_pass_broke_in_the_order_it_runs():
    params, xs, dL_dh = _overflowing_relu_rnn()
    trace = rnnviz.forward("rnn", params, xs, nonlinearity="relu")
    bw = rnnviz.bptt("rnn", params, xs, dL_dh, nonlinearity="relu")
    # forward runs t = 1..T: h_3 is its first non-finite state, and h_4.. stay broken
    assert trace.nonfinite_step == 3 and np.isfinite(trace.h[:2]).all() and not np.isfinite(trace.h[2:]).all(axis=1).any()
    # BPTT runs t = T..1: dL/dh_4 is its first non-finite gradient, and dL/dh_1..3 stay broken
    assert bw.nonfinite_step == 4 and np.isfinite(bw.dh[4:]).all() and not np.isfinite(bw.dh[:4]).all(axis=1).any()
    assert rnnviz.backward_from_trace(params, trace, dL_dh).nonfinite_step == 4


def test_saturating_cells_never_report_overflow():
    params = rnnviz.init_params("lstm", 2, 4, spectral_radius=50.0)
    trace = rnnviz.forward("lstm", params, 100 * np.ones((50, 2)))
    assert trace.nonfinite_step is None


# --- clipping: torch.nn.utils semantics --------------------------------------------------------


def test_clip_grad_norm_scales_by_max_norm_over_total_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0], [4.0]])}
    clipped, total = rnnviz.clip_grad_norm(grads, 1.0)
    assert total == 5.0  # one norm over all arrays together
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(clipped["a"], [3 * coef, 0.0], rtol=1e-15)
    np.testing.assert_allclose(clipped["b"], [[0.0], [4 * coef]], rtol=1e-15)
    assert grads["a"][0] == 3.0  # the input is not changed


def test_clip_grad_norm_leaves_small_gradients_alone():
    grads = {"a": np.array([0.3, 0.4])}
    clipped, total = rnnviz.clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(0.5) and np.array_equal(clipped["a"], grads["a"])
    assert clipped["a"] is not grads["a"]


def test_clip_grad_norm_edge_cases():
    clipped, total = rnnviz.clip_grad_norm({}, 1.0)
    assert clipped == {} and total == 0.0
    zeros, total = rnnviz.clip_grad_norm({"a": np.zeros(3)}, 1.0)
    assert total == 0.0 and np.array_equal(zeros["a"], np.zeros(3))
    nothing, _ = rnnviz.clip_grad_norm({"a": np.ones(3)}, 0.0)
    assert np.array_equal(nothing["a"], np.zeros(3))
    bad, total = rnnviz.clip_grad_norm({"a": np.array([np.inf, 1.0])}, 1.0)
    assert total == np.inf and np.isnan(bad["a"][0]) and bad["a"][1] == 0.0  # like PyTorch
    as_list, total = rnnviz.clip_grad_norm([np.array([6.0, 8.0])], 5.0)
    assert total == 10.0 and isinstance(as_list, list)
    np.testing.assert_allclose(as_list[0], [6 * 5 / (10 + 1e-6), 8 * 5 / (10 + 1e-6)])


def test_clip_grad_value_clamps_each_entry():
    grads = {"a": np.array([-3.0, 0.2, 7.0, np.nan])}
    clipped = rnnviz.clip_grad_value(grads, 0.5)
    np.testing.assert_array_equal(clipped["a"][:3], [-0.5, 0.2, 0.5])
    assert np.isnan(clipped["a"][3])  # NaN passes through, as torch.clamp does
    assert grads["a"][0] == -3.0


def test_clipping_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = {"w": rng.normal(size=(4, 3)) * 10, "b": rng.normal(size=4)}
    for max_norm in (0.5, 1e3):
        tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
        for t, g in zip(tensors, grads.values(), strict=True):
            t.grad = torch.from_numpy(g.copy())
        torch_total = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
        clipped, total = rnnviz.clip_grad_norm(grads, max_norm)
        assert total == pytest.approx(float(torch_total), rel=1e-14)
        for t, c in zip(tensors, clipped.values(), strict=True):
            np.testing.assert_allclose(c, t.grad.numpy(), rtol=1e-14)
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for t, g in zip(tensors, grads.values(), strict=True):
        t.grad = torch.from_numpy(g.copy())
    torch.nn.utils.clip_grad_value_(tensors, 2.0)
    for t, c in zip(tensors, rnnviz.clip_grad_value(grads, 2.0).values(), strict=True):
        np.testing.assert_array_equal(c, t.grad.numpy())
