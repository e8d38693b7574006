"""A server's training runs: the finished ones kept for everyone, and the trainings under way.

Training is seeded, so the same RunConfig gives the same run: a run is kept under its
configuration (training.run_key) and shared by every session that asks for those settings. A
run stopped half-way is the first updates of that same run, so it is kept too (as `stopped_at`),
until the whole run replaces it. Nothing here imports Streamlit: the Clipping page
(rnnviz.ui.training) holds one RunStore and one Trainer per server process; the tests and
benchmarks drive them directly.

- RunStore: memory (least recently used first out, bounded in bytes) in front of a folder of
  .npz files (bounded in bytes, least recently read first out), so finished runs survive a
  restart and are shared by the worker processes of `make serve` on one machine.
- Trainer: a queue of jobs (a session's request: up to three runs, trained one after the other)
  and a fixed number of worker threads, so at most `workers` trainings run at once in this
  process, whatever the number of sessions. A job's runs grow update by update where a page can
  read them (streaming); a job nobody watches any more stops, keeping what it did; a job that has
  used its CPU allowance stops too. Identical requests share one job.

Why threads, not processes: a training thread holds Python's GIL for most of its time, so it
shares its process's core with that process's page reruns rather than taking another core; with
one worker thread per process and `make serve` running one process per core, the machine runs at
most one training per core, and a training can slow its own process's pages (by about half while
both are busy) but never starve them (the GIL changes hands every few milliseconds).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .training import RunConfig, TrainingRun, load_run, run_key, save_run, train


def run_bytes(run: TrainingRun) -> int:
    """The memory a run's arrays take."""
    arrays = [run.loss, run.grad_norm, run.clipped_norm, run.clipped, run.update_norm, run.cosine,
              run.h_norms_start, run.h_norms_end, *run.params.values(), *run.readout.values()]
    return sum(a.nbytes for a in arrays) + 2048  # + the objects around them


def better(new: TrainingRun, old: TrainingRun | None) -> bool:
    """Is `new` a better record of its run than `old`: finished over stopped, longer over shorter."""
    if old is None:
        return True
    if (old.stopped_at is None) != (new.stopped_at is None):
        return new.stopped_at is None
    return new.updates_done > old.updates_done


