"""Stacked and bidirectional layers: PyTorch's nn.RNN / nn.LSTM / nn.GRU as the oracle, in float64.

The modules run fused kernels, so the gradient reaching each layer's h_t inside the stack cannot
be read from them. For those, the same stack is unrolled in torch over nn.RNNCell / nn.LSTMCell /
nn.GRUCell, layer by layer and direction by direction, with retain_grad on every h_t and c_t; each
test first asserts that this unrolled stack IS the module (same output, h_n, c_n and gradients of
every parameter, input and initial state), and only then reads dL/dh_t and dL/dc_t off it.
"""

import numpy as np
import pytest

import rnnviz
from rnnviz.stack import stack_key

from .conftest import CASES

TOL = {"rtol": 1e-11, "atol": 1e-13}
T, I, H = 4, 2, 3


def problem(kind, L, D, batch=None, seed=0, initial=True):
    """Params, xs, h0, c0 and the three incoming gradients for a small random stack."""
    rng = np.random.default_rng(seed)
    params = rnnviz.init_stack(kind, I, H, L, D == 2, seed=seed)
    lead, states = (T,) if batch is None else (T, batch), (L * D, H) if batch is None else (L * D, batch, H)
    xs = rng.normal(size=(*lead, I))
    h0 = rng.normal(size=states) * 0.5 if initial else None
    c0 = rng.normal(size=states) * 0.5 if initial and kind == "lstm" else None
    grads = {"dL_doutput": rng.normal(size=(*lead, D * H)), "dL_dh_n": rng.normal(size=states),
             "dL_dc_n": rng.normal(size=states) if kind == "lstm" else None}
    return params, xs, h0, c0, grads


# --- the torch references -----------------------------------------------------------------------


def torch_module(torch, kind, nonlinearity, params):
    """nn.RNN / nn.LSTM / nn.GRU in float64, loaded from params by load_state_dict (same keys)."""
    L, D, input_size, hidden_size = rnnviz.check_stack_params(kind, params)
    extra = {"nonlinearity": nonlinearity} if kind == "rnn" else {}
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
        input_size, hidden_size, num_layers=L, bidirectional=D == 2, **extra).double()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()}, strict=True)
    return module


def torch_cell_stack(torch, kind, nonlinearity, params, x, h0, c0, L, D):
    """The stack unrolled over torch's cells. x (T, B, I), h0, c0 (L*D, B, H) tensors.

    Returns output (T, B, D*H), h_n, c_n, the cells by (l, d), and states[l, d] = (hs, cs): lists of
    the T tensors h_t, c_t in sequence order, each with retain_grad.
    """
    cell_type = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind]
    extra = {"nonlinearity": nonlinearity} if kind == "rnn" else {}
    inputs, cells, states, h_n, c_n = list(x), {}, {}, [], []
    for l in range(L):
        for d in range(D):
            cell = cells[l, d] = cell_type(inputs[0].shape[-1], H, **extra).double()
            with torch.no_grad():
                for name, value in rnnviz.layer_params(params, l, d).items():
                    getattr(cell, name).copy_(torch.from_numpy(value))
            h, c = h0[l * D + d], (c0[l * D + d] if kind == "lstm" else None)
            hs, cs = [None] * len(inputs), [None] * len(inputs)
            for t in range(len(inputs)) if d == 0 else reversed(range(len(inputs))):
                if kind == "lstm":
                    h, c = cell(inputs[t], (h, c))
                    c.retain_grad()
                else:
                    h = cell(inputs[t], h)
                h.retain_grad()
                hs[t], cs[t] = h, c
            states[l, d] = hs, cs
            h_n.append(h)
            c_n.append(c)
        inputs = [torch.cat([states[l, d][0][t] for d in range(D)], dim=-1) for t in range(len(inputs))]
    return torch.stack(inputs), torch.stack(h_n), (torch.stack(c_n) if kind == "lstm" else None), cells, states


