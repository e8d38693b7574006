"""The cliff, the training figures, and the Clipping and training page."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest
from autograd import grad

from rnnviz.figures import training as fig
from rnnviz.studies import training as cliff
from rnnviz.training import RunConfig, train
from rnnviz.ui.pages import PAGES

from .conftest import open_app

PAGE = PAGES["training"].file
pytestmark = pytest.mark.usefixtures("fresh_cache")


def open_page(**query):
    return open_app(PAGE, **query)


def test_cliff_loss_matches_its_definition():
    w, b = 3.0, -2.0
    x = 0.5
    for _ in range(50):
        x = w / (1 + np.exp(-x)) + b
    assert cliff.cliff_loss((w, b)) == pytest.approx((1 / (1 + np.exp(-x)) - 0.7) ** 2, rel=1e-14)
    assert np.asarray(cliff.cliff_grad(np.array([w, b]))).shape == (2,)


def test_the_wall_has_an_enormous_gradient_and_flat_surroundings():
    start = cliff.wall_point(-4.0)
    assert start is not None and 7.0 < start[0] < 7.5
    assert np.linalg.norm(cliff.cliff_grad(np.array(start))) > 1e6
    assert np.linalg.norm(cliff.cliff_grad(np.array([start[0] - 0.01, -4.0]))) < 1.0
    assert abs(cliff.cliff_loss((start[0] - 0.01, -4.0)) - cliff.cliff_loss((start[0] + 0.01, -4.0))) > 0.3


def test_unclipped_descent_is_thrown_away_and_clipped_stays_close():
    start = cliff.wall_point(-4.0)
    raw = cliff.descend(start, lr=0.1, steps=10)
    clipped = cliff.descend(start, lr=0.1, steps=10, clip_norm=1.0)
    assert np.linalg.norm(raw.path[1] - raw.path[0]) > 1e5
    assert np.all(np.linalg.norm(np.diff(clipped.path, axis=0), axis=1) <= 0.1 + 1e-9)
    assert clipped.clipped[0] and np.linalg.norm(clipped.path[-1] - clipped.path[0]) < 1.0


def test_descend_uses_autograd_through_the_unrolled_recursion():
    p = np.array([2.0, -1.0])
    numeric = [(cliff.cliff_loss(p + e) - cliff.cliff_loss(p - e)) / 2e-6 for e in np.eye(2) * 1e-6]
    np.testing.assert_allclose(grad(cliff.cliff_loss)(p), numeric, rtol=1e-6)
    d = cliff.descend(p, lr=0.5, steps=1)
    np.testing.assert_allclose(d.path[1], p - 0.5 * np.asarray(cliff.cliff_grad(p)))


def test_rows_without_a_wall_say_so():
    assert cliff.wall_point(-0.5, w_low=0.0, w_high=1.0) is None


@pytest.fixture(scope="module")
def runs():
    base = RunConfig(cell="rnn-tanh", length=50, hidden=32, batch=32, updates=40, radius=1.3, lr=0.1)  # a preset
    return [train(base), train(base.with_(clip="norm", threshold=1.0)), train(base.with_(clip="value", threshold=0.05))]


@pytest.mark.parametrize("builder", [fig.loss_curves, fig.grad_norms, fig.cosines, fig.gradient_profiles])
def test_training_figures_draw_the_runs_records(builder, runs):
    figure = builder(runs)
    go.Figure(figure.to_dict())
    assert figure.layout.title.text and figure.layout.xaxis.title.text
    assert "nan" not in json.dumps([t.get("hovertemplate", "") for t in json.loads(figure.to_json())["data"]]).lower()


def test_loss_plot_keeps_magnitudes_past_float32(runs):
    blown = runs[0]
    figure = fig.loss_curves([blown])
    finite = blown.loss[np.isfinite(blown.loss)]
    np.testing.assert_allclose(np.nanmax(np.asarray(figure.data[0].y, dtype=float)), finite.max(), rtol=1e-12)


def test_grad_norm_plot_marks_clipped_updates_and_the_threshold(runs):
    figure = fig.grad_norms(runs[1:2])
    marks = figure.data[1]
    assert len(marks.x) == int(runs[1].clipped.sum())
    assert figure.layout.shapes[0].y0 == 1.0


def test_run_summaries(runs):
    assert fig.run_summary(runs[0])[0] == "blew up"
    assert fig.run_summary(runs[1])[0] in ("learned", "barely moved")


def test_cliff_figure_marks_the_step_thrown_off_the_map():
    start = cliff.wall_point(-4.0)
    figure = fig.cliff_surface(*cliff.loss_surface(40), {"no clipping": cliff.descend(start, 0.1, 5),
                                                         "clipped": cliff.descend(start, 0.1, 5, 1.0)})
    go.Figure(figure.to_dict())
    assert any("no clipping: thrown to" in (a.text or "") for a in figure.layout.annotations)
    assert not any("clipped: thrown" in (a.text or "") for a in figure.layout.annotations)


# --- the page ---------------------------------------------------------------------------------


def button(at, label):
    return next(b for b in at.button if b.label == label)


def test_page_asks_before_training_and_trains_on_request():
    at = open_page(tr_updates=20, tr_length=20, tr_hidden=8)
    assert not at.exception and "not trained yet" in at.info[0].value
    button(at, "Train 2 runs").click().run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 4
    assert [m.label for m in at.metric] == ["no clipping", "norm clipping at τ = 1"]


def test_finished_runs_are_not_trained_again():
    at = open_page(tr_updates=20, tr_length=20, tr_hidden=8)
    button(at, "Train 2 runs").click().run()
    at.toggle(key="present").set_value(True).run()  # a display change: no Train button, no retraining
    assert not at.exception and not any(b.label.startswith("Train") for b in at.button)
    assert len(at.get("plotly_chart")) == 4


@pytest.mark.parametrize("preset", ["Exploding without clipping", "Norm vs value clipping", "LSTM on the adding problem"])
def test_training_presets_set_up_their_runs(preset):
    at = open_page()
    button(at, preset).click().run()
    assert not at.exception
    expected = {"Norm vs value clipping": 3}.get(preset, 2)
    assert any(b.label == f"Train {expected} runs" for b in at.button)


def test_the_cliff_preset_shows_the_wall():
    at = open_page()
    button(at, "The cliff").click().run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1 and float(at.metric[0].value) > 1e6


@pytest.mark.parametrize("query,note", [({"tr_lr": "0.2"}, "tr_lr=0.2 is not one of"), ({"part": "x"}, "part=x"),
                                        ({"tr_length": "9999"}, "outside 10–200"), ({"cl_lr": "0.05", "part": "cliff"},
                                                                                     "cl_lr=0.05 is not one of the choices")])
def test_bad_page_values_fall_back_with_a_note(query, note):
    at = open_page(**query)
    assert not at.exception
    assert any(note in i.value for i in at.info), [i.value for i in at.info]


def test_all_runs_off_asks_for_one():
    at = open_page(r1_clip="off", r2_clip="off")
    assert not at.exception and "at least one run" in at.info[0].value


def test_unfinished_runs_have_no_after_training_profile():
    stopped = train(RunConfig(length=20, hidden=8, updates=10), keep_going=lambda r: r.updates_done < 3)
    names = [t.name for t in fig.gradient_profiles([stopped]).data]
    assert names == ["no clipping, start"]


def test_the_cliff_start_can_be_chosen_freely():
    at = open_page(part="cliff", cl_snap="false", cl_w="3", cl_b="-1", cl_lr="1.0", cl_steps="30")
    assert not at.exception
    assert float(at.metric[0].value) < 10  # away from the wall the gradient is small
    assert len(at.get("plotly_chart")) == 1


def test_a_b_without_a_wall_says_so():
    at = open_page(part="cliff", cl_b="-1")
    assert not at.exception and "no wall inside the map" in at.warning[0].value


def test_every_start_next_to_the_wall_the_page_offers_is_steep():
    # Every b of the page's slider (-8..0, step 0.25) with "start next to the wall": either a
    # start whose gradient throws one plain step off the map even at the smallest learning rate
    # while a clipped step stays small, or none, exactly outside SNAP_B_RANGE (the page says so).
    lr, tau = min(cliff.CLIFF_RATES), min(cliff.CLIFF_TAUS)
    for b in np.arange(-8.0, 0.0 + 1e-9, 0.25):
        start = cliff.wall_point(float(b))
        low, high = cliff.SNAP_B_RANGE
        assert (start is not None) == (low <= b <= high), b
        if start is None:
            continue
        assert np.linalg.norm(cliff.cliff_grad(np.array(start))) >= cliff.MIN_STEEP, b
        raw, clipped = cliff.descend(start, lr, 1), cliff.descend(start, lr, 1, clip_norm=tau)
        map_size = np.hypot(np.ptp(cliff.W_RANGE), np.ptp(cliff.B_RANGE))
        assert np.linalg.norm(raw.path[1] - raw.path[0]) >= lr * cliff.MIN_STEEP > 5 * map_size, b
        assert np.linalg.norm(clipped.path[1] - clipped.path[0]) <= lr * tau * (1 + 1e-9), b


def test_a_start_next_to_the_wall_reaches_the_sought_gradient_where_float64_allows():
    for b in (-5.0, -4.0, -3.5):
        assert np.linalg.norm(cliff.cliff_grad(np.array(cliff.wall_point(b)))) >= cliff.STEEP
