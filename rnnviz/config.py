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
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from .cells import CELLS, CellChoice
from .gallery import GALLERY
from .tasks import SOURCES, TASKS

INITS = {"default": "PyTorch default", "radius": "W_hh at a spectral radius"}
RANDOM = "random"  # the weights control's value for PyTorch's random initialisation
WEIGHTS = {RANDOM: "Random initialisation", **{key: entry.title for key, entry in GALLERY.items()}}  # the URL's
#   weights= values: random, or a gallery model (a user's file or a session's run never goes in a URL)
DIRECTIONS = {"one-way": "One-way", "bidirectional": "Bidirectional"}  # nn.RNN's bidirectional=False / True
MAX_LAYERS = 4
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
    layers: int = 1  # L, stacked layers (nn.RNN's num_layers), 1..MAX_LAYERS
    direction: str = "one-way"  # a key of DIRECTIONS
    weights: str = RANDOM  # RANDOM (made from the seed and init controls), a key of GALLERY, or the identity
    #                        of a user's file or a session's run (rnnviz.trained: "upload-<hash>", "run-<hash>")

    @property
    def trained(self) -> bool:
        """Does the cell run given weights (not ones made from the seed)?"""
        return self.weights != RANDOM

    @property
    def num_directions(self) -> int:
        """D: 2 for a bidirectional stack, else 1."""
        return 2 if self.direction == "bidirectional" else 1

    @property
    def stacked(self) -> bool:
        """More than one layer, or both directions: the pages add the stack's own figures."""
        return self.layers > 1 or self.num_directions == 2


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
    step: float | None = None  # a number's grid from `low` (a slider's step): a value between is reported
    chars: str | None = None  # a text's alphabet (e.g. "0123456789"): a text with any other character is reported


@dataclass(frozen=True)
class Note:
    """What rnnviz did with a URL value it could not use as given: "cell=foo is not one of …; using lstm."."""

    name: str  # the URL parameter
    given: str | None  # the value as given, made visible and shortened (see shown): user text, to be shown
    #                    literally, never as Markdown; None when the note does not quote it
    said: str  # rnnviz's own words after it: "is not one of rnn-tanh, …; using lstm."

    def __str__(self) -> str:
        return f"{self.name}={self.given} {self.said}" if self.given is not None else f"{self.name} {self.said}"


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
    "radius": Param(DEFAULT.radius, low=0.1, high=2.0, kind="float", step=0.05),
    "input_scale": Param(DEFAULT.input_scale, low=0.1, high=10.0, kind="float", step=0.1),
    "forget_bias": Param(DEFAULT.forget_bias, FORGET_BIASES),
    "layers": Param(DEFAULT.layers, low=1, high=MAX_LAYERS, kind="int"),
    "direction": Param(DEFAULT.direction, DIRECTIONS),
    "present": Param(Display().present, kind="bool"),
    "weights": Param(DEFAULT.weights, WEIGHTS),
}


def config_from(values: dict) -> Config:
    """The Config that control values (name -> value, as parse_param returns them) describe."""
    v = {name: values.get(name, param.default) for name, param in PARAMS.items()}
    return Config(cell=v["cell"], hidden=int(v["hidden"]), source=v["source"], text=v["text"] or "",
                  length=int(v["length"]), task=v["task"], seed=int(v["seed"]), init=v["init"],
                  radius=float(v["radius"]), input_scale=float(v["input_scale"]), forget_bias=v["forget_bias"],
                  layers=int(v["layers"]), direction=v["direction"],
                  weights=v["weights"] if v["weights"] in WEIGHTS else RANDOM)


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
    if cfg.layers != DEFAULT.layers:
        parts.append(f"L{cfg.layers}")
    if cfg.direction != DEFAULT.direction:
        parts.append("bi")
    if cfg.trained:  # a gallery name, or a file's or a run's identity: the weights are not the seed's
        return "-".join([cfg.weights, source])
    if cfg.init == "radius":
        parts.append(f"radius{cfg.radius:g}")
    if cfg.forget_bias != DEFAULT.forget_bias and CELLS[cfg.cell].has_forget_gate:
        parts.append(f"fb{cfg.forget_bias}")
    if cfg.input_scale != DEFAULT.input_scale:
        parts.append(f"scale{cfg.input_scale:g}")
    parts.append(f"s{cfg.seed}")
    return "-".join(parts)


def parse_param(name: str, raw: str, param: Param | None = None) -> tuple[object, str | None]:
    """(value, note): a valid value for `name` from a raw string, and a note (plain text) if it was changed."""
    value, note = check_param(name, raw, param)
    return value, None if note is None else str(note)


