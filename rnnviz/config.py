"""What the shared controls describe, and how raw values (from a URL) become safe ones.

A `Config` is the whole scenario a page computes from: small, frozen and hashable, so it is
also the cache key. How the figures are drawn (presentation mode) is a `Display`, apart: it is
never part of a cache key, so switching it redraws without recomputing. `parse_param` turns one
raw string into a valid value, clamping numbers into range and falling back to the default
otherwise, and says what it changed, so the app can show a short note instead of an exception.
Nothing here imports Streamlit.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from .cells import CELLS, CellChoice
from .tasks import SOURCES, TASKS

INITS = {"default": "PyTorch default", "radius": "W_hh at a spectral radius"}
FORGET_BIASES = {"default": "PyTorch default (random)", "0": "0", "1": "1", "2": "2", "3": "3", "5": "5"}

MAX_TEXT = 500  # characters the app accepts as free text (one step each)
DEFAULT_TEXT = "hello world"


@dataclass(frozen=True)
class Config(CellChoice):
    """The shared scenario controls: one cell over one input sequence."""

    cell: str = "lstm"  # a key of CELLS
    hidden: int = 8  # H
    source: str = "text"  # a key of SOURCES
    text: str = DEFAULT_TEXT
    length: int = 30  # T for sine, noise and tasks (text sets its own T)
    task: str = "adding"  # a key of TASKS
    seed: int = 0
    init: str = "default"  # a key of INITS
    radius: float = 1.0  # spectral radius of each W_hh block when init == "radius"
    input_scale: float = 1.0  # every input is multiplied by this (large: tanh saturates)
    forget_bias: str = "1"  # LSTM: a key of FORGET_BIASES; 1 is the usual choice (Jozefowicz et al. 2015)


@dataclass(frozen=True)
class Display:
    """How figures are drawn, never what is computed."""

    present: bool = False  # presentation mode: big text, thick lines


@dataclass(frozen=True)
class Param:
    """One URL-bound control: its type, default and allowed values or range."""

    default: object
    choices: dict | None = None  # allowed values for a choice -> their labels
    low: float | None = None  # numeric range, inclusive
    high: float | None = None
    kind: str = "choice"  # "choice", "int", "float", "bool", "text"


DEFAULT = Config()
PARAMS: dict[str, Param] = {
    "cell": Param(DEFAULT.cell, CELLS.labels()),
    "hidden": Param(DEFAULT.hidden, low=1, high=64, kind="int"),
    "source": Param(DEFAULT.source, SOURCES.labels()),
    "text": Param(DEFAULT.text, kind="text", high=MAX_TEXT),
    "length": Param(DEFAULT.length, low=2, high=1000, kind="int"),
    "task": Param(DEFAULT.task, {key: task.label for key, task in TASKS.items() if task.in_scenario}),
    "seed": Param(DEFAULT.seed, low=0, high=99_999, kind="int"),
    "init": Param(DEFAULT.init, INITS),
    "radius": Param(DEFAULT.radius, low=0.1, high=2.0, kind="float"),
    "input_scale": Param(DEFAULT.input_scale, low=0.1, high=10.0, kind="float"),
    "forget_bias": Param(DEFAULT.forget_bias, FORGET_BIASES),
    "present": Param(Display().present, kind="bool"),
}


def config_from(values: dict) -> Config:
    """The Config that control values (name -> value, as parse_param returns them) describe."""
    v = {name: values.get(name, param.default) for name, param in PARAMS.items()}
    return Config(cell=v["cell"], hidden=int(v["hidden"]), source=v["source"], text=v["text"] or "",
                  length=int(v["length"]), task=v["task"], seed=int(v["seed"]), init=v["init"],
                  radius=float(v["radius"]), input_scale=float(v["input_scale"]), forget_bias=v["forget_bias"])


def slug(cfg: Config) -> str:
    """A short name of the scenario for file names: the cell, H, the input and every non-default setting.

    "lstm-h8-text-hello_world-s0", "lstm-h8-text-hello_world-6d1a31-s0" (the text "hello_world": more
    than letters, digits and spaces, so a hash of it), "rnn-relu-h16-noise-T60-radius0.8-s0".
    """
    if cfg.source == "text":
        words = "".join(ch if ch.isalnum() else "_" for ch in cfg.text[:16]).strip("_") or "text"
        # letters, digits and inner single spaces read back from the words; any other text (cut, or
        # with "_", "." or a newline) adds a hash of the whole text, so two texts never share a name
        exact = len(cfg.text) <= 16 and words.replace("_", " ") == cfg.text
        digest = hashlib.blake2b(cfg.text.encode(), digest_size=3).hexdigest()
        source = f"text-{words}" + ("" if exact else f"-{digest}")
    elif cfg.source == "task":
        source = f"{cfg.task}-T{cfg.length}"
    else:
        source = f"{cfg.source}-T{cfg.length}"
    parts = [cfg.cell, f"h{cfg.hidden}", source]
    if cfg.init == "radius":
        parts.append(f"radius{cfg.radius:g}")
    if cfg.forget_bias != DEFAULT.forget_bias and CELLS[cfg.cell].has_forget_gate:
        parts.append(f"fb{cfg.forget_bias}")
    if cfg.input_scale != DEFAULT.input_scale:
        parts.append(f"scale{cfg.input_scale:g}")
    parts.append(f"s{cfg.seed}")
    return "-".join(parts)


def parse_param(name: str, raw: str, param: Param | None = None) -> tuple[object, str | None]:
    """(value, note): a valid value for `name` from a raw string, and a note if it was changed.

    A choice is read from its key ("gru") or its label ("GRU"). Numbers are clamped into range;
    anything unreadable falls back to the default.
    """
    param = param or PARAMS[name]
    raw = str(raw)
    if param.kind == "choice":
        by_label = {label.lower(): key for key, label in param.choices.items()}
        if raw in param.choices or raw.lower() in by_label:
            return (raw if raw in param.choices else by_label[raw.lower()]), None
        return param.default, f"{name}={_short(raw)} is not one of {', '.join(param.choices)}; using {param.default}."
    if param.kind == "bool":
        if raw.lower() in ("true", "1", "yes", "on"):
            return True, None
        if raw.lower() in ("false", "0", "no", "off"):
            return False, None
        return param.default, f"{name}={_short(raw)} is not true or false; using {param.default}."
    if param.kind == "text":
        if len(raw) > param.high:
            return raw[: int(param.high)], f"{name} had {len(raw):,} characters; kept the first {int(param.high)}."
        if not raw.strip():
            return param.default, f"{name} was empty; using {param.default!r}."
        return raw, None
    try:
        number = float(raw)
    except ValueError:
        return param.default, f"{name}={_short(raw)} is not a number; using {param.default}."
    if not math.isfinite(number):
        return param.default, f"{name}={_short(raw)} is not a finite number; using {param.default}."
    if param.kind == "int":
        if number != int(number):
            number = round(number)
        value = int(min(max(number, param.low), param.high))
    else:
        value = float(min(max(number, param.low), param.high))
    if value != number:
        return value, f"{name}={_short(raw)} is outside {_fmt(param.low)}–{_fmt(param.high)}; using {_fmt(value)}."
    return value, None


def from_query(query: dict[str, str]) -> tuple[Config, list[str]]:
    """The Config a link's query describes (parse_param for every shared control), and the notes on
    the values it had to change. Controls the query does not name take their defaults."""
    values, notes = {}, []
    for name, param in PARAMS.items():
        if name in query and name in Config.__dataclass_fields__:
            values[name], note = parse_param(name, query[name], param)
            if note:
                notes.append(note)
    return Config(**values), notes


def url_value(param: Param, value) -> str:
    """How `value` is written into the URL: a choice's short key, numbers without ".0"."""
    if param.kind == "bool":
        return str(bool(value)).lower()
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def _short(raw: str, limit: int = 24) -> str:
    return raw if len(raw) <= limit else raw[:limit] + "…"


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)
