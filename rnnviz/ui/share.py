"""The "Share this view" panel of every page: a link that reopens this view exactly, hiding what is ticked.

The link is the page's own URL as rnnviz keeps it (every non-default value and the step t: see the
module docstring of rnnviz.ui) with `hide=` set to the ticked controls (rnnviz.hide). The panel is a
popover that fills itself only when opened, in a fragment: by then the page's last full run has met
all its controls (ui.page_controls), and ticking a box reruns the panel alone.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import streamlit as st

from .. import hide
from ..config import PARAMS
from . import _query, hidden, page_controls, plain
from .pages import PAGES

PANEL_KEY = "share-{page}"  # the popover's state (open or not)
BOX_KEY = "_share_{page}_{name}"  # one checkbox per control and group


def url_path(page: str) -> str:
    """The page's path in its URL, as Streamlit names it ("" for Home, the main script)."""
    from ..export import url_path as script_path

    return "" if page == "home" else script_path(page)


def link_text(page: str, query: dict[str, str], base: str = "") -> str:
    """The link to `page` with `query` (raw values; commas kept readable), under `base` (the app's address)."""
    text = "&".join(f"{quote(k, safe='')}={quote(v, safe=',')}" for k, v in query.items())
    return base + url_path(page) + (f"?{text}" if text else "")


def app_base() -> str:
    """The app's address as the browser sees it, ending in "/" ("" when unknown: a relative link)."""
    url = getattr(st.context, "url", None)
    if not url:
        return ""
    parts = urlsplit(url)
    path = parts.path
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if last in {url_path(key) for key in PAGES} - {""}:
        path = path.rstrip("/")[: -len(last)]
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/") + "/", "", ""))


def share_link(page: str, chosen: list[str], base: str = "") -> str:
    """This view's link (the URL as rnnviz wrote it) hiding `chosen`."""
    query = {name: value for name, value in _query().items() if name != hide.NAME}
    names = hide.minimal(chosen)
    if names:
        query[hide.NAME] = ",".join(names)
    return link_text(page, query, base)


@st.fragment
def share_panel(page: str) -> None:
    """The page's Share popover, at the top right; none on a locked student link (hide.locked)."""
    if hide.locked(hidden()):
        return
    row = st.container(horizontal=True, horizontal_alignment="right")
    panel = row.popover("Share this view", icon=":material/share:", key=PANEL_KEY.format(page=page),
                        on_change="rerun", help="A link to this view, for students: tick the controls it hides.")
    if not panel.open:
        return
    with panel:
        _contents(page)


def _contents(page: str) -> None:
    now = hidden()
    labels = page_controls()
    st.markdown("**A link to exactly this view** (every setting and the step). Tick what students should not "
                "change: the link hides it, keeping its value.")
    if now:
        st.caption("This view came from a link that hides controls: a link made here hides them too.")
    chosen = [name for name, text in hide.GROUPS.items() if _box(page, name, text[:1].upper() + text[1:], now)]
    sidebar = [name for name in labels if name in PARAMS]
    own = [name for name in labels if name not in PARAMS]
    for heading, names in (("In the sidebar", sidebar), ("On the page", own)):
        if names:
            st.caption(heading)
            chosen += [name for name in names if _box(page, name, f"{labels[name]} · {name}", now)]
    link = share_link(page, chosen, app_base())
    st.code(link, language=None, wrap_lines=True)  # its copy button copies it
    hides = hide.described(chosen, labels)
    if hides:
        st.markdown("**The link hides:**\n" + "\n".join(f"- {plain(line)}" for line in hides))
    else:
        st.markdown("**The link hides nothing:** every control shows.")


def _box(page: str, name: str, label: str, now: frozenset[str]) -> bool:
    """One checkbox; a control the current link hides is ticked and cannot be unticked."""
    key = BOX_KEY.format(page=page, name=name)
    locked = name in now if name in hide.GROUPS else hide.hides(now, name)
    if locked:
        st.session_state[key] = True
    return st.checkbox(plain(label), key=key, disabled=locked)
