"""Guided lessons: every step opens its scenario, asks before it tells, and states only the engine's numbers."""

from __future__ import annotations

import re
import unicodedata

import pytest

from rnnviz.config import PARAMS, parse_param
from rnnviz.lessons import LESSONS, SCENARIOS, facts, render, step_facts
from rnnviz.ui.pages import PAGES

from .conftest import blocks, charts, open_app

STEPS = [(lesson.key, k) for lesson in LESSONS.values() for k in range(len(lesson.steps))]
# placeholders, and notation: symbols like h_0 or c_1, "t = 1" (the first step), ±1 (tanh's range), (1 − z)
NOTATION = re.compile(r"\{[^}]*\}|\b[A-Za-z]+_[\w−]+|\bt = (1|T)\b|\bσ_max\b|±1|\(1 − z\)")


def texts(step) -> list[str]:
    out = [step.title, step.say]
    if step.ask:
        out += [step.ask.prompt, *step.ask.choices, step.ask.why]
    return out


def test_there_are_five_lessons_of_four_to_eight_steps_each_asking_at_least_once():
    assert len(LESSONS) >= 5
    for lesson in LESSONS.values():
        assert 4 <= len(lesson.steps) <= 8, lesson.key
        assert any(step.ask for step in lesson.steps), lesson.key


@pytest.mark.parametrize("step", [s for lesson in LESSONS.values() for s in lesson.steps] + [c.step for c in SCENARIOS],
                         ids=lambda s: s.title[:30])
def test_no_number_is_written_into_a_lesson_every_one_is_a_fact(step):
    # A number in the text could disagree with the page it opens: every number comes from the engine.
    for text in texts(step):
        bare = NOTATION.sub("", text)
        digits = [ch for ch in bare if unicodedata.category(ch) == "Nd" or unicodedata.numeric(ch, None) is not None]
        assert not digits, f"{text!r} states {digits}"


@pytest.mark.parametrize("key,k", STEPS, ids=[f"{key}-{k + 1}" for key, k in STEPS])
def test_every_step_opens_its_scenario_and_its_text_renders(key, k):
    lesson = LESSONS[key]
    step = lesson.steps[k]
    at = open_app(PAGES[step.page].file, **step.params, lesson=key, step=k + 1)
    assert not at.exception, [e.value for e in at.exception]
    values = at.session_state["_values"]
    for name, raw in step.params.items():  # the controls it claims to set
        if name in PARAMS:
            assert values[name] == parse_param(name, raw, PARAMS[name])[0], name
    assert any(f"step {k + 1} of {len(lesson.steps)}" in c.value for c in at.caption)
    f = step_facts(lesson, k)
    assert any(render(step.title, f).replace("_", "\\_")[:20] in m.value.replace("\\", "\\") for m in at.markdown) \
        or any(render(step.title, f)[:12] in m.value.replace("\\", "") for m in at.markdown)


ASKING = [(key, k) for key, k in STEPS if LESSONS[key].steps[k].ask]


@pytest.mark.usefixtures("preset_runs_folder")  # the training page shows its runs on arrival
@pytest.mark.parametrize("key,k", ASKING, ids=[f"{key}-{k + 1}" for key, k in ASKING])
def test_a_question_holds_the_answer_back_until_reveal(key, k):
    lesson = LESSONS[key]
    step = lesson.steps[k]
    f = step_facts(lesson, k)
    right = step.ask.answer(f)
    at = open_app(PAGES[step.page].file, **step.params, lesson=key, step=k + 1)
    before = len(charts(at)) + len(blocks(at))
    assert any("Make your prediction first" in c.value for c in at.caption)
    assert at.button(key=f"ask-{key}-{k}-reveal").disabled  # choose first
    at.radio(key=f"ask-{key}-{k}").set_value(right).run()
    at.button(key=f"ask-{key}-{k}-reveal").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success and at.success[0].value.replace("\\", "").startswith("Right.")
    why = render(step.ask.why, f)
    assert why[:30] in at.success[0].value.replace("\\", "")
    assert len(charts(at)) + len(blocks(at)) > before  # the picture is revealed with the answer
    assert not any("Make your prediction first" in c.value for c in at.caption)


def test_a_wrong_prediction_is_told_the_answer():
    lesson = LESSONS["vanishing"]
    k = next(k for k, s in enumerate(lesson.steps) if s.ask)
    step = lesson.steps[k]
    wrong = 1 - step.ask.answer(step_facts(lesson, k))
    at = open_app(PAGES[step.page].file, **step.params, lesson=lesson.key, step=k + 1)
    at.radio(key=f"ask-{lesson.key}-{k}").set_value(wrong).run()
    at.button(key=f"ask-{lesson.key}-{k}-reveal").click().run()
    assert at.warning and "Not quite: the answer is" in at.warning[0].value.replace("\\", "")


BPTT_STEPS = [(key, k) for key, k in STEPS if LESSONS[key].steps[k].page == "bptt"]


@pytest.mark.parametrize("key,k", BPTT_STEPS, ids=[f"{key}-{k + 1}" for key, k in BPTT_STEPS])
def test_a_lessons_numbers_are_the_pages(key, k):
    # What the lesson says reaches t = 1 is what the page it opens shows (after the reveal, if it asks)
    lesson = LESSONS[key]
    step = lesson.steps[k]
    f = step_facts(lesson, k)
    at = open_app(PAGES[step.page].file, **step.params, lesson=key, step=k + 1)
    if step.ask:
        at.radio(key=f"ask-{key}-{k}").set_value(step.ask.answer(f)).run()
        at.button(key=f"ask-{key}-{k}-reveal").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Reaches t = 1"] == f["fraction_text"] and metrics["Regime"] == f["regime"]


def test_the_equation_numbers_a_lesson_quotes_are_the_pages():
    lesson = LESSONS["cell"]
    k = 2  # "The past arrives": the recurrent part at t = 2
    step = lesson.steps[k]
    f = step_facts(lesson, k)
    at = open_app(PAGES[step.page].file, **step.params, lesson="cell", step=k + 1)
    lines = blocks(at)[0]
    assert any(f"{f['pre_h_h']:.3g}" in line for line in lines)


@pytest.mark.parametrize("card", [c for c in SCENARIOS if c.step.page == "bptt"], ids=lambda c: c.step.title[:25])
def test_a_home_cards_numbers_are_the_pages(card):
    f = facts(card.step)
    at = open_app(PAGES["bptt"].file, **card.step.params)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Reaches t = 1"] == f["fraction_text"]
    assert f"{f['fraction_text']}" in render(card.step.say, f) or "{factor" in card.step.say


@pytest.mark.parametrize("key", ["home", "step", "bptt", "compare", "setups", "attention"])
def test_a_pages_terms_are_one_markdown_element_of_literal_text(key):
    # One element for every term (it was two per term: half of all a page sent on every rerun).
    from rnnviz.glossary import terms_for
    from rnnviz.ui import plain
    from rnnviz.ui.lessons import glossary_markdown

    page = PAGES[key]
    at = open_app(None if key == "home" else page.file)
    assert not at.exception
    popover = next(p for p in at.get("popover") if "Terms on this page" in str(p.proto))
    assert [child.type for child in popover.children.values()] == ["markdown"]
    text = popover.markdown[0].value
    assert text == glossary_markdown(page.terms)
    for term in terms_for(page.terms):  # in bold, its explanation in grey, every Markdown sign escaped
        assert f"**{plain(term.term)}**  \n:gray[{plain(term.plain)}]" in text
