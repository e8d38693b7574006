"""Pages driven headlessly by streamlit.testing.v1.AppTest: defaults, controls, URLs, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import rnnviz
from rnnviz import ui
from rnnviz.config import MAX_TEXT, Config
from rnnviz.studies import step
from rnnviz.studies.step import build as build_scenario
from rnnviz.ui.pages import PAGES

from .conftest import blocks, charts, elements, open_app, title_of

STEP = PAGES["step"].file
pytestmark = pytest.mark.usefixtures("fresh_cache")


def assert_ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def cell_diagram(at, t: int | None = None) -> dict:
    return next(spec for spec in charts(at, t) if "cell at step" in title_of(spec))


def cell_title(at, t: int | None = None) -> str:
    return title_of(cell_diagram(at, t))


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
    # text: cell, vectors, text view, heatmaps; numbers: the input, cell, vectors, heatmaps
    assert len(charts(at)) == 4
    assert len(blocks(at)) == 1 and len(blocks(at)[0]) >= 2  # the equations
    assert "step t = 1 of" in cell_title(at)


@pytest.mark.parametrize("task", ["adding", "temporal_order", "memorisation"])
def test_every_task_sample_runs(task):
    at = open_app(STEP, cell="lstm", source="task", task=task, length=20)
    assert_ok(at)
    assert "of 20" in cell_title(at)


def test_every_step_is_in_the_page_so_the_browser_moves_t_itself():
    # The page is sent once; the browser evaluates it at any t (tests read it back the same way).
    at = open_app(STEP, cell="lstm", hidden=4)
    assert_ok(at)
    sc = build_scenario(Config(cell="lstm", hidden=4))
    for t in (1, 6, 11):
        assert f"step t = {t} of 11, reading ‘{'hello␣world'[t - 1]}’" in cell_title(at, t)
        h_strip = next(tr for tr in cell_diagram(at, t)["data"] if tr.get("name") == "h")
        np.testing.assert_allclose(np.asarray(h_strip["z"])[0], sc.trace.h[t - 1], rtol=1e-6)
        assert any(f"{sc.trace.h[t - 1, 0]:.3g}" in line for line in blocks(at, t)[0])
    step = elements(at)[0].header
    assert step["T"] == 11 and step["t"] == 1 and step["control"] is True


def test_a_link_opens_its_step():
    at = open_app(STEP, t=6)
    assert "step t = 6 of 11, reading ‘␣’" in cell_title(at)  # "hello world"[5]: a space, drawn visibly
    assert elements(at)[0].header["t"] == 6


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
    at = open_app(STEP, t=3)
    at.selectbox(key="cell").set_value("gru").run()
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
    assert len(charts(at)) >= 3


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


def test_a_pasted_text_past_the_limit_is_cut_with_a_note_not_dropped():
    at = open_app(STEP)
    at.text_area(key="text").set_value("ab" * 400).run()  # 800 characters, pasted
    assert_ok(at)
    assert at.text_area(key="text").value == ("ab" * 400)[:MAX_TEXT]
    assert "of 500" in cell_title(at)
    notes = [n.value for n in at.info]
    assert len(notes) == 1 and "had 800 characters; kept the first 500" in notes[0], notes
    at.text_area(key="text").set_value("abc").run()  # a new text: the note goes
    assert "of 3" in cell_title(at) and not at.info


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
    assert len(charts(at)) == 4  # the figures still draw, up to and past the overflow


def test_presentation_mode_enlarges_the_figures():
    at = open_app(STEP, present="true")
    fonts = [spec["layout"]["font"]["size"] for spec in charts(at)]
    assert min(fonts) >= 18


def test_exports_are_named_for_the_figure_the_scenario_and_the_step():
    names = [item["filename"] for item in elements(open_app(STEP, t=7))[0].items if "figure" in item]
    assert "rnnviz-step-cell-lstm-h8-text-hello_world-s0-t{t2}" in names  # {t2}: the browser's step, 07
    other = [item["filename"] for item in elements(open_app(STEP, cell="gru", hidden=4))[0].items if "figure" in item]
    assert not set(names) & set(other)


def test_shrinking_h_clamps_the_chosen_unit():
    at = open_app(STEP, hidden=8, unit=7)
    at.slider(key="hidden").set_value(3).run()
    assert_ok(at)
    assert at.slider(key="unit").value == 2


def test_drawn_hidden_states_are_the_engines():
    at = open_app(STEP, cell="gru", hidden=5, t=4)
    sc = build_scenario(Config(cell="gru", hidden=5))
    h_trace = next(tr for tr in cell_diagram(at)["data"] if tr.get("name") == "h")
    np.testing.assert_allclose(np.asarray(h_trace["z"])[0], sc.trace.h[3], rtol=1e-6)


def test_a_play_link_starts_playing_at_its_speed():
    header = elements(open_app(STEP, play="true", speed="200"))[0].header
    assert header["autoplay"] is True and header["speed"] == 200
    header = elements(open_app(STEP))[0].header
    assert header["autoplay"] is False and header["speed"] == 400


def test_presentation_mode_redraws_without_recomputing_the_study(monkeypatch):
    # Display settings are not part of any cache key: the study is computed once.
    calls = []
    monkeypatch.setattr(ui, "build_step_study", lambda cfg: calls.append(cfg) or build_scenario(cfg))
    at = open_app(STEP)
    at.toggle(key="present").set_value(True).run()
    assert_ok(at)
    assert len(calls) == 1
    assert charts(at)[0]["layout"]["font"]["size"] >= 18
