"""The Attention page, driven by AppTest: every control, the numbers it draws (the study's), presenter mode, exports."""

from __future__ import annotations

import numpy as np
import pytest

from rnnviz import export
from rnnviz.cells import KINDS
from rnnviz.lessons import LESSONS, step_facts
from rnnviz.studies import attention as studies
from rnnviz.ui.pages import PAGES
from rnnviz.views import attention as view

from .conftest import charts, elements, open_app, title_of

ATTENTION = PAGES["attention"].file
pytestmark = pytest.mark.usefixtures("fresh_cache")


def assert_ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def figure(at, words: str, t: int | None = None) -> dict:
    return next(spec for spec in charts(at, t) if words in title_of(spec))


def texts(at) -> str:
    return "\n".join(m.value.replace("\\", "") for m in at.markdown)


@pytest.fixture(scope="module")
def default_study():
    return studies.build(studies.Scenario())


def test_the_page_opens_on_the_trained_model_with_its_matrix_its_decoder_and_the_gradients(default_study):
    at = open_app(ATTENTION)
    assert_ok(at)
    assert at.title[0].value.startswith("Attention")
    titles = [title_of(spec) for spec in charts(at)]
    assert len(titles) == 3, titles
    assert "attention weights" in titles[0] and "Decoder step t = 1 of 11" in titles[1] and "fades" in titles[2]
    header = elements(at)[0].header
    assert header["T"] == default_study.U == 11 and header["t"] == 1
    assert at.radio(key="attention").value == "additive" and at.radio(key="model").value == "trained"
    assert at.text_input(key="digits").value == studies.DEFAULT_DIGITS
    assert not at.query_params.get("digits")  # defaults stay out of the URL


def test_the_drawn_numbers_are_the_studys(default_study):
    at = open_app(ATTENTION, t=4)
    study = default_study
    a = study.shown.decoding.attention
    matrix = figure(at, "attention weights")
    np.testing.assert_allclose(np.asarray(matrix["data"][0]["z"], dtype=float), a, rtol=1e-6, atol=1e-7)
    circles = matrix["data"][1]  # the digit each step copies: the anti-diagonal
    assert list(circles["x"]) == list(study.alignment + 1) and list(circles["y"]) == list(range(1, study.T + 1))
    for t in (1, 4, study.U):
        step = figure(at, "Decoder step", t)
        assert f"Decoder step t = {t} of {study.U}" in title_of(step)
        bars = next(tr for tr in step["data"] if tr.get("type") == "bar")
        np.testing.assert_allclose(np.asarray(bars["y"], dtype=float), a[t - 1], rtol=1e-6, atol=1e-7)
        context = next(tr for tr in step["data"] if tr.get("name") == "context")
        np.testing.assert_allclose(np.asarray(context["z"], dtype=float)[0], study.shown.decoding.context[t - 1],
                                   rtol=1e-6, atol=1e-7)
    lines = {tr["name"]: np.asarray(tr["y"], dtype=float) for tr in figure(at, "fades")["data"]}
    for key, run in study.runs.items():
        np.testing.assert_allclose(lines[view.LABELS[key]], run.gradients.norm / run.gradients.norm[-1], rtol=1e-6)
    said = texts(at)
    assert view.fade_sentence(study) in said and view.answers_sentence(study) in said
    assert view.looks_sentence(study) in said
    # and the sentences state the study's numbers
    assert view.ratio_text(study.runs["none"].fade) in view.fade_sentence(study)
    assert elements(at)[0].header["t"] == 4


def test_the_default_trained_model_follows_the_reversal_and_its_gradients_do_not_fade(default_study):
    # What the page must show (issue 13): an anti-diagonal, and with attention the far digits keep their
    # gradient while without attention they lose most of it.
    study = default_study
    a = study.shown.decoding.attention
    peak = a[: study.T].argmax(axis=1)
    assert np.all(np.abs(peak - study.alignment) <= 1)
    assert study.runs["additive"].fade > 0.5 and study.runs["none"].fade < 0.2
    assert all(run.right for run in study.runs.values())


def test_choosing_the_model_without_attention_steps_through_it_and_keeps_the_comparison():
    at = open_app(ATTENTION)
    at.radio(key="attention").set_value("none").run()
    assert_ok(at)
    titles = [title_of(spec) for spec in charts(at)]
    assert len(titles) == 2 and "Decoder step" in titles[0] and "fades" in titles[1]  # no matrix without attention
    step = charts(at)[0]
    study = studies.build(studies.Scenario(attention="none"))
    context = next(tr for tr in step["data"] if tr.get("name") == "context")
    k_fin = study.shown.decoding.keys[-1]
    np.testing.assert_allclose(np.asarray(context["z"], dtype=float)[0], k_fin, rtol=1e-6, atol=1e-7)
    assert at.query_params["attention"] == "none"
    assert len(charts(at)[1]["data"]) == 2  # both models' gradients, still


