"""The wire format of rnnviz's figure element: a view's items (figures with step references, text
blocks) and its step control, packed into one binary payload, and read back.

Layout: [uint32 header length][JSON header][padding to 8 bytes][arrays, each at an offset into this
part]. Every array travels once, as float32 (float64 where float32 would lose the magnitude),
however many figures draw it. rnnviz/ui/client.py sends it to the page, where client.js draws it;
the standalone HTML export (figures/files.py) embeds the same bytes and the same client.js; tests
read it back with `decode`. Nothing here imports Streamlit.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from . import steps as sr


@dataclass(frozen=True)
class Item:
    """One figure or text block in an element, with what is written around it."""

    figure: go.Figure | sr.StepFigure | None = None
    block: sr.StepBlock | None = None
    title: str = ""  # plain text above it
    caption: str = ""  # plain text below it: how to read it
    half: bool = False  # half the width (two halves side by side)
    filename: str = "rnnviz-figure"  # export name; {t2} / {t} become the step


@dataclass(frozen=True)
class Step:
    """The step control of a stepped element: t in 1..T, labels per step."""

    T: int
    t: int
    labels: tuple[str, ...]  # (T,) raw labels (user text allowed): escaped before Plotly sees them
    view: str  # what the step belongs to (page, scenario): a new view takes the server's t
    version: int = 0  # bumped when the server moves t itself (a link, a lesson step)
    control: bool = True  # draw the ◀ slider ▶ Play bar (False: follow another element's)
    label: str = "Step t"
    text: str = "t = {t} of {T}"
    noun: str = "step"
    direction: str = "forward"  # Play runs t upwards ("forward") or downwards ("backward")
    speed: int = 400  # ms a step when playing
    autoplay: bool = False  # start playing when the page opens


class _Arrays:
    """The binary part of a payload: each distinct array once, by content."""

    def __init__(self):
        self.meta: dict[str, dict] = {}
        self.blobs: list[bytes] = []
        self.size = 0

    def add(self, a: np.ndarray) -> str:
        a = _wire_array(a)
        data = a.tobytes()
        key = hashlib.blake2b(data + str(a.shape).encode() + a.dtype.str.encode(), digest_size=8).hexdigest()
        if key not in self.meta:
            pad = (-self.size) % 8
            if pad:
                self.blobs.append(b"\0" * pad)
                self.size += pad
            self.meta[key] = {"offset": self.size, "shape": list(a.shape), "dtype": _DTYPES[a.dtype.str]}
            self.blobs.append(data)
            self.size += len(data)
        return key


_DTYPES = {"<f4": "f4", "<f8": "f8", "<i4": "i4", "|u1": "u1"}


def _wire_array(a: np.ndarray) -> np.ndarray:
    """float32 unless that loses a magnitude (|x| > 3e38 or a nonzero |x| < 1e-37: log axes)."""
    a = np.asarray(a)
    if a.dtype == bool:
        return np.ascontiguousarray(a, dtype=np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        if a.size and (a.min() < -(2**31) or a.max() >= 2**31):
            return np.ascontiguousarray(a, dtype="<f8")
        return np.ascontiguousarray(a, dtype="<i4")
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        finite = np.abs(a[np.isfinite(a)])
    if finite.size and (finite.max() > 3e38 or (finite[finite > 0].min(initial=1.0) < 1e-37)):
        return np.ascontiguousarray(a, dtype="<f8")
    return np.ascontiguousarray(a, dtype="<f4")


def _wire(node, arrays: _Arrays):
    """A spec as JSON-ready values: arrays to binary references, step references to {"$...": ...}."""
    if isinstance(node, dict):
        return {str(k): _wire(v, arrays) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_wire(v, arrays) for v in node]
    if isinstance(node, np.ndarray):
        if node.dtype.kind in "biuf":
            return {"$a": arrays.add(node)}
        return [_wire(v, arrays) for v in node.tolist()]
    if isinstance(node, (np.floating, float)):
        x = float(node)
        return x if math.isfinite(x) else None
    if isinstance(node, np.integer):
        return int(node)
    if isinstance(node, np.bool_):
        return bool(node)
    if isinstance(node, sr.Row):
        return {"$row": node.array}
    if isinstance(node, sr.Whole):
        return {"$whole": node.array, "transpose": node.transpose}
    if isinstance(node, sr.Cell):
        return {"$cell": node.array, "col": int(node.col)}
    if isinstance(node, sr.StepNumber):
        return {"$t": node.offset, "scale": node.scale}
    if isinstance(node, sr.Grid):
        return {"$grid": node.per_row, "axis": node.axis, "add": node.add}
    if isinstance(node, sr.Template):
        return {"$text": node.text}
    if isinstance(node, sr.Window):
        return {"$window": node.width, "n": node.n}
    if isinstance(node, sr.Reached):
        return {"$reached": node.step, "then": _wire(node.then, arrays), "otherwise": _wire(node.otherwise, arrays)}
    if isinstance(node, sr.Slot):
        return {"$slot": node.k, "width": node.width, "T": node.T, "text": node.text}
    if isinstance(node, sr.SlotCursor):
        return {"$slotcursor": node.width, "T": node.T, "add": node.add}
    return node


def _block_tokens(block: sr.StepBlock) -> list[list]:
    lines = []
    for line in block.lines:
        tokens = []
        for token in line:
            if isinstance(token, tuple):
                cell, under = token
                tokens.append({"$cell": cell.array, "col": int(cell.col), "under": under})
            elif isinstance(token, sr.Cell):
                tokens.append({"$cell": token.array, "col": int(token.col)})
            elif isinstance(token, sr.StepNumber):
                tokens.append({"$t": token.offset})
            elif isinstance(token, sr.Label):
                tokens.append({"$label": True})
            else:
                tokens.append(str(token))
        lines.append(tokens)
    return lines


def _item_header(item: Item, arrays: _Arrays, salt: str) -> dict:
    out = {"title": item.title, "caption": item.caption, "half": item.half, "filename": item.filename}
    if item.figure is not None:
        if isinstance(item.figure, sr.StepFigure):
            spec, named = item.figure.spec, item.figure.arrays
        else:
            spec, named = {"data": item.figure._data, "layout": item.figure._layout}, {}
        out["names"] = {name: arrays.add(a) for name, a in named.items()}
        out["figure"] = _wire({"data": spec["data"], "layout": spec["layout"]}, arrays)
    elif item.block is not None:
        out["names"] = {name: arrays.add(a) for name, a in item.block.arrays.items()}
        out["block"] = {"lines": _block_tokens(item.block)}
    blob = json.dumps(out, sort_keys=True, separators=(",", ":")).encode() + salt.encode()
    out["hash"] = hashlib.blake2b(blob, digest_size=8).hexdigest()  # names hold the arrays' content hashes
    return out


def payload(items: list[Item], step: Step | None = None, font: str | None = None) -> bytes:
    """The element's binary payload (see client.js): header, then the arrays."""
    arrays = _Arrays()
    salt = json.dumps(step and list(step.labels))  # an item's look depends on the step labels too
    header: dict = {"role": "view", "items": [_item_header(item, arrays, salt) for item in items], "font": font}
    header["layoutHash"] = hashlib.blake2b(json.dumps(
        [[i.half for i in items], step is not None and step.control, step and step.T, font]).encode(),
        digest_size=8).hexdigest()
    if step is not None:
        header |= {"stepped": True, "T": step.T, "t": step.t, "view": step.view, "version": step.version,
                   "control": step.control, "controlLabel": step.label, "controlText": step.text,
                   "controlNoun": step.noun, "direction": step.direction, "speed": step.speed,
                   "autoplay": step.autoplay,
                   "labels": [sr.escape_label(x) for x in step.labels], "rawLabels": list(step.labels)}
    header["arrays"] = arrays.meta
    return _pack(header, arrays.blobs)