def assert_matches_pytorch(kind, nonlinearity, L, D, batch, initial, loss_on, seed=0):
    """Every output and gradient of forward_stack / bptt_stack against the module and the unrolled cells."""
    torch = pytest.importorskip("torch")
    params, xs, h0, c0, grads = problem(kind, L, D, batch, seed, initial)
    if loss_on == "output":
        grads = {"dL_doutput": grads["dL_doutput"]}
    else:  # the final states only (h_n, and c_n for the LSTM)
        grads = {"dL_doutput": None, "dL_dh_n": grads["dL_dh_n"], "dL_dc_n": grads["dL_dc_n"]}
    trace = rnnviz.forward_stack(kind, params, xs, h0, c0, nonlinearity)
    back = rnnviz.bptt_stack(kind, params, xs, **grads, h0=h0, c0=c0, nonlinearity=nonlinearity)

    # torch: always a batch axis (B = 1 for one sequence), zeros for absent initial states
    x_np = xs.reshape(T, -1, I)
    states_shape = (L * D, x_np.shape[1], H)
    h0_np = np.zeros(states_shape) if h0 is None else h0.reshape(states_shape)
    c0_np = np.zeros(states_shape) if c0 is None else c0.reshape(states_shape)  # unused but by the LSTM

    def loss(output, h_n, c_n):
        total = 0.0
        if grads.get("dL_doutput") is not None:
            total = total + (output * torch.from_numpy(grads["dL_doutput"].reshape(output.shape))).sum()
        if grads.get("dL_dh_n") is not None:
            total = total + (h_n * torch.from_numpy(grads["dL_dh_n"].reshape(h_n.shape))).sum()
        if grads.get("dL_dc_n") is not None:
            total = total + (c_n * torch.from_numpy(grads["dL_dc_n"].reshape(c_n.shape))).sum()
        return total

    leaves = [torch.from_numpy(a.copy()).requires_grad_() for a in (x_np, h0_np, c0_np)]
    module = torch_module(torch, kind, nonlinearity, params)
    hx = (leaves[1], leaves[2]) if kind == "lstm" else leaves[1]
    output, final = module(leaves[0], hx)
    h_n, c_n = final if kind == "lstm" else (final, None)
    loss(output, h_n, c_n).backward()

    cell_leaves = [torch.from_numpy(a.copy()).requires_grad_() for a in (x_np, h0_np, c0_np)]
    c_output, c_h_n, c_c_n, cells, states = torch_cell_stack(torch, kind, nonlinearity, params, *cell_leaves, L, D)
    loss(c_output, c_h_n, c_c_n).backward()

    def close(ours, theirs, what):
        np.testing.assert_allclose(ours, theirs.detach().numpy().reshape(ours.shape), **TOL, err_msg=what)

    # 1. the unrolled cells are the module
    close(c_output.detach().numpy(), output, "cells: output")
    close(c_h_n.detach().numpy(), h_n, "cells: h_n")
    close(cell_leaves[0].grad.numpy(), leaves[0].grad, "cells: dL/dx")
    close(cell_leaves[1].grad.numpy(), leaves[1].grad, "cells: dL/dh0")
    for key, value in module.named_parameters():
        l, d = int(key.split("_l")[1][0]), int(key.endswith("_reverse"))
        close(getattr(cells[l, d], key.split("_l")[0]).grad.numpy(), value.grad, f"cells: {key}")

    # 2. rnnviz against the module: outputs, final states, every gradient
    close(trace.output, output, "output")
    close(trace.h_n, h_n, "h_n")
    close(back.dxs, leaves[0].grad, "dL/dxs")
    close(back.dh0, leaves[1].grad, "dL/dh0")
    if kind == "lstm":
        close(trace.c_n, c_n, "c_n")
        close(back.dc0, leaves[2].grad, "dL/dc0")
    else:
        assert trace.c_n is None and back.dc0 is None
    assert list(back.params) == list(params)
    for key, value in module.named_parameters():
        close(back.params[key], value.grad, key)

    # 3. every layer and direction, step by step, against the unrolled cells
    assert sorted(trace.layers) == sorted(back.layers) == [(l, d) for l in range(L) for d in range(D)]
    for (l, d), (hs, cs) in states.items():
        close(trace.layers[l, d].h, torch.stack(hs), f"h of layer {l}, direction {d}")
        close(back.layers[l, d].dh, torch.stack([h.grad for h in hs]), f"dL/dh_t of layer {l}, direction {d}")
        if kind == "lstm":
            close(trace.layers[l, d].c, torch.stack(cs), f"c of layer {l}, direction {d}")
            close(back.layers[l, d].dc, torch.stack([c.grad for c in cs]), f"dL/dc_t of layer {l}, direction {d}")
    assert trace.nonfinite is None and back.nonfinite is None


