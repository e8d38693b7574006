"""A class at once: N sessions changing a network control in a loop, against one Streamlit process
(`streamlit run`) and against `make serve` (deploy/serve.py: W workers behind HAProxy).

One headless Chromium with one browser context per session: contexts share no cookies, so each is a
new browser to HAProxy's cookie stickiness. Chart drawing is blocked: the chunk that holds plotly.js
(PlotlyChart.*.js, 4.7 MB) and the copy rnnviz's figures load (/app/static/rnnviz-plotly-*.js) are answered
with stubs that draw nothing, so the browser does not
parse plotly.js N times or draw, and leaves the cores to the server; the server still runs every script,
builds every figure and sends it over the websocket (the KB received per interaction show it).
`--draw` lets the browser draw. Every server process gets one BLAS thread, as under `make serve`.

Each session opens one page (Step through, Backprop through time, Clipping and training in turn, each
with its own seed: students do not all look at the same numbers) and changes the Cell select box in a
loop for a fixed time. Per N and setup: interactions, median and p95 from the click to the finished
rerun (the script-run state back to notRunning, no status widget, the DOM quiet for 300 ms; timed to
the last DOM change), errors (exception elements, websocket closes or lost connection, timeouts, failed
clicks), the largest RSS of any Streamlit process, and CPU seconds used by the servers, the proxy and
the browser. Each (setup, N) starts a fresh server. Close other work on the machine first.

    python benchmarks/load.py                          # N = 10, 20, 30; single and serve; 60 s each
    python benchmarks/load.py --quick                  # N = 3 for 20 s: a smoke run
    python benchmarks/load.py --sessions 30 --setups serve --workers 2
    python benchmarks/load.py --server-cpus 0-1         # a 2-core server, the browser on the other cores

The browser needs CPU too (about 0.3 CPU-seconds per rerun for Streamlit's frontend, more than the server
here): it is reported, and on a machine with more than 2 cores --server-cpus keeps it off the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402

from deploy.serve import CLASSROOM_FLAGS, ONE_THREAD  # noqa: E402
from tests.browser_helpers import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    MUTATION_CLOCK,
    QUIET_JS,
    Runs,
    process_tree,
    process_usage,
    start_launcher,
    start_server,
    stop_server,
)

PAGES = ("Step_through?seed={k}", "Backprop_through_time?seed={k}", "Clipping_and_training?tr_seed={k}")
CELLS = ("GRU", "LSTM", "RNN (tanh)", "RNN (ReLU)")  # the Cell select box's labels, on all three pages
PLOTLY_CHUNK = "**/static/js/PlotlyChart.*.js"
NO_PLOTLY = "export function PlotlyChart() { return null; } export default PlotlyChart;"
# rnnviz's own figures (rnnviz/ui/client.js) load plotly.js from /app/static/: a stub that draws nothing
CLIENT_PLOTLY = "**/app/static/rnnviz-plotly-*.js"
NO_CLIENT_PLOTLY = ("window.Plotly = {version: '4.0.0', Icons: {camera: {}}, newPlot: async () => {}, "
                    "react: async () => {}, update: async () => {}, relayout: async () => {}, purge: () => {}, "
                    "downloadImage: async () => {}};")
ERRORS = "[data-testid='stException'], .st-key-rnnviz-error"  # Streamlit's exception, or rnnviz's message for one
QUIET_MS, OPEN_TIMEOUT_S, STEP_TIMEOUT_S, MAX_INTERACTIONS = 300, 120, 60, 10_000
# In the page: what a student would see go wrong.
STATE_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  return {exceptions: document.querySelectorAll("[data-testid='stException'], .st-key-rnnviz-error").length,
          connection: app ? app.getAttribute("data-test-connection-state") : "no app",
          run: app ? app.getAttribute("data-test-script-state") : "no app"};
}"""
# In the page: wait until QUIET_JS says the page is quiet (or timeoutMs), then its state.
WAIT_JS = f"""async ([since, quietMs, timeoutMs]) => {{
  const quiet = {QUIET_JS};
  const end = performance.now() + timeoutMs;
  let ms = -1;
  while ((ms = quiet([since, quietMs])) < 0 && performance.now() < end) await new Promise(r => setTimeout(r, 50));
  return {{ms, ...({STATE_JS})()}};
}}"""


