"""The app as a user sees it: `streamlit run` on 127.0.0.1, driven in headless Chromium by clicks.

Each test starts from a freshly started server where it matters (deep links). Screenshots go to
artifacts/screenshots/ (git-ignored) so a person can look at them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from .browser_helpers import (
    CHROMIUM,
    MUTATION_CLOCK,
    ROOT,
    chart_text_problems,
    small_page_texts,
    start_server,
    stop_server,
)

SHOTS = ROOT / "artifacts" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def server():
    proc, url = start_server()
    yield url
    stop_server(proc)


class Socket:
    """Counts the messages the page sends to the server: a rerun request is one of them."""

    def __init__(self, page):
        self.sent = 0
        page.on("websocket", lambda ws: ws.on("framesent", self._count))

    def _count(self, _payload) -> None:
        self.sent += 1


def open_page(browser, url: str, width: int = 1600, height: int = 1000):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.add_init_script(MUTATION_CLOCK)
    page.socket = Socket(page)
    page.goto(url, wait_until="domcontentloaded")
    # The page's title comes after ui.page's setup (presentation styles, notes): until it is drawn the
    # first run has not reached the page, however quiet the DOM (a busy server answers late).
    page.wait_for_selector("h1", timeout=120_000)
    wait_idle(page)
    return page


def wait_idle(page, timeout: float = 60.0) -> None:
    """Wait until Streamlit has finished the run and the page has stopped changing."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    time.sleep(0.4)
    while time.monotonic() < deadline:
        busy = page.locator("[data-testid='stStatusWidget'], [data-testid='stSkeleton']").count()
        quiet = page.evaluate("() => performance.now() - window.__rvClock.last")
        if busy == 0 and quiet > 700:
            return
        time.sleep(0.1)


