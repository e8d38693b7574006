"""Figures and text blocks as files: PNG and SVG (kaleido, with the system's Chromium), a standalone
HTML page of a whole view that opens offline, and the equations as text and HTML.

The static figure of a stepped figure is its StepFigure.at(t), the figure the browser draws at t;
cursor shapes (the current step) stay, controls never come along. The HTML page embeds plotly.js,
rnnviz's own client.js and the view's payload (figures/payload.py): the very element the app draws,
with its step control, Play and the PNG/SVG buttons, moving every figure through t in the file
itself. The arrays travel once, so a long sequence costs what it costs in the app (a Plotly slider
with a frame per step would copy every changing trace T times). Nothing here imports Streamlit.
"""

from __future__ import annotations

import base64
import functools
import html
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import plotly
import plotly.graph_objects as go

from ..equations import num
from . import payload
from .steps import StepBlock, StepFigure, block_parts

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
CLIENT_JS = Path(__file__).resolve().parents[1] / "ui" / "client.js"  # read as a file: no Streamlit here
WIDTH = {False: 1200, True: 700}  # px of a full-width and of a half-width figure (half: a slide's column)
DEFAULT_HEIGHT = 450  # px, for a figure that does not set its own
SCALE = {"png": 3, "svg": 1}
CONTROLS = ("updatemenus", "sliders")  # on-screen controls a layout may carry: never exported
PRESENT_FONT = "21px"  # the element's own text in presentation mode (as rnnviz.ui.PRESENT_FONT)
_KALEIDO = threading.Lock()  # one Chromium at a time per process: a class clicking Export queues


def static_spec(figure: go.Figure | StepFigure, t: int | None, half: bool = False) -> dict:
    """The figure as it is exported: at step t if stepped, at its export size, on white, without
    any on-screen control (Play buttons, sliders) or animation frames."""
    fig = figure.at(t) if isinstance(figure, StepFigure) else figure
    spec = fig.to_dict()
    spec.pop("frames", None)
    layout = spec.setdefault("layout", {})
    for control in CONTROLS:
        layout.pop(control, None)
    layout["width"] = WIDTH[half]
    layout["height"] = int(layout.get("height") or DEFAULT_HEIGHT)
    layout["paper_bgcolor"] = layout["plot_bgcolor"] = "white"
    # The title's room is made before the first draw, not by automargin: a static render takes the
    # heatmaps' images from the first layout pass and the shapes from the one after the title pushed
    # the top margin, so every strip of the cell diagram sat half a box above its frame.
    title = layout.get("title")
    if isinstance(title, dict) and title.get("text"):
        lines = str(title["text"]).count("<br>") + 1
        size = (title.get("font") or {}).get("size", 18)
        room = int(lines * size * 1.35 + (title.get("pad") or {}).get("b", 0) + 12)
        layout["title"] = {**title, "automargin": False, "y": 1.0, "yref": "container", "yanchor": "top",
                           "pad": {"t": 8}}
        margin = layout.setdefault("margin", {})
        margin["t"] = max(int(margin.get("t", 0)), room)
    return spec


@dataclass(frozen=True)
class Image:
    """One image to write: a static figure spec, the path, "png" or "svg"."""

    spec: dict
    path: Path
    format: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels of the written file: the layout's size times the scale."""
        layout, scale = self.spec["layout"], SCALE[self.format]
        return int(layout["width"] * scale), int(layout["height"] * scale)


def write_images(images: list[Image], timeout: float = 120) -> str | None:
    """Render every image with kaleido in one Chromium; None when all were written, else why not.

    Kaleido 1.x drives a Chrome or Chromium already installed: it looks for `BROWSER_PATH`, then
    `chromium`, `google-chrome`... on the PATH and their usual places (Debian's /usr/bin/chromium
    among them). MathJax is off: it would be fetched from the web, and rnnviz's figures use none.
    """
    if not images:
        return None
    try:
        import kaleido
    except ImportError:
        return "the Python package kaleido is not installed (pip install 'kaleido>=1.5')."
    jobs = [{"fig": image.spec, "path": image.path,
             "opts": {"format": image.format, "scale": SCALE[image.format], "width": image.spec["layout"]["width"],
                      "height": image.spec["layout"]["height"]}} for image in images]
    try:
        with _KALEIDO:
            errors = kaleido.write_fig_from_object_sync(jobs, kopts={"mathjax": False, "timeout": timeout})
    except Exception as err:  # no browser, a browser that would not start, a timeout: the reason goes in a note
        return _reason(err)
    if errors:
        return "kaleido could not render every figure: " + "; ".join(_reason(e) for e in errors[:3])
    missing = [image.path.name for image in images if not image.path.is_file()]
    return f"kaleido wrote no file for {', '.join(missing)}." if missing else None


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split()) or "no message"
    if type(err).__name__ == "ChromeNotFoundError":
        return ("no Chrome or Chromium was found to render them (kaleido needs one: install Debian's chromium "
                "package, or Google Chrome, or set BROWSER_PATH to the browser's executable). kaleido said: " + text)
    return f"{type(err).__name__}: {text}"


