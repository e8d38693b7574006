"""Links of any shape: every page x every public URL parameter x hostile values, with Play on and off.

A bad value gives the normal view and one note box; the note shows what the link said only as
literal text (inline code, checked here against CommonMark's code-span rules; tests/test_browser_safety.py
checks what Chromium draws). Numbers off a control's grid are reported. Repeated parameters resolve
to the last. Two sessions never see each other's values.
"""

from __future__ import annotations

import re

import pytest

from rnnviz import ui
from rnnviz.config import PARAMS, Note, Param, check_param, is_blank, parse_param, shown
from rnnviz.studies.attention import PARAMS as ATTENTION_PARAMS
from rnnviz.studies.training import PARAMS as TRAINING_PARAMS
from rnnviz.ui.pages import LESSON_PARAMS, PAGES
from rnnviz.views import setups as setups_view
from rnnviz.views import step as step_view

from .conftest import charts, elements, open_app

pytestmark = pytest.mark.usefixtures("fresh_cache")

# URL parameter names are a public interface: links made with these keep working. Spelled out here, not
# read from the code, so that renaming or dropping one fails this test.
SHARED = ("cell", "hidden", "source", "text", "length", "task", "seed", "init", "radius", "input_scale",
          "forget_bias", "layers", "direction", "present")
PAGE_PARAMS = {
    "home": LESSON_PARAMS,
    "step": ("t", "unit", "play", "speed", *LESSON_PARAMS),
    "bptt": ("t", "reached", "loss", "mode", "window", *LESSON_PARAMS),
    "setups": ("setup", *LESSON_PARAMS),
    "training": (*LESSON_PARAMS, "part", "tr_cell", "tr_task", "tr_length", "tr_hidden", "tr_batch", "tr_updates", "tr_opt", "tr_lr",
                 "tr_radius", "tr_seed", "r1_clip", "r2_clip", "r3_clip", "r1_th", "r2_th", "r3_th", "cl_b", "cl_snap",
                 "cl_w", "cl_lr", "cl_steps", "cl_tau", "r1_window", "r2_window", "r3_window"),
    "compare": ("t", "perturb", "models", *LESSON_PARAMS),
    "attention": ("attention", "digits", "model", "t", "play", "speed", *LESSON_PARAMS),
}
# A valid value of each, other than its default: the link must open with it, without a note.
VALID = {"cell": "gru", "hidden": "5", "source": "noise", "text": "abc", "length": "12", "task": "temporal_order",
         "seed": "3", "init": "radius", "radius": "0.85", "input_scale": "2.5", "forget_bias": "0", "layers": "3",
         "direction": "bidirectional", "present": "true", "setup": "one-to-many",
         "t": "4", "unit": "2", "play": "true", "speed": "200", "reached": "3", "loss": "all", "mode": "forward",
         "window": "5",
         "part": "train", "tr_cell": "gru", "tr_task": "memorisation", "tr_length": "20", "tr_hidden": "8",
         "tr_batch": "16", "tr_updates": "30", "tr_opt": "adam", "tr_lr": "0.01", "tr_radius": "0.8", "tr_seed": "4",
         "r1_clip": "value", "r2_clip": "none", "r3_clip": "norm", "r1_th": "0.5", "r2_th": "2", "r3_th": "3",
         "r1_window": "5", "r2_window": "2", "r3_window": "10",
         "cl_b": "-3.5", "cl_snap": "false", "cl_w": "4.5", "cl_lr": "0.3", "cl_steps": "12", "cl_tau": "3",
         "lesson": "vanishing", "step": "2", "perturb": "5", "models": "random", "attention": "none",
         "digits": "90210", "model": "untrained"}

HOSTILE = {
    "empty": "",
    "invisible": "\u200b\u200e \u3164\u2800",
    "nan": "NaN",
    "inf": "inf",
    "-inf": "-inf",
    "huge": "1e308",
    "10**30": "1" + "0" * 30,
    "negative": "-7",
    "off-grid": "2.5",
    "emoji": "😀🎉👩‍👩‍👧",
    "rtl": "\u202eשלום abc",
    "md-link": "[Login](//evil.co/x)",
    "md-image": "![](//127.0.0.1:9/a)",
    "html": "<img src=x onerror=alert(1)>",
    "script": "<script>alert(1)</script>",
    "latex": "$\\href{//evil.co}{x}$",
    "latex-block": "$$x^2$$",
    "shortcodes": ":material/home: :red[x] :smile:",
    "backticks": "`a` ``b",
    "newlines": "a\n\n# h\n- x",
    "20k": "x" * 20_000,
}
HEAD = "**This link had values rnnviz could not use as they were:**"


