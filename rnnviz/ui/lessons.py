"""The lesson player (rnnviz.lessons) and the glossary, on Home and on every page a lesson visits.

A lesson step is a link: its page, its scenario's URL parameters, and lesson=<key>&step=<n>. Next and
Back are links too (st.page_link: in-app navigation, which ui._follow_link turns into exactly the
step's scenario), so every step can be bookmarked, sent or opened in a new tab.
"""

from __future__ import annotations

import streamlit as st

from .. import glossary
from ..config import PARAMS, Param, parse_param
from ..lessons import LESSONS, SCENARIOS, Lesson, facts, render, step_facts
from . import page_link, plain, stored
from .pages import PAGES

LESSON = Param("", {"": "none", **LESSONS.labels()})
ANSWERS_KEY = "_lesson_answers"  # (lesson, step) -> the choice the learner made, once revealed


def step_link(lesson: Lesson, k: int) -> tuple[str, dict[str, str]]:
    """The page file and URL parameters of step k (0-based) of a lesson."""
    step = lesson.steps[k]
    return PAGES[step.page].file, {**step.params, "lesson": lesson.key, "step": str(k + 1)}


@st.cache_data(ttl=3600, max_entries=64, show_spinner="Computing this step's numbers…")
def cached_facts(lesson_key: str, k: int) -> dict:
    return step_facts(LESSONS[lesson_key], k)


def current() -> tuple[Lesson, int] | None:
    """The lesson and step (0-based) the URL names, if any."""
    key = stored("lesson", LESSON)
    if not key:
        return None
    lesson = LESSONS[key]
    k = int(stored("step", Param(1, low=1, high=len(lesson.steps), kind="int"))) - 1
    return lesson, k


def held() -> tuple[str, ...]:
    """What the current lesson step holds back until its question is answered: views' item names or prefixes."""
    now = current()
    if now is None:
        return ()
    lesson, k = now
    step = lesson.steps[k]
    if step.ask is None or (lesson.key, k) in st.session_state.get(ANSWERS_KEY, {}):
        return ()
    return step.hide


def is_held(name: str) -> bool:
    """Is this item (or section) held back by the lesson's question?"""
    return any(name.startswith(prefix) for prefix in held())


def player(page_key: str) -> None:
    """The current lesson step, if the URL names one that is on this page: what to look at, the
    question and its reveal, progress, and links to the previous and next steps."""
    now = current()
    if now is None:
        return
    lesson, k = now
    step = lesson.steps[k]
    if step.page != page_key:
        return
    facts = cached_facts(lesson.key, k)
    n = len(lesson.steps)
    with st.container(border=True):
        st.caption(f"Lesson: {lesson.title} · step {k + 1} of {n}")
        st.progress((k + 1) / n)
        st.markdown(f"**{plain(render(step.title, facts))}** — {plain(render(step.say, facts))}")
        if step.ask is not None:
            _question(lesson, k, facts)
        if not _in_view(step):
            file, query = step_link(lesson, k)
            page_link(st, file, label="The view has changed since this step set it: reopen the step's view",
                      icon=":material/restart_alt:", query_params=query)
        back, forward, leave = st.columns([1, 1, 1])
        if k > 0:
            file, query = step_link(lesson, k - 1)
            page_link(back, file, label="Back", icon=":material/arrow_back:", query_params=query)
        if k + 1 < n:
            file, query = step_link(lesson, k + 1)
            page_link(forward, file, label=f"Next: {render(lesson.steps[k + 1].title, facts_or_blank(lesson, k + 1))}",
                      icon=":material/arrow_forward:", query_params=query)
        else:
            page_link(forward, PAGES["home"].file, label="Lesson done: more lessons", icon=":material/school:",
                      query_params={})
        file = PAGES[page_key].file
        page_link(leave, file, label="Leave the lesson", icon=":material/close:", query_params=dict(step.params))


