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
A student link (?hide=…, rnnviz.hide) is kept the same way, as the session's value of `hide`:
control() draws no widget for a control it hides, sidebar() nothing at all under hide=sidebar, and
page_link() adds it to the app's own links (lessons, scenario cards), which would otherwise win
without it. ui/share.py builds such links.
"""

from __future__ import annotations

import re
from dataclasses import replace

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from .. import config as cfgmod
from .. import hide
from ..cells import CELLS, overlay_cells
from ..config import PARAMS, Config, Display, Note, Param, check_param, is_blank, snap, url_value
from ..studies import attention as attention_studies
from ..studies import setups as setups_studies
from ..studies import stack as stack_studies
from ..studies.attention import AttentionStudy
from ..studies.bptt import BpttStudy, CellGradients, cell_gradients, partner_configs
from ..studies.bptt import build as build_bptt_study
from ..studies.setups import SetupsStudy
from ..studies.stack import StackGradients, StackStudy
from ..studies.step import StepStudy
from ..studies.step import build as build_step_study
from ..trained import fitted
from ..views import Stepping, View
from . import client, present
from .cache import STUDIES, freeze_modules, memo
from .pages import PAGES

NOTES_KEY = "_url_notes"  # control name -> config.Note: what the page did with the link's values
NOTES_PAGE_KEY = "_url_notes_page"  # the page those notes belong to
NOTES_BOX_KEY = "_url_notes_box"  # [placeholder, the Markdown it shows]: the page's one note box, this run
REPEATS_KEY = "_url_repeats"  # name -> how many times the link gave it (only names given more than once)
VALUES_KEY = "_values"  # control name -> value: the session's truth, across pages
WRITTEN_KEY = "_url_written"  # the query parameters this session last wrote
STEP_VERSION_KEY = "_step_version"  # bumped whenever the server moves t (a followed link)
CONTROLS_KEY = "_controls"  # [page, {name: label}]: the controls this run of the page met, drawn or hidden
LAST_CONTROLS_KEY = "_controls_last"  # the same, of the page's previous full run (the Share panel's list)
PRESENT_FONT = "21px"  # rnnviz's own text in presentation mode (Streamlit's: see present_css)
MAX_NOTES = 5  # lines in the note box; past that, the other names in one line


def page(key: str, scenario_controls: bool = True) -> tuple[Config, Display]:
    """Set up the page `key` of ui.pages.PAGES: title, the shared sidebar, the note on the link's values.

    Returns the scenario's Config (what to compute) and the Display (how to draw it).
    scenario_controls=False keeps only navigation and presentation mode in the sidebar, for a
    page that does not draw the shared scenario (its other values stay stored and in the URL).
    """
    st.set_page_config(page_title=f"{PAGES[key].label} · rnnviz", page_icon="🔁", layout="wide")
    _guard_errors()
    freeze_modules()  # Streamlit's collection after each run then skips the libraries' objects
    st.session_state[REPEATS_KEY] = _single_values()
    _follow_link(PAGES[key].params)
    if stored("present", PARAMS["present"]):  # a hall: the sidebar starts closed (its arrow reopens it)
        st.set_page_config(initial_sidebar_state="collapsed")
    if st.session_state.get(NOTES_PAGE_KEY) != key:  # notes belong to the page the link opened
        st.session_state[NOTES_KEY] = {}
        st.session_state[NOTES_PAGE_KEY] = key
    st.session_state[NOTES_BOX_KEY] = [st.empty(), ""]  # the page's one note box, kept up to date by _note
    _start_controls(key)
    cfg, display = sidebar(scenario_controls)
    present.apply(display.present)
    show_notes()
    from .share import share_panel  # it builds on this module

    share_panel(key)
    return cfg, display


def _start_controls(key: str) -> None:
    """A new full run of the page `key`: the controls it meets are listed afresh (control() adds them)."""
    now = st.session_state.get(CONTROLS_KEY)
    st.session_state[LAST_CONTROLS_KEY] = now[1] if now and now[0] == key else {}
    st.session_state[CONTROLS_KEY] = [key, {}]


def page_controls() -> dict[str, str]:
    """The controls of the page (name -> label) as its last full run met them, hidden ones too.

    In a full run the page's own controls come after this is asked (they are drawn below the
    sidebar), so it gives the previous run's list; in a fragment's rerun, this run's.
    """
    ctx = get_script_run_ctx()
    fragment = ctx is not None and bool(ctx.fragment_ids_this_run)
    current = st.session_state.get(CONTROLS_KEY) or [None, {}]
    return dict(current[1]) if fragment else dict(st.session_state.get(LAST_CONTROLS_KEY, {}))


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


def _single_values() -> dict[str, int]:
    """A parameter given more than once (?cell=gru&cell=lstm) keeps its last value, the one
    st.query_params reads, and the URL is rewritten with that one. Returns name -> times given."""
    repeats = {name: len(values) for name in st.query_params if len(values := st.query_params.get_all(name)) > 1}
    if repeats:
        st.query_params.update({name: st.query_params.get_all(name)[-1] for name in repeats})
    return repeats


def _follow_link(page_params: tuple[str, ...]) -> None:
    """A URL the session did not write, naming a control of this page, is a followed link: it wins.

    Its values are read afresh (checked, with notes), and every control of the page it does not
    name takes its default; controls of other pages keep the session's values.
    """
    written = st.session_state.get(WRITTEN_KEY)
    query = _query()
    names = (*PARAMS, *page_params, hide.NAME)  # a link's hide wins too (a student link stays one)
    if written is None or query == written or not any(name in query for name in names):
        return
    values, notes = _values(), _notes()
    for name in names:
        values.pop(name, None)
        notes.pop(name, None)
    st.session_state[STEP_VERSION_KEY] = st.session_state.get(STEP_VERSION_KEY, 0) + 1


def stored(name: str, param: Param):
    """The stored value of a control, read from the URL (checked, with a note) on its first use."""
    values = _values()
    if name not in values:
        raw = st.query_params.get(name)
        value, note = (param.default, None) if raw is None else check_param(name, raw, param)
        times = st.session_state.get(REPEATS_KEY, {}).get(name, 1)
        if times > 1:  # say which of the values counted
            note = (replace(note, said=f"(the last of its {times} values) {note.said}") if note is not None
                    else Note(name, cfgmod.shown(raw), f"was the last of its {times} values in the link; using it."))
        values[name] = value
        if note is not None:
            _note(note)
            to_url({name: param})  # the link's value is replaced in the URL too, even for a control not drawn
    return values[name]


def hidden() -> frozenset[str]:
    """The names the link hides (?hide=…, see rnnviz.hide), read from the URL on first use and kept
    for the session like a control's value (a note names those rnnviz ignored)."""
    values = _values()
    if hide.NAME not in values:
        raw = st.query_params.get(hide.NAME)
        values[hide.NAME], note = ("", None) if raw is None else hide.check(raw)
        if note is not None:
            _note(note)
            to_url({hide.NAME: hide.PARAM})
    return hide.parse(values[hide.NAME])