def notes(at) -> list[str]:
    """The note boxes on the page (their Markdown)."""
    return [i.value for i in at.info if i.value.startswith(HEAD)]


def code_spans(markdown: str) -> tuple[list[str], str]:
    """(the contents of the inline code spans, the text outside them), by CommonMark's rules: a run of n
    backticks opens a span closed by the next run of exactly n; one space comes off each end when both
    ends have one (and not all is space)."""
    spans, outside, i = [], [], 0
    while i < len(markdown):
        run = re.match("`+", markdown[i:])
        if not run:
            outside.append(markdown[i])
            i += 1
            continue
        n = len(run.group())
        close = next((m for m in re.finditer("`+", markdown[i + n:]) if len(m.group()) == n), None)
        if close is None:
            outside.append(run.group())
            i += n
            continue
        body = markdown[i + n : i + n + close.start()]
        if body.startswith(" ") and body.endswith(" ") and body.strip():
            body = body[1:-1]
        spans.append(body)
        i += n + close.end()
    return spans, "".join(outside)


MARKUP = re.compile(r"[\[\]<>!$\\`*~&|#@{}^]|://|www|:[\w/+-]+:")  # what could start markup in the words around


def assert_literal(note_markdown: str) -> None:
    """Outside code spans the note holds rnnviz's own words only: nothing Markdown (or Streamlit) reads as markup."""
    assert note_markdown.startswith(HEAD)
    _, outside = code_spans(note_markdown[len(HEAD):])
    outside = outside.replace("\u2068", "").replace("\u2069", "")
    assert not MARKUP.search(outside), (MARKUP.search(outside), outside)


def page_view_ok(at, key: str) -> None:
    """The normal view of the page is there, and no exception."""
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, "no title: the page stopped early"
    if key in ("step", "bptt", "setups", "compare", "attention"):
        assert charts(at), "no figures"


def url_is_clean(at) -> None:
    """What the page read from the URL it leaves there only valid, and once: a value it could not use is
    replaced by the one it used (or dropped, for a default). Values it did not read stay as they were."""
    params = {**PARAMS, **step_view.PARAMS, **setups_view.PARAMS, **TRAINING_PARAMS, **ATTENTION_PARAMS}
    read = at.session_state[ui.VALUES_KEY]
    for name in at.query_params:
        value = at.query_params[name]
        assert isinstance(value, str), (name, value)  # one value, not several
        if name in params and name in read:
            assert check_param(name, value, params[name])[1] is None, (name, value)


# --- every page x every parameter x hostile values ------------------------------------------------

CASES = [(key, value, play) for key in PAGE_PARAMS for value in HOSTILE
         for play in (("true", "false") if key in ("step", "bptt", "attention") else ("true",))]


