"""The Backprop-through-time study, its figures and its page."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from rnnviz import analysis, ui
from rnnviz.cells import overlay_cells
from rnnviz.config import Config
from rnnviz.figures import bptt as fig
from rnnviz.figures import theme
from rnnviz.studies.bptt import build as gradient_study
from rnnviz.studies.bptt import cell_gradients
from rnnviz.ui.pages import PAGES

from .conftest import charts, open_app
from .test_figures import array

PAGE = PAGES["bptt"].file
pytestmark = pytest.mark.usefixtures("fresh_cache")


def open_page(**query):
    return open_app(PAGE, **query)


def regime_metric(at) -> str:
    return next(m.value for m in at.metric if m.label == "Regime")


def stepped_graph(study, mode):
    """The unrolled graph of a study's main cell, as the page sends it (every step)."""
    main = study.main
    return fig.unrolled_graph(main.graph_nodes, main.edge_flows, main.readout.loss, main.loss_steps, main.cell,
                              mode, loss_on=study.loss_on_label)


def graph(study, mode, t):
    """The unrolled graph as drawn at step t (forward) or with the gradient reached down to t (backward)."""
    return stepped_graph(study, mode).at(t)


def norms(study):
    """The gradient-norm plot of a study, as the page draws it."""
    return fig.grad_norms(study.h_norms, study.c_norms, study.main.cell, study.reach, study.bound,
                          study.main.exploded_at)


def saliency(study):
    return fig.saliency(study.saliency, study.main.scenario.sample.xs, study.main.scenario.text_tokens)


RELU = Config(cell="rnn-relu", source="noise", length=60, hidden=16, init="radius", forget_bias="3")


# --- the study -------------------------------------------------------------------------------


def test_spectral_radius_turns_vanishing_into_exploding():
    assert cell_gradients(RELU.with_(radius=0.8)).fit.regime == "vanishing"
    assert cell_gradients(RELU.with_(radius=1.2)).fit.regime == "exploding"


def test_an_lstm_with_an_open_forget_gate_keeps_its_cell_gradient():
    lstm = cell_gradients(RELU.with_(cell="lstm", radius=0.8))
    rnn = cell_gradients(RELU.with_(radius=0.8))
    assert lstm.c_norms[0] / lstm.c_norms[-1] > 0.1  # within a factor 10 over 60 steps
    assert rnn.h_norms[0] / rnn.h_norms[-1] < 1e-4


def test_the_study_overlays_the_other_two_cells_on_the_same_input():
    study = gradient_study(Config(cell="gru", source="sine", length=20, hidden=4))
    assert list(study.others) == ["rnn-tanh", "lstm"] == overlay_cells("gru")
    for other in study.others.values():
        np.testing.assert_array_equal(other.scenario.sample.xs, study.main.scenario.sample.xs)


@pytest.mark.parametrize("loss_on,nonzero", [("last", 1), ("all", 20)])
def test_the_loss_applies_where_asked(loss_on, nonzero):
    cg = cell_gradients(Config(cell="lstm", source="sine", length=20, hidden=4), loss_on)
    assert np.count_nonzero(np.abs(cg.readout.dL_dh).sum(axis=1)) == nonzero


def test_pascanu_bound_holds_for_the_rnn_on_a_last_step_loss():
    study = gradient_study(RELU.with_(cell="rnn-tanh", radius=0.5))
    assert study.gamma_sigma < 1 and study.bound is not None
    assert np.all(study.main.h_norms <= study.bound * (1 + 1e-9))
    assert gradient_study(RELU.with_(cell="lstm")).bound is None  # no such bound drawn for gated cells


def test_pascanu_bound_is_drawn_only_where_it_bounds():
    # At radius 0.8 sigma_max is about 1.35: (gamma sigma_max)^(T-t) grows going back and says nothing
    study = gradient_study(RELU.with_(radius=0.8))
    assert study.gamma_sigma > 1 and study.bound is None
    assert study.reach.regime == "vanishing"  # the gradient vanishes all the same ...
    assert 0.3 < study.dead_units < 0.7  # ... because about half the ReLU units are off at each step


def test_overflow_is_reported_with_its_step_and_never_raises():
    cg = cell_gradients(Config(cell="rnn-relu", source="noise", length=1000, hidden=16, init="radius",
                               radius=2.0, input_scale=10.0))
    assert cg.exploded_at is not None and cg.exploded_in in ("forward", "backward")
    assert not np.isfinite(cg.h_norms[cg.exploded_at - 1]) or cg.exploded_in == "forward"


# --- figures ---------------------------------------------------------------------------------


