"""Exports: links read as the app reads them, the numbers (CSV) against the engine, the files and
their names, the offline HTML, PNG/SVG from kaleido, the command line, and the app's export panel."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from plotly.utils import PlotlyJSONEncoder

import rnnviz
from rnnviz import export
from rnnviz.cells import KINDS
from rnnviz.config import Config
from rnnviz.equations import num
from rnnviz.figures import files
from rnnviz.figures.payload import decode
from rnnviz.figures.steps import StepFigure
from rnnviz.figures.training import run_label
from rnnviz.studies import bptt as bptt_study
from rnnviz.studies import training as training_study
from rnnviz.studies.step import make_params, make_sample
from rnnviz.training import RunConfig, train
from rnnviz.ui.pages import PAGES
from rnnviz.views import numbers

from .browser_helpers import CHROMIUM
from .conftest import ROOT, open_app, settle

SMALL = "cell={cell}&hidden=3&text=ab%3Dc&t=2"  # "ab=c": 4 steps, one of them a "="
TRAIN_SMALL = "part=train&tr_updates=10&tr_length=10&tr_hidden=4&tr_batch=8&r3_clip=value&r3_th=0.05"
has_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium at /usr/bin/chromium")


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def column(rows, name: str) -> np.ndarray:
    return np.array([float(row[name]) if row[name] != "" else np.nan for row in rows])


def png_size(path_or_bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    data = Path(path_or_bytes).read_bytes() if not isinstance(path_or_bytes, bytes) else path_or_bytes
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# --- links ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, page, query", [
    ("Step_through", "step", {}),
    ("Backprop_through_time?cell=lstm&length=80&present=true", "bptt", {"cell": "lstm", "length": "80",
                                                                         "present": "true"}),
    ("http://localhost:8501/Step_through?cell=gru&t=3", "step", {"cell": "gru", "t": "3"}),
    ("https://class.example.org/rnnviz/Clipping_and_training/?part=cliff", "training", {"part": "cliff"}),
    ("/Backprop_through_time?text=a%26b", "bptt", {"text": "a&b"}),
    ("pages/1_Step_through.py", "step", {}),
    ("step_through?t=2", "step", {"t": "2"}),
    ("bptt", "bptt", {}),
    ("http://localhost:8501/Attention?digits=31&t=2", "attention", {"digits": "31", "t": "2"}),
])
def test_a_link_is_read_from_any_form_of_its_path(text, page, query):
    link = export.parse_link(text)
    assert link.page == page and link.query == query


@pytest.mark.parametrize("text", ["", "Home", "app.py", "No_such_page?cell=gru", "http://localhost:8501/"])
def test_a_link_to_no_page_with_figures_is_refused_naming_the_pages(text):
    with pytest.raises(export.LinkError, match="Step_through, Backprop_through_time, Clipping_and_training"):
        export.parse_link(text)


def test_bad_values_are_changed_as_the_app_changes_them_and_said():
    ex = export.build(export.parse_link("Step_through?hidden=999&t=50&cell=nope&bogus=1&text=hi"))
    assert ex.view.tables["step-numbers"]["j"].max() == 63  # hidden clamped to 64
    assert ex.t == 2  # "hi": T = 2
    assert any("hidden=999 is outside 1–64; using 64." in note for note in ex.notes)
    assert any(note.startswith("t=50 is outside 1–2") for note in ex.notes)
    assert any("cell=nope is not one of" in note for note in ex.notes)
    assert any("bogus=1 is not a setting of this page" in note for note in ex.notes)
    assert ex.link.text == "Step_through?hidden=64&text=hi&t=2"  # the view as drawn


def test_the_session_values_give_the_pages_link():
    values = {"cell": "gru", "hidden": 8, "t": 4, "unit": 0, "mode": "forward", "loss": "all", "seed": 0}
    assert export.link_from_values("step", values).text == "Step_through?cell=gru&loss=all&t=4"
    assert export.link_from_values("bptt", values).text == "Backprop_through_time?cell=gru&loss=all&mode=forward&t=4"


# --- the numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn-tanh", "rnn-relu", "lstm", "gru"])
@pytest.mark.parametrize("loss", ["last", "all"])
def test_step_csv_equals_the_engines_numbers(cell, loss):
    ex = export.build(export.parse_link(f"Step_through?{SMALL.format(cell=cell)}&loss={loss}"))
    rows = read_csv(export.numbers_csv(ex, "step-numbers"))
    # the engine, called here directly on the same input and weights
    cfg = Config(cell=cell, hidden=3, text="ab=c")
    sample = make_sample(cfg)
    params = make_params(cfg, sample.xs.shape[-1])
    tr = rnnviz.forward(cfg.kind, params, sample.xs, nonlinearity=cfg.nonlinearity)
    dL_dh = bptt_study.cell_gradients(cfg, loss).readout.dL_dh  # the readout's gradient into each h_t
    back = rnnviz.bptt(cfg.kind, params, sample.xs, dL_dh, nonlinearity=cfg.nonlinearity)
    T, H = tr.h.shape
    assert len(rows) == T * H
    assert [int(r["t"]) for r in rows] == list(np.repeat(np.arange(1, T + 1), H))
    assert [int(r["j"]) for r in rows] == list(np.tile(np.arange(H), T))
    assert [r["input"] for r in rows[::H]] == ["a", "b", "'=", "c"]  # "=" made inert for a spreadsheet
    flat = lambda a: np.asarray(a).reshape(-1)  # noqa: E731  (T, H), t-major like the rows
    for k, ch in enumerate(sample.vocab):
        np.testing.assert_array_equal(column(rows, f"x[{ch}]"), np.repeat(sample.xs[:, k], H))
    np.testing.assert_array_equal(column(rows, "h_t"), flat(tr.h))  # exact: the CSV keeps every digit
    np.testing.assert_array_equal(column(rows, "h_t-1"), flat(tr.h_prev))
    for block in KINDS[cfg.kind].blocks:
        np.testing.assert_array_equal(column(rows, f"W_i{block} x_t + b_i{block}"), flat(tr.pre_x[block]))
        np.testing.assert_array_equal(column(rows, f"W_h{block} h_t-1 + b_h{block}"), flat(tr.pre_h[block]))
    for gate, values in tr.gates.items():
        np.testing.assert_array_equal(column(rows, f"{gate}_t"), flat(values))
    loss_name = {"last": "last step only", "all": "every step"}[loss]
    np.testing.assert_array_equal(column(rows, f"dL/dh_t (loss on {loss_name})"), flat(back.dh))
    if cell == "lstm":
        np.testing.assert_array_equal(column(rows, "c_t"), flat(tr.c))
        np.testing.assert_array_equal(column(rows, "c_t-1"), flat(tr.c_prev))
        np.testing.assert_array_equal(column(rows, f"dL/dc_t (loss on {loss_name})"), flat(back.dc))
    else:
        assert "c_t" not in rows[0] and not any(name.startswith("dL/dc_t") for name in rows[0])


def test_the_weights_csv_recomputes_the_pre_activations_by_hand():
    # "compute it by hand, then check": x_t and a row of the weights give W_ii x_t + b_ii of the numbers
    ex = export.build(export.parse_link("Step_through?" + SMALL.format(cell="lstm")))
    rows = read_csv(export.texts(ex)[f"rnnviz-step-numbers-{ex.view.scenario}.csv"])
    weights = read_csv(export.texts(ex)[f"rnnviz-step-weights-{ex.view.scenario}.csv"])
    channels = [name for name in rows[0] if name.startswith("x[")]
    for w in weights:
        block, j = w["block"], int(w["j"])
        for r in (r for r in rows if int(r["j"]) == j):
            by_hand = sum(float(w[f"weight_ih {ch}"]) * float(r[ch]) for ch in channels) + float(w["bias_ih"])
            assert by_hand == pytest.approx(float(r[f"W_i{block} x_t + b_i{block}"]), abs=1e-12)
            by_hand = (sum(float(w[f"weight_hh h_t-1[{k}]"]) * float(rows[(int(r["t"]) - 2) * 3 + k]["h_t"])
                           for k in range(3)) if r["t"] != "1" else 0.0) + float(w["bias_hh"])
            assert by_hand == pytest.approx(float(r[f"W_h{block} h_t-1 + b_h{block}"]), abs=1e-12)


def test_bptt_csv_is_the_main_cells_numbers_and_the_norms_of_every_cell():
    ex = export.build(export.parse_link("Backprop_through_time?cell=gru&hidden=4&source=sine&length=6&loss=all"))
    study = bptt_study.build(Config(cell="gru", hidden=4, source="sine", length=6), "all")
    rows = read_csv(export.texts(ex)[f"rnnviz-bptt-numbers-{ex.view.scenario}.csv"])
    np.testing.assert_array_equal(column(rows, "x"), np.repeat(study.main.scenario.sample.xs[:, 0], 4))
    np.testing.assert_array_equal(column(rows, "dL/dh_t (loss on every step)"), study.main.backward.dh.reshape(-1))
    norms = read_csv(export.texts(ex)[f"rnnviz-bptt-norms-{ex.view.scenario}.csv"])
    np.testing.assert_array_equal(column(norms, "||dL/dh_t|| GRU"), study.h_norms["gru"])
    np.testing.assert_array_equal(column(norms, "||dL/dc_t|| LSTM"), study.c_norms["lstm"])
    np.testing.assert_array_equal(column(norms, "||dL/dx_t|| GRU"), study.saliency)


def test_training_csv_is_every_runs_history_side_by_side():
    ex = export.build(export.parse_link("Clipping_and_training?" + TRAIN_SMALL))
    rows = read_csv(export.numbers_csv(ex, "train-history"))
    configs = training_study.run_configs(export._read(ex.link, export.page_params("training"))[0])
    runs = [train(c) for c in configs]
    assert [int(r["update"]) for r in rows] == list(range(1, 11))
    for k, run in enumerate(runs, start=1):
        label = run_label(run)
        np.testing.assert_array_equal(column(rows, f"run {k} ({label}): loss"), run.loss)
        np.testing.assert_array_equal(column(rows, f"run {k} ({label}): gradient norm before clipping"), run.grad_norm)
        np.testing.assert_array_equal(column(rows, f"run {k} ({label}): gradient norm after clipping"),
                                      run.clipped_norm)
        np.testing.assert_array_equal(column(rows, f"run {k} ({label}): clipped (1 = yes)"), run.clipped.astype(int))
        np.testing.assert_array_equal(column(rows, f"run {k} ({label}): update norm"), run.update_norm)
        np.testing.assert_array_equal(column(rows, f"run {k} ({label}): cosine of raw and clipped gradient"), run.cosine)
    assert run_label(runs[2]) == "value clipping at v = 0.05"


def test_a_run_that_ended_early_leaves_its_later_cells_empty():
    short, full = (train(RunConfig(length=10, hidden=4, batch=4, updates=u)) for u in (3, 5))
    table = numbers.training_history([full, short])
    rows = read_csv(numbers.csv_bytes(table))
    assert [r["run 2 (no clipping): loss"] for r in rows][3:] == ["", ""]
    assert column(rows, "run 2 (no clipping): loss")[:3].tolist() == short.loss.tolist()


def test_cliff_csv_is_both_descents_step_by_step():
    ex = export.build(export.parse_link("Clipping_and_training?part=cliff&cl_steps=5"))
    rows = read_csv(export.numbers_csv(ex, "cliff-descents"))
    start = training_study.wall_point(-4.0)
    clipped = training_study.descend(start, 0.1, 5, clip_norm=1.0)
    assert len(rows) == 6
    np.testing.assert_array_equal(column(rows, "clipped: w"), clipped.path[:, 0])
    np.testing.assert_array_equal(column(rows, "clipped: E"), clipped.losses)
    np.testing.assert_array_equal(column(rows, "clipped: ||dE/d(w,b)||")[:5], clipped.grad_norms)


def test_csv_cells_keep_every_digit_and_never_become_formulas():
    table = {"x": np.array([0.1, 1 / 3, np.inf, np.nan, -2.5e-300]), "label": np.array(["=1+1", "+", "-", "@a", "ok"],
                                                                                         dtype=object)}
    rows = read_csv(numbers.csv_bytes(table))
    assert [float(r["x"]) for r in rows][:3] == [0.1, 1 / 3, np.inf] and float(rows[4]["x"]) == -2.5e-300
    assert [r["label"] for r in rows] == ["'=1+1", "'+", "'-", "'@a", "ok"]


# --- files and their names -----------------------------------------------------------------------


def contents(link: str) -> dict[str, bytes]:
    """Every file an export of `link` writes: name -> its content (for an image: its figure spec)."""
    ex = export.build(export.parse_link(link))
    images = {image.path.name: json.dumps(image.spec, cls=PlotlyJSONEncoder).encode()
              for image in export.images(ex, Path("."))}
    return export.texts(ex) | images


@pytest.mark.parametrize("a, b", [
    ("Step_through?cell=lstm&text=ab", "Step_through?cell=gru&text=ab"),
    ("Step_through?text=ab&seed=1", "Step_through?text=ab&seed=2"),
    ("Step_through?text=ab&present=false", "Step_through?text=ab.&present=false"),
    ("Backprop_through_time?text=ab&loss=last", "Backprop_through_time?text=ab&loss=all"),
    ("Backprop_through_time?source=noise&length=5", "Backprop_through_time?source=noise&length=6"),
    ("Clipping_and_training?part=cliff&cl_tau=1", "Clipping_and_training?part=cliff&cl_tau=3"),
    ("Clipping_and_training?" + TRAIN_SMALL, "Clipping_and_training?" + TRAIN_SMALL.replace("r3_th=0.05", "r3_th=0.1")),
])
def test_file_names_say_the_scenario_so_two_scenarios_never_collide(a, b):
    first, second = contents(a), contents(b)
    assert set(first).isdisjoint(second), set(first) & set(second)
    assert all(name.startswith("rnnviz-") for name in first | second)


def test_two_steps_of_one_scenario_share_only_the_files_that_are_the_same():
    first, second = contents("Step_through?text=ab&t=1"), contents("Step_through?text=ab&t=2")
    shared = set(first) & set(second)
    assert shared == {"rnnviz-step-numbers-lstm-h8-text-ab-s0.csv", "rnnviz-step-weights-lstm-h8-text-ab-s0.csv"}
    assert all(first[name] == second[name] for name in shared)  # every step's numbers, in either


def test_every_figure_and_block_of_the_view_has_its_files():
    ex = export.build(export.parse_link("Step_through?text=ab&t=2&unit=1"))
    written = set(export.texts(ex)) | {image.path.name for image in export.images(ex, Path("."))}
    scenario = "lstm-h8-text-ab-s0"
    for item in ("cell", "vectors", "text-unit1", "heatmaps"):
        assert {f"rnnviz-step-{item}-{scenario}-t02.png", f"rnnviz-step-{item}-{scenario}-t02.svg"} <= written
    assert {f"rnnviz-step-equations-unit1-{scenario}-t02.txt", f"rnnviz-step-equations-unit1-{scenario}-t02.html",
            f"rnnviz-step-view-{scenario}-t02.html", f"rnnviz-step-link-{scenario}-t02.txt",
            f"rnnviz-step-numbers-{scenario}.csv", f"rnnviz-step-weights-{scenario}.csv"} <= written
    assert export.texts(ex)[f"rnnviz-step-link-{scenario}-t02.txt"] == \
        b"http://localhost:8501/Step_through?text=ab&t=2&unit=1\n"  # a whole link: it opens when clicked
    equations = export.texts(ex)[f"rnnviz-step-equations-unit1-{scenario}-t02.txt"].decode()
    block = ex.view.items[2].block  # the equations: h_t[1] at t = 2, as the app prints it
    assert equations.startswith("Unit j = 1 at step t = 2, reading ‘b’:\n")
    h_line = next(line for line in equations.splitlines() if line.startswith("h_t[1] = "))
    assert h_line.endswith(f" = {num(float(block.arrays['h'][1, 0]))}")


@pytest.mark.parametrize("link", ["Step_through?source=task&task=adding&length=6",
                                  "Backprop_through_time?mode=forward&t=3&text=abc",
                                  "Backprop_through_time?text=abc&reached=2", "Clipping_and_training?part=cliff",
                                  "Attention?digits=271&t=3&present=true"])
def test_exported_figures_carry_no_controls_and_are_drawn_at_the_links_step(link):
    ex = export.build(export.parse_link(link))
    specs = export.images(ex, Path("."))
    assert specs
    for image in specs:
        layout = image.spec["layout"]
        assert not any(key in layout for key in files.CONTROLS) and "frames" not in image.spec
        assert layout["paper_bgcolor"] == layout["plot_bgcolor"] == "white"
        assert layout["width"] in files.WIDTH.values() and layout["height"] > 0
    stepped = [item for item in ex.view.items if isinstance(item.figure, StepFigure)]
    for item in stepped:
        assert files.static_spec(item.figure, ex.t, item.half)["layout"] == \
            files.static_spec(item.figure.at(ex.t), None, item.half)["layout"]


def test_a_figure_with_a_play_button_or_slider_loses_them_on_export():
    fig = go.Figure(go.Scatter(x=[1, 2], y=[1, 2]), frames=[go.Frame(data=[go.Scatter(y=[2, 1])])],
                    layout={"updatemenus": [{"type": "buttons", "buttons": [{"label": "Play", "method": "animate"}]}],
                            "sliders": [{"steps": [{"label": "1"}]}]})
    spec = files.static_spec(fig, None)
    assert "updatemenus" not in spec["layout"] and "sliders" not in spec["layout"] and "frames" not in spec


def test_static_titles_take_their_room_before_drawing_so_the_strips_stay_in_their_frames():
    # a title that pushed the margin by automargin left kaleido's heatmap images where the first pass put
    # them: the cell diagram's strips half a box above their frames
    ex = export.build(export.parse_link("Step_through?t=3"))
    for item in ex.view.items:
        if item.figure is None:
            continue
        layout = files.static_spec(item.figure, ex.t, item.half)["layout"]
        assert layout["title"]["automargin"] is False
        assert layout["margin"]["t"] >= layout["title"]["font"]["size"] * 1.35


def test_the_html_embeds_plotly_js_and_fetches_nothing():
    ex = export.build(export.parse_link("Backprop_through_time?text=ab<b>&present=true"))
    page = export.texts(ex)[f"{ex.name('view')}.html"].decode()
    assert "plotly.js v" in page and len(page) > 4_000_000  # the library itself, not a link to it
    assert not re.search(r"<script[^>]*\bsrc=", page) and not re.search(r"<link[^>]*href=", page)
    assert not re.search(r"(?:import|fetch)\(\s*[\"']https?:", page)
    assert "<b>&present" not in page and "text=ab%3Cb%3E" in page  # the link is text, never markup
    blob = re.search(r'<script id="rv-payload" type="application/octet-stream">([^<]+)</script>', page).group(1)
    decoded = decode(base64.b64decode(blob))
    assert len(decoded.items) == len(ex.view.items) and decoded.header["t"] == ex.t
    assert decoded.header["font"] == files.PRESENT_FONT


@has_chromium
@pytest.mark.browser
def test_the_html_opens_offline_and_moves_through_the_steps(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    from .browser_helpers import launch_chromium

    ex = export.build(export.parse_link("Step_through?text=abc&t=2&hidden=3"))
    path = tmp_path / "view.html"
    path.write_bytes(export.texts(ex)[f"{ex.name('view')}.html"])
    with sync_api.sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1300, "height": 5000})
        fetched = []
        page.route("**/*", lambda route: (fetched.append(route.request.url), route.abort())
                   if route.request.url.startswith("http") else route.continue_())
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(path.as_uri())
        figures = sum(item.figure is not None for item in ex.view.items)
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {figures}", timeout=60_000)
        # On screen a figure's title is HTML above its plot (client.js, .rv-title), following t without a redraw.
        titles = lambda: page.evaluate("[...document.querySelectorAll('.rv-title')].map(e => e.textContent)")  # noqa: E731
        assert "LSTM cell at step t = 2 of 3, reading ‘b’" in titles()
        page.get_by_role("button", name=re.compile("Next")).click()
        page.wait_for_function("[...document.querySelectorAll('.rv-title')].some(e => e.textContent.includes('t = 3'))")
        assert "LSTM cell at step t = 3 of 3, reading ‘c’" in titles()
        assert not errors and not fetched and not page.query_selector(".rv-error")
        browser.close()


# --- PNG and SVG ----------------------------------------------------------------------------------


@has_chromium
def test_the_zip_has_every_figure_as_png_at_three_times_its_size_and_as_svg_with_text():
    ex = export.build(export.parse_link("Step_through?source=sine&length=4&hidden=2&cell=gru&t=3"))
    with zipfile.ZipFile(io.BytesIO(export.zip_bytes(ex))) as archive:
        content = {name: archive.read(name) for name in archive.namelist()}
    figures = [item for item in ex.view.items if item.figure is not None]
    assert len(figures) == 4  # the input signal, the cell, the vectors, the heatmaps
    assert not any("images-missing" in name for name in content)
    for item in figures:
        name = ex.filename(item)
        layout = files.static_spec(item.figure, ex.t, item.half)["layout"]
        assert png_size(content[f"{name}.png"]) == (3 * layout["width"], 3 * layout["height"])
        svg = ET.fromstring(content[f"{name}.svg"])
        assert svg.tag.endswith("svg") and any(el.tag.endswith("text") and (el.text or "").strip() for el in svg.iter())
    assert {f"{ex.name('view')}.html", f"{ex.name('link')}.txt", f"rnnviz-step-numbers-{ex.view.scenario}.csv"} <= set(content)


def test_without_chromium_the_export_holds_the_html_and_says_why_images_are_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-browser"))
    ex = export.build(export.parse_link("Clipping_and_training?part=cliff"))
    written = export.write(ex, tmp_path / "out")
    out = {path.name for path in written.paths}
    assert not any(name.endswith((".png", ".svg")) for name in out)
    assert not list((tmp_path / "out").glob("*.png")) and not list((tmp_path / "out").glob("*.svg"))
    note = (tmp_path / "out" / f"{ex.name('images-missing')}.txt").read_text()
    assert "no Chrome or Chromium was found" in note and "no-such-browser" in note and "HTML" in note
    assert f"{ex.name('view')}.html" in out and written.images_missing


# --- the command line -----------------------------------------------------------------------------


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "rnnviz.export", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args,expected", [
    (("Step_through?t=2",), "http://localhost:8501/Step_through?t=2"),
    (("https://class.example/rnnviz/Step_through?t=2",), "https://class.example/rnnviz/Step_through?t=2"),
    (("Step_through?t=2", "--base-url", "http://10.0.0.5:8080/"), "http://10.0.0.5:8080/Step_through?t=2"),
])
def test_cli_link_file_is_a_whole_url(tmp_path, args, expected):
    result = run_cli(*args, "--out", str(tmp_path), "--no-images")
    assert result.returncode == 0, result.stderr
    (link,) = tmp_path.glob("rnnviz-step-link-*.txt")
    assert link.read_text() == expected + "\n"


def test_cli_refuses_a_base_url_that_is_not_an_address(tmp_path):
    result = run_cli("Step_through", "--base-url", "javascript:alert(1)", "--out", str(tmp_path), "--no-images")
    assert result.returncode == 2 and "--base-url" in result.stderr and not list(tmp_path.iterdir())


def test_cli_writes_a_scenario(tmp_path):
    result = run_cli("Backprop_through_time?cell=gru&hidden=3&text=ab&loss=all&hidden=999", "--out", str(tmp_path),
                     "--no-images")
    assert result.returncode == 0, result.stderr
    assert "note: hidden=999 is outside 1–64; using 64." in result.stderr
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(Path(line).name for line in result.stdout.split())
    scenario = "gru-h64-text-ab-s0-lossall"
    assert f"rnnviz-bptt-numbers-{scenario}.csv" in written and f"rnnviz-bptt-view-{scenario}-t01.html" in written
    assert (tmp_path / f"rnnviz-bptt-link-{scenario}-t01.txt").read_text() == \
        "http://localhost:8501/Backprop_through_time?cell=gru&hidden=64&text=ab&loss=all\n"


@pytest.mark.parametrize("link, message", [
    ("No_such_page?cell=gru", "is not a page with figures to export"),
    ("Clipping_and_training?r1_clip=off&r2_clip=off", "every run is switched off"),
    ("Clipping_and_training?part=cliff&cl_b=-8", "no wall"),
])
def test_cli_refuses_a_bad_page_or_an_unusable_link_with_status_2(tmp_path, link, message):
    result = run_cli(link, "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_help_explains_it():
    result = run_cli("--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: python -m rnnviz.export [-h]")
    assert "Backprop_through_time?cell=lstm&length=80&present=true" in result.stdout and "exit status" in result.stdout


# --- the app's panel --------------------------------------------------------------------------------


@pytest.fixture
def deferred(monkeypatch):
    """The callables behind the page's download buttons, by file name (Streamlit calls them on a click)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    found = {}
    original = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        found[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return found


@pytest.mark.usefixtures("fresh_cache")
@pytest.mark.parametrize("page, query", [
    ("step", {"cell": "gru", "hidden": 3, "text": "ab", "t": 2}),
    ("bptt", {"cell": "rnn-relu", "hidden": 3, "text": "ab", "loss": "all", "mode": "forward"}),
    ("training", {"part": "cliff", "cl_steps": 4}),
    ("compare", {"models": "random", "cell": "rnn-relu", "hidden": 3, "text": "abc", "perturb": 2, "t": 3}),
    ("compare", {"perturb": 12, "t": 30}),
    ("attention", {"attention": "none", "digits": "3141", "t": 2}),
])
def test_the_export_panel_builds_what_the_command_line_builds(page, query, deferred, monkeypatch, tmp_path):
    at = open_app(PAGES[page].file, **query)
    assert not at.exception, [e.value for e in at.exception]
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Export this view (zip)", "Export the numbers (CSV)"]
    link = export.Link(page, {name: str(value) for name, value in query.items()})
    ex = export.build(link)
    main = export.main_table(link)
    csv_name = f"rnnviz-{main}-{ex.view.scenario}.csv"
    assert deferred[csv_name]() == export.numbers_csv(ex, main)  # the app's CSV is the command line's
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "none"))  # the zip without images: fast, and degraded
    with zipfile.ZipFile(io.BytesIO(deferred[f"rnnviz-{page}-{ex.view.scenario}.zip"]())) as archive:
        inside = set(archive.namelist())
    assert inside == set(export.texts(ex)) | {f"{ex.name('images-missing')}.txt"}


