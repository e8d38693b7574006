"""Truncated BPTT: the gradient cut between windows of k steps, against a direct computation."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import rnnviz
from rnnviz.cells import KINDS
from rnnviz.reference import plain_step
from rnnviz.studies import training as study
from rnnviz.training import RunConfig, train
from rnnviz.ui.pages import PAGES

from .conftest import CASES, charts, open_app, random_problem, title_of


def detached_gradients(kind, params, xs, dL_dh, window, h0, c0, nonlinearity):
    """The gradients of sum_t dL_dh[t] . h_t by autograd, through the plain equations, with the state
    replaced by its value (a constant, as h.detach() makes it) where each window after the first starts."""
    T, H = dL_dh.shape
    starts = {a for a, _ in rnnviz.truncation_windows(T, window)} - {0}
    trace = rnnviz.forward(kind, params, xs, h0, c0, nonlinearity)  # the constants: the true states

    def loss(v):
        h, c = v["h0"], v.get("c0")
        total = 0.0
        for t in range(T):
            if t in starts:  # the cut: the state entering this window carries no gradient back
                h = trace.h[t - 1]
                c = trace.c[t - 1] if c is not None else None
            h, c = plain_step(kind, v["params"], v["xs"][t], h, c, nonlinearity, v["dc_taps"][t] if c is not None else 0.0)
            h = h + v["dh_taps"][t]
            total = total + anp.sum(h * dL_dh[t])
        return total

    inputs = {"params": dict(params), "xs": xs, "h0": h0, "dh_taps": np.zeros((T, H)), "dc_taps": np.zeros((T, H))}
    if c0 is not None:
        inputs["c0"] = c0
    return grad(loss)(inputs)


@pytest.mark.parametrize("window", [1, 3, 4, 7])
@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_truncated_bptt_is_the_gradient_with_the_state_detached_between_windows(kind, nonlinearity, window):
    params, xs, dL_dh, h0, c0 = random_problem(kind, T=10, seed=3)
    bw = rnnviz.bptt_truncated(kind, params, xs, dL_dh, window, h0, c0, nonlinearity)
    ref = detached_gradients(kind, params, xs, dL_dh, window, h0, c0, nonlinearity)
    close = dict(rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(bw.dh, ref["dh_taps"], **close)
    if KINDS[kind].has_cell_state:
        np.testing.assert_allclose(bw.dc, ref["dc_taps"], **close)
        np.testing.assert_allclose(bw.dc0, ref["c0"], **close)
    np.testing.assert_allclose(bw.dh0, ref["h0"], **close)
    np.testing.assert_allclose(bw.dxs, ref["xs"], **close)
    for name in params:
        np.testing.assert_allclose(bw.params[name], ref["params"][name], **close)


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_a_loss_on_the_last_step_reaches_exactly_k_steps_back(kind, nonlinearity):
    params, xs, _, h0, c0 = random_problem(kind, T=12, seed=4)
    dL_dh = np.zeros((12, h0.shape[0]))
    dL_dh[-1] = 1.0
    full = rnnviz.bptt(kind, params, xs, dL_dh, h0, c0, nonlinearity)
    cut = rnnviz.bptt_truncated(kind, params, xs, dL_dh, 5, h0, c0, nonlinearity)
    np.testing.assert_array_equal(cut.dh[-5:], full.dh[-5:])  # inside the window: the full gradient
    assert not cut.dh[:-5].any() and not cut.dh0.any()  # beyond it: nothing
    assert np.abs(full.dh[:-5]).min(axis=1).max() > 0  # (full BPTT does reach there)


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_a_window_as_long_as_the_sequence_is_full_bptt(kind, nonlinearity):
    params, xs, dL_dh, h0, c0 = random_problem(kind, T=6, seed=5, batch=3)
    full = rnnviz.bptt(kind, params, xs, dL_dh, h0, c0, nonlinearity)
    for window in (None, 6, 50):
        same = rnnviz.bptt_truncated(kind, params, xs, dL_dh, window, h0, c0, nonlinearity)
        np.testing.assert_array_equal(same.dh, full.dh)
        for name in params:
            np.testing.assert_array_equal(same.params[name], full.params[name])


def test_a_batch_is_cut_like_each_of_its_sequences():
    params, xs, dL_dh, h0, c0 = random_problem("lstm", T=9, seed=6, batch=3)
    bw = rnnviz.bptt_truncated("lstm", params, xs, dL_dh, 4, h0, c0)
    for b in range(3):
        one = rnnviz.bptt_truncated("lstm", params, xs[:, b], dL_dh[:, b], 4, h0[b], c0[b])
        np.testing.assert_allclose(bw.dh[:, b], one.dh, rtol=1e-12, atol=1e-15)


def test_truncated_bptt_matches_pytorch_with_detach_every_k_steps():
    torch = pytest.importorskip("torch")
    params, xs, dL_dh, h0, c0 = random_problem("lstm", T=11, seed=7)
    k = 4
    cell = torch.nn.LSTMCell(xs.shape[1], h0.shape[0]).double()
    with torch.no_grad():
        for name, value in params.items():
            getattr(cell, name).copy_(torch.from_numpy(value))
    starts = {a for a, _ in rnnviz.truncation_windows(len(xs), k)} - {0}
    h, c = torch.from_numpy(h0)[None], torch.from_numpy(c0)[None]
    loss = 0.0
    for t in range(len(xs)):
        if t in starts:
            h, c = h.detach(), c.detach()
        h, c = cell(torch.from_numpy(xs[t : t + 1]), (h, c))
        loss = loss + (h[0] * torch.from_numpy(dL_dh[t])).sum()
    loss.backward()
    bw = rnnviz.bptt_truncated("lstm", params, xs, dL_dh, k, h0, c0)
    for name in params:
        np.testing.assert_allclose(bw.params[name], getattr(cell, name).grad.numpy(), rtol=1e-11, atol=1e-14)


def test_windows_are_counted_back_from_the_end():
    assert rnnviz.truncation_windows(10, 4) == [(0, 2), (2, 6), (6, 10)]
    assert rnnviz.truncation_windows(8, 4) == [(0, 4), (4, 8)]
    assert rnnviz.truncation_windows(5, None) == [(0, 5)] == rnnviz.truncation_windows(5, 9)
    for bad in (0, -2, 2.5):
        with pytest.raises(ValueError, match="window"):
            rnnviz.truncation_windows(10, bad)


# --- in training ---------------------------------------------------------------------------------


def test_a_run_trains_with_the_truncated_gradient():
    cfg = RunConfig(cell="lstm", length=12, hidden=4, batch=4, updates=3, window=4)
    run, full = train(cfg), train(cfg.with_(window=None))
    assert not run.h_norms_start[:-4].any() and run.h_norms_start[-4:].all()  # the profile it trained with
    np.testing.assert_array_equal(run.h_norms_start[-4:], full.h_norms_start[-4:])
    assert run.loss[0] == full.loss[0] and run.loss[1] != full.loss[1]  # the same start, other updates
    with pytest.raises(ValueError, match="window"):
        train(cfg.with_(window=0))


def test_a_window_as_long_as_the_sequence_is_the_full_run():
    values = {**study.defaults(), "tr_length": 20, "r1_window": "20", "r2_window": "5"}
    full, cut = study.run_configs(values)
    assert full.window is None and cut.window == 5


# --- on the Backprop through time page -----------------------------------------------------------


def truncated_figure(at):
    return next(c for c in charts(at) if title_of(c).startswith("Truncated BPTT"))


@pytest.mark.usefixtures("fresh_cache")
def test_the_backprop_page_shows_the_gradient_cut_after_k_steps():
    at = open_app(PAGES["bptt"].file, window="5")
    assert not at.exception, [e.value for e in at.exception]
    figure = truncated_figure(at)
    full, cut = (np.asarray(trace["y"], dtype=float) for trace in figure["data"][:2])
    T = len(full)
    assert np.isnan(cut[: T - 5]).all()  # beyond k steps back: zero, nothing drawn
    np.testing.assert_allclose(cut[T - 5:], full[T - 5:], rtol=1e-6)  # within: the full gradient
    assert np.isfinite(full).all()
    assert at.query_params["window"] == "5"
    assert any(f"reaches back to t = {T - 4} and no further" in c.value for c in at.caption)


@pytest.mark.usefixtures("fresh_cache")
def test_the_window_control_cuts_and_full_bptt_draws_nothing_new():
    at = open_app(PAGES["bptt"].file)
    assert not any(title_of(c).startswith("Truncated BPTT") for c in charts(at))  # full: the figure above says it
    assert any(c.value.startswith("Full BPTT: the gradient above travels back through all") for c in at.caption)
    at.segmented_control(key="window").set_value("2").run()
    assert not at.exception
    cut = np.asarray(truncated_figure(at)["data"][1]["y"], dtype=float)
    assert np.isnan(cut[:-2]).all() and np.isfinite(cut[-2:]).all()


@pytest.mark.usefixtures("fresh_cache")
def test_the_window_control_offers_only_windows_shorter_than_the_sequence_and_notes_a_longer_link():
    at = open_app(PAGES["bptt"].file, text="hello", window="50")  # T = 5
    assert not at.exception, [e.value for e in at.exception]
    assert at.segmented_control(key="window").options == ["full BPTT", "1 step", "2 steps"]
    assert at.segmented_control(key="window").value == "full"
    assert "window" not in at.query_params
    notes = [w.value for w in at.warning] + [i.value for i in at.info]
    assert sum("window" in n and "50" in n for n in notes) == 1, notes
