"""What a person feels: input to repainted page, in headless Chromium, beside Streamlit's own floor.

Serves rnnviz and benchmarks/trivial_app.py (one ▶ button, one slider, one Plotly chart) with
`streamlit run` on 127.0.0.1, drives both in Debian's Chromium, and prints for each page and
scenario the median and worst time from an input to the page's last DOM change (Plotly draws into
the DOM, so its drawing counts), and the kilobytes the browser received over the websocket for it:
- a t scrub (the step control's ▶: the figures repaint in the browser; "KB in" is the small reply to
  the debounced message that tells the server where t went),
- a network control change (the Cell select box in the sidebar), a network slider moved with the keyboard
  (Hidden size H, one step up or down), and a lesson step (the lesson's Next and Back links, in turn),
- a fresh page load (a new tab opening a link; server caches warm, browser cache warm), and a first
  visit (the same in a new browser context: nothing cached in the browser), each timed to the last
  DOM change after a script run has finished and a figure is drawn,
and the same for the trivial app (its ▶ button; its slider, for the slider), with the ratios; beside each,
the median CPU time it cost the server process and the page's renderer process (10 ms ticks on the
server), which other work on the machine hardly changes. Timings stay here, not in the tests: machines
are noisy. Close other work on the machine first.

    python benchmarks/browser.py               # every view, 9 repeats
    python benchmarks/browser.py --repeats 5 --only step
    python benchmarks/browser.py --baseline /tmp/main-checkout   # A/B against another checkout

Each view is measured input by input beside the trivial app (a load of one, then of the other; a click
on one, then on the other), and its ratios are to the floor measured alongside it, so a busy machine
slows both alike. With --baseline, a second copy of rnnviz (another checkout, e.g. of main) is served
too and measured in the same turns: compare the ratios.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import TimeoutError as PageTimeout  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser_helpers import (  # noqa: E402
    MUTATION_CLOCK,
    Runs,
    launch_chromium,
    page_now,
    process_usage,
    settle_ms,
    settle_run_ms,
    start_server,
    stop_server,
)

NEXT_STEP = "button[title^='Next step']"


def lesson_step_query(lesson: str, k: int) -> dict[str, str]:
    """The URL parameters of a lesson step's link: its scenario, and lesson=...&step=..."""
    from rnnviz.lessons import LESSONS

    step = LESSONS[lesson].steps[k]
    return {**step.params, "lesson": lesson, "step": str(k + 1)}


@dataclass(frozen=True)
class View:
    """One page in one scenario, and how to drive its inputs."""

    name: str
    path: str  # path and query of the link, e.g. "Step_through?source=noise&length=200&hidden=64"
    scrub: bool = True  # has a step control
    cells: tuple[str, str] = ("GRU", "LSTM")  # the Cell select box alternates between these
    slider: bool = True  # has the sidebar's Hidden size slider
    lesson: bool = False  # is a lesson step with Next and Back links
    ready: str = ".rv-root .main-svg"  # on the page once it has loaded: a figure drawn (figures below the
    # fold are drawn when scrolled to, so a page whose first figure is below it waits for its element)


VIEWS = [
    View("step: defaults", "Step_through"),
    View("step: T = 200, H = 64", "Step_through?source=noise&length=200&hidden=64"),
    View("bptt: defaults (forward mode)", "Backprop_through_time?mode=forward"),
    View("bptt: T = 200, H = 64 (forward)", "Backprop_through_time?mode=forward&source=noise&length=200&hidden=64"),
    View("training: defaults", "Clipping_and_training", scrub=False, cells=(), slider=False, ready=".rv-root .rv-item"),
    View("step: lesson 'cell', steps 1-2", f"Step_through?{urlencode(lesson_step_query('cell', 0))}", scrub=False,
         cells=(), slider=False, lesson=True),
]


VIEWPORT = {"width": 1440, "height": 900}
TRIVIAL_READY = "[data-testid='stPlotlyChart'] .main-svg"  # the trivial app's chart, drawn


class Meter:
    """CPU time that an input costs the server process and the page's renderer process: unlike wall time,
    hardly changed by other work on the machine."""

    def __init__(self, page, server_pid: int):
        self.server_pid = server_pid
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Performance.enable")

    def _now(self) -> tuple[float, float]:
        usage = process_usage(self.server_pid)
        metrics = {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}
        return (usage[1] if usage else float("nan")), metrics.get("ProcessTime", float("nan"))

    def start(self) -> None:
        self.since = self._now()

    def ms(self) -> tuple[float, float]:
        """(server CPU ms, page CPU ms) since start()."""
        now = self._now()
        return (now[0] - self.since[0]) * 1000, (now[1] - self.since[1]) * 1000


