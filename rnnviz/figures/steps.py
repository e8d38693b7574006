"""Figures whose values depend on the step t, so the browser can move them through time itself.

A StepFigure is a Plotly figure spec (plain dicts) in which some values are *references*: "row t
of this array", "t + 0.5", "the title with t filled in". The arrays they point into travel once;
moving t only evaluates the references at the new t. The same spec, resolved in Python by
`at(t)`, is the static figure of step t (for tests, exports and the command line), so the browser
and the exported PNG draw one figure, never two look-alikes. Steps are 1-based.

References (frozen dataclasses, evaluated by `resolve` here and by rnnviz/ui/client.js):
  Row(a)               [a[t-1]]: one heatmap row, (1, n)
  Whole(a, transpose)  the whole array (or its transpose): the same at every t, sent once
  Cell(a, j)           a[t-1, j]: one number (for equations)
  StepNumber(k, s)     s * t + k: a position on a step axis
  Grid(per_row, axis)  the row or column of step t in a grid of per_row cells
  Template(text)       text with {t}, {t2} (two digits), {T} and {label} (step t's label) filled in
  Window(width, n)     an axis range of `width` columns kept around column t - 1 of n
  Reached(k, a, b)     a once the step has come down to k or below (t <= k), else b
  Slot(k, w, T, text)  column k of a window of w steps kept around t: its step s, as text with {s}
                       and {name} (array name's value at step s) filled in
  SlotCursor(w, T, d)  the column of step t in that window, plus d
Other arrays in a spec are plain NumPy arrays; the client sends every array as binary, once.
Shapes named "cursor…" mark step t: the browser draws them over the plot (moving one redraws nothing);
`at(t)` and exports draw them as the shapes they are.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go


@dataclass(frozen=True)
class Row:
    array: str


@dataclass(frozen=True)
class Cell:
    array: str
    col: int = 0


@dataclass(frozen=True)
class Whole:
    array: str
    transpose: bool = False


@dataclass(frozen=True)
class StepNumber:
    offset: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class Grid:
    per_row: int
    axis: str  # "row" or "col"
    add: float = 0.0


@dataclass(frozen=True)
class Template:
    text: str


@dataclass(frozen=True)
class Window:
    width: float
    n: int  # columns 0..n-1


@dataclass(frozen=True)
class Reached:
    step: int
    then: Any
    otherwise: Any


@dataclass(frozen=True)
class Slot:
    k: int
    width: int
    T: int
    text: str


@dataclass(frozen=True)
class SlotCursor:
    width: int
    T: int
    add: float = 0.0


REFS = (Row, Whole, Cell, StepNumber, Grid, Template, Window, Reached, Slot, SlotCursor)


def window_start(t: int, width: int, T: int) -> int:
    """The first step of a window of `width` steps kept around step t (1-based, within 1..T)."""
    return max(1, min(t - width // 2, T - width + 1))


def escape_label(text: str) -> str:
    """A step label (user text, one character or a number) made inert for Plotly's pseudo-HTML."""
    return html.escape(str(text), quote=True)


@dataclass(frozen=True)
class Context:
    """What references are evaluated against: the arrays, and a label per step."""

    arrays: dict[str, np.ndarray]
    labels: tuple[str, ...]  # (T,) escaped for Plotly (see escape_label)

    @property
    def T(self) -> int:
        return len(self.labels)


