"""The Compare-cells page: its memory curves, gradients and parameter counts against direct computations,
and the page itself (AppTest): defaults, each control, hostile links, presentation mode."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

import rnnviz
from rnnviz import export, tasks
from rnnviz.cells import CELLS, KINDS
from rnnviz.config import Config, Display
from rnnviz.readout import init_readout, last_step_mask, readout_loss
from rnnviz.studies import compare
from rnnviz.studies.bptt import cell_gradients
from rnnviz.studies.step import make_sample
from rnnviz.ui.pages import PAGES
from rnnviz.views import compare as view
from rnnviz.views import numbers

from .conftest import blocks, charts, elements, open_app, title_of

PAGE = PAGES["compare"].file
HEAD = "**This link had values rnnviz could not use as they were:**"
SCENARIOS = [
    Config(),  # "hello world", H = 8, LSTM forget bias 1
    Config(source="noise", length=40, hidden=5, seed=3),
    Config(source="task", task="temporal_order", length=30, hidden=6),
    Config(cell="rnn-relu", source="sine", length=25, hidden=4, init="radius", radius=0.9),
    Config(source="task", task="adding", length=20, forget_bias="default", input_scale=2.0),
]


def direct_params(cfg: Config, cell: str, I: int) -> dict[str, np.ndarray]:
    """The weights the page should use, drawn here from the engine's public init (not the page's helper)."""
    kind = CELLS[cell].kind
    fb = float(cfg.forget_bias) if kind == "lstm" and cfg.forget_bias != "default" else None
    radius = cfg.radius if cfg.init == "radius" else None
    return rnnviz.init_params(kind, I, cfg.hidden, seed=cfg.seed, spectral_radius=radius, forget_bias=fb)


def changed_input(xs: np.ndarray, k: int, one_hot: bool) -> np.ndarray:
    """The input with step k changed, written out independently of studies.compare.perturb."""
    out = np.array(xs, dtype=float)
    if one_hot:
        j = int(np.argmax(out[k - 1] != 0))
        value = out[k - 1, j]
        out[k - 1] = 0.0
        out[k - 1, (j + 1) % out.shape[1]] = value
    else:
        out[k - 1] = out[k - 1] + 1.0 / np.sqrt(out.shape[1])
    return out


# --- the numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cfg", SCENARIOS, ids=lambda c: f"{c.cell}-{c.source}-{c.task}")
@pytest.mark.parametrize("k", [1, 4])
def test_memory_curves_equal_two_forward_runs_differenced(cfg, k):
    study = compare.build(cfg)
    mem = compare.memory(study, k)
    sample = make_sample(cfg)
    one_hot = sample.tokens is not None and sample.xs.shape[1] > 1
    xs2 = changed_input(sample.xs, k, one_hot)
    assert np.count_nonzero(np.any(xs2 != sample.xs, axis=1)) == 1  # only step k differs
    for cell in study.cells:
        kind, phi = CELLS[cell].kind, CELLS[cell].nonlinearity
        params = direct_params(cfg, cell, sample.xs.shape[1])
        first = rnnviz.forward(kind, params, sample.xs, nonlinearity=phi)
        second = rnnviz.forward(kind, params, xs2, nonlinearity=phi)
        expected = np.sqrt(((second.h - first.h) ** 2).sum(axis=1))  # (T,)
        np.testing.assert_allclose(mem.drift_h[cell], expected, rtol=1e-12, atol=0)
        assert np.all(mem.drift_h[cell][: k - 1] == 0)  # nothing changes before step k
        assert mem.drift_h[cell][k - 1] > 0  # the change reaches h_k
        if kind == "lstm":
            np.testing.assert_allclose(mem.drift_c[cell], np.sqrt(((second.c - first.c) ** 2).sum(axis=1)),
                                       rtol=1e-12, atol=0)
    assert set(mem.drift_c) == {c for c in study.cells if CELLS[c].kind == "lstm"}


def test_the_rnn_forgets_faster_than_the_lstm_with_the_default_random_weights():
    # what the page says it shows: on the defaults, the LSTM keeps a larger share of the change than the RNN
    study = compare.build(Config())
    mem = compare.memory(study, 1)
    rnn, lstm = "rnn-tanh", "lstm"
    assert mem.kept(lstm) > 10 * mem.kept(rnn)
    assert mem.drift_h[rnn][-1] < mem.drift_h[lstm][-1]


@pytest.mark.parametrize("cfg", SCENARIOS[:3], ids=lambda c: c.source)
def test_gradient_norms_equal_the_engines_bptt_and_the_backprop_pages(cfg):
    study = compare.build(cfg)
    sample = make_sample(cfg)
    readout = init_readout(cfg.hidden, sample.n_out, seed=cfg.seed)
    for cell, run in study.cells.items():
        kind, phi = CELLS[cell].kind, CELLS[cell].nonlinearity
        params = direct_params(cfg, cell, sample.xs.shape[1])
        h = rnnviz.forward(kind, params, sample.xs, nonlinearity=phi).h
        loss = readout_loss(readout, h, sample.targets, last_step_mask(sample.T), sample.loss)
        back = rnnviz.bptt(kind, params, sample.xs, loss.dL_dh, nonlinearity=phi)
        np.testing.assert_allclose(run.h_norms, np.linalg.norm(back.dh, axis=1), rtol=1e-12, atol=0)
        np.testing.assert_allclose(run.h_norms, cell_gradients(cfg.with_(cell=cell), "last").h_norms,
                                   rtol=1e-12, atol=0)  # the Backprop page's numbers for this cell


@pytest.mark.parametrize("I, H", [(1, 1), (3, 5), (11, 8), (6, 64)])
def test_parameter_counts_equal_the_sum_of_array_sizes_and_the_formula(I, H):
    sample = tasks.noise_sample(5, input_size=I)
    runs = {cell: compare.cell_run(cell, rnnviz.init_params(CELLS[cell].kind, I, H), sample, init_readout(H, I))
            for cell in ("rnn-tanh", "lstm", "gru")}
    study = compare.CompareStudy(sample, runs, typed=False)
    for cell, run in study.cells.items():
        G = {"rnn": 1, "lstm": 4, "gru": 3}[CELLS[cell].kind]
        assert run.n_params == sum(a.size for a in run.params.values()) == H * (I + H + 2) * G
        assert run.sizes == (G, H, I)
    lines = view.count_lines(study)
    assert lines["lstm"].endswith(f"= {H} × ({I} + {H} + 2) × 4 = {H * (I + H + 2) * 4:,}")
    table = numbers.compare_cells(study)
    assert list(table["parameters (array sizes added up)"]) == list(table["H(I + H + 2) G"])


def test_a_numeric_input_is_changed_by_a_vector_of_length_one_and_a_symbol_by_the_next_symbol():
    noise = make_sample(Config(source="noise", length=6))
    p = compare.perturb(noise, 3)
    assert np.linalg.norm(p.xs[2] - noise.xs[2]) == pytest.approx(1.0)
    assert not p.symbol and np.array_equal(np.delete(p.xs, 2, 0), np.delete(noise.xs, 2, 0))
    text = make_sample(Config(text="abca"))
    p = compare.perturb(text, 3)  # "c" -> the vocabulary's next symbol, "a" (it wraps around)
    assert p.symbol and (p.was, p.now) == ("c", "a") and p.xs[2].tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"k must be a step in 1\.\.4, got 5"):
        compare.perturb(text, 5)


def test_the_engines_time_per_step_is_measured_for_each_cell():
    for cell in ("rnn-tanh", "lstm", "gru"):
        timing = compare.step_time(cell, 3, 4, steps=50)
        assert 0 < timing.forward_us < timing.bptt_us < 1e5 and timing.steps == 50


def test_the_compared_cells_follow_the_sidebars_rnn():
    assert compare.compared_cells("lstm") == ("rnn-tanh", "lstm", "gru")
    assert compare.compared_cells("rnn-relu") == ("rnn-relu", "lstm", "gru")
    assert [KINDS[CELLS[c].kind].memory_gate for c in compare.compared_cells("gru")] == [None, "f", "z"]


def test_the_gru_update_gate_near_one_keeps_h_as_the_caption_says():
    # cells.py: h_t = (1 - z) n + z h_{t-1}: with z's bias pushed to +30, h stays h_0 whatever the input
    params = rnnviz.init_params("gru", 2, 3, seed=1)
    params["bias_ih"][3:6] = 30.0  # the z block (rows r, z, n)
    h0 = np.array([0.3, -0.2, 0.5])
    tr = rnnviz.forward("gru", params, np.random.default_rng(0).normal(size=(5, 2)), h0=h0)
    np.testing.assert_allclose(tr.h[-1], h0, atol=1e-9)
    assert "z near 1 keeps the old h" in compare_caption()


def compare_caption() -> str:
    from rnnviz.figures import compare as fig
    return fig.gates_caption("LSTM", "GRU")


@pytest.mark.parametrize("present", [False, True])
def test_every_compare_figure_passes_plotlys_full_validation_and_titles_its_axes(present):
    cfg = Config(source="noise", length=12, hidden=3)
    study = compare.build(cfg)
    shown = view.build(study, compare.memory(study, 3), cfg, Display(present=present))
    figures = [item.figure.at(5) for item in shown.items if item.figure is not None]
    assert len(figures) == 3
    for fig in figures:
        go.Figure(fig.to_dict())  # raises ValueError on any invalid property
        axes = fig.to_dict()["layout"]
        x_titles = [a.get("title", {}).get("text", "") for k, a in axes.items() if k.startswith("xaxis")]
        y_titles = [a.get("title", {}).get("text", "") for k, a in axes.items() if k.startswith("yaxis")]
        assert fig.layout.title.text and any(x.startswith("step t") for x in x_titles) and all(y_titles)
        for trace in fig.data:
            assert "nan" not in str(trace.hovertemplate).lower()
            if trace.type == "heatmap":
                assert isinstance(trace.colorscale, (list, tuple)) and len(trace.colorscale) >= 5
        if present:
            assert fig.layout.font.size >= 20 and fig.layout.height <= 540
    memory, gradients, _ = figures
    assert memory.layout.yaxis.type == gradients.layout.yaxis.type == "log"


def test_log_axes_label_few_enough_decades_to_read():
    from rnnviz.figures.compare import log_dtick

    assert log_dtick([np.array([1e-3, 1.0])]) == 1
    assert log_dtick([np.array([1e-16, 10.0, 0.0, np.nan])], most=8) == 3  # zeros and NaN are not drawn
    assert log_dtick([np.array([1e-31, 1.0])], most=7) == 5 and log_dtick([]) == 1
    trio = compare.build_trained()
    mem = compare.memory(trio, trio.first_kept_step)
    shown = view.build(trio, mem, Config(), Display())
    memory = shown.items[0].figure.at(1)
    assert memory.layout.yaxis.dtick >= 2  # the RNN's change falls 16 decades before it is gone


# --- the page --------------------------------------------------------------------------------------

def assert_ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def chart(at, title: str, t: int | None = None) -> dict:
    return next(spec for spec in charts(at, t) if title in title_of(spec))


def notes(at) -> list[str]:
    return [i.value for i in at.info if i.value.startswith(HEAD)]


@pytest.mark.usefixtures("fresh_cache")
def test_the_page_draws_memory_gradients_gates_numbers_and_sizes_from_the_engine():
    at = open_app(PAGE, models="random")
    assert_ok(at)
    assert at.title[0].value == "Compare cells: RNN, LSTM and GRU"
    study = compare.build(Config())
    mem = compare.memory(study, 1)
    memory = chart(at, "How long each cell remembers a change at step 1")
    lines = {tr["name"]: tr for tr in memory["data"]}
    np.testing.assert_allclose(np.asarray(lines["LSTM: ||h′ − h||"]["y"], float), mem.drift_h["lstm"], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(lines["RNN (tanh): ||h′ − h||"]["y"], float), mem.drift_h["rnn-tanh"],
                               rtol=1e-6)
    grads = chart(at, "Gradient reaching each step")
    np.testing.assert_allclose(np.asarray(grads["data"][2]["y"], float), study.cells["gru"].h_norms, rtol=1e-6)
    gates = chart(at, "The gates that carry memory")
    np.testing.assert_allclose(np.asarray(gates["data"][0]["z"], float).T, study.cells["lstm"].trace.gates["f"],
                               rtol=1e-6)
    assert [tr["name"] for tr in gates["data"]] == ["f", "z"]
    assert [(m.label, m.value) for m in at.metric] == [("RNN (tanh): parameters", "144"), ("LSTM: parameters", "576"),
                                                      ("GRU: parameters", "432")]
    captions = " ".join(c.value for c in at.caption)
    assert "Measured on this server" in captions and "z near 1 keeps the old h" in " ".join(
        item.get("caption", "") for item in elements(at)[0].items)
    header = elements(at)[0].header
    assert header["T"] == 11 and header["control"] is True  # one step cursor for the whole view


@pytest.mark.usefixtures("fresh_cache")
def test_one_cursor_moves_every_figure_and_the_numbers_through_t():
    at = open_app(PAGE, models="random", t=4)
    assert_ok(at)
    assert elements(at)[0].header["t"] == 4
    study = compare.build(Config())
    for t in (2, 9):
        for title in ("How long each cell remembers", "Gradient reaching each step", "The gates that carry memory"):
            cursors = [s for s in chart(at, title, t)["layout"]["shapes"] if s.get("name") == "cursor"]
            assert cursors and all(s["x0"] == t for s in cursors)
        text = blocks(at, t)[0]
        assert text[0] == f"At step t = {t}, reading ‘{'hello␣world'[t - 1]}’:"
        assert f"{study.cells['lstm'].h_norms[t - 1]:.3g}" in text[2]


@pytest.mark.usefixtures("fresh_cache")
def test_moving_the_perturbation_control_recomputes_the_memory_and_keeps_it_in_the_url():
    at = open_app(PAGE, models="random")
    at.slider(key="perturb").set_value(5).run()
    assert_ok(at)
    assert at.query_params["perturb"] == "5"
    mem = compare.memory(compare.build(Config()), 5)
    memory = chart(at, "remembers a change at step 5")
    y = np.asarray(memory["data"][0]["y"], float)
    np.testing.assert_allclose(y, mem.drift_h["rnn-tanh"][4:], rtol=1e-6)  # drawn from step k on
    assert any("Step 5 reads" in m.value and "instead of" in m.value for m in at.markdown)
    at.slider(key="perturb").set_value(1).run()  # back to the default: gone from the URL
    assert "perturb" not in at.query_params


@pytest.mark.usefixtures("fresh_cache")
@pytest.mark.parametrize("value, said", [("999", "is outside 1–11; using 11."), ("abc", "is not a number"),
                                         ("2.5", "is not a whole number"), ("", "was empty"),
                                         ("<script>alert(1)</script>", "is not a number")])
def test_a_hostile_perturb_value_gives_the_normal_page_and_one_note(value, said):
    at = open_app(PAGE, models="random", perturb=value)
    assert_ok(at)
    assert charts(at) and len(notes(at)) == 1 and said in notes(at)[0]
    assert "<script>" not in "".join(m.value for m in at.markdown if not m.value.startswith(HEAD))


@pytest.mark.usefixtures("fresh_cache")
@pytest.mark.parametrize("query", [
    {"cell": "rnn-relu", "source": "noise", "length": 30, "perturb": 10},
    {"source": "task", "task": "temporal_order", "length": 40, "hidden": 16, "perturb": 7},
    {"source": "sine", "length": 12, "present": "true", "t": 12},
    {"text": "a"},  # one step: no control for k
    {"cell": "rnn-relu", "init": "radius", "radius": 2.0, "input_scale": 10, "source": "noise", "length": 200},
])
def test_the_page_runs_for_every_kind_of_input(query):
    at = open_app(PAGE, models="random", **query)
    assert_ok(at)
    assert len(charts(at)) == 3 and len(blocks(at)) == 1 and len(at.metric) == 3
    if query.get("text") == "a":
        assert not [s for s in at.slider if s.key == "perturb"]
    if query.get("cell") == "rnn-relu":
        assert at.metric[0].label == "RNN (ReLU): parameters"


@pytest.mark.usefixtures("fresh_cache")
def test_presentation_mode_renders_with_figures_that_fit_a_projector():
    at = open_app(PAGE, models="random", present="true", source="noise", length=50, hidden=32)
    assert_ok(at)
    for spec in charts(at):
        assert spec["layout"]["height"] <= 540
        assert spec["layout"]["font"]["size"] >= 20


@pytest.mark.usefixtures("fresh_cache")
def test_an_empty_text_stops_with_a_message_not_an_error():
    at = open_app(PAGE, models="random")
    at.text_area(key="text").set_value("").run()
    assert_ok(at)
    assert any("to compare the cells on it" in w.value for w in at.warning) and not charts(at)
    at.text_area(key="text").set_value("abc").run()  # and the page recovers
    assert_ok(at)
    assert len(charts(at)) == 3


@pytest.mark.usefixtures("fresh_cache")
def test_the_page_opens_on_the_trained_trio_at_its_first_symbol_and_switches_to_random_weights():
    at = open_app(PAGE)
    assert_ok(at)
    trio = compare.build_trained()
    k = trio.first_kept_step
    assert at.radio(key="models").value == "gallery" and at.slider(key="perturb").value == k
    assert trio.sample.tokens[k - 1] in ("A", "B") and "perturb" not in at.query_params  # the default
    memory = chart(at, f"remembers a change at step {k}")
    lines = {tr["name"]: np.asarray(tr["y"], float) for tr in memory["data"]}
    mem = compare.memory(trio, k)
    np.testing.assert_allclose(lines["LSTM: ||h′ − h||"], mem.drift_h["lstm"][k - 1:], rtol=1e-6)
    text = " ".join(m.value for m in at.markdown)
    assert "the LSTM changes its answer from" in text and "nothing \\(exactly 0\\)" not in text
    assert "RNN (tanh) nothing (exactly 0)" in text  # the sentence is the page's own words: no escaping
    assert "Trained by rnnviz, one recipe for all three" in " ".join(c.value for c in at.caption)
    at.radio(key="models").set_value("random").run()
    assert_ok(at)
    assert at.query_params["models"] == "random" and at.slider(key="perturb").value == 1  # k starts again
    assert elements(at)[0].header["T"] == 11  # the sidebar's "hello world"


def test_trained_memory_curves_equal_two_forward_runs_of_the_gallery_weights():
    from rnnviz import gallery

    trio = compare.build_trained()
    k = trio.first_kept_step
    mem = compare.memory(trio, k)
    xs2 = changed_input(trio.sample.xs, k, one_hot=True)  # A -> B: the order the task asks about changes
    for name in gallery.TRIO:
        model = gallery.load(name)
        first = rnnviz.forward(model.kind, model.params, trio.sample.xs)
        second = rnnviz.forward(model.kind, model.params, xs2)
        np.testing.assert_allclose(mem.drift_h[model.cell], np.linalg.norm(second.h - first.h, axis=1),
                                   rtol=1e-12, atol=0)
    # what the page shows: the trained RNN loses the change entirely, the LSTM and the GRU carry it to the end
    assert mem.drift_h["rnn-tanh"][-1] == 0 and mem.kept("lstm") > 0.5 and mem.kept("gru") > 0.5
    answers = compare.final_answers(trio, mem)
    assert answers["lstm"][0] != answers["lstm"][1] and answers["rnn-tanh"][0] == answers["rnn-tanh"][1]
    assert trio.cells["lstm"].answer_probability > 0.95 > 0.5 > trio.cells["rnn-tanh"].answer_probability


# --- export --------------------------------------------------------------------------------------------


def test_the_export_has_every_figure_and_the_numbers_at_the_links_step():
    ex = export.build(export.parse_link("Compare_cells?models=random&source=noise&length=20&perturb=4&t=6&bogus=1"))
    assert ex.t == 6 and ex.view.scenario == "h8-noise-T20-s0-k4"
    names = {item.name for item in ex.view.items}
    assert names == {"compare-memory", "compare-gradients", "compare-readings", "compare-gates"}
    table = ex.view.tables["compare-numbers"]
    mem = compare.memory(compare.build(Config(source="noise", length=20)), 4)
    np.testing.assert_array_equal(table["||h'_t - h_t|| GRU"], mem.drift_h["gru"])
    assert table["input changed (1 = yes)"].tolist() == [int(t == 4) for t in range(1, 21)]
    assert any("bogus=1 is not a setting of this page" in note for note in ex.notes)
    assert ex.link.text == "Compare_cells?source=noise&length=20&models=random&t=6&perturb=4"
    assert export.scenario_name(export.parse_link("Compare_cells?models=random&source=noise&length=20&perturb=4")) \
        == ex.view.scenario
    bad = export.build(export.parse_link("Compare_cells?models=random&perturb=50"))
    assert any(note.startswith("perturb=50 is outside 1–11") for note in bad.notes)


def test_the_export_of_the_trained_trio_names_the_models_and_the_first_symbol():
    ex = export.build(export.parse_link("Compare_cells"))
    k = compare.build_trained().first_kept_step
    assert ex.view.scenario == f"rnn-order-lstm-order-gru-order-k{k}" == export.scenario_name(ex.link)
    assert ex.view.tables["compare-numbers"]["input changed (1 = yes)"].tolist().index(1) == k - 1
    assert "each model's own trained readout" in next(i.caption for i in ex.view.items if i.name == "compare-gradients")
