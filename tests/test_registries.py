"""The registries: each list has one home, every consumer reads it, unknown keys say so."""

import numpy as np
import pytest

import rnnviz
from rnnviz import equations, tasks
from rnnviz.cells import CELLS, KINDS, overlay_cells
from rnnviz.config import PARAMS, Config
from rnnviz.figures import step as fig
from rnnviz.studies.step import build, make_sample
from rnnviz.tasks import SOURCES, TASKS
from rnnviz.training import CLIPS, OPTIMIZERS, RunConfig, make_batch, train


@pytest.mark.parametrize("registry,what", [(KINDS, "kind"), (CELLS, "cell"), (TASKS, "task"), (SOURCES, "source"),
                                           (OPTIMIZERS, "optimizer"), (CLIPS, "clip")])
def test_an_unknown_key_raises_a_value_error_naming_it(registry, what):
    with pytest.raises(ValueError, match=rf"{what} must be one of \(.*\), got 'nope'"):
        registry["nope"]
    assert "nope" not in registry and [] not in registry


def test_the_shared_controls_offer_exactly_the_registries_choices():
    assert PARAMS["cell"].choices == CELLS.labels()
    assert PARAMS["source"].choices == SOURCES.labels()
    assert PARAMS["task"].choices == {k: t.label for k, t in TASKS.items() if t.in_scenario}


@pytest.mark.parametrize("task", list(TASKS))
def test_one_sample_function_serves_the_scenario_and_training(task):
    entry = TASKS[task]
    T = entry.min_length + 4
    one, batch = entry.sample(T, seed=5), entry.sample(T, seed=5, batch=3)
    assert one.T == batch.T == T and batch.xs.shape == (T, 3, one.xs.shape[-1])
    assert one.loss_mask.shape == batch.loss_mask.shape == (T,)
    cfg = RunConfig(task=task, length=max(T, 10), batch=3)
    seed = int(np.random.SeedSequence([cfg.seed, 2]).generate_state(1)[0])
    np.testing.assert_array_equal(make_batch(cfg, 2).xs, entry.sample(cfg.length, seed=seed, batch=3).xs)
    if entry.in_scenario:
        scenario = make_sample(Config(source="task", task=task, length=T, seed=5))
        np.testing.assert_array_equal(scenario.xs, one.xs)


def test_a_task_sample_is_at_least_as_long_as_the_task_needs():
    for key, entry in TASKS.items():
        assert tasks.task_sample(key, 2, seed=0).T == max(2, entry.min_length)


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_source_gives_one_sequence(source):
    sample = make_sample(Config(source=source, length=12))
    assert sample.xs.ndim == 2 and sample.T >= 1


def test_a_training_run_needs_the_tasks_minimum_length():
    with pytest.raises(ValueError, match="length must be"):
        train(RunConfig(task="adding", length=9, updates=1))


@pytest.mark.parametrize("cell", list(CELLS))
def test_every_cell_runs_everywhere_from_its_entry(cell):
    entry = CELLS[cell]
    run = train(RunConfig(cell=cell, length=10, hidden=4, batch=2, updates=2))
    assert run.updates_done == 2
    assert entry.kind not in {CELLS[c].kind for c in overlay_cells(cell)}
    params = rnnviz.init_params(entry.kind, 2, 3, **entry.init)
    trace = rnnviz.forward(entry.kind, params, np.ones((4, 2)), nonlinearity=entry.nonlinearity)
    assert list(trace.gates) == list(entry.spec.gates) and (trace.c is not None) == entry.has_cell_state


def test_overlays_are_one_cell_of_every_other_kind():
    assert overlay_cells("gru") == ["rnn-tanh", "lstm"]
    assert overlay_cells("rnn-relu") == ["lstm", "gru"]
    assert overlay_cells("lstm") == ["rnn-tanh", "gru"]


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_declares_its_blocks_gates_and_vectors_consistently(kind):
    spec = KINDS[kind]
    assert set(spec.gates) <= set(spec.blocks) or spec.gates == ()
    assert spec.sigmoid_gates <= set(spec.gates)
    assert ("c" in spec.step_vectors) == ("c_prev" in spec.step_vectors) == spec.has_cell_state
    assert spec.step_vectors[:2] == ("x", "h_prev") and spec.step_vectors[-1] == "h"


@pytest.mark.parametrize("cell", list(CELLS))
def test_every_cell_is_drawn_and_written_out_from_its_entry(cell):
    study = build(Config(cell=cell, source="noise", hidden=3, length=6))
    figure = fig.cell_diagram(study.vectors, study.cell, study.step_labels).at(2)
    assert study.cell.label in figure.layout.title.text
    assert {tr.name for tr in figure.data if tr.type == "heatmap"} <= {v.key for v in study.vectors}
    lines = equations.step_equations(study.trace, 1, study.step_labels).lines
    assert len(lines) == 1 + len(study.cell.spec.gates) + (2 if study.cell.has_cell_state else 1)
