"""Student links (?hide=…): hidden controls draw no widget and keep their values, across pages and lesson links;
the Share panel builds a link that reopens the same view, hiding what was ticked."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from rnnviz import export, hide, ui
from rnnviz.config import from_query
from rnnviz.lessons import LESSONS
from rnnviz.ui import share
from rnnviz.ui.pages import PAGES

from .conftest import charts, elements, open_app, title_of
from .test_url_safety import HOSTILE, assert_literal, notes

pytestmark = pytest.mark.usefixtures("fresh_cache")
STEP, BPTT, TRAINING = PAGES["step"].file, PAGES["bptt"].file, PAGES["training"].file


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def widget_keys(at) -> set[str]:
    """The keys of every widget drawn on the page, sidebar included."""
    kinds = ("selectbox", "slider", "number_input", "text_area", "toggle", "button_group", "select_slider",
             "checkbox", "radio", "button")
    return {w.key for kind in kinds for w in at.get(kind) if w.key}


def query(at) -> dict[str, str]:
    return {name: at.query_params[name] for name in at.query_params}


def cell_title(at) -> str:
    return next(title_of(spec) for spec in charts(at) if "cell at step" in title_of(spec))


def open_share(at, page: str, tick: tuple[str, ...] = ()) -> str:
    """Open the page's Share panel, tick these boxes; the link it shows."""
    at.session_state[share.PANEL_KEY.format(page=page)] = True
    at.run()
    for name in tick:
        at.checkbox(key=share.BOX_KEY.format(page=page, name=name)).check().run()
    ok(at)
    (code,) = at.get("code")
    return code.value


def test_hidden_controls_draw_nothing_and_keep_the_links_values_in_the_figures_and_the_url():
    at = open_app(STEP, hide="cell,hidden,seed", cell="gru", hidden="5", seed="3", t="4")
    ok(at)
    assert not {"cell", "hidden", "seed"} & widget_keys(at)
    assert {"init", "source", "unit", "present"} <= widget_keys(at)  # the others are there
    assert "GRU" in cell_title(at) and "step t = 4" in cell_title(at)
    assert elements(at)[0].header["control"] is True  # the step control stays
    at.selectbox(key="init").set_value("radius").run()  # another control changes: the hidden ones hold
    ok(at)
    values = at.session_state[ui.VALUES_KEY]
    assert (values["cell"], values["hidden"], values["seed"]) == ("gru", 5, 3)
    assert query(at) | {"init": "radius"} == query(at)
    assert {k: query(at)[k] for k in ("cell", "hidden", "seed", "hide")} == \
        {"cell": "gru", "hidden": "5", "seed": "3", "hide": "cell,hidden,seed"}


def test_hide_stays_when_the_student_moves_to_another_page():
    at = open_app(STEP, hide="cell,loss", cell="gru")
    at.switch_page(BPTT).run()
    ok(at)
    assert not {"cell", "loss"} & widget_keys(at) and "mode" in widget_keys(at)
    assert query(at)["hide"] == "cell,loss" and at.session_state[ui.VALUES_KEY]["cell"] == "gru"


def test_hide_sidebar_draws_nothing_in_the_sidebar_and_keeps_every_value():
    at = open_app(STEP, hide="sidebar", cell="rnn-relu", text="abc", t="2")
    ok(at)
    assert len(at.sidebar.children) == 0  # no elements: Streamlit draws no sidebar and no arrow to open it
    assert "unit" in widget_keys(at)  # the page's own controls stay
    assert "ReLU" in cell_title(at) and "step t = 2 of 3" in cell_title(at)
    assert query(at)["hide"] == "sidebar" and query(at)["cell"] == "rnn-relu"


@pytest.mark.parametrize("page", ["step", "bptt", "training", "home"])
def test_hide_controls_leaves_only_the_step_control_and_the_lessons_navigation(page):
    q = {"hide": "controls"}
    if page != "home":  # a lesson's step on this page
        lesson, k = next((les, k) for les in LESSONS.values() for k, s in enumerate(les.steps)
                         if s.page == page and k + 1 < len(les.steps))
        q |= {**lesson.steps[k].params, "lesson": lesson.key, "step": str(k + 1)}
    at = open_app(PAGES[page].file if page != "home" else None, **q)
    ok(at)
    settings = {"cell", "hidden", "seed", "init", "source", "text", "input_scale", "forget_bias", "present", "unit",
                "loss", "mode", "part", "tr_cell", "cl_b"}
    assert not settings & widget_keys(at)
    assert not any(k.startswith("preset_") for k in widget_keys(at))
    if page in ("step", "bptt"):
        assert any(e.header.get("control") for e in elements(at))  # the step control
    links = [link for link in at.get("page_link") if link.proto.label.startswith(("Next", "Start the lesson"))]
    assert links and all("hide=controls" in link.proto.query_string for link in links)  # the lesson's way on


