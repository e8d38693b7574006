"""The Clipping-and-training page's Streamlit side: its controls, the server's runs, live training.

Runs live in the server's RunStore (rnnviz.runstore), shared by every session: the same settings
give the same run, so a run trained for one session is there for everyone who asks for those
settings, and on disk for a link opened after a restart. The page's default runs and every
preset's are trained once per server in the background (warm()), so they are on screen at once,
and a preset's click shows its runs without a Train button. Any other configuration is trained
when the user presses Train, by the server's Trainer: within a cap on its cost, one training per
session, a fixed number per process (a queue note says how many are ahead); its curves grow on
the page while it trains (a fragment redrawn every REDRAW_SECONDS), and Stop keeps what it did.
The controls' definitions, presets and cap are in studies/training.py.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from ..config import Display
from ..figures import training as fig
from ..lessons import use_runs
from ..runstore import RunStore, Trainer, TrainerBusy
from ..studies import training as study
from ..training import RunConfig, TrainingRun, constant_loss, estimated_seconds
from ..views import training as view
from . import cached, choice, is_hidden, page_control, set_values, show, stored

ROOT = Path(__file__).resolve().parents[2]
RUNS_DIR = Path(os.environ.get("RNNVIZ_RUNS_DIR") or ROOT / "cache" / "runs")  # git-ignored
WORKERS = max(int(os.environ.get("RNNVIZ_TRAININGS") or 1), 1)  # trainings at once in this process
REDRAW_SECONDS = 1.0  # while a run trains, its curves are redrawn this often
OWNER_KEY = "_trainer_owner"  # this session's name for the Trainer
STOPPED_KEY = "_stopped_runs"  # RunConfig -> TrainingRun: runs this session stopped, kept as it left them
NOTE_KEY = "_training_note"  # a message for the next run (the queue was full)
KEEP_STOPPED = 12


@dataclass
class Server:
    """This process's run store and trainer (one per server process: see server())."""

    store: RunStore
    trainer: Trainer
    warmed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


_server: Server | None = None
_server_lock = threading.Lock()


def server() -> Server:
    """The process's Server, made on first use. Module-level rather than st.cache_resource: the
    trainer's threads must outlive any cache clearing, and tests swap it with use_server()."""
    global _server
    with _server_lock:
        if _server is None:
            store = RunStore(RUNS_DIR)
            _server = Server(store, Trainer(store, estimated_seconds, workers=WORKERS,
                                            cpu_limit=2 * study.CAP_SECONDS))
            use_runs(store.finished)  # a lesson quotes the runs the page shows
        return _server


def use_server(store: RunStore | None, trainer: Trainer | None) -> Server | None:
    """Replace the process's Server (tests, benchmarks; None, None: the default one, made on next
    use); the old trainer is closed."""
    global _server
    with _server_lock:
        old, _server = _server, (None if store is None else Server(store, trainer))
        use_runs(None if store is None else store.finished)
    if old is not None:
        old.trainer.close()
    return _server


def warm() -> None:
    """Once per process: queue the page's default runs and every preset's that are not kept yet,
    behind any training a person asked for. Runs kept on disk are read into memory here, so
    arrival takes no disk read either."""
    srv = server()
    with srv.lock:
        if srv.warmed:
            return
        srv.warmed = True
    for configs in study.preset_runs().values():
        if any(_finished(srv.store.get(c)) is None for c in configs):
            try:
                srv.trainer.submit(configs, warm=True)
            except TrainerBusy:
                return


def _finished(run: TrainingRun | None) -> TrainingRun | None:
    return run if run is not None and run.stopped_at is None else None


def _owner() -> str:
    return st.session_state.setdefault(OWNER_KEY, uuid.uuid4().hex)


# --- controls -------------------------------------------------------------------------------------


def control(widget, label: str, name: str, *args, **kwargs):
    """One of the page's controls (studies.training.PARAMS), kept in the URL."""
    return page_control(widget, label, name, study.PARAMS[name], *args, **kwargs)