def facts_or_blank(lesson: Lesson, k: int) -> dict:
    """The next step's facts for its title, if its title needs any (most titles are plain)."""
    title = lesson.steps[k].title
    return cached_facts(lesson.key, k) if "{" in title else {}


def _question(lesson: Lesson, k: int, facts: dict) -> None:
    """Ask first: a choice; Reveal shows the right answer and why."""
    ask = lesson.steps[k].ask
    answers = st.session_state.setdefault(ANSWERS_KEY, {})
    choices = [render(c, facts) for c in ask.choices]
    key = f"ask-{lesson.key}-{k}"
    picked = st.radio(plain(render(ask.prompt, facts)), range(len(choices)), format_func=lambda i: plain(choices[i]),
                      index=None, key=key, disabled=(lesson.key, k) in answers)
    if (lesson.key, k) not in answers:
        if lesson.steps[k].hide:
            st.caption(":material/visibility_off: Make your prediction first: the parts of the page that show the "
                       "answer are held back until you press Reveal.")
        if st.button("Reveal", key=f"{key}-reveal", type="primary", disabled=picked is None,
                     help="Choose your prediction first."):
            answers[(lesson.key, k)] = picked
            st.rerun()
        return
    right = ask.answer(facts)
    said = answers[(lesson.key, k)]
    verdict = "Right." if said == right else f"Not quite: the answer is “{choices[right]}”."
    (st.success if said == right else st.warning)(plain(f"{verdict} {render(ask.why, facts)}"))


def _in_view(step) -> bool:
    """Does the page show the step's scenario (the session's values are the step's)?"""
    values = st.session_state.get("_values", {})
    for name, raw in step.params.items():
        param = PARAMS.get(name)
        if param is None or name not in values:
            continue
        if parse_param(name, raw, param)[0] != values[name]:
            return False
    return True


def home_cards() -> None:
    """Every lesson on the home page: what it teaches, how many steps, and a link to its first step."""
    cols = st.columns(2)
    for j, lesson in enumerate(LESSONS.values()):
        with cols[j % 2].container(border=True):
            st.markdown(f"#### {plain(lesson.title)}")
            st.markdown(plain(lesson.summary))
            pages = " → ".join(dict.fromkeys(PAGES[s.page].label for s in lesson.steps))
            st.caption(f"{len(lesson.steps)} steps · {pages}")
            file, query = step_link(lesson, 0)
            page_link(st, file, label="Start the lesson", icon=":material/school:", query_params=query)


@st.cache_data(ttl=3600, max_entries=32, show_spinner=False)
def cached_card_facts(k: int) -> dict:
    return facts(SCENARIOS[k].step)


def scenario_cards(page_key: str) -> None:
    """The prepared scenarios of one page, each with what it shows (numbers from the engine) and its link."""
    cards = [(k, card) for k, card in enumerate(SCENARIOS) if card.step.page == page_key]
    cols = st.columns(2)
    for j, (k, card) in enumerate(cards):
        with cols[j % 2].container(border=True):
            card_facts = cached_card_facts(k)
            st.markdown(f"#### {plain(render(card.step.title, card_facts))}")
            st.markdown(plain(render(card.step.say, card_facts)))
            page = PAGES[page_key]
            page_link(st, page.file, label=f"Open in {page.label}", icon=":material/play_arrow:",
                      query_params=card.step.params)


def terms(keys) -> None:
    """The page's technical terms, each explained in plain words, one click away."""
    # One Markdown element, not two per term: every element is a message and a React update on every
    # rerun, and a page's 23 terms were half of all it sent (46 of 93 elements).
    with st.popover("Terms on this page", icon=":material/menu_book:"):
        st.markdown(glossary_markdown(keys))


def glossary_markdown(keys) -> str:
    """The terms with these keys as one Markdown text: each term in bold, its explanation under it in grey."""
    return "\n\n".join(f"**{plain(term.term)}**  \n:gray[{plain(term.plain)}]" for term in glossary.terms_for(keys))