@dataclass
class Session:
    page: object
    runs: Runs
    opened_ms: float = 0.0
    times_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    first_error: dict[str, str] = field(default_factory=dict)

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] += 1
        self.first_error.setdefault(kind, detail[:200])

    async def settle(self, before: int, since: float, timeout_s: float) -> dict:
        """Wait for a script run to finish after `since` (runs.finished was `before`), then for the page."""
        end = time.monotonic() + timeout_s
        while self.runs.finished <= before and time.monotonic() < end:
            await asyncio.sleep(0.03)
        if self.runs.finished <= before:
            state = await self.page.evaluate(STATE_JS)
            return {**state, "ms": -1, "run": f"{state['run']}, and no run finished"}
        return await self.page.evaluate(WAIT_JS, [since, QUIET_MS, max(1.0, end - time.monotonic()) * 1000])


async def open_session(browser, url: str, k: int, draw: bool) -> Session:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    if not draw:
        await context.route(PLOTLY_CHUNK, lambda route: route.fulfill(content_type="text/javascript", body=NO_PLOTLY))
        await context.route(CLIENT_PLOTLY,
                            lambda route: route.fulfill(content_type="text/javascript", body=NO_CLIENT_PLOTLY))
    page = await context.new_page()
    await page.add_init_script(MUTATION_CLOCK)
    s = Session(page, Runs(page))
    await page.goto(f"{url}/{PAGES[k % len(PAGES)].format(k=k)}", wait_until="commit")
    state = await s.settle(0, 0.0, OPEN_TIMEOUT_S)
    s.opened_ms = state["ms"]
    if state["ms"] < 0 or state["exceptions"]:
        s.error("page did not open" if state["ms"] < 0 else "exception element", str(state))
    return s


async def drive(s: Session, k: int, deadline: float) -> None:
    """Change the Cell select box until the deadline; one interaction at a time, each timed."""
    box = s.page.get_by_role("combobox", name="Cell").first
    settings = s.page.get_by_text("Change the settings", exact=False)  # Clipping and training: in an expander
    if await settings.count():
        await settings.first.click()
    closed = s.runs.closed
    for i in range(MAX_INTERACTIONS):
        if time.monotonic() >= deadline:
            break
        try:
            current = await box.input_value(timeout=10_000)
            label = next(c for c in CELLS[(i + k) % 4:] + CELLS if c != current)
            await box.click(timeout=10_000)
            option = s.page.get_by_role("option", name=label, exact=True)
            await option.wait_for(timeout=10_000)
            before, t0 = s.runs.finished, await s.page.evaluate("performance.now()")
            await option.click(timeout=10_000)
            timeout_s = min(STEP_TIMEOUT_S, deadline - time.monotonic() + 30)
            state = await s.settle(before, t0, timeout_s)
        except Exception as err:  # a click that could not happen: the page is stuck or gone
            s.error("failed click", f"{type(err).__name__}: {err}")
            await s.page.keyboard.press("Escape")  # close the select box if it is open
            continue
        if state["ms"] < 0:
            s.error("timeout", f"no finished rerun within {timeout_s:.0f} s of choosing {label} (was {current}); "
                               f"the box shows {await box.input_value()}, the run state is {state['run']}")
        else:
            s.times_ms.append(state["ms"])
        if state["exceptions"]:
            s.error("exception element", await s.page.locator(ERRORS).first.inner_text())
        if state["connection"] != "CONNECTED":
            s.error("connection lost", state["connection"])
    if s.runs.closed > closed:
        s.errors["websocket closed"] += s.runs.closed - closed


def usage(pids: list[int]) -> dict[int, tuple[str, float, int]]:
    return {p: u for p in pids if (u := process_usage(p))}


