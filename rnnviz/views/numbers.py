"""The numbers behind each view, as tables for a spreadsheet: "compute it by hand, then check".

A table is a dict column name -> (rows,) array, in column order (View.tables' shape); `csv_text`
writes one. The app's "Export the numbers" button, the export zip and `python -m rnnviz.export`
all build their CSV files here, from the same studies the pages draw.

Step through and Backprop through time: one row per step t and unit j (t-major: all units of step
1, then step 2, ...), every column one quantity of the equations, so a row is one unit's equations
at one step, and a spreadsheet's filter on j (or t) gives a unit's (or a step's) whole story. The
other layout, one row per (t, j, quantity), would need a pivot table before anyone could read it.
The training page: one row per update, the runs side by side, so a column pair plots directly.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from ..cells import CELLS, KINDS
from ..engine import Backward
from ..figures.training import run_label
from ..studies.bptt import LOSS_ON, BpttStudy
from ..studies.step import StepStudy
from ..studies.training import CliffStudy
from ..tasks import visible_token
from ..training import TrainingRun

Table = dict[str, np.ndarray]  # column -> (rows,): floats, ints or text


def input_columns(study: StepStudy) -> list[str]:
    """A name per input channel: x[c] with the vocabulary's character (one-hot text) or the channel's
    name (tasks), else x (one channel) or x[0], x[1], ..."""
    vocab, I = study.sample.vocab, study.sample.xs.shape[-1]
    if vocab is not None:
        return [f"x[{visible_token(name)}]" for name in vocab]
    return ["x"] if I == 1 else [f"x[{k}]" for k in range(I)]


def input_part(block: str) -> str:
    """The column of a block's input part, as the equations name it: W_if x_t + b_if."""
    return f"W_i{block} x_t + b_i{block}"


def recurrent_part(block: str) -> str:
    """The column of a block's recurrent part: W_hf h_t-1 + b_hf."""
    return f"W_h{block} h_t-1 + b_h{block}"


def unit_steps(study: StepStudy, backward: Backward, loss_on: str) -> Table:
    """One row per step t (1-based) and unit j (0-based): the input, x_t, h_t-1 (and c_t-1), each
    block's input and recurrent parts of the pre-activation, each gate, c_t, h_t, then dL/dh_t and
    dL/dc_t from `backward` (BPTT of the readout's loss on `loss_on`: "last" or "all")."""
    tr, spec = study.trace, KINDS[study.trace.kind]
    T, H = tr.T, tr.H
    per_unit = lambda a: np.asarray(a, dtype=float).reshape(T * H)  # noqa: E731  (T, H) -> (T*H,), t-major
    per_step = lambda a: np.repeat(np.asarray(a), H)  # noqa: E731  (T,) -> (T*H,): the same for every j
    table: Table = {"t": per_step(np.arange(1, T + 1)), "j": np.tile(np.arange(H), T)}
    if study.sample.tokens is not None:
        table["input"] = per_step(np.array(study.step_labels, dtype=object))
    xs = np.asarray(study.sample.xs, dtype=float)  # (T, I)
    table |= {name: per_step(xs[:, k]) for k, name in enumerate(input_columns(study))}
    table["h_t-1"] = per_unit(tr.h_prev)
    if tr.c is not None:
        table["c_t-1"] = per_unit(tr.c_prev)
    gates, pre_x, pre_h = tr.gates, tr.pre_x, tr.pre_h
    for block in spec.blocks:
        table[input_part(block)] = per_unit(pre_x[block])
        table[recurrent_part(block)] = per_unit(pre_h[block])
        if block in gates:
            table[f"{block}_t"] = per_unit(gates[block])
    if tr.c is not None:
        table["c_t"] = per_unit(tr.c)
    table["h_t"] = per_unit(tr.h)
    loss = LOSS_ON[loss_on].lower()
    table[f"dL/dh_t (loss on {loss})"] = per_unit(backward.dh)
    if backward.dc is not None:
        table[f"dL/dc_t (loss on {loss})"] = per_unit(backward.dc)
    return table


