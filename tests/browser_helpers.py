"""Serving rnnviz (or any Streamlit script) on 127.0.0.1 and driving it in headless Chromium.

Shared by the browser tests, benchmarks/browser.py and benchmarks/load.py. Chromium is Debian's
/usr/bin/chromium, driven by Playwright for Python; nothing here downloads a browser. The process
helpers read /proc (Linux).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# Injected before any page script: the time of the latest DOM change, so a test can tell when a
# page has finished repainting after an input (Plotly draws into SVG: its drawing is a DOM change).
MUTATION_CLOCK = """
window.__rvClock = {last: performance.now(), figures: 0};
new MutationObserver((records) => {
  const now = performance.now();
  window.__rvClock.last = now;
  for (const r of records) {  // changes inside rnnviz's figure elements, apart
    const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
    if (el && el.closest && el.closest('.rv-root')) { window.__rvClock.figures = now; break; }
  }
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
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


def start_launcher(workers: int = 2, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """`make serve`'s launcher (deploy/serve.py) with W workers behind HAProxy on a free port of
    127.0.0.1; returns (launcher process, public URL) once the proxy answers. Output goes to proc.log."""
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "deploy.serve", "--workers", str(workers), "--port", str(port)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    proc.log = log
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    log.seek(0)
    raise RuntimeError("deploy/serve.py did not start:\n" + log.read().decode()[-3000:])


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


def settle_ms(page, since: float, quiet_ms: float = 500.0, timeout: float = 60.0, clock: str = "last") -> float:
    """Wait for a DOM change after `since` (performance.now() in the page), then until the page has
    been quiet (no DOM change, no script running) for quiet_ms; return its last change, in ms after since.

    clock="figures" watches rnnviz's figure elements only (what a t scrub repaints)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now, last = page.evaluate(f"() => [performance.now(), window.__rvClock.{clock}]")
        if last > since and now - last >= quiet_ms and (clock == "figures" or not running(page)):
            return last - since
        time.sleep(0.03)
    raise TimeoutError(f"the page did not settle within {timeout} s")


class Runs:
    """Streamlit script runs finished on a page, counted from the ForwardMsgs on its websocket: the page's
    own run-state attribute can skip a fast run (React renders "running" and "notRunning" at once)."""

    def __init__(self, page):
        self.finished = 0
        self.received = 0  # websocket bytes
        self.closed = 0  # websockets closed
        page.on("websocket", self._watch)

    def _watch(self, ws) -> None:
        ws.on("framereceived", self._frame)
        ws.on("close", lambda _: setattr(self, "closed", self.closed + 1))

    def _frame(self, payload: bytes | str) -> None:
        self.received += len(payload)
        if isinstance(payload, bytes):
            msg = ForwardMsg.FromString(payload)
            if msg.WhichOneof("type") == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                self.finished += 1


# In the page: once no script runs (no status widget, run state notRunning) and the DOM has been quiet
# for quietMs, the ms from `since` (performance.now()) to its last change; else -1. Needs MUTATION_CLOCK.
QUIET_JS = """([since, quietMs]) => {
  const app = document.querySelector("[data-testid='stApp']");
  const last = window.__rvClock.last;
  const quiet = app && app.getAttribute("data-test-script-state") === "notRunning"
    && !document.querySelector("[data-testid='stStatusWidget'], [data-testid='stSkeleton']")
    && performance.now() - last >= quietMs;
  return quiet ? Math.max(last, since) - since : -1;
}"""


def settle_run_ms(page, runs: Runs, before: int, since: float, quiet_ms: float = 300.0, timeout: float = 60.0) -> float:
    """After an input at `since` (performance.now(); a page load: 0), when runs.finished was `before`: wait
    for a script run to finish and the page to go quiet; ms from `since` to the page's last change."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runs.finished > before and (ms := page.evaluate(QUIET_JS, [since, quiet_ms])) >= 0:
            return ms
        page.wait_for_timeout(30)  # Playwright delivers the websocket's frames while it waits
    raise TimeoutError(f"no finished script run within {timeout} s")


def page_now(page) -> float:
    return float(page.evaluate("() => performance.now()"))


def process_tree(pid: int) -> list[int]:
    """pid and every live descendant of it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process has just gone
        children.setdefault(ppid, []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo.extend(children.get(tree[-1], []))
    return tree


def process_usage(pid: int) -> tuple[str, float, int] | None:
    """(command line, CPU seconds used so far, resident memory in bytes) of a process, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # fields 3.. of proc(5)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, all threads
    return cmdline, cpu, int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # rss is in pages


def alive(pid: int) -> bool:
    """Is pid a live process (not gone, not a zombie)?"""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# Every text of every Plotly chart on a page, with what it is, its box and its font size; then the pairs
# that overlap and the texts that leave their chart. Tick labels of one axis are one group (Plotly spaces
# them itself); the modebar's buttons count as one box, so a title running under them is found too.
CHART_TEXTS_JS = r"""() => {
  const out = [];
  document.querySelectorAll('.js-plotly-plot').forEach((gd, k) => {
    const svg = gd.querySelector('.main-svg');
    if (!svg) return;
    const frame = svg.getBoundingClientRect();
    const add = (el, kind, group) => {
      if (!kind.startsWith('colorbar') && el.closest('.colorbar')) return;  // counted as the colorbar's
      const r = el.getBoundingClientRect();
      if (r.width < 1 || r.height < 1 || !el.textContent.trim()) return;
      const size = parseFloat(getComputedStyle(el).fontSize);
      out.push({chart: k, kind, group, text: el.textContent.trim().slice(0, 40), size,
                box: [r.left, r.top, r.right, r.bottom], frame: [frame.left, frame.top, frame.right, frame.bottom]});
    };
    gd.querySelectorAll('.gtitle').forEach(el => add(el, 'title', 'title'));
    gd.querySelectorAll('text[class$="title"]:not(.gtitle):not(.cbtitle)').forEach(el => add(el, 'axis title', el.getAttribute('class')));
    gd.querySelectorAll('g[class$="tick"] > text, g[class$="tick2"] > text').forEach(el => add(el, 'tick', el.parentNode.getAttribute('class')));
    gd.querySelectorAll('.legendtext').forEach((el, i) => add(el, 'legend', 'legend' + i));
    gd.querySelectorAll('.annotation-text').forEach((el, i) => add(el, 'annotation', 'annotation' + i));
    gd.querySelectorAll('.colorbar').forEach((bar, i) => {
      bar.querySelectorAll('text[class$="title"]').forEach(el => add(el, 'colorbar title', 'cbtitle' + i));
      bar.querySelectorAll('g[class$="tick"] > text').forEach(el => add(el, 'colorbar tick', 'cbtick' + i));
    });
    const bar = gd.querySelector('.modebar');
    if (bar) {
      const r = bar.getBoundingClientRect();
      if (r.width > 1) out.push({chart: k, kind: 'modebar', group: 'modebar', text: 'modebar', size: 99,
                                 box: [r.left, r.top, r.right, r.bottom], frame: [frame.left, frame.top, frame.right, frame.bottom]});
    }
  });
  return out;
}"""


def chart_text_problems(page, min_tick_px: float = 0.0, min_text_px: float = 0.0, slack: float = 1.5) -> list[str]:
    """Overlapping chart texts, texts that leave their chart, and texts below the given sizes."""
    texts = page.evaluate(CHART_TEXTS_JS)
    problems = []
    for a in texts:
        if a["kind"] == "modebar":
            continue
        l, t, r, b = a["box"]
        fl, ft, fr, fb = a["frame"]
        if l < fl - slack or r > fr + slack or t < ft - slack or b > fb + slack:
            problems.append(f"chart {a['chart']}: {a['kind']} '{a['text']}' leaves its chart")
        floor = min_tick_px if "tick" in a["kind"] else min_text_px
        if a["size"] < floor - 0.01:
            problems.append(f"chart {a['chart']}: {a['kind']} '{a['text']}' is {a['size']:.0f} px")
    for i, a in enumerate(texts):
        for b in texts[i + 1:]:
            if a["chart"] != b["chart"] or a["group"] == b["group"]:
                continue
            if {a["kind"], b["kind"]} <= {"annotation"}:  # a figure's own labels, placed on purpose
                continue
            ax0, ay0, ax1, ay1 = a["box"]
            bx0, by0, bx1, by1 = b["box"]
            if min(ax1, bx1) - max(ax0, bx0) > slack and min(ay1, by1) - max(ay0, by0) > slack:
                problems.append(f"chart {a['chart']}: {a['kind']} '{a['text']}' overlaps {b['kind']} '{b['text']}'")
    return problems


# The page's own texts (not the sidebar's, not inside Plotly's SVG): each with its font size in px.
PAGE_TEXTS_JS = r"""() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const out = [];
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('svg') || el.closest('.modebar')) continue;
    if (el.closest('[data-testid="stIconMaterial"]')) continue;  // an icon's ligature name, drawn as a glyph
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (r.width < 1 || r.height < 1 || style.visibility === 'hidden' || style.display === 'none') continue;
    out.push({text: node.textContent.trim().slice(0, 50), size: parseFloat(style.fontSize), tag: el.tagName});
  }
  return out;
}"""


def small_page_texts(page, min_px: float) -> list[str]:
    """The page's texts smaller than min_px (outside charts): "14 px: 'caption text…'"."""
    return [f"{t['size']:.0f} px <{t['tag'].lower()}>: {t['text']!r}" for t in page.evaluate(PAGE_TEXTS_JS)
            if t["size"] < min_px - 0.01]