# --- the equations ---------------------------------------------------------------------------------


def plain(markup: str) -> str:
    """rnnviz's equation markup as plain text: x<sub>t</sub> -> x_t, 10<sup>-3</sup> -> 10^-3."""
    text = re.sub(r"<sub>(.*?)</sub>(?=\w)", r"_\1 ", markup)  # W_ii x_t, not W_iix_t
    text = re.sub(r"<sub>(.*?)</sub>", r"_\1", text)
    text = re.sub(r"<sup>(.*?)</sup>", r"^\1", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def block_plain(block: StepBlock, t: int) -> str:
    """The text block at step t as plain text, the numbers as the app prints them."""
    text = {"markup": plain, "number": lambda v: plain(num(v)), "count": lambda v: f"{v:g}", "label": str}
    return "".join("".join(text[kind](value) for kind, value, _ in line) + "\n" for line in block_parts(block, t))


def block_markup(block: StepBlock, t: int) -> str:
    """The text block at step t as HTML: each number with the term it is written under it."""

    def markup(kind: str, value, under: str | None) -> str:
        if kind == "markup":
            return value  # trusted markup written by rnnviz
        if kind == "label":
            return html.escape(value)  # user text: literal
        if kind == "count":
            return f"{value:g}"
        if under is None:
            return num(value)
        return f'<span class="num"><span>{num(value)}</span><span class="under">{under}</span></span>'

    return "\n".join(f'<div class="line">{"".join(markup(*part) for part in line)}</div>'
                     for line in block_parts(block, t))


BLOCK_CSS = """
body { font-family: Inter, "Source Sans Pro", "DejaVu Sans", Arial, sans-serif; color: #1a1a1a; margin: 2em; }
.line { font-size: 1.25em; margin: 0.5em 0 0.9em; line-height: 1.35; }
.num { display: inline-flex; flex-direction: column; align-items: center; vertical-align: top; margin: 0 0.12em; }
.under { font-size: 0.68em; color: #555; border-top: 1px solid #999; padding-top: 0.1em; white-space: nowrap; }
p { color: #555; }
"""


def block_page(block: StepBlock, t: int, title: str, caption: str) -> str:
    """A standalone HTML page of the text block at step t."""
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{BLOCK_CSS}</style></head>\n<body><h2>{html.escape(title)}</h2>\n{block_markup(block, t)}\n"
            f"<p>{html.escape(caption)}</p></body></html>\n")


# --- the whole view, interactive and offline ---------------------------------------------------------

PAGE_CSS = """
body { font-family: Inter, "Source Sans Pro", "DejaVu Sans", Arial, sans-serif; color: #1a1a1a; margin: 0; }
main { max-width: 1240px; margin: 0 auto; padding: 1.2rem 1.5rem 3rem; }
header h1 { font-size: 1.6rem; margin: 0.2rem 0 0.4rem; }
header p { color: #555; margin: 0.2rem 0; }
header code { background: #f3f3f3; padding: 0.05em 0.3em; border-radius: 0.25em; word-break: break-all; }
"""


def _script_safe(code: str) -> str:
    """JavaScript made safe inside <script>…</script> ("</script" would end it)."""
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)


@functools.cache
def _plotly_script() -> str:
    """plotly.js (4.8 MB), read once per process."""
    return _script_safe(PLOTLY_JS.read_text(encoding="utf-8"))


def view_page(title: str, lines: list[str], items: list[payload.Item], step: payload.Step | None,
              font: str | None = None) -> str:
    """One HTML file that draws `items` as the app does, with nothing fetched from the network.

    title, lines: plain text above the figures (escaped here). plotly.js runs as a classic script
    (window.Plotly, which client.js takes when present); client.js is imported from a blob URL,
    unchanged; the payload is base64.
    """
    data = base64.b64encode(payload.payload(items, step, font)).decode("ascii")
    client = base64.b64encode(CLIENT_JS.read_bytes()).decode("ascii")
    intro = "\n".join(f"<p>{html.escape(line)}</p>" for line in lines)
    mount = """
const decode = (id) => Uint8Array.from(atob(document.getElementById(id).textContent.trim()), (c) => c.charCodeAt(0));
const source = new TextDecoder().decode(decode("rv-client"));
const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
const mount = (await import(url)).default;
mount({ parentElement: document.getElementById("rv-view"), data: decode("rv-payload") });
"""
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title>\n<style>{PAGE_CSS}</style>\n"
            f"<script>{_plotly_script()}</script>\n</head>\n"
            f"<body><main><header><h1>{html.escape(title)}</h1>\n{intro}</header>\n"
            f'<div id="rv-view"></div></main>\n'
            f'<script id="rv-payload" type="application/octet-stream">{data}</script>\n'
            f'<script id="rv-client" type="application/octet-stream">{client}</script>\n'
            f'<script type="module">{mount}</script>\n</body></html>\n')

