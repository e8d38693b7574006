"""Export a view of rnnviz to files, from its link: `python -m rnnviz.export "PAGE?QUERY" --out DIR`.

A link (the path and query of any rnnviz URL) is read as the app reads it: the same parameters, the
same checks (rnnviz.config.parse_param: values clamped or replaced, with a note), the same studies
and the same view (rnnviz.views), so the files show what the page shows. For a view it writes:

  rnnviz-<figure>-<scenario>[-tNN].png   every figure, 3x, on white (kaleido, the system's Chromium)
  rnnviz-<figure>-<scenario>[-tNN].svg   the same as vectors
  rnnviz-<block>-<scenario>-tNN.txt/.html  the equations at step t
  rnnviz-<page>-view-<scenario>[-tNN].html  every figure, interactive, offline (plotly.js inside)
  rnnviz-<table>-<scenario>.csv          the numbers (rnnviz.views.numbers)
  rnnviz-<page>-link-<scenario>[-tNN].txt  the whole link (host: the link's own, --base-url or localhost:8501)
  rnnviz-<page>-images-missing-<scenario>.txt  only when PNG/SVG could not be made, and why

Stepped figures are drawn at the link's step (t, or `reached` on the backward graph); the HTML
moves through every step. The app's "Export this view" zips the same files (zip_bytes). Nothing
here imports Streamlit.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

from . import config, hide
from .config import Display, Param, parse_param
from .figures import files
from .figures import payload as wire
from .gallery import GALLERY
from .gallery import load as load_gallery
from .pages import LESSON_PARAMS, PAGES
from .studies import attention as attention_study
from .studies import bptt as bptt_study
from .studies import compare as compare_study
from .studies import setups as setups_study
from .studies import stack as stack_study
from .studies import training as training_study
from .training import RunConfig, TrainingRun, train
from .views import View, numbers
from .views import attention as attention_view
from .views import bptt as bptt_view
from .views import compare as compare_view
from .views import setups as setups_view
from .views import step as step_view
from .views import training as training_view

EXPORTED = ("step", "bptt", "training", "compare", "setups", "attention")  # the pages with figures (Home has none)
LOSS = {"loss": bptt_view.PARAMS["loss"]}  # the Step page's numbers take dL/dh from this loss too
# How the page is presented, never what the files show: a student link's hide, the lesson it is a step
# of, Play and its speed. A link with them exports like one without, and without a note.
PRESENTATION = (hide.NAME, *LESSON_PARAMS, *step_view.PARAMS)


DEFAULT_BASE = "http://localhost:8501"  # where `make run` serves the app
MAX_STEPS = max(config.MAX_TEXT, int(config.PARAMS["length"].high))  # the longest input a link can give


class LinkError(ValueError):
    """A link that names no page with figures, or a scenario rnnviz cannot compute."""


def url_path(page: str) -> str:
    """The page's path in a URL, as Streamlit names it: the script's name without its number."""
    return re.sub(r"^\d+_", "", Path(PAGES[page].file).stem)


@dataclass(frozen=True)
class Link:
    """A page of rnnviz and the query of its URL (raw strings, as typed or linked)."""

    page: str  # a key of EXPORTED
    query: dict[str, str] = field(default_factory=dict)
    base: str = DEFAULT_BASE  # where the app is served: scheme, host, port and any base path, no "/" at the end

    @property
    def text(self) -> str:
        """The path and query, as in the browser's address bar: "Step_through?cell=gru&t=3"."""
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe=',')}" for k, v in self.query.items())
        return url_path(self.page) + (f"?{query}" if query else "")

    @property
    def url(self) -> str:
        """The whole link, to click: "http://localhost:8501/Step_through?cell=gru&t=3"."""
        return f"{self.base}/{self.text}"


def app_base(url: str) -> str | None:
    """The app's base (scheme://host[:port][/base path]) of a full URL of one of its pages, or None
    for a bare "PAGE?QUERY"."""
    parts = urlsplit(url.strip())
    if not (parts.scheme in ("http", "https") and parts.netloc):
        return None
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/').rsplit('/', 1)[0]}"


def parse_link(text: str) -> Link:
    """A Link from "PAGE?QUERY", a full URL, or a page's key or label; LinkError names the pages."""
    parts = urlsplit(text.strip())
    path = parts.path.rstrip("/").rsplit("/", 1)[-1]  # any host and base path before the page are ignored
    wanted = re.sub(r"^\d+_", "", path.removesuffix(".py")).replace(" ", "_").lower()
    for page in EXPORTED:
        if wanted in (url_path(page).lower(), page, PAGES[page].label.replace(" ", "_").lower()):
            return Link(page, dict(parse_qsl(parts.query, keep_blank_values=True)), app_base(text) or DEFAULT_BASE)
    known = ", ".join(url_path(page) for page in EXPORTED)
    shown = path or text.strip() or "(nothing)"
    raise LinkError(f"{shown!r} is not a page with figures to export; the pages are {known} "
                    "(with a query, e.g. \"Backprop_through_time?cell=lstm&length=80\").")


