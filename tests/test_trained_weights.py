"""Trained weights on the pages: gallery models, a user's uploaded file (each layout, each bad kind), a
session's run, and PyTorch's states from weights saved in PyTorch's layout."""

import io
import json
import re

import numpy as np
import pytest
import safetensors.numpy
from streamlit.testing.v1 import AppTest

from rnnviz import gallery, tasks
from rnnviz import trained as tr
from rnnviz.config import Config
from rnnviz.studies import bptt, step
from rnnviz.studies import stack as stack_study
from rnnviz.training import RunConfig, train
from rnnviz.ui import weights as weights_ui
from rnnviz.weights import CONVERT_TO_SAFETENSORS, MAX_FILE_BYTES

from .conftest import ROOT, blocks, charts, open_app, settle, title_of
from .test_clipping_page import warm  # noqa: F401  (a fixture: the server's runs, the presets kept)
from .test_url_safety import HOSTILE, assert_literal, notes, page_view_ok

torch = pytest.importorskip("torch")

PAGES = ["pages/1_Step_through.py", "pages/2_Backprop_through_time.py"]
VOCAB = list("abc d")


def torch_model(kind="lstm", I=5, H=6, seed=0, num_layers=1, bidirectional=False):
    torch.manual_seed(seed)
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    return module(I, H, num_layers=num_layers, bidirectional=bidirectional).double()


def state_dict_file(model, readout=None, vocab=None, prefix="rnn.") -> bytes:
    """A .safetensors file of a model's state_dict in PyTorch's layout, saved as the README says."""
    from safetensors.torch import save

    tensors = {prefix + k: v.detach().float() for k, v in model.state_dict().items()}
    if readout is not None:
        tensors |= {"fc.weight": readout.weight.detach().float(), "fc.bias": readout.bias.detach().float()}
    return save(tensors, metadata={"vocab": json.dumps(vocab)} if vocab is not None else None)


# --- gallery models on every page -----------------------------------------------------------------


@pytest.mark.parametrize("name", list(gallery.GALLERY))
@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_every_gallery_model_and_says_what_it_was_trained_on(page, name):
    at = open_app(page, weights=name)
    assert not at.exception and not at.error
    note = [c.value for c in at.caption if c.value.startswith("**Trained weights")]
    assert note and "trained on" in note[0] and "Random weights" not in " ".join(c.value for c in at.caption)
    assert at.query_params["weights"] == name
    assert at.sidebar.selectbox(key="weights").value == name


def test_step_through_shows_the_watched_unit_and_the_readouts_prediction():
    at = open_app(PAGES[0], weights="lstm-brackets")
    titles = [title_of(c) for c in charts(at)]
    assert any("unit to watch" in t for t in titles) and any("readout predicts" in t for t in titles)
    model = gallery.load("lstm-brackets")
    watch = next(c for c in charts(at) if "unit to watch" in title_of(c))
    c = model.run(model.sample()).c[:, 7]
    np.testing.assert_allclose(watch["data"][0]["y"], c, rtol=1e-6)


@pytest.mark.parametrize("page", ["app.py", "pages/3_Clipping_and_training.py"])
def test_pages_without_the_scenario_keep_a_gallery_link(page):
    at = open_app(None if page == "app.py" else page, weights="lstm-recall")
    assert not at.exception and not at.error
    assert at.query_params["weights"] == "lstm-recall"


def test_an_unknown_model_is_a_note_and_random_weights():
    at = open_app(PAGES[0], weights="lstm-nonsense")
    assert not at.exception and not at.error
    assert any("weights=" in i.value and "lstm-nonsense" in i.value for i in at.info)
    assert any(c.value.startswith("**Random weights") for c in at.caption)


def test_a_link_with_its_own_text_keeps_it():
    at = open_app(PAGES[0], weights="lstm-brackets", text="((a))")
    assert not at.exception and not at.error
    assert at.sidebar.text_area(key="text").value == "((a))"


def test_text_the_model_cannot_read_is_a_message():
    at = open_app(PAGES[0], weights="lstm-brackets", text="hello")
    assert not at.exception
    assert any("may hold only" in e.value for e in at.error)