def assert_no_error(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, page.inner_text("body")[:2000]
    assert page.locator(".st-key-rnnviz-error").count() == 0, page.inner_text("body")[:2000]  # ui._on_script_error
    assert page.locator(".rv-error").count() == 0, page.inner_text("body")[:2000]


def shot(page, name: str, full_page: bool = True) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def titles(page) -> list[str]:
    return [t or "" for t in page.locator(".rv-title").all_text_contents()]


def cell_title(page) -> str:
    """The cell diagram's title, once it is drawn (figures are drawn when plotly.js has loaded)."""
    page.wait_for_function("() => [...document.querySelectorAll('.rv-title')].some(e => "
                           "e.textContent.includes('cell at step'))", timeout=30_000)
    return next((t for t in titles(page) if "cell at step" in t), "")


def card_link(page, heading: str, link: str):
    """The link of the card (a bordered box) that holds this heading."""
    box = page.locator("div", has=page.get_by_text(heading, exact=True)).filter(has=page.get_by_text(link)).last
    return box.get_by_text(link)


def next_step(page):
    return page.get_by_role("button", name="Next step (→)")


def test_clicking_a_lesson_card_opens_its_scenario(server, browser):
    page = open_page(browser, server)
    assert_no_error(page)
    assert "rnnviz" in page.inner_text("h1")
    shot(page, "home")
    card_link(page, "A vanilla RNN on a sine wave", "Open in Step through").click()  # same tab, as everyone does
    wait_idle(page)
    assert_no_error(page)
    assert "RNN (tanh) cell at step t = 1 of 40" in cell_title(page)
    assert "cell=rnn-tanh" in page.url and "source=sine" in page.url


def test_a_figures_buttons_are_its_two_exports_and_they_save_what_is_on_screen(server, browser):
    # Clicked as a person does: hover the figure, click its camera (PNG, 3x) and its SVG button. The modebar
    # holds only these (plotly.js 4's "Share chart..." upload button is removed), and the saved figure is the
    # one on screen at t: its title and its labels (HTML over the plot on screen, annotations in the file).
    page = browser.new_page(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page.add_init_script(MUTATION_CLOCK)
    page.goto(f"{server}/Step_through?t=3", wait_until="domcontentloaded")
    page.wait_for_selector("h1", timeout=120_000)
    wait_idle(page)
    assert "LSTM cell at step t = 3 of 11" in cell_title(page)
    figure = page.locator(".rv-item", has=page.locator(".rv-title", has_text="cell at step")).first
    figure.hover()
    buttons = figure.locator(".modebar-btn")
    assert sorted(buttons.evaluate_all("bs => bs.map(b => b.dataset.title)")) == [
        "Save as PNG (3×, for slides)", "Save as SVG (vector)"]
    with page.expect_download() as svg:
        figure.locator(".modebar-btn[data-title='Save as SVG (vector)']").click()
    assert svg.value.suggested_filename == "rnnviz-step-cell-lstm-h8-text-hello_world-s0-t03.svg"
    text = Path(svg.value.path()).read_text(encoding="utf-8")
    assert "LSTM cell at step t = 3 of 11" in text and "tanh" in text  # the title, an operation's label
    assert text.count("<g class=\"annotation\"") >= 15  # every label, drawn in the file
    assert "Play" not in text and "Save as" not in text
    with page.expect_download() as png:
        figure.locator(".modebar-btn[data-title='Save as PNG (3×, for slides)']").click()
    assert png.value.suggested_filename.endswith("-t03.png")
    width = int.from_bytes(Path(png.value.path()).read_bytes()[16:20], "big")  # the PNG header's width
    assert width == 3 * round(figure.locator(".js-plotly-plot").bounding_box()["width"])
    assert_no_error(page)
    page.close()


def test_moving_t_repaints_every_figure_without_a_server_round_trip(server, browser):
    page = open_page(browser, f"{server}/Step_through")
    assert_no_error(page)
    assert "step t = 1 of 11" in cell_title(page)
    before = page.socket.sent
    for _ in range(4):
        next_step(page).click()
    page.wait_for_function("() => document.querySelector('.rv-t').textContent.includes('t = 5')")
    assert "step t = 5 of 11" in cell_title(page)
    assert "Unit j = 0 at step t = 5" in page.inner_text(".rv-root")  # the equations moved too
    # nothing but the debounced "t moved" went to the server: none while clicks come fast, one a click when a
    # busy machine spaces them past its 300 ms pause, never a rerun that sends the figures again
    assert page.socket.sent - before <= 4
    for item in page.locator(".rv-item").all():  # figures below the fold are drawn at t as they come into view
        item.scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('.rv-title')].some(e => "
                           "e.textContent.includes('The vectors at step t = 5'))")
    assert page.locator(".rv-cursor").last.is_visible()  # the heatmaps' cursor, on step 5's column
    page.locator(".rv-item").first.scroll_into_view_if_needed()
    slider = page.get_by_role("slider", name="Step t")
    slider.focus()
    slider.press("ArrowRight")  # the keyboard moves it as well
    page.wait_for_function("() => [...document.querySelectorAll('.rv-title')].some(e => "
                           "e.textContent.includes('step t = 6 of 11'))")
    time.sleep(1.0)  # the URL follows at once; the server hears after a pause, in one small message
    assert "t=6" in page.url
    assert page.socket.sent - before <= 3  # t = 5 and t = 6, each heard once
    shot(page, "step-through-lstm-t06")
    copied = page.url
    page.close()
    page = open_page(browser, copied)  # a copied link reopens the same step
    assert "step t = 6 of 11" in cell_title(page)
    page.close()


def test_a_deep_link_on_a_fresh_server_restores_the_view(server, browser):
    # The very first request to this server is a deep link into a page, with a full scenario.
    page = open_page(browser, f"{server}/Step_through?cell=gru&source=task&task=adding&length=24&hidden=6&t=9"
                              "&present=true")
    assert_no_error(page)
    assert "GRU cell at step t = 9 of 24" in cell_title(page)
    assert page.get_by_role("slider", name="Step t").input_value() == "9"
    shot(page, "deep-link-gru-presentation", full_page=False)
    assert page.get_by_role("combobox", name="Cell").input_value() == "GRU"
    assert page.get_by_role("combobox", name="Task").input_value() == "Adding problem"
    page.close()


def test_bad_url_values_are_clamped_with_a_note(server, browser):
    page = open_page(browser, f"{server}/Step_through?cell=foo&t=-5&hidden=100000&seed=abc")
    assert_no_error(page)
    body = page.inner_text("body")
    assert "cell=foo is not one of" in body and "hidden=100000 is outside 1–64; using 64" in body
    assert "step t = 1 of" in cell_title(page)
    shot(page, "bad-url-values", full_page=False)
    page.close()


def test_compare_page_by_clicks_the_rnn_forgets_and_the_lstm_remembers(server, browser):
    page = open_page(browser, server, width=1440, height=900)
    page.get_by_test_id("stSidebar").get_by_role("link", name="Compare cells").click()  # the sidebar's link
    wait_idle(page)
    assert_no_error(page)
    assert "Compare_cells" in page.url

    def memory_title(k: int) -> None:
        page.wait_for_function("(k) => [...document.querySelectorAll('.rv-title')].some(e => "
                               "e.textContent.includes(`remembers a change at step ${k}`))", arg=k, timeout=30_000)

    memory_title(10)  # the trained trio, changed at its first symbol
    thumb = page.locator(".st-key-perturb").get_by_role("slider")
    thumb.focus()
    before = page.socket.sent
    for k in (11, 12):  # k = 12: the page reruns and the memory curves start at step 12
        thumb.press("ArrowRight")  # one key at a time: a key pressed during a busy rerun can be lost
        memory_title(k)
    wait_idle(page)
    assert_no_error(page)
    assert "perturb=12" in page.url and page.socket.sent > before
    assert "Step 12 reads" in page.inner_text("body")
    for k in (11, 10):
        thumb.focus()
        thumb.press("ArrowLeft")
        memory_title(k)
    wait_idle(page)
    assert "perturb" not in page.url  # back at the default
    body = page.inner_text("body")
    assert "RNN (tanh) nothing (exactly 0)" in body and "the LSTM changes its answer from" in body
    before = page.socket.sent
    for _ in range(5):
        next_step(page).click()  # one cursor: every figure and the numbers move, without a rerun
    page.wait_for_function("() => document.querySelector('.rv-root').innerText.includes('At step t = 6')")
    time.sleep(1.0)
    assert "t=6" in page.url
    assert page.socket.sent - before <= 5  # at most t heard by the server once a click (a busy machine's slow
    #                                        clicks each settle), never a rerun that sends the figures again
    draw_every_figure(page)
    assert chart_text_problems(page) == []
    page.locator(".rv-item").first.scroll_into_view_if_needed()
    time.sleep(0.5)
    shot(page, "compare-cells-trained-k10-t6", full_page=False)
    models = page.locator(".st-key-models")
    models.scroll_into_view_if_needed()
    models.get_by_text("Random weights, same seed (the sidebar's)").click()  # the other weights
    memory_title(1)
    wait_idle(page)
    assert_no_error(page)
    assert "models=random" in page.url
    shot(page, "compare-cells-random-k1", full_page=False)
    page.close()


def test_backprop_page_plays_the_gradient_backwards(server, browser):
    page = open_page(browser, f"{server}/Backprop_through_time?cell=rnn-relu&source=noise&length=60&hidden=16"
                              "&init=radius&radius=0.8&forget_bias=3", height=1400)
    assert_no_error(page)
    assert any("reached step 1 of 60" in t for t in titles(page))
    shot(page, "bptt-vanishing", full_page=False)
    before = page.socket.sent
    page.get_by_role("button", name="Play through the steps").click()
    time.sleep(2.0)  # 400 ms a step from T down: the gradient has reached a step near the end
    reached = next(t for t in titles(page) if "reached step" in t)
    step = int(reached.split("reached step")[1].split("of")[0])
    assert 50 <= step < 60
    assert page.socket.sent == before  # playing is the browser's own work
    shot(page, "bptt-backward-animation", full_page=False)
    page.close()


def test_backprop_forward_mode_keeps_the_current_step_in_view(server, browser):
    page = open_page(browser, f"{server}/Backprop_through_time?mode=forward&source=noise&length=200&hidden=8&t=100",
                     height=1200)
    assert_no_error(page)
    page.wait_for_function("() => [...document.querySelectorAll('.rv-title')].some(e => "
                           "e.textContent.includes('forward: step t = 100 of 200'))", timeout=30_000)
    assert any("forward: step t = 100 of 200" in t for t in titles(page))
    graph = page.locator(".js-plotly-plot").first
    labels = [t.replace("\u200b", "") for t in graph.locator("text").all_text_contents()]
    assert "h100" in labels  # the column of t is drawn, not hidden in an ellipsis
    assert highlighted(page) == "h100"
    next_step(page).click()
    page.wait_for_function("() => document.querySelector('.rv-t').textContent.includes('t = 101')")
    assert highlighted(page) == "h101"
    shot(page, "bptt-forward-t101", full_page=False)
    slider = page.get_by_role("slider", name="Step t")
    slider.focus()
    slider.press("End")  # the last step: the window stops at T, the highlight moves to its last column
    page.wait_for_function("() => document.querySelector('.rv-t').textContent.includes('t = 200')")
    assert highlighted(page) == "h200"
    page.close()


def highlighted(page) -> str:
    """The h label of the unrolled graph's column under its highlight (the step cursor)."""
    time.sleep(0.3)
    graph = page.locator(".rv-item").first
    box = graph.locator(".rv-cursor").first.bounding_box()
    middle = box["x"] + box["width"] / 2
    for text in graph.locator(".js-plotly-plot text").all():
        label = (text.text_content() or "").replace("\u200b", "")
        at = text.bounding_box()
        if label.startswith("h") and at and at["x"] <= middle <= at["x"] + at["width"]:
            return label
    return ""


def test_backprop_page_flips_from_vanishing_to_exploding(server, browser):
    query = "cell=rnn-relu&source=noise&length=60&hidden=16&init=radius&forget_bias=3"
    page = open_page(browser, f"{server}/Backprop_through_time?{query}&radius=0.8", height=1400)
    assert "vanishing" in page.locator("[data-testid='stMetricValue']").nth(2).inner_text()
    page.goto(f"{server}/Backprop_through_time?{query}&radius=1.2")
    wait_idle(page)
    assert_no_error(page)
    assert "exploding" in page.locator("[data-testid='stMetricValue']").nth(2).inner_text()
    shot(page, "bptt-exploding", full_page=False)
    page.close()


def test_clipping_preset_trains_and_shows_the_unclipped_run_blowing_up(server, browser):
    page = open_page(browser, f"{server}/Clipping_and_training", height=1500)
    assert_no_error(page)
    page.get_by_role("button", name="Exploding without clipping").click()  # its runs show without a Train button
    page.wait_for_selector("text=Training loss, with and without clipping", timeout=120_000)
    wait_idle(page, timeout=120)
    assert_no_error(page)
    assert "Training loss, with and without clipping" in titles(page)
    shot(page, "clipping-exploding-preset", full_page=False)
    page.get_by_role("button", name="The cliff").click()
    wait_idle(page)
    page.wait_for_selector("text=thrown to", timeout=60_000)  # the map with its zoom takes a while to draw
    assert_no_error(page)
    assert page.get_by_text("thrown to").count() >= 1
    shot(page, "clipping-cliff", full_page=False)
    page.close()


CUT_SHORT = """(selector) => [...document.querySelectorAll(selector)].flatMap(box =>
    [box, ...box.querySelectorAll('*')]).filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1
    && getComputedStyle(e).overflow !== 'visible' && e.textContent.trim()).map(e => e.textContent.trim())"""


def test_the_clipping_pages_preset_labels_and_run_verdicts_are_never_cut_short(server, browser):
    # At 1440 x 900 "LSTM on the adding problem" was cut to "LSTM on the adding pro…" in its button
    page = open_page(browser, f"{server}/Clipping_and_training", width=1440, height=900)
    assert_no_error(page)
    page.wait_for_selector("[data-testid='stMetricValue']", timeout=180_000)
    wait_idle(page, timeout=120)
    buttons = "[class*='st-key-preset_'] button"
    assert page.locator(buttons).count() == 5
    assert page.evaluate(CUT_SHORT, buttons) == []
    assert page.evaluate(CUT_SHORT, "[data-testid='stMetric']") == []  # a verdict such as "only the average"
    shot(page, "clipping-1440", full_page=False)
    page.close()


def test_a_training_run_can_be_stopped_and_keeps_what_it_did(server, browser):
    page = open_page(browser, f"{server}/Clipping_and_training?tr_cell=lstm&tr_updates=1000&r2_clip=off", height=1400)
    page.get_by_role("button", name="Train 1 run").click()
    page.wait_for_selector("text=Run 1 of 1: update", timeout=60_000)
    time.sleep(1.5)
    page.get_by_role("button", name="Stop").click()
    wait_idle(page, timeout=60)
    assert_no_error(page)
    assert page.get_by_text("stopped after").count() == 1
    assert "Train" not in " ".join(b.inner_text() for b in page.get_by_role("button").all())
    shot(page, "clipping-stopped-run", full_page=False)
    page.close()


def metric(page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']", has_text=label).first
    return box.locator("[data-testid='stMetricValue']").inner_text()


def test_every_scenario_link_on_home_opens_exactly_its_scenario(server, browser):
    # One tab, as a class would use it: Home, a card, back to Home by the sidebar, the next card, ...
    from rnnviz.config import PARAMS, parse_param
    from rnnviz.lessons import SCENARIOS, facts, render

    page = open_page(browser, server, height=1200)
    for card in SCENARIOS:
        page.get_by_role("link", name="Home").first.click()
        wait_idle(page)
        f = facts(card.step)
        title = render(card.step.title, f)
        card_link(page, title, "Open in").click()
        wait_idle(page, timeout=120)
        assert_no_error(page)
        for name, raw in card.step.params.items():  # the URL keeps every value that is not a default
            if name in PARAMS and parse_param(name, raw, PARAMS[name])[0] != PARAMS[name].default:
                assert f"{name}={raw}" in page.url, (title, page.url)
        if card.step.page == "step":
            assert f"of {f['T']}" in cell_title(page), title
        elif card.step.page == "bptt":
            assert metric(page, "Reaches t = 1") == f["fraction_text"], title  # the card's number is the page's
            assert f["fraction_text"] in render(card.step.say, f)
    page.close()


def test_a_lesson_is_followed_by_clicks_and_asks_before_it_tells(server, browser):
    page = open_page(browser, server, height=1200)
    card_link(page, "Why gradients vanish", "Start the lesson").click()
    wait_idle(page)
    assert_no_error(page)
    assert page.get_by_text("step 1 of 5").count() == 1
    page.get_by_role("link", name="Next: How much arrives?").click()
    wait_idle(page)
    assert page.get_by_text("step 2 of 5").count() == 1
    assert page.get_by_text("Make your prediction").count() == 1  # the plot that answers it is held back
    assert page.locator("[data-testid='stMetric']").count() == 0
    shot(page, "lesson-vanishing-ask", full_page=False)
    page.get_by_text("Less", exact=True).click()
    page.get_by_role("button", name="Reveal").click()
    wait_idle(page)
    assert page.get_by_text("Right.").count() == 1
    assert metric(page, "Regime") == "vanishing"  # revealed with the answer
    shot(page, "lesson-vanishing-reveal", full_page=False)
    page.get_by_role("link", name="Next: Stretch and loss").click()
    wait_idle(page)
    assert "radius=0.8" in page.url and "cell=rnn-relu" in page.url  # the step's own scenario
    page.close()


PRESENTED = ["Step_through", "Step_through?cell=gru&source=noise&length=200&hidden=64",
             "Step_through?cell=rnn-relu&source=sine", "Backprop_through_time",
             "Backprop_through_time?cell=rnn-relu&source=noise&length=60&hidden=16&init=radius&radius=0.8",
             "Backprop_through_time?mode=forward&source=noise&length=200", "", "Compare_cells?perturb=3",
             "Compare_cells?source=noise&length=200&hidden=64&perturb=20",
             "Attention", "Attention?model=untrained&digits=48291073561928374650&t=7"]


def test_attention_is_reached_from_the_sidebar_and_steps_the_decoder_in_the_browser(server, browser):
    page = open_page(browser, server, width=1440, height=900)
    page.locator("[data-testid='stSidebar']").get_by_role("link", name="Attention").click()
    wait_idle(page)
    assert_no_error(page)
    assert page.url.endswith("/Attention") and "Attention: a short path" in page.inner_text("h1")
    page.locator(".rv-item").nth(1).scroll_into_view_if_needed()  # the decoder: drawn as it comes into view
    page.wait_for_function("() => [...document.querySelectorAll('.rv-title')].some(e => "
                           "e.textContent.includes('Decoder step t = 1 of 11'))", timeout=60_000)
    before = page.socket.sent
    for _ in range(3):
        next_step(page).click()
    page.wait_for_function("() => document.querySelector('.rv-t').textContent.includes('t = 4')")
    # the browser moved the decoder itself: the server hears where t settled, at most once a click when a busy
    # machine spaces the clicks past the 300 ms pause, never a rerun
    assert page.socket.sent - before <= 3
    page.locator(".rv-item").nth(1).scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('.rv-title')].some(e => "
                           "e.textContent.includes('Decoder step t = 4 of 11'))")
    page.locator(".rv-item").first.scroll_into_view_if_needed()
    time.sleep(0.5)
    assert page.locator(".rv-cursor").first.is_visible()  # the matrix's box on step 4's row
    shot(page, "attention-matrix-t04", full_page=False)
    page.locator(".rv-item").nth(2).scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')].some(g => g.data && "
                           "g.data.some(tr => tr.name === 'without attention'))", timeout=60_000)
    lines = page.evaluate("() => Object.fromEntries([...document.querySelectorAll('.js-plotly-plot')].flatMap(g => "
                          "(g.data || []).filter(tr => tr.name && tr.name.includes('attention')).map(tr => "
                          "[tr.name, Array.from(tr.y)])))")
    # drawn for the user: the far digit keeps its share with attention, loses most of it without
    assert lines["with attention"][0] > 0.5 and lines["without attention"][0] < 0.2
    time.sleep(1.0)
    assert "t=4" in page.url
    shot(page, "attention-gradients", full_page=False)
    page.close()


