"""The cliff, the training figures, and the Clipping and training page."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
import pytest
from autograd import grad

from rnnviz.figures import training as fig
from rnnviz.runstore import RunStore, Trainer
from rnnviz.studies import training as cliff
from rnnviz.training import LEARNED_BELOW, RunConfig, constant_loss, estimated_seconds, outcome, train
from rnnviz.ui import training as ui_training
from rnnviz.ui.pages import PAGES

from .conftest import charts, open_app, settle, title_of
from .test_runstore import Gate

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
    # 40 updates of plain SGD: the clipped run's loss falls, but not below the best constant answer's
    end = outcome(runs[1])
    assert end.last < 0.9 * end.first and end.last > LEARNED_BELOW * end.constant
    assert end.verdict == "no better than a constant answer" and fig.run_summary(runs[1])[0] == "only the average"


def test_a_run_is_said_to_learn_only_when_it_beats_the_best_constant_answer(runs):
    constant = constant_loss("adding", 50)
    run = runs[1]
    at = lambda last: outcome(replace(run, loss=np.r_[run.loss[:1], np.full(10, last)]))  # noqa: E731
    assert at(0.5 * constant).verdict == "learned" and at(0.5 * constant).learned
    assert at(0.95 * constant).verdict == "no better than a constant answer"
    assert at(run.loss[0]).verdict == "barely moved"
    assert at(1e3 * run.loss[0]).verdict == "blew up"
    assert outcome(replace(run, diverged_at=7)).phrase == "diverged at update 7"
    # the summary, the legend and the lesson read the same verdict
    assert fig.run_summary(replace(run, loss=np.r_[run.loss[:1], np.full(10, 0.5 * constant)]))[0] == "learned"


def test_the_cosine_chart_leaves_out_the_runs_that_do_not_clip(runs):
    names = [trace.name for trace in fig.cosines(runs).data]
    assert fig.run_label(runs[0]) not in names and fig.run_label(runs[2]) in names


def test_a_blown_up_runs_end_profile_says_so(runs):
    names = [trace.name for trace in fig.gradient_profiles(runs[:2]).data]
    assert f"{fig.run_label(runs[0])}, end (blown up)" in names and f"{fig.run_label(runs[1])}, end" in names


def log_span(values) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return float(np.log10(v.max()) - np.log10(v.min()))


def test_the_loss_figure_stays_readable_beside_a_run_that_blew_up(runs):
    blown, learning = runs[0], runs[1]
    assert np.nanmax(blown.loss) > 1e20  # the no-clipping run climbs by many orders of magnitude
    figure = fig.loss_curves([blown, learning])
    low, high = figure.layout.yaxis.range
    assert high - low < 4  # decades: not 1 to 1e288
    assert high <= np.log10(10 * blown.loss[0]) + 1e-9
    shown = np.asarray(learning.loss)
    assert log_span(shown) / (high - low) > 0.25  # the learning run fills a visible part of the axis
    assert low <= np.log10(shown.min()) and np.log10(shown.max()) <= high
    above = next(t for t in figure.data if t.name == "no clipping: above the chart")
    assert len(above.x) == int(np.sum(blown.loss > 10 ** high))  # every update above the chart is marked
    np.testing.assert_allclose(np.asarray(above.customdata, dtype=float), blown.loss[blown.loss > 10 ** high])
    assert any("above the chart from update" in (a.text or "") for a in figure.layout.annotations)


def test_a_diverged_run_is_marked_where_it_diverged():
    diverged = train(RunConfig(cell="rnn-relu", length=50, hidden=32, batch=8, updates=50, radius=1.5, lr=0.5))
    figure = fig.loss_curves([diverged])
    assert any(a.text == f"diverged at update {diverged.diverged_at}" for a in figure.layout.annotations)
    low, high = figure.layout.yaxis.range
    marker = next(t for t in figure.data if t.marker.symbol == "x")
    assert low <= np.log10(marker.y[0]) <= high  # the cross is on the chart


def test_the_cosine_chart_is_shown_only_when_a_run_clips_by_value(runs):
    from rnnviz.config import Display
    from rnnviz.views import training as view

    names = [item.name for item in view.runs_view(runs[:2], Display()).items]
    assert "train-cosine" not in names and len(names) == 3
    with_value = view.runs_view(runs, Display())
    cosine = next(item.figure for item in with_value.items if item.name == "train-cosine")
    assert tuple(cosine.layout.yaxis.range) == (-1.05, 1.05)


def test_run_colours_mean_the_same_clipping_on_every_chart(runs):
    for order in (runs, runs[::-1], [runs[2], runs[0]]):
        for builder in (fig.loss_curves, fig.grad_norms, fig.cosines, fig.gradient_profiles):
            for trace in builder(order).data:
                rule = next(r.config.clip for r in order if trace.name.startswith(fig.run_label(r))
                            or trace.name.startswith(f"clipped ({fig.run_label(r)})"))
                colour = trace.line.color if trace.mode and "lines" in trace.mode else trace.marker.color
                assert colour == fig.CLIP_COLOURS[rule], (builder.__name__, trace.name)
    two_norms = [runs[1], train(runs[1].config.with_(threshold=5.0, updates=5))]
    styles = fig.run_styles(two_norms)
    assert styles[0][0] == styles[1][0] == fig.CLIP_COLOURS["norm"] and styles[0][1] != styles[1][1]
    start = cliff.wall_point(-4.0)
    descents = {"no clipping": cliff.descend(start, 0.1, 5), "clipped": cliff.descend(start, 0.1, 5, 1.0)}
    surface = fig.cliff_surface(*cliff.loss_surface(40), descents)
    paths = {t.name: t.line.color for t in surface.data if t.type == "scatter"}
    assert paths == {"no clipping": fig.CLIP_COLOURS["none"], "clipped": fig.CLIP_COLOURS["norm"]}


def test_cliff_figure_marks_the_step_thrown_off_the_map():
    start = cliff.wall_point(-4.0)
    figure = fig.cliff_surface(*cliff.loss_surface(40), {"no clipping": cliff.descend(start, 0.1, 5),
                                                         "clipped": cliff.descend(start, 0.1, 5, 1.0)})
    go.Figure(figure.to_dict())
    assert any("no clipping: thrown to" in (a.text or "") for a in figure.layout.annotations)
    assert not any("clipped: thrown" in (a.text or "") for a in figure.layout.annotations)


# --- the page ---------------------------------------------------------------------------------
#
# Each page test runs against its own server: a RunStore in a temporary folder and a Trainer
# (rnnviz.ui.training.use_server). "warm": the folder holds the page's default and preset runs,
# as on a server that has trained them once (trained once per test module); "cold": empty.

SMALL = {"tr_updates": "20", "tr_length": "20", "tr_hidden": "8"}  # a custom request: 2 small runs


def button(at, label):
    return next(b for b in at.button if b.label == label)


def labels(at) -> list[str]:
    return [b.label for b in at.button]


def texts(at) -> str:
    return " ".join(e.value for kind in ("info", "warning", "error", "caption", "markdown") for e in getattr(at, kind))


def make_server(folder, **trainer_options):
    store = RunStore(folder)
    return ui_training.use_server(store, Trainer(store, estimated_seconds, cpu_limit=2 * cliff.CAP_SECONDS,
                                                 **trainer_options))


@pytest.fixture
def warm(tmp_path, preset_runs_folder):
    folder = tmp_path / "runs"
    shutil.copytree(preset_runs_folder, folder)
    yield make_server(folder)
    ui_training.use_server(None, None)


@pytest.fixture
def cold(tmp_path):
    yield make_server(tmp_path / "runs")
    ui_training.use_server(None, None)


def chart_titles(at) -> list[str]:
    return [title_of(c) for c in charts(at)]


def test_arrival_shows_the_default_runs_without_pressing_anything(warm):
    at = open_page()
    assert not at.exception
    assert [m.label for m in at.metric] == ["no clipping", "norm clipping at τ = 1"]
    assert chart_titles(at) == ["Training loss, with and without clipping", "Gradient norm per update (dots: clipped)",
                                "Gradient reaching each step, before and after training"]
    assert not any(label.startswith("Train") for label in labels(at))
    assert not any(j.active for j in warm.trainer._jobs.values())  # nothing trained for it


def test_arrival_on_a_new_server_trains_the_default_runs_itself(cold):
    at = open_page()
    assert not at.exception and not any(label.startswith("Train") for label in labels(at))
    assert "Stop" in labels(at)  # the default runs are training, or queued, for this session
    settle(at, timeout=900)  # a cold server trains them here: minutes on a busy machine
    assert [m.label for m in at.metric] == ["no clipping", "norm clipping at τ = 1"]
    assert len(charts(at)) == 3


@pytest.mark.parametrize("preset,runs", [("Exploding without clipping", 2), ("Norm vs value clipping", 3),
                                         ("LSTM on the adding problem", 2), ("Truncated BPTT", 2)])
def test_a_preset_click_shows_its_results_at_once(warm, preset, runs):
    at = open_page()
    button(at, preset).click().run()
    assert not at.exception
    assert len(at.metric) == runs and not any(label.startswith("Train") for label in labels(at))
    assert ("Does clipping turn the gradient?" in chart_titles(at)) == (preset == "Norm vs value clipping")


def test_the_truncated_bptt_preset_shows_what_training_loses(warm):
    at = open_page()
    button(at, "Truncated BPTT").click().run()
    assert not at.exception
    assert [m.label for m in at.metric] == ["norm clipping at τ = 1", "norm clipping at τ = 1, BPTT window k = 5"]
    full, cut = (warm.store.get(c) for c in cliff.run_configs({**cliff.defaults(), **cliff.PRESETS["truncated"][1]}))
    assert cut.config.window == 5 and full.config.window is None
    last = [float(np.mean(r.loss[-10:])) for r in (full, cut)]
    assert last[1] > 10 * last[0]  # the markers sit beyond k steps back: the truncated run cannot learn them
    note = next(c.value for c in at.caption if c.value.startswith("Truncated BPTT"))
    assert "reaches back only to step 6" in note and f"{last[0]:.3g}" in note and f"{last[1]:.3g}" in note
    profiles = next(c for c in charts(at) if title_of(c).startswith("Gradient reaching each step"))
    cut_start = next(t for t in profiles["data"] if t["name"] == "norm clipping at τ = 1, BPTT window k = 5, start")
    y = np.asarray(cut_start["y"], dtype=float)
    assert np.isnan(y[:5]).all() and np.isfinite(y[5:]).all()  # no gradient beyond 5 steps back


def test_a_preset_runs_at_once_on_a_new_server_too(cold):
    at = open_page()
    button(at, "LSTM on the adding problem").click().run()
    assert not at.exception and "Stop" in labels(at)
    assert not any(label.startswith("Train") for label in labels(at))
    settle(at, timeout=900)  # a cold server trains them here: minutes on a busy machine
    assert [m.label for m in at.metric] == ["no clipping", "norm clipping at τ = 1"]


def test_other_settings_are_trained_on_request(warm):
    at = open_page(**SMALL)
    assert not at.exception and "not trained yet" in at.info[0].value
    button(at, "Train 2 runs").click().run()
    settle(at)
    assert not at.exception
    assert len(charts(at)) == 3
    assert [m.label for m in at.metric] == ["no clipping", "norm clipping at τ = 1"]


def test_finished_runs_are_not_trained_again(warm):
    at = open_page(**SMALL)
    button(at, "Train 2 runs").click().run()
    settle(at)
    at.toggle(key="present").set_value(True).run()  # a display change: no Train button, no retraining
    assert not at.exception and not any(b.label.startswith("Train") for b in at.button)
    assert len(charts(at)) == 3


def test_a_link_with_run_settings_reopens_its_results(warm):
    first = open_page(**SMALL)
    button(first, "Train 2 runs").click().run()
    settle(first)
    link = open_page(**SMALL)  # another session, following the same link
    assert not link.exception and len(charts(link)) == 3 and len(link.metric) == 2
    assert not any(label.startswith("Train") for label in labels(link))


def test_runs_survive_a_restart(warm):
    at = open_page(**SMALL)
    button(at, "Train 2 runs").click().run()
    settle(at)
    loss = charts(at)[0]["data"][0]["y"]
    restarted = make_server(warm.store.folder)  # a new process: empty memory, the same folder
    assert restarted.store.get(cliff.run_configs({**cliff.defaults(), "tr_updates": 20, "tr_length": 20,
                                                  "tr_hidden": 8})[0]) is not None
    restarted.store.forget_memory()
    again = open_page(**SMALL)
    assert not again.exception and len(again.metric) == 2
    np.testing.assert_array_equal(charts(again)[0]["data"][0]["y"], loss)


def test_a_new_configuration_streams_its_curves_while_it_trains(warm):
    gate = Gate(at=7)
    make_server(warm.store.folder, gate=gate)
    at = open_page(**SMALL)
    button(at, "Train 2 runs").click().run()
    assert gate.reached.wait(60)
    at.run()  # what the page's fragment draws on its next redraw
    assert not at.exception and "Stop" in labels(at)
    assert any("run 1 of 2: update 7 of 20" in p.proto.text for p in at.get("progress"))
    loss = charts(at)[0]
    assert title_of(loss) == "Training loss, with and without clipping"
    assert len(loss["data"][0]["x"]) == 7  # the curve so far
    gate.open.set()
    settle(at)
    assert len(charts(at)[0]["data"][0]["x"]) == 20


def test_stop_keeps_what_was_done(warm):
    gate = Gate(at=5)
    make_server(warm.store.folder, gate=gate)
    at = open_page(**SMALL, r2_clip="off")
    button(at, "Train 1 run").click().run()
    assert gate.reached.wait(60)
    at.run()
    button(at, "Stop").click().run()  # the training is still held at update 5
    gate.open.set()
    settle(at)
    assert not at.exception
    assert "stopped after 5 of 20 updates" in texts(at), (labels(at), texts(at)[:600], [m.label for m in at.metric])
    assert not any(label.startswith("Train") for label in labels(at))
    assert len(charts(at)[0]["data"][0]["x"]) == 5


def test_the_cost_cap_refuses_an_over_large_request_with_a_message(warm):
    at = open_page(tr_cell="lstm", tr_length=200, tr_hidden=64, tr_batch=64, tr_updates=1000, r3_clip="norm")
    assert not at.exception
    assert any("over this server's cap of 60 s" in e.value for e in at.error)
    assert not any(label.startswith("Train") for label in labels(at))
    assert "over the cap" in texts(at)  # beside the controls too
    assert not warm.trainer._jobs  # nothing started


def test_the_cost_is_shown_beside_the_controls(warm):
    at = open_page()
    note = next(c.value for c in at.caption if c.value.startswith("Training these runs"))
    assert "cap: 60 s" in note


def test_one_training_per_session(warm):
    gate = Gate(at=3)
    make_server(warm.store.folder, gate=gate)
    at = open_page(**SMALL)
    button(at, "Train 2 runs").click().run()
    assert gate.reached.wait(60)
    at.slider(key="tr_hidden").set_value(9).run()  # other settings, not trained: no second training
    assert not at.exception
    assert "still running" in at.info[0].value and not any(label.startswith("Train") for label in labels(at))
    gate.open.set()
    settle(at)
    assert any(label == "Train 2 runs" for label in labels(at))  # now it may start the next


def test_two_sessions_see_only_runs_of_their_own_settings(warm):
    a = open_page(**SMALL)
    button(a, "Train 2 runs").click().run()
    settle(a)
    b = open_page(**SMALL, tr_seed=5)  # other settings: A's runs are not B's
    assert not b.exception and "not trained yet" in b.info[0].value and not charts(b)
    gate = Gate(at=4)
    make_server(warm.store.folder, gate=gate)
    b2 = open_page(**SMALL, tr_seed=6)
    button(b2, "Train 2 runs").click().run()
    assert gate.reached.wait(60)
    a.run()
    assert not a.exception and "Stop" not in labels(a)  # A does not follow B's training
    assert len(a.metric) == 2 and all(len(c["data"][0]["x"]) == 20 for c in charts(a)[:1])
    gate.open.set()
    settle(b2)


def test_the_concurrency_limit_queues_with_a_note(warm):
    gate = Gate(at=3)
    make_server(warm.store.folder, gate=gate, workers=1)
    a = open_page(**SMALL)
    button(a, "Train 2 runs").click().run()
    assert gate.reached.wait(60)
    b = open_page(**SMALL, tr_seed=7)
    button(b, "Train 2 runs").click().run()
    assert not b.exception
    assert any("1 training ahead of yours" in i.value for i in b.info), [i.value for i in b.info]
    gate.open.set()
    settle(b)
    assert len(b.metric) == 2


def test_the_cliff_preset_shows_the_wall():
    at = open_page()
    button(at, "The cliff").click().run()
    assert not at.exception
    assert len(charts(at)) == 1 and float(at.metric[0].value) > 1e6


def test_the_cliff_shows_both_paths_and_the_engines_losses_before_and_after_each_step():
    at = open_page(part="cliff")
    assert not at.exception
    start = cliff.wall_point(-4.0)
    study = cliff.cliff_study(start, 0.1, 20, 1.0)
    spec = charts(at)[0]
    zoom = spec["layout"]["xaxis2"]["range"], spec["layout"]["yaxis2"]["range"]
    clipped = next(t for t in spec["data"] if t.get("name") == "clipped" and t.get("xaxis") == "x2")
    points = np.stack([clipped["x"], clipped["y"]], axis=1).astype(float)
    inside = ((points[:, 0] >= zoom[0][0]) & (points[:, 0] <= zoom[0][1]) & (points[:, 1] >= zoom[1][0])
              & (points[:, 1] <= zoom[1][1]))
    assert len(np.unique(points[inside].round(6), axis=0)) > 10  # the clipped path, step by step, in view
    plain = next(t for t in spec["data"] if t.get("name") == "no clipping" and t.get("xaxis") == "x3")
    np.testing.assert_allclose(plain["y"], study.descents["no clipping"].losses, rtol=1e-6)
    table = at.table[0].value
    first = table[(table["descent"] == "no clipping") & (table["step"] == "1")].iloc[0]
    d = study.descents["no clipping"]
    assert first["E before"] == f"{d.losses[0]:.4g}" and first["E after"] == f"{d.losses[1]:.4g}"
    assert first["lands at (w, b)"] == f"({d.path[1][0]:.4g}, {d.path[1][1]:.4g})"
    said = " ".join(m.value for m in at.markdown)
    assert f"takes E from {d.losses[0]:.4g} to {d.losses[1]:.4g}" in said


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
    assert len(charts(at)) == 1


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


@pytest.mark.parametrize("task", ["adding", "temporal_order"])
def test_a_constant_answer_scores_what_the_page_says(task):
    # The readout with zero weights and the best bias (the targets' mean, or their classes' log-frequencies)
    # on the same sample: its loss is the constant answer's.
    from rnnviz import tasks
    from rnnviz.readout import readout_loss
    from rnnviz.training import constant_loss

    sample = tasks.task_sample(task, 20, seed=12345, batch=512)
    targets = np.asarray(sample.targets)[np.asarray(sample.loss_mask)]
    if sample.loss == "mse":
        bias = targets.reshape(-1, sample.n_out).mean(axis=0)
    else:
        counts = np.bincount(targets.ravel(), minlength=sample.n_out).astype(float)
        bias = np.log(np.maximum(counts, 1e-300) / counts.sum())
    readout = {"weight_out": np.zeros((sample.n_out, 3)), "bias_out": bias}
    h = np.zeros((*np.asarray(sample.xs).shape[:2], 3))
    best = readout_loss(readout, h, sample.targets, sample.loss_mask, sample.loss).loss
    assert constant_loss(task, 20) == pytest.approx(best, rel=1e-9)
    assert fig.run_summary(train(RunConfig(task=task, length=20, hidden=4, batch=4, updates=3)),
                           constant_loss(task, 20))[1].endswith(f"a constant answer scores {best:.3g})")