@pytest.mark.parametrize("key,value,play", CASES, ids=[f"{k}-{v}-play:{p}" for k, v, p in CASES])
def test_a_hostile_value_in_every_parameter_gives_the_normal_view_and_one_literal_note(key, value, play):
    names = (*SHARED, *PAGE_PARAMS[key])
    names = names[: 500_000 // (len(HOSTILE[value]) + 20)]  # within Streamlit's 512 Ki characters a query (below)
    query = {name: HOSTILE[value] for name in names}
    query["play"] = play
    if key == "training" and play == "true":
        query["part"] = "cliff"  # the cliff's controls too
    at = open_app(PAGES[key].file if key != "home" else None, **query)
    page_view_ok(at, key)
    boxes = notes(at)
    assert len(boxes) == 1, boxes
    assert_literal(boxes[0])
    url_is_clean(at)


def test_a_link_longer_than_streamlit_reads_opens_the_page_as_it_is():
    # Streamlit ignores a query string over 512 Ki characters (or 1,000 fields) entirely: the defaults.
    at = open_app(PAGES["step"].file, **{name: "x" * 40_000 for name in (*SHARED, *PAGE_PARAMS["step"])})
    page_view_ok(at, "step")
    assert at.selectbox(key="cell").value == "lstm" and not notes(at)


@pytest.mark.parametrize("value", ["md-link", "html", "latex", "shortcodes", "backticks", "rtl", "newlines"])
def test_the_note_quotes_the_value_as_given_inside_code(value):
    at = open_app(PAGES["step"].file, cell=HOSTILE[value])
    (box,) = notes(at)
    spans, _ = code_spans(box[len(HEAD):])
    assert "".join(spans) == shown(HOSTILE[value]), spans  # the value, character for character (made visible)


def test_play_on_with_a_speed_between_the_choices_plays_at_the_default_speed_with_a_note():
    at = open_app(PAGES["step"].file, play="true", speed="300")
    page_view_ok(at, "step")
    header = elements(at)[0].header
    assert header["autoplay"] is True and header["speed"] == 400
    assert any("speed=300 is not one of 100, 200, 400, 800, 1500; using 400" in n for n in notes(at))
    at.slider(key="hidden").set_value(5).run()  # and later runs keep playing safely
    assert not at.exception and elements(at)[0].header["speed"] == 400


@pytest.mark.parametrize("query,note", [
    ({"hidden": "2.5"}, "hidden=2.5 is not a whole number; using 3."),
    ({"seed": "7.6"}, "seed=7.6 is not a whole number; using 8."),
    ({"t": "2.5"}, "t=2.5 is not a whole number; using 3."),
    ({"init": "radius", "radius": "0.83"}, "radius=0.83 is not one of the steps 0.1, 0.15, … 2; using 0.85."),
    ({"input_scale": "1.27"}, "input_scale=1.27 is not one of the steps 0.1, 0.2, … 10; using 1.3."),
    ({"t": "50"}, "t=50 is outside 1–11; using 11."),
    ({"hidden": "4", "unit": "9"}, "unit=9 is outside 0–3; using 3."),
    ({"source": "text", "text": "\u200b\u200f \u3164"}, "text was empty (or only invisible characters)"),
    ({"cell": ""}, "cell was empty; using lstm."),
])
def test_numbers_off_the_grid_and_invisible_text_are_reported(query, note):
    at = open_app(PAGES["step"].file, **query)
    page_view_ok(at, "step")
    assert any(note in n for n in notes(at)), notes(at)


@pytest.mark.parametrize("query,note", [
    ({"tr_updates": "15"}, "tr_updates=15 is not one of the steps 10, 20, … 1000; using 20."),
    ({"part": "cliff", "cl_b": "-3.3"}, "cl_b=-3.3 is not one of the steps -8, -7.75, … 0; using -3.25."),
    ({"part": "cliff", "cl_lr": "0.05"}, "cl_lr=0.05 is not one of the choices"),
])
def test_the_training_pages_numbers_off_their_sliders_steps_are_reported(query, note):
    at = open_app(PAGES["training"].file, **query)
    assert not at.exception
    assert any(note in n for n in notes(at)), notes(at)


def test_a_t_beyond_a_shortened_text_follows_it_without_an_error():
    at = open_app(PAGES["step"].file, text="a long enough text", t=15)
    assert elements(at)[0].header["t"] == 15
    at.text_area(key="text").set_value("abc").run()
    assert not at.exception and elements(at)[0].header["t"] == 3


def test_the_backprop_pages_reached_step_is_read_from_its_link():
    at = open_app(PAGES["bptt"].file, source="noise", length=20, reached=5)
    assert not at.exception and not notes(at)
    assert elements(at)[0].header["t"] == 5 and at.query_params["reached"] == "5"


def test_many_bad_values_make_one_short_box():
    at = open_app(PAGES["step"].file, cell="a", init="b", source="c", forget_bias="d", task="e", hidden="x",
                  seed="y", length="z")
    (box,) = notes(at)
    assert box.count("\n- ") == ui.MAX_NOTES + 1  # five notes and one line naming the rest
    assert "each replaced the same way" in box


def test_changing_a_control_drops_its_note():
    at = open_app(PAGES["step"].file, cell="foo", hidden="2.5")
    at.selectbox(key="cell").set_value("gru").run()
    (box,) = notes(at)
    assert "cell=" not in box and "hidden=2.5" in box


def test_notes_stay_with_the_page_the_link_opened():
    at = open_app(PAGES["step"].file, cell="foo")
    assert notes(at)
    at.switch_page(PAGES["bptt"].file).run()
    assert not at.exception and not notes(at)


# --- today's names keep working -------------------------------------------------------------------


def test_every_page_is_in_the_list_of_public_names():
    assert set(PAGE_PARAMS) == set(PAGES)  # a new page's names get the hostile values too


@pytest.mark.parametrize("key", list(PAGE_PARAMS))
def test_todays_parameter_names_are_read_from_a_link(key):
    names = (*SHARED, *PAGE_PARAMS[key])
    assert set(PAGES[key].params) <= set(names)  # the page reads no name this list misses
    query = {name: VALID[name] for name in names}
    if key == "training":
        query["part"] = "cliff"
    at = open_app(PAGES[key].file if key != "home" else None, **query)
    assert not at.exception and not notes(at), notes(at)
    shown_on_page = {"home": SHARED, "step": (*SHARED, "t", "unit", "speed", "play"), "bptt": (*SHARED, "loss"),
                     "setups": (*SHARED, "setup"),
                     "training": ("part", "cl_b", "cl_snap", "cl_w", "cl_lr", "cl_steps", "cl_tau"),
                     "compare": (*SHARED, "perturb", "models"),
                     "attention": ("attention", "digits", "model", "t", "play", "speed")}[key]
    for name in shown_on_page:  # the link's values are kept (written back as given)
        assert at.query_params.get(name) == query[name], (name, at.query_params.get(name))


# --- repeated parameters --------------------------------------------------------------------------


def test_a_repeated_parameter_takes_its_last_value_and_the_url_keeps_one():
    at = open_app(PAGES["step"].file, cell=["rnn-relu", "gru"], hidden=["4", "6"], utm=["a", "b"])
    assert not at.exception
    assert at.selectbox(key="cell").value == "gru" and at.slider(key="hidden").value == 6
    assert at.query_params["cell"] == "gru" and at.query_params["hidden"] == "6" and at.query_params["utm"] == "b"
    (box,) = notes(at)
    assert "cell=gru was the last of its 2 values in the link; using it." in box


def test_a_repeated_bad_parameter_says_which_value_it_read():
    at = open_app(PAGES["step"].file, cell=["gru", "nope"])
    assert at.selectbox(key="cell").value == "lstm"
    assert any("cell=nope (the last of its 2 values) is not one of" in n for n in notes(at))


# --- sessions apart -------------------------------------------------------------------------------


def test_two_sessions_never_see_each_others_values():
    a = open_app(PAGES["step"].file, cell="gru", hidden=5, seed=11)
    b = open_app(PAGES["step"].file, cell="rnn-relu", hidden=3, text="zzz", unit=9)
    a.slider(key="hidden").set_value(7).run()
    b.selectbox(key="cell").set_value("lstm").run()
    a.run()
    assert (a.selectbox(key="cell").value, a.slider(key="hidden").value, a.number_input(key="seed").value) == \
        ("gru", 7, 11)
    assert (b.selectbox(key="cell").value, b.slider(key="hidden").value, b.text_area(key="text").value) == \
        ("lstm", 3, "zzz")
    assert not notes(a) and any("unit=9" in n for n in notes(b))
    assert a.query_params.get("text") is None and b.query_params["text"] == "zzz"
    assert elements(a)[0].header["T"] == 11
    assert elements(b)[0].header["T"] == 3


# --- unit level -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [*HOSTILE.values(), "a", "1.5", "www.x.co", "``", " ", "a ` b", "`", " `x` ",
                                  ":material/x:material/y:", "\u2068x\u2069"])
