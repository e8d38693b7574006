"""Figure builders draw the engine's numbers, with titles, labels and clean hover text."""

import base64
import json

import numpy as np
import plotly.graph_objects as go
import pytest

from rnnviz import equations
from rnnviz.config import Config
from rnnviz.figures import step
from rnnviz.studies.step import build as build_scenario

CONFIGS = [Config(cell=c, source=s, hidden=5, length=12) for c in ("rnn-tanh", "rnn-relu", "lstm", "gru")
           for s in ("text", "sine", "noise", "task")]


def array(value):
    """Plotly's JSON arrays: plain lists, or {"dtype", "bdata"} base64 blocks."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        if "shape" in value:  # "1, 8" in Plotly's JSON
            return data.reshape([int(n) for n in str(value["shape"]).split(",")])
        return data
    return np.asarray(value, dtype=float)


def diagram(sc, t, **options):
    """The cell diagram of a step study at step t."""
    return step.cell_diagram(sc.vectors, sc.cell, sc.step_labels, t, **options)


def hover_texts(fig) -> list[str]:
    spec = json.loads(fig.to_json())
    out = []
    for trace in spec["data"]:
        for key in ("hovertemplate", "customdata", "text"):
            if key in trace and trace[key] is not None:
                out.append(json.dumps(trace[key]))
    return out


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.cell}-{c.source}")
def test_cell_diagram_draws_the_traces_values_at_t(cfg):
    sc = build_scenario(cfg)
    t = min(4, sc.T)
    fig = diagram(sc, t, animate=True)
    by_name = {trace.name: trace for trace in fig.data}
    np.testing.assert_allclose(array(json.loads(fig.to_json())["data"][list(by_name).index("h")]["z"])[0],
                               sc.trace.h[t - 1], rtol=1e-6)
    for gate, values in sc.trace.gates.items():
        np.testing.assert_allclose(np.asarray(by_name[gate].z)[0], values[t - 1], rtol=1e-6)
    assert f"step t = {t} of {sc.T}" in fig.layout.title.text
    assert len(fig.frames) == sc.T  # Play animates every step
    assert not diagram(sc, t).frames  # frames only in Play mode
    assert all("nan" not in text.lower() for text in hover_texts(fig))


def test_frames_hold_each_steps_values():
    sc = build_scenario(Config(cell="lstm", hidden=4))
    fig = diagram(sc, 1, animate=True)
    frame = fig.frames[6]  # t = 7
    names = [trace.name for trace in fig.data]
    f_index = names.index("f")
    np.testing.assert_allclose(np.asarray(frame.data[f_index].z)[0], sc.trace.gates["f"][6], rtol=1e-6)


def test_many_steps_are_subsampled_to_a_bounded_number_of_frames():
    sc = build_scenario(Config(cell="gru", source="noise", length=900, hidden=4))
    frames = diagram(sc, 900, animate=True).frames
    assert len(frames) == step.MAX_FRAMES and frames[0].name == "1" and frames[-1].name == "900"


BUILDERS = [
    lambda sc: diagram(sc, 2, animate=True),
    lambda sc: diagram(sc, 2, present=True),
    lambda sc: step.vector_strips(sc.vectors, 2),
    lambda sc: step.state_heatmaps(sc.over_time, 2, present=True),
    lambda sc: step.text_activation(sc.sample.tokens, sc.trace.h[:, 0], 0, 2),
]


@pytest.mark.parametrize("cell", ["rnn-tanh", "lstm", "gru"])
@pytest.mark.parametrize("builder", BUILDERS)
def test_every_figure_passes_plotlys_full_validation(cell, builder):
    # Builders skip validation for speed (theme.figure); Plotly's validator checks them here.
    fig = builder(build_scenario(Config(cell=cell, hidden=3)))
    go.Figure(fig.to_dict())  # raises ValueError on any invalid property
    for trace in fig.data:  # plotly.js gets explicit colours: it has no "_r" scale names
        if trace.type == "heatmap":
            assert isinstance(trace.colorscale, (list, tuple)) and len(trace.colorscale) >= 5


@pytest.mark.parametrize("cfg", CONFIGS[::3], ids=lambda c: f"{c.cell}-{c.source}")
def test_vector_strips_and_heatmaps_are_titled_and_match_the_engine(cfg):
    sc = build_scenario(cfg)
    strips = step.vector_strips(sc.vectors, 2)
    assert [a.text for a in strips.layout.annotations][:2] == ["x<sub>t</sub>", "h<sub>t−1</sub>"]
    h_strip = next(tr for tr in strips.data if tr.name == "h")
    np.testing.assert_allclose(np.asarray(h_strip.z)[0], sc.trace.h[1], rtol=1e-6)
    heat = step.state_heatmaps(sc.over_time, 2)
    h_heat = next(tr for tr in heat.data if tr.name == "h")
    np.testing.assert_allclose(np.asarray(h_heat.z), sc.trace.h.T, rtol=1e-6)
    n = len(heat.data)
    assert heat.layout["xaxis" if n == 1 else f"xaxis{n}"].title.text == "step t"  # the bottom axis
    assert any(shape.x0 == 2 for shape in heat.layout.shapes)  # the cursor at t


def test_text_view_colours_each_character_by_the_unit():
    sc = build_scenario(Config(cell="lstm", text="abcab", hidden=3))
    fig = step.text_activation(sc.sample.tokens, sc.trace.h[:, 2], unit=2, t=3)
    z = np.asarray(fig.data[0].z)
    np.testing.assert_allclose(z[0, :5], sc.trace.h[:, 2], rtol=1e-6)
    assert list(fig.data[0].text[0][:5]) == list("abcab")
    assert fig.layout.shapes[0].x0 == 1.5  # the third character is outlined


def test_presentation_mode_enlarges_every_text():
    sc = build_scenario(Config())
    normal, present = diagram(sc, 1), diagram(sc, 1, present=True)
    assert present.layout.font.size >= 18 and present.layout.font.size > normal.layout.font.size
    assert present.layout.title.font.size > normal.layout.title.font.size


@pytest.mark.parametrize("cell", ["rnn-tanh", "lstm", "gru"])
def test_equations_plug_in_the_engines_numbers(cell):
    sc = build_scenario(Config(cell=cell, hidden=3))
    lines = equations.step_equations(sc.trace, 3, 1)
    assert equations.num(float(sc.trace.h[2, 1])) in lines[-1]
    if cell == "lstm":
        assert lines[1].startswith("f_{3}[1]") and equations.num(float(sc.trace.gates["f"][2, 1])) in lines[1]


def test_number_formatting():
    assert equations.num(0.5) == "0.5" and equations.num(-0.25) == "(-0.25)"
    assert equations.num(1.5e-7) == r"1.50\times10^{-7}" and equations.num(float("inf")) == r"\infty"