# --- PyTorch parity ---------------------------------------------------------------------------


@pytest.mark.parametrize("loss_on", ["output", "final states"])
@pytest.mark.parametrize("initial", [False, True], ids=["zero h0", "h0 given"])
@pytest.mark.parametrize("D", [1, 2], ids=["unidirectional", "bidirectional"])
@pytest.mark.parametrize("L", [1, 2, 3], ids=lambda L: f"{L} layers")
@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_stack_matches_pytorch_modules_in_every_output_and_gradient(kind, nonlinearity, L, D, initial, loss_on):
    assert_matches_pytorch(kind, nonlinearity, L, D, batch=None, initial=initial, loss_on=loss_on, seed=L + D)


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_batched_stack_matches_pytorch_modules(kind, nonlinearity):
    assert_matches_pytorch(kind, nonlinearity, L=2, D=2, batch=3, initial=True, loss_on="output", seed=7)
    assert_matches_pytorch(kind, nonlinearity, L=2, D=2, batch=3, initial=False, loss_on="final states", seed=8)


# --- init_stack ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_init_stack_has_the_keys_and_shapes_of_pytorchs_state_dict(kind, num_layers, bidirectional):
    torch = pytest.importorskip("torch")
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
        5, 4, num_layers=num_layers, bidirectional=bidirectional)
    params = rnnviz.init_stack(kind, 5, 4, num_layers, bidirectional, seed=3)
    assert list(params) == list(module.state_dict())  # the same keys, in the same order
    for key, value in module.state_dict().items():
        assert params[key].shape == tuple(value.shape) and params[key].dtype == np.float64, key
        assert np.all(np.abs(params[key]) <= 1 / np.sqrt(4)), key
    assert rnnviz.check_stack_params(kind, params) == (num_layers, 2 if bidirectional else 1, 5, 4)