def _pack(header: dict, blobs: list[bytes]) -> bytes:
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    pad = (-(4 + len(head))) % 8
    return len(head).to_bytes(4, "little") + head + b" " * pad + b"".join(blobs)


# --- reading a payload back (what the browser gets): for tests ------------------------------------

_NUMPY = {"f4": "<f4", "f8": "<f8", "i4": "<i4", "u1": "|u1"}


@dataclass(frozen=True)
class Decoded:
    """A payload read back: its header and arrays, and each item as the browser draws it at t."""

    header: dict
    arrays: dict[str, np.ndarray]

    @property
    def items(self) -> list[dict]:
        return self.header.get("items", [])

    def _ctx(self, item: dict) -> sr.Context:
        named = {name: self.arrays[key] for name, key in item.get("names", {}).items()}
        return sr.Context(named, tuple(self.header.get("labels", [])))

    def figure(self, k: int, t: int | None = None) -> dict:
        """Item k's figure spec at step t (the server's t by default), arrays as NumPy arrays."""
        t = self.header.get("t", 1) if t is None else t
        item = self.items[k]
        return _unwire(item["figure"], t, self._ctx(item), self.arrays)

    def block_text(self, k: int, t: int | None = None) -> list[str]:
        """Item k's text block at step t, as plain text."""
        t = self.header.get("t", 1) if t is None else t
        item = self.items[k]
        ctx = self._ctx(item)
        lines = []
        for line in item["block"]["lines"]:
            parts = []
            for token in line:
                if isinstance(token, str):
                    parts.append(token)
                elif "$cell" in token:
                    parts.append(f"{sr.evaluate(sr.Cell(token['$cell'], token['col']), t, ctx):.3g}")
                elif "$t" in token:
                    parts.append(str(int(t + token["$t"])))
                elif "$label" in token:
                    parts.append(self.header["rawLabels"][t - 1])
            lines.append("".join(parts))
        return lines


