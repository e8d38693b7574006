"""What a person feels: input to repainted page, in headless Chromium, beside Streamlit's own floor.

Serves rnnviz and benchmarks/trivial_app.py (one ▶ button, one slider, one Plotly chart) with
`streamlit run` on 127.0.0.1, drives both in Debian's Chromium, and prints for each page and
scenario the median and worst time from an input to the page's last DOM change (Plotly draws into
the DOM, so its drawing counts), and the kilobytes the browser received over the websocket for it:
- a t scrub (the step control's ▶: the figures repaint in the browser; "KB in" is the small reply to
  the debounced message that tells the server where t went),
- a network control change (the Cell select box in the sidebar),
- a fresh page load (a new tab opening a link; server caches warm, browser cache warm),
and the same for the trivial app, with the ratios. Timings stay here, not in the tests: machines
are noisy. Close other work on the machine first.

    python benchmarks/browser.py               # every view, 9 repeats
    python benchmarks/browser.py --repeats 5 --only step
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser_helpers import (  # noqa: E402
    MUTATION_CLOCK,
    launch_chromium,
    page_now,
    settle_ms,
    start_server,
    stop_server,
)

NEXT_STEP = "button[title^='Next step']"


@dataclass(frozen=True)
class View:
    """One page in one scenario, and how to drive its inputs."""

    name: str
    path: str  # path and query of the link, e.g. "Step_through?source=noise&length=200&hidden=64"
    scrub: bool = True  # has a step control
    cells: tuple[str, str] = ("GRU", "LSTM")  # the Cell select box alternates between these


VIEWS = [
    View("step: defaults", "Step_through"),
    View("step: T = 200, H = 64", "Step_through?source=noise&length=200&hidden=64"),
    View("bptt: defaults (forward mode)", "Backprop_through_time?mode=forward"),
    View("bptt: T = 200, H = 64 (forward)", "Backprop_through_time?mode=forward&source=noise&length=200&hidden=64"),
    View("training: defaults", "Clipping_and_training", scrub=False, cells=()),
]


class Recorder:
    """Bytes the browser receives over Streamlit's websocket."""

    def __init__(self, page):
        self.received = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._count))

    def _count(self, payload) -> None:
        self.received += len(payload) if isinstance(payload, (bytes, str)) else 0


def timed(page, rec: Recorder, action: Callable[[], None], quiet_ms: float = 500.0,
          clock: str = "last") -> tuple[float, float]:
    """(ms from the input to the last DOM change, KB received until the page settled) for one input.

    clock="figures": the last change of rnnviz's figures (a t scrub repaints them in the browser; the
    debounced message that tells the server where t went follows 300 ms later and repaints nothing)."""
    before = rec.received
    t0 = page_now(page)
    action()
    ms = settle_ms(page, t0, quiet_ms, clock=clock)
    if clock == "figures":
        settle_ms(page, t0, quiet_ms)  # let the server hear t before the next input
    return ms, (rec.received - before) / 1024


def open_view(browser, url: str):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.add_init_script(MUTATION_CLOCK)
    rec = Recorder(page)
    page.goto(url, wait_until="commit")
    load_ms = settle_ms(page, 0.0, quiet_ms=1000.0)  # performance.now() starts at navigation
    return page, rec, load_ms


def choose_cell(page, label: str) -> Callable[[], None]:
    page.get_by_role("combobox", name="Cell").first.click()
    option = page.get_by_role("option", name=label, exact=True)
    option.wait_for()
    return lambda: option.click()


def measure_view(browser, base: str, view: View, repeats: int) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {"page load": [], "t scrub": [], "control change": []}
    for _ in range(max(3, repeats // 2)):  # fresh tabs; the first also warms the server's caches
        page, _, load_ms = open_view(browser, f"{base}/{view.path}")
        out["page load"].append((load_ms, float("nan")))
        page.close()
    out["page load"] = out["page load"][1:]
    page, rec, _ = open_view(browser, f"{base}/{view.path}")
    if view.scrub:
        button = page.locator(NEXT_STEP).first
        for _ in range(repeats):
            out["t scrub"].append(timed(page, rec, button.click, clock="figures"))
    for k in range(repeats if view.cells else 0):
        out["control change"].append(timed(page, rec, choose_cell(page, view.cells[k % 2])))
    page.close()
    return {k: v for k, v in out.items() if v}


def measure_trivial(browser, base: str, repeats: int) -> dict[str, list[tuple[float, float]]]:
    loads = []
    for _ in range(max(3, repeats // 2) + 1):
        page, _, load_ms = open_view(browser, base)
        loads.append((load_ms, float("nan")))
        page.close()
    page, rec, _ = open_view(browser, base)
    clicks = [timed(page, rec, page.get_by_role("button", name="▶").click) for _ in range(repeats)]
    page.close()
    return {"page load": loads[1:], "button click": clicks}


def summary(samples: list[tuple[float, float]]) -> tuple[float, float, float]:
    ms = [s[0] for s in samples]
    kb = [s[1] for s in samples if s[1] == s[1]]
    return statistics.median(ms), max(ms), (statistics.median(kb) if kb else float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--only", default="", help="run only the views whose name contains this")
    args = parser.parse_args()
    app, app_url = start_server("app.py")
    trivial, trivial_url = start_server("benchmarks/trivial_app.py")
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            floor = measure_trivial(browser, trivial_url, args.repeats)
            results = {v.name: measure_view(browser, app_url, v, args.repeats)
                       for v in VIEWS if args.only in v.name}
            browser.close()
    finally:
        stop_server(app)
        stop_server(trivial)

    floor_click, floor_load = summary(floor["button click"])[0], summary(floor["page load"])[0]
    print(f"Input to repainted page, headless Chromium, median of {args.repeats} (ms)")
    print(f"{'view':34} {'interaction':15} {'median':>7} {'worst':>7} {'KB in':>8} {'floor':>7} {'ratio':>6}")
    row = "{:34} {:15} {:7.0f} {:7.0f} {:8.1f} {:7.0f} {:6.2f}"
    for name, samples in floor.items():
        med, worst, kb = summary(samples)
        print(row.format("trivial app (the floor)", name, med, worst, kb, med, 1.0))
    for view, measures in results.items():
        for name, samples in measures.items():
            med, worst, kb = summary(samples)
            base = floor_load if name == "page load" else floor_click
            print(row.format(view, name, med, worst, kb, base, med / base))
    print("targets: t scrub without a server round trip; control change <= 1.3x the floor's click; "
          "page load <= 1.5x the floor's")


if __name__ == "__main__":
    t_start = time.monotonic()
    main()
    print(f"({time.monotonic() - t_start:.0f} s)")