def process_kind(cmdline: str) -> str:
    return "streamlit" if "streamlit run" in cmdline else "haproxy" if "haproxy" in cmdline else "browser"


async def sample_rss(server_pid: int, peak: dict[int, int], stop: asyncio.Event) -> None:
    """Every second: the largest RSS seen of each Streamlit process."""
    while not stop.is_set():
        for pid, (cmdline, _, rss) in usage(process_tree(server_pid)).items():
            if process_kind(cmdline) == "streamlit":
                peak[pid] = max(peak.get(pid, 0), rss)
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


def cpu_by_kind(before: dict, after: dict) -> Counter:
    used = Counter()
    for pid, (cmdline, cpu, _) in after.items():
        used[process_kind(cmdline)] += cpu - before.get(pid, (cmdline, 0.0, 0))[1]
    return used


async def run_load(setup: str, n: int, args) -> dict:
    """One (setup, N): a fresh server, N sessions opened at once, then the loop for args.seconds."""
    everything = os.sched_getaffinity(0)
    os.sched_setaffinity(0, args.server_cpus or everything)  # the server's processes inherit this
    proc, url = start_launcher(args.workers) if setup == "serve" else start_server("app.py", ROOT, *CLASSROOM_FLAGS)
    os.sched_setaffinity(0, (everything - args.server_cpus) if args.server_cpus else everything)  # the browser's
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            peak: dict[int, int] = {}
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_rss(proc.pid, peak, stop))
            sessions = await asyncio.gather(*(open_session(browser, url, k, args.draw) for k in range(n)))
            server = process_tree(proc.pid)
            everyone = server + [pid for pid in process_tree(os.getpid()) if pid not in server and pid != os.getpid()]
            before, received, t_start = usage(everyone), sum(s.runs.received for s in sessions), time.monotonic()
            await asyncio.gather(*(drive(s, k, t_start + args.seconds) for k, s in enumerate(sessions)))
            elapsed, after = time.monotonic() - t_start, usage(everyone)
            stop.set()
            await sampler
            received = sum(s.runs.received for s in sessions) - received
            await browser.close()
    finally:
        stop_server(proc)
        os.sched_setaffinity(0, everything)
    cpu = cpu_by_kind(before, after)
    times = [t for s in sessions for t in s.times_ms]
    errors = sum((s.errors for s in sessions), Counter())
    details = {}
    for s in sessions:
        for kind, detail in s.first_error.items():
            details.setdefault(kind, detail)
    return {"setup": setup if setup == "single" else f"serve W={args.workers}", "n": n, "elapsed": elapsed,
            "count": len(times), "median": statistics.median(times) if times else float("nan"),
            "p95": percentile(times, 0.95), "open_p95": percentile([s.opened_ms for s in sessions], 0.95),
            "errors": errors, "details": details, "rss": sorted(peak.values(), reverse=True), "cpu": cpu,
            "kb": received / 1024 / max(1, len(times))}


def percentile(xs: list[float], q: float) -> float:
    """The nearest-rank percentile q (0..1); NaN for no samples."""
    xs = sorted(xs)
    return xs[max(0, math.ceil(q * len(xs)) - 1)] if xs else float("nan")


HEADER = (f"{'setup':12} {'N':>3} {'inter':>6} {'per s':>6} {'median':>7} {'p95':>7} {'open95':>7} {'errors':>6} "
          f"{'RSS MB':>7} {'srv CPU':>8} {'cores':>5} {'proxy':>6} {'browser':>8} {'KB/int':>7}")
LEGEND = """\
inter: interactions done; median, p95: ms from the click to the finished rerun; open95: p95 of the first
page load, s; RSS MB: the largest of any Streamlit process; srv CPU: CPU seconds the Streamlit processes
used in the loop, cores: per second of it; proxy, browser: their CPU seconds; KB/int: websocket KB per
interaction"""