def is_hidden(name: str) -> bool:
    """Does the link hide the control `name` (by its name, or as part of the sidebar or of every control)?"""
    return hide.hides(hidden(), name)


def link_params(query: dict[str, str]) -> dict[str, str]:
    """A link's query with this session's hide and presentation mode added: a student's link leads only
    to student links, and a lecturer presenting stays in presentation mode from lesson step to step."""
    hidden()  # read from the URL if not yet
    values = _values()
    kept = {hide.NAME: values[hide.NAME]} if values[hide.NAME] else {}
    if values.get("present"):
        kept["present"] = url_value(PARAMS["present"], True)
    return {**query, **kept}


def page_link(container, file: str, *, label: str, icon: str, query_params: dict[str, str]) -> None:
    """An in-app link that opens `file` with `query_params` (a followed link: it wins), keeping a student
    link's hide."""
    container.page_link(file, label=label, icon=icon, query_params=link_params(query_params))


def from_url(name: str, param: Param) -> None:
    """Before a widget is created: give it the stored value."""
    st.session_state[name] = stored(name, param)


def _remember(name: str) -> None:
    """on_change: keep the user's new value (and drop the note on the link's value it replaces)."""
    _values()[name] = st.session_state[name]
    if _notes().pop(name, None) is not None:
        show_notes()


