"""An uploaded PyTorch stack (nn.LSTM / nn.GRU with num_layers=2, bidirectional=True, saved by torch) drives
Step through and Backprop through time as the Layers and Direction controls do, with PyTorch's numbers;
the pages that run one layer of random weights say plainly that they do not run it."""

import json

import numpy as np
import pytest

from rnnviz import trained as tr
from rnnviz.studies import stack as stack_studies
from rnnviz.ui import weights as weights_ui

from .conftest import charts, title_of
from .test_trained_weights import open_upload

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("fresh_cache")

STEP, BPTT = "pages/1_Step_through.py", "pages/2_Backprop_through_time.py"
VOCAB = list("abc d")
I, H, L = len(VOCAB), 4, 2
MODULES = {"lstm": (torch.nn.LSTM, torch.nn.LSTMCell), "gru": (torch.nn.GRU, torch.nn.GRUCell)}


def torch_stack(kind: str, seed: int = 3):
    """A 2-layer bidirectional module and a readout of its output (float64), as a user would have them."""
    torch.manual_seed(seed)
    return MODULES[kind][0](I, H, num_layers=L, bidirectional=True).double(), torch.nn.Linear(2 * H, I).double()


def saved_by_torch(model, fc) -> bytes:
    """The state_dict of a model holding `rnn` and `fc`, saved by safetensors.torch as the README says."""
    from safetensors.torch import save

    state = torch.nn.ModuleDict({"rnn": model, "fc": fc}).state_dict()
    return save(dict(state), metadata={"vocab": json.dumps(VOCAB)})