def draw_every_figure(page) -> None:
    """Scroll through the page so every figure is drawn (they are drawn as they come into view)."""
    for item in page.locator(".rv-item").all():
        item.scroll_into_view_if_needed()
        time.sleep(0.3)
    time.sleep(1.0)


@pytest.mark.parametrize("path", PRESENTED)
def test_presentation_mode_fits_a_1280x720_projector(server, browser, path):
    joiner = "&" if "?" in path else "?"
    page = open_page(browser, f"{server}/{path}{joiner}present=true", width=1280, height=720)
    assert_no_error(page)
    assert page.locator("[data-testid='stSidebar']").get_attribute("data-collapsed") == "true"  # reopened by its arrow
    draw_every_figure(page)
    assert small_page_texts(page, 20) == []  # body, captions, metrics, widget labels, equations: >= 20 px
    assert chart_text_problems(page, min_tick_px=18, min_text_px=20) == []  # no overlap, nothing cut, big enough
    bar = page.evaluate("() => document.querySelector('.rv-bar')?.getBoundingClientRect().height || 0")
    header = 60  # Streamlit's header row
    for title, height in page.evaluate("() => [...document.querySelectorAll('.rv-item')].filter(e => "
                                       "e.querySelector('.js-plotly-plot')).map(e => [e.querySelector('.rv-title')"
                                       "?.textContent, e.querySelector('.rv-title').getBoundingClientRect().height + "
                                       "e.querySelector('.js-plotly-plot').getBoundingClientRect().height])"):
        assert header + bar + height <= 720, f"{title!r}: {height:.0f} px does not fit under the step control"
    shot(page, "present-" + (path.split("?")[0] or "home").lower() + ("-" + str(abs(hash(path)) % 1000) if "?" in path
                                                                      else ""), full_page=False)
    page.close()