def control(widget, label: str, name: str, *args, param: Param | None = None, **kwargs):
    """A widget whose value lives in the session's store and the URL; returns its value.

    The stored value is fitted to the widget before it is drawn: into its range (silently: a range
    that shrank since, like unit j after H drops), onto its options or its step (with a note: a
    link's value between two stops).
    """
    param = param or PARAMS[name]
    from_url(name, param)
    values = _values()
    if param.kind in ("int", "float"):
        values[name] = min(max(values[name], param.low), param.high)
        grid = kwargs.get("step") or param.step
        if grid and not (param.kind == "int" and grid == 1):  # an int's whole numbers: checked by check_param
            values[name], note = snap(name, values[name], replace(param, step=grid))
            if note is not None:
                _note(note)
    if param.kind == "text" and len(values[name]) > param.high:  # typed or pasted past the limit
        values[name], note = check_param(name, values[name], param)
        if note is not None:
            _note(note)
    options = args[0] if args and isinstance(args[0], list) else None
    if options is not None and values[name] not in options:  # e.g. a URL value between two stops
        value = values[name]
        nearest = min(options, key=lambda o: abs(o - value)) if param.kind in ("int", "float") else options[0]
        _note(Note(name, cfgmod.shown(url_value(param, value)), f"is not one of the choices; using {nearest}."))
        values[name] = nearest
    met = st.session_state.get(CONTROLS_KEY)
    if met is not None:
        met[1][name] = label
    if is_hidden(name):  # a student link: the value is kept, no widget is drawn to change it
        return values[name]
    st.session_state[name] = values[name]
    widget(label, *args, key=name, on_change=_remember, args=(name,), **kwargs)
    return values[name]


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
            if st.query_params.get_all(name) != [text]:
                st.query_params[name] = text
    _written()


# --- the note on a link's values: one box per page, user text shown literally ---------------------


def _notes() -> dict[str, Note]:
    return st.session_state.setdefault(NOTES_KEY, {})


def _note(note: Note) -> None:
    """Keep a note on a control's URL value (one per control: a later one keeps the value first quoted)."""
    notes = _notes()
    old = notes.get(note.name)
    notes[note.name] = replace(note, given=old.given) if old is not None and old.given is not None else note
    show_notes()


def show_notes(names=None) -> None:
    """Draw the page's note box with every note this page has made so far (`names` is ignored: the
    box is the page's, one for all its controls, and follows every new note by itself)."""
    box = st.session_state.get(NOTES_BOX_KEY)
    ctx = get_script_run_ctx()
    if box is None or (ctx is not None and ctx.fragment_ids_this_run):  # a fragment may not draw outside itself
        return
    markdown = notes_markdown(list(_notes().values()))
    if markdown != box[1]:
        if markdown:
            box[0].info(markdown, icon=":material/build:")
        else:
            box[0].empty()
        box[1] = markdown


def notes_markdown(notes: list[Note]) -> str:
    """The note box's Markdown: rnnviz's words around each value as given, which is shown literally."""
    if not notes:
        return ""
    lines = [note_markdown(n) for n in notes[:MAX_NOTES]]
    if len(notes) > MAX_NOTES:
        lines.append(f"and {', '.join(n.name for n in notes[MAX_NOTES:])}: each replaced the same way.")
    head = "**This link had values rnnviz could not use as they were:**"
    return f"{head} {lines[0]}" if len(lines) == 1 else head + "\n\n" + "\n".join(f"- {line}" for line in lines)


def note_markdown(note: Note) -> str:
    """One note as Markdown: "cell=`<the value>` is not one of …"; the words are rnnviz's own."""
    if note.given is None:
        return f"{note.name} {note.said}"
    return f"{note.name}={literal_markdown(note.given)} {note.said}"


