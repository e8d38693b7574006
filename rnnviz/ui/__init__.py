"""Streamlit helpers every page uses: page setup, the shared sidebar, caching, chart options.

The pages' own helpers that need Streamlit's session live beside this module: ui.pages (the
table of pages), ui.training (the Clipping page's controls and its store of training runs).

Controls live in the URL, so a copied link reopens the same view, and persist across pages.
rnnviz owns the URL sync rather than Streamlit's bind="query-params", because a bound widget
silently drops a value it cannot read, and a seeded widget can fall back to its own default on a
page switch. Instead:
- the session keeps one plain dict of control values (VALUES_KEY), which survives page switches;
- on a session's first run each raw URL value is checked by rnnviz.config (numbers clamped,
  unreadable values replaced by defaults, with a short visible note) and stored there;
- every run writes the stored value into the widget's state before the widget is created, and
  the widget's on_change copies the user's change back;
- after the widgets, every non-default value is written to st.query_params, and what was written is
  remembered (WRITTEN_KEY);
- a URL that differs from what was written, and names any control, is a link the user followed
  (a lesson card, a lesson step, a pasted link): it wins over the session's values, and the
  controls it does not name take their defaults, so it opens exactly its scenario.
The step t is moved in the browser (ui/client.py): the browser writes it into the URL at once and
tells the server after a pause, through a small fragment, so no figure is sent again for it.
"""

from __future__ import annotations

import streamlit as st

from .. import config as cfgmod
from ..cells import overlay_cells
from ..config import PARAMS, Config, Display, Param, parse_param, url_value
from ..studies.bptt import BpttStudy, CellGradients, cell_gradients
from ..studies.bptt import build as build_bptt_study
from ..studies.step import StepStudy
from ..studies.step import build as build_step_study
from ..views import Stepping, View
from . import client
from .pages import PAGES

NOTES_KEY = "_url_notes"
VALUES_KEY = "_values"  # control name -> value: the session's truth, across pages
WRITTEN_KEY = "_url_written"  # the query parameters this session last wrote
STEP_VERSION_KEY = "_step_version"  # bumped whenever the server moves t (a followed link)
PRESENT_FONT = "21px"  # rnnviz's own text in presentation mode (Streamlit's: see present_css)


def page(key: str, scenario_controls: bool = True) -> tuple[Config, Display]:
    """Set up the page `key` of ui.pages.PAGES: title, the shared sidebar, URL notes.

    Returns the scenario's Config (what to compute) and the Display (how to draw it).
    scenario_controls=False keeps only navigation and presentation mode in the sidebar, for a
    page that does not draw the shared scenario (its other values stay stored and in the URL).
    """
    st.set_page_config(page_title=f"{PAGES[key].label} · rnnviz", page_icon="🔁", layout="wide")
    _follow_link(PAGES[key].params)
    controls = sidebar(scenario_controls)
    show_notes()
    return controls


MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()#+-.!|<>$~:"})


def plain(text: str) -> str:
    """Text for st.markdown and friends shown as it is: every Markdown, HTML and LaTeX sign escaped."""
    return str(text).translate(MARKDOWN)


def _values() -> dict:
    return st.session_state.setdefault(VALUES_KEY, {})


def _query() -> dict[str, str]:
    return {k: st.query_params.get(k) for k in st.query_params}


def _written() -> None:
    """Remember the URL as this session wrote it (see _follow_link)."""
    st.session_state[WRITTEN_KEY] = _query()


def _follow_link(page_params: tuple[str, ...]) -> None:
    """A URL the session did not write, naming a control of this page, is a followed link: it wins.

    Its values are read afresh (checked, with notes), and every control of the page it does not
    name takes its default; controls of other pages keep the session's values.
    """
    written = st.session_state.get(WRITTEN_KEY)
    query = _query()
    names = (*PARAMS, *page_params)
    if written is None or query == written or not any(name in query for name in names):
        return
    values, notes = _values(), st.session_state.setdefault(NOTES_KEY, {})
    for name in names:
        values.pop(name, None)
        notes.pop(name, None)
    st.session_state[STEP_VERSION_KEY] = st.session_state.get(STEP_VERSION_KEY, 0) + 1


def stored(name: str, param: Param):
    """The stored value of a control, read from the URL (checked) on its first use."""
    values = _values()
    if name not in values:
        raw = st.query_params.get(name)
        value, note = (param.default, None) if raw is None else parse_param(name, raw, param)
        values[name] = value
        if note is not None:
            st.session_state.setdefault(NOTES_KEY, {})[name] = note
    return values[name]


def from_url(name: str, param: Param) -> None:
    """Before a widget is created: give it the stored value."""
    st.session_state[name] = stored(name, param)


def _remember(name: str) -> None:
    """on_change: keep the user's new value."""
    _values()[name] = st.session_state[name]


