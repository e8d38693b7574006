"""AppTest rerun times of the pages after a control change.

Prints the median over repeats of AppTest's run() after a widget change: for the Step through
page (a t change, a cell change) at its defaults and at T = 200, H = 64; for the Backprop
through time page (a spectral-radius change, a cell change, each a cache miss) at its defaults
and at T = 1000, H = 64. AppTest reruns the whole script (it does not scope
reruns to st.fragment), so a t change here also pays the sidebar and the cache lookup: the
browser, which reruns only the fragment, is faster still.

    python benchmarks/pages.py
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import logging  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
logging.getLogger("streamlit").setLevel(logging.ERROR)

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

import rnnviz  # noqa: E402
from rnnviz.ui.pages import PAGES  # noqa: E402

TARGETS_MS = {"t": 100.0, "cell": 300.0}
BPTT_TARGETS_MS = {"defaults": 200.0, "T = 1000, H = 64": 500.0}
BPTT_SCENARIOS = {
    "defaults": {},
    "T = 1000, H = 64": {"source": "noise", "length": "1000", "hidden": "64", "init": "radius"},
}
SCENARIOS = {
    "defaults (LSTM, text, H = 8, T = 11)": {},
    "T = 200, H = 64 (LSTM, noise)": {"source": "noise", "length": "200", "hidden": "64"},
}
CELLS = list(reversed(rnnviz.CELLS))  # a change to each in turn, starting away from the default


def clear_caches() -> None:
    """A cold server: Streamlit's caches and rnnviz's studies (rnnviz/ui/cache.py)."""
    from rnnviz import ui

    st.cache_data.clear()
    ui.clear_caches()


def open_step(query: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(PAGES["step"].file)
    return at.run()


def timed_ms(action, repeats: int) -> float:
    times = []
    for k in range(repeats):
        start = time.perf_counter()
        action(k)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    print("Step through: AppTest rerun after a widget change (median ms)")
    print(f"{'scenario':40} {'t change':>10} {'cell change':>12}")
    for name, query in SCENARIOS.items():
        clear_caches()
        at = open_step(query)
        T = 200 if "length" in query else 11
        t_ms = timed_ms(lambda k: at.slider(key="t").set_value(2 + (k * 7) % (T - 2)).run(), repeats=15)  # noqa: B023
        # A cell change is a cache miss the first time (the forward pass runs), a hit afterwards;
        # clear the cache each time to time the miss, which is what a user sees first.
        def change_cell(k):
            clear_caches()
            at.selectbox(key="cell").set_value(CELLS[k % len(CELLS)]).run()  # noqa: B023

        cell_ms = timed_ms(change_cell, repeats=8)
        assert not at.exception, at.exception
        flag = lambda v, key: "" if v < TARGETS_MS[key] else " (over target)"  # noqa: E731
        print(f"{name:40} {t_ms:8.0f}{flag(t_ms, 't'):>2} {cell_ms:10.0f}{flag(cell_ms, 'cell')}")
    print(f"targets: t change under {TARGETS_MS['t']:.0f} ms, cell change under {TARGETS_MS['cell']:.0f} ms")
    print()
    print("Backprop through time: AppTest rerun after a control change, cache cleared (median ms)")
    print(f"{'scenario':40} {'radius change':>14} {'cell change':>12}")
    radii = [0.8, 1.2, 0.9, 1.1]
    for name, query in BPTT_SCENARIOS.items():
        clear_caches()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        for key, value in query.items():
            at.query_params[key] = value
        at.query_params["init"] = "radius"
        at.switch_page(PAGES["bptt"].file)
        at.run()

        def change_radius(k):
            clear_caches()
            at.slider(key="radius").set_value(radii[k % len(radii)]).run()  # noqa: B023

        def change_cell(k):
            clear_caches()
            at.selectbox(key="cell").set_value(CELLS[k % len(CELLS)]).run()  # noqa: B023

        radius_ms = timed_ms(change_radius, repeats=6)
        cell_ms = timed_ms(change_cell, repeats=4)
        assert not at.exception, at.exception
        target = BPTT_TARGETS_MS[name]
        over = lambda v: "" if v < target else " (over target)"  # noqa: E731, B023
        print(f"{name:40} {radius_ms:12.0f}{over(radius_ms)} {cell_ms:10.0f}{over(cell_ms)}")
    print("targets: a control change under 200 ms at defaults, under 500 ms at T = 1000, H = 64")


if __name__ == "__main__":
    main()