PLAIN = re.compile(r"[A-Za-z0-9.+-]+")  # text that no Markdown, nor Streamlit's additions to it, reads as markup
ICON_PREFIX = re.compile(r"(?<=:material)(?=/)")  # Streamlit rewrites ":material/" everywhere, code spans too


def literal_markdown(text: str) -> str:
    """Markdown that shows `text` exactly as it is, never as markup (no link, image, HTML, LaTeX, emoji).

    Plain words and numbers stay as they are; anything else becomes inline code, which Markdown
    shows character for character and which Streamlit's shortcodes, colours, LaTeX and autolinks
    never look into: each span fenced by more backticks than the text holds in a row (and spaced
    from a backtick at either end), the whole
    wrapped in Unicode isolates (U+2068 ... U+2069) so right-to-left text cannot reorder the note
    around it. Streamlit rewrites ":material/" even inside code, so the text is cut there into two
    spans (joined by isolates: nothing visible). The text must hold no line breaks (config.shown
    writes them as \\u000a).
    """
    if not text or (PLAIN.fullmatch(text) and "www" not in text.lower()):
        return text
    spans = []
    for part in ICON_PREFIX.split(text):
        fence = "`" * (max((len(run) for run in re.findall("`+", part)), default=0) + 1)
        pad = " " if part[0] == "`" or part[-1] == "`" or (part[0] == part[-1] == " " and part.strip()) else ""
        spans.append(f"{fence}{pad}{part}{pad}{fence}")  # Markdown takes one space off each end
    return "\u2068" + "\u2069\u2068".join(spans) + "\u2069"


# --- unexpected errors: a plain message, never a traceback, unless a developer asked for them -----

ERROR_KEY = "rnnviz-error"
ERROR_MESSAGE = ("**rnnviz ran into an unexpected problem and could not finish this page.** Nothing you set is lost: "
                 "change a setting, or open the Home page from the sidebar and start again. (The details went to "
                 "the server's log.)")


def _guard_errors() -> None:
    """Show an unexpected exception of this session's scripts as rnnviz's own short message.

    Streamlit calls the session's on_script_error handler with every uncaught exception of a run
    or a fragment, after logging it with its traceback. Under client.showErrorDetails = "full"
    (a developer's setting; the tests') Streamlit's own exception element follows the message.
    """
    ctx = get_script_run_ctx()
    if ctx is not None and hasattr(ctx, "on_script_error"):
        ctx.on_script_error = _on_script_error


def _on_script_error(_error: Exception) -> bool:
    """Draw rnnviz's message (its container's class, .st-key-rnnviz-error, lets tests and benchmarks find it);
    True (Streamlit draws nothing more) unless a developer asked for full error details."""
    try:
        st._main.container(key=ERROR_KEY).error(ERROR_MESSAGE, icon=":material/error:")
    except st.errors.StreamlitAPIException:  # a second error in the same run: the message is there already
        pass
    return st.get_option("client.showErrorDetails") not in ("full", "True", True)


def sidebar(scenario_controls: bool = True) -> tuple[Config, Display]:
    """The shared controls, in the sidebar; returns the Config and the Display they describe.

    Under a student link (?hide=…) a hidden control draws nothing, and a heading whose controls are
    all hidden goes too; under hide=sidebar nothing at all is drawn in the sidebar, so Streamlit
    shows neither the sidebar nor its arrow.
    """
    sb = st.sidebar
    if hide.SIDEBAR not in hidden():
        for p in PAGES.values():
            sb.page_link(p.file, label=p.label, icon=p.icon)
    from . import weights as weights_ui

    trained = None
    if scenario_controls:
        radius = ("radius",) if stored("init", PARAMS["init"]) == "radius" else ()
        _heading(sb, "The network", "weights", "cell", "hidden", "init", *radius, "forget_bias", "seed", "layers",
                 "direction")
        trained = weights_ui.control(sb)
        _scenario_controls(sb, trained)
    _heading(sb, "Display", "present")
    control(sb.toggle, "Presentation mode", "present", help="Large text and thick lines for a projector.")
    v = {name: stored(name, param) for name, param in PARAMS.items()}  # shown or not, all kept
    public = weights_ui.public(v["weights"])
    names = {**PARAMS, hide.NAME: hide.PARAM}
    to_url(names if public else {k: p for k, p in names.items() if k != "weights"})
    if not public and "weights" in st.query_params:  # a file's or a run's weights never go in a link
        del st.query_params["weights"]
        _written()
    trained = trained if scenario_controls else weights_ui.current()
    cfg = cfgmod.config_from(v)
    if trained is not None:  # one layer, one way, the network's own cell and size
        cfg = fitted(cfg, trained)
    return cfg, Display(present=bool(v["present"]))