@pytest.mark.parametrize("path", [path for path in PRESENTED if path])  # Home has no charts
def test_normal_mode_charts_have_no_overlapping_or_cut_text(server, browser, path):
    page = open_page(browser, f"{server}/{path}", width=1440, height=900)
    draw_every_figure(page)
    assert chart_text_problems(page) == []
    page.close()


def test_a_student_link_keeps_hiding_through_the_step_control_and_the_lessons_next(server, browser):
    # hide=sidebar: no sidebar and no arrow to open it; ▶ and the lesson's Next keep the link a student link.
    page = open_page(browser, f"{server}/Step_through?cell=gru&text=abcd&lesson=cell&step=1&hide=sidebar")
    assert_no_error(page)
    no_sidebar = "[data-testid='stSidebar'], [data-testid='stExpandSidebarButton'], [data-testid='stSidebarCollapsedControl']"
    assert page.locator(no_sidebar).count() == 0
    next_step(page).click()
    page.wait_for_function("() => location.search.includes('t=2')")
    assert "hide=sidebar" in page.url
    page.locator("[data-testid='stPageLink'] a", has_text="Next:").click()
    page.wait_for_function("() => location.search.includes('step=2')")
    wait_idle(page)
    assert_no_error(page)
    assert "hide=sidebar" in page.url and page.locator(no_sidebar).count() == 0
    assert "cell at step t = 1" in cell_title(page)  # the next step's own scenario, still hiding the sidebar
    shot(page, "student-link-next", full_page=False)
    page.close()