def control(widget, label: str, name: str, *args, param: Param | None = None, **kwargs):
    """A widget whose value lives in the session's store and the URL; returns its value."""
    param = param or PARAMS[name]
    from_url(name, param)
    if param.kind in ("int", "float"):  # a range that shrank since (unit 7 after H drops to 4)
        st.session_state[name] = _values()[name] = min(max(_values()[name], param.low), param.high)
    options = args[0] if args and isinstance(args[0], list) else None
    if options is not None and _values()[name] not in options:  # e.g. a URL value between two stops
        value = _values()[name]
        nearest = min(options, key=lambda o: abs(o - value)) if param.kind in ("int", "float") else options[0]
        st.session_state.setdefault(NOTES_KEY, {})[name] = f"{name}={value} is not one of the choices; using {nearest}."
        st.session_state[name] = _values()[name] = nearest
    widget(label, *args, key=name, on_change=_remember, args=(name,), **kwargs)
    return _values()[name]


def choice(widget, label: str, name: str, *, param: Param | None = None, **kwargs):
    """A control over a choice (a selectbox, a segmented control): its keys, shown by their labels.

    Without `param`, one of the shared controls (config.PARAMS); with it, a page's own control,
    kept in the URL like page_control's.
    """
    if param is None:
        choices = PARAMS[name].choices
        return control(widget, label, name, list(choices), format_func=choices.get, **kwargs)
    return page_control(widget, label, name, param, list(param.choices), format_func=param.choices.get, **kwargs)


def to_url(params: dict[str, Param]) -> None:
    """After the widgets: write every non-default value to the URL, drop the default ones."""
    values = _values()
    for name, param in params.items():
        value = values.get(name, param.default)
        if value == param.default:
            if name in st.query_params:
                del st.query_params[name]
        else:
            text = url_value(param, value)
            if st.query_params.get(name) != text:
                st.query_params[name] = text
    _written()


def show_notes(names=None) -> None:
    """A short note on the URL values that were changed (the shared ones, or `names`)."""
    notes = st.session_state.get(NOTES_KEY, {})
    shown = [note for name, note in notes.items() if (name in PARAMS if names is None else name in names)]
    if shown:
        st.info("**This link had values rnnviz could not use as they were:** " + " ".join(shown),
                icon=":material/build:")


def sidebar(scenario_controls: bool = True) -> tuple[Config, Display]:
    """The shared controls, in the sidebar; returns the Config and the Display they describe."""
    sb = st.sidebar
    for p in PAGES.values():
        sb.page_link(p.file, label=p.label, icon=p.icon)
    if scenario_controls:
        _scenario_controls(sb)
    sb.markdown("### Display")
    control(sb.toggle, "Presentation mode", "present", help="Large text and thick lines for a projector.")
    v = {name: stored(name, param) for name, param in PARAMS.items()}  # shown or not, all kept
    to_url(PARAMS)
    cfg = Config(cell=v["cell"], hidden=int(v["hidden"]), source=v["source"], text=v["text"] or "",
                 length=int(v["length"]), task=v["task"], seed=int(v["seed"]), init=v["init"],
                 radius=float(v["radius"]), input_scale=float(v["input_scale"]), forget_bias=v["forget_bias"])
    return cfg, Display(present=bool(v["present"]))


def _scenario_controls(sb) -> None:
    """The network and input controls of the shared scenario."""
    sb.markdown("### The network")
    choice(sb.selectbox, "Cell", "cell", help="Which recurrent cell steps through the sequence.")
    control(sb.slider, "Hidden size H", "hidden", 1, 64,
            help="Number of hidden units (and cell-state units for the LSTM).")
    init = choice(sb.selectbox, "Weight initialisation", "init",
                  help="PyTorch's default: every weight from U(-1/√H, 1/√H). Or rescale each "
                        "H×H block of W_hh to a chosen spectral radius (largest |eigenvalue|).")
    if init == "radius":
        control(sb.slider, "Spectral radius of W_hh", "radius", 0.1, 2.0, step=0.05,
                help="Below 1 the recurrence contracts (memories fade); above 1 it expands.")
    choice(sb.selectbox, "LSTM forget-gate bias", "forget_bias",
           help="For the LSTM (also when it is overlaid for comparison): a positive bias opens "
                "the forget gate (f ≈ 1), so the cell state, and its gradient, last longer.")
    control(sb.number_input, "Seed", "seed", 0, 99_999, step=1, help="Same seed, same weights and same random input.")
    sb.markdown("### The input")
    source = choice(sb.selectbox, "Input", "source")
    if source == "text":
        control(sb.text_area, "Text (one character per step)", "text", max_chars=cfgmod.MAX_TEXT, height=90)
    else:
        if source == "task":
            choice(sb.selectbox, "Task", "task", help="Long-dependency tasks as defined by Pascanu et al. (2013).")
        control(sb.slider, "Sequence length T", "length", 2, 1000)
    control(sb.slider, "Input scale", "input_scale", 0.1, 10.0, step=0.1,
            help="Multiplies every input. Large inputs drive tanh and sigmoid units into saturation.")


# --- the studies, cached: keyed by the Config (and page controls), never by the Display ----------