def test_literal_markdown_reads_back_as_exactly_its_text(text):
    text = shown(text, 10_000)  # what notes quote: controls made visible, so no line breaks
    md = ui.literal_markdown(text)
    if md == text:
        assert text == "" or ui.PLAIN.fullmatch(text)
        return
    assert md.startswith("\u2068") and md.endswith("\u2069")
    spans, outside = code_spans(md)
    assert "".join(spans) == text and set(outside) <= {"\u2068", "\u2069"}
    assert ":material/" not in md  # Streamlit rewrites it even inside code


@pytest.mark.parametrize("name", [*PARAMS, *TRAINING_PARAMS, "play", "speed", *ATTENTION_PARAMS])
@pytest.mark.parametrize("value", ["[x](//e.co)", "2.5", "1e308", "-1", ""])
def test_every_note_has_nothing_but_its_quote_to_show_literally(name, value):
    param = {**PARAMS, **TRAINING_PARAMS, **step_view.PARAMS, **ATTENTION_PARAMS}[name]
    _, note = check_param(name, value, param)
    if note is not None:
        assert_literal(f"{HEAD} {ui.note_markdown(note)}")
        assert len(str(note)) < 160


def test_invisible_text_counts_as_empty():
    assert is_blank("\u200b\u200c\u200d\u2060\ufeff \t\n\u200e\u200f\u202e\u3164\u2800\u0301")
    assert not is_blank("\u200ba") and not is_blank("😀")


def test_shown_makes_invisible_characters_visible_and_stays_short():
    assert shown("a\u200bb\u202e\n") == "a\\u200bb\\u202e\\u000a"
    assert shown("x" * 100) == "x" * 24 + "…"


def test_numbers_are_read_as_numbers_only():
    param = Param(5, low=1, high=10, kind="int")
    assert check_param("n", "7", param) == (7, None)
    for raw in ("0x10", "7 apples", "10**3", "", "nan"):
        value, note = check_param("n", raw, param)
        assert value == 5 and isinstance(note, Note), raw
    assert parse_param("n", "1e308", param) == (10, "n=1e308 is outside 1–10; using 10.")
