"""Hostile links as Chromium draws them: the note shows what a link said as literal text, nothing in it (or
anywhere on the page) becomes a link, an image, a frame or a request to another address; two browsers
never see each other's values. One server for the module (`streamlit run` on 127.0.0.1); screenshots go
to artifacts/screenshots/."""

from __future__ import annotations

import os
import urllib.parse

import pytest

from rnnviz.config import shown

from .browser_helpers import CHROMIUM, MUTATION_CLOCK, start_server, stop_server
from .test_browser import SHOTS, assert_no_error, cell_title, wait_idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api")

HOSTILE = [
    "[Login](//evil.co/x)", "![](//127.0.0.1:9/a)", "<img src=//127.0.0.1:9/i onerror=alert(1)>",
    "<script>alert(1)</script>", "$\\href{//evil.co}{x}$", "$$\\href{//evil.co}{y}$$", "https://evil.co/a",
    "www.evil.co", "a@evil.co", ":material/home:", ":red[big] :smile:", "**bold** _it_", "`a` ``b",
    "<iframe src=//evil.co>", "[x]: //evil.co", "\\(x\\)", "&lt;b&gt;", "😀🎉", "\u202eשלום abc", "a\n\n# h",
]
CHOICES = ("cell", "init", "source", "forget_bias", "task")  # five notes a link: one box shows five lines
MARKUP = "a, img, iframe, frame, object, embed, svg, math, script, video, audio, source, link, form, input, .katex"


@pytest.fixture(scope="module")
def server():
    proc, url = start_server()
    yield url
    stop_server(proc)


class Watch:
    """Every request the page makes and every dialog it opens (an alert() would be one)."""

    def __init__(self, page, origin: str):
        self.origin, self.requests, self.dialogs = origin, [], []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def foreign(self) -> list[str]:
        own = (self.origin + "/", f"blob:{self.origin}/", "data:")
        return [u for u in self.requests if not u.startswith(own)]


def open_link(context, server: str, path: str, query: dict[str, str]):
    page = context.new_page()
    page.add_init_script(MUTATION_CLOCK)
    watch = Watch(page, server)
    page.goto(f"{server}/{path}?{urllib.parse.urlencode(query)}", wait_until="domcontentloaded")
    page.wait_for_selector(".rv-root", timeout=60_000)  # the figures: the run got that far
    wait_idle(page)
    return page, watch


def note_box(page):
    boxes = page.locator("[data-testid='stAlert']").filter(has_text="This link had values")
    assert boxes.count() == 1, page.inner_text("body")[:2000]
    return boxes.first


@pytest.mark.parametrize("group", range(0, len(HOSTILE), len(CHOICES)))
def test_a_hostile_link_puts_no_markup_on_the_page_and_its_note_shows_the_text(server, browser, group):
    values = HOSTILE[group : group + len(CHOICES)]
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    query = dict(zip(CHOICES, values, strict=False))
    page, watch = open_link(context, server, "Step_through", query)
    assert_no_error(page)
    box = note_box(page)
    assert box.locator(MARKUP).count() == 0, box.inner_html()
    text = box.inner_text().replace("\u2068", "").replace("\u2069", "")  # the isolates around each value
    for value in values:
        assert shown(value) in text, (value, text)
    # and nowhere on the page: no element pointing at the link's addresses, no request there, no alert()
    assert page.locator("[href*='evil'], [src*='evil'], [src*='127.0.0.1:9']").count() == 0
    assert not watch.foreign(), watch.foreign()
    assert not watch.dialogs
    assert "step t = 1 of 11" in cell_title(page)  # the normal view: the default text, 11 steps
    if group == 0:
        SHOTS.mkdir(parents=True, exist_ok=True)
        box.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "hostile-link-note.png"), clip=box.bounding_box() | {"height": 260})
        page.screenshot(path=str(SHOTS / "hostile-link-page.png"))
    context.close()


def test_hostile_text_is_drawn_as_text_in_the_figures(server, browser):
    # The text is the input: every character is a step, its label drawn in the figures and the text view.
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    text = "<a href=//evil.co>x</a>[l](//evil.co)<img src=//127.0.0.1:9/t>$\\href{//evil.co}{z}$"
    page, watch = open_link(context, server, "Step_through", {"text": text, "t": "3"})
    assert_no_error(page)
    assert page.locator("[data-testid='stAlert']").filter(has_text="This link had values").count() == 0
    for item in page.locator(".rv-item").all():  # every figure drawn
        item.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    assert page.locator("[href*='evil'], [src*='evil'], [src*='127.0.0.1:9']").count() == 0
    assert page.locator(".rv-root a, .rv-root img, .rv-root iframe").count() == 0
    assert not watch.foreign() and not watch.dialogs
    assert f"of {len(text)}" in cell_title(page)
    context.close()


def test_play_with_a_speed_between_the_choices_plays(server, browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page, _ = open_link(context, server, "Step_through", {"play": "true", "speed": "300"})
    assert_no_error(page)
    assert "speed=300 is not one of" in note_box(page).inner_text()
    page.wait_for_function("() => document.querySelector('.rv-t').textContent.includes('t = 11 of 11')",
                           timeout=30_000)  # played through to the end, 400 ms a step
    assert page.locator("select[aria-label^='Play speed']").input_value() == "400"
    assert "speed=" not in page.url and "play=true" in page.url
    context.close()


def test_two_browsers_never_see_each_others_values(server, browser):
    a_ctx, b_ctx = (browser.new_context(viewport={"width": 1500, "height": 1000}) for _ in range(2))
    a, _ = open_link(a_ctx, server, "Step_through", {"cell": "gru", "hidden": "5", "seed": "11"})
    b, _ = open_link(b_ctx, server, "Step_through", {"cell": "rnn-relu", "hidden": "3", "text": "zzz",
                                                        "init": "[x](//evil.co)"})
    assert "init=" in note_box(b).inner_text().replace("\u2068", "")
    a.get_by_role("combobox", name="Cell").click()
    a.get_by_role("option", name="LSTM").click()
    wait_idle(a)
    b.reload()
    wait_idle(b)
    a.reload()
    wait_idle(a)
    assert "LSTM cell at step t = 1 of 11" in cell_title(a) and "cell=" not in a.url and "seed=11" in a.url
    assert "RNN (ReLU) cell at step t = 1 of 3" in cell_title(b) and "cell=rnn-relu" in b.url
    assert a.get_by_role("combobox", name="Cell").input_value() == "LSTM"
    assert b.get_by_role("combobox", name="Cell").input_value() == "RNN (ReLU)"
    assert a.locator("[data-testid='stAlert']").filter(has_text="This link had values").count() == 0
    a_ctx.close()
    b_ctx.close()


def test_a_repeated_parameter_opens_its_last_value_and_the_url_keeps_one(server, browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.add_init_script(MUTATION_CLOCK)
    page.goto(f"{server}/Step_through?cell=rnn-relu&cell=gru&hidden=4", wait_until="domcontentloaded")
    page.wait_for_selector(".rv-root", timeout=60_000)
    wait_idle(page)
    assert "GRU cell at step" in cell_title(page)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    assert query["cell"] == ["gru"] and query["hidden"] == ["4"]
    context.close()
