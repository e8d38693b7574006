"""Figure builders draw the engine's numbers, with titles, labels and clean hover text."""

import base64
import json

import numpy as np
import plotly.graph_objects as go
import pytest

from rnnviz import equations
from rnnviz.config import Config
from rnnviz.figures import step
from rnnviz.figures.steps import block_text
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
    """The cell diagram of a step study, as drawn at step t."""
    return step.cell_diagram(sc.vectors, sc.cell, sc.step_labels, **options).at(t)


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
    fig = diagram(sc, t)
    by_name = {trace.name: trace for trace in fig.data}
    np.testing.assert_allclose(array(json.loads(fig.to_json())["data"][list(by_name).index("h")]["z"])[0],
                               sc.trace.h[t - 1], rtol=1e-6)
    for gate, values in sc.trace.gates.items():
        np.testing.assert_allclose(np.asarray(by_name[gate].z)[0], values[t - 1], rtol=1e-6)
    assert f"step t = {t} of {sc.T}" in fig.layout.title.text
    assert all("nan" not in text.lower() for text in hover_texts(fig))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_the_diagrams_arrows_are_one_trace_and_its_labels_are_drawn_over_it(kind):
    # One scatter trace instead of an annotation per arrow (Plotly lays out each annotation apart).
    cell = {"rnn": "rnn-tanh", "lstm": "lstm", "gru": "gru"}[kind]
    fig = diagram(build_scenario(Config(cell=cell, hidden=4)), 2)
    assert not any(note.showarrow for note in fig.layout.annotations)
    assert {note.name for note in fig.layout.annotations} == {"label"}  # drawn in HTML over the plot (client.js)
    assert fig.layout.margin.b <= 10  # no axes below it: no blank band under the formula on a slide
    spec = json.loads(fig.to_json())["data"]
    arrows = next(trace for trace in spec if trace["name"] == "arrows")
    layout = step._LAYOUTS[kind]
    n = len(layout["arrows"]) + len(layout["bus"])
    x, y = array(arrows["x"]), array(arrows["y"])
    size = array(arrows["marker"]["size"])
    assert len(x) == len(y) == len(size) == 3 * n  # start, end, a gap
    assert np.isnan(x[2::3]).all() and np.isfinite(x[0::3]).all() and np.isfinite(x[1::3]).all()
    assert (size[1::3] > 0).all() and not size[0::3].any() and not size[2::3].any()  # heads at the ends only
    (x0, y0), (x1, y1) = layout["arrows"][0]
    np.testing.assert_allclose([x[0], y[0], x[1], y[1]], [x0, y0, x1, y1], rtol=1e-6)


def test_one_spec_holds_every_steps_values():
    # The browser moves t by evaluating the same spec at another step: each step's values are the engine's.
    sc = build_scenario(Config(cell="lstm", hidden=4))
    stepped = step.cell_diagram(sc.vectors, sc.cell, sc.step_labels)
    names = [trace["name"] for trace in stepped.spec["data"]]
    for t in (1, 7, 11):
        f_strip = stepped.at(t).data[names.index("f")]
        np.testing.assert_allclose(np.asarray(f_strip.z)[0], sc.trace.gates["f"][t - 1], rtol=1e-6)
    with pytest.raises(ValueError, match="t must be in"):
        stepped.at(12)


def test_long_sequences_cost_one_spec_not_one_frame_per_step():
    sc = build_scenario(Config(cell="gru", source="noise", length=900, hidden=4))
    stepped = step.cell_diagram(sc.vectors, sc.cell, sc.step_labels)
    assert "frames" not in stepped.spec  # the arrays are sent once; no frames repeat them
    assert "step t = 900 of 900" in stepped.at(900).layout.title.text


BUILDERS = [
    lambda sc: diagram(sc, 2),
    lambda sc: diagram(sc, 2, present=True),
    lambda sc: step.vector_strips(sc.vectors, sc.step_labels, channels=sc.sample.vocab).at(2),
    lambda sc: step.state_heatmaps(sc.over_time, sc.step_labels, present=True).at(2),
    lambda sc: step.text_activation(sc.sample.tokens, sc.trace.h[:, 0], 0).at(2),
    lambda sc: step.input_signal(sc.sample.xs, sc.step_labels, sc.sample.vocab).at(2),
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
    strips = step.vector_strips(sc.vectors, sc.step_labels).at(2)
    assert [a.text for a in strips.layout.annotations][:2] == ["x<sub>t</sub>", "h<sub>t−1</sub>"]
    h_strip = next(tr for tr in strips.data if tr.name == "h")
    np.testing.assert_allclose(np.asarray(h_strip.z)[0], sc.trace.h[1], rtol=1e-6)
    heat = step.state_heatmaps(sc.over_time, sc.step_labels).at(2)
    h_heat = next(tr for tr in heat.data if tr.name == "h")
    np.testing.assert_allclose(np.asarray(h_heat.z), sc.trace.h.T, rtol=1e-6)
    n = len(heat.data)
    assert heat.layout["xaxis" if n == 1 else f"xaxis{n}"].title.text == "step t"  # the bottom axis
    assert any(shape.x0 == 2 for shape in heat.layout.shapes)  # the cursor at t


def test_text_view_colours_each_character_by_the_unit():
    sc = build_scenario(Config(cell="lstm", text="abcab", hidden=3))
    fig = step.text_activation(sc.sample.tokens, sc.trace.h[:, 2], unit=2).at(3)
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
    block = equations.step_equations(sc.trace, 1, sc.step_labels)
    lines = block_text(block, 3, equations.num)
    assert lines[0] == f"Unit j = 1 at step t = 3, reading ‘{sc.step_labels[2]}’:"
    assert lines[-1].startswith("ht[1] = ") and lines[-1].endswith(equations.num(float(sc.trace.h[2, 1])))
    if cell == "lstm":
        assert lines[2].startswith("ft[1] = σ(") and lines[2].endswith(equations.num(float(sc.trace.gates["f"][2, 1])))


@pytest.mark.parametrize("cell", ["rnn-tanh", "lstm", "gru"])
def test_every_number_in_the_equations_names_its_term(cell):
    sc = build_scenario(Config(cell=cell, hidden=3))
    block = equations.step_equations(sc.trace, 0, sc.step_labels)
    for line in block.lines[1:]:
        numbers = [token for token in line if isinstance(token, tuple)]
        assert numbers and all(caption for _, caption in numbers)  # W_ii x_t + b_ii, f_t, c_t−1, ...
    pre = [caption for line in block.lines for token in line if isinstance(token, tuple)
           for _, caption in [token] if "W<sub>i" in caption]
    assert len(pre) == len(sc.trace.pre_x)  # every block's input part is named


def test_number_formatting():
    assert equations.num(0.5) == "0.5" and equations.num(-0.25) == "(−0.25)"
    assert equations.num(1.5e-7) == "1.5×10^-7" and equations.num(float("inf")) == "∞"