def decode(data: bytes) -> Decoded:
    """The inverse of payload(): header and arrays."""
    n = int.from_bytes(data[:4], "little")
    header = json.loads(data[4 : 4 + n])
    base = 4 + n + (-(4 + n)) % 8
    arrays = {}
    for key, meta in header.get("arrays", {}).items():
        dtype = np.dtype(_NUMPY[meta["dtype"]])
        count = int(np.prod(meta["shape"], dtype=np.int64))
        arrays[key] = np.frombuffer(data, dtype, count, base + meta["offset"]).reshape(meta["shape"])
    return Decoded(header, arrays)


def _unwire(node, t: int, ctx: sr.Context, arrays: dict):
    if isinstance(node, dict):
        if "$a" in node:
            return arrays[node["$a"]]
        ref = _REF_OF.get(next((k for k in node if k.startswith("$")), ""), None)
        if ref is not None:
            return sr.resolve(ref(node, t, ctx, arrays), t, ctx)
        return {k: _unwire(v, t, ctx, arrays) for k, v in node.items()}
    if isinstance(node, list):
        return [_unwire(v, t, ctx, arrays) for v in node]
    return node


_REF_OF = {
    "$row": lambda n, t, c, a: sr.Row(n["$row"]),
    "$whole": lambda n, t, c, a: sr.Whole(n["$whole"], n["transpose"]),
    "$cell": lambda n, t, c, a: sr.Cell(n["$cell"], n["col"]),
    "$t": lambda n, t, c, a: sr.StepNumber(n["$t"], n["scale"]),
    "$grid": lambda n, t, c, a: sr.Grid(n["$grid"], n["axis"], n["add"]),
    "$text": lambda n, t, c, a: sr.Template(n["$text"]),
    "$window": lambda n, t, c, a: sr.Window(n["$window"], n["n"]),
    "$slot": lambda n, t, c, a: sr.Slot(n["$slot"], n["width"], n["T"], n["text"]),
    "$slotcursor": lambda n, t, c, a: sr.SlotCursor(n["$slotcursor"], n["T"], n["add"]),
    "$reached": lambda n, t, c, a: sr.Reached(n["$reached"], _unwire(n["then"], t, c, a),
                                              _unwire(n["otherwise"], t, c, a)),
}
