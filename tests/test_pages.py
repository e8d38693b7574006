"""Pages driven headlessly by streamlit.testing.v1.AppTest: defaults, controls, URLs, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rnnviz
from rnnviz import ui
from rnnviz.config import Config
from rnnviz.studies import step
from rnnviz.studies.step import build as build_scenario
from rnnviz.ui.pages import PAGES

from .conftest import open_app
from .test_figures import array

STEP = PAGES["step"].file
pytestmark = pytest.mark.usefixtures("fresh_cache")


def assert_ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def cell_title(at) -> str:
    return json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"]


def test_home_page_has_a_card_per_lesson_linking_to_step_through():
    at = open_app()
    assert_ok(at)
    assert "see inside a recurrent neural network" in at.title[0].value
    links = at.get("page_link")
    assert sum("Open in Step through" in link.proto.label for link in links) == 4
    assert sum("Open in Backprop through time" in link.proto.label for link in links) == 4
    assert sum("Open in Clipping and training" in link.proto.label for link in links) == 2


@pytest.mark.parametrize("cell", ["rnn-tanh", "rnn-relu", "lstm", "gru"])
@pytest.mark.parametrize("source", ["text", "sine", "noise", "task"])
def test_step_through_runs_for_every_cell_and_input(cell, source):
    at = open_app(STEP, cell=cell, source=source, hidden=6, length=15)
    assert_ok(at)
    charts = at.get("plotly_chart")
    assert len(charts) == (4 if source == "text" else 3)
    assert len(at.latex) >= 1
    assert "step t = 1 of" in cell_title(at)


@pytest.mark.parametrize("task", ["adding", "temporal_order", "memorisation"])
def test_every_task_sample_runs(task):
    at = open_app(STEP, cell="lstm", source="task", task=task, length=20)
    assert_ok(at)
    assert "of 20" in cell_title(at)


def test_moving_t_updates_the_charts_and_the_equations():
    at = open_app(STEP, cell="lstm", hidden=4)
    at.slider(key="t").set_value(6).run()
    assert_ok(at)
    assert "step t = 6 of 11, reading ' '" in cell_title(at)  # "hello world"[5]
    sc = build_scenario(Config(cell="lstm", hidden=4))
    h = float(sc.trace.h[5, 0])
    assert any(f"{h:.3g}" in latex.value for latex in at.latex)


def test_next_and_previous_buttons_move_one_step_within_bounds():
    at = open_app(STEP, t=11)
    at.button(key="t_next").click().run()
    assert "step t = 11 of 11" in cell_title(at)
    at.button(key="t_prev").click().run()
    assert "step t = 10 of 11" in cell_title(at)


def test_the_url_restores_the_whole_view():
    at = open_app(STEP, cell="gru", source="task", task="adding", length=24, hidden=6, t=9, unit=3,
                   present="true", init="radius", radius="0.5", seed=7)
    assert_ok(at)
    assert "GRU cell at step t = 9 of 24" in cell_title(at)
    assert at.slider(key="hidden").value == 6 and at.slider(key="unit").value == 3
    assert at.toggle(key="present").value is True and at.slider(key="radius").value == 0.5
    assert at.number_input(key="seed").value == 7
    # and the URL keeps what the controls show, so a copied link reopens the same view
    assert at.query_params["cell"] == "gru" and at.query_params["t"] == "9"


def test_changing_a_control_writes_it_to_the_url():
    at = open_app(STEP)
    at.selectbox(key="cell").set_value("gru").run()
    at.slider(key="t").set_value(3).run()
    assert at.query_params["cell"] == "gru" and at.query_params["t"] == "3"
    at.selectbox(key="cell").set_value("lstm").run()  # back to the default: gone from the URL
    assert "cell" not in at.query_params


@pytest.mark.parametrize("query,note", [
    ({"cell": "foo"}, "cell=foo is not one of"),
    ({"t": "-5"}, "t=-5 is outside 1–11; using 1"),
    ({"hidden": "100000"}, "hidden=100000 is outside 1–64; using 64"),
    ({"seed": "abc"}, "seed=abc is not a number"),
    ({"text": "y" * 10_000}, "kept the first 500"),
    ({"radius": "inf", "init": "radius"}, "not a finite number"),
    ({"unit": "99"}, "unit=99 is outside 0–7; using 7"),
])
def test_bad_url_values_fall_back_with_a_visible_note(query, note):
    at = open_app(STEP, **query)
    assert_ok(at)
    assert any(note in info.value for info in at.info), [i.value for i in at.info]
    assert len(at.get("plotly_chart")) >= 3


def test_unknown_url_parameters_are_ignored():
    at = open_app(STEP, foo="bar", utm_source="x")
    assert_ok(at)
    assert not at.info


def test_empty_text_asks_for_input_instead_of_failing():
    at = open_app(STEP)
    at.text_area(key="text").set_value("").run()
    assert_ok(at)
    assert "The text is empty" in at.warning[0].value
    at.text_area(key="text").set_value("abc").run()  # and the page recovers
    assert "of 3" in cell_title(at)


def test_a_state_that_overflows_says_where_it_exploded(monkeypatch):
    # Within the app's ranges (radius <= 2, T <= 1000) a ReLU RNN stays finite, so build one that
    # does not: W_hh = 1e100 overflows at step 5. The page must say so and keep working.
    def exploding(cfg):
        sc = step.build(cfg)
        params = dict(sc.params, weight_hh=np.eye(cfg.hidden) * 1e100)
        trace = rnnviz.forward("rnn", params, sc.sample.xs + 1.0, nonlinearity="relu")
        return step.StepStudy(cfg, sc.sample, params, trace)

    monkeypatch.setattr(ui, "build_step_study", exploding)
    at = open_app(STEP, cell="rnn-relu", source="sine", length=12, hidden=4)
    assert_ok(at)
    assert any("exploded at step 5" in e.value for e in at.error), [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 3  # the figures still draw, up to and past the overflow


def test_presentation_mode_enlarges_the_figures():
    at = open_app(STEP, present="true")
    fonts = [json.loads(c.proto.spec)["layout"]["font"]["size"] for c in at.get("plotly_chart")]
    assert min(fonts) >= 18


def test_charts_export_png_at_scale_3_named_for_the_step():
    at = open_app(STEP, t=7)
    config = json.loads(at.get("plotly_chart")[0].proto.config)
    assert config["toImageButtonOptions"] == {"format": "png", "scale": 3, "filename": "rnnviz-step-cell-t07"}


def test_shrinking_h_clamps_the_chosen_unit():
    at = open_app(STEP, hidden=8, unit=7)
    at.slider(key="hidden").set_value(3).run()
    assert_ok(at)
    assert at.slider(key="unit").value == 2


def test_drawn_hidden_states_are_the_engines():
    at = open_app(STEP, cell="gru", hidden=5, t=4)
    sc = build_scenario(Config(cell="gru", hidden=5))
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    h_trace = next(tr for tr in spec["data"] if tr.get("name") == "h")
    np.testing.assert_allclose(array(h_trace["z"])[0], sc.trace.h[3], rtol=1e-6)


def test_play_mode_sends_frames_for_the_browser_to_animate():
    at = open_app(STEP, play="true", speed="200")
    assert_ok(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(spec["frames"]) == 11
    play_button = spec["layout"]["updatemenus"][0]["buttons"][0]
    assert play_button["label"] == "▶ Play" and play_button["args"][1]["frame"]["duration"] == 200
    assert "frames" not in json.loads(open_app(STEP).get("plotly_chart")[0].proto.spec)


def test_presentation_mode_redraws_without_recomputing_the_study(monkeypatch):
    # Display settings are not part of any cache key: the study is computed once.
    calls = []
    monkeypatch.setattr(ui, "build_step_study", lambda cfg: calls.append(cfg) or build_scenario(cfg))
    at = open_app(STEP)
    at.toggle(key="present").set_value(True).run()
    assert_ok(at)
    assert len(calls) == 1
    assert json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["font"]["size"] >= 18