@st.cache_data(max_entries=64, show_spinner=False)
def cached_step_study(cfg: Config) -> StepStudy:
    return build_step_study(cfg)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_cell_gradients(cfg: Config, loss_on: str) -> CellGradients:
    return cell_gradients(cfg, loss_on)


@st.cache_data(max_entries=32, show_spinner="Backpropagating through time…")
def cached_bptt_study(cfg: Config, loss_on: str) -> BpttStudy:
    """The study; the overlay cells come from their own cache, so switching cells reuses them."""
    others = {c: cached_cell_gradients(cfg.with_(cell=c), loss_on) for c in overlay_cells(cfg.cell)}
    return build_bptt_study(cfg, loss_on, others=others)


def step_study(cfg: Config) -> StepStudy:
    """The Step-through study, cached; bad input stops the page with a clear message."""
    return _guarded(cached_step_study, cfg, empty="to step through it")


def bptt_study(cfg: Config, loss_on: str) -> BpttStudy:
    """The Backprop-through-time study, cached; bad input stops the page with a clear message."""
    return _guarded(cached_bptt_study, cfg, loss_on)


def _guarded(study, cfg: Config, *args, empty: str = ""):
    """study(cfg, *args), or a clear message and st.stop() for an empty text or input rnnviz rejects."""
    if cfg.source == "text" and not cfg.text.strip():
        st.warning("The text is empty. Type at least one character in the sidebar" + (f" {empty}." if empty else "."))
        st.stop()
    try:
        return study(cfg, *args)
    except ValueError as err:
        st.error(f"rnnviz cannot run this input: {err}")
        st.stop()


def page_control(widget, label: str, name: str, param: Param, *args, **kwargs):
    """A page-specific control kept in the URL like the shared ones (e.g. the unit j)."""
    value = control(widget, label, name, *args, param=param, **kwargs)
    to_url({name: param})
    show_notes([name])
    return value


def set_values(values: dict) -> None:
    """Set stored control values (a preset): every widget shows them on the next run."""
    _values().update(values)


def cached(fn):
    """st.cache_data for a pure rnnviz function (e.g. a loss surface)."""
    return st.cache_data(show_spinner=False, max_entries=16)(fn)


def show(view: View, section: str, display: Display, *, key: str, step: client.Step | None = None) -> None:
    """One section of a view (views/): its figures and text blocks in rnnviz's element, exports named by the view.

    Items a lesson's open question holds back (ui.lessons.held) are left out until it is answered.
    """
    from .lessons import is_held

    shown = [item for item in view.sections[section] if not is_held(item.name)]
    if not shown:
        return
    items = [client.Item(figure=item.figure, block=item.block, title=item.title, caption=item.caption,
                         half=item.half, filename=view.filename(item)) for item in shown]
    client.figures(items, step, key=key, font=PRESENT_FONT if display.present else None)


def figure(fig, display: Display, *, name: str, caption: str = "", key: str | None = None) -> None:
    """One figure that is not part of a view (a page's one-off), full width; exports as rnnviz-<name>."""
    client.figures([client.Item(fig, caption=caption, filename=f"rnnviz-{name}")], None, key=key or f"fig-{name}",
                   font=PRESENT_FONT if display.present else None)


def slug(cfg: Config) -> str:
    return cfgmod.slug(cfg)


def weights_note(cfg: Config) -> None:
    """Say whether the weights are random or trained, and what that means for what is drawn."""
    st.caption(f"**Random weights** (PyTorch's initialisation, seed {cfg.seed}): every number is the real computation, "
               "but nothing has been learned, so gates hover near 0.5 and no unit means anything yet.")


def step(stepping: Stepping, **control) -> client.Step:
    """The step t of a view (in the session and the URL), for ui.show; then call sync_step.

    The browser keeps its own t while the view stays the same, and takes the server's when the
    view changes or the server moved t itself (a followed link).
    """
    key, T = stepping.param, stepping.T
    param = Param(1, low=1, high=T, kind="int")
    t = stored(key, param)
    if not 1 <= t <= T:  # the sequence got shorter since
        t = _values()[key] = min(max(int(t), 1), T)
    show_notes([key])
    to_url({key: param})
    return client.Step(T=T, t=int(t), labels=stepping.labels, view=stepping.view,
                       version=st.session_state.get(STEP_VERSION_KEY, 0), label=stepping.label,
                       text=stepping.text, direction=stepping.direction, **control)


@st.fragment
def sync_step(view: str, T: int, key: str = "t") -> None:
    """Hear the browser's t (after it settles) into the session and the URL: a fragment rerun of
    this function alone, which sends no figure."""
    param = Param(1, low=1, high=T, kind="int")

    def heard() -> None:
        value = (st.session_state.get(f"_sync_{key}") or {}).get("t")
        if value is not None:
            _values()[key] = min(max(int(value), 1), T)
            to_url({key: param})

    client.step_sync(view, int(_values().get(key, 1)), param=key, key=f"_sync_{key}", on_change=heard)
