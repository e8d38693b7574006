"""Stacked and bidirectional layers on the pages: the layers and direction controls, the Step and Backprop
pages at several layers and both directions, and the Setups page and its control."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
import pytest

from rnnviz import ui
from rnnviz.config import DEFAULT, PARAMS, Config, check_param, from_query, slug
from rnnviz.figures import setups as setups_fig
from rnnviz.figures import stack as stack_fig
from rnnviz.setups import SETUPS
from rnnviz.stack import bptt_stack, forward_stack
from rnnviz.studies import setups as setups_study
from rnnviz.studies import stack as stack_study
from rnnviz.ui.pages import PAGES

from .conftest import charts, elements, open_app

pytestmark = pytest.mark.usefixtures("fresh_cache")

STEP, BPTT, SETUPS_PAGE = PAGES["step"].file, PAGES["bptt"].file, PAGES["setups"].file
TEXT = "the cat sat"


def titles(at) -> list[str]:
    return [c["layout"]["title"]["text"] for c in charts(at)]


def names(at) -> list[str]:
    return [item.get("filename", "") for e in elements(at) for item in e.items]


# --- the controls and the config -----------------------------------------------------------------------


def test_defaults_are_one_one_way_layer_and_leave_the_scenario_name_as_it_was():
    assert (DEFAULT.layers, DEFAULT.direction, DEFAULT.stacked) == (1, "one-way", False)
    assert slug(Config()) == "lstm-h8-text-hello_world-s0"
    assert slug(Config(layers=3, direction="bidirectional")) == "lstm-h8-text-hello_world-L3-bi-s0"
    assert hash(Config(layers=2)) != hash(Config()) and Config(layers=2) == Config(layers=2)


@pytest.mark.parametrize("raw,value,noted", [("3", 3, False), ("9", 4, True), ("0", 1, True), ("2.4", 2, True),
                                             ("abc", 1, True), ("", 1, True), ("nan", 1, True)])
def test_layers_from_a_link_are_checked(raw, value, noted):
    got, note = check_param("layers", raw, PARAMS["layers"])
    assert got == value and (note is not None) == noted


@pytest.mark.parametrize("raw,value,noted", [("bidirectional", "bidirectional", False), ("Bidirectional",
                         "bidirectional", False), ("one-way", "one-way", False), ("both", "one-way", True),
                         ("<b>x</b>", "one-way", True)])
def test_direction_from_a_link_is_checked(raw, value, noted):
    got, note = check_param("direction", raw, PARAMS["direction"])
    assert got == value and (note is not None) == noted


def test_a_link_with_layers_and_direction_sets_the_sidebar_and_stays_in_the_url():
    at = open_app(STEP, layers="3", direction="bidirectional", text=TEXT)
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key="layers").value == 3 and at.radio(key="direction").value == "bidirectional"
    assert at.query_params["layers"] == "3" and at.query_params["direction"] == "bidirectional"
    at.slider(key="layers").set_value(2).run()
    at.radio(key="direction").set_value("one-way").run()
    assert at.query_params["layers"] == "2" and "direction" not in at.query_params  # a default leaves the URL
    assert "2-layer LSTM at step t = 1 of 11" in titles(at)
    at.slider(key="layers").set_value(1).run()
    assert "layers" not in at.query_params and not any("-layer" in t for t in titles(at))


def test_the_controls_survive_a_page_switch():
    at = open_app(STEP, layers="2", direction="bidirectional", text=TEXT)
    at.switch_page(BPTT).run()
    assert not at.exception
    assert at.slider(key="layers").value == 2 and at.query_params["direction"] == "bidirectional"
    assert any(t.startswith("Gradient reaching each layer's h") for t in titles(at))


@pytest.mark.parametrize("query,note", [({"layers": "99"}, "layers=99 is outside 1–4; using 4."),
                                        ({"layers": "two"}, "layers=two is not a number; using 1."),
                                        ({"direction": "sideways"}, "direction=sideways is not one of")])
def test_a_bad_layers_or_direction_value_gives_one_note_and_a_working_page(query, note):
    at = open_app(STEP, text=TEXT, **query)
    assert not at.exception, [e.value for e in at.exception]
    boxes = [i.value for i in at.info if i.value.startswith("**This link had values")]
    assert len(boxes) == 1 and note in boxes[0].replace("\\", ""), boxes
    assert charts(at)


def test_one_one_way_layer_draws_exactly_what_the_pages_drew_before():
    plain, explicit = open_app(STEP, text=TEXT), open_app(STEP, text=TEXT, layers="1", direction="one-way")
    assert titles(plain) == titles(explicit) and not any("-layer" in t for t in titles(plain))
    assert not any("stack" in n for n in names(plain))
    bptt = open_app(BPTT, text=TEXT)
    assert not any("each layer" in t for t in titles(bptt))


# --- Step through at several layers and both directions ------------------------------------------------


@pytest.mark.parametrize("layers,direction", [(2, "one-way"), (3, "one-way"), (2, "bidirectional"),
                                              (3, "bidirectional"), (1, "bidirectional")])
def test_step_page_draws_every_layers_state_at_t_as_the_engine_computes_it(layers, direction):
    at = open_app(STEP, text=TEXT, layers=str(layers), direction=direction, t="4")
    assert not at.exception, [e.value for e in at.exception]
    cfg = Config(text=TEXT, layers=layers, direction=direction)
    study = stack_study.build(cfg)
    D = cfg.num_directions
    for t in (4, 9):
        stack = next(c for c in charts(at, t) if f"-layer{' bidirectional' * (D == 2)} LSTM at step t = {t} of"
                     in c["layout"]["title"]["text"])
        strips = {tr["name"]: np.asarray(tr["z"], dtype=float)[0] for tr in stack["data"] if tr["type"] == "heatmap"}
        assert set(strips) == {"x", *(f"h_l{l}_d{d}" for l in range(layers) for d in range(D))}
        # an arrow into each state from what it reads: x_t for layer 1, every direction of the layer below
        arrows = next(tr for tr in stack["data"] if tr["name"] == "arrows")
        assert np.isnan(np.asarray(arrows["x"], dtype=float)).sum() == D + (layers - 1) * D * D
        for (l, d), tr in study.trace.layers.items():
            np.testing.assert_allclose(strips[f"h_l{l}_d{d}"], tr.h[t - 1], rtol=1e-6, atol=1e-7)
        texts = [a.get("text", "") for a in stack["layout"]["annotations"]]
        if D == 2:  # the reverse direction of layer 1 has read t..T at step t
            assert any(f"has read x<sub>{study.T}</sub> … x<sub>{t}</sub>" in text for text in texts)
    # the stack's layer 1 forward direction is the detailed cell the page draws below it
    np.testing.assert_allclose(study.trace.layers[0, 0].h, ui.cached_step_study(cfg).trace.h)


def test_the_stack_over_time_shades_what_each_direction_has_read():
    study = stack_study.build(Config(text=TEXT, layers=2, direction="bidirectional"))
    h = {key: tr.h for key, tr in study.trace.layers.items()}
    fig = stack_fig.stack_over_time(h, study.step_labels)
    at5 = fig.at(5).to_dict()["layout"]["shapes"]
    bands = [s for s in at5 if s["name"] == "cursor-read"]
    assert len(bands) == 4
    # rows top layer first: forward bands end at t + 0.5, reverse bands start at t - 0.5
    assert [(b["x0"], b["x1"]) for b in bands] == [(0.5, 5.5), (4.5, study.T + 0.5)] * 2
    for key in h:  # and the band matches the inputs the engine finds reaching layer 1's states
        if key[0] == 0:
            reach = np.flatnonzero(stack_study.inputs_reaching(study, 0, key[1], 5)) + 1
            assert (reach.min(), reach.max()) == ((1, 5) if key[1] == 0 else (5, study.T))


def test_step_page_reports_a_lower_layer_that_overflows(monkeypatch):
    # Within the app's ranges a stack stays finite, so build one that does not: layer 1's W_hh = 1e100
    # overflows at step 5 (as tests/test_pages.py does for one layer). The page says so and keeps working.
    original = stack_study.build

    def exploding(cfg):
        s = original(cfg)
        params = dict(s.params, weight_hh_l0=np.eye(cfg.hidden) * 1e100)
        return replace(s, params=params, trace=forward_stack("rnn", params, s.sample.xs + 1.0, nonlinearity="relu"))

    monkeypatch.setattr(stack_study, "build", exploding)
    at = open_app(STEP, cell="rnn-relu", source="sine", length="12", hidden="4", layers="2")
    assert not at.exception, [e.value for e in at.exception]
    assert any("In the stack, layer 1 exploded at step 5" in e.value for e in at.error), [e.value for e in at.error]
    assert len(charts(at)) == 6  # the input, the stack (two) and the cell, its vectors and heatmaps still draw


# --- Backprop through time at several layers and both directions --------------------------------------


@pytest.mark.parametrize("layers,direction,loss", [(2, "one-way", "last"), (3, "one-way", "all"),
                                                   (2, "bidirectional", "last"), (3, "bidirectional", "all")])
def test_backprop_page_draws_each_layers_gradient_as_the_engine_computes_it(layers, direction, loss):
    at = open_app(BPTT, text=TEXT, layers=str(layers), direction=direction, loss=loss)
    assert not at.exception, [e.value for e in at.exception]
    cfg = Config(text=TEXT, layers=layers, direction=direction)
    grads = stack_study.gradients(cfg, loss)
    # the engine's own computation, directly: bptt_stack on the readout's dL/doutput
    study = grads.study
    back = bptt_stack(cfg.kind, study.params, study.sample.xs, grads.readout.dL_dh)
    norms = next(c for c in charts(at) if c["layout"]["title"]["text"].startswith("Gradient reaching each layer"))
    lines = {tr["name"]: np.asarray(tr["y"], dtype=float) for tr in norms["data"]}
    D = cfg.num_directions
    assert len(lines) == layers * D and norms["layout"]["yaxis"]["type"] == "log"
    for (l, d), bw in back.layers.items():
        expected = np.linalg.norm(bw.dh, axis=1)
        got = lines[f"{stack_fig.layer_name(l, d, D)}: ||dL/dh<sub>t</sub>||"]
        np.testing.assert_allclose(np.nan_to_num(got), expected, rtol=1e-6)  # sent as float32
    meet = [c for c in charts(at) if c["layout"]["title"]["text"] == "The two directions' gradients meeting"]
    assert len(meet) == (1 if D == 2 else 0)
    assert any("study layer 1's forward direction alone" in c.value for c in at.caption)


def test_one_bidirectional_layer_with_the_loss_at_T_sends_gradient_to_one_reverse_state_only():
    grads = stack_study.gradients(Config(source="noise", length=20, hidden=4, direction="bidirectional"), "last")
    assert np.count_nonzero(grads.h_norms[0, 1]) == 1 and grads.h_norms[0, 1][-1] > 0
    assert np.count_nonzero(grads.h_norms[0, 0]) == 20
    # with a layer above, the lower reverse direction is read at every step and receives gradient at every step
    two = stack_study.gradients(Config(source="noise", length=20, hidden=4, direction="bidirectional", layers=2),
                                "last")
    assert np.count_nonzero(two.h_norms[0, 1]) == 20


def test_the_lone_reverse_point_is_drawn_around_the_forward_one_not_under_it():
    g = stack_study.gradients(Config(source="noise", length=20, hidden=4, direction="bidirectional"), "last")
    forward, reverse = stack_fig.layer_grad_norms(g.h_norms, g.loss_steps, "LSTM").data
    assert np.count_nonzero(np.isfinite(np.asarray(reverse.y, dtype=float))) == 1  # its one state at t = T
    assert reverse.marker.symbol == "diamond-open" and reverse.marker.size > 1.5 * forward.marker.size


def test_stack_study_runs_what_the_engine_runs():
    cfg = Config(cell="gru", source="noise", length=12, hidden=3, layers=3, direction="bidirectional")
    study = stack_study.build(cfg)
    direct = forward_stack("gru", study.params, study.sample.xs)
    np.testing.assert_array_equal(study.trace.output, direct.output)
    assert sorted(study.trace.layers) == [(l, d) for l in range(3) for d in range(2)]
    assert {k: v.shape for k, v in study.params.items()}["weight_ih_l1_reverse"] == (9, 6)


@pytest.mark.parametrize("builder", [
    lambda s, g: stack_fig.stack_at_step({k: t.h for k, t in s.trace.layers.items()}, s.sample.xs, s.step_labels,
                                         "LSTM", True, s.sample.vocab).at(3),
    lambda s, g: stack_fig.stack_over_time({k: t.h for k, t in s.trace.layers.items()}, s.step_labels).at(3),
    lambda s, g: stack_fig.layer_grad_norms(g.h_norms, g.loss_steps, "LSTM", True, "layer 1 exploded at step 2"),
    lambda s, g: stack_fig.directions_meet(g.h_norms),
])
def test_stack_figures_pass_plotlys_full_validation(builder):
    cfg = Config(text=TEXT, layers=2, direction="bidirectional")
    study = stack_study.build(cfg)
    go.Figure(builder(study, stack_study.gradients(cfg, "all", study)).to_dict())


# --- the Setups page ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(SETUPS))
def test_setups_page_opens_each_setup_from_its_link(key):
    at = open_app(SETUPS_PAGE, setup=key, text=TEXT)
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params.get("setup") == (None if key == "many-to-one" else key)
    got = titles(at)
    assert got[0] == f"{SETUPS[key].label}: the unrolled graph and the gradient each h receives"
    assert got[-1] == "Which steps receive gradient, in every setup"
    run = setups_study.build(Config(text=TEXT)).runs[key]
    graph = charts(at)[0]
    received = [tr for tr in graph["data"] if tr.get("name") == "h, coloured by log10 ||dL/dh||"]
    assert len(np.asarray(received[0]["x"])) == int(run.receives.sum())
    assert any(f"{int(run.receives.sum())} of its {run.N} states receive gradient" in c.value for c in at.caption)


def test_states_without_gradient_are_hollow_not_a_grey_of_the_colour_scale():
    run = setups_study.build(Config(text=TEXT)).runs["encoder-decoder"]
    graph = charts(open_app(SETUPS_PAGE, setup="encoder-decoder", text=TEXT))[0]
    (none,) = [tr for tr in graph["data"] if tr.get("name") == "h, no gradient (hollow)"]
    assert len(none["x"]) == int((~run.receives).sum()) > 0
    assert all(symbol.endswith("-open") for symbol in none["marker"]["symbol"])


def test_the_setup_control_round_trips_through_the_url():
    at = open_app(SETUPS_PAGE, text=TEXT)
    at.segmented_control(key="setup").set_value("encoder-decoder").run()
    assert at.query_params["setup"] == "encoder-decoder"
    assert titles(at)[0].startswith("Encoder-decoder")
    at.segmented_control(key="setup").set_value("many-to-one").run()
    assert "setup" not in at.query_params


@pytest.mark.parametrize("raw", ["", "one-to-one", "<script>alert(1)</script>", "[x](//evil.co)", "x" * 5000])
def test_a_hostile_setup_gives_the_default_setup_and_one_literal_note(raw):
    at = open_app(SETUPS_PAGE, setup=raw)
    assert not at.exception, [e.value for e in at.exception]
    assert titles(at)[0].startswith("Many to one")
    boxes = [i.value for i in at.info if i.value.startswith("**This link had values")]
    assert len(boxes) == 1 and "<script>" not in boxes[0].replace("`", "").split("\u2068")[0]


def test_setups_page_follows_the_shared_scenario():
    at = open_app(SETUPS_PAGE, cell="gru", source="noise", length="25", setup="encoder-decoder")
    assert not at.exception
    graph = charts(at)[0]
    xs = [x for tr in graph["data"] if tr.get("mode") == "markers" and tr["name"].startswith("h")
          for x in np.asarray(tr["x"])]
    assert sorted(xs) == list(range(1, 51))  # 25 encoder steps, then 25 decoder steps


def test_setups_figures_pass_plotlys_full_validation():
    study = setups_study.build(Config(text=TEXT))
    for key, run in study.runs.items():
        go.Figure(setups_fig.unrolled_setup(key, run.inputs_at, run.loss_at, run.decoder, run.h_norms,
                                            study.labels(key), True).to_dict())
        go.Figure(setups_fig.setup_norms(key, run.h_norms, run.x_norms, run.inputs_at, run.loss_at).to_dict())
    go.Figure(setups_fig.compare_setups({k: r.h_norms for k, r in study.runs.items()}, SETUPS.labels()).to_dict())


def test_from_query_reads_the_new_controls():
    cfg, notes = from_query({"layers": "3", "direction": "bidirectional"})
    assert (cfg.layers, cfg.num_directions, notes) == (3, 2, [])


# --- exports --------------------------------------------------------------------------------------------


def test_exports_carry_the_stack_and_the_setups():
    from rnnviz import export

    step = export.build(export.parse_link("Step_through?layers=3&direction=bidirectional&text=abc&t=2"))
    assert [i.name for i in step.view.items][:2] == ["step-stack", "step-stack-time"] and step.t == 2
    assert "-L3-bi-" in step.view.scenario
    bptt = export.build(export.parse_link("Backprop_through_time?layers=2&direction=bidirectional&loss=all"))
    assert [i.name for i in bptt.view.items][:2] == ["bptt-stack-norms", "bptt-stack-meet"]
    one = export.build(export.parse_link("Backprop_through_time"))
    assert not any(i.name.startswith("bptt-stack") for i in one.view.items)
    setups = export.build(export.parse_link("Input_and_output_setups?setup=one-to-many&text=abcd"))
    assert [i.name for i in setups.view.items] == ["setups-graph-one-to-many", "setups-norms-one-to-many",
                                                   "setups-compare"]
    table = setups.view.tables["setups-numbers"]
    rows = table["setup"] == "one-to-many"
    assert list(table["input_enters"][rows]) == [True, False, False, False]
    assert export.main_table(setups.link) == "setups-numbers"


@pytest.mark.parametrize("layers,direction,key,expected", [
    (2, "one-way", (0, 0), range(1, 5)), (2, "one-way", (1, 0), range(1, 5)),
    (1, "bidirectional", (0, 1), range(4, 12)), (2, "bidirectional", (1, 1), range(1, 12)),
    (2, "bidirectional", (1, 0), range(1, 12))])
def test_the_inputs_reaching_a_state_follow_the_stacks_wiring(layers, direction, key, expected):
    study = stack_study.build(Config(text=TEXT, layers=layers, direction=direction))  # T = 11
    reach = stack_study.inputs_reaching(study, *key, t=4)
    assert list(np.flatnonzero(reach) + 1) == list(expected)