@pytest.mark.usefixtures("fresh_cache")
def test_the_export_panel_exports_the_sessions_trained_runs(deferred):
    query = dict(pair.split("=") for pair in TRAIN_SMALL.split("&"))
    at = open_app(PAGES["training"].file, **query)
    assert not any(b.proto.label.startswith("Export") for b in at.get("download_button"))  # nothing trained yet
    next(b for b in at.button if b.label == "Train 3 runs").click().run()
    settle(at)  # the server trains them in the background
    assert not at.exception
    ex = export.build(export.parse_link("Clipping_and_training?" + TRAIN_SMALL))
    assert deferred[f"rnnviz-train-history-{ex.view.scenario}.csv"]() == export.numbers_csv(ex, "train-history")


@has_chromium
@pytest.mark.browser
def test_the_apps_zip_is_the_view_at_the_step_the_browser_shows(tmp_path):
    # The real path: a served page, t moved in the browser (the server hears it without a rerun of the
    # panel), a click on "Export this view": kaleido draws the images on the server, the zip downloads.
    sync_api = pytest.importorskip("playwright.sync_api")
    from .browser_helpers import MUTATION_CLOCK, launch_chromium, start_server, stop_server

    proc, url = start_server()
    try:
        with sync_api.sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page.add_init_script(MUTATION_CLOCK)
            page.goto(f"{url}/Step_through?cell=gru&hidden=3&text=abc&t=2", wait_until="domcontentloaded")
            page.get_by_role("button", name="Next step (→)").wait_for(timeout=60_000)
            page.get_by_role("button", name="Next step (→)").click()
            page.wait_for_function("() => location.search.includes('t=3')")
            page.wait_for_timeout(2500)  # the step sync tells the server after 300 ms, in a fragment
            with page.expect_download(timeout=180_000) as download:
                page.get_by_role("button", name=re.compile("Export this view")).click()
            assert download.value.suggested_filename == "rnnviz-step-gru-h3-text-abc-s0.zip"
            path = tmp_path / "view.zip"
            download.value.save_as(path)
            browser.close()
    finally:
        stop_server(proc)
    with zipfile.ZipFile(path) as archive:
        content = {name: archive.read(name) for name in archive.namelist()}
    scenario = "gru-h3-text-abc-s0"
    for item in ("cell", "vectors", "text-unit0", "heatmaps"):
        assert png_size(content[f"rnnviz-step-{item}-{scenario}-t03.png"])[0] in (3 * w for w in files.WIDTH.values())
        assert b"<text" in content[f"rnnviz-step-{item}-{scenario}-t03.svg"]
    # the link file is the whole URL the browser reached, host and port included
    assert content[f"rnnviz-step-link-{scenario}-t03.txt"] == \
        f"{url}/Step_through?cell=gru&hidden=3&text=abc&t=3\n".encode()
