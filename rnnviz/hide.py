"""Student links: `?hide=cell,hidden,seed` hides those controls (after TensorFlow Playground's `_hide` links).

A link names the controls to hide by their URL names, or `sidebar` (the whole sidebar) or `controls`
(every control but the step control and the lesson's navigation). A hidden control keeps its value,
from the link or the session, and stays in the URL; it is just not drawn. The names come from the
app's two lists, config.PARAMS (the sidebar's controls) and pages.PAGES (each page's own), so a control
added there can be hidden without a word here. Nothing here imports Streamlit.
"""

from __future__ import annotations

from .config import PARAMS, Note, Param, shown
from .pages import LESSON_PARAMS, PAGES

NAME = "hide"  # the URL parameter
PARAM = Param("", kind="text")  # its value as rnnviz writes it back: known names, comma-separated, in order
SIDEBAR = "sidebar"
CONTROLS = "controls"
GROUPS = {SIDEBAR: "the whole sidebar (its page links and every control in it)",
          CONTROLS: "every control but the step control and the lesson's navigation"}
STEP_PARAMS = ("t", "reached", "play", "speed")  # the step control's own URL names: it always shows
KEPT = (*STEP_PARAMS, *LESSON_PARAMS)  # never hidden: what a student moves through the view with


def controls() -> tuple[str, ...]:
    """Every control's URL name, the sidebar's first, then each page's own, in the order the lists give them."""
    names = dict.fromkeys(PARAMS)
    for page in PAGES.values():
        names.update(dict.fromkeys(name for name in page.params if name not in KEPT))
    return tuple(names)


def check(raw: str) -> tuple[str, Note | None]:
    """(value, note): the names of `raw` that rnnviz can hide, comma-separated, each once, in the
    link's order (any case, spaces ignored); a Note quoting the names it ignored, if any."""
    known = {name.lower(): name for name in (*GROUPS, *controls())}
    words = [word.strip() for word in str(raw).split(",")]
    kept = dict.fromkeys(known[w.lower()] for w in words if w.lower() in known)
    unknown = [w for w in dict.fromkeys(words) if w and w.lower() not in known]
    note = None
    if unknown:
        note = Note(NAME, shown(",".join(unknown)),
                    f"{'names' if len(unknown) > 1 else 'is'} no control rnnviz can hide; ignored. A link can hide "
                    f"the {SIDEBAR}, every control ({CONTROLS}) or single controls by their names in the URL, such "
                    f"as cell, hidden or seed; {', '.join(KEPT[:-1])} and {KEPT[-1]} always stay.")
    return ",".join(kept), note


def parse(value: str) -> frozenset[str]:
    """The set of names in a value as check() writes it."""
    return frozenset(name for name in value.split(",") if name)


def hides(hidden: frozenset[str], name: str) -> bool:
    """Does a link hiding `hidden` hide the control `name`?"""
    if name in KEPT:
        return False
    return name in hidden or CONTROLS in hidden or (SIDEBAR in hidden and name in PARAMS)


def locked(hidden: frozenset[str]) -> bool:
    """Is a link hiding `hidden` a locked student view (the sidebar or every control hidden)? Such a view
    offers no Share panel: the teacher builds links; a student's link is for following, not for unhiding."""
    return SIDEBAR in hidden or CONTROLS in hidden


def minimal(chosen: list[str]) -> list[str]:
    """The names a link needs for `chosen` (groups first): none a group already covers."""
    groups = [g for g in GROUPS if g in chosen]
    covered = frozenset(groups)
    return groups + [name for name in dict.fromkeys(chosen) if name not in GROUPS and not hides(covered, name)]


def described(chosen: list[str], labels: dict[str, str]) -> list[str]:
    """What a link hiding `chosen` hides, in words, one line per name (labels: name -> the control's label)."""
    return [GROUPS[name] if name in GROUPS else f"{labels.get(name, name)} ({name})" for name in minimal(chosen)]