SQUARE_LABEL_OVERLAPS_JS = r"""() => {
  // the values printed in heatmap squares: any two on one row that run into each other
  const out = [];
  for (const item of document.querySelectorAll('.rv-item')) {
    const boxes = [...item.querySelectorAll('g.heatmap-label text')].map((e) => [e.textContent, e.getBoundingClientRect()])
      .filter(([, r]) => r.width > 0);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      const sameRow = Math.abs((ra.top + ra.bottom) / 2 - (rb.top + rb.bottom) / 2) < 2;
      if (sameRow && ra.left < rb.right - 1 && rb.left < ra.right - 1) out.push(`${a} | ${b}`);
    }
  }
  return out;
}"""


@pytest.mark.parametrize("present,width,sidebar", [(True, 1280, True), (True, 1280, False), (False, 1440, False)])
def test_values_in_the_squares_are_printed_only_where_they_fit(server, browser, present, width, sidebar):
    page = open_page(browser, f"{server}/Step_through" + ("?present=true" if present else ""), width=width,
                     height=720 if present else 900)
    if sidebar:  # opened by the lecturer: every figure gets narrower, and must drop what no longer fits
        page.get_by_test_id("stExpandSidebarButton").first.click()
        time.sleep(1.5)
        wait_idle(page)
    draw_every_figure(page)
    assert page.evaluate(SQUARE_LABEL_OVERLAPS_JS) == []
    printed = page.evaluate("() => document.querySelectorAll('.rv-item g.heatmap-label text').length")
    assert printed >= 8  # x's characters at least: labels are dropped only where they do not fit
    page.close()
