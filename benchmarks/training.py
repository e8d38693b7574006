"""Training speed: updates per second for each cell at the presets' sizes, and each preset's time.

One core (BLAS threads pinned to 1). Target: every preset's runs finish in under 10 s.

    python benchmarks/training.py
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rnnviz.cells import CELLS  # noqa: E402
from rnnviz.studies import training as study  # noqa: E402
from rnnviz.training import RunConfig, train  # noqa: E402

PRESETS = {  # the Clipping page's training presets, as the runs they set up
    label: study.run_configs({**{name: p.default for name, p in study.PARAMS.items()}, **values})
    for label, values in study.PRESETS.values() if values["part"] == "train"
}


def main() -> None:
    print("updates per second (T = 50, H = 32, batch 32, SGD, one core)")
    for cell in CELLS:
        cfg = RunConfig(cell=cell, updates=60)
        start = time.perf_counter()
        train(cfg)
        print(f"  {cell:9} {cfg.updates / (time.perf_counter() - start):6.0f}")
    print("presets (every run of the preset, in sequence; target under 10 s)")
    for name, configs in PRESETS.items():
        start = time.perf_counter()
        for cfg in configs:
            train(cfg)
        seconds = time.perf_counter() - start
        print(f"  {name:28} {seconds:5.1f} s  ({len(configs)} runs){'' if seconds < 10 else '  OVER TARGET'}")


if __name__ == "__main__":
    main()
