"""The studies' cache (rnnviz/ui/cache.py): a byte budget, idle expiry, one build per key, shared read-only;
and the page-level guard that turns an unexpected exception into rnnviz's own message."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import streamlit as st

from rnnviz import ui
from rnnviz.config import Config
from rnnviz.studies.bptt import build as build_bptt
from rnnviz.ui.cache import MIB, Cache, _Slots, freeze, freeze_modules, memo, size_of
from rnnviz.ui.pages import PAGES

from .conftest import open_app


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def block(mib: float) -> np.ndarray:
    return np.zeros(int(mib * MIB) // 8)


def test_size_of_counts_every_array_once():
    a = block(1)
    value = {"x": a, "again": a, "pair": (block(2), [block(0.5)])}
    assert 3.5 * MIB <= size_of(value) < 3.5 * MIB + 10_000


def test_a_large_study_is_measured_by_its_arrays():
    study = build_bptt(Config(cell="lstm", hidden=16, source="noise", length=200), "last")
    arrays = study.main.backward.dh.nbytes + study.main.scenario.trace.h.nbytes
    assert size_of(study) > arrays


def test_the_least_recently_used_entries_go_when_the_budget_is_full():
    cache = Cache(budget=10 * MIB, max_entry=4 * MIB, clock=Clock())
    for k in range(3):
        cache.get(k, lambda: block(3))
    cache.get(0, lambda: pytest.fail("0 is cached"))  # used again: now the newest
    cache.get(3, lambda: block(3))  # 12 MiB > 10: the oldest use, 1, goes
    assert cache.holds(0) and not cache.holds(1) and cache.holds(2) and cache.holds(3)
    stats = cache.stats()
    assert stats.bytes <= 10 * MIB and stats.entries == 3 and stats.dropped == 1


def test_an_entry_larger_than_its_share_is_computed_but_not_kept():
    cache = Cache(budget=8 * MIB, clock=Clock())  # max_entry: a quarter, 2 MiB
    assert cache.get("big", lambda: block(3)).nbytes == 3 * MIB
    assert not cache.holds("big") and cache.stats().too_large == 1 and cache.stats().bytes == 0


def test_an_entry_unused_for_its_ttl_expires():
    clock = Clock()
    cache = Cache(budget=8 * MIB, ttl=60, clock=clock)
    cache.get("a", lambda: block(1))
    clock.now = 50
    cache.get("a", lambda: pytest.fail("still fresh"))  # a use keeps it
    clock.now = 109
    assert cache.holds("a")
    clock.now = 111
    assert not cache.holds("a") and cache.stats().bytes == 0


def test_cached_arrays_are_read_only():
    cache = Cache(budget=8 * MIB)
    value = cache.get("v", lambda: {"h": np.ones(3), "nested": [np.zeros(2)]})
    with pytest.raises(ValueError, match="read-only"):
        value["h"][0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        value["nested"][0] += 1


def test_freeze_walks_dataclasses():
    study = build_bptt(Config(cell="gru", hidden=3, source="noise", length=5), "last")
    freeze(study)
    assert not study.main.scenario.trace.h.flags.writeable
    assert not study.main.backward.params["weight_hh"].flags.writeable


def test_modules_are_frozen_once_per_batch_of_imports_and_later_garbage_is_still_collected():
    import gc
    import sys

    freeze_modules()
    frozen = gc.get_freeze_count()
    assert frozen > 1000 and not freeze_modules()  # nothing new imported: nothing to do
    sys.modules["rnnviz_test_new_module"] = type(sys)("rnnviz_test_new_module")
    try:
        assert freeze_modules()
    finally:
        del sys.modules["rnnviz_test_new_module"]

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle made after the freeze: the collector still finds it
    del a, b
    assert gc.collect() >= 2


def test_sessions_asking_for_one_key_at_once_build_it_once():
    cache, calls, start = Cache(budget=8 * MIB, slots=_Slots(4)), [], threading.Barrier(6)

    def build():
        calls.append(1)
        time.sleep(0.2)
        return np.arange(4.0)

    results = []

    def ask():
        start.wait()
        results.append(cache.get("k", build))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and all(r is results[0] for r in results)


def test_a_failed_build_is_not_cached_and_the_next_caller_tries_again():
    cache = Cache(budget=8 * MIB)
    with pytest.raises(ValueError):
        cache.get("k", lambda: (_ for _ in ()).throw(ValueError("bad input")))
    assert cache.get("k", lambda: 7) == 7


def test_at_most_the_slots_build_at_once_and_a_build_may_nest():
    slots, running, most = _Slots(2), [0], [0]
    cache = Cache(budget=64 * MIB, slots=slots)
    lock = threading.Lock()

    def build(k):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        inner = cache.get(("inner", k), lambda: k)  # a study built from another cached study
        with lock:
            running[0] -= 1
        return inner

    threads = [threading.Thread(target=cache.get, args=(k, lambda k=k: build(k))) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 2 and cache.stats().entries == 12


def test_memo_keys_by_function_and_arguments():
    calls = []
    cache = Cache(budget=8 * MIB)

    def square(x, power=2):
        calls.append(x)
        return x**power

    f = memo(square, cache=cache)
    assert f(3) == 9 and f(3) == 9 and f(3, power=3) == 27 and f(4) == 16
    assert calls == [3, 3, 4] and f.holds(3) and not f.holds(5)


# --- the pages share the cache, and their studies stay in it ------------------------------------


@pytest.mark.usefixtures("fresh_cache")
def test_two_sessions_on_one_view_share_one_study():
    a = open_app(PAGES["bptt"].file, cell="gru", hidden=4)
    misses = ui.STUDIES.stats().misses
    b = open_app(PAGES["bptt"].file, cell="gru", hidden=4)
    assert not a.exception and not b.exception
    assert ui.STUDIES.stats().misses == misses  # the second session computed nothing


# --- unexpected exceptions ------------------------------------------------------------------------


@pytest.fixture
def failing_study(monkeypatch):
    def fail(cfg):
        raise RuntimeError("internal detail /srv/rnnviz/secret.py line 7")

    monkeypatch.setattr(ui, "build_step_study", fail)


@pytest.mark.usefixtures("fresh_cache", "failing_study")
def test_an_unexpected_exception_shows_rnnvizs_message_and_no_traceback_to_students():
    st.config.set_option("client.showErrorDetails", "none")  # the classroom's setting (config.toml, make serve)
    try:
        at = open_app(PAGES["step"].file)
    finally:
        st.config.set_option("client.showErrorDetails", "full")
    assert not at.exception  # Streamlit drew nothing of it
    assert [e.value for e in at.error] == [ui.ERROR_MESSAGE]
    page_text = " ".join(str(el.value) for el in [*at.markdown, *at.error, *at.warning, *at.info, *at.caption])
    assert "secret" not in page_text and "Traceback" not in page_text


@pytest.mark.usefixtures("fresh_cache", "failing_study")
def test_a_developer_still_sees_the_exception_under_the_message():
    at = open_app(PAGES["step"].file)  # the tests' setting: showErrorDetails = "full"
    assert [e.value for e in at.error] == [ui.ERROR_MESSAGE]
    assert "secret" in at.exception[0].message
