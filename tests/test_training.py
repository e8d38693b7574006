"""Training: it learns, clips as PyTorch does, reports divergence, and is deterministic."""

import numpy as np
import pytest

import rnnviz
from rnnviz.training import CLIPS, RunConfig, _Optimizer, make_batch, train

LR = {"sgd": 1.0, "momentum": 0.1, "adam": 0.02}
EASY = RunConfig(task="text", length=12, hidden=16, batch=16, updates=60)


@pytest.mark.parametrize("cell", ["rnn-tanh", "rnn-relu", "lstm", "gru"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_training_lowers_the_loss_on_an_easy_task(cell, optimizer):
    run = train(EASY.with_(cell=cell, optimizer=optimizer, lr=LR[optimizer]))
    assert run.diverged_at is None and run.updates_done == 60
    assert np.mean(run.loss[-5:]) < 0.95 * np.mean(run.loss[:5])


def test_norm_clipping_statistics():
    run = train(RunConfig(cell="rnn-tanh", length=30, hidden=16, batch=8, updates=40, radius=1.3, lr=0.1,
                          clip="norm", threshold=0.5))
    assert run.clipped.any() and not run.clipped.all()
    np.testing.assert_array_equal(run.clipped, run.grad_norm > 0.5)  # clipped iff the norm exceeds tau
    assert np.all(run.clipped_norm <= 0.5 + 1e-9)
    np.testing.assert_allclose(run.clipped_norm[~run.clipped], run.grad_norm[~run.clipped])
    np.testing.assert_allclose(run.cosine, 1.0, atol=1e-12)  # norm clipping keeps the direction


def test_value_clipping_turns_the_direction():
    run = train(RunConfig(cell="rnn-tanh", length=30, hidden=16, batch=8, updates=20, radius=1.3, lr=0.1,
                          clip="value", threshold=0.01))
    assert run.clipped.all() and np.all(run.cosine < 1 - 1e-6)
    assert np.all(run.clipped_norm <= run.grad_norm + 1e-12)


def test_without_clipping_the_gradient_is_untouched():
    run = train(EASY.with_(updates=10))
    assert not run.clipped.any()
    np.testing.assert_array_equal(run.grad_norm, run.clipped_norm)


def test_divergence_is_reported_not_raised():
    run = train(RunConfig(cell="rnn-relu", length=50, hidden=32, batch=8, updates=50, radius=1.5, lr=0.5))
    assert run.diverged_at is not None and run.updates_done == run.diverged_at < 50
    assert not np.isfinite(run.loss[-1]) or not np.isfinite(run.grad_norm[-1])


def test_runs_are_deterministic_per_seed():
    a, b = train(EASY.with_(updates=15)), train(EASY.with_(updates=15))
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.h_norms_end, b.h_norms_end)
    c = train(EASY.with_(updates=15, seed=1))
    assert not np.array_equal(a.loss, c.loss)


def test_runs_with_different_clipping_see_the_same_data():
    a = train(EASY.with_(updates=5))
    b = train(EASY.with_(updates=5, clip="norm", threshold=1e-3))
    assert a.loss[0] == b.loss[0] and a.grad_norm[0] == b.grad_norm[0]  # same init, same first batch


def test_a_run_can_be_stopped_early():
    run = train(EASY, keep_going=lambda r: r.updates_done < 7)
    assert run.stopped_at == 7 and run.updates_done == 7


def test_start_and_end_gradient_profiles_are_per_step():
    run = train(EASY.with_(updates=20))
    assert run.h_norms_start.shape == run.h_norms_end.shape == (12,)
    assert not np.array_equal(run.h_norms_start, run.h_norms_end)


@pytest.mark.parametrize("task", ["adding", "memorisation", "temporal_order", "text"])
def test_every_task_makes_seeded_batches(task):
    cfg = RunConfig(task=task, length=30, batch=4)
    a, b = make_batch(cfg, 3), make_batch(cfg, 3)
    np.testing.assert_array_equal(a.xs, b.xs)
    assert a.xs.shape[:2] == (30, 4)
    assert not np.array_equal(make_batch(cfg, 4).xs, a.xs)


@pytest.mark.parametrize("field,value,match", [
    ("cell", "transformer", "cell must be"), ("lr", -1.0, "lr must be a positive number"),
    ("length", 5, "length must be an integer in 10..500"), ("clip", "both", "clip must be"),
])
def test_bad_run_configs_raise_clear_errors(field, value, match):
    with pytest.raises(ValueError, match=match):
        train(EASY.with_(**{field: value}))


def test_loss_and_bptt_equals_forward_then_bptt():
    params = rnnviz.init_params("gru", 3, 5, seed=1)
    xs = np.random.default_rng(0).normal(size=(7, 4, 3))
    upstream = np.random.default_rng(1).normal(size=(7, 4, 5))
    loss, back, extra, bad = rnnviz.engine.loss_and_bptt("gru", params, xs, lambda h: (float(np.sum(h * upstream)),
                                                                                       upstream, "x"))
    direct = rnnviz.bptt("gru", params, xs, upstream)
    trace = rnnviz.forward("gru", params, xs)
    assert loss == pytest.approx(float(np.sum(trace.h * upstream))) and extra == "x" and bad is None
    for name in params:
        np.testing.assert_allclose(back.params[name], direct.params[name], rtol=1e-12)


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam"])
def test_optimizers_follow_torch_optim(kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(3, 2))
    grads = [rng.normal(size=(3, 2)) for _ in range(5)]
    ours, w = _Optimizer(kind, 0.05, ["w"]), w0.copy()
    tw = torch.tensor(w0.copy(), requires_grad=True)
    opt = {"sgd": lambda: torch.optim.SGD([tw], lr=0.05), "momentum": lambda: torch.optim.SGD([tw], lr=0.05, momentum=0.9),
           "adam": lambda: torch.optim.Adam([tw], lr=0.05)}[kind]()
    for g in grads:
        w = w + ours.delta({"w": g})["w"]
        tw.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_train_returns_the_trained_weights_ready_to_reuse():
    cfg = EASY.with_(updates=20)
    run = train(cfg)
    probe = make_batch(cfg, 0)
    initial = rnnviz.init_params(cfg.kind, probe.xs.shape[-1], cfg.hidden, seed=cfg.seed)
    assert set(run.params) == set(initial) and set(run.readout) == {"weight_out", "bias_out"}
    assert not np.array_equal(run.params["weight_hh"], initial["weight_hh"])  # trained, not the initial weights
    # the run's final loss is the probe batch's loss with these weights
    trace = rnnviz.forward(cfg.kind, run.params, probe.xs, nonlinearity=cfg.nonlinearity)
    result = rnnviz.readout_loss(run.readout, trace.h, probe.targets, probe.loss_mask, probe.loss)
    assert result.loss == pytest.approx(run.final_loss, rel=1e-12)


def test_a_diverged_or_stopped_run_keeps_usable_weights():
    diverged = train(RunConfig(cell="rnn-relu", length=50, hidden=32, batch=8, updates=50, radius=1.5, lr=0.5))
    assert diverged.diverged_at is not None
    assert all(np.isfinite(w).all() for w in (*diverged.params.values(), *diverged.readout.values()))
    rnnviz.check_params("rnn", diverged.params)  # the engine accepts them
    stopped = train(EASY, keep_going=lambda r: r.updates_done < 3)
    three = train(EASY.with_(updates=3))
    for name in stopped.params:
        np.testing.assert_array_equal(stopped.params[name], three.params[name])


def test_every_clip_rule_returns_the_clipped_gradients_and_the_norm_before_clipping():
    # clip_grad_norm returns (clipped, norm) and clip_grad_value only the clipped gradients, as
    # PyTorch's do; training.CLIPS gives every rule the first shape, with PyTorch's numbers.
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    grads = {"w": rng.normal(size=(3, 2)) * 4, "b": rng.normal(size=3)}
    tensors = {n: torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for n, g in grads.items()}
    for name, rule in CLIPS.items():
        for n, t in tensors.items():
            t.grad = torch.from_numpy(grads[n].copy())
        params = list(tensors.values())
        if name == "norm":
            total = torch.nn.utils.clip_grad_norm_(params, 0.5)
        else:
            total = torch.nn.utils.get_total_norm([p.grad for p in params])
            if name == "value":
                torch.nn.utils.clip_grad_value_(params, 0.5)
        clipped, norm = rule.apply(grads, 0.5)
        assert norm == pytest.approx(float(total), rel=1e-14) == rnnviz.global_norm(grads.values())
        for n, t in tensors.items():
            np.testing.assert_allclose(clipped[n], t.grad.numpy(), rtol=1e-14)