def page_choice(widget, label: str, name: str, **kwargs):
    return choice(widget, label, name, param=study.PARAMS[name], **kwargs)


def preset_buttons() -> None:
    """One button per preset: a click sets the page's controls to the preset's values (its runs,
    trained ahead by the server, show at once). A student link drops the presets that would change
    a control it hides."""
    presets = {key: preset for key, preset in study.PRESETS.items() if not any(map(is_hidden, preset[1]))}
    if not presets:
        return
    row = st.container(horizontal=True, wrap=True)  # each button as wide as its label: none is cut short,
    for key, (label, values) in presets.items():    # and a narrow page puts the rest on a second line
        row.button(label, key=f"preset_{key}", on_click=set_values, args=(values,), width="content")


def part() -> str:
    """Which part of the page to show: "train" or "cliff"."""
    return page_choice(st.segmented_control, "Part", "part") or "train"


def cliff_start() -> tuple[tuple[float, float], float, int, float]:
    """The cliff's controls: (start (w, b), learning rate, steps, tau). Stops the page, with a
    note, when "start next to the wall" is on and this b has no usable wall."""
    c0, c1, c2, c3, c4 = st.columns(5)
    snap = control(c0.toggle, "Start next to the wall", "cl_snap",
                   help="On: w is placed right next to the wall at your b, where the gradient is at least 1e5 "
                        "(1e6 where the wall is wide enough for float64). Off: choose w yourself.")
    b0 = control(c1.slider, "Start: bias b", "cl_b", -8.0, 0.0, step=0.25)
    lr = control(c2.select_slider, "Learning rate", "cl_lr", study.CLIFF_RATES)
    steps = control(c3.slider, "Steps", "cl_steps", 1, 100)
    tau = control(c4.select_slider, "Clip the norm at τ", "cl_tau", study.CLIFF_TAUS)
    if not snap:
        return (control(c0.slider, "Start: weight w", "cl_w", 0.0, 12.0, step=0.25), b0), lr, steps, tau
    start = cached(study.wall_point)(b0)
    if start is None:
        b, low, high = (f"{v:g}".replace("-", "−") for v in (b0, *study.SNAP_B_RANGE))
        st.warning(f"At b = {b} there is no wall inside the map that a start in float64 can stand next to: "
                   f"choose b between {low} and {high}, or turn off “Start next to the wall” and choose w.")
        st.stop()
    return start, lr, steps, tau


def cliff_slug() -> str:
    """The cliff's scenario for its file names, from the page's controls (as the export names it)."""
    return study.cliff_slug({name: stored(name, param) for name, param in study.PARAMS.items()})


def run_configs() -> list[RunConfig]:
    """The runs' settings in a line, their controls in an expander (so the runs' results sit right
    under the presets; its label stays the same, so it stays open while they change), then what
    they cost; the runs not switched off."""
    now = {name: stored(name, param) for name, param in study.PARAMS.items()}
    st.markdown(f"**These runs:** {study.settings_text(now)}.")
    with st.expander("Change the settings: cell, task, sizes, optimiser, each run's clipping and BPTT window",
                     icon=":material/tune:"):
        _controls()
    configs = study.run_configs({name: stored(name, param) for name, param in study.PARAMS.items()})
    _cost_note(configs)
    return configs