def timed(page, rec: Runs, action: Callable[[], None], meter: Meter, quiet_ms: float = 500.0,
          clock: str = "last") -> tuple[float, ...]:
    """(ms from the input to the last DOM change, KB received until the page settled, server CPU ms,
    page CPU ms) for one input.

    clock="last": a rerun's input, timed to the last DOM change once its script run has finished and
    the page has been quiet for quiet_ms. clock="figures": the last change of rnnviz's figures (a t scrub
    repaints them in the browser; the debounced message that tells the server where t went follows
    300 ms later and repaints nothing)."""
    before, runs = rec.received, rec.finished
    meter.start()
    t0 = page_now(page)
    action()
    if clock == "figures":
        ms = settle_ms(page, t0, quiet_ms, clock=clock)
        settle_ms(page, t0, quiet_ms)  # let the server hear t before the next input
    else:
        ms = settle_run_ms(page, rec, runs, t0, quiet_ms)
    return (ms, (rec.received - before) / 1024, *meter.ms())


def open_view(context, url: str, figures: str, server_pid: int):
    """A new tab of `context` opening `url`: (page, its websocket's Runs, its Meter, and the load's sample:
    ms from navigation to the last DOM change once a script run has finished, a figure is drawn and the
    page has been quiet for 1 s; KB (not counted); server and page CPU ms)."""
    page = context.new_page()
    page.add_init_script(MUTATION_CLOCK)
    runs = Runs(page)
    meter = Meter(page, server_pid)
    meter.start()
    page.goto(url, wait_until="commit")
    settle_run_ms(page, runs, 0, 0.0, quiet_ms=1000.0)  # performance.now() starts at navigation
    page.wait_for_selector(figures, state="attached", timeout=60_000)
    ms = settle_ms(page, 0.0, quiet_ms=1000.0)
    return page, runs, meter, (ms, float("nan"), *meter.ms())


def slider_step(page, name: str, up: bool) -> Callable[[], None]:
    """A keyboard step of a Streamlit slider, up or down (down at its top, up at its bottom): its thumb
    focused first, as a person tabbing to it would."""
    thumb = page.get_by_role("slider", name=name).first
    thumb.focus()
    now, low, high = (float(thumb.evaluate(f"e => e.{a}")) for a in ("value", "min", "max"))  # an <input type=range>
    up = now < high and (up or now == low)
    return lambda: thumb.press("ArrowRight" if up else "ArrowLeft")


def lesson_link(page, forward: bool) -> Callable[[], None]:
    link = page.get_by_role("link", name=re.compile("Next:" if forward else r"\bBack$")).first
    link.wait_for()
    return lambda: link.click()


def choose_cell(page, label: str) -> Callable[[], None]:
    page.get_by_role("combobox", name="Cell").first.click()
    option = page.get_by_role("option", name=label, exact=True)
    option.wait_for()
    return lambda: option.click()


class Session:
    """One open tab of one target (the trivial app, or a view of rnnviz), taking one input at a time."""

    def __init__(self, context, url: str, view: View | None, server_pid: int):
        self.view = view
        self.page, self.rec, self.meter, _ = open_view(context, url, TRIVIAL_READY if view is None else view.ready,
                                                       server_pid)
        self.k = 0

    def inputs(self) -> dict[str, tuple[float, ...]]:
        """One sample of each interaction: interaction -> (ms, KB in, server CPU ms, page CPU ms)."""
        page, rec, meter = self.page, self.rec, self.meter
        if self.view is None:
            return {"button click": timed(page, rec, page.get_by_role("button", name="▶").click, meter),
                    "slider change": timed(page, rec, slider_step(page, "k", self.k % 2 == 0), meter)}
        out = {}
        if self.view.scrub:
            out["t scrub"] = timed(page, rec, page.locator(NEXT_STEP).first.click, meter, clock="figures")
        if self.view.cells:
            out["control change"] = timed(page, rec, choose_cell(page, self.view.cells[self.k % 2]), meter)
        if self.view.slider:
            out["slider change"] = timed(page, rec, slider_step(page, "Hidden size H", self.k % 2 == 0), meter)
        if self.view.lesson:
            out["lesson step"] = timed(page, rec, lesson_link(page, self.k % 2 == 0), meter)
        self.k += 1
        return out


