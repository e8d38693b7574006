"""Serving rnnviz (or any Streamlit script) on 127.0.0.1 and driving it in headless Chromium.

Shared by the browser tests and benchmarks/browser.py. Chromium is Debian's /usr/bin/chromium,
driven by Playwright for Python; nothing here downloads a browser.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# Injected before any page script: the time of the latest DOM change, so a test can tell when a
# page has finished repainting after an input (Plotly draws into SVG: its drawing is a DOM change).
MUTATION_CLOCK = """
window.__rvClock = {last: performance.now()};
new MutationObserver(() => { window.__rvClock.last = performance.now(); })
  .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(script: str = "app.py", cwd: Path = ROOT, *extra: str) -> tuple[subprocess.Popen, str]:
    """`streamlit run script` on a free port of 127.0.0.1; returns (process, base URL) once healthy."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none", *extra],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
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


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def launch_chromium(playwright, **kwargs):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, **kwargs)


def running(page) -> bool:
    """Is Streamlit still running a script (or drawing skeletons)?"""
    return bool(page.evaluate(
        "() => !!document.querySelector(\"[data-testid='stStatusWidget'], [data-testid='stSkeleton']\")"))


def settle_ms(page, since: float, quiet_ms: float = 500.0, timeout: float = 60.0) -> float:
    """Wait for a DOM change after `since` (performance.now() in the page), then until the page has
    been quiet (no DOM change, no script running) for quiet_ms; return its last change, in ms after since."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now, last = page.evaluate("() => [performance.now(), window.__rvClock.last]")
        if last > since and now - last >= quiet_ms and not running(page):
            return last - since
        time.sleep(0.03)
    raise TimeoutError(f"the page did not settle within {timeout} s")


def page_now(page) -> float:
    return float(page.evaluate("() => performance.now()"))