def unrolled(kind: str, model, fc, xs: np.ndarray, target: int):
    """PyTorch's stack unrolled step by step with its own cells (weights copied from the module), every h_t kept
    with retain_grad; loss: cross-entropy of the readout on the last step's output. Returns (output (T, 2H),
    {(layer, direction): h (T, H)}, {(layer, direction): ||dL/dh_t|| (T,)}, dL/dx (T, I))."""
    T = xs.shape[0]
    x = torch.tensor(xs, requires_grad=True)
    below, hs = x, {}
    for layer in range(L):
        outs = []
        for d, suffix in enumerate(("", "_reverse")):
            cell = MODULES[kind][1](below.shape[1], H).double()
            cell.load_state_dict({name: getattr(model, f"{name}_l{layer}{suffix}")
                                  for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
            h = torch.zeros(1, H, dtype=torch.float64)
            c = torch.zeros(1, H, dtype=torch.float64)
            steps = [None] * T
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                if kind == "lstm":
                    h, c = cell(below[t : t + 1], (h, c))
                else:
                    h = cell(below[t : t + 1], h)
                h.retain_grad()
                steps[t] = h
            hs[layer, d] = steps
            outs.append(torch.cat(steps))  # (T, H) in the sequence's order
        below = torch.cat(outs, dim=1)  # (T, 2H): the layer above reads both directions side by side
    loss = torch.nn.functional.cross_entropy(fc(below[-1:]), torch.tensor([target]))
    loss.backward()
    norms = {key: np.array([float(h.grad.norm()) for h in steps]) for key, steps in hs.items()}
    states = {key: torch.cat(steps).detach().numpy() for key, steps in hs.items()}
    return below.detach().numpy(), states, norms, x.grad.numpy()


def uploaded(kind: str):
    model, fc = torch_stack(kind)
    data = saved_by_torch(model, fc)
    trained, error = weights_ui.read_upload("stack.safetensors", len(data), lambda: data)  # the uploader's reader
    assert error is None, error
    return model, fc, trained


def private_study(at, kind_of_study):
    """The study the page computed for the uploaded weights, from the session's own store."""
    store = at.session_state[weights_ui.STUDIES_KEY]
    return next(v for v in store.values() if isinstance(v, kind_of_study))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_step_through_shows_every_layer_and_direction_of_an_uploaded_stack_with_pytorchs_states(kind):
    model, fc, trained = uploaded(kind)
    assert (trained.weights.num_layers, trained.weights.bidirectional, trained.stacked) == (2, True, True)
    at = open_upload(STEP, trained)
    assert not at.exception and not at.error
    # the Layers and Direction controls show the file's stack, greyed out, and say why
    layers, direction = at.sidebar.slider(key="_locked_layers"), at.sidebar.radio(key="_locked_direction")
    assert (layers.value, direction.value) == (2, "bidirectional") and layers.proto.disabled and direction.proto.disabled
    assert any(c.value.startswith("Layers and direction locked to the weights: 2 layers, bidirectional, as the file "
                                  "holds them") for c in at.sidebar.caption)
    study = private_study(at, stack_studies.StackStudy)
    xs = study.sample.xs
    out, states, _, _ = unrolled(kind, model, fc, xs, int(study.sample.targets[-1]))
    with torch.no_grad():
        module_out, _ = model(torch.tensor(xs)[:, None, :])
    np.testing.assert_allclose(out, module_out[:, 0].numpy(), rtol=1e-12, atol=1e-14)  # the unrolled oracle is nn's
    np.testing.assert_allclose(study.trace.output, out, rtol=1e-10, atol=1e-12)  # the page's numbers, float64
    for key, h in states.items():
        np.testing.assert_allclose(study.h(*key), h, rtol=1e-10, atol=1e-12)
    # what is drawn: the whole stack at step t (both directions of both layers), float32 as the browser gets it
    T = study.T
    for t in (1, T):
        spec = next(c for c in charts(at, t) if title_of(c).startswith(f"2-layer bidirectional {kind.upper()} at "))
        drawn = {d["name"]: np.asarray(d["z"], dtype=float).ravel() for d in spec["data"] if d["type"] == "heatmap"}
        assert set(drawn) == {"x", "h_l0_d0", "h_l0_d1", "h_l1_d0", "h_l1_d1"}
        for (layer, d), h in states.items():
            np.testing.assert_allclose(drawn[f"h_l{layer}_d{d}"], h[t - 1], rtol=1e-6, atol=1e-7)
    titles = [title_of(c) for c in charts(at)]
    assert "Every layer's h over time (units × steps)" in titles


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_backprop_shows_every_layers_gradient_and_both_directions_equal_to_pytorchs(kind):
    model, fc, trained = uploaded(kind)
    at = open_upload(BPTT, trained)
    assert not at.exception and not at.error
    grads = private_study(at, stack_studies.StackGradients)
    sample = grads.study.sample
    _, _, norms, dxs = unrolled(kind, model, fc, sample.xs, int(sample.targets[-1]))
    # the file's readout (O = 5 = the vocabulary, reading 2H) is the loss's, not a random one: its logits, and
    # every gradient below, are fc's
    with torch.no_grad():
        logits = fc(torch.tensor(grads.study.trace.output)).numpy()
    np.testing.assert_allclose(grads.readout.y, logits, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads.backward.dxs, dxs, rtol=1e-9, atol=1e-13)
    for key, norm in norms.items():
        np.testing.assert_allclose(grads.h_norms[key], norm, rtol=1e-9, atol=1e-13)
    specs = {title_of(c): c for c in charts(at)}
    layers = specs[f"Gradient reaching each layer's h<sub>t</sub> — 2-layer bidirectional {kind.upper()}"]
    lines = {d["name"]: np.asarray(d["y"], dtype=float) for d in layers["data"]}
    assert len(lines) == 4  # 2 layers x 2 directions
    for (layer, d), norm in norms.items():
        name = f"layer {layer + 1}, {('forward →', 'reverse ←')[d]}: ||dL/dh<sub>t</sub>||"
        drawn = lines[name]
        np.testing.assert_allclose(drawn[norm > 0], norm[norm > 0], rtol=1e-6)  # float32, as the browser gets it
    meet = specs["The two directions' gradients meeting"]
    assert len(meet["data"]) == 4 and {d["yaxis"] for d in meet["data"]} == {"y", "y2"}  # one panel per layer
    assert any("layer 1's forward direction alone" in c.value for c in at.caption)


def test_a_one_layer_file_locks_the_controls_at_one_layer_one_way_and_draws_no_stack():
    torch.manual_seed(0)
    model = torch.nn.LSTM(I, H).double()
    from safetensors.torch import save

    data = save({k: v.detach() for k, v in model.state_dict().items()}, metadata={"vocab": json.dumps(VOCAB)})
    trained = tr.from_upload(data, "one.safetensors")
    at = open_upload(STEP, trained)
    assert not at.exception and not at.error
    assert at.sidebar.slider(key="_locked_layers").value == 1
    assert at.sidebar.radio(key="_locked_direction").value == "one-way"
    assert not any("2-layer" in title_of(c) or "Every layer's h" in title_of(c) for c in charts(at))
    assert not [i for i in at.sidebar.info if "layers" in i.value]


def test_the_random_weights_layers_survive_a_file_that_locks_them():
    """The locked widgets are not the Layers/Direction controls: the user's own values come back with random
    weights, and never go in the URL while the file's are shown."""
    _, _, trained = uploaded("gru")
    at = open_upload(STEP, trained)
    assert at.session_state["_values"].get("layers", 1) == 1 and "layers" not in at.query_params
    at.sidebar.selectbox(key="weights").select("random").run()
    assert not at.exception and not at.error
    assert at.sidebar.slider(key="layers").value == 1 and not at.sidebar.slider(key="layers").proto.disabled


@pytest.mark.parametrize("page,words", [
    ("pages/4_Compare_cells.py", "random weights (PyTorch's initialisation, seed 0"),
    ("pages/5_Input_and_output_setups.py", "random weights (PyTorch's initialisation, seed 0)"),
    ("pages/3_Clipping_and_training.py", "trains a one-layer, one-direction cell from PyTorch's initialisation"),
])
def test_pages_that_do_not_run_the_file_say_so(page, words):
    _, _, trained = uploaded("lstm")
    at = open_upload(page, trained)
    if "Compare" in page:  # its random cells (the gallery's trio is the other choice)
        at.radio(key="models").set_value("random").run()
    assert not at.exception and not at.error
    notes = [i.value.replace("\\", "") for i in at.info if "does not run the trained weights" in i.value]
    assert len(notes) == 1 and "your file stack.safetensors" in notes[0] and words in notes[0], notes
    assert not any(c.value.startswith("**Trained weights") for c in at.caption)  # nothing claims the file runs here


def test_the_truncated_gradient_of_a_file_stays_in_its_session():
    from rnnviz.ui import cache

    _, _, trained = uploaded("gru")
    at = open_upload(BPTT, trained)
    at.segmented_control(key="window").set_value("2").run()
    assert not at.exception and not at.error
    store = at.session_state[weights_ui.STUDIES_KEY]
    assert any(type(v).__name__ == "Truncation" for v in store.values())  # computed, and kept in the session
    assert not any(trained.key in repr(key) for key in cache.STUDIES._entries)  # never in the shared cache