def page_params(page: str) -> dict[str, Param]:
    """The URL parameters a page reads, beside t and the unit (their ranges depend on the study)."""
    own = {"step": {**step_view.PARAMS, **LOSS}, "bptt": bptt_view.PARAMS, "setups": setups_view.PARAMS,
           "training": training_study.PARAMS, "compare": compare_view.PARAMS,
           "attention": attention_study.PARAMS}[page]
    return {**config.PARAMS, **own}


def link_from_values(page: str, values: dict) -> Link:
    """The link of a session's control values (name -> value): every non-default one of the page's."""
    if page not in EXPORTED:
        raise LinkError(f"page must be one of {EXPORTED}, got {page!r}")
    params = dict(page_params(page))
    step_params = {"step": ["t", "unit"], "bptt": [bptt_view.STEP_PARAMS[values.get("mode", "backward")]],
                   "compare": ["t", "perturb"], "attention": ["t"]}
    for name in step_params.get(page, []):
        params[name] = Param(1 if name != "unit" else 0, kind="int")
    query = {name: config.url_value(param, values[name]) for name, param in params.items()
             if name in values and values[name] != param.default}
    return Link(page, query)


@dataclass(frozen=True)
class Export:
    """A view computed from its link, with its numbers, ready to be written."""

    link: Link  # the link as read, with t as drawn
    view: View  # its tables filled (views.numbers)
    t: int | None  # the step the stepped figures are drawn at; None: the view has no step
    notes: tuple[str, ...] = ()  # what was changed in the link, as the app would say it

    @property
    def suffix(self) -> str:
        return "" if self.t is None else f"-t{self.t:02d}"

    def name(self, kind: str) -> str:
        """rnnviz-<page>-<kind>-<scenario>[-tNN]: the files that are about the whole view."""
        return f"rnnviz-{self.view.page}-{kind}-{self.view.scenario}{self.suffix}"

    def filename(self, item) -> str:
        """View.filename with the step filled in."""
        return self.view.filename(item).replace("{t2}", f"{self.t or 1:02d}")


def _read(link: Link, params: dict[str, Param]) -> tuple[dict, list[str]]:
    """(value of every parameter, notes): the link's values checked as the app checks them."""
    values, notes = {}, []
    for name, param in params.items():
        raw = link.query.get(name)
        value, note = (param.default, None) if raw is None else parse_param(name, raw, param)
        values[name] = value
        notes += [note] if note else []
    return values, notes


def _step(link: Link, name: str, T: int, values: dict, notes: list[str]) -> int:
    """The step t (or `reached`) of the link, clamped into 1..T like ui.step does."""
    raw = link.query.get(name)
    t, note = (1, None) if raw is None else parse_param(name, raw, Param(1, low=1, high=T, kind="int"))
    values[name] = t
    notes += [note] if note else []
    return int(t)


def train_runs(configs: list[RunConfig], progress: Callable[[str], None] | None = None) -> list[TrainingRun]:
    """Train each run (what the page's Train button does), saying how far it got."""
    runs = []
    for k, run_cfg in enumerate(configs, start=1):
        start = time.perf_counter()
        runs.append(train(run_cfg))
        if progress:
            clip = "no clipping" if run_cfg.clip == "none" else f"{run_cfg.clip} clipping at {run_cfg.threshold:g}"
            progress(f"trained run {k} of {len(configs)} ({clip}, {run_cfg.updates} updates) "
                     f"in {time.perf_counter() - start:.1f} s")
    return runs


