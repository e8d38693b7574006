"""Server memory under links: many distinct heavy URLs opened against one Streamlit process.

Each URL is a new browser context (a new session) opening a heavy view, each with its own seed, so
nothing is shared between them: Backprop through time and Step through at T = 1000, H = 64 for every
cell, and a 500-character text of distinct characters (the widest one-hot input). Sessions stay open
(`--keep`, the default: a class keeps its tabs) or close once drawn (their sessions linger on the
server for server.disconnectedSessionTTL). `--parallel` opens that many at once. Chart drawing is
stubbed as in benchmarks/load.py, so the browser does not compete for the cores; the server still
builds and sends every figure. Prints the server's RSS before, after each batch, at its peak
(sampled every 50 ms) and at the end, and the time each page took to open.

    python benchmarks/memory.py                       # 40 URLs, 4 at a time, sessions kept open
    python benchmarks/memory.py --urls 80 --parallel 8
    python benchmarks/memory.py --serve-flags         # with deploy/serve.py's classroom flags
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402

from benchmarks.load import CLIENT_PLOTLY, NO_CLIENT_PLOTLY, NO_PLOTLY, PLOTLY_CHUNK, WAIT_JS  # noqa: E402
from deploy.serve import CLASSROOM_FLAGS, ONE_THREAD  # noqa: E402
from tests.browser_helpers import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    MUTATION_CLOCK,
    Runs,
    process_usage,
    start_server,
    stop_server,
)

CELLS = ("lstm", "gru", "rnn-tanh", "rnn-relu")
WIDE_TEXT = "".join(chr(0x4E00 + k) for k in range(500))  # 500 distinct characters: I = 500


def heavy_urls(n: int) -> list[str]:
    """n distinct heavy views: mostly Backprop through time (the largest study), some Step through."""
    urls = []
    for k in range(n):
        cell = CELLS[k % len(CELLS)]
        if k % 5 == 4:
            urls.append(f"Step_through?cell={cell}&hidden=64&source=noise&length=1000&seed={k}&t=500")
        elif k % 5 == 3:
            urls.append(f"Backprop_through_time?cell={cell}&hidden=64&source=text&seed={k}&loss=all&text={WIDE_TEXT}")
        else:
            urls.append(f"Backprop_through_time?cell={cell}&hidden=64&source=noise&length=1000&seed={k}"
                        + ("&loss=all&mode=forward" if k % 2 else ""))
    return urls


class Sampler:
    """The server's RSS every 50 ms, in a thread: its peak, and what it was at named moments."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        usage = process_usage(self.pid)
        return usage[2] if usage else 0

    def _run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.05)


async def open_one(browser, url: str) -> tuple[object, float, str]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    await context.route(PLOTLY_CHUNK, lambda route: route.fulfill(content_type="text/javascript", body=NO_PLOTLY))
    await context.route(CLIENT_PLOTLY, lambda route: route.fulfill(content_type="text/javascript",
                                                                   body=NO_CLIENT_PLOTLY))
    page = await context.new_page()
    await page.add_init_script(MUTATION_CLOCK)
    runs = Runs(page)
    start = time.monotonic()
    await page.goto(url, wait_until="commit")
    end = time.monotonic() + 180
    while runs.finished == 0 and time.monotonic() < end:
        await asyncio.sleep(0.05)
    state = await page.evaluate(WAIT_JS, [0.0, 300, max(1.0, end - time.monotonic()) * 1000])
    problem = "" if state["ms"] >= 0 and not state["exceptions"] else str(state)
    return context, time.monotonic() - start, problem


async def main(args) -> None:
    os.environ.update(ONE_THREAD)
    extra = CLASSROOM_FLAGS if args.serve_flags else []
    proc, base = start_server("app.py", ROOT, *extra)
    sampler = Sampler(proc.pid)
    mb = 1 << 20
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            warm, _, _ = await open_one(browser, f"{base}/Step_through")  # imports done, as on a live server
            await warm.close()
            time.sleep(1.0)
            before = sampler.rss()
            sampler.thread.start()
            print(f"server RSS after one small page: {before / mb:.0f} MiB", flush=True)
            urls, kept, times, problems = heavy_urls(args.urls), [], [], []
            for i in range(0, len(urls), args.parallel):
                batch = urls[i : i + args.parallel]
                results = await asyncio.gather(*(open_one(browser, f"{base}/{u}") for u in batch))
                for context, seconds, problem in results:
                    times.append(seconds)
                    if problem:
                        problems.append(problem)
                    if args.keep:
                        kept.append(context)
                    else:
                        await context.close()
                rss, peak = sampler.rss() / mb, sampler.peak / mb
                print(f"  {i + len(batch):3d} URLs: RSS {rss:6.0f} MiB, peak {peak:6.0f} MiB, "
                      f"opened in {statistics.median(s for _, s, _ in results):.1f} s (median of batch)", flush=True)
            time.sleep(2.0)
            after = sampler.rss()
            for context in kept:
                await context.close()
            await browser.close()
    finally:
        sampler.stop.set()
        stop_server(proc)
    print(f"\n{args.urls} distinct heavy URLs, {args.parallel} at a time, sessions "
          f"{'kept open' if args.keep else 'closed after drawing'}{', classroom flags' if args.serve_flags else ''}:")
    print(f"  RSS before {before / mb:.0f} MiB, after {after / mb:.0f} MiB, peak {sampler.peak / mb:.0f} MiB")
    print(f"  page open: median {statistics.median(times):.1f} s, max {max(times):.1f} s; problems: {len(problems)}")
    for problem in problems[:5]:
        print("   ", problem[:300])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=40)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--keep", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--serve-flags", action="store_true")
    asyncio.run(main(parser.parse_args()))