def _controls() -> None:
    a, b, c, d, e = st.columns(5)
    page_choice(a.selectbox, "Cell", "tr_cell")
    page_choice(b.selectbox, "Task", "tr_task")
    control(c.slider, "Sequence length T", "tr_length", 10, 200)
    control(d.slider, "Hidden size H", "tr_hidden", 4, 64)
    control(e.select_slider, "Batch", "tr_batch", list(study.BATCHES))
    a, b, c, d, e = st.columns(5)
    control(a.slider, "Updates", "tr_updates", 10, 1000, step=10)
    page_choice(b.selectbox, "Optimiser", "tr_opt")
    control(c.select_slider, "Learning rate", "tr_lr", list(study.RATES))
    page_choice(d.select_slider, "Spectral radius of W_hh", "tr_radius")
    control(e.number_input, "Seed", "tr_seed", 0, 9999)
    styles = {"none": 0, "norm": 0, "value": 0}
    for k, col in zip(study.RUNS, st.columns(len(study.RUNS)), strict=True):
        with col.container(border=True):
            clip = page_choice(st.selectbox, f"Run {k}: clipping", f"r{k}_clip")
            if clip in ("norm", "value"):
                control(st.number_input, "τ (global norm)" if clip == "norm" else "v (per entry)", f"r{k}_th",
                        1e-4, 1e3, format="%g")
            if clip != "off":
                page_choice(st.selectbox, "Backprop through time", f"r{k}_window",
                            help="Truncated BPTT: the gradient of the loss reaches back only this many steps (the "
                                 "sequence is cut into windows of k steps, counted back from the end, and no gradient "
                                 "crosses a cut). A window as long as the sequence is full BPTT.")
            if clip in styles:  # the run's line, as every chart and summary draws it
                st.html(_swatch(fig.CLIP_COLOURS[clip], fig.DASHES[styles[clip] % len(fig.DASHES)]))
                styles[clip] += 1


def _swatch(colour: str, dash: str, width: int = 44) -> str:
    """A short line in a run's colour and dash (rnnviz's own markup: no user text). A styled div:
    st.html's sanitiser drops inline SVG."""
    style = {"solid": "solid", "dash": "dashed", "dot": "dotted"}[dash]
    return (f'<div role="img" aria-label="{style} line" style="width:{width}px;height:0;margin:6px 0;'
            f'border-top:4px {style} {colour}"></div>')


def _cost_note(configs: list[RunConfig]) -> None:
    """Beside the controls: what training these runs costs, against the cap."""
    if not configs:
        return
    seconds, cap = study.request_seconds(configs), study.CAP_SECONDS
    over = " — over the cap" if seconds > cap else ""
    st.caption(f"Training these runs: about {_seconds(seconds)} of one processor core{over} (this server's cap: "
               f"{cap:.0f} s a request). Runs trained before with the same settings, by anyone, show at once.")


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} minutes"


# --- the runs: kept, trained on request, streamed -------------------------------------------------


def show_runs(configs: list[RunConfig], display: Display) -> bool:
    """The runs for `configs`: at once if the server keeps them; the default runs and the presets'
    are joined (or started) without asking; any other is trained on request, its curves growing.
    True when every run is shown as it ended (finished or stopped): there is a view to export."""
    srv = server()
    note = st.session_state.pop(NOTE_KEY, None)
    if note:
        st.warning(note)
    if not srv.store.persistent:
        st.caption("This server cannot write its run store to disk: runs trained here are lost when it restarts.")
    job = srv.trainer.watching(_owner())
    if job is not None and job.warm and job.configs != tuple(configs):
        srv.trainer.leave(_owner(), job)  # the server's own runs (a preset's) go on without this session
        job = None
    if job is not None and job.configs == tuple(configs):
        _follow(job.id, display.present)
        return False
    stopped = st.session_state.setdefault(STOPPED_KEY, {})
    runs = {c: _finished(srv.store.get(c)) or stopped.get(c) for c in configs}  # finished over stopped
    missing = [c for c in configs if runs[c] is None]
    if not missing:
        draw(list(runs.values()), display)
        return True
    if job is not None:
        st.info(f"Your training of other settings is still running ({_progress_text(job, srv.trainer)}): wait for "
                "it to finish, or stop it, to train these. Its results are kept for its settings.")
        st.button("Stop", key="stop-other", on_click=_stop, args=(job.id,),
                  help="Stops your training; what it did so far is kept.")
        return False
    if all(c in _preset_configs() for c in missing):  # the page's own runs: trained ahead, never asked for
        _start(configs)
        job = srv.trainer.watching(_owner())
        if job is not None:
            _follow(job.id, display.present)
            return False
        st.warning(st.session_state.pop(NOTE_KEY, "The server could not start these runs."))
        return False
    _ask(configs, missing, runs, display)
    return False