def evaluate(ref, t: int, ctx: Context):
    """The value of one reference at step t (1-based)."""
    if isinstance(ref, Row):
        return np.asarray(ctx.arrays[ref.array][t - 1])[None]
    if isinstance(ref, Whole):
        a = np.asarray(ctx.arrays[ref.array])
        return a.T if ref.transpose else a
    if isinstance(ref, Cell):
        return float(ctx.arrays[ref.array][t - 1, ref.col])
    if isinstance(ref, StepNumber):
        return ref.scale * t + ref.offset
    if isinstance(ref, Grid):
        k = t - 1
        return (k // ref.per_row if ref.axis == "row" else k % ref.per_row) + ref.add
    if isinstance(ref, Template):
        return fill(ref.text, t, ctx)
    if isinstance(ref, Window):
        last = ref.n - 1
        lo = min(max(t - 1 - ref.width / 2, -0.5), max(last + 0.5 - ref.width, -0.5))
        return [lo, lo + ref.width]
    if isinstance(ref, Slot):
        step = window_start(t, ref.width, ref.T) + ref.k
        return fill_slot(ref.text, step, ctx)
    if isinstance(ref, SlotCursor):
        return t - window_start(t, ref.width, ref.T) + ref.add
    if isinstance(ref, Reached):
        return resolve(ref.then if t <= ref.step else ref.otherwise, t, ctx)
    raise TypeError(f"not a step reference: {ref!r}")


def fill(text: str, t: int, ctx: Context) -> str:
    """{t}, {t2}, {T} and {label} filled in for step t (labels are already escaped)."""
    return (text.replace("{t2}", f"{t:02d}").replace("{t}", str(t)).replace("{T}", str(ctx.T))
            .replace("{label}", ctx.labels[t - 1]))


def fill_slot(text: str, step: int, ctx: Context) -> str:
    """{s} -> the step; {name} -> array `name`'s value at that step, 3 significant digits."""
    out = text.replace("{s}", str(step))
    for name, a in ctx.arrays.items():
        key = "{" + name + "}"
        if key in out:
            out = out.replace(key, f"{float(a[step - 1, 0]):.3g}")
    return out


def resolve(node, t: int, ctx: Context):
    """A copy of a spec (dicts, lists, arrays, references) with every reference evaluated at t."""
    if isinstance(node, REFS):
        return evaluate(node, t, ctx)
    if isinstance(node, dict):
        return {k: resolve(v, t, ctx) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, t, ctx) for v in node]
    return node


def has_refs(node) -> bool:
    if isinstance(node, REFS):
        return True
    if isinstance(node, dict):
        return any(has_refs(v) for v in node.values())
    if isinstance(node, list):
        return any(has_refs(v) for v in node)
    return False


@dataclass(frozen=True)
class StepFigure:
    """A figure spec with step references, the arrays they point into and a label per step."""

    spec: dict  # {"data": [...], "layout": {...}} with references among the values
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (T, n)
    labels: tuple[str, ...] = ()  # (T,) escaped step labels

    @property
    def T(self) -> int:
        return len(self.labels)

    def context(self) -> Context:
        return Context(self.arrays, self.labels)

    def at(self, t: int) -> go.Figure:
        """The static figure of step t."""
        if not 1 <= t <= self.T:
            raise ValueError(f"t must be in [1, {self.T}], got {t!r}")
        return go.Figure(resolve(self.spec, t, self.context()), _validate=False)


@dataclass(frozen=True)
class StepBlock:
    """Text whose numbers follow t (equations): lines of tokens.

    A token is trusted markup written by rnnviz (a str), or a reference: Cell (a number, shown with
    an optional caption under it: (Cell, "W<sub>ii</sub>x<sub>t</sub> + b<sub>ii</sub>")), StepNumber
    (a step number) or Label (step t's label, shown as literal text: it may be user text).
    """

    lines: tuple[tuple, ...]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    labels: tuple[str, ...] = ()

    @property
    def T(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Label:
    """Step t's label in a StepBlock (literal text, never markup)."""


def block_parts(block: StepBlock, t: int) -> list[list[tuple[str, object, str | None]]]:
    """The lines of a StepBlock at step t, each a list of (kind, value, under) parts, for the renderers
    outside the browser (plain text, CSV, the offline HTML) to format as they need:
    ("markup", rnnviz's own markup, None), ("number", the value at t, the term written under it or None),
    ("count", a step number, None), ("label", step t's label: user text, None)."""
    ctx = Context(block.arrays, block.labels)
    lines = []
    for line in block.lines:
        parts = []
        for token in line:
            if isinstance(token, str):
                parts.append(("markup", token, None))
            elif isinstance(token, tuple):  # (Cell, the term it is)
                parts.append(("number", evaluate(token[0], t, ctx), token[1]))
            elif isinstance(token, Cell):
                parts.append(("number", evaluate(token, t, ctx), None))
            elif isinstance(token, StepNumber):
                parts.append(("count", evaluate(token, t, ctx), None))
            elif isinstance(token, Label):
                parts.append(("label", block.labels[t - 1], None))
        lines.append(parts)
    return lines


def block_text(block: StepBlock, t: int, number=None) -> list[str]:
    """The lines of a StepBlock at step t as plain text (markup tags dropped): for tests and CSV."""
    import re

    number = number or (lambda x: f"{x:.3g}")
    text = {"markup": lambda v: re.sub(r"<[^>]+>", "", html.unescape(v)), "number": number,
            "count": lambda v: f"{v:g}", "label": html.unescape}
    return ["".join(text[kind](value) for kind, value, _ in line) for line in block_parts(block, t)]