class RunStore:
    """Runs by configuration: in memory (at most memory_bytes) and in `folder` (at most disk_bytes).

    folder=None keeps runs in memory only (a read-only install): `persistent` says which.
    Thread-safe. A file that cannot be read (damaged, or from an older format) is removed.
    """

    def __init__(self, folder: str | Path | None, memory_bytes: int = 64 << 20, disk_bytes: int = 256 << 20):
        self.memory_bytes, self.disk_bytes = memory_bytes, disk_bytes
        self._memory: OrderedDict[RunConfig, tuple[TrainingRun, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()
        self.folder = None
        if folder is not None:
            try:
                Path(folder).mkdir(parents=True, exist_ok=True)
                probe = Path(folder) / f".probe-{os.getpid()}-{threading.get_ident()}"
                probe.write_bytes(b"")
                probe.unlink()
                self.folder = Path(folder)
            except OSError:
                self.folder = None  # not writable: memory only, and the page says so

    @property
    def persistent(self) -> bool:
        return self.folder is not None

    def path(self, cfg: RunConfig) -> Path | None:
        return None if self.folder is None else self.folder / f"{run_key(cfg)}.npz"

    def get(self, cfg: RunConfig) -> TrainingRun | None:
        """The best run kept for cfg (from memory, else from disk), or None."""
        with self._lock:
            if cfg in self._memory:
                self._memory.move_to_end(cfg)
                return self._memory[cfg][0]
        path = self.path(cfg)
        if path is None or not path.exists():
            return None
        try:
            run = load_run(path)
        except ValueError:
            path.unlink(missing_ok=True)
            return None
        if run.config != cfg:  # a key collision, or a file renamed by hand: not this run
            return None
        try:
            os.utime(path)  # read now: the last to be pruned
        except OSError:
            pass
        self._remember(run)
        return run

    def put(self, run: TrainingRun, disk: bool = True) -> None:
        """Keep `run` unless a better record of it is kept already (see better())."""
        with self._lock:
            old = self._memory.get(run.config, (None, 0))[0]
        if not better(run, old):
            return
        self._remember(run)
        path = self.path(run.config) if disk else None
        if path is None:
            return
        if path.exists():
            try:
                if not better(run, load_run(path)):
                    return
            except ValueError:
                pass
        try:
            save_run(run, path)
            self._prune()
        except OSError:
            pass  # a full or read-only disk: the run stays in memory

    def finished(self, cfg: RunConfig) -> TrainingRun:
        """The finished run of cfg: kept, or trained here and now (in the caller's thread) and kept.
        For small fixed configurations only (a lesson's facts): it bypasses the Trainer's limits."""
        run = self.get(cfg)
        if run is None or run.stopped_at is not None:
            run = train(cfg)
            self.put(run)
        return run

    def forget_memory(self) -> None:
        """Empty the memory (as a restarted server starts): runs come back from disk."""
        with self._lock:
            self._memory.clear()
            self._used = 0

    def _remember(self, run: TrainingRun) -> None:
        size = run_bytes(run)
        with self._lock:
            if run.config in self._memory:
                self._used -= self._memory.pop(run.config)[1]
            self._memory[run.config] = (run, size)
            self._used += size
            while self._used > self.memory_bytes and len(self._memory) > 1:
                self._used -= self._memory.popitem(last=False)[1][1]

    def _prune(self) -> None:
        """Remove the least recently read files until the folder is within disk_bytes."""
        files = []
        for path in self.folder.glob("*.npz"):
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.disk_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size


# --- trainings under way --------------------------------------------------------------------------


class TrainerBusy(Exception):
    """The queue is full: the server refuses more trainings for now."""


@dataclass(eq=False)
class Job:
    """One request: its runs trained one after the other on a worker thread."""

    id: int
    configs: tuple[RunConfig, ...]
    seconds: float  # the estimated CPU seconds of the whole job
    warm: bool = False  # started by the server (the page's presets), not by a session
    watchers: set[str] = field(default_factory=set)  # sessions following it
    state: str = "queued"  # queued, running, done, stopped
    runs: dict[RunConfig, TrainingRun] = field(default_factory=dict)  # each run so far (growing)
    index: int = 0  # which run is training (0-based)
    note: str = ""  # why it stopped, if not by a person
    cpu: float = 0.0  # CPU seconds used so far
    cancelled: bool = False

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def priority(self) -> int:
        """0 before 1: a job someone watches goes before one that only warms the cache."""
        return 0 if self.watchers else 1


class Trainer:
    """Up to `workers` trainings at a time, the rest queued (at most max_queue); see the module doc.

    estimate(cfg) -> CPU seconds decides the queue note's wait; cpu_limit (seconds) stops a job
    that has used that much CPU. `gate`, for tests, is called before every update (it may block).
    """

    def __init__(self, store: RunStore, estimate: Callable[[RunConfig], float], workers: int = 1,
                 max_queue: int = 32, cpu_limit: float = 120.0, checkpoint_seconds: float = 5.0,
                 gate: Callable[[Job, TrainingRun], None] | None = None):
        self.store, self.estimate, self.workers, self.max_queue = store, estimate, workers, max_queue
        self.cpu_limit, self.checkpoint_seconds, self.gate = cpu_limit, checkpoint_seconds, gate
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False

    # -- asked by pages --

    def submit(self, configs: Sequence[RunConfig], owner: str | None = None, warm: bool = False) -> Job:
        """The job training `configs` for `owner` (None: the server warming its cache): an identical
        job already queued or running is shared. TrainerBusy if the queue is full."""
        configs = tuple(configs)
        with self._cond:
            job = next((j for j in self._jobs.values() if j.active and j.configs == configs), None)
            if job is None:
                if sum(j.state == "queued" for j in self._jobs.values()) >= self.max_queue:
                    raise TrainerBusy(f"{self.max_queue} trainings are waiting already")
                job = Job(next(self._ids), configs, sum(self.estimate(c) for c in configs))
                self._jobs[job.id] = job
            job.warm = job.warm or warm
            if owner is not None:
                job.watchers.add(owner)
            self._start_workers()
            self._cond.notify_all()
            return job

    def job(self, job_id: int | None) -> Job | None:
        with self._cond:
            return self._jobs.get(job_id)

    def watching(self, owner: str) -> Job | None:
        """The active job `owner` follows (a session has at most one), or None."""
        with self._cond:
            return next((j for j in self._jobs.values() if j.active and owner in j.watchers), None)

    def training(self, cfg: RunConfig) -> TrainingRun | None:
        """The run so far of cfg in an active job, or None."""
        with self._cond:
            for job in self._jobs.values():
                if job.active and cfg in job.runs:
                    return job.runs[cfg]
        return None

    def runs(self, job: Job) -> dict[RunConfig, TrainingRun]:
        """The job's runs so far (a copy: the worker goes on adding to them)."""
        with self._cond:
            return dict(job.runs)

    def leave(self, owner: str, job: Job) -> dict[RunConfig, TrainingRun]:
        """Stop: `owner` stops following `job` and gets its runs so far (unfinished ones marked
        stopped). The job itself stops when nobody follows it and the server did not start it."""
        with self._cond:
            job.watchers.discard(owner)
            if not job.watchers and not job.warm:
                job.cancelled = True
                if job.state == "queued":
                    job.state = "stopped"
            self._cond.notify_all()
            return {cfg: run if _finished(run, cfg) else replace(run, stopped_at=run.updates_done)
                    for cfg, run in job.runs.items()}

    def ahead(self, job: Job) -> tuple[int, float]:
        """(jobs that run before `job`, their estimated CPU seconds left) — 0 once it runs."""
        with self._cond:
            if job.state != "queued":
                return 0, 0.0
            before = [j for j in self._jobs.values()
                      if j.state == "running" or (j.state == "queued" and _order(j) < _order(job))]
            return len(before), sum(max(j.seconds - j.cpu, 0.0) for j in before)

    def close(self) -> None:
        """Stop every job and the worker threads (tests; a server simply exits)."""
        with self._cond:
            self._closed = True
            for job in self._jobs.values():
                job.cancelled = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=30)

    # -- the workers --

    def _start_workers(self) -> None:
        while len(self._threads) < self.workers:
            thread = threading.Thread(target=self._work, name=f"rnnviz-trainer-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _next(self) -> Job | None:
        """Wait for the queued job to run next (None when closed)."""
        with self._cond:
            while not self._closed:
                queued = [j for j in self._jobs.values() if j.state == "queued"]
                if queued:
                    job = min(queued, key=_order)
                    job.state = "running"
                    return job
                self._cond.wait()
            return None

    def _work(self) -> None:
        while (job := self._next()) is not None:
            try:
                self._run(job)
            finally:
                with self._cond:
                    if job.state == "running":
                        job.state = "stopped" if job.cancelled or job.note else "done"
                    self._drop_old()
                    self._cond.notify_all()

    def _run(self, job: Job) -> None:
        start = time.thread_time()
        for k, cfg in enumerate(job.configs):
            job.index = k
            kept = self.store.get(cfg)
            if kept is not None and kept.stopped_at is None:
                with self._cond:
                    job.runs[cfg] = kept  # trained meanwhile (another job, another process)
                continue
            last_checkpoint = time.monotonic()

            def keep_going(run: TrainingRun, cfg=cfg) -> bool:
                nonlocal last_checkpoint
                with self._cond:
                    job.runs[cfg] = run
                job.cpu = time.thread_time() - start
                if self.gate is not None:
                    self.gate(job, run)
                if job.cpu > self.cpu_limit:
                    job.note = f"stopped at this server's limit of {self.cpu_limit:.0f} s of training a request"
                if time.monotonic() - last_checkpoint > self.checkpoint_seconds:
                    last_checkpoint = time.monotonic()  # on disk now and then: a restart loses little
                    self.store.put(replace(run, stopped_at=run.updates_done))
                return not (job.cancelled or job.note)

            try:
                run = train(cfg, keep_going)
            except ValueError as err:  # settings the engine refuses: say so on the page
                job.note = f"rnnviz cannot train this run: {err}"
                return
            with self._cond:
                job.runs[cfg] = run
            self.store.put(run)
            if job.cancelled or job.note:
                return

    def _drop_old(self) -> None:
        """Forget finished jobs beyond the last 64 (their runs are in the store)."""
        done = [j.id for j in self._jobs.values() if not j.active]
        for job_id in sorted(done)[:-64]:
            del self._jobs[job_id]


def _order(job: Job) -> tuple[int, int]:
    return job.priority, job.id


def _finished(run: TrainingRun, cfg: RunConfig) -> bool:
    return run.stopped_at is None and (run.diverged_at is not None or run.updates_done == cfg.updates)