def test_choosing_a_model_in_the_sidebar_brings_its_cell_size_and_input():
    at = open_app(PAGES[0])
    at.sidebar.selectbox(key="weights").set_value("gru-order").run()
    assert not at.exception and not at.error
    assert at.query_params["weights"] == "gru-order"
    assert at.query_params["cell"] == "gru" and at.query_params["hidden"] == "32"
    assert at.query_params["source"] == "task" and at.query_params["task"] == "temporal_order"
    at.sidebar.selectbox(key="weights").set_value("random").run()
    assert "weights" not in at.query_params
    assert any(c.value.startswith("**Random weights") for c in at.caption)


def test_gallery_studies_are_cached_under_the_models_name():
    cfg = Config(weights="lstm-order", source="task", length=50, seed=3)
    a, b = step.build(cfg), step.build(cfg.with_(weights="gru-order"))
    assert a.config != b.config and hash(a.config) != hash(b.config)
    assert a.config.cell == "lstm" and b.config.cell == "gru"


def test_the_rnn_fails_where_the_lstm_learns_on_the_backprop_page():
    study = bptt.build(Config(weights="rnn-order", source="task", length=50, seed=3), "last")
    assert set(study.others) == {"lstm", "gru"}
    h = study.h_norms
    assert np.log10(h["rnn-tanh"][0] / h["rnn-tanh"][-1]) < -10 < np.log10(h["lstm"][0] / h["lstm"][-1])