def test_luongs_dot_product_attention_steps_through_its_own_trained_model():
    at = open_app(ATTENTION)
    at.radio(key="attention").set_value("general").run()
    assert_ok(at)
    assert at.query_params["attention"] == "general"
    assert any(c.value.startswith("Dot-product, general (Luong): e_ts = s_t−1 · W_k k_s") for c in at.caption)
    study = studies.build(studies.Scenario(attention="general"))
    assert list(study.runs) == ["general", "none"] and study.shown.name == "reversal-general"
    matrix = charts(at)[0]
    heat = next(tr for tr in matrix["data"] if tr.get("type") == "heatmap")
    np.testing.assert_allclose(np.asarray(heat["z"], dtype=float), study.shown.decoding.attention, rtol=1e-5,
                               atol=1e-6)
    lines = {tr["name"]: np.asarray(tr["y"], dtype=float) for tr in charts(at)[-1]["data"] if tr.get("name")}
    np.testing.assert_allclose(lines["with attention"], study.runs["general"].relative, rtol=1e-6)
    assert study.runs["general"].fade > 0.5 > 0.2 > study.runs["none"].fade  # the far digit's gradient, kept
    assert view.ratio_text(study.runs["general"].fade) in view.fade_sentence(study)


def test_untrained_weights_are_the_weights_training_started_from():
    at = open_app(ATTENTION)
    at.radio(key="model").set_value("untrained").run()
    assert_ok(at)
    assert at.query_params["model"] == "untrained"
    study = studies.build(studies.Scenario(weights="untrained"))
    lines = {tr["name"]: np.asarray(tr["y"], dtype=float) for tr in figure(at, "fades")["data"]}
    assert lines["without attention"][0] < 0.05 < lines["with attention"][0]  # fades far more before training
    np.testing.assert_allclose(lines["with attention"], study.runs["additive"].relative, rtol=1e-6)


def test_typed_digits_are_the_input_and_its_length_sets_the_steps():
    at = open_app(ATTENTION)
    at.text_input(key="digits").set_value("9071").run()
    assert_ok(at)
    assert elements(at)[0].header["T"] == 5 and at.query_params["digits"] == "9071"
    assert "The right answer is 1 7 0 9 </s>." in texts(at)
    assert "Decoder step t = 1 of 5: it must write ‘1’" in title_of(figure(at, "Decoder step"))


def test_digits_pasted_past_the_limit_are_cut_with_a_note():
    at = open_app(ATTENTION)
    at.text_input(key="digits").set_value("1234567890" * 3).run()
    assert_ok(at)
    kept = ("1234567890" * 3)[:studies.MAX_DIGITS]
    assert at.text_input(key="digits").value == kept and at.query_params["digits"] == kept
    assert sum(f"had 30 characters; kept the first {studies.MAX_DIGITS}" in n.value for n in at.info) == 1


@pytest.mark.parametrize("typed", ["", "12a4", "3.14", "<b>1</b>", "١٢٣"])
def test_typed_input_that_is_not_digits_asks_for_digits_and_the_page_recovers(typed):
    at = open_app(ATTENTION)
    at.text_input(key="digits").set_value(typed).run()
    assert_ok(at)
    assert at.warning and "rnnviz cannot reverse this input" in at.warning[0].value
    assert not charts(at)
    at.text_input(key="digits").set_value("123").run()
    assert_ok(at)
    assert elements(at)[0].header["T"] == 4


def test_random_digits_keep_the_length_and_go_into_the_url():
    at = open_app(ATTENTION, digits="12345678")
    next(b for b in at.button if b.label == "Random digits").click().run()
    assert_ok(at)
    digits = at.text_input(key="digits").value
    assert len(digits) == 8 and digits.isdigit() and at.query_params.get("digits", studies.DEFAULT_DIGITS) == digits
    assert elements(at)[0].header["T"] == 9


@pytest.mark.parametrize("query,note", [
    ({"digits": "12ab"}, "digits=12ab has characters other than 0123456789; using 4829107356."),
    ({"digits": "1" * 30}, "digits had 30 characters; kept the first 20."),
    ({"attention": "luong"}, "attention=luong is not one of additive, general, none; using additive."),
    ({"model": "best"}, "model=best is not one of trained, untrained; using trained."),
    ({"t": "99"}, "t=99 is outside 1–11; using 11."),
    ({"speed": "300", "play": "true"}, "speed=300 is not one of 100, 200, 400, 800, 1500; using 400."),
])
def test_a_bad_link_value_gets_one_note_and_the_normal_view(query, note):
    at = open_app(ATTENTION, **query)
    assert_ok(at)
    notes = [i.value.replace("\\", "") for i in at.info if "could not use" in i.value]
    assert len(notes) == 1 and note in notes[0].replace("`", "").replace("\u2068", "").replace("\u2069", ""), notes
    assert len(charts(at)) == 3


