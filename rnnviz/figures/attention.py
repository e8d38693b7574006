"""Figures of the encoder-decoder with attention: the attention matrix, the decoder at step t, and
the loss's gradient at every input position with and without attention.

Builders are pure and take only what they draw: arrays, the tokens they are labelled with, and the
display option. The decoder's step t is 1-based (t = 1 writes the answer's first token); the
stepped figures are figures.steps.StepFigure, so the browser moves them through t itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from . import theme
from .steps import Cell, Row, StepFigure, StepNumber, Template, escape_label

MATRIX_CAPTION = (
    "Row t is decoder step t (the token it must write on the left), column s is input position s (the digit "
    "the encoder read there): the colour is the attention weight a_ts, and each row sums to 1. The circles "
    "mark the digit each step must copy: reversal puts them on the anti-diagonal. A one-way encoder's state at "
    "s + 1 still holds digit s, so the model may read a digit one column to the right of its circle. The "
    "orange box is step t.")
STEP_CAPTION = (
    "Top: where decoder step t looks, the weights a_ts over the input (orange: the digit it must copy). Middle: "
    "the context c_t = Σ_s a_ts k_s (the weighted sum of the encoder's vectors) and the decoder's new state s_t, "
    "one square per unit. Bottom: the probability of each token the decoder could write (orange: the right one).")
STEP_CAPTION_NONE = (
    "Without attention the context is the same at every step, the encoder's final state: every digit has to "
    "reach the decoder through it. Top: the context c_t and the decoder's new state s_t, one square per unit. "
    "Bottom: the probability of each token the decoder could write (orange: the right one).")
GRADIENTS_CAPTION = (
    "For each input position s, the size of the gradient of the loss (on the right answer) with respect to the "
    "input x_s, divided by the last input's, on a log scale: 1 is as much as the digit nearest the decoder gets, "
    "0.01 a hundredth of it. Without attention x_s reaches the output only through the encoder's steps after it, "
    "so the first digits' share fades with their distance; with attention every x_s is one encoder step from "
    "the context, at any distance. Hover for the gradient's own size: a model surer of its answer has a "
    "smaller loss and a smaller gradient everywhere, so the two models' sizes are not what to compare.")


def _positions(tokens: Sequence[str]) -> tuple[list[int], list[str]]:
    """1-based positions and their tick labels, the tokens made inert for Plotly."""
    return list(range(1, len(tokens) + 1)), [escape_label(tok) for tok in tokens]


def attention_matrix(attention: np.ndarray, inputs: Sequence[str], outputs: Sequence[str], copied: np.ndarray,
                     present: bool = False) -> StepFigure:
    """The weights a_ts as a (decoder step x input position) heatmap, the copied digits circled, step t boxed.

    attention (U, T); inputs (T,) and outputs (U,) tokens; copied (T,) the 0-based input position each of
    the first T decoder steps copies (the last step, </s>, copies none).
    """
    U, T = attention.shape
    s = theme.sizes(present)
    xs, x_text = _positions(inputs)
    ys, y_text = _positions(outputs)
    hover = np.array([[f"step t = {t} writes ‘{y_text[t - 1]}’, input s = {j} is ‘{x_text[j - 1]}’" for j in xs]
                      for t in ys], dtype=object)
    data = [
        {"type": "heatmap", "z": theme.f32(attention), "x": xs, "y": ys, "zmin": 0.0, "zmax": 1.0,
         "colorscale": theme.SEQUENTIAL, "xgap": 1, "ygap": 1, "customdata": hover,
         "hovertemplate": "%{customdata}: a<sub>ts</sub> = %{z:.3f}<extra></extra>",
         "colorbar": theme.colorbar("a<sub>ts</sub>", present, len=1.0, y=0.5)},
        {"type": "scatter", "x": (np.asarray(copied) + 1).tolist(), "y": ys[: len(copied)], "mode": "markers",
         "name": "the digit step t copies", "showlegend": False, "hoverinfo": "skip",
         "marker": {"symbol": "circle-open", "size": s.marker * 2, "color": theme.COLOURS["sky"],
                    "line": {"width": s.line}}},
    ]
    cursor = {"type": "rect", "name": "cursor", "x0": 0.5, "x1": T + 0.5, "y0": StepNumber(-0.5),
              "y1": StepNumber(0.5), "xref": "x", "yref": "y", "line": {"color": theme.CURSOR, "width": s.line * 1.5}}
    layout = {
        "xaxis": {"title": {"text": "input position s (the digit read there)"}, "tickvals": xs, "ticktext": x_text,
                  "range": [0.5, T + 0.5], "fixedrange": True, "showgrid": False},
        "yaxis": {"title": {"text": "decoder step t (the token it writes)"}, "tickvals": ys,
                  "ticktext": [f"{t}: {y_text[t - 1]}" for t in ys], "range": [U + 0.5, 0.5], "fixedrange": True,
                  "showgrid": False},
        "shapes": [cursor],
    }
    height = 130 + 26 * U
    return theme.step_figure(data, layout, title="Where each decoder step looks: the attention weights a<sub>ts</sub>",
                             present=present, height=height, labels=outputs)


def _bars(array: str, n: int, x: Sequence[int], colour: str, name: str, xaxis: str, yaxis: str, hover: str) -> dict:
    """A bar per entry of row t of `array` (n entries at positions x)."""
    return {"type": "bar", "x": list(x), "y": [Cell(array, j) for j in range(n)], "name": name, "xaxis": xaxis,
            "yaxis": yaxis, "marker": {"color": colour}, "showlegend": False, "hovertemplate": hover}


def decoder_step(context: np.ndarray, state: np.ndarray, probs: np.ndarray, right: np.ndarray, vocab: Sequence[str],
                 outputs: Sequence[str], attention: np.ndarray | None = None, inputs: Sequence[str] = (),
                 copied_weight: np.ndarray | None = None, present: bool = False) -> StepFigure:
    """The decoder at step t: where it looks (with attention), its context and state, its output distribution.

    context (U, K) c_t; state (U, H_dec) s_t; probs (U, V) p(y_t = v); right (U, 2) the right token's index and
    its probability; vocab (V,) and outputs (U,) tokens; attention (U, T) and inputs (T,) with attention, and
    copied_weight (U, 2): the copied digit's 1-based position and weight (NaN at the </s> step).
    """
    V = probs.shape[1]
    rows = ([] if attention is None else ["Where step t looks: a<sub>ts</sub> over the input"]) + [
        "The context c<sub>t</sub> and the decoder's state s<sub>t</sub>, one square per unit",
        "What step t writes: p(y<sub>t</sub>)"]
    layout = theme.stacked_axes(len(rows), rows, present, gap=0.42)
    data: list[dict] = []
    arrays = {"context": theme.f32(context), "state": theme.f32(state), "probs": theme.f32(probs),
              "right": theme.f32(right)}
    row = 1
    if attention is not None:
        T = attention.shape[1]
        xs, x_text = _positions(inputs)
        arrays |= {"attention": theme.f32(attention), "copied": theme.f32(copied_weight)}
        data += [_bars("attention", T, xs, theme.COLOURS["blue"], "a_ts", "x", "y",
                       "input s = %{x}: a<sub>ts</sub> = %{y:.3f}<extra></extra>"),
                 {"type": "bar", "x": [Cell("copied", 0)], "y": [Cell("copied", 1)], "name": "the digit it copies",
                  "marker": {"color": theme.CURSOR}, "showlegend": False,
                  "hovertemplate": "the digit step t copies, s = %{x}: a<sub>ts</sub> = %{y:.3f}<extra></extra>"}]
        layout["xaxis"] |= {"tickvals": xs, "ticktext": x_text, "range": [0.5, T + 0.5], "fixedrange": True}
        layout["yaxis"] |= {"range": [0, 1.05], "fixedrange": True, "title": {"text": "a<sub>ts</sub>"}}
        row = 2
    x_ref, y_ref = theme.axis_ref(row)
    vmax = theme.signed_range(context, state)
    for k, (key, label) in enumerate((("context", "c<sub>t</sub>"), ("state", "s<sub>t</sub>"))):
        bar = {"colorbar": theme.colorbar("value", present, len=0.3, y=0.45)} if k == 0 else {}
        data.append({"type": "heatmap", "z": Row(key), "x0": 0, "dx": 1, "y0": k, "dy": 1, "xaxis": x_ref,
                     "yaxis": y_ref, "zmin": -vmax, "zmax": vmax, "colorscale": theme.DIVERGING, "xgap": 1,
                     "showscale": k == 0, "name": key, **bar,
                     "hovertemplate": f"{label}[%{{x}}] = %{{z:.4f}}<extra></extra>"})
    axis = lambda a, k: a + ("" if k == 1 else str(k))  # noqa: E731  "xaxis", 2 -> "xaxis2"
    # no axis title: "unit" would sit in the gap beside the next row's heading (the heading says it)
    layout[axis("xaxis", row)] |= {"fixedrange": True, "showgrid": False}
    layout[axis("yaxis", row)] |= {"tickvals": [0, 1], "ticktext": ["c<sub>t</sub>", "s<sub>t</sub>"],
                                   "range": [-0.5, 1.5], "fixedrange": True, "showgrid": False}
    row += 1
    x_ref, y_ref = theme.axis_ref(row)
    vocab_x, vocab_text = list(range(V)), [escape_label(tok) for tok in vocab]
    data += [_bars("probs", V, vocab_x, theme.MUTED, "p", x_ref, y_ref, "p(%{x}) = %{y:.4f}<extra></extra>"),
             {"type": "bar", "x": [Cell("right", 0)], "y": [Cell("right", 1)], "xaxis": x_ref, "yaxis": y_ref,
              "name": "the right token", "marker": {"color": theme.CURSOR}, "showlegend": False,
              "hovertemplate": "the right token: p = %{y:.4f}<extra></extra>"}]
    layout[axis("xaxis", row)] |= {"tickvals": vocab_x, "ticktext": vocab_text, "range": [-0.5, V - 0.5],
                                   "fixedrange": True, "title": {"text": "token y<sub>t</sub>"}}
    layout[axis("yaxis", row)] |= {"range": [0, 1.05], "fixedrange": True, "title": {"text": "p"}}
    layout |= {"barmode": "overlay", "bargap": 0.25,
               # Exports draw the title in the figure, above the first row's heading: room for both from the
               # start, since a title that pushes the margin wider leaves the bars drawn where they were
               "margin": {"t": 90}, "title": {"pad": {"b": 34}}}

    title = Template("Decoder step t = {t} of {T}: it must write ‘{label}’")
    return theme.step_figure(data, layout, title=title, present=present, height=160 * len(rows) + 90, arrays=arrays,
                             labels=outputs)


def input_gradients(relative: Mapping[str, np.ndarray], norms: Mapping[str, np.ndarray], inputs: Sequence[str],
                    colours: Mapping[str, str], present: bool = False) -> go.Figure:
    """||dL/dx_s|| / ||dL/dx_T|| at every input position s, one line per model (label -> (T,)), on one log
    axis; norms (label -> (T,)) the gradients' own sizes, for the hover."""
    s = theme.sizes(present)
    xs, x_text = _positions(inputs)
    data = []
    for label, share in relative.items():
        custom = np.stack([np.array(x_text, dtype=object), np.asarray(norms[label], dtype=object)], axis=-1)
        data.append({"type": "scatter", "x": xs, "y": theme.log_values(share), "mode": "lines+markers", "name": label,
                     "line": {"color": colours[label], "width": s.line}, "marker": {"size": s.marker},
                     "customdata": custom,
                     "hovertemplate": f"{escape_label(label)}<br>input s = %{{x}} (‘%{{customdata[0]}}’): "
                                      "||dL/dx<sub>s</sub>|| = %{customdata[1]:.3g}, %{y:.3g} × the last "
                                      "input's<extra></extra>"})
    layout = {
        "xaxis": {"title": {"text": "input position s (the digit read there): the first is farthest from the decoder"},
                  "tickvals": xs, "ticktext": x_text, "range": [0.5, len(xs) + 0.5]},
        "yaxis": {"title": {"text": "||dL/dx<sub>s</sub>|| / ||dL/dx<sub>T</sub>||"}, "type": "log",
                  "exponentformat": "power"},
        "legend": {**theme.legend(present), "orientation": "v", "x": 1.02, "xanchor": "left", "y": 1.0,
                   "yanchor": "top"},
    }
    return theme.figure(data, layout, title="How the gradient fades with distance: each input's share of the last "
                        "input's", present=present, height=380)