def test_init_stack_is_seeded_and_starts_with_init_params():
    a, b, c = (rnnviz.init_stack("lstm", 3, 4, 2, True, seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["weight_hh_l1_reverse"], c["weight_hh_l1_reverse"])
    one = rnnviz.init_params("lstm", 3, 4, seed=1)
    assert all(np.array_equal(rnnviz.layer_params(a, 0, 0)[k], one[k]) for k in one)
    every = np.concatenate([v.ravel() for v in a.values()])  # spread over all of U(-1/2, 1/2)
    assert every.max() > 0.45 and every.min() < -0.45


# --- composition: one layer is the engine, a batch is its sequences ------------------------------


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_one_unidirectional_layer_is_exactly_the_single_layer_engine(kind, nonlinearity):
    params, xs, h0, c0, grads = problem(kind, L=1, D=1, seed=11)
    one = rnnviz.layer_params(params, 0, 0)
    c0_1 = None if c0 is None else c0[0]
    trace = rnnviz.forward_stack(kind, params, xs, h0, c0, nonlinearity)
    ref = rnnviz.forward(kind, one, xs, h0[0], c0_1, nonlinearity)
    np.testing.assert_array_equal(trace.output, ref.h)
    np.testing.assert_array_equal(trace.h_n, ref.h[-1:])
    for name in ("h", "c"):
        np.testing.assert_array_equal(getattr(trace.layers[0, 0], name), getattr(ref, name))
    for gate, a in ref.gates.items():
        np.testing.assert_array_equal(trace.layers[0, 0].gates[gate], a)

    back = rnnviz.bptt_stack(kind, params, xs, **grads, h0=h0, c0=c0, nonlinearity=nonlinearity)
    dL_dh = grads["dL_doutput"].copy()
    dL_dh[-1] += grads["dL_dh_n"][0]  # h_n is h_T
    dL_dc_last = None if kind != "lstm" else grads["dL_dc_n"][0]
    ref_back = rnnviz.bptt(kind, one, xs, dL_dh, h0[0], c0_1, nonlinearity, dL_dc_last=dL_dc_last)
    for name in ("dh", "dc", "dxs"):
        np.testing.assert_array_equal(getattr(back.layers[0, 0], name), getattr(ref_back, name))
    np.testing.assert_array_equal(back.dxs, ref_back.dxs)
    np.testing.assert_array_equal(back.dh0, ref_back.dh0[None])
    for name, g in ref_back.params.items():
        np.testing.assert_array_equal(back.params[stack_key(name, 0, 0)], g)


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_a_batched_stack_equals_its_sequences_one_by_one(kind, nonlinearity):
    params, xs, h0, c0, grads = problem(kind, L=2, D=2, batch=3, seed=12)
    trace = rnnviz.forward_stack(kind, params, xs, h0, c0, nonlinearity)
    back = rnnviz.bptt_stack(kind, params, xs, **grads, h0=h0, c0=c0, nonlinearity=nonlinearity)
    assert trace.output.shape == (T, 3, 2 * H) and trace.h_n.shape == back.dh0.shape == (4, 3, H)
    assert back.dxs.shape == xs.shape
    summed = dict.fromkeys(params, 0.0)
    for b in range(3):
        at_b = lambda a: None if a is None else a[:, b]  # noqa: E731  (L*D, B, H) or (T, B, ...) -> sequence b
        one = rnnviz.forward_stack(kind, params, xs[:, b], at_b(h0), at_b(c0), nonlinearity)
        one_back = rnnviz.bptt_stack(kind, params, xs[:, b], grads["dL_doutput"][:, b], at_b(grads["dL_dh_n"]),
                                     at_b(grads["dL_dc_n"]), at_b(h0), at_b(c0), nonlinearity)
        np.testing.assert_allclose(trace.output[:, b], one.output, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(trace.h_n[:, b], one.h_n, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(back.dxs[:, b], one_back.dxs, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(back.dh0[:, b], one_back.dh0, rtol=1e-12, atol=1e-14)
        if kind == "lstm":
            np.testing.assert_allclose(trace.c_n[:, b], one.c_n, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(back.dc0[:, b], one_back.dc0, rtol=1e-12, atol=1e-14)
        for key in trace.layers:
            np.testing.assert_allclose(back.layers[key].dh[:, b], one_back.layers[key].dh, rtol=1e-12, atol=1e-14)
        for key in params:
            summed[key] = summed[key] + one_back.params[key]
    for key in params:  # the batch's parameter gradient is the sum over its sequences
        np.testing.assert_allclose(back.params[key], summed[key], rtol=1e-11, atol=1e-13, err_msg=key)


# --- the reverse direction in the sequence's time order -------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_reverse_trace_step_t_reads_the_state_of_step_t_plus_1(kind):
    params, xs, h0, c0, _ = problem(kind, L=1, D=2, seed=13)
    trace = rnnviz.forward_stack(kind, params, xs, h0, c0)
    rev = trace.layers[0, 1]
    assert isinstance(rev, rnnviz.ReverseTrace) and not isinstance(trace.layers[0, 0], rnnviz.ReverseTrace)
    p = rnnviz.layer_params(params, 0, 1)
    # h_prev[t-1] = h_{t+1} (h0 at t = T), and it is what W_hh multiplies in pre_h
    np.testing.assert_array_equal(rev.h_prev, np.concatenate([rev.h[1:], h0[1][None]]))
    for k, block in enumerate(rnnviz.BLOCKS[kind]):
        rows = slice(k * H, (k + 1) * H)
        np.testing.assert_allclose(rev.pre_h[block], rev.h_prev @ p["weight_hh"][rows].T + p["bias_hh"][rows],
                                   rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(rev.pre_x[block], xs @ p["weight_ih"][rows].T + p["bias_ih"][rows],
                                   rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(trace.h_n[1], rev.h[0])  # the reverse direction ends at step 1
    np.testing.assert_array_equal(trace.output[:, H:], rev.h)
    if kind == "lstm":
        np.testing.assert_array_equal(rev.c_prev, np.concatenate([rev.c[1:], c0[1][None]]))
        np.testing.assert_allclose(rev.c, rev.gates["f"] * rev.c_prev + rev.gates["i"] * rev.gates["g"], rtol=1e-13)
    # as_run: the engine's own Trace of the cell run over the time-reversed sequence
    run = rnnviz.forward(kind, p, xs[::-1], h0[1], None if c0 is None else c0[1])
    assert type(rev.as_run()) is rnnviz.Trace
    np.testing.assert_array_equal(rev.as_run().h, run.h)
    np.testing.assert_array_equal(rev.as_run().h_prev, run.h_prev)


def test_results_are_read_only_and_inputs_unchanged():
    params, xs, h0, c0, grads = problem("lstm", L=2, D=2, seed=14)
    copies = [{k: v.copy() for k, v in params.items()}, xs.copy(), h0.copy(), {k: v.copy() for k, v in grads.items()}]
    trace = rnnviz.forward_stack("lstm", params, xs, h0, c0)
    back = rnnviz.bptt_stack("lstm", params, xs, **grads, h0=h0, c0=c0)
    for a in (trace.output, trace.h_n, trace.c_n, trace.layers[1, 1].h, back.dxs, back.dh0,
              back.params["weight_hh_l1_reverse"], back.layers[0, 1].dh):
        with pytest.raises(ValueError):
            a[0] = 1.0
    assert all(np.array_equal(params[k], copies[0][k]) for k in params)
    assert np.array_equal(xs, copies[1]) and np.array_equal(h0, copies[2])
    assert all(np.array_equal(grads[k], copies[3][k]) for k in grads)
    assert xs.flags.writeable and h0.flags.writeable and grads["dL_dc_n"].flags.writeable


# --- bad input ----------------------------------------------------------------------------------

GOOD = rnnviz.init_stack("gru", 2, 3, num_layers=2, bidirectional=True)
X = np.zeros((4, 2))


def _without(*keys):
    return {k: v for k, v in GOOD.items() if k not in keys}


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: rnnviz.forward_stack("gru", _without("bias_hh_l1_reverse"), X),
         r"params is missing \['bias_hh_l1_reverse'\] for a 2-layer bidirectional gru"),
        (lambda: rnnviz.forward_stack("gru", {k: v for k, v in GOOD.items() if "_l0" not in k}, X),
         r"params is missing \['weight_ih_l0', .*'bias_hh_l0_reverse'\]"),
        (lambda: rnnviz.forward_stack("gru", GOOD | {"weight_ih": np.zeros((9, 2))}, X),
         r"keys that name no stack parameter: \['weight_ih'\].*weight_ih_l0"),
        (lambda: rnnviz.forward_stack("gru", GOOD | {"weight_hr_l0": np.zeros((3, 3))}, X),
         r"\['weight_hr_l0'\] \(proj_size is not supported\)"),
        (lambda: rnnviz.forward_stack("gru", GOOD | {"weight_ih_l01": np.zeros((9, 6))}, X),
         r"keys that name no stack parameter: \['weight_ih_l01'\]"),
        (lambda: rnnviz.forward_stack("gru", {}, X), r"params has no stack parameter \(got keys \[\]\)"),
        (lambda: rnnviz.forward_stack("gru", [1, 2], X), r"params must be a dict .* got list"),
        (lambda: rnnviz.forward_stack("lstm", GOOD, X), r"params\['weight_ih_l0'\] must have shape \(12, 2\)"),
        (lambda: rnnviz.forward_stack("gru", GOOD | {"weight_ih_l1": np.zeros((9, 3))}, X),
         r"params\['weight_ih_l1'\] must have shape \(9, 6\) .*input size D\*H = 6, the outputs of layer 0\), got \(9, 3\)"),
        (lambda: rnnviz.forward_stack("gru", GOOD | {"bias_hh_l1": np.zeros(3)}, X),
         r"params\['bias_hh_l1'\] must have shape \(9,\)"),
        (lambda: rnnviz.forward_stack("gru", GOOD | {"bias_ih_l1": np.full(9, np.nan)}, X),
         r"params\['bias_ih_l1'\] contains inf or NaN"),
        (lambda: rnnviz.forward_stack("gru", GOOD, np.zeros((4, 5))), r"xs must have 2 features"),
        (lambda: rnnviz.forward_stack("gru", GOOD, np.zeros(4)), r"xs must have shape \(T, I\) or \(T, B, I\)"),
        (lambda: rnnviz.forward_stack("gru", GOOD, np.array([[0, 0], [np.nan, 0]])), r"xs contains NaN.*t = 2"),
        (lambda: rnnviz.forward_stack("gru", GOOD, X, h0=np.zeros((2, 3))),
         r"h0 must have shape \(4, 3\) \(num_layers \* num_directions = 4, H = 3\), got \(2, 3\)"),
        (lambda: rnnviz.forward_stack("gru", GOOD, np.zeros((4, 5, 2)), h0=np.zeros((4, 3))),
         r"h0 must have shape \(4, 5, 3\) \(num_layers \* num_directions = 4, B, H = 3\)"),
        (lambda: rnnviz.forward_stack("gru", GOOD, X, c0=np.zeros((4, 3))), r"c0 applies to kind='lstm' only"),
        (lambda: rnnviz.forward_stack("gru", GOOD, X, nonlinearity="relu6"), r"nonlinearity must be one of"),
        (lambda: rnnviz.forward_stack("gruu", GOOD, X), r"kind must be one of"),
        (lambda: rnnviz.bptt_stack("gru", GOOD, X, np.zeros((4, 3))),
         r"dL_doutput must have shape \(4, 6\) \(like output: T, \[B,\] D\*H\), got \(4, 3\)"),
        (lambda: rnnviz.bptt_stack("gru", GOOD, X, None, dL_dh_n=np.zeros((2, 3))), r"dL_dh_n must have shape \(4, 3\)"),
        (lambda: rnnviz.bptt_stack("gru", GOOD, X, None, dL_dc_n=np.zeros((4, 3))), r"dL_dc_n applies to kind='lstm'"),
        (lambda: rnnviz.init_stack("gru", 2, 3, num_layers=0), r"num_layers must be a positive integer, got 0"),
        (lambda: rnnviz.init_stack("gru", 2, 3, bidirectional="yes"), r"bidirectional must be True or False"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- overflow: reported, never raised ------------------------------------------------------------


def overflowing_stack(bidirectional):
    """A 2-layer relu RNN (I = 1, H = 2) whose layer 0 multiplies its state by 1e100 per step.

    With bias 1 and x = 0 its state is 1, 1e100 + 1, 1e200, 1e300, then inf: it overflows at the
    5th step it runs. Layer 1 is an ordinary small layer.
    """
    params = rnnviz.init_stack("rnn", 1, 2, num_layers=2, bidirectional=bidirectional, seed=15)
    for d in range(2 if bidirectional else 1):
        params[stack_key("weight_hh", 0, d)] = 1e100 * np.eye(2)
        params[stack_key("bias_ih", 0, d)] = np.ones(2)
        params[stack_key("bias_hh", 0, d)] = np.zeros(2)
    return params


def test_a_lower_layer_that_overflows_is_reported_not_raised():
    params, xs = overflowing_stack(bidirectional=False), np.zeros((7, 1))
    trace = rnnviz.forward_stack("rnn", params, xs, nonlinearity="relu")
    assert trace.nonfinite == rnnviz.NonFinite(layer=0, direction=0, step=5)
    assert trace.nonfinite_message.startswith("layer 1 exploded at step 5")
    above = trace.layers[1, 0]  # runs while its input is finite, NaN from there on
    assert np.isfinite(above.h[:4]).all() and np.isnan(above.h[4:]).all() and above.nonfinite_step == 5
    assert np.isinf(above.xs[4:]).any()  # what it was given, not the zeros it ran on
    back = rnnviz.bptt_stack("rnn", params, xs, np.ones((7, 2)), nonlinearity="relu")
    assert back.nonfinite is not None and back.nonfinite.layer == 1  # no raise; nothing here means anything
    assert np.isnan(back.params["weight_hh_l1"]).all()

    torch = pytest.importorskip("torch")  # before the overflow, layer 1 is PyTorch's
    module = torch_module(torch, "rnn", "relu", params)
    np.testing.assert_allclose(trace.output[:4], module(torch.from_numpy(xs))[0][:4].detach().numpy(), **TOL)


def test_an_overflowing_reverse_direction_is_named_with_its_sequence_step():
    params, xs = overflowing_stack(bidirectional=True), np.zeros((7, 1))
    params |= {"weight_hh_l0": 0.5 * np.eye(2)}  # only the reverse direction of layer 0 overflows
    trace = rnnviz.forward_stack("rnn", params, xs, nonlinearity="relu")
    # the reverse direction runs steps 7, 6, 5, 4, 3: its 5th is step 3
    assert trace.nonfinite == rnnviz.NonFinite(layer=0, direction=1, step=3)
    assert trace.nonfinite_message.startswith("layer 1 (reverse direction) exploded at step 3")
    assert np.isfinite(trace.layers[0, 1].h[3:]).all() and not np.isfinite(trace.layers[0, 1].h[:3]).all()
    # layer 1 forward reads step 1 first: NaN throughout; reverse reads steps 7..4 before the overflow
    assert np.isnan(trace.layers[1, 0].h).all() and trace.layers[1, 0].nonfinite_step == 1
    assert np.isfinite(trace.layers[1, 1].h[3:]).all() and np.isnan(trace.layers[1, 1].h[:3]).all()
    assert trace.layers[1, 1].nonfinite_step == 3

    torch = pytest.importorskip("torch")
    module = torch_module(torch, "rnn", "relu", params)
    np.testing.assert_allclose(trace.output[3:, 2:], module(torch.from_numpy(xs))[0][3:, 2:].detach().numpy(), **TOL)


def test_a_gradient_exploding_in_a_lower_layer_is_reported():
    # Layer 0: a relu RNN in its linear regime with gain 1e60 per step (state 1e-300 * 1e60^t stays
    # finite for T = 10); going back, dL/dh_t grows by 1e60 per step and overflows 6 steps back.
    params = rnnviz.init_stack("rnn", 1, 1, num_layers=2, seed=16)
    params |= {"weight_ih_l0": np.zeros((1, 1)), "weight_hh_l0": np.array([[1e60]]),
               "bias_ih_l0": np.array([1e-300]), "bias_hh_l0": np.zeros(1),
               "weight_ih_l1": np.array([[0.5]]), "weight_hh_l1": np.array([[0.5]]),
               "bias_ih_l1": np.array([0.1]), "bias_hh_l1": np.zeros(1)}
    T_long = 10
    dL_doutput = np.zeros((T_long, 1))
    dL_doutput[-1] = 1.0
    h0 = np.array([[1e-300], [0.0]])
    assert rnnviz.forward_stack("rnn", params, np.zeros((T_long, 1)), h0, nonlinearity="relu").nonfinite is None
    back = rnnviz.bptt_stack("rnn", params, np.zeros((T_long, 1)), dL_doutput, h0=h0, nonlinearity="relu")
    assert np.isfinite(back.layers[1, 0].dh).all()
    assert back.nonfinite == rnnviz.NonFinite(layer=0, direction=0, step=T_long - 6)
    assert back.nonfinite_message.startswith("layer 1: the gradient exploded at step 4")
    assert np.isfinite(back.layers[0, 0].dh[T_long - 6]).all() and not np.isfinite(back.layers[0, 0].dh[T_long - 7]).all()