# --- a user's file --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_weights_saved_in_pytorchs_layout_give_pytorchs_states(kind):
    model = torch_model(kind)
    readout = torch.nn.Linear(6, len(VOCAB)).double()
    with torch.no_grad():  # the file holds float32, as PyTorch saves it: compare in float32's numbers
        for p in [*model.parameters(), *readout.parameters()]:
            p.copy_(p.float().double())
    trained = tr.from_upload(state_dict_file(model, readout, VOCAB), "mine.safetensors")
    text = "abc dcba d"
    cfg = tr.fitted(Config(source="text", text=text), trained)
    study = step.build(cfg, trained)
    xs = torch.tensor(study.sample.xs)[:, None, :]
    with torch.no_grad():
        out, _ = model(xs)
        logits = readout(out[:, 0])
    np.testing.assert_allclose(study.trace.h, out[:, 0].numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(study.prediction.y, logits.numpy(), rtol=1e-10, atol=1e-12)
    assert study.prediction.classes == tuple(VOCAB)


def test_a_gallery_file_in_pytorch_gives_the_same_states():
    model = gallery.load("lstm-brackets")
    lstm = torch.nn.LSTM(5, 8).double()
    raw = safetensors.numpy.load_file(model.path)
    lstm.load_state_dict({k.removeprefix("rnn."): torch.tensor(v, dtype=torch.float64) for k, v in raw.items()
                          if k.startswith("rnn.")})
    sample = model.sample()
    with torch.no_grad():
        out, _ = lstm(torch.tensor(sample.xs)[:, None, :])
    np.testing.assert_allclose(model.run(sample).h, out[:, 0].numpy(), rtol=1e-10, atol=1e-12)


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def engine_names_npz() -> bytes:
    rng = np.random.default_rng(0)
    return npz_bytes(weight_ih=rng.normal(size=(9, 2)), weight_hh=rng.normal(size=(9, 3)), bias_ih=np.zeros(9),
                     bias_hh=np.zeros(9))


LAYOUTS = {
    "pytorch keys, readout, vocabulary": (lambda: state_dict_file(torch_model(), torch.nn.Linear(6, 5), VOCAB),
                                          "lstm", "text"),
    "pytorch keys alone": (lambda: state_dict_file(torch_model("rnn", I=3), prefix=""), "rnn-tanh", "noise"),
    "engine names (.npz)": (engine_names_npz, "gru", "noise"),
    "two layers, bidirectional": (lambda: state_dict_file(torch_model("gru", num_layers=2, bidirectional=True),
                                                          vocab=VOCAB), "gru", "text"),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_an_uploaded_file_in_each_layout_runs_on_every_page(layout):
    make, cell, source = LAYOUTS[layout]
    data = make()
    trained, error = weights_ui.read_upload("mine.safetensors", len(data), lambda: data)
    assert error is None and trained.cell == cell and trained.best["source"] == source
    assert trained.key.startswith("upload-") and trained.key == tr.from_upload(data).key
    for page in PAGES:
        at = open_upload(page, trained)
        assert not at.exception and not at.error, layout
        assert any(c.value.startswith("**Trained weights: your file") for c in at.caption)
        assert "weights" not in at.query_params  # a file's weights never go in a link
        stacked = [i.value for i in at.sidebar.info if "show the whole stack" in i.value]
        assert bool(stacked) == trained.stacked


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_an_uploaded_stack_is_stepped_and_backpropagated_as_pytorch_runs_it(kind):
    model = torch_model(kind, num_layers=2, bidirectional=True)
    data = state_dict_file(model, vocab=VOCAB)
    trained, error = weights_ui.read_upload("stack.safetensors", len(data), lambda: data)
    assert error is None and trained.stacked
    at = open_upload(PAGES[0], trained)
    assert not at.exception and not at.error
    assert any(c.value.startswith("Layers and direction locked to the weights: 2 layers, bidirectional")
               for c in at.sidebar.caption)
    stack = [c for c in charts(at) if title_of(c).startswith("Every layer's h over time")]
    assert stack, [title_of(c) for c in charts(at)]
    # the numbers drawn are the file's stack run on the typed text, as PyTorch runs it
    cfg = tr.fitted(Config(source="text", text=trained.best["text"], weights=trained.key), trained)
    study = stack_study.build(cfg, trained)
    assert (study.L, study.D) == (2, 2)
    xs = torch.tensor(study.sample.xs, dtype=torch.float64)
    with torch.no_grad():
        out, _ = model(xs[:, None, :])
    np.testing.assert_allclose(study.trace.output, out[:, 0, :].numpy(), rtol=1e-6, atol=1e-6)  # float32 file
    at = open_upload(PAGES[1], trained)
    assert not at.exception and not at.error
    titles = [title_of(c) for c in charts(at)]
    assert any(t.startswith("Gradient reaching each layer's h") and "2-layer bidirectional" in t for t in titles)
    assert any(t.startswith("The two directions' gradients meeting") for t in titles)


def open_upload(page, trained):
    """A session that has uploaded `trained` (what the uploader's on_change leaves in the session)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state[weights_ui.UPLOAD_KEY] = trained
    at.session_state["_values"] = {"weights": weights_ui.UPLOAD, "cell": trained.cell, "hidden": trained.hidden,
                                   **trained.best}
    at.switch_page(page)
    return at.run()


def torch_pickle() -> bytes:
    buf = io.BytesIO()
    torch.save(torch_model().state_dict(), buf)
    return buf.getvalue()


def with_shape_wrong() -> bytes:
    rng = np.random.default_rng(0)
    return npz_bytes(weight_ih_l0=rng.normal(size=(12, 2)), weight_hh_l0=rng.normal(size=(12, 5)),
                     bias_ih_l0=np.zeros(12), bias_hh_l0=np.zeros(12))


def with_nan() -> bytes:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(12, 3))
    w[0, 0] = np.nan
    return npz_bytes(weight_ih_l0=rng.normal(size=(12, 2)), weight_hh_l0=w, bias_ih_l0=np.zeros(12),
                     bias_hh_l0=np.zeros(12))


BAD = {
    "a pytorch pickle": (torch_pickle, "model.pt", "never unpickles"),
    "not a weights file": (lambda: b"hello, I am text", "notes.safetensors", "not a .safetensors or .npz"),
    "wrong shapes": (with_shape_wrong, "bad.npz", "weight_hh"),
    "a missing key": (lambda: npz_bytes(weight_ih_l0=np.zeros((12, 2))), "half.npz", "weight_hh"),
    "non-finite values": (with_nan, "nan.npz", "finite"),
    "a truncated file": (lambda: state_dict_file(torch_model())[:200], "cut.safetensors", "truncated or corrupt"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_each_kind_of_bad_file_is_a_clear_message(kind):
    make, name, words = BAD[kind]
    data = make()
    trained, error = weights_ui.read_upload(name, len(data), lambda: data)
    assert trained is None and words in error, error
    if name.endswith(".pt"):
        assert CONVERT_TO_SAFETENSORS in error


def test_a_file_over_the_limit_is_refused_before_it_is_read():
    def never():
        raise AssertionError("read a file over the size limit")

    trained, error = weights_ui.read_upload("big.safetensors", MAX_FILE_BYTES + 1, never)
    assert trained is None and "size limit" in error


def test_a_bad_file_shows_its_message_and_the_page_keeps_working():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state[weights_ui.UPLOAD_ERROR_KEY] = weights_ui.read_upload("m.pt", 3, lambda: torch_pickle())[1]
    at.switch_page(PAGES[0])
    at.run()
    assert not at.exception
    assert any("rnnviz cannot use this file" in e.value for e in at.sidebar.error)
    assert any(CONVERT_TO_SAFETENSORS in c.value for c in at.sidebar.code)
    assert charts(at)  # the page still draws, with random weights


def test_a_file_with_markup_in_its_key_names_is_shown_literally():
    data = npz_bytes(**{"<img src=x>.weight_ih_l0": np.zeros((12, 2))})
    _, error = weights_ui.read_upload("x.npz", len(data), lambda: data)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state[weights_ui.UPLOAD_ERROR_KEY] = error
    at.switch_page(PAGES[0])
    at.run()
    shown = [e.value for e in at.sidebar.error]
    assert shown and "\\<img" in shown[0] and not re.search(r"(?<!\\)<img", shown[0])  # escaped, never markup


# --- a run of this session ------------------------------------------------------------------------


def test_a_finished_run_opens_on_the_other_pages():
    run = train(RunConfig(cell="lstm", hidden=4, task="brackets", length=12, updates=3, optimizer="adam", lr=0.01))
    trained = tr.from_run(run, "Run 1")
    assert trained.key.startswith("run-") and trained.best["source"] == "text"
    assert tasks.brackets_from_text(trained.best["text"]).T == 12
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state[weights_ui.RUN_KEY] = trained
    at.session_state["_values"] = {"weights": weights_ui.RUN, "cell": trained.cell, "hidden": trained.hidden,
                                   **trained.best}
    at.switch_page(PAGES[0])
    at.run()
    assert not at.exception and not at.error
    assert any("trained in this session" in c.value for c in at.caption)
    assert "weights" not in at.query_params
    assert blocks(at)


def test_the_open_button_of_a_trained_run_opens_it_on_step_through(warm):  # noqa: F811
    at = open_app("pages/3_Clipping_and_training.py", tr_updates=20, tr_length=20, tr_hidden=8)
    next(b for b in at.button if b.label.startswith("Train")).click().run()
    settle(at)  # the runs train in the server's trainer; the page shows them when they are done
    opens = [b for b in at.button if b.label == "Open this model on the other pages"]
    assert len(opens) == 2 and not at.exception
    opens[1].click().run()
    assert not at.exception and not at.error
    assert any("trained in this session" in c.value for c in at.caption)
    assert at.sidebar.selectbox(key="weights").value == weights_ui.RUN
    run = at.session_state[weights_ui.RUN_KEY]
    assert run.weights.hidden_size == 8 and "clipping" in run.title
    assert "weights" not in at.query_params


def test_a_files_weights_are_not_exported_as_random_ones():
    data = state_dict_file(torch_model(), torch.nn.Linear(6, 5), VOCAB)
    at = open_upload(PAGES[0], tr.from_upload(data, "mine.safetensors"))
    assert not at.exception
    assert not [b for b in at.get("download_button")]
    assert any("never go in a link" in c.value for c in at.caption)


def test_a_gallery_link_exports_the_model_on_its_best_input():
    from rnnviz import export

    done = export.build(export.parse_link("Step_through?weights=lstm-brackets"))
    assert done.view.scenario.startswith("lstm-brackets-text-")
    assert any(item.name == "step-watch" for item in done.view.sections["figures"])


@pytest.mark.parametrize("value", list(HOSTILE))
def test_a_hostile_weights_value_is_one_literal_note_and_random_weights(value):
    """weights= is a public URL name (tests/test_url_safety.py's rules for the others)."""
    at = open_app(PAGES[0], weights=HOSTILE[value])
    page_view_ok(at, "step")
    boxes = notes(at)
    assert len(boxes) == 1 and "weights" in boxes[0], boxes
    assert_literal(boxes[0])
    assert "weights" not in at.query_params
    assert any(c.value.startswith("**Random weights") for c in at.caption)
