"""Readout losses (autograd) and the task generators."""

import numpy as np
import pytest

import rnnviz
from rnnviz import tasks


def test_mse_readout_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(5, 3))
    readout = rnnviz.init_readout(3, 2, seed=1)
    targets = rng.normal(size=(5, 2))
    mask = np.array([True, False, True, False, True])
    result = rnnviz.readout_loss(readout, h, targets, mask, "mse")
    y = h @ readout["weight_out"].T + readout["bias_out"]
    assert result.loss == pytest.approx(np.mean((y[mask] - targets[mask]) ** 2))
    assert np.all(result.dL_dh[~mask] == 0)
    eps = 1e-6
    for idx in [(0, 0), (2, 1), (4, 2)]:
        hp, hm = h.copy(), h.copy()
        hp[idx] += eps
        hm[idx] -= eps
        numeric = (rnnviz.readout_loss(readout, hp, targets, mask).loss
                   - rnnviz.readout_loss(readout, hm, targets, mask).loss) / (2 * eps)
        assert result.dL_dh[idx] == pytest.approx(numeric, rel=1e-6)


def test_cross_entropy_matches_pytorch_definition():
    rng = np.random.default_rng(1)
    h = rng.normal(size=(4, 3))
    readout = rnnviz.init_readout(3, 5)
    targets = np.array([0, 4, 2, 1])
    result = rnnviz.readout_loss(readout, h, targets, rnnviz.every_step_mask(4), "xent")
    logits = h @ readout["weight_out"].T + readout["bias_out"]
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert result.loss == pytest.approx(-np.mean(log_p[np.arange(4), targets]), rel=1e-13)
    p = np.exp(log_p)
    p[np.arange(4), targets] -= 1
    np.testing.assert_allclose(result.dL_dh, p @ readout["weight_out"] / 4, rtol=1e-12)
    np.testing.assert_allclose(result.grads["bias_out"], p.sum(axis=0) / 4, rtol=1e-12, atol=1e-15)


def test_readout_feeds_bptt_end_to_end():
    sample = tasks.adding_sample(20, seed=2)
    params = rnnviz.init_params("gru", 2, 4)
    readout = rnnviz.init_readout(4, 1)
    trace = rnnviz.forward("gru", params, sample.xs)
    result = rnnviz.readout_loss(readout, trace.h, sample.targets, sample.loss_mask, sample.loss)
    bw = rnnviz.bptt("gru", params, sample.xs, result.dL_dh)
    assert np.count_nonzero(np.abs(result.dL_dh).sum(axis=1)) == 1  # last step only
    assert np.all(np.isfinite(bw.dh)) and bw.dh.shape == (20, 4)


def test_readout_errors_name_the_argument():
    readout = rnnviz.init_readout(3, 2)
    with pytest.raises(ValueError, match="loss must be one of"):
        rnnviz.readout_loss(readout, np.zeros((2, 3)), np.zeros((2, 2)), [True, True], "hinge")
    with pytest.raises(ValueError, match=r"targets must have shape \(2, 2\)"):
        rnnviz.readout_loss(readout, np.zeros((2, 3)), np.zeros((2, 3)), [True, True])
    with pytest.raises(ValueError, match=r"targets must be classes in \[0, 1\]"):
        rnnviz.readout_loss(readout, np.zeros((2, 3)), np.array([0, 5]), [True, True], "xent")


def test_text_sample_is_one_hot_next_character():
    s = tasks.text_sample("hello")
    assert s.vocab == ("e", "h", "l", "o") and s.tokens == tuple("hello")
    assert s.xs.shape == (5, 4) and np.all(s.xs.sum(axis=1) == 1)
    assert [s.vocab[k] for k in s.targets[:4]] == list("ello")
    assert s.loss_mask.tolist() == [True, True, True, True, False]
    assert s.target_mask.tolist() == [True, True, True, True, False]  # the last character has no target
    assert tasks.sine_sample(4).target_mask.tolist() == [True] * 4


@pytest.mark.parametrize("text,match", [("", "at least one character"), ("x" * 10_000, "at most 2000"),
                                        (None, "must be a string")])
def test_text_sample_rejects_bad_text(text, match):
    with pytest.raises(ValueError, match=match):
        tasks.text_sample(text)


def test_adding_problem_follows_the_published_definition():
    s = tasks.adding_sample(100, seed=3, batch=64)
    assert s.xs.shape == (100, 64, 2) and s.loss == "mse" and s.loss_mask.tolist() == [False] * 99 + [True]
    markers = s.xs[:, :, 0]
    assert np.all(markers.sum(axis=0) == 2)
    for b in range(64):
        first, second = np.nonzero(markers[:, b])[0]
        assert 0 <= first < 10 and 10 <= second < 50
        assert s.targets[-1, b, 0] == pytest.approx(s.xs[[first, second], b, 1].mean())
    assert np.all((s.xs[:, :, 1] >= 0) & (s.xs[:, :, 1] <= 1))


def test_temporal_order_places_two_symbols_and_labels_their_order():
    s = tasks.temporal_order_sample(100, seed=4, batch=32)
    symbols = s.xs.argmax(axis=-1)  # (T, B)
    for b in range(32):
        relevant = np.nonzero(symbols[:, b] < 2)[0]
        assert len(relevant) == 2 and 10 <= relevant[0] < 20 and 50 <= relevant[1] < 60
        first, second = symbols[relevant, b]
        assert s.targets[-1, b] == first + 2 * second
    assert s.n_out == 4 and s.loss == "xent"


def test_memorisation_asks_for_the_symbols_after_the_delay():
    s = tasks.memorisation_sample(delay=15, n_values=5, n_pos=4, seed=5)
    assert s.T == 15 + 8 and s.xs.shape == (23, 7)
    shown = s.xs[:4].argmax(axis=1)
    np.testing.assert_array_equal(s.targets[-4:], shown)
    assert np.all(s.targets[:-4] == 5)  # blank
    assert s.xs[15 + 4].argmax() == 6  # the recall marker
    assert s.loss_mask.all()


def test_signals_are_seeded_and_shaped():
    a, b = tasks.sine_sample(30, seed=1), tasks.sine_sample(30, seed=1)
    assert np.array_equal(a.xs, b.xs) and a.xs.shape == (30, 1)
    np.testing.assert_array_equal(a.targets[:-1], a.xs[1:])  # next value
    n = tasks.noise_sample(12, input_size=3, seed=2)
    np.testing.assert_array_equal(n.targets[-1], n.xs[0])
    assert not np.array_equal(tasks.noise_sample(12, seed=3).xs, tasks.noise_sample(12, seed=4).xs)


@pytest.mark.parametrize("call,match", [
    (lambda: tasks.adding_sample(5), r"T must be an integer >= 10, got 5"),
    (lambda: tasks.sine_sample(0), r"T must be an integer >= 1, got 0"),
    (lambda: tasks.sine_sample(10, period=0), r"period must be a positive number"),
    (lambda: tasks.noise_sample(10, batch=0), r"batch must be a positive integer"),
])
def test_task_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
