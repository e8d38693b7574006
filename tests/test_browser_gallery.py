"""Trained weights in Chromium: a gallery model chosen with clicks in the sidebar, a user's file dropped on
the uploader (and a PyTorch pickle refused). Screenshots go to artifacts/ (git-ignored)."""

from __future__ import annotations

import os

import pytest

from rnnviz.weights import CONVERT_TO_SAFETENSORS

from .browser_helpers import CHROMIUM, ROOT
from .test_browser import assert_no_error, open_page, server, wait_idle  # noqa: F401 (server is a fixture)

ARTIFACTS = ROOT / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium at /usr/bin/chromium"),
]
pytest.importorskip("playwright.sync_api")


def choose_weights(page, label: str) -> None:
    page.get_by_role("combobox", name="Weights").click()
    page.get_by_role("option", name=label).click()
    wait_idle(page)


def test_choosing_the_bracket_model_in_the_sidebar_shows_its_depth_unit(server, browser):  # noqa: F811
    page = open_page(browser, f"{server}/Step_through", width=1440, height=900)
    choose_weights(page, "An LSTM that counts brackets")
    assert_no_error(page)
    assert "weights=lstm-brackets" in page.url
    assert page.get_by_text("Trained weights: An LSTM that counts brackets").count() == 1
    page.wait_for_function("() => [...document.querySelectorAll('.rv-title')].some(e => "
                           "e.textContent.includes('unit to watch'))", timeout=30_000)
    title = page.locator(".rv-title", has_text="The unit to watch").first
    title.scroll_into_view_if_needed()
    page.evaluate("() => window.scrollBy(0, -60)")
    wait_idle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gallery-lstm-brackets-step.png"))
    page.close()


def test_a_file_dropped_on_the_uploader_opens_and_a_pickle_is_refused(server, browser, tmp_path):  # noqa: F811
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = torch.nn.GRU(5, 6)
    good = tmp_path / "mine.safetensors"
    save_file({f"rnn.{k}": v for k, v in model.state_dict().items()}, str(good))
    bad = tmp_path / "mine.pt"
    torch.save(model.state_dict(), str(bad))

    page = open_page(browser, f"{server}/Step_through", width=1440, height=900)
    uploader = page.locator("[data-testid='stFileUploaderDropzoneInput']")
    uploader.set_input_files(str(bad))
    wait_idle(page)
    page.get_by_text("rnnviz cannot use this file").wait_for(timeout=30_000)  # the upload's rerun, on a busy machine
    assert_no_error(page)
    assert page.get_by_text("rnnviz cannot use this file").count() == 1
    assert CONVERT_TO_SAFETENSORS.split("\n")[1] in page.locator("[data-testid='stCode']").inner_text()
    page.screenshot(path=str(ARTIFACTS / "upload-pickle-refused.png"))

    uploader.set_input_files(str(good))
    wait_idle(page)
    page.get_by_text("Trained weights: your file mine.safetensors").wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "upload-gru.png"))
    assert_no_error(page)
    assert page.get_by_text("rnnviz cannot use this file").count() == 0
    assert "weights=" not in page.url  # a file's weights stay in the session
    page.close()