def _heading(container, text: str, *names: str) -> None:
    """A sidebar heading, unless the link hides every control under it."""
    if not all(is_hidden(name) for name in names):
        container.markdown(f"### {text}")


def _scenario_controls(sb, trained=None) -> None:
    """The network and input controls of the shared scenario; with trained weights, only the input's."""
    if trained is not None:
        if not is_hidden("weights"):
            sb.caption(f"{CELLS[trained.cell].label}, H = {trained.hidden}: set by the weights.")
        _locked_stack_controls(sb, trained)
        _input_controls(sb, trained)
        return
    choice(sb.selectbox, "Cell", "cell", help="Which recurrent cell steps through the sequence.")
    control(sb.slider, "Hidden size H", "hidden", 1, 64,
            help="Number of hidden units (and cell-state units for the LSTM).")
    control(sb.slider, "Layers", "layers", 1, cfgmod.MAX_LAYERS,
            help="Stacked layers (PyTorch's num_layers): layer l reads the hidden states of layer l − 1.")
    choice(sb.radio, "Direction", "direction", horizontal=True,
           help="Bidirectional: every layer also reads the sequence backwards, from the last step to the first, "
                "and the layer above reads both directions' states side by side.")
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
    _input_controls(sb, None)
    control(sb.slider, "Input scale", "input_scale", 0.1, 10.0, step=0.1,
            help="Multiplies every input. Large inputs drive tanh and sigmoid units into saturation.")


LOCKED_LAYERS_KEY, LOCKED_DIRECTION_KEY = "_locked_layers", "_locked_direction"  # widgets, not controls: no URL


def _locked_stack_controls(sb, trained) -> None:
    """Layers and Direction as the weights fix them, greyed out, and why: a file of nn.LSTM(num_layers=2,
    bidirectional=True) has weights for exactly that stack. Not the controls' own widgets (keys "layers",
    "direction"): their values for random weights stay as the user left them."""
    w = trained.weights
    shown_layers, shown_direction = not is_hidden("layers"), not is_hidden("direction")
    if shown_layers:
        st.session_state[LOCKED_LAYERS_KEY] = w.num_layers
        sb.slider("Layers", 1, max(cfgmod.MAX_LAYERS, w.num_layers), key=LOCKED_LAYERS_KEY, disabled=True)
    if shown_direction:
        st.session_state[LOCKED_DIRECTION_KEY] = trained.direction
        sb.radio("Direction", list(cfgmod.DIRECTIONS), format_func=cfgmod.DIRECTIONS.get, horizontal=True,
                 key=LOCKED_DIRECTION_KEY, disabled=True)
    if shown_layers or shown_direction:
        sb.caption(locked_note(trained))


def locked_note(trained) -> str:
    """Why Layers and Direction are greyed out: "Layers and direction locked to the weights: 2 layers,
    bidirectional, as the file holds them; …"."""
    w = trained.weights
    shape = f"{w.num_layers} layer{'s' if w.num_layers > 1 else ''}, {cfgmod.DIRECTIONS[trained.direction].lower()}"
    source = {"upload": "as the file holds them", "session": "as the run was trained",
              "gallery": "as the model was trained"}[trained.origin]
    return f"Layers and direction locked to the weights: {shape}, {source}; the weights exist for that stack only."