def test_a_lesson_link_carries_hide_and_a_followed_link_brings_its_own():
    lesson = next(les for les in LESSONS.values() if les.steps[0].page == "step" and les.steps[1].page == "step")
    at = open_app(STEP, **lesson.steps[0].params, lesson=lesson.key, step="1", hide="cell")
    (link,) = [link for link in at.get("page_link") if link.proto.label.startswith("Next")]
    nxt = dict(parse_qsl(link.proto.query_string))
    assert nxt["hide"] == "cell" and nxt["step"] == "2"
    at.query_params.clear()  # following Next: its query, as the browser sends it
    for name, value in nxt.items():
        at.query_params[name] = value
    at.run()
    ok(at)
    assert "cell" not in widget_keys(at) and query(at)["hide"] == "cell"
    at.query_params.clear()  # a link without hide, followed: it wins, every control shows
    for name, value in {**lesson.steps[1].params, "lesson": lesson.key, "step": "2"}.items():
        at.query_params[name] = value
    at.run()
    assert "cell" in widget_keys(at) and "hide" not in query(at)


def test_a_lesson_link_keeps_presentation_mode_and_following_it_stays_presenting():
    lesson = next(les for les in LESSONS.values() if les.steps[0].page == "step" and les.steps[1].page == "step")
    at = open_app(STEP, **lesson.steps[0].params, lesson=lesson.key, step="1", present="true")
    ok(at)
    links = {link.proto.label: dict(parse_qsl(link.proto.query_string)) for link in at.get("page_link")}
    nxt = next(q for label, q in links.items() if label.startswith("Next"))
    assert nxt["present"] == "true" and nxt["step"] == "2"
    assert all(q.get("present") == "true" for q in links.values() if q)  # Leave the lesson too
    at.query_params.clear()
    for name, value in nxt.items():
        at.query_params[name] = value
    at.run()
    ok(at)
    assert query(at)["present"] == "true" and query(at)["step"] == "2"
    plain = open_app(STEP, **lesson.steps[0].params, lesson=lesson.key, step="1")
    assert not any("present" in link.proto.query_string for link in plain.get("page_link"))


@pytest.mark.parametrize("raw,given", [("bogus", "bogus"), ("cell,t,Nope", "t,Nope"), ("CELL, seed ,", None)])
def test_names_rnnviz_cannot_hide_are_named_in_one_note_and_the_rest_are_hidden(raw, given):
    at = open_app(STEP, hide=raw)
    ok(at)
    boxes = notes(at)
    if given is None:
        assert not boxes and query(at)["hide"] == "cell,seed"
        return
    (box,) = boxes
    assert_literal(box)
    said = box.translate({ord(c): None for c in "`\u2068\u2069"})  # the code span around the names, unwrapped
    assert f"hide={given} is no control" in said or f"hide={given} names no control" in said
    assert elements(at)[0].header["control"]  # the step control stays
    assert ("cell" in raw) == ("cell" not in widget_keys(at))


@pytest.mark.parametrize("value", ["md-link", "html", "latex", "shortcodes", "backticks", "rtl", "newlines", "20k",
                                   "invisible", "empty"])
def test_a_hostile_hide_gives_the_normal_page_and_at_most_one_literal_note(value):
    at = open_app(STEP, hide=HOSTILE[value])
    ok(at)
    assert charts(at) and "cell" in widget_keys(at)
    boxes = notes(at)
    assert len(boxes) <= 1
    for box in boxes:
        assert_literal(box)
    assert "hide" not in query(at)  # nothing it could use: dropped from the URL


def test_check_keeps_known_names_once_in_the_links_order():
    assert hide.check("seed,Cell,seed,sidebar")[0] == "seed,cell,sidebar"
    assert hide.check("seed,Cell")[1] is None
    assert hide.hides(frozenset({"controls"}), "tr_cell") and not hide.hides(frozenset({"controls"}), "t")
    assert hide.hides(frozenset({"sidebar"}), "present") and not hide.hides(frozenset({"sidebar"}), "unit")
    assert hide.minimal(["cell", "sidebar", "unit"]) == ["sidebar", "unit"]


