"""The app as a user sees it: `streamlit run` on 127.0.0.1, driven in headless Chromium.

Each test starts from a freshly started server where it matters (deep links). Screenshots go to
artifacts/screenshots/ (git-ignored) so a person can look at them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not start: " + proc.stderr.read().decode()[-2000:])


@pytest.fixture
def server():
    proc, url = start_server()
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield b
        b.close()


def open_page(browser, url: str, width: int = 1600, height: int = 1000):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url, wait_until="domcontentloaded")
    wait_idle(page)
    return page


def wait_idle(page, timeout: float = 60.0) -> None:
    """Wait until Streamlit has finished the run and the charts have stopped changing."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    time.sleep(0.5)
    stable, last = 0, None
    while time.monotonic() < deadline and stable < 3:
        busy = (page.locator("[data-testid='stStatusWidget']").count()
                + page.locator("[data-testid='stSkeleton']").count())
        state = (busy, page.locator(".js-plotly-plot").count(), page.url)
        stable = stable + 1 if (busy == 0 and state == last) else 0
        last = state
        time.sleep(0.3)
    time.sleep(0.5)  # plotly finishes drawing after the run


def assert_no_error(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, page.inner_text("body")[:2000]


def shot(page, name: str, full_page: bool = True) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def cell_title(page) -> str:
    return page.locator(".js-plotly-plot .gtitle").first.text_content() or ""


def test_home_and_step_through_load_and_the_slider_moves_the_chart(server, browser):
    page = open_page(browser, server)
    assert_no_error(page)
    assert "rnnviz" in page.inner_text("h1")
    shot(page, "home")

    page.get_by_text("Open in Step through").first.click()
    wait_idle(page)
    assert_no_error(page)
    assert "Step through the cell" in page.inner_text("body")
    before = cell_title(page)
    assert "step t = 1 of 11" in before
    shot(page, "step-through-lstm-t01")

    slider = page.get_by_role("slider", name="Step t")
    for _ in range(3):  # one key at a time: a key pressed during a rerun can be lost
        slider.focus()
        slider.press("ArrowRight")
        wait_idle(page)
    page.get_by_role("button", name="▶").click()  # the "next step" button
    wait_idle(page)
    after = cell_title(page)
    assert "step t = 5 of 11" in after and after != before
    assert "t=5" in page.url  # the URL carries the step
    shot(page, "step-through-lstm-t05")
    page.close()


def test_a_deep_link_on_a_fresh_server_restores_the_view(server, browser):
    # The very first request to this server is a deep link into a page, with a full scenario.
    page = open_page(browser, f"{server}/Step_through?cell=gru&source=task&task=adding&length=24&hidden=6&t=9&present=true")
    assert_no_error(page)
    assert "GRU cell at step t = 9 of 24" in cell_title(page)
    assert page.get_by_role("slider", name="Step t").get_attribute("aria-valuetext") == "9"
    shot(page, "deep-link-gru-presentation", full_page=False)
    # the sidebar is there too, showing the linked values
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


def test_backprop_page_runs_the_backward_animation(server, browser):
    # a deep link into the page is the first request to this server
    page = open_page(browser, f"{server}/Backprop_through_time?cell=rnn-relu&source=noise&length=60&hidden=16"
                              "&init=radius&radius=0.8&forget_bias=3", height=1400)
    assert_no_error(page)
    assert "Unrolled RNN (ReLU), backward" in cell_title(page)
    shot(page, "bptt-vanishing", full_page=False)
    page.get_by_text("▶ Play backward").click()
    time.sleep(2.0)  # frames advance every 450 ms: the gradient has reached a middle step
    title = cell_title(page)
    assert title.startswith("Backward: the gradient has reached step")
    reached = int(title.split("step")[1].split("of")[0])
    assert 1 <= reached < 60
    shot(page, "bptt-backward-animation", full_page=False)
    page.close()


def test_backprop_page_flips_from_vanishing_to_exploding(server, browser):
    query = "cell=rnn-relu&source=noise&length=60&hidden=16&init=radius&forget_bias=3"
    page = open_page(browser, f"{server}/Backprop_through_time?{query}&radius=0.8", height=1400)
    assert "vanishing" in page.locator("[data-testid='stMetricValue']").nth(1).inner_text()
    page.goto(f"{server}/Backprop_through_time?{query}&radius=1.2")
    wait_idle(page)
    assert_no_error(page)
    assert "exploding" in page.locator("[data-testid='stMetricValue']").nth(1).inner_text()
    shot(page, "bptt-exploding", full_page=False)
    page.close()


def test_clipping_preset_trains_and_shows_the_unclipped_run_blowing_up(server, browser):
    page = open_page(browser, f"{server}/Clipping_and_training", height=1500)
    assert_no_error(page)
    page.get_by_role("button", name="Exploding without clipping").click()
    wait_idle(page)
    page.get_by_role("button", name="Train 2 runs").click()
    page.wait_for_selector("text=Training loss, with and without clipping", timeout=120_000)
    wait_idle(page, timeout=120)
    assert_no_error(page)
    titles = [t.text_content() for t in page.locator(".js-plotly-plot .gtitle").all()]
    assert "Training loss, with and without clipping" in titles
    shot(page, "clipping-exploding-preset", full_page=False)
    page.get_by_role("button", name="The cliff").click()
    wait_idle(page)
    assert_no_error(page)
    assert page.get_by_text("thrown to").count() >= 1
    shot(page, "clipping-cliff", full_page=False)
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