def test_a_link_opens_its_view():
    at = open_app(ATTENTION, attention="none", model="untrained", digits="5501", t=3, play="true", speed="200")
    assert_ok(at)
    header = elements(at)[0].header
    assert header["T"] == 5 and header["t"] == 3 and header["autoplay"] is True and header["speed"] == 200
    assert at.radio(key="attention").value == "none" and at.radio(key="model").value == "untrained"
    assert {k: at.query_params[k] for k in ("attention", "model", "digits", "t")} == \
        {"attention": "none", "model": "untrained", "digits": "5501", "t": "3"}


def test_presenter_mode_enlarges_every_figure_and_fits_them_under_the_step_control():
    at = open_app(ATTENTION, present="true")
    assert_ok(at)
    for spec in charts(at):
        assert spec["layout"]["font"]["size"] >= 20 and spec["layout"]["height"] <= 540


def test_the_export_cli_writes_the_pages_view(tmp_path):
    built = export.build(export.parse_link("Attention?digits=3141&t=2&attention=none"))
    assert built.t == 2 and built.view.page == "attention" and built.view.scenario == "none-3141-trained"
    written = export.write(built, tmp_path, with_images=False)
    names = {p.name for p in written.paths}
    assert "rnnviz-attention-gradients-none-3141-trained.csv" in names
    assert "rnnviz-attention-view-none-3141-trained-t02.html" in names
    csv = (tmp_path / "rnnviz-attention-gradients-none-3141-trained.csv").read_text()
    study = studies.build(studies.Scenario(attention="none", digits="3141"))
    assert f"{study.runs['none'].gradients.norm[0]:.6g}"[:5] in csv
    assert export.main_table(export.parse_link("Attention")) == "attention-gradients"


def test_the_export_panel_is_on_the_page():
    at = open_app(ATTENTION)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Export this view (zip)" in labels and "Export the numbers (CSV)" in labels


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_has_a_differentiable_step_that_is_the_engines(kind):
    import rnnviz

    rng = np.random.default_rng(3)
    params = rnnviz.init_params(kind, 3, 4, seed=1)
    xs, h0 = rng.normal(size=(1, 3)), rng.normal(size=4)
    c0 = rng.normal(size=4) if KINDS[kind].has_cell_state else None
    trace = rnnviz.forward(kind, params, xs, h0=h0, c0=c0)
    gx = params["weight_ih"] @ xs[0] + params["bias_ih"]
    gh = params["weight_hh"] @ h0 + params["bias_hh"]
    h, c = KINDS[kind].step(gx, gh, h0, c0)
    np.testing.assert_allclose(h, trace.h[0], rtol=1e-12)
    if c0 is not None:
        np.testing.assert_allclose(c, trace.c[0], rtol=1e-12)


@pytest.mark.parametrize("k", [k for k, s in enumerate(LESSONS["attention"].steps) if s.page == "attention"])
def test_the_attention_lessons_numbers_are_the_pages(k):
    # What a step says about the gradients and the matrix is what the page it opens shows (after the reveal)
    lesson = LESSONS["attention"]
    step = lesson.steps[k]
    f = step_facts(lesson, k)
    at = open_app(ATTENTION, **step.params, lesson="attention", step=k + 1)
    if step.ask:
        at.radio(key=f"ask-attention-{k}").set_value(step.ask.answer(f)).run()
        at.button(key=f"ask-attention-{k}-reveal").click().run()
    assert_ok(at)
    said = texts(at)
    assert f"without attention the first digit gets {f['none_fade_text']} the last digit's gradient; with " \
           f"attention it gets {f['with_fade_text']} it" in said
    if at.radio(key="attention").value == "additive":
        assert f"{f['near']} look hardest within one position of the digit they copy ({f['exact']} exactly" in said


@pytest.mark.parametrize("attention", ["additive", "none"])
@pytest.mark.parametrize("present", [False, True])
def test_every_attention_figure_passes_plotlys_full_validation_and_draws_tokens_inert(attention, present):
    import json

    import plotly.graph_objects as go

    from rnnviz.figures.steps import StepFigure

    study = studies.build(studies.Scenario(attention=attention, digits="507"))
    for item in view.build(study, present).items:
        figures = [item.figure.at(t) for t in (1, study.U)] if isinstance(item.figure, StepFigure) else [item.figure]
        for fig in figures:
            checked = go.Figure(fig.to_dict())  # Plotly's full validator: raises on any bad property
            text = json.dumps(checked.to_plotly_json(), default=str)
            assert "</s>" not in text  # the end token is text, never markup
            assert "&lt;/s&gt;" in text or not isinstance(item.figure, StepFigure)
            assert "NaN" not in json.dumps([tr.get("hovertemplate") for tr in checked.to_plotly_json()["data"]])
            assert checked.layout.title.text and all(
                (ax.title.text or ax.tickvals is not None or not ax.visible)
                for ax in (checked.layout.xaxis, checked.layout.yaxis))
