"""The server's training runs: kept by their settings in memory and on disk, trained by a bounded
queue of worker threads, shared only between identical settings."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import fields, replace

import numpy as np
import pytest

from rnnviz.runstore import RunStore, Trainer, TrainerBusy, better, run_bytes
from rnnviz.studies import training as study
from rnnviz.training import RunConfig, estimated_seconds, load_run, run_key, save_run, train

SMALL = RunConfig(length=10, hidden=4, batch=4, updates=8)


def same_run(a, b) -> None:
    assert a.config == b.config and a.diverged_at == b.diverged_at and a.stopped_at == b.stopped_at
    for name in ("loss", "grad_norm", "clipped_norm", "clipped", "update_norm", "cosine", "h_norms_start",
                 "h_norms_end"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    for k in a.readout:
        np.testing.assert_array_equal(a.readout[k], b.readout[k])
    np.testing.assert_equal(a.final_loss, b.final_loss)


def wait_idle(trainer: Trainer, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while any(j.active for j in trainer._jobs.values()):
        assert time.monotonic() < deadline, "the trainer did not finish"
        time.sleep(0.02)


class Gate:
    """Holds every job at update `at` until released (a Trainer's gate)."""

    def __init__(self, at: int):
        self.at, self.open, self.reached = at, threading.Event(), threading.Event()

    def __call__(self, job, run) -> None:
        if run.updates_done >= self.at:
            self.reached.set()
            self.open.wait(timeout=60)


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


@pytest.fixture
def trainers():
    made = []

    def make(store, **kwargs):
        made.append(Trainer(store, estimated_seconds, **kwargs))
        return made[-1]

    yield make
    for t in made:
        t.close()


# --- keeping a run -----------------------------------------------------------------------------


def test_a_saved_run_loads_back_identical(tmp_path):
    diverged = train(RunConfig(cell="rnn-relu", length=50, hidden=32, batch=8, updates=50, radius=1.5, lr=0.5))
    stopped = train(SMALL.with_(cell="lstm"), keep_going=lambda r: r.updates_done < 3)
    for run in (train(SMALL), diverged, stopped):
        path = tmp_path / "run.npz"
        assert save_run(run, path) == path.stat().st_size
        same_run(load_run(path), run)


def test_a_damaged_file_is_not_a_run(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ValueError, match=r"bad\.npz"):
        load_run(path)


def test_every_setting_changes_the_key_and_equal_settings_share_it():
    base = RunConfig()
    changed = {"cell": "lstm", "hidden": 33, "task": "text", "length": 51, "batch": 31, "updates": 201,
               "optimizer": "adam", "lr": 0.11, "clip": "norm", "threshold": 2.0, "seed": 1, "radius": 1.3,
               "forget_bias": 1.0, "window": 5}
    assert set(changed) == {f.name for f in fields(RunConfig)}
    keys = {run_key(base.with_(**{name: value})) for name, value in changed.items()}
    assert len(keys) == len(changed) and run_key(base) not in keys
    assert run_key(RunConfig()) == run_key(base)


def test_a_finished_run_is_better_than_a_stopped_one_and_longer_than_shorter():
    run = train(SMALL)
    short = replace(train(SMALL, keep_going=lambda r: r.updates_done < 3), stopped_at=3)
    longer = replace(train(SMALL, keep_going=lambda r: r.updates_done < 5), stopped_at=5)
    assert better(run, short) and not better(short, run)
    assert better(longer, short) and not better(short, longer)
    assert better(short, None)


def test_the_store_keeps_runs_on_disk_for_a_restart(store):
    run = train(SMALL)
    store.put(run)
    assert store.path(SMALL).exists()
    store.forget_memory()  # a restart: memory empty, the disk as it was
    same_run(store.get(SMALL), run)
    assert store.get(SMALL.with_(seed=1)) is None


def test_the_store_never_replaces_a_finished_run_by_a_stopped_one(store):
    run = train(SMALL)
    store.put(run)
    store.put(replace(train(SMALL, keep_going=lambda r: r.updates_done < 3), stopped_at=3))
    store.forget_memory()
    assert store.get(SMALL).stopped_at is None


def test_memory_is_bounded_in_bytes_least_recently_used_first_out(tmp_path):
    runs = [train(SMALL.with_(seed=s)) for s in range(4)]
    size = run_bytes(runs[0])
    store = RunStore(None, memory_bytes=int(2.5 * size))
    assert not store.persistent
    for run in runs[:2]:
        store.put(run)
    store.get(runs[0].config)  # read: now the most recent
    store.put(runs[2])
    assert store.get(runs[1].config) is None  # the least recently used went
    assert store.get(runs[0].config) is not None and store.get(runs[2].config) is not None


def test_the_folder_is_bounded_in_bytes_least_recently_read_first_out(tmp_path):
    runs = [train(SMALL.with_(seed=s)) for s in range(4)]
    probe = RunStore(tmp_path / "probe")
    probe.put(runs[0])
    size = probe.path(runs[0].config).stat().st_size
    store = RunStore(tmp_path / "runs", disk_bytes=int(2.5 * size))
    for k, run in enumerate(runs):
        store.put(run)
        path = store.path(run.config)
        t = time.time() - 100 + k  # mtimes in the order written
        os.utime(path, (t, t))
    files = sorted(p.name for p in (tmp_path / "runs").glob("*.npz"))
    assert len(files) == 2
    assert files == sorted(store.path(r.config).name for r in runs[2:])


def test_a_damaged_file_in_the_store_is_dropped(store):
    store.path(SMALL).write_bytes(b"garbage")
    assert store.get(SMALL) is None and not store.path(SMALL).exists()


def test_a_folder_that_cannot_be_written_keeps_runs_in_memory(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    store = RunStore(blocked / "runs")
    assert not store.persistent
    store.put(train(SMALL))
    assert store.get(SMALL) is not None


# --- training on the server's threads -----------------------------------------------------------


def test_a_job_trains_its_runs_into_the_store(store, trainers):
    trainer = trainers(store)
    job = trainer.submit([SMALL, SMALL.with_(clip="norm")], owner="a")
    wait_idle(trainer)
    assert job.state == "done"
    same_run(store.get(SMALL), train(SMALL))  # the same settings, the same run
    assert store.get(SMALL.with_(clip="norm")) is not None


def test_identical_requests_share_one_job(store, trainers):
    gate = Gate(at=2)
    trainer = trainers(store, gate=gate)
    a = trainer.submit([SMALL], owner="a")
    b = trainer.submit([SMALL], owner="b")
    c = trainer.submit([SMALL.with_(seed=3)], owner="c")
    assert a is b and a is not c and a.watchers == {"a", "b"}
    gate.open.set()
    wait_idle(trainer)


def test_at_most_workers_trainings_run_and_the_rest_queue_in_order(store, trainers):
    gate = Gate(at=2)
    trainer = trainers(store, workers=1, gate=gate)
    first = trainer.submit([SMALL], owner="a")
    assert gate.reached.wait(30)
    second = trainer.submit([SMALL.with_(seed=1)], owner="b")
    third = trainer.submit([SMALL.with_(seed=2)], owner="c")
    warm = trainer.submit([SMALL.with_(seed=3)], warm=True)
    later = trainer.submit([SMALL.with_(seed=4)], owner="d")
    assert first.state == "running" and second.state == "queued"
    assert trainer.ahead(second)[0] == 1 and trainer.ahead(third)[0] == 2
    assert trainer.ahead(later)[0] == 3  # a person's request goes before the server's own warming
    assert trainer.ahead(warm)[0] == 4 and trainer.ahead(warm)[1] > 0
    gate.open.set()
    wait_idle(trainer)
    assert all(j.state == "done" for j in (first, second, third, warm, later))


def test_a_job_nobody_follows_stops_and_keeps_what_it_did(store, trainers):
    gate = Gate(at=3)
    trainer = trainers(store, gate=gate)
    job = trainer.submit([SMALL.with_(updates=50)], owner="a")
    assert gate.reached.wait(30)
    kept = trainer.leave("a", job)
    gate.open.set()
    wait_idle(trainer)
    assert job.state == "stopped"
    run = kept[SMALL.with_(updates=50)]
    assert run.stopped_at == run.updates_done >= 3
    stored = store.get(SMALL.with_(updates=50))
    assert stored.stopped_at is not None and stored.updates_done < 50
    np.testing.assert_array_equal(stored.loss, train(SMALL.with_(updates=50)).loss[: stored.updates_done])


def test_a_job_someone_else_follows_goes_on_when_one_leaves(store, trainers):
    gate = Gate(at=3)
    trainer = trainers(store, gate=gate)
    job = trainer.submit([SMALL], owner="a")
    trainer.submit([SMALL], owner="b")
    assert gate.reached.wait(30)
    trainer.leave("a", job)
    gate.open.set()
    wait_idle(trainer)
    assert job.state == "done" and store.get(SMALL).stopped_at is None


def test_the_servers_own_warming_goes_on_without_followers(store, trainers):
    trainer = trainers(store)
    job = trainer.submit([SMALL], owner="a", warm=True)
    trainer.leave("a", job)
    wait_idle(trainer)
    assert job.state == "done" and store.get(SMALL) is not None


def test_a_job_stops_at_its_cpu_allowance(store, trainers):
    trainer = trainers(store, cpu_limit=0.0)
    job = trainer.submit([SMALL.with_(updates=100)], owner="a")
    wait_idle(trainer)
    assert job.state == "stopped" and "limit" in job.note
    assert store.get(SMALL.with_(updates=100)).updates_done < 100


def test_a_full_queue_refuses_more(store, trainers):
    gate = Gate(at=1)
    trainer = trainers(store, max_queue=2, gate=gate)
    trainer.submit([SMALL], owner="a")
    assert gate.reached.wait(30)
    trainer.submit([SMALL.with_(seed=1)], owner="b")
    trainer.submit([SMALL.with_(seed=2)], owner="c")
    with pytest.raises(TrainerBusy):
        trainer.submit([SMALL.with_(seed=3)], owner="d")
    gate.open.set()
    wait_idle(trainer)


def test_a_long_training_is_on_disk_now_and_then(store, trainers):
    gate = Gate(at=4)
    trainer = trainers(store, checkpoint_seconds=0.0, gate=gate)
    trainer.submit([SMALL.with_(updates=40)], owner="a")
    assert gate.reached.wait(30)
    store.forget_memory()  # what a restart would find
    found = store.get(SMALL.with_(updates=40))
    assert found is not None and found.stopped_at is not None and found.updates_done >= 3
    gate.open.set()
    wait_idle(trainer)


def test_runs_so_far_grow_while_a_job_trains(store, trainers):
    gate = Gate(at=5)
    trainer = trainers(store, gate=gate)
    job = trainer.submit([SMALL.with_(updates=30)], owner="a")
    assert gate.reached.wait(30)
    assert trainer.training(SMALL.with_(updates=30)).updates_done == 5
    assert trainer.runs(job)[SMALL.with_(updates=30)].updates_done == 5
    gate.open.set()
    wait_idle(trainer)


# --- what a request costs -----------------------------------------------------------------------


def test_the_cost_estimate_grows_with_every_size():
    base = RunConfig()
    cost = estimated_seconds(base)
    for change in ({"length": 100}, {"hidden": 64}, {"batch": 64}, {"updates": 400}, {"cell": "lstm"}):
        assert estimated_seconds(base.with_(**change)) > cost, change


def test_every_preset_is_within_the_cap_and_the_largest_request_is_not():
    for key, configs in study.preset_runs().items():
        assert study.request_seconds(configs) < study.CAP_SECONDS / 5, key
    largest = RunConfig(cell="lstm", length=200, hidden=64, batch=64, updates=1000)
    assert study.request_seconds([largest] * 3) > study.CAP_SECONDS
