"""Shared helpers for the tests."""

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import rnnviz

ROOT = Path(__file__).resolve().parents[1]

# The training page's runs in tests. TEST_PRESETS (git-ignored, like the server's folder) keeps the page's
# default and preset runs between test sessions, so they are trained once per machine and engine version
# (their file names carry it), not once per session. The session's server keeps its runs in a folder of its
# own, starting with a copy of those: no run a test trains outlives the session.
TEST_PRESETS = ROOT / "cache" / "test-preset-runs"
SESSION_RUNS = Path(tempfile.mkdtemp(prefix="rnnviz-test-runs-"))
for _kept in TEST_PRESETS.glob("*.npz"):
    shutil.copy2(_kept, SESSION_RUNS)
os.environ["RNNVIZ_RUNS_DIR"] = str(SESSION_RUNS)

# Tests see every exception as AppTest's exception elements (at.exception), under rnnviz's own message:
# a developer's setting. .streamlit/config.toml sets "none" for everyone else (ui._guard_errors).
st.config.set_option("client.showErrorDetails", "full")

CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def random_problem(kind, T=6, I=3, H=4, seed=0, batch=None, scale=1.0):
    """Params, inputs, an upstream gradient and initial states for a small random case."""
    rng = np.random.default_rng(seed)
    params = rnnviz.init_params(kind, I, H, seed=seed)
    params = {k: v * scale for k, v in params.items()}
    lead = (T,) if batch is None else (T, batch)
    xs = rng.normal(size=(*lead, I))
    dL_dh = rng.normal(size=(*lead, H))
    state = (H,) if batch is None else (batch, H)
    h0 = rng.normal(size=state) * 0.5
    c0 = rng.normal(size=state) * 0.5 if kind == "lstm" else None
    return params, xs, dL_dh, h0, c0


def open_app(page: str | None = None, **query) -> AppTest:
    """A new session opening `page` (as a link would, through app.py) with these URL parameters (a list: the
    parameter repeated)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = [str(v) for v in value] if isinstance(value, list) else str(value)
    if page:
        at.switch_page(page)
    return at.run()


@pytest.fixture(scope="session")
def preset_runs_folder():
    """TEST_PRESETS holding the training page's default and preset runs, and nothing else (trained here
    if missing); the session's server has them too."""
    from rnnviz.runstore import RunStore
    from rnnviz.studies.training import preset_runs
    from rnnviz.training import train

    store = RunStore(TEST_PRESETS)
    wanted = {store.path(cfg) for configs in preset_runs().values() for cfg in configs}
    for path in set(TEST_PRESETS.glob("*.npz")) - wanted:  # an older engine's, or not a preset's
        path.unlink()
    for configs in preset_runs().values():
        for cfg in configs:
            kept = store.get(cfg)
            if kept is None or kept.stopped_at is not None:
                store.put(train(cfg))
    for path in wanted:
        if not (SESSION_RUNS / path.name).exists():
            shutil.copy2(path, SESSION_RUNS)
    return TEST_PRESETS


def settle(at: AppTest, timeout: float = 300.0) -> AppTest:
    """Wait until no training a session follows is under way on the training page's server (the server's
    own warming of its preset runs may go on), then run the page again."""
    from rnnviz.ui import training

    trainer = training.server().trainer
    deadline = time.monotonic() + timeout
    while any(j.active and j.watchers for j in trainer._jobs.values()):
        assert time.monotonic() < deadline, "training did not finish"
        time.sleep(0.05)
    return at.run()


@pytest.fixture
def fresh_cache():
    """Page tests start from empty caches (st.cache_data and rnnviz's studies), like a fresh server."""
    from rnnviz import ui

    st.cache_data.clear()
    ui.clear_caches()
    yield


def elements(at: AppTest):
    """rnnviz's figure elements on the page, read back (ui/client.py's payloads), in page order."""
    from rnnviz.ui import client

    found = [el for el in at.get("bidi_component") if el.proto.component_name == "rnnviz_figures"]
    decoded = [client.decode(el.proto.bytes) for el in found]
    return [d for d in decoded if d.header.get("role") == "view"]


def charts(at: AppTest, t: int | None = None) -> list[dict]:
    """Every figure of the page as the browser draws it at step t (default: the server's t), as plain
    Plotly specs {"data": [...], "layout": {...}}, in page order."""
    return [e.figure(k, t) for e in elements(at) for k, item in enumerate(e.items) if "figure" in item]


def blocks(at: AppTest, t: int | None = None) -> list[list[str]]:
    """Every text block (the equations) as plain text lines at step t."""
    return [e.block_text(k, t) for e in elements(at) for k, item in enumerate(e.items) if "block" in item]


def title_of(spec: dict) -> str:
    title = spec["layout"].get("title", {})
    return title.get("text", "") if isinstance(title, dict) else str(title)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium (Debian's, through Playwright) for a test module's pages."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from .browser_helpers import launch_chromium

    with sync_api.sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()
