"""rnnviz's own figure element: Plotly figures (and text with live numbers) drawn in the browser by
client.js, moved through the steps t there, without a server round trip.

`figures(items, ...)` mounts one element holding several items (figures, text blocks) and, for a
stepped view, the step control. Everything the items need travels once, as one binary payload
(figures/payload.py: a JSON header plus every distinct array once, in binary). `step_sync(...)`,
placed in its own fragment, hears t from the browser (debounced) so the session and the URL follow it
at the cost of a tiny fragment rerun, never a re-sent figure.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import plotly
import streamlit as st

from ..figures.payload import Decoded, Item, Step, decode, payload

__all__ = ["Decoded", "Item", "Step", "decode", "figures", "payload", "step_sync"]

JS = Path(__file__).with_name("client.js").read_text(encoding="utf-8")
ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"  # Streamlit's static serving (server.enableStaticServing) serves it at app/static/
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
CARTESIAN_JS = Path(__file__).with_name("vendor") / "plotly-cartesian.min.js"  # see vendor/README.md


def _name(prefix: str, content: bytes) -> str:
    return f"{prefix}-{hashlib.blake2b(content, digest_size=6).hexdigest()}.js"  # a new name per version


def plotly_version(path: Path) -> str | None:
    """The version a plotly.js bundle states in its header ("* plotly.js v4.1.1"), or None."""
    try:
        with path.open(encoding="utf-8") as f:
            head = f.read(300)
    except OSError:
        return None
    match = re.search(r"plotly\.js (?:\(\w+ - minified\) )?v(\S+)", head)
    return match.group(1) if match else None


CLIENT_NAME = _name("rnnviz-client", JS.encode())
PLOTLY_NAME = _name("rnnviz-plotly", PLOTLY_JS.read_bytes())
# The partial bundle only while it is the same plotly.js as the full one (the exports' and kaleido's).
CARTESIAN = plotly_version(CARTESIAN_JS) is not None and plotly_version(CARTESIAN_JS) == plotly_version(PLOTLY_JS)
CARTESIAN_NAME = _name("rnnviz-plotly-cartesian", CARTESIAN_JS.read_bytes()) if CARTESIAN else None


def _publish() -> bool:
    """Put plotly.js and client.js where the browser fetches them, once; False if that is not possible.

    A component's JavaScript travels inside every message that mounts it, so the element mounts a
    loader of a few lines that imports client.js from the static folder; plotly.js is fetched from
    there too, as a classic script (parsed off the main thread, kept compiled in the browser's
    cache): its cartesian bundle (1.5 MB), and the full one (4.8 MB) for a figure that needs more.
    Each file is named after its content and keeps its source's modification time: Streamlit's
    static files carry no Cache-Control, so the browser judges their freshness by their age, and
    may take an unchanged file under an unchanged name from its cache without asking the server.
    """
    try:
        STATIC.mkdir(exist_ok=True)
        files = [(PLOTLY_NAME, None, PLOTLY_JS), (CLIENT_NAME, JS, Path(__file__).with_name("client.js"))]
        if CARTESIAN_NAME:
            files.append((CARTESIAN_NAME, None, CARTESIAN_JS))
        for name, text, source in files:
            target = STATIC / name
            if target.exists():
                continue
            prefix = name.rsplit("-", 1)[0]
            for old in STATIC.glob(f"{prefix}-????????????.js"):
                old.unlink(missing_ok=True)
            if text is None:  # plotly.js's bundle, given a `module` so it defines no global but window.Plotly
                text = "(function (module) {\n" + source.read_text(encoding="utf-8") + "\n})({ exports: {} });\n"
            partial = STATIC / f"{name}.{os.getpid()}.part"
            partial.write_text(text, encoding="utf-8")
            stat = source.stat()
            os.utime(partial, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            partial.replace(target)  # whole or not at all: another worker may be serving the folder
        return True
    except OSError:
        return False  # a read-only install without them: the element carries client.js itself


ASSETS = {"plotly": f"app/static/{PLOTLY_NAME}", "cartesian": CARTESIAN_NAME and f"app/static/{CARTESIAN_NAME}"}
LOADER = ('export default async function (args) {\n'
          f'  const client = await import(new URL("app/static/{CLIENT_NAME}", document.baseURI));\n'
          f'  return client.default(args, {json.dumps(ASSETS)});\n}}\n')
_element = st.components.v2.component("rnnviz_figures", js=LOADER if _publish() else JS, isolate_styles=False)

# The step sync: a few lines, sharing the page's step through window.__rnnvizStep (see client.js).
SYNC_JS = """
export default function ({ parentElement, data, setStateValue }) {
  const header = JSON.parse(new TextDecoder().decode(data instanceof Uint8Array ? data : new Uint8Array(data)));
  const bus = (window.__rnnvizStep ??= { t: 1, T: 1, view: null, version: null, listeners: new Set() });
  if (parentElement.__rvSync) bus.listeners.delete(parentElement.__rvSync.listener);
  const state = (parentElement.__rvSync = { timer: null });
  state.listener = (t, origin) => {
    if (bus.view !== header.view) return;
    const url = new URL(window.location.href);  // the URL follows t at once ...
    if (t === header.default) url.searchParams.delete(header.param);
    else url.searchParams.set(header.param, String(t));
    window.history.replaceState(window.history.state, "", url);
    if (origin === "play") return;  // ... the server hears when t settles, not while playing
    clearTimeout(state.timer);
    const tell = () => { if (bus.t !== header.t) setStateValue("t", bus.t); };
    state.timer = setTimeout(tell, origin === "force" ? 0 : 300);
  };
  bus.listeners.add(state.listener);
  if (bus.view === header.view && bus.t !== header.t) state.listener(bus.t, "force");
}
"""
_sync = st.components.v2.component("rnnviz_step_sync", js=SYNC_JS, isolate_styles=False)


def figures(items: list[Item], step: Step | None = None, *, key: str, font: str | None = None) -> None:
    """Mount one element drawing `items` (and the step control when `step` has one)."""
    _element(data=payload(items, step, font), key=key)


def step_sync(view: str, t: int, *, param: str = "t", default: int = 1, key: str, on_change) -> int | None:
    """The browser's t, heard after it settles (None until it moves); call inside an st.fragment."""
    header = {"view": view, "t": int(t), "param": param, "default": default}
    result = _sync(data=json.dumps(header).encode(), key=key, on_t_change=on_change)
    value = getattr(result, "t", None) if result is not None else None
    return None if value is None else int(value)