@pytest.mark.parametrize("page,q,tick,t_name", [
    ("step", {"cell": "gru", "hidden": "5", "text": "a&b=c,d", "t": "4", "unit": "2"}, ("cell", "seed"), "t"),
    ("bptt", {"cell": "lstm", "source": "noise", "length": "40", "mode": "forward", "t": "17"}, ("sidebar", "mode"),
     "t"),
    ("bptt", {"source": "noise", "length": "40", "reached": "9"}, ("controls",), "reached"),
])
def test_the_share_panels_link_reopens_the_same_view_hiding_what_was_ticked(page, q, tick, t_name):
    at = open_app(PAGES[page].file, **q)
    ok(at)
    link = open_share(at, page, tick)
    parsed = export.parse_link(link)
    assert parsed.page == page
    cfg_here, _ = from_query(query(at))
    cfg_there, _ = from_query(parsed.query)
    assert cfg_there == cfg_here and parsed.query[t_name] == q[t_name]
    assert hide.parse(parsed.query["hide"]) == set(hide.minimal(list(tick)))
    listed = [m.value for m in at.markdown if m.value.startswith("**The link hides:**")]
    assert listed and all(word in listed[0] for word in tick if word not in hide.GROUPS)
    again = open_app(PAGES[page].file, **parsed.query)  # the student opens it
    ok(again)
    assert from_query(query(again))[0] == cfg_here
    assert elements(again)[0].header["t"] == int(q[t_name])
    assert not set(tick) - set(hide.GROUPS) & widget_keys(again)
    assert query(again)["hide"] == parsed.query["hide"]


def test_the_share_panel_of_a_student_link_keeps_its_hidden_controls_hidden():
    at = open_app(STEP, hide="cell")
    link = open_share(at, "step")
    assert at.checkbox(key=share.BOX_KEY.format(page="step", name="cell")).disabled
    assert dict(parse_qsl(urlsplit(link).query))["hide"] == "cell"


def test_the_share_panel_is_on_every_page_and_lists_its_own_controls():
    at = open_app(TRAINING, part="cliff")
    open_share(at, "training")
    boxes = {box.key for box in at.get("checkbox")}
    assert {share.BOX_KEY.format(page="training", name=n) for n in ("part", "cl_b", "cl_tau", "sidebar")} <= boxes
    home = open_app()
    assert "hide" not in open_share(home, "home")


def test_export_ignores_presentation_only_parameters_without_a_note():
    ex = export.build(export.parse_link("Step_through?text=ab&hide=cell,seed&lesson=cell&step=2&t=2"))
    assert ex.notes == () and ex.t == 2
    assert export.main(["Backprop_through_time?text=ab&hide=controls&play=true", "--out", "/tmp/rnnviz-hide-cli",
                        "--no-images"]) == 0


def test_the_cliffs_files_say_the_page_the_figure_and_the_scenario():
    names = set()
    for tau in ("1", "3"):
        at = open_app(TRAINING, part="cliff", cl_tau=tau)
        ok(at)
        (item,) = [item for e in elements(at) for item in e.items]
        names.add(item["filename"])
    assert names == {f"rnnviz-train-cliff-rnn-h1-T50-b-4-wall-lr0.1-n20-tau{tau}" for tau in ("1", "3")}


@pytest.mark.parametrize("locked", ["controls", "sidebar", "sidebar,mode"])
def test_a_locked_student_link_offers_no_share_panel(locked):
    # The teacher builds links; a student's locked view (its sidebar or every control hidden) has no
    # Share popover to build another link, nor its unhide boxes
    at = open_app(BPTT, hide=locked, source="noise", length="30")
    ok(at)
    assert share.PANEL_KEY.format(page="bptt") not in {p.key for p in at.get("popover") if getattr(p, "key", None)}
    assert not any("Share this view" in str(p.proto) for p in at.get("popover"))
    at.session_state[share.PANEL_KEY.format(page="bptt")] = True  # even if a session had it open
    at.run()
    ok(at)
    assert not at.get("code") and not [k for k in widget_keys(at) if k.startswith("_share_")]
    assert hide.locked(hide.parse(query(at)["hide"]))


def test_a_link_hiding_single_controls_keeps_the_share_panel():
    at = open_app(BPTT, hide="cell", source="noise", length="30")
    assert any("Share this view" in str(p.proto) for p in at.get("popover"))
    assert not hide.locked(frozenset({"cell"})) and hide.locked(frozenset({"controls"}))