def _ask(configs: list[RunConfig], missing: list[RunConfig], runs: dict, display: Display) -> None:
    """Runs that are not kept: what the server has of them, and a Train button within the cap."""
    srv = server()
    partial = {c: srv.store.get(c) for c in missing}
    partial = {c: r for c, r in partial.items() if r is not None}
    seconds, cap = study.request_seconds(missing), study.CAP_SECONDS
    n = len(missing)
    runs_word = f"{n} run{'s' * (n > 1)}"
    if partial:
        st.info(f"{len(partial)} of these runs {'was' if len(partial) == 1 else 'were'} stopped before the end "
                "(by a Stop, or by a server restart): what they did is shown below. Train runs them to the end.")
    else:
        st.info(f"These runs are not trained yet on this server ({runs_word}): they have not been trained with "
                "these settings here, or the server's store has dropped them. Press **Train**; finished runs are "
                "kept for everyone with the same settings, also after a restart.")
    if seconds > cap:
        st.error(f"Training {runs_word} with these settings would take about {_seconds(seconds)} of one processor "
                 f"core, over this server's cap of {cap:.0f} s a request. Lower the updates, the sequence length T, "
                 "the hidden size H or the batch, or switch a run off.")
    else:
        st.button(f"Train {runs_word}", type="primary", on_click=_start, args=(configs,),
                  help=f"About {_seconds(seconds)} of training; the curves grow while it runs.")
    shown = [runs[c] or partial.get(c) for c in configs]
    if any(r is not None for r in shown):
        draw([r for r in shown if r is not None], display)


def kept_runs() -> Callable[[list[RunConfig]], list[TrainingRun]]:
    """runs(configs) -> the runs as the page shows them (the server's finished ones, else this
    session's stopped ones), never trained; ValueError if one is missing. Made in the script thread,
    callable from another (an export's download)."""
    stopped, store = dict(st.session_state.get(STOPPED_KEY, {})), server().store

    def runs(configs: list[RunConfig]) -> list[TrainingRun]:
        out = [_finished(store.get(c)) or stopped.get(c) for c in configs]
        if any(run is None for run in out):
            raise ValueError("these runs are not trained on this server yet: train them on the page first.")
        return out

    return runs


def _preset_configs() -> set[RunConfig]:
    return {c for configs in study.preset_runs().values() for c in configs}


def _start(configs: list[RunConfig]) -> None:
    """Ask the server to train `configs` for this session (a button's callback, or the page's)."""
    try:
        server().trainer.submit(configs, owner=_owner())
    except TrainerBusy as err:
        st.session_state[NOTE_KEY] = f"The server is busy ({err}): try again in a minute."


def _stop(job_id: int) -> None:
    """Stop: keep what the job did for this session (and in the store, for a link)."""
    srv = server()
    job = srv.trainer.job(job_id)
    if job is None:
        return
    stopped = st.session_state.setdefault(STOPPED_KEY, {})
    for cfg, run in srv.trainer.leave(_owner(), job).items():
        if run.stopped_at is not None:
            stopped[cfg] = run
            srv.store.put(run)
    while len(stopped) > KEEP_STOPPED:
        stopped.pop(next(iter(stopped)))


def _progress_text(job, trainer: Trainer) -> str:
    if job.state == "queued":
        ahead, wait = trainer.ahead(job)
        work = f"about {_seconds(wait)} of work" if wait >= 1 else "nearly done by its estimate"
        return (f"waiting: {ahead} training{'s' * (ahead != 1)} ahead of yours, {work}; "
                f"this server trains {trainer.workers} at a time")
    cfg = job.configs[job.index]
    run = trainer.runs(job).get(cfg)
    done = run.updates_done if run is not None else 0
    return f"run {job.index + 1} of {len(job.configs)}: update {done} of {cfg.updates}"


