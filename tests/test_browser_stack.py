"""A 2-layer bidirectional LSTM set up by clicking the sidebar, stepped through in Chromium: both directions
follow t in the browser. Screenshots go to artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

import os
import time

import pytest

from .browser_helpers import CHROMIUM, MUTATION_CLOCK, ROOT, launch_chromium, start_server, stop_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api")
SHOTS = ROOT / "artifacts" / "screenshots"
SENTENCE = "the cat sat"


def idle(page, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    time.sleep(0.5)
    while time.monotonic() < deadline:
        busy = page.locator("[data-testid='stStatusWidget'], [data-testid='stSkeleton']").count()
        if busy == 0 and page.evaluate("() => performance.now() - window.__rvClock.last") > 800:
            return
        time.sleep(0.1)


def stack_texts(page) -> str:
    """The stack figure's drawn text (its SVG and its labels, drawn in HTML over it), once it shows a 2-layer
    bidirectional stack."""
    page.wait_for_function("() => [...document.querySelectorAll('.rv-title')].some(e => "
                           "e.textContent.includes('2-layer bidirectional LSTM'))", timeout=120_000)
    return page.locator(".rv-plot").first.inner_text().replace("\u200b", "")  # Plotly's sub/sup marks


def test_clicking_to_a_bidirectional_stack_shows_both_directions_moving_with_t():
    proc, url = start_server()
    try:
        with sync_api.sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.add_init_script(MUTATION_CLOCK)
            page.goto(url + "/Step_through", wait_until="domcontentloaded")
            sidebar = page.locator("[data-testid='stSidebar']")
            layers = sidebar.locator(".st-key-layers input[type=range]")
            layers.wait_for(state="attached", timeout=120_000)
            idle(page)
            layers.focus()
            layers.press("ArrowRight")  # 1 -> 2
            idle(page)
            sidebar.locator(".st-key-direction").get_by_text("Bidirectional").click()
            idle(page)
            sidebar.locator(".st-key-text textarea").fill(SENTENCE)
            page.keyboard.press("Control+Enter")
            idle(page)
            assert "layers=2" in page.url and "direction=bidirectional" in page.url
            text = stack_texts(page)
            assert "layer 1, reverse ←" in text and "layer 2, forward →" in text
            assert "has read x11 … x1" in text  # at t = 1 the reverse state has read all
            page.locator(".rv-bar button", has_text="▶").first.click()  # t = 2, moved in the browser
            page.wait_for_function("() => [...document.querySelectorAll('.rv-title')].some(e => "
                                   "e.textContent.includes('at step t = 2 of 11'))", timeout=30_000)
            assert "has read x11 … x2" in stack_texts(page)
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "stack-step-bidirectional.png"))
            assert page.locator("[data-testid='stException'], .st-key-rnnviz-error, .rv-error").count() == 0
            browser.close()
    finally:
        stop_server(proc)