def _input_controls(sb, trained) -> None:
    """The input: its source, then the text or the sequence length (and the task, for random weights:
    a trained network reads its own task's samples)."""
    input_names = {"text": ("text",), "task": ("task", "length")}.get(stored("source", PARAMS["source"]), ("length",))
    _heading(sb, "The input", "source", *input_names, "input_scale")
    source = choice(sb.selectbox, "Input", "source")
    if source == "text":
        # no max_chars: Streamlit's text area drops a paste past it without a word; a longer text is cut
        # to MAX_TEXT by control(), with a note saying so
        control(sb.text_area, f"Text (one character per step, up to {cfgmod.MAX_TEXT})", "text", height=90)
        if trained is not None and trained.weights.vocab is not None:
            sb.caption("Characters it knows: " + literal_markdown(" ".join(trained.weights.vocab).replace("\n", "⏎")))
        return
    if source == "task" and trained is None:
        choice(sb.selectbox, "Task", "task", help="Long-dependency tasks as defined by Pascanu et al. (2013).")
    control(sb.slider, "Sequence length T", "length", 2, 1000)
    if trained is not None:
        control(sb.number_input, "Seed of the input", "seed", 0, 99_999, step=1,
                help="Another seed, another random sample of the same kind.")


# --- the studies, cached: keyed by the Config (and page controls), never by the Display ----------
# One byte budget for them all, idle expiry, shared read-only (ui/cache.py).


@memo
def cached_step_study(cfg: Config) -> StepStudy:
    return build_step_study(cfg)


@memo
def cached_cell_gradients(cfg: Config, loss_on: str) -> CellGradients:
    return cell_gradients(cfg, loss_on)


@memo
def cached_bptt_study(cfg: Config, loss_on: str) -> BpttStudy:
    """The study; the overlay cells come from their own cache, so switching cells reuses them."""
    configs = partner_configs(cfg) if cfg.trained else {c: cfg.with_(cell=c) for c in overlay_cells(cfg.cell)}
    others = {c: cached_cell_gradients(other, loss_on) for c, other in configs.items()}
    return build_bptt_study(cfg, loss_on, others=others)


def _private(cfg: Config):
    """The Trained of a user's file or a session's run that cfg runs, else None (random or gallery
    weights: public, cached for every session)."""
    from ..gallery import GALLERY
    from .weights import current

    if not cfg.trained or cfg.weights in GALLERY:
        return None
    trained = current()
    if trained is None or trained.key != cfg.weights:
        st.warning("These weights are no longer in this session: choose them again in the sidebar.")
        st.stop()
    return trained


@memo
def cached_stack_study(cfg: Config) -> StackStudy:
    return stack_studies.build(cfg)


@memo
def cached_stack_gradients(cfg: Config, loss_on: str) -> StackGradients:
    return stack_studies.gradients(cfg, loss_on, cached_stack_study(cfg))


def stack_study(cfg: Config) -> StackStudy | None:
    """The stack's forward pass (several layers or both directions), cached (a file's: in its session only);
    None for one one-way layer."""
    if not cfg.stacked:
        return None
    trained = _private(cfg)
    if trained is not None:
        from .weights import private_study

        return _guarded(lambda c: private_study(stack_studies.build, c, trained=trained), cfg,
                        empty="to step through it")
    return _guarded(cached_stack_study, cfg, empty="to step through it")


def stack_gradients(cfg: Config, loss_on: str) -> StackGradients | None:
    """The stack's gradients, cached (a file's: in its session only); None for one one-way layer."""
    if not cfg.stacked:
        return None
    trained = _private(cfg)
    if trained is not None:
        from .weights import private_study

        return _guarded(lambda c, lo: private_study(stack_studies.gradients, c, lo, trained=trained), cfg, loss_on)
    return _guarded(cached_stack_gradients, cfg, loss_on)


@memo
def cached_setups_study(cfg: Config) -> SetupsStudy:
    return setups_studies.build(cfg)


def setups_study(cfg: Config) -> SetupsStudy:
    """The Setups page's study (every setup), cached; bad input stops the page with a clear message."""
    return _guarded(cached_setups_study, cfg, empty="to run it")