def build(link: Link, runs: Callable[[list[RunConfig]], list[TrainingRun]] | None = None) -> Export:
    """The view, numbers and step that `link` describes; LinkError if rnnviz cannot compute it.

    runs(configs) -> the trained runs for the training page (default: train them; the app passes
    the session's finished runs).
    """
    values, notes = _read(link, page_params(link.page))
    if values.get("weights") in GALLERY:  # as the app does: the model's best input, unless the link gives one
        best = load_gallery(values["weights"]).input_values()
        values.update({name: value for name, value in best.items() if name not in link.query})
    used = set(values)
    display = Display(present=bool(values["present"]))
    try:
        if link.page == "training":
            view = _training(values, display, runs or train_runs)
            t = None
        elif link.page == "attention":
            view, t = _attention_page(link, display, values, notes)
            used.add("t")
        else:
            cfg = config.config_from(values)
            if cfg.source == "text" and not cfg.text.strip():
                raise LinkError("the text is empty: give at least one character (text=...).")
            page = {"step": _step_page, "bptt": _bptt_page, "setups": _setups_page,
                    "compare": _compare_page}[link.page]
            view, t = page(link, cfg, display, values, notes)
            used |= {"step": {"t", "unit"}, "bptt": set(bptt_view.STEP_PARAMS.values()),
                     "setups": set(bptt_view.STEP_PARAMS.values()), "compare": {"t", "perturb"}}[link.page]
    except ValueError as err:  # what the page shows as "rnnviz cannot run this input: ..."
        raise LinkError(f"rnnviz cannot compute this view: {err}") from err
    notes += [f"{name}={_short(link.query[name])} is not a setting of this page; ignored." for name in link.query
              if name not in used and name not in PRESENTATION]
    drawn = replace(link_from_values(link.page, values), base=link.base)
    return Export(drawn, view, t, tuple(notes))


def _step_page(link, cfg, display, values, notes):
    grads = bptt_study.cell_gradients(cfg, values["loss"])
    study = grads.scenario
    H = study.trace.H
    unit = 0 if H == 1 else _unit(link, H, values, notes)
    t = _step(link, "t", study.T, values, notes)
    view = step_view.build(study, cfg, display, unit, stack_study.build(cfg) if cfg.stacked else None)
    tables = {"step-numbers": numbers.unit_steps(study, grads.backward, values["loss"]),
              "step-weights": numbers.weights(study)}
    return replace(view, tables=tables), t


def _unit(link: Link, H: int, values: dict, notes: list[str]) -> int:
    raw = link.query.get("unit")
    unit, note = (0, None) if raw is None else parse_param("unit", raw, step_view.unit_param(H))
    values["unit"] = unit
    notes += [note] if note else []
    return int(unit)


def _bptt_page(link, cfg, display, values, notes):
    study = bptt_study.build(cfg, values["loss"])
    mode = values["mode"]
    t = _step(link, bptt_view.STEP_PARAMS[mode], study.main.scenario.T, values, notes)
    view = bptt_view.build(study, cfg, display, mode)
    if cfg.stacked:  # the page draws the whole stack's gradient first
        stack = bptt_view.stack_view(stack_study.gradients(cfg, values["loss"]), cfg, display)
        view = replace(view, sections=stack.sections | view.sections)
    main = study.main
    tables = {"bptt-numbers": numbers.unit_steps(main.scenario, main.backward, values["loss"]),
              "bptt-weights": numbers.weights(main.scenario), "bptt-norms": numbers.gradient_norms(study)}
    return replace(view, tables=tables), t


def _setups_page(link, cfg, display, values, notes):
    study = setups_study.build(cfg)
    view = setups_view.build(study, cfg, display, values["setup"])
    return replace(view, tables={"setups-numbers": setups_view.table(study)}), None


def _compare_page(link, cfg, display, values, notes):
    study = compare_study.build_trained() if values["models"] == "gallery" else compare_study.build(cfg)
    default = study.first_kept_step
    raw = link.query.get("perturb")
    k, note = (default, None) if raw is None else parse_param("perturb", raw,
                                                              compare_view.perturb_param(study.T, default))
    values["perturb"] = k
    notes += [note] if note else []
    memory = compare_study.memory(study, int(k))
    t = _step(link, "t", study.T, values, notes)
    view = compare_view.build(study, memory, cfg, display)
    tables = {"compare-numbers": numbers.compare_steps(study, memory), "compare-cells": numbers.compare_cells(study)}
    return replace(view, tables=tables), t


def _attention_page(link, display, values, notes):
    study = attention_study.build(_attention_scenario(values))  # the link's digits are checked: never empty
    t = _step(link, "t", study.U, values, notes)
    return attention_view.build(study, display.present), t


def _attention_scenario(values: dict) -> attention_study.Scenario:
    return attention_study.Scenario(attention=values["attention"], digits=values["digits"] or "",
                                    weights=values["model"])


