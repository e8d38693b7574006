"""Training cost: updates per second for each cell, the default runs' and each preset's time beside
the estimate the page's cost cap uses, and reading kept runs back from disk.

One core (BLAS threads pinned to 1), CPU time of this process (time.process_time), so other work
on the machine inflates the numbers less than wall time would. Targets: every preset's runs
finish in under 10 s; the estimate (training.estimated_seconds) is within a factor of 2 of the
measured time; a kept run loads in a few milliseconds.

    python benchmarks/training.py              # the table
    python benchmarks/training.py --calibrate  # also a grid of sizes: measured / estimated
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import itertools  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rnnviz.cells import CELLS  # noqa: E402
from rnnviz.runstore import RunStore  # noqa: E402
from rnnviz.studies import training as study  # noqa: E402
from rnnviz.training import RunConfig, estimated_seconds, train  # noqa: E402


def cpu_seconds(cfg: RunConfig):
    start = time.process_time()
    run = train(cfg)
    return time.process_time() - start, run


def main(calibrate: bool) -> None:
    print("updates per second (T = 50, H = 32, batch 32, SGD, one core)")
    for cell in CELLS:
        cfg = RunConfig(cell=cell, updates=60)
        seconds, _ = cpu_seconds(cfg)
        print(f"  {cell:9} {cfg.updates / seconds:6.0f}")

    print("the page's runs (every run of each, in sequence; target under 10 s), CPU seconds")
    print(f"  {'':28} {'measured':>9} {'estimated':>10} {'ratio':>6}")
    runs = []
    for name, configs in study.preset_runs().items():
        measured = 0.0
        for cfg in configs:
            seconds, run = cpu_seconds(cfg)
            measured += seconds
            runs.append(run)
        estimate = study.request_seconds(configs)
        flag = "" if measured < 10 else "  OVER TARGET"
        print(f"  {name:28} {measured:8.1f}s {estimate:9.1f}s {measured / estimate:6.2f}  ({len(configs)} runs){flag}")

    largest = [RunConfig(cell="lstm", length=200, hidden=64, batch=64, updates=1000)] * 3
    print(f"the controls' largest request (3 LSTM runs, T 200, H 64, batch 64, 1000 updates): estimated "
          f"{study.request_seconds(largest) / 60:.1f} minutes; the cap is {study.CAP_SECONDS:.0f} s")

    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(folder)
        start = time.perf_counter()
        for run in runs:
            store.put(run)
        put_ms = (time.perf_counter() - start) * 1000 / len(runs)
        sizes = [store.path(r.config).stat().st_size for r in runs]
        store.forget_memory()
        start = time.perf_counter()
        for run in runs:
            assert store.get(run.config) is not None
        get_ms = (time.perf_counter() - start) * 1000 / len(runs)
        start = time.perf_counter()
        for run in runs:
            store.get(run.config)
        hit_us = (time.perf_counter() - start) * 1e6 / len(runs)
    print(f"kept runs: {len(runs)} files of {min(sizes) / 1024:.0f}-{max(sizes) / 1024:.0f} KB; write {put_ms:.1f} ms, "
          f"read from disk {get_ms:.1f} ms, from memory {hit_us:.0f} µs a run")

    if calibrate:
        print("calibration: CPU seconds per update, measured / estimated (3 updates after 1 to warm up)")
        ratios = []
        for cell, task, T, H, B in itertools.product(["rnn-tanh", "lstm", "gru"], ["adding", "text"], [20, 200],
                                                     [8, 64], [8, 64]):
            cfg = RunConfig(cell=cell, task=task, length=T, hidden=H, batch=B, updates=4)
            one, _ = cpu_seconds(cfg.with_(updates=1))
            four, _ = cpu_seconds(cfg)
            per = (four - one) / 3
            ratio = per / (estimated_seconds(cfg.with_(updates=1)))
            ratios.append(ratio)
            print(f"  {cell:9} {task:7} T={T:3} H={H:2} B={B:2}: {per * 1000:7.1f} ms  ratio {ratio:5.2f}")
        print(f"  ratio percentiles 0/10/50/90/100: {np.percentile(ratios, [0, 10, 50, 90, 100]).round(2)}")


if __name__ == "__main__":
    main(calibrate="--calibrate" in sys.argv)