def test_plotted_norms_are_the_engines():
    study = gradient_study(RELU.with_(radius=0.8))
    figure = norms(study)
    main = next(tr for tr in figure.data if tr.name == "RNN (ReLU): ||dL/dh<sub>t</sub>||")
    np.testing.assert_allclose(np.asarray(main.y, dtype=float), analysis.hidden_grad_norms(study.main.backward),
                               rtol=1e-6)
    names = [tr.name for tr in figure.data]
    assert "LSTM: ||dL/dc<sub>t</sub>||" in names and "GRU: ||dL/dh<sub>t</sub>||" in names
    assert not any(name.startswith("bound") for name in names)  # sigma_max > 1 here: it would not bound
    assert any(name.startswith("bound") for name in (tr.name for tr in norms(gradient_study(
        RELU.with_(radius=0.5))).data))
    assert figure.layout.yaxis.type == "log" and figure.layout.xaxis.title.text.startswith("step t")
    assert "vanishing" in figure.layout.title.text


def test_the_explosion_is_marked_on_the_norm_plot():
    study = gradient_study(Config(cell="rnn-relu", source="noise", length=1000, hidden=16, init="radius",
                                  radius=2.0, input_scale=10.0))
    figure = norms(study)
    assert any(f"exploded at step {study.main.exploded_at}" in a.text for a in figure.layout.annotations)
    assert json.dumps(json.loads(figure.to_json())).count("Infinity") == 0  # no inf reaches the browser


@pytest.mark.parametrize("T,expected", [(5, [1, 2, 3, 4, 5]), (40, [1, 2, 3, 4, 5, 6, 7, None, 33, 34, 35, 36,
                                                                   37, 38, 39, 40])])
def test_long_sequences_draw_first_and_last_steps_with_an_ellipsis(T, expected):
    assert fig.drawn_steps(T) == expected


def test_backward_graph_animates_from_T_down_and_edges_carry_the_gradient():
    study = gradient_study(Config(cell="lstm", source="sine", length=10, hidden=4))
    stepped = stepped_graph(study, "backward")
    for reached in (10, 4, 1):  # the control runs t from T down to 1: edges of steps >= t are lit
        figure = stepped.at(reached)
        assert f"reached step {reached} of 10" in figure.layout.title.text
        lines = [tr for tr in figure.data if tr.mode == "lines"]
        lit = {int(tr.text.split("at t = ")[1].split(":")[0]) for tr in lines if tr.line.color != theme.INACTIVE}
        assert lit == set(range(reached, 11))
    figure = graph(study, "backward", 1)
    highway = [tr for tr in figure.data if tr.mode == "lines" and "cell-state highway" in tr.text]
    assert len(highway) == 9  # c_{t-1} -> c_t for t = 2..10, apart from the hidden path
    flows = study.main.edge_flows
    expected = np.linalg.norm(study.main.backward.dc * study.main.scenario.trace.gates["f"], axis=1)
    np.testing.assert_allclose(flows["cc"], expected, rtol=1e-12)
    assert "gradient" in highway[0].text and "e" in highway[0].text  # the value is in the hover


def test_forward_graph_highlights_the_step():
    study = gradient_study(Config(cell="rnn-tanh", source="sine", length=8, hidden=3))
    figure = graph(study, "forward", 5)
    assert figure.layout.shapes[0].x0 == pytest.approx(4 - 0.42)
    assert "step t = 5 of 8" in figure.layout.title.text


@pytest.mark.parametrize("t", [1, 37, 60, 100])
def test_the_forward_graph_always_shows_and_highlights_the_current_step(t):
    # 100 steps do not fit: the view keeps 16 columns around t, never an ellipsis over it
    study = gradient_study(Config(cell="rnn-tanh", source="noise", length=100, hidden=3))
    figure = graph(study, "forward", t)
    h_row = next(tr for tr in figure.data if tr.name == "h")
    steps = [int(label.split("<sub>")[1].split("<")[0]) for label in h_row.text]
    assert len(steps) == fig.MAX_COLUMNS and steps == list(range(steps[0], steps[0] + fig.MAX_COLUMNS))
    column = steps.index(t)  # step t is one of the columns shown ...
    assert figure.layout.shapes[0].x0 == pytest.approx(column - 0.42)  # ... and it is the highlighted one
    lo, hi = figure.layout.xaxis.range
    assert lo <= column - 0.42 and column + 0.42 <= hi
    assert not figure.layout.annotations  # no ellipsis
    norm = float(np.linalg.norm(study.main.scenario.trace.h[t - 1]))
    assert f"||h|| = {norm:.3g}" in h_row.hovertext[column]  # hover: the values of the step shown


