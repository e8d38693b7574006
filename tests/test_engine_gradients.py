"""The hand-written BPTT against independent oracles: autograd, finite differences, PyTorch."""

import numpy as np
import pytest
from autograd import grad as autograd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnviz
from rnnviz.reference import autograd_bptt, plain_forward

from .conftest import CASES, random_problem


def _assert_backward_matches(bw, ref, kind):
    np.testing.assert_allclose(bw.dh, ref["dh"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bw.dh0, ref["dh0"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bw.dxs, ref["dxs"], rtol=1e-10, atol=1e-12)
    for name, g in ref["params"].items():
        np.testing.assert_allclose(bw.params[name], g, rtol=1e-10, atol=1e-12, err_msg=name)
    if kind == "lstm":
        np.testing.assert_allclose(bw.dc, ref["dc"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bw.dc0, ref["dc0"], rtol=1e-10, atol=1e-12)
    else:
        assert bw.dc is None and bw.dc0 is None


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_bptt_matches_autograd_on_the_plain_equations(kind, nonlinearity):
    params, xs, dL_dh, h0, c0 = random_problem(kind, T=7, seed=3)
    bw = rnnviz.bptt(kind, params, xs, dL_dh, h0, c0, nonlinearity)
    ref = autograd_bptt(kind, params, xs, dL_dh, h0, c0, nonlinearity)
    _assert_backward_matches(bw, ref, kind)


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_forward_matches_the_plain_equations(kind, nonlinearity):
    params, xs, _, h0, c0 = random_problem(kind, T=9, seed=4)
    trace = rnnviz.forward(kind, params, xs, h0, c0, nonlinearity)
    hs, cs = plain_forward(kind, params, xs, h0, c0, nonlinearity)
    np.testing.assert_allclose(trace.h, hs, rtol=1e-13, atol=1e-15)
    if kind == "lstm":
        np.testing.assert_allclose(trace.c, cs, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_bptt_matches_central_finite_differences(kind, nonlinearity):
    # The loss sum_t dL_dh[t] . h_t has exactly dL_dh as its gradient from outside.
    params, xs, dL_dh, h0, c0 = random_problem(kind, T=5, I=2, H=3, seed=5)
    bw = rnnviz.bptt(kind, params, xs, dL_dh, h0, c0, nonlinearity)

    def loss(p=params, x=xs, h=h0):
        return float(np.sum(rnnviz.forward(kind, p, x, h, c0, nonlinearity).h * dL_dh))

    eps = 1e-6
    for name in params:
        flat = params[name].ravel()
        for k in range(0, flat.size, max(flat.size // 7, 1)):  # a spread of entries
            plus, minus = {n: v.copy() for n, v in params.items()}, {n: v.copy() for n, v in params.items()}
            plus[name].ravel()[k] += eps
            minus[name].ravel()[k] -= eps
            numeric = (loss(p=plus) - loss(p=minus)) / (2 * eps)
            assert bw.params[name].ravel()[k] == pytest.approx(numeric, rel=1e-6, abs=1e-8), name
    for k in range(xs.size):
        xp, xm = xs.copy(), xs.copy()
        xp.ravel()[k] += eps
        xm.ravel()[k] -= eps
        numeric = (loss(x=xp) - loss(x=xm)) / (2 * eps)
        assert bw.dxs.ravel()[k] == pytest.approx(numeric, rel=1e-6, abs=1e-8)
    for k in range(h0.size):
        hp, hm = h0.copy(), h0.copy()
        hp[k] += eps
        hm[k] -= eps
        assert bw.dh0[k] == pytest.approx((loss(h=hp) - loss(h=hm)) / (2 * eps), rel=1e-6, abs=1e-8)


@settings(max_examples=30, deadline=None)
@given(
    case=st.sampled_from(CASES),
    T=st.integers(1, 6),
    I=st.integers(1, 4),
    H=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([0.1, 1.0, 3.0]),
)
def test_bptt_matches_autograd_for_any_shape(case, T, I, H, seed, scale):
    kind, nonlinearity = case
    params, xs, dL_dh, h0, c0 = random_problem(kind, T, I, H, seed, scale=scale)
    bw = rnnviz.bptt(kind, params, xs, dL_dh, h0, c0, nonlinearity)
    ref = autograd_bptt(kind, params, xs, dL_dh, h0, c0, nonlinearity)
    _assert_backward_matches(bw, ref, kind)
    trace = rnnviz.forward(kind, params, xs, h0, c0, nonlinearity)
    assert trace.h.shape == (T, H) and bw.dh.shape == (T, H) and bw.dxs.shape == (T, I)


@settings(max_examples=15, deadline=None)
@given(case=st.sampled_from(CASES), B=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_batched_results_equal_the_per_sequence_ones(case, B, seed):
    kind, nonlinearity = case
    params, xs, dL_dh, h0, c0 = random_problem(kind, T=5, batch=B, seed=seed)
    trace = rnnviz.forward(kind, params, xs, h0, c0, nonlinearity)
    bw = rnnviz.bptt(kind, params, xs, dL_dh, h0, c0, nonlinearity)
    summed = {name: 0.0 for name in params}
    for b in range(B):
        c0_b = None if c0 is None else c0[b]
        one = rnnviz.forward(kind, params, xs[:, b], h0[b], c0_b, nonlinearity)
        np.testing.assert_allclose(trace.h[:, b], one.h, rtol=1e-12, atol=1e-14)
        for gate, a in one.gates.items():
            np.testing.assert_allclose(trace.gates[gate][:, b], a, rtol=1e-12, atol=1e-14)
        one_bw = rnnviz.bptt(kind, params, xs[:, b], dL_dh[:, b], h0[b], c0_b, nonlinearity)
        np.testing.assert_allclose(bw.dh[:, b], one_bw.dh, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(bw.dxs[:, b], one_bw.dxs, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(bw.dh0[b], one_bw.dh0, rtol=1e-12, atol=1e-14)
        for name in params:
            summed[name] = summed[name] + one_bw.params[name]
    for name in params:  # the batch's parameter gradient is the sum over its sequences
        np.testing.assert_allclose(bw.params[name], summed[name], rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_forward_and_gradients_match_pytorch_cells(kind, nonlinearity):
    torch = pytest.importorskip("torch")
    params, xs, dL_dh, h0, c0 = random_problem(kind, T=8, seed=6)
    I, H = xs.shape[1], h0.shape[0]
    cell = {
        "rnn": lambda: torch.nn.RNNCell(I, H, nonlinearity=nonlinearity),
        "lstm": lambda: torch.nn.LSTMCell(I, H),
        "gru": lambda: torch.nn.GRUCell(I, H),
    }[kind]().double()
    with torch.no_grad():
        for name, value in params.items():
            getattr(cell, name).copy_(torch.from_numpy(value))
    x = torch.from_numpy(xs)
    h = torch.from_numpy(h0)[None].requires_grad_()
    h_first = h
    c = torch.from_numpy(c0)[None] if c0 is not None else None
    hs = []
    for t in range(len(xs)):
        if kind == "lstm":
            h, c = cell(x[t : t + 1], (h, c))
        else:
            h = cell(x[t : t + 1], h)
        h.retain_grad()
        hs.append(h)
    (torch.stack(hs)[:, 0] * torch.from_numpy(dL_dh)).sum().backward()

    trace = rnnviz.forward(kind, params, xs, h0, c0, nonlinearity)
    bw = rnnviz.bptt(kind, params, xs, dL_dh, h0, c0, nonlinearity)
    np.testing.assert_allclose(trace.h, torch.stack(hs)[:, 0].detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(bw.dh, torch.stack([h.grad[0] for h in hs]).numpy(), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(bw.dh0, h_first.grad[0].numpy(), rtol=1e-11, atol=1e-14)
    for name in params:
        np.testing.assert_allclose(bw.params[name], getattr(cell, name).grad.numpy(), rtol=1e-11, atol=1e-14)


def test_relu_derivative_at_zero_is_zero_like_pytorch():
    # One unit, W_hh = 0, bias and input chosen so that the pre-activation is exactly 0.
    params = {"weight_ih": np.array([[1.0]]), "weight_hh": np.array([[0.0]]),
              "bias_ih": np.array([-1.0]), "bias_hh": np.array([0.0])}
    bw = rnnviz.bptt("rnn", params, np.array([[1.0]]), np.array([[1.0]]), nonlinearity="relu")
    assert bw.params["weight_ih"][0, 0] == 0.0 and bw.dxs[0, 0] == 0.0


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_backward_from_a_trace_equals_bptt(kind, nonlinearity):
    params, xs, dL_dh, h0, c0 = random_problem(kind, T=9, seed=21)
    trace = rnnviz.forward(kind, params, xs, h0, c0, nonlinearity)
    from_trace = rnnviz.backward_from_trace(params, trace, dL_dh)
    direct = rnnviz.bptt(kind, params, xs, dL_dh, h0, c0, nonlinearity)
    for name in ("dh", "dh0", "dxs"):
        np.testing.assert_allclose(getattr(from_trace, name), getattr(direct, name), rtol=1e-12, atol=1e-14)
    for name in params:
        np.testing.assert_allclose(from_trace.params[name], direct.params[name], rtol=1e-12, atol=1e-14)
    if kind == "lstm":
        np.testing.assert_allclose(from_trace.dc, direct.dc, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("batch", [None, 3])
def test_lstm_bptt_takes_a_gradient_on_the_last_cell_state_like_pytorch(batch):
    # The loss sum_t dL_dh[t] . h_t + g . c_T: dL_dc_last = g reaches c_T from outside.
    torch = pytest.importorskip("torch")
    params, xs, dL_dh, h0, c0 = random_problem("lstm", T=6, seed=8, batch=batch)
    g = np.random.default_rng(9).normal(size=h0.shape)
    bw = rnnviz.bptt("lstm", params, xs, dL_dh, h0, c0, dL_dc_last=g)

    # torch always runs a batch (of 1 for one sequence): retain_grad on the squeezed c_t of an
    # unbatched LSTMCell call misses the gradient arriving through c_{t+1}.
    if batch is None:
        xs, dL_dh, h0, c0, g = xs[:, None], dL_dh[:, None], h0[None], c0[None], g[None]
    cell = torch.nn.LSTMCell(xs.shape[-1], h0.shape[-1]).double()
    with torch.no_grad():
        for name, value in params.items():
            getattr(cell, name).copy_(torch.from_numpy(value))
    x, h_first, c_first = (torch.from_numpy(a).requires_grad_() for a in (xs, h0, c0))
    h, c, hs, cs = h_first, c_first, [], []
    for t in range(len(xs)):
        h, c = cell(x[t], (h, c))
        h.retain_grad()
        c.retain_grad()
        hs.append(h)
        cs.append(c)
    ((torch.stack(hs) * torch.from_numpy(dL_dh)).sum() + (c * torch.from_numpy(g)).sum()).backward()

    def close(ours, theirs):
        np.testing.assert_allclose(ours, theirs.numpy().reshape(ours.shape), rtol=1e-11, atol=1e-14)

    close(bw.dh, torch.stack([h.grad for h in hs]))
    close(bw.dc, torch.stack([c.grad for c in cs]))
    close(bw.dh0, h_first.grad)
    close(bw.dc0, c_first.grad)
    close(bw.dxs, x.grad)
    for name in params:
        close(bw.params[name], getattr(cell, name).grad)


def test_lstm_gradient_on_the_last_cell_state_matches_autograd():
    params, xs, dL_dh, h0, c0 = random_problem("lstm", T=5, seed=10)
    g = np.random.default_rng(11).normal(size=h0.shape)

    def loss(p, x, h, c):
        hs, cs = plain_forward("lstm", p, x, h, c)
        return (hs * dL_dh).sum() + (cs[-1] * g).sum()

    d_params, d_xs, d_h0, d_c0 = (autograd_grad(loss, k)(params, xs, h0, c0) for k in range(4))
    bw = rnnviz.bptt("lstm", params, xs, dL_dh, h0, c0, dL_dc_last=g)
    np.testing.assert_allclose(bw.dxs, d_xs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bw.dh0, d_h0, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bw.dc0, d_c0, rtol=1e-10, atol=1e-12)
    for name in params:
        np.testing.assert_allclose(bw.params[name], d_params[name], rtol=1e-10, atol=1e-12, err_msg=name)
    # no gradient on c_T is the same as none given
    zero = rnnviz.bptt("lstm", params, xs, dL_dh, h0, c0, dL_dc_last=np.zeros_like(g))
    np.testing.assert_array_equal(zero.dh, rnnviz.bptt("lstm", params, xs, dL_dh, h0, c0).dh)


@pytest.mark.parametrize(
    "kind,dL_dc_last,match",
    [("gru", np.zeros(4), r"dL_dc_last applies to kind='lstm' only"),
     ("lstm", np.zeros(5), r"dL_dc_last must have shape \(4,\) \(like c_T\), got \(5,\)")],
)
def test_bad_gradient_on_the_last_cell_state_raises(kind, dL_dc_last, match):
    params, xs, dL_dh, _, _ = random_problem(kind, T=3, H=4)
    with pytest.raises(ValueError, match=match):
        rnnviz.bptt(kind, params, xs, dL_dh, dL_dc_last=dL_dc_last)