def check_param(name: str, raw: str, param: Param | None = None) -> tuple[object, Note | None]:
    """(value, note): a valid value for `name` from a raw URL string, and a Note if it was changed.

    A choice is read from its key ("gru") or its label ("GRU"). A number outside its range is
    clamped into it, one between the steps of its grid goes to the nearest step (an int's grid is
    the whole numbers), and anything unreadable falls back to the default; each says so. A text
    of invisible characters only (spaces, zero-width or direction marks) counts as empty.
    """
    param = param or PARAMS[name]
    raw = str(raw)
    if param.kind != "text" and is_blank(raw):
        return param.default, Note(name, None, f"was empty; using {url_value(param, param.default)}.")
    if param.kind == "choice":
        key = _choice_key(param.choices, raw)
        if key is not None:
            return key, None
        options = ", ".join(str(k) for k in param.choices)
        return param.default, _note(name, raw, f"is not one of {options}; using {param.default}.")
    if param.kind == "bool":
        word = raw.strip().lower()
        if word in ("true", "1", "yes", "on"):
            return True, None
        if word in ("false", "0", "no", "off"):
            return False, None
        return param.default, _note(name, raw, f"is not true or false; using {url_value(param, param.default)}.")
    if param.kind == "text":
        kept = raw[: int(param.high)]
        if is_blank(kept):
            return param.default, Note(name, None, f"was empty (or only invisible characters); using "
                                                   f"{param.default!r}.")
        if param.chars is not None and any(ch not in param.chars for ch in kept):
            return param.default, _note(name, raw, f"has characters other than {param.chars}; using {param.default}.")
        if kept != raw:
            return kept, Note(name, None, f"had {len(raw):,} characters; kept the first {len(kept)}.")
        return raw, None
    try:
        number = float(raw.strip())
    except ValueError:
        return param.default, _note(name, raw, f"is not a number; using {param.default}.")
    if not math.isfinite(number):
        return param.default, _note(name, raw, f"is not a finite number; using {param.default}.")
    return snap(name, number, param, given=raw)


def snap(name: str, number: float, param: Param, given: str | None = None) -> tuple[float | int, Note | None]:
    """(value, note): `number` clamped into the param's range and put on its grid, and what was done.

    `given` is how the number was written (a raw URL value), quoted in the note; without it the
    number itself is.
    """
    given = _fmt(number) if given is None else given
    value = min(max(number, param.low), param.high)
    note = None
    if value != number:
        used = _fmt(_typed(value, param))
        note = _note(name, given, f"is outside {_fmt(param.low)}–{_fmt(param.high)}; using {used}.")
    step = param.step or (1 if param.kind == "int" else None)
    if step:
        k = (value - param.low) / step  # steps from the low end: a whole number on the grid
        on_grid = abs(k - round(k)) <= 1e-9 * max(1.0, abs(k))
        value = min(_round_to(param.low + (round(k) if on_grid else math.floor(k + 0.5 + 1e-9)) * step, step),
                    param.high)  # exactly the grid's number: 0.85, not 0.8500000000000001
        if not on_grid and note is None:
            note = _note(name, given, f"is not {_grid_words(param, step)}; using {_fmt(_typed(value, param))}.")
    return _typed(value, param), note


def _grid_words(param: Param, step: float) -> str:
    if param.kind == "int" and step == 1:
        return "a whole number"
    low, second, high = (_fmt(_typed(x, param)) for x in (param.low, _round_to(param.low + step, step), param.high))
    return f"one of the steps {low}, {second}, … {high}"


def is_blank(text: str) -> bool:
    """Is the text empty to the eye: nothing but whitespace, control, format (zero-width, direction
    marks) or combining characters, or blank-looking letters (Hangul fillers, the blank Braille cell)?"""
    return all(unicodedata.category(ch)[0] in "CZM" or ch in BLANK_LOOKING for ch in text)


BLANK_LOOKING = set("\u115f\u1160\u2800\u3164\uffa0")


def shown(raw: str, limit: int = 24) -> str:
    """A raw value as a note quotes it: at most `limit` characters, then "…"; every character one
    cannot see (controls, zero-width and direction marks, unusual spaces) written as \\uXXXX, so the
    note can neither hide nor reorder text."""
    out, length = [], 0
    for ch in raw:
        piece = ch if ch == " " or not (unicodedata.category(ch)[0] in "CZ" or ch in BLANK_LOOKING) \
            else _escape(ch)
        if length + len(piece) > limit:
            return "".join(out) + "…"
        out.append(piece)
        length += len(piece)
    return "".join(out)


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


def _choice_key(choices: dict, raw: str):
    """The key of `choices` that `raw` names, by key or by label (any case), else None."""
    word = raw.strip().lower()
    for key, label in choices.items():
        if raw == str(key) or word == str(key).lower() or word == str(label).lower():
            return key
    return None


def _note(name: str, raw: str, said: str) -> Note:
    return Note(name, shown(raw), said)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _typed(value: float, param: Param):
    return int(value) if param.kind == "int" else float(value)


def _round_to(x: float, step: float) -> float:
    """x rounded to the decimals of `step` (0.85, not 0.8500000000000001): the grid's own numbers."""
    return round(x, max(0, -Decimal(repr(float(step))).as_tuple().exponent))


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)