@st.fragment(run_every=REDRAW_SECONDS)
def _follow(job_id: int, present: bool) -> None:
    """A training this session follows: where it is, Stop, and its curves so far; redrawn every
    REDRAW_SECONDS on its own, and the whole page once the training is over."""
    trainer = server().trainer
    job = trainer.job(job_id)
    if job is None or not job.active or _owner() not in job.watchers:
        st.rerun()  # finished or stopped: the page shows the results
    text = _progress_text(job, trainer)
    bar, stop = st.columns([6, 1], vertical_alignment="bottom")
    if job.state == "queued":
        bar.info(f"Queued — {text}.", icon=":material/hourglass_top:")
    else:
        runs = trainer.runs(job)
        done = sum(runs[c].updates_done if c in runs else 0 for c in job.configs)
        bar.progress(min(done / sum(c.updates for c in job.configs), 1.0), text=f"Training {text}")
    stop.button("Stop", key="stop", on_click=_stop, args=(job_id,), use_container_width=True,
                help="Stops the training; what it did so far is kept.")
    runs = trainer.runs(job)
    shown = [runs[c] for c in job.configs if c in runs and runs[c].updates_done > 0]
    if shown:
        show(view.runs_view(shown, Display(present=present)), "runs", Display(present=present), key="train-runs")


def draw(runs: list[TrainingRun], display: Display) -> None:
    """Each run's summary in its colour, then the figures (both held back while a lesson's open
    question asks what the runs do)."""
    from .lessons import is_held
    from .weights import offer_run

    if is_held("train-summary"):
        return  # the figures: ui.show leaves them out too
    styles = fig.run_styles(runs)
    constant = constant_loss(runs[0].config.task, runs[0].config.length)  # the runs share their task
    for col, run, (colour, dash) in zip(st.columns(len(runs)), runs, styles, strict=True):
        headline, detail = fig.run_summary(run, constant)
        col.html(_swatch(colour, dash))
        col.metric(fig.run_label(run), headline)
        col.caption(detail)
        with col:
            offer_run(run, fig.run_label(run))  # its weights on the other pages, in this session
    if not fig.shows_cosines(runs):
        st.caption(fig.COSINE_HIDDEN)
    if (note := fig.window_note(runs, constant)) is not None:
        st.caption(note)
    show(view.runs_view(runs, display), "runs", display, key="train-runs")


# --- when the server is gone ----------------------------------------------------------------------

# Streamlit's own dialog, when the server stops answering, asks "Are you connected to the
# internet?" (or, on localhost, to restart Streamlit in a terminal): both wrong for a student
# whose class server was restarted. This element rewrites that dialog's text in place (it runs
# in the page, so it still works with the server gone); if Streamlit changes the dialog's words,
# it does nothing.
CONNECTION_JS = """
export default function () {
  if (window.__rvConnectionNote) return;
  window.__rvConnectionNote = true;
  const streamlitSays = /Are you connected to the internet|Is Streamlit still running/;
  const ours = () => navigator.onLine
    ? "The rnnviz server is not answering: it was most likely stopped or restarted. Your own connection " +
      "looks fine (your browser is online). Finished training runs are kept on the server's disk: when the " +
      "server is back, reload this page and the same link shows them again (a training under way keeps " +
      "what it did up to a few seconds before)."
    : "Your browser reports that it is offline: check its network connection, then reload this page.";
  const rewrite = () => {
    for (const dialog of document.querySelectorAll("[role='dialog']")) {
      const walker = document.createTreeWalker(dialog, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (streamlitSays.test(node.nodeValue)) {
          node.nodeValue = ours();
          dialog.querySelectorAll("pre, code").forEach((el) => { el.style.display = "none"; });
        }
      }
    }
  };
  new MutationObserver(rewrite).observe(document.body, { childList: true, subtree: true, characterData: true });
}
"""
_connection = st.components.v2.component("rnnviz_connection_note", js=CONNECTION_JS, isolate_styles=False)


def connection_note() -> None:
    """Mount the element that rewrites Streamlit's "connection error" dialog (see CONNECTION_JS)."""
    _connection(key="rnnviz-connection-note")