def print_row(r: dict) -> None:
    cpu = r["cpu"]
    print(f"{r['setup']:12} {r['n']:3} {r['count']:6} {r['count'] / r['elapsed']:6.1f} {r['median']:7.0f} "
          f"{r['p95']:7.0f} {r['open_p95'] / 1000:7.1f} {sum(r['errors'].values()):6} "
          f"{max(r['rss'], default=0) / 2**20:7.0f} {cpu['streamlit']:8.1f} {cpu['streamlit'] / r['elapsed']:5.2f} "
          f"{cpu['haproxy']:6.1f} {cpu['browser']:8.1f} {r['kb']:7.0f}", flush=True)


def cpu_list(text: str) -> set[int]:
    """"0-1,4" -> {0, 1, 4}"""
    cpus = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", default="10,20,30", help="comma-separated N (default 10,20,30)")
    ap.add_argument("--seconds", type=float, default=60.0, help="time each N changes controls (default 60)")
    ap.add_argument("--setups", default="single,serve", help="single, serve or both (default)")
    ap.add_argument("--workers", type=int, help="W for serve (default: the server's cores)")
    ap.add_argument("--server-cpus", type=cpu_list, default=set(), metavar="LIST",
                    help="pin the servers to these CPUs (e.g. 0-1: a 2-core server) and the browser to the others")
    ap.add_argument("--quick", action="store_true", help="a smoke run: N = 3 for 20 s")
    ap.add_argument("--draw", action="store_true", help="let the browser load plotly.js and draw the charts")
    args = ap.parse_args()
    if args.quick:
        args.sessions, args.seconds = "3", 20.0
    args.workers = args.workers or len(args.server_cpus or os.sched_getaffinity(0))
    if args.server_cpus and not (args.server_cpus < os.sched_getaffinity(0)):
        ap.error(f"--server-cpus {sorted(args.server_cpus)} must leave CPUs for the browser: this process may "
                 f"use {sorted(os.sched_getaffinity(0))}")
    ns = [int(n) for n in args.sessions.split(",")]
    setups = args.setups.split(",")
    if not (all(1 <= n <= 100 for n in ns) and 1 <= args.seconds <= 600 and set(setups) <= {"single", "serve"}):
        ap.error(f"need N in 1..100, 1..600 seconds and setups from single,serve; got {args.sessions}, "
                 f"{args.seconds}, {args.setups}")
    os.environ.update(ONE_THREAD)  # inherited by the servers started here, as deploy/serve.py does for its workers

    print(f"Load: N sessions in one headless Chromium, each changing the Cell select box for {args.seconds:.0f} s; "
          f"{os.cpu_count()} cores{f', servers on CPUs {sorted(args.server_cpus)}' if args.server_cpus else ''}; "
          f"charts {'drawn' if args.draw else 'not drawn (plotly.js stubbed)'}")
    print(HEADER)
    results = []
    for setup in setups:
        for n in ns:
            results.append(asyncio.run(run_load(setup, n, args)))
            print_row(results[-1])
    print(LEGEND)
    for r in results:
        print(f"  {r['setup']}, N = {r['n']}: peak RSS of each Streamlit process (MB): "
              + ", ".join(f"{b / 2**20:.0f}" for b in r["rss"]))
        for kind, count in r["errors"].items():
            print(f"  {r['setup']}, N = {r['n']}: {count} x {kind}, first: {r['details'].get(kind, '')}")
    print("target: N = 30 through make serve on the 2-core machine: no errors, p95 < 2000 ms, "
          "every Streamlit process < 1024 MB")
    for r in results:
        if r["setup"].startswith("serve") and r["n"] == 30:
            rss = max(r["rss"], default=0)
            ok = not r["errors"] and r["p95"] < 2000 and rss < 2**30
            print(f"  {r['setup']}, N = 30: {'met' if ok else 'NOT met'} "
                  f"({sum(r['errors'].values())} errors, p95 {r['p95']:.0f} ms, max RSS {rss / 2**20:.0f} MB)")
    if not any(r["setup"].startswith("serve") and r["n"] == 30 for r in results):
        print("  (not measured in this run)")


if __name__ == "__main__":
    t_start = time.monotonic()
    main()
    print(f"({time.monotonic() - t_start:.0f} s)")