def _training(values: dict, display: Display, runs) -> View:
    if values["part"] == "cliff":
        if values["cl_snap"]:
            start = training_study.wall_point(float(values["cl_b"]))
            if start is None:
                low, high = training_study.SNAP_B_RANGE
                raise LinkError(f"at cl_b={values['cl_b']:g} there is no wall a start can stand next to: choose cl_b "
                                f"between {low:g} and {high:g}, or cl_snap=false with a weight cl_w.")
        else:
            start = (float(values["cl_w"]), float(values["cl_b"]))
        cliff = training_study.cliff_study(start, float(values["cl_lr"]), int(values["cl_steps"]),
                                           float(values["cl_tau"]))
        view = training_view.cliff_view(cliff, training_study.loss_surface(), display,
                                        scenario=training_study.cliff_slug(values))
        return replace(view, tables={"cliff-descents": numbers.cliff_descents(cliff)})
    configs = training_study.run_configs(values)
    if not configs:
        raise LinkError("every run is switched off (r1_clip, r2_clip and r3_clip are all off): nothing to export.")
    trained = runs(configs)
    view = training_view.runs_view(trained, display)
    return replace(view, tables={"train-history": numbers.training_history(trained)})


def scenario_name(link: Link) -> str:
    """The scenario part of the file names, without computing anything (for a download's name)."""
    values, _ = _read(link, page_params(link.page))
    if link.page == "attention":
        return attention_study.slug(_attention_scenario(values))
    if link.page == "training":
        if values["part"] == "cliff":
            return training_study.cliff_slug(values)
        return training_study.runs_slug(training_study.run_configs(values))
    if link.page == "compare":
        raw, models = link.query.get("perturb"), values["models"]
        if raw is not None:
            k = parse_param("perturb", raw, compare_view.perturb_param(MAX_STEPS))[0]
        else:  # the trained trio's default step is its first symbol: read off its input (no training)
            k = compare_study.build_trained().first_kept_step if models == "gallery" else 1
        return compare_view.scenario(config.config_from(values), int(k), models)
    name = config.slug(config.config_from(values))
    return name + ("" if link.page in ("step", "setups") or values["loss"] == "last" else f"-loss{values['loss']}")


def main_table(link: Link) -> str:
    """The name of the view's main table, the one "Export the numbers" downloads."""
    if link.page == "training":
        part = link.query.get("part", training_study.PARAMS["part"].default)
        return "cliff-descents" if part == "cliff" else "train-history"
    if link.page == "attention":
        return "attention-gradients"
    return f"{link.page}-numbers"


def numbers_csv(export: Export, table: str) -> bytes:
    """One table of the export as CSV (views.numbers.csv_bytes)."""
    return numbers.csv_bytes(export.view.tables[table])


def _short(raw: str, limit: int = 24) -> str:
    return raw if len(raw) <= limit else raw[:limit] + "…"


# --- the files ---------------------------------------------------------------------------------------


def texts(export: Export) -> dict[str, bytes]:
    """Every file but the images: name -> content."""
    view, t = export.view, export.t
    out: dict[str, bytes] = {}
    for item in view.items:
        if item.block is not None:
            name = export.filename(item)
            title = item.title or item.name
            out[f"{name}.txt"] = files.block_plain(item.block, t or 1).encode("utf-8")
            out[f"{name}.html"] = files.block_page(item.block, t or 1, title, item.caption).encode("utf-8")
    for table, columns in view.tables.items():
        out[f"rnnviz-{table}-{view.scenario}.csv"] = numbers.csv_bytes(columns)
    out[f"{export.name('view')}.html"] = _view_html(export).encode("utf-8")
    out[f"{export.name('link')}.txt"] = (export.link.url + "\n").encode("utf-8")
    return out


def _view_html(export: Export) -> str:
    view, label = export.view, PAGES[export.view.page].label
    items = [wire.Item(figure=item.figure, block=item.block, title=item.title, caption=item.caption, half=item.half,
                       filename=view.filename(item)) for item in view.items]
    step = None
    if view.stepping is not None and export.t is not None:
        s = view.stepping
        step = wire.Step(T=s.T, t=export.t, labels=s.labels, view=s.view, label=s.label, text=s.text,
                         direction=s.direction)
    present = bool(export.link.query.get("present") == "true")
    lines = [f"Scenario: {view.scenario}.", f"The link of this view in rnnviz: {export.link.url}",
             *export.notes]
    return files.view_page(f"rnnviz · {label}", lines, items, step, files.PRESENT_FONT if present else None)


def images(export: Export, out: Path) -> list[files.Image]:
    """The PNG and SVG of every figure of the view, to be written into `out`."""
    found = []
    for item in export.view.items:
        if item.figure is None:
            continue
        spec = files.static_spec(item.figure, export.t, item.half)
        found += [files.Image(spec, out / f"{export.filename(item)}.{fmt}", fmt) for fmt in ("png", "svg")]
    return found