def measure(browser, targets: dict[str, tuple[str, int]], view: View, repeats: int) -> dict[str, dict[str, list]]:
    """target -> interaction -> samples, one sample of each target in turn, so that a busy machine
    slows every target alike. targets: name -> (URL, server pid) ("floor": the trivial app).

    "page load": a new tab in a browser that has opened the page before (its cache warm);
    "first visit": a new browser context (an empty cache: every script and style fetched again)."""
    out: dict[str, dict[str, list]] = {name: {"page load": [], "first visit": []} for name in targets}
    contexts = {name: browser.new_context(viewport=VIEWPORT) for name in targets}
    figures = {name: TRIVIAL_READY if name == "floor" else view.ready for name in targets}
    for name, (url, pid) in targets.items():  # the first page of each warms the server's and the browser's caches
        open_view(contexts[name], url, figures[name], pid)[0].close()
    for _ in range(max(3, repeats // 2)):
        for name, (url, pid) in targets.items():
            page, *_, sample = open_view(contexts[name], url, figures[name], pid)  # a fresh tab
            out[name]["page load"].append(sample)
            page.close()
            cold = browser.new_context(viewport=VIEWPORT)
            page, *_, sample = open_view(cold, url, figures[name], pid)
            out[name]["first visit"].append(sample)
            cold.close()
    sessions = {name: Session(contexts[name], url, None if name == "floor" else view, pid)
                for name, (url, pid) in targets.items()}
    for _ in range(repeats):
        for name, session in sessions.items():
            try:
                samples = session.inputs()
            except TimeoutError as err:  # e.g. a click lost on a busy machine: the sample is dropped, and said
                print(f"{view.name}, {name}: an input was dropped ({err})", file=sys.stderr)
                continue
            for interaction, sample in samples.items():
                out[name].setdefault(interaction, []).append(sample)
    for context in contexts.values():
        context.close()
    return out


def summary(samples: list[tuple[float, ...]]) -> tuple[float, float, float, float, float]:
    """(median ms, worst ms, median KB in, median server CPU ms, median page CPU ms)."""
    def median(k: int) -> float:
        values = [s[k] for s in samples if s[k] == s[k]]
        return statistics.median(values) if values else float("nan")

    return median(0), max(s[0] for s in samples), median(1), median(2), median(3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="inputs of each kind per view")
    parser.add_argument("--only", default="", help="run only the views whose name contains this")
    parser.add_argument("--baseline", type=Path, help="another rnnviz checkout to measure beside this one")
    args = parser.parse_args()
    apps = {"this": start_server("app.py")}
    if args.baseline:
        apps = {"baseline": start_server("app.py", args.baseline.resolve()), **apps}
    trivial, trivial_url = start_server("benchmarks/trivial_app.py")
    views = [v for v in VIEWS if args.only in v.name]
    results = {}
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            for v in views:
                targets = {"floor": (trivial_url, trivial.pid),
                           **{app: (f"{url}/{v.path}", proc.pid) for app, (proc, url) in apps.items()}}
                try:
                    results[v.name] = measure(browser, targets, v, args.repeats)
                except (TimeoutError, PageTimeout) as err:  # e.g. the training page's runs not on disk yet: go on
                    print(f"{v.name}: not measured ({str(err).splitlines()[0]})", file=sys.stderr)
            browser.close()
    finally:
        for proc, _ in apps.values():
            stop_server(proc)
        stop_server(trivial)

    print(f"Input to repainted page, headless Chromium, median of {args.repeats} (ms); each view measured "
          "beside the trivial app (the floor), input by input")
    print(f"{'view':34} {'interaction':15} {'median':>7} {'worst':>7} {'KB in':>8} {'srv CPU':>7} {'page CPU':>8} "
          f"{'floor':>7} {'ratio':>6}" + ("  app" if args.baseline else ""))
    row = "{:34} {:15} {:7.0f} {:7.0f} {:8.1f} {:7.0f} {:8.0f} {:7.0f} {:6.2f}"
    floor: dict[str, list] = {}
    for measures in results.values():
        for interaction, samples in measures["floor"].items():
            floor.setdefault(interaction, []).extend(samples)
    for interaction, samples in floor.items():
        med, worst, kb, srv, cpu = summary(samples)
        print(row.format("trivial app (the floor), all runs", interaction, med, worst, kb, srv, cpu, med, 1.0))
    for v in [v for v in views if v.name in results]:
        measures = results[v.name]
        base = {name: summary(samples)[0] for name, samples in measures["floor"].items()}
        for interaction in measures["this"]:
            for app in apps:
                med, worst, kb, srv, cpu = summary(measures[app][interaction])
                b = base.get(interaction, base["button click"])
                tag = f"  {app}" if args.baseline else ""
                print(row.format(v.name, interaction, med, worst, kb, srv, cpu, b, med / b) + tag)
    print("targets: t scrub without a server round trip; control change, lesson step <= 1.3x the floor's click, "
          "slider change <= 1.3x the floor's slider; "
          "page load <= 1.5x the floor's (first visit: reported, no target)")


if __name__ == "__main__":
    t_start = time.monotonic()
    main()
    print(f"({time.monotonic() - t_start:.0f} s)")