BUILDERS = [lambda s: graph(s, "backward", 1), lambda s: graph(s, "forward", 2), norms,
            lambda s: fig.spectrum(s.spectrum), lambda s: fig.jacobian_norms(s.jacobians),
            lambda s: fig.saturation_meter(s.saturation), lambda s: fig.contributions(s.contributions), saliency]


@pytest.mark.parametrize("cfg", [Config(cell="lstm", hidden=3), Config(cell="gru", source="noise", length=30, hidden=3),
                                 Config(cell="rnn-relu", source="task", length=20, hidden=3)], ids=["lstm", "gru", "rnn"])
@pytest.mark.parametrize("builder", BUILDERS)
def test_every_bptt_figure_is_valid_titled_and_hover_clean(cfg, builder):
    figure = builder(gradient_study(cfg))
    go.Figure(figure.to_dict())  # Plotly's full validation
    assert figure.layout.title.text
    spec = json.loads(figure.to_json())
    for trace in spec["data"]:
        for key in ("hovertemplate", "hovertext", "text", "customdata"):
            assert "nan" not in json.dumps(trace.get(key, "")).lower()


def test_contribution_bars_sum_the_engines_terms():
    study = gradient_study(Config(cell="rnn-tanh", source="noise", length=250, hidden=4))
    figure = fig.contributions(study.contributions, max_bars=100)
    bars = figure.data[0]
    assert len(bars.x) == 84 and bars.x[1] == 3  # bins of 3 steps back
    np.testing.assert_allclose(np.asarray(bars.y, dtype=float).sum(), study.contributions["h"].sum(), rtol=1e-5)


def test_saliency_of_text_colours_each_character():
    study = gradient_study(Config(cell="lstm", text="abcdef", hidden=3))
    figure = saliency(study)
    z = array(json.loads(figure.to_json())["data"][0]["z"])
    np.testing.assert_allclose(10 ** z[0, :6], study.saliency, rtol=1e-5)


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn-tanh", "rnn-relu", "lstm", "gru"])
def test_page_runs_for_every_cell_with_every_figure(cell):
    at = open_page(cell=cell, hidden=6)
    assert not at.exception, [e.value for e in at.exception]
    assert len(charts(at)) == 7
    assert regime_metric(at) in ("vanishing", "carried", "exploding")


@pytest.mark.parametrize("query", [
    {"loss": "all"}, {"mode": "forward", "t": "4"}, {"init": "radius", "radius": "1.5"},
    {"input_scale": "8"}, {"forget_bias": "5", "cell": "lstm"}, {"source": "noise", "length": "300"},
    {"source": "task", "task": "temporal_order", "length": "40"},
])
def test_page_runs_for_every_control(query):
    at = open_page(**query)
    assert not at.exception, [e.value for e in at.exception]
    assert len(charts(at)) == 7


def test_changing_the_radius_live_flips_the_regime():
    at = open_page(**{k: str(v) for k, v in {"cell": "rnn-relu", "source": "noise", "length": 60, "hidden": 16,
                                             "init": "radius", "radius": 0.8}.items()})
    assert regime_metric(at) == "vanishing"
    at.slider(key="radius").set_value(1.2).run()
    assert regime_metric(at) == "exploding"


def test_overflow_says_exploded_at_step_k_and_keeps_drawing():
    at = open_page(cell="rnn-relu", source="noise", length=1000, hidden=16, init="radius", radius=2.0, input_scale=10)
    assert not at.exception
    assert any("Exploded at step" in e.value for e in at.error)
    assert len(charts(at)) == 7


def test_bad_page_values_fall_back_with_a_note():
    at = open_page(loss="sideways", mode="diagonal")
    assert not at.exception
    notes = " ".join(i.value for i in at.info)
    assert "loss=sideways" in notes and "mode=diagonal" in notes


def test_presentation_mode_redraws_without_recomputing_the_study(monkeypatch):
    calls = []
    monkeypatch.setattr(ui, "build_bptt_study", lambda *args, **kw: calls.append(args) or gradient_study(*args, **kw))
    at = open_page(cell="gru", hidden=4)
    at.toggle(key="present").set_value(True).run()
    assert not at.exception
    assert len(calls) == 1 and len(charts(at)) == 7


def test_a_loss_on_every_step_of_a_text_leaves_out_its_last_character():
    # The last character has no next one to predict: no loss there against a placeholder class.
    cg = cell_gradients(Config(cell="lstm", text="hello", hidden=3), "all")
    assert cg.readout.loss_per_step[-1] == 0 and not cg.readout.dL_dh[-1].any()
    assert np.count_nonzero(np.abs(cg.readout.dL_dh).sum(axis=1)) == 4
    assert cg.readout.loss == pytest.approx(cg.readout.loss_per_step[:4].mean(), rel=1e-12)