def step_study(cfg: Config) -> StepStudy:
    """The Step-through study, cached; bad input stops the page with a clear message."""
    trained = _private(cfg)
    if trained is not None:
        from .weights import private_study

        return _guarded(lambda c: private_study(build_step_study, c, trained=trained), cfg, empty="to step through it")
    return _guarded(cached_step_study, cfg, empty="to step through it")


def bptt_study(cfg: Config, loss_on: str) -> BpttStudy:
    """The Backprop-through-time study, cached; bad input stops the page with a clear message."""
    trained = _private(cfg)
    if trained is not None:
        from .weights import private_study

        return _guarded(lambda c, lo: private_study(build_bptt_study, c, lo, trained=trained), cfg, loss_on)
    if cached_bptt_study.holds(cfg, loss_on):
        return _guarded(cached_bptt_study, cfg, loss_on)
    with st.spinner("Backpropagating through time…"):
        return _guarded(cached_bptt_study, cfg, loss_on)


def _guarded(study, cfg: Config, *args, empty: str = ""):
    """study(cfg, *args), or a clear message and st.stop() for an empty text or input rnnviz rejects."""
    if cfg.source == "text" and is_blank(cfg.text):
        st.warning("The text is empty (or only invisible characters). Type at least one character in the sidebar"
                   + (f" {empty}." if empty else "."))
        st.stop()
    try:
        return study(cfg, *args)
    except ValueError as err:
        st.error(f"rnnviz cannot run this input: {literal_markdown(cfgmod.shown(str(err), 300))}")
        st.stop()


@memo
def cached_attention_study(scenario: attention_studies.Scenario) -> AttentionStudy:
    return attention_studies.build(scenario)


def attention_study(scenario: attention_studies.Scenario) -> AttentionStudy:
    """The Attention study, cached; digits rnnviz cannot read stop the page with a clear message."""
    try:
        attention_studies.check(scenario)
    except ValueError as err:
        st.warning(f"rnnviz cannot reverse this input: {literal_markdown(cfgmod.shown(str(err), 300))}. Type 1 to "
                   f"{attention_studies.MAX_DIGITS} digits.")
        st.stop()
    if cached_attention_study.holds(scenario):
        return cached_attention_study(scenario)
    with st.spinner("Running both models and differentiating them…"):
        return cached_attention_study(scenario)


def clear_caches() -> None:
    """Empty the studies' cache (tests start from a fresh server's)."""
    STUDIES.clear()


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
    """fn, a pure rnnviz function (e.g. a loss surface), its results kept in the studies' cache."""
    return memo(fn)


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
    if cfg.trained:
        from .weights import current

        trained = current()
        if trained is not None and trained.key == cfg.weights:
            watch = f" **Watch unit {trained.watch.unit} of {trained.watch.vector}.**" if trained.watch else ""
            st.caption(f"**Trained weights: {plain(trained.title)}.** {plain(trained.trained_on)}{watch}")
            return
    st.caption(f"**Random weights** (PyTorch's initialisation, seed {cfg.seed}): every number is the real computation, "
               "but nothing has been learned, so gates hover near 0.5 and no unit means anything yet.")


def unused_weights_note(cfg: Config, instead: str) -> bool:
    """On a page that does not run the sidebar's trained weights, say so plainly, and what it runs `instead`
    (rnnviz's words); True if it said so, False for random weights (nothing to say)."""
    if not cfg.trained:
        return False
    from .weights import current

    trained = current()
    name = f" ({plain(trained.title)})" if trained is not None and trained.key == cfg.weights else ""
    st.info(f"**This page does not run the trained weights chosen in the sidebar{name}.** {instead}",
            icon=":material/info:")
    return True


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
        try:  # the browser's own value: an int, unless a tampered client sent something else
            t = int((st.session_state.get(f"_sync_{key}") or {}).get("t"))
        except (TypeError, ValueError, OverflowError, AttributeError):
            return
        _values()[key] = min(max(t, 1), T)
        _notes().pop(key, None)
        to_url({key: param})

    client.step_sync(view, int(_values().get(key, 1)), param=key, key=f"_sync_{key}", on_change=heard)