def weights(study: StepStudy) -> Table:
    """One row per row of the weight matrices (block, unit j): weight_ih by input channel, weight_hh
    by unit k of h_t-1, bias_ih, bias_hh, as PyTorch lays them out (row = block index * H + j)."""
    params, spec, H = study.params, KINDS[study.trace.kind], study.trace.H
    G = len(spec.blocks)
    w_ih, w_hh = np.asarray(params["weight_ih"], dtype=float), np.asarray(params["weight_hh"], dtype=float)
    table: Table = {"row": np.arange(G * H), "block": np.repeat(np.array(spec.blocks, dtype=object), H),
                    "j": np.tile(np.arange(H), G)}
    table |= {f"weight_ih {name}": w_ih[:, k] for k, name in enumerate(input_columns(study))}
    table |= {f"weight_hh h_t-1[{k}]": w_hh[:, k] for k in range(H)}
    table |= {name: np.asarray(params[name], dtype=float) for name in ("bias_ih", "bias_hh")}
    return table


def gradient_norms(study: BpttStudy) -> Table:
    """One row per step t: ||dL/dh_t|| of every cell compared, ||dL/dc_t||, ||dL/dx_t|| of the main
    cell, and Pascanu et al.'s bound where the page draws it."""
    T = study.main.scenario.T
    table: Table = {"t": np.arange(1, T + 1)}
    if study.main.scenario.sample.tokens is not None:
        table["input"] = np.array(study.main.scenario.step_labels, dtype=object)
    table |= {f"||dL/dh_t|| {CELLS[cell].label}": norms for cell, norms in study.h_norms.items()}
    table |= {f"||dL/dc_t|| {CELLS[cell].label}": norms for cell, norms in study.c_norms.items()}
    table[f"||dL/dx_t|| {CELLS[study.main.cell].label}"] = study.saliency
    if study.bound is not None:
        table["bound on ||dL/dh_t|| (Pascanu et al. 2013)"] = study.bound
    return table


HISTORY = {  # TrainingRun field -> its column
    "loss": "loss",
    "grad_norm": "gradient norm before clipping",
    "clipped_norm": "gradient norm after clipping",
    "clipped": "clipped (1 = yes)",
    "update_norm": "update norm",
    "cosine": "cosine of raw and clipped gradient",
}


def training_history(runs: list[TrainingRun]) -> Table:
    """One row per update u (1-based), every run's records side by side; a run that ended early
    (diverged or stopped) leaves its later cells empty."""
    U = max((run.updates_done for run in runs), default=0)
    table: Table = {"update": np.arange(1, U + 1)}
    for k, run in enumerate(runs, start=1):
        for name, column in HISTORY.items():
            values = np.full(U, np.nan, dtype=object)
            done = getattr(run, name)
            values[: len(done)] = done.astype(int) if name == "clipped" else done.astype(float)
            values[len(done):] = None
            table[f"run {k} ({run_label(run)}): {column}"] = values
    return table


def cliff_descents(cliff: CliffStudy) -> Table:
    """One row per step k of the two descents on the cliff: (w, b), the loss E and ||dE/d(w, b)||
    (before clipping) at the start of the step, and whether it was clipped; k = 0 is the start."""
    n = max(len(d.path) for d in cliff.descents.values())
    table: Table = {"step": np.arange(n)}
    for name, d in cliff.descents.items():
        padded = lambda a: np.array([*a, *[None] * (n - len(a))], dtype=object)  # noqa: E731  a descent that broke off
        table[f"{name}: w"] = padded(d.path[:, 0])
        table[f"{name}: b"] = padded(d.path[:, 1])
        table[f"{name}: E"] = padded(d.losses)
        table[f"{name}: ||dE/d(w,b)||"] = padded(d.grad_norms)
        table[f"{name}: clipped (1 = yes)"] = padded(d.clipped.astype(int))
    return table


# --- CSV ------------------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula


def cell_text(value) -> str:
    """One cell: floats exactly (the shortest text that reads back as the same float64), ints as
    ints, nothing for a missing value, text made inert (user text must not become a formula)."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))  # "nan", "inf" and "-inf" as Python writes them
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_text(table: Table) -> str:
    """The table as CSV (comma-separated, a header row, "\\r\\n" line ends as RFC 4180 has them)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([cell_text(name) for name in table])
    columns = [np.asarray(values, dtype=object) for values in table.values()]
    for row in zip(*columns, strict=True):
        writer.writerow([cell_text(v) for v in row])
    return out.getvalue()


def csv_bytes(table: Table) -> bytes:
    """csv_text as UTF-8 with a byte-order mark: Excel reads the vocabulary's characters (␣, é) right
    only with it; LibreOffice, Google Sheets and Python's csv (encoding="utf-8-sig") skip it."""
    return csv_text(table).encode("utf-8-sig")
