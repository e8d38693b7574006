"""`make serve` as a class meets it: deploy/serve.py with two workers behind HAProxy, on free loopback
ports, driven in headless Chromium. Needs HAProxy (Debian's haproxy package; .ci/run installs it)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
import urllib.request

import pytest

from tests.browser_helpers import (
    CHROMIUM,
    MUTATION_CLOCK,
    Runs,
    alive,
    page_now,
    process_tree,
    process_usage,
    settle_run_ms,
    start_launcher,
    stop_server,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium at /usr/bin/chromium"),
    pytest.mark.skipif(shutil.which("haproxy") is None,
                       reason="needs HAProxy for `make serve`: apt-get install haproxy (.ci/run does)"),
]
sync_api = pytest.importorskip("playwright.sync_api")

COOKIE = "RNNVIZ_WORKER"  # HAProxy's affinity cookie (deploy/haproxy.cfg)


def launcher_processes(pid: int) -> dict[str, list[int]]:
    """The launcher's children by kind: streamlit workers, haproxy, anything else."""
    kinds: dict[str, list[int]] = {"streamlit": [], "haproxy": [], "other": []}
    for p in process_tree(pid)[1:]:
        cmdline = (process_usage(p) or ("",))[0]
        kinds["haproxy" if "haproxy" in cmdline else "streamlit" if "streamlit run" in cmdline else "other"].append(p)
    return kinds


def assert_all_gone(pids: list[int], port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    assert not [p for p in pids if alive(p)], "processes left behind"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the public port still answers"


@pytest.fixture(scope="module")
def served():
    proc, url = start_launcher(workers=2)
    pids = process_tree(proc.pid)
    yield proc, url
    stop_server(proc)  # SIGTERM
    assert_all_gone(pids, int(url.rsplit(":", 1)[1]))


def test_the_launcher_runs_two_workers_and_haproxy(served):
    kinds = launcher_processes(served[0].pid)
    assert (len(kinds["streamlit"]), len(kinds["haproxy"]), kinds["other"]) == (2, 1, []), kinds


def test_health_answers_through_the_proxy_with_its_affinity_cookie(served):
    with urllib.request.urlopen(served[1] + "/_stcore/health", timeout=10) as r:
        assert r.status == 200 and r.read() == b"ok"
        worker = r.headers["X-Rnnviz-Worker"]
        assert worker in ("w1", "w2")
        assert f"{COOKIE}={worker}; path=/; HttpOnly; SameSite=Lax" in r.headers.get_all("Set-Cookie")


def active_sessions(context, url: str) -> tuple[str, int]:
    """(the worker that answered, its number of open Streamlit sessions), asked with this browser's cookies."""
    r = context.request.get(url + "/_stcore/metrics?families=active_sessions")
    assert r.ok, r.status
    lines = [ln for ln in r.text().splitlines() if ln.startswith("active_sessions")]
    return r.headers["x-rnnviz-worker"], int(float(lines[0].split()[-1]))


def test_each_browser_keeps_its_worker_across_reruns_and_the_websocket_works(served, browser):
    _, url = served
    sessions = []
    for _ in range(2):  # one after the other: leastconn sends the second to the worker without a session
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.add_init_script(MUTATION_CLOCK)
        runs, sockets = Runs(page), []
        page.on("websocket", lambda ws, sockets=sockets: sockets.append(ws))
        page.goto(f"{url}/Step_through?cell=lstm&source=noise&length=8&hidden=4", wait_until="commit")
        settle_run_ms(page, runs, 0, 0.0)
        # the page's content only arrives over the websocket (/_stcore/stream), through the proxy
        assert page.title() == "Step through · rnnviz"
        assert page.get_by_role("heading", name="Step through the cell").count() == 1
        sessions.append((context, page, runs, sockets, {c["name"]: c["value"] for c in context.cookies()}[COOKIE]))
    assert {s[-1] for s in sessions} == {"w1", "w2"}, "two new browsers go to the two workers"

    for context, page, runs, sockets, worker in sessions:
        for cell in ("GRU", "RNN (tanh)", "LSTM"):  # three reruns, each over the same websocket
            page.get_by_role("combobox", name="Cell").click()
            option = page.get_by_role("option", name=cell, exact=True)
            before, t0 = runs.finished, page_now(page)
            option.click()
            settle_run_ms(page, runs, before, t0)
            assert page.locator("[data-testid='stException'], .st-key-rnnviz-error").count() == 0
        assert page.get_by_role("combobox", name="Cell").input_value() == "LSTM"
        assert len(sockets) == 1 and not sockets[0].is_closed(), "one websocket, never reconnected"
        assert {c["name"]: c["value"] for c in context.cookies()}[COOKIE] == worker
        # the worker this browser's cookie names holds its session, and only its session
        assert active_sessions(context, url) == (worker, 1)
    for context, *_ in sessions:
        context.close()


def test_ctrl_c_stops_the_launcher_and_everything_it_started():
    proc, url = start_launcher(workers=2)
    pids = process_tree(proc.pid)
    assert len(pids) == 4, pids  # launcher, two workers, haproxy
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert_all_gone(pids, int(url.rsplit(":", 1)[1]))