@dataclass(frozen=True)
class Written:
    """What write() wrote, and why the images are missing if they are."""

    paths: list[Path]
    images_missing: str | None  # None: every PNG and SVG was written


def write(export: Export, out: Path, with_images: bool = True) -> Written:
    """Write every file of the export into the folder `out` (made if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in texts(export).items():
        (out / name).write_bytes(content)
        paths.append(out / name)
    wanted = images(export, out) if with_images else []
    reason = files.write_images(wanted) if with_images else "they were not asked for (--no-images)."
    if reason is None:
        paths += [image.path for image in wanted]
    else:
        for image in wanted:  # never a half-written set: all images, or none and a note
            image.path.unlink(missing_ok=True)
        note = out / f"{export.name('images-missing')}.txt"
        note.write_text(f"The PNG and SVG files of this view are missing: {reason}\n"
                        "Every figure is in the HTML file beside this note; it opens offline, and each figure's "
                        "camera buttons there save a PNG (3x) or an SVG.\n", encoding="utf-8")
        paths.append(note)
    return Written(paths, reason)


def zip_bytes(export: Export, with_images: bool = True) -> bytes:
    """Every file of the export in one zip (images rendered in a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="rnnviz-export-") as tmp:
        written = write(export, Path(tmp), with_images)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in written.paths:
                # PNGs are compressed already: stored, they zip in a fraction of the time
                kind = zipfile.ZIP_STORED if path.suffix == ".png" else zipfile.ZIP_DEFLATED
                archive.write(path, path.name, compress_type=kind)
        return buffer.getvalue()


# --- the command line ------------------------------------------------------------------------------

EPILOG = """\
examples:
  python -m rnnviz.export "Step_through" --out slides/
  python -m rnnviz.export "Backprop_through_time?cell=lstm&length=80&present=true" --out slides/
  python -m rnnviz.export "http://localhost:8501/Step_through?cell=gru&text=abc&t=3" --out slides/
  python -m rnnviz.export "Clipping_and_training?part=cliff&cl_b=-4" --out slides/ --no-images
  python -m rnnviz.export "Compare_cells?source=noise&length=60&perturb=5" --out slides/
  python -m rnnviz.export "Attention?digits=31415926&t=3" --out slides/

Copy the link from the browser's address bar: the files show that view, at its step. Values the app
would change (out of range, unreadable) are changed the same way, with a note on stderr. What only
changes how the page is presented (a student link's hide=..., lesson=, step=, play=, speed=) is
ignored without a note. File names
say the page, the figure, the scenario and the step, so many scenarios can share one folder.
PNG and SVG need Chrome or Chromium (found on the PATH, or set BROWSER_PATH); without one, the HTML,
CSV and text files are written with a note saying why the images are missing. The training page
trains its runs first (seconds to minutes).

exit status: 0 written (images may be missing: see the note); 2 a page that is not rnnviz's or a
link rnnviz cannot compute.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rnnviz.export", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Write every figure (PNG 3x and SVG), the equations, an offline interactive HTML page, "
                    "the numbers (CSV) and the link of one view of rnnviz, from its link, without a browser "
                    "session or a running server.")
    parser.add_argument("link", help='the path and query of an rnnviz link, e.g. "Step_through?cell=lstm&t=4", '
                                     "or a full URL")
    parser.add_argument("--out", type=Path, default=Path("."), help="the folder to write into (default: here)")
    parser.add_argument("--no-images", action="store_true", help="skip PNG and SVG (no Chromium needed)")
    parser.add_argument("--base-url", help="where the app is served, for the link file (default: the link's own "
                                           f"host if it is a full URL, else {DEFAULT_BASE})")
    args = parser.parse_args(argv)
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731
    start = time.perf_counter()
    try:
        link = parse_link(args.link)
        if args.base_url:
            base = urlsplit(args.base_url)
            if not (base.scheme in ("http", "https") and base.netloc):
                raise LinkError(f"--base-url {args.base_url!r} is not an http(s) address such as {DEFAULT_BASE}")
            link = replace(link, base=args.base_url.rstrip("/"))
        export = build(link, runs=lambda configs: train_runs(configs, progress=say))
    except LinkError as err:
        say(f"rnnviz.export: {err}")
        return 2
    for note in export.notes:
        say(f"note: {note}")
    written = write(export, args.out, with_images=not args.no_images)
    if written.images_missing and not args.no_images:
        say(f"PNG and SVG missing: {written.images_missing}")
    for path in written.paths:
        print(path)
    say(f"wrote {len(written.paths)} files for {export.link.text} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
