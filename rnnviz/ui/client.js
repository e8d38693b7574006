// rnnviz's figures in the browser: drawn with plotly.js, moved through the steps t without a server
// round trip, exported as PNG or SVG with names that say what they show.
//
// The server mounts this module (rnnviz/ui/client.py) with a binary payload:
//   [uint32 header length][JSON header][padding to 4 bytes][arrays, each at an offset into this part]
// The header lists items (figures with step references, text blocks with numbers, the step control)
// and the arrays (float32, float64, int32) they point into. Every page's instances share one step t
// through `bus`; a sync element writes t into the URL at once and tells the server after a pause,
// so a copied link reopens the same step and the next rerun starts from it (the sync is its own small
// component, client.py's SYNC_JS, so that message carries no figure and no copy of this module).

const bus = (window.__rnnvizStep ??= { t: 1, T: 1, view: null, version: null, listeners: new Set() });

function setT(t, origin) {
  t = Math.max(1, Math.min(bus.T, Math.round(t)));
  if (t === bus.t && origin !== "force") return;
  bus.t = t;
  for (const listener of [...bus.listeners]) listener(t, origin);
}

// --- plotly.js: the page's copy when it has one, else ours from /app/static/ -----------------------

// Classic scripts (not fetched text run through new Function): the browser parses them off the main
// thread and caches them compiled. The cartesian bundle (1.5 MB) starts 3-4x faster than the full one
// (4.8 MB); a figure with a trace type it lacks gets the full one. Each bundle sets window.Plotly.
const CARTESIAN = new Set(["scatter", "bar", "box", "heatmap", "histogram", "histogram2d", "histogram2dcontour",
                           "contour", "scatterternary", "violin", "image", "pie"]);
const bundles = new Map(); // src -> Promise of that bundle's Plotly
const pagePlotly = window.Plotly; // a page that brings its own (the standalone HTML export)

function loadPlotly(assets, types) {
  const major = pagePlotly?.version ? +pagePlotly.version.split(".")[0] : 0;
  if (major >= 3) return Promise.resolve(pagePlotly);
  const full = assets.plotly ?? "app/static/plotly.min.js";
  const src = assets.cartesian && types.every((type) => CARTESIAN.has(type)) ? assets.cartesian : full;
  if (!bundles.has(src)) {
    bundles.set(src, new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = new URL(src, document.baseURI).href;
      script.async = true;
      // the load event follows the script's run at once: window.Plotly is this bundle's
      script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error("plotly.js did not load")));
      script.onerror = () => {
        bundles.delete(src); // the next element tries again
        reject(new Error("plotly.js could not be loaded"));
      };
      document.head.append(script);
    }));
  }
  return bundles.get(src);
}

function traceTypes(items) {
  return items.flatMap((item) => (item.figure?.data ?? []).map((trace) => trace.type ?? "scatter"));
}

// --- the payload ----------------------------------------------------------------------------------

const TYPED = { f4: Float32Array, f8: Float64Array, i4: Int32Array, u1: Uint8Array };

function decode(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const buffer = bytes.slice().buffer; // an aligned copy: typed views need aligned offsets
  const headerLength = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, headerLength)));
  const base = Math.ceil((4 + headerLength) / 8) * 8;
  const arrays = {};
  for (const [id, a] of Object.entries(header.arrays ?? {})) {
    const size = a.shape.reduce((x, y) => x * y, 1);
    arrays[id] = { values: new TYPED[a.dtype](buffer, base + a.offset, size), shape: a.shape };
  }
  return { header, arrays };
}

function rows(a) {
  if (a.shape.length < 2) return a.values;
  const n = a.shape[1];
  return Array.from({ length: a.shape[0] }, (_, r) => a.values.subarray(r * n, (r + 1) * n));
}

function transposed(a) {
  const [m, n] = a.shape;
  const out = Array.from({ length: n }, () => new a.values.constructor(m));
  for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) out[c][r] = a.values[r * n + c];
  return out;
}

function rowAt(a, t) {
  const n = a.shape.length > 1 ? a.shape[1] : 1;
  return Array.from(a.values.subarray((t - 1) * n, t * n), (v) => (Number.isFinite(v) ? v : null));
}

// A reference is an object with a "$" key; every other value is drawn as it is.
function isRef(v) {
  if (v === null || typeof v !== "object" || Array.isArray(v) || ArrayBuffer.isView(v)) return false;
  for (const k in v) if (k[0] === "$") return true;
  return false;
}

function stepDependent(ref) {
  return !("$a" in ref) && !("$whole" in ref);
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeText = (s) => String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]);

function fill(text, t, ctx) {
  return text
    .replaceAll("{t2}", String(t).padStart(2, "0"))
    .replaceAll("{t}", String(t))
    .replaceAll("{T}", String(ctx.T))
    .replaceAll("{label}", ctx.labels[t - 1] ?? ""); // labels arrive escaped for Plotly
}

function evaluate(ref, t, ctx) {
  if ("$a" in ref) return ctx.whole(ref.$a, false);
  if ("$whole" in ref) return ctx.whole(ctx.names[ref.$whole], ref.transpose);
  if ("$row" in ref) return [rowAt(ctx.arrays[ctx.names[ref.$row]], t)];
  if ("$cell" in ref) return rowAt(ctx.arrays[ctx.names[ref.$cell]], t)[ref.col ?? 0];
  if ("$t" in ref) return (ref.scale ?? 1) * t + ref.$t;
  if ("$grid" in ref) {
    const k = t - 1;
    return (ref.axis === "row" ? Math.floor(k / ref.$grid) : k % ref.$grid) + (ref.add ?? 0);
  }
  if ("$text" in ref) return fill(ref.$text, t, ctx);
  if ("$window" in ref) {
    const width = ref.$window, last = ref.n - 1;
    const lo = Math.min(Math.max(t - 1 - width / 2, -0.5), Math.max(last + 0.5 - width, -0.5));
    return [lo, lo + width];
  }
  if ("$slot" in ref) return fillSlot(ref.text, windowStart(t, ref.width, ref.T) + ref.$slot, ctx);
  if ("$slotcursor" in ref) return t - windowStart(t, ref.$slotcursor, ref.T) + (ref.add ?? 0);
  if ("$reached" in ref) return materialise(t <= ref.$reached ? ref.then : ref.otherwise, t, ctx);
  throw new Error("unknown reference " + JSON.stringify(ref));
}

function windowStart(t, width, T) {
  return Math.max(1, Math.min(t - Math.floor(width / 2), T - width + 1));
}

function fillSlot(text, step, ctx) {
  // {s}: the step; {name}: that step's value of the item's array `name`, 3 significant digits
  return text.replace(/\{(\w+)\}/g, (match, name) => {
    if (name === "s") return String(step);
    const id = ctx.names?.[name];
    if (id === undefined) return match;
    const v = rowAt(ctx.arrays[id], step)[0];
    return v === null ? "not finite" : String(+v.toPrecision(3));
  });
}

function materialise(node, t, ctx) {
  if (isRef(node)) return evaluate(node, t, ctx);
  if (Array.isArray(node)) return node.map((v) => materialise(v, t, ctx));
  if (node && typeof node === "object" && !ArrayBuffer.isView(node)) {
    const out = {};
    for (const [k, v] of Object.entries(node)) out[k] = materialise(v, t, ctx);
    return out;
  }
  return node;
}

// Plotly attribute paths of the step-dependent references, per trace and in the layout.
function stepPaths(spec) {
  const traces = [], layout = [];
  function walk(node, path, out) {
    if (isRef(node)) {
      if (stepDependent(node)) out.push([path, node]);
      return;
    }
    if (Array.isArray(node)) node.forEach((v, k) => walk(v, `${path}[${k}]`, out));
    else if (node && typeof node === "object" && !ArrayBuffer.isView(node)) {
      for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k, out);
    }
  }
  spec.data.forEach((trace, i) => {
    const out = [];
    walk(trace, "", out);
    for (const [p, ref] of out) traces.push([i, p, ref]);
  });
  walk(spec.layout, "", layout);
  return { traces, layout };
}

// --- numbers in text blocks, as rnnviz.equations.num ------------------------------------------------

function num(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return x > 0 ? "∞" : x < 0 ? "−∞" : "NaN";
  let text;
  if (x === 0) text = "0";
  else if (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4) text = String(+Math.abs(x).toPrecision(3));
  else {
    const [m, e] = Math.abs(x).toExponential(2).split("e");
    text = `${+m}×10<sup>${+e}</sup>`;
  }
  return x < 0 ? `(−${text})` : text;
}

// --- long titles wrap --------------------------------------------------------------------------------

const measure = document.createElement("canvas").getContext("2d");

// A title that would run past the exported image is broken into lines at spaces, never inside a tag.
// The figure of step t as exported: everything in it (the title, wrapped to the width, and the cursors).
function exportFigure(spec, t, ctx, width) {
  const layout = wrapTitle(materialise(spec.layout, t, ctx), width);
  const lines = (layout.title?.text ?? "").split("<br>").length;
  const size = layout.title?.font?.size ?? 18;
  layout.title = { ...layout.title, y: undefined, yref: "container", yanchor: "auto", automargin: false };
  layout.margin = { ...(layout.margin ?? {}), t: Math.round(24 + lines * size * 1.35) };
  return { data: materialise(spec.data, t, ctx), layout };
}

function wrapTitle(layout, width) {
  const title = layout.title;
  const text = title?.text;
  if (typeof text !== "string" || text.includes("<br>") || !width) return layout;
  const font = title.font ?? {};
  measure.font = `${font.size ?? 18}px ${font.family ?? layout.font?.family ?? "sans-serif"}`;
  const room = width - 40;
  const textWidth = (s) => measure.measureText(s.replace(/<[^>]+>/g, "")).width;
  if (textWidth(text) <= room) return layout;
  const lines = [];
  let line = "";
  for (const word of text.split(" ")) {
    const candidate = line ? line + " " + word : word;
    if (line && textWidth(candidate) > room) {
      lines.push(line);
      line = word;
    } else line = candidate;
  }
  lines.push(line);
  return { ...layout, title: { ...title, text: lines.join("<br>") } };
}

function renderBlock(el, block, t, ctx) {
  el.replaceChildren();
  for (const line of block.lines) {
    const row = document.createElement("div");
    row.className = "rv-line";
    for (const token of line) {
      if (typeof token === "string") {
        const span = document.createElement("span");
        span.innerHTML = token; // trusted markup written by rnnviz, never user text
        row.append(span);
      } else if ("$cell" in token) {
        const box = document.createElement("span");
        box.className = "rv-num";
        const value = document.createElement("span");
        value.innerHTML = num(evaluate(token, t, ctx)); // digits, signs and <sup> only
        box.append(value);
        if (token.under) {
          const under = document.createElement("span");
          under.className = "rv-under";
          under.innerHTML = token.under; // trusted markup written by rnnviz
          box.append(under);
        }
        row.append(box);
      } else if ("$t" in token) {
        row.append(document.createTextNode(String(evaluate(token, t, ctx))));
      } else if ("$label" in token) {
        row.append(document.createTextNode(ctx.rawLabels[t - 1] ?? "")); // user text: literal
      }
    }
    el.append(row);
  }
}

// --- cursors over a plot ------------------------------------------------------------------------------

// Pixel position of a value on an axis of a drawn plot (data coordinates, or "domain" fractions).
function axisPixel(gd, ref, value, vertical) {
  const full = gd._fullLayout;
  if (!ref || ref === "paper") {
    const size = full._size;
    return vertical ? size.t + size.h * (1 - value) : size.l + size.w * value;
  }
  const domain = ref.endsWith(" domain");
  const name = ref.replace(" domain", "");
  const axis = full[(vertical ? "yaxis" : "xaxis") + name.slice(1)];
  if (!axis) return NaN;
  if (domain) return vertical ? axis._offset + axis._length * (1 - value) : axis._offset + axis._length * value;
  return axis._offset + axis.l2p(value);
}

function cursorOverlay(gd, cursors, ctx) {
  const boxes = cursors.map((shape) => {
    const el = document.createElement("div");
    el.className = "rv-cursor";
    const line = shape.line ?? {};
    if (shape.type === "line") {
      el.style.borderLeft = `${line.width ?? 2}px solid ${line.color ?? "#E69F00"}`;
    } else {
      el.style.border = `${line.width ?? 2}px solid ${line.color ?? "#E69F00"}`;
      if (shape.fillcolor) el.style.background = shape.fillcolor;
      if (shape.opacity !== undefined) el.style.opacity = shape.opacity;
    }
    return { el, shape };
  });
  return {
    place(t) {
      const parent = gd.parentElement;
      if (!parent || !gd._fullLayout || !gd._fullLayout._size) return;
      for (const { el, shape } of boxes) {
        const s = materialise(shape, t, ctx);
        const x0 = axisPixel(gd, s.xref ?? "x", s.x0, false), x1 = axisPixel(gd, s.xref ?? "x", s.x1, false);
        const y0 = axisPixel(gd, s.yref ?? "y", s.y0, true), y1 = axisPixel(gd, s.yref ?? "y", s.y1, true);
        if (![x0, x1, y0, y1].every(Number.isFinite)) { el.hidden = true; continue; }
        const width = shape.type === "line" ? 0 : Math.abs(x1 - x0);
        const left = Math.min(x0, x1) - (shape.type === "line" ? (s.line?.width ?? 2) / 2 : 0);
        el.hidden = false;
        el.style.left = `${left}px`;
        el.style.top = `${Math.min(y0, y1)}px`;
        el.style.width = `${width}px`;
        el.style.height = `${Math.abs(y1 - y0)}px`;
        if (!el.isConnected) parent.append(el);
      }
    },
  };
}

// Labels (annotations named "label…") drawn over the plot in HTML: Plotly lays out each annotation on
// its own, measuring its text (a layout of the whole page each), and a cell diagram's labels were a
// third of its redraw. They are the builders' markup (<b>, <sub>, <br>; step labels arrive escaped),
// placed at their data coordinates with Plotly's anchors. Exports draw them as annotations.
function labelOverlay(gd, notes, ctx, font = {}) {
  const boxes = notes.map((note) => {
    const el = document.createElement("div");
    el.className = "rv-note";
    el.style.fontSize = `${note.font?.size ?? 14}px`;
    el.style.fontFamily = note.font?.family ?? font.family ?? "";
    el.style.color = note.font?.color ?? font.color ?? "";
    return { el, note };
  });
  return {
    place(t) {
      const parent = gd.parentElement;
      if (!parent || !gd._fullLayout || !gd._fullLayout._size) return;
      for (const { el, note } of boxes) {
        const n = materialise(note, t, ctx);
        const x = axisPixel(gd, n.xref ?? "x", n.x, false), y = axisPixel(gd, n.yref ?? "y", n.y, true);
        if (!Number.isFinite(x) || !Number.isFinite(y)) { el.hidden = true; continue; }
        const text = String(n.text ?? "");
        if (el.__text !== text) el.innerHTML = el.__text = text; // builders' markup; labels escaped
        const dx = { left: "0%", right: "-100%" }[n.xanchor] ?? "-50%";
        const dy = { top: "0%", bottom: "-100%" }[n.yanchor] ?? "-50%";
        el.style.transform = `translate(${dx}, ${dy})`;
        el.style.left = `${x}px`;
        el.style.top = `${y}px`;
        el.hidden = false;
        if (!el.isConnected) parent.append(el);
      }
    },
  };
}

// --- export buttons ----------------------------------------------------------------------------------

const SVG_ICON = {
  width: 1000, height: 1000,
  path: "M150 100h500l200 200v600H150zM620 130v200h200M260 520h140v60h-80v40h80v150H260v-60h80v-40h-80zm200 0h60l40 150 40-150h60l-70 250h-60zm240 0h140v60h-80v130h30v-60h50v120H700z",
};

function exportButtons(Plotly, item, figureNow, ctx, gdNow) {
  // The saved image is the figure of the current step, built afresh (the cursors as shapes, no
  // controls), at the size it has on screen: what the Python side's StepFigure.at(t) draws.
  const name = () => fill(item.filename ?? "rnnviz-figure", bus.t, ctx);
  const save = (format) => {
    const gd = gdNow();
    const figure = figureNow(gd._fullLayout.width);
    const extra = figure.layout.margin.t - gd._fullLayout.margin.t; // the title's room, on top of the plot's
    figure.layout = { ...figure.layout, width: gd._fullLayout.width, height: gd._fullLayout.height + extra };
    return Plotly.downloadImage(figure, {
      format, filename: name(), scale: format === "png" ? 3 : 1,
      width: figure.layout.width, height: figure.layout.height,
    });
  };
  return [
    { name: "Save as PNG (3×, for slides)", icon: Plotly.Icons.camera, click: () => save("png") },
    { name: "Save as SVG (vector)", icon: SVG_ICON, click: () => save("svg") },
  ];
}

// --- the component ------------------------------------------------------------------------------

const CSS = `
.rv-root { display: flex; flex-direction: column; gap: 0.25rem; width: 100%; font-size: var(--rv-font, 1rem); }
.rv-bar { position: sticky; top: 3.75rem; z-index: 20; display: flex; flex-wrap: wrap; align-items: center;
  gap: 0.6em; background: rgba(255, 255, 255, 0.97); padding: 0.45em 0.1em; border-bottom: 1px solid #e3e3e3; }
.rv-bar button, .rv-bar select { font: inherit; color: #1a1a1a; background: white; border: 1px solid #c4c4c4;
  border-radius: 0.45em; height: 2.3em; cursor: pointer; }
.rv-bar button { min-width: 2.7em; padding: 0 0.7em; }
.rv-bar button:hover, .rv-bar select:hover { border-color: #0072B2; color: #0072B2; }
.rv-bar button:focus-visible, .rv-bar select:focus-visible, .rv-bar input:focus-visible { outline: 3px solid #E69F00; }
.rv-bar input[type=range] { flex: 1 1 12em; min-width: 8em; accent-color: #0072B2; height: 1.8em; cursor: pointer; }
.rv-bar .rv-t { min-width: 7.6em; font-variant-numeric: tabular-nums; font-weight: 600; }
.rv-grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); column-gap: 2.5rem;
  isolation: isolate; } /* its own stacking context: Plotly's modebar (z 1001) and the cursors pass under the bar */
.rv-item { grid-column: span 2; min-width: 0; }
.rv-item.rv-half { grid-column: span 1; }
.rv-item h4 { font-size: 1.15em; font-weight: 600; margin: 0.9em 0 0.3em; }
.rv-caption { color: #555; font-size: max(0.9em, var(--rv-min, 0px)); line-height: 1.45; margin: 0.15em 0 1.1em; }
.rv-line { font-size: 1.1em; margin: 0.45em 0 0.8em; line-height: 1.35; }
.rv-num { display: inline-flex; flex-direction: column; align-items: center; vertical-align: top; margin: 0 0.12em; }
.rv-under { font-size: max(0.68em, var(--rv-min, 0px)); color: #555; border-top: 1px solid #999; padding-top: 0.1em;
  white-space: nowrap; }
.rv-root sub, .rv-root sup { font-size: max(0.72em, var(--rv-min, 0px)); }
.rv-error { color: #b00020; }
.rv-plot { position: relative; }
.rv-title { color: #1a1a1a; line-height: 1.25; margin: 0.6em 0 0.1em; font-family: Inter, "Source Sans Pro", sans-serif; }

.rv-cursor { position: absolute; pointer-events: none; box-sizing: border-box; z-index: 2; }
.rv-note { position: absolute; pointer-events: none; white-space: nowrap; text-align: center; line-height: 1.3;
  z-index: 1; }
.rv-note sub, .rv-note sup { line-height: 0; }
@media (max-width: 900px) { .rv-item.rv-half { grid-column: span 2; } }
`;

export default function (args, assets = {}) {
  const { parentElement, data } = args;
  const { header, arrays } = decode(data);
  return mountView(parentElement, header, arrays, assets);
}

function mountView(parentElement, header, arrays, assets) {
  let state = parentElement.__rv;
  if (!state || state.layoutHash !== header.layoutHash) {
    state?.teardown?.();
    state = parentElement.__rv = { layoutHash: header.layoutHash, items: new Map() };
    build(parentElement, header, state);
  }
  if (header.stepped) adopt(header);
  state.ctx = {
    arrays, T: header.T, labels: header.labels ?? [], rawLabels: header.rawLabels ?? header.labels ?? [],
    cache: new Map(),
    whole(id, transpose) {
      const key = id + (transpose ? "T" : "");
      if (!this.cache.has(key)) this.cache.set(key, transpose ? transposed(arrays[id]) : rows(arrays[id]));
      return this.cache.get(key);
    },
  };
  if (header.font) {  // presentation mode: the body size, and no text under 20 px
    state.root.style.setProperty("--rv-font", header.font);
    state.root.style.setProperty("--rv-min", "20px");
  }
  state.ready = loadPlotly(assets, traceTypes(header.items))
    .then((Plotly) => {
      if (state.Plotly && state.Plotly !== Plotly) { // another bundle (a new trace type): draw afresh with it
        for (const item of state.items.values()) if (item.gd) state.Plotly.purge(item.gd);
        state.items.clear();
      }
      state.Plotly = Plotly;
      header.items.forEach((item, k) => drawItem(Plotly, state, item, k));
    })
    .catch((err) => {
      const p = document.createElement("p");
      p.className = "rv-error";
      p.textContent = "The figures could not be drawn: " + err.message;
      state.root.append(p);
    });
  // The DOM outlives reruns (a rerun with the same layout only redraws what changed); when the element
  // leaves the page (another page, another layout), its listener and plots go with it.
  return () => setTimeout(() => { if (!parentElement.isConnected) state.teardown(); }, 0);
}

function build(parentElement, header, state) {
  parentElement.replaceChildren();
  const style = document.createElement("style");
  style.textContent = CSS;
  const root = document.createElement("div");
  root.className = "rv-root";
  parentElement.append(style, root);
  state.root = root;
  if (header.control) root.append(controlBar(header, state));
  const grid = document.createElement("div");
  grid.className = "rv-grid";
  root.append(grid);
  // Figures are drawn (and moved through t) only near the viewport: a change of the network redraws
  // what the learner sees at once, and the rest as it scrolls into view, at the current t.
  state.observer = new IntersectionObserver((seen) => {
    for (const entry of seen) {
      const slot = state.slots.find((s) => s.box === entry.target);
      slot.visible = entry.isIntersecting;
      if (slot.visible) slot.wake?.();
    }
  }, { rootMargin: "300px 0px" });
  state.slots = header.items.map((item) => {
    const box = document.createElement("div");
    box.className = "rv-item" + (item.half ? " rv-half" : "");
    const title = document.createElement("h4");
    const body = document.createElement("div");
    const caption = document.createElement("div");
    caption.className = "rv-caption";
    // A figure's place is kept from the start, so the first look of the viewport sees the page as it
    // will be: otherwise every slot is empty then, all of them "near the viewport", and all are drawn.
    if (item.figure) body.style.minHeight = `${item.figure.layout?.height ?? 450}px`;
    box.append(title, body, caption);
    grid.append(box);
    state.observer.observe(box);
    return { box, title, body, caption, visible: false };
  });
  const listener = () => {
    if (!root.isConnected) return state.teardown();
    if (state.frame) return; // several moves within one frame draw once
    state.frame = requestAnimationFrame(() => {
      state.frame = null;
      state.ready?.then(() => state.updaters?.forEach((fn) => fn(bus.t)));
    });
  };
  state.updaters = [];
  bus.listeners.add(listener);
  state.teardown = () => {
    bus.listeners.delete(listener);
    state.observer.disconnect();
    state.stopPlay?.();
    const Plotly = state.Plotly; // the bundle that drew them
    for (const item of state.items.values()) if (item.gd && Plotly?.purge) Plotly.purge(item.gd);
  };
}

// Values printed in a heatmap's squares only where they fit at the width the figure is drawn: in a
// half column, or beside an opened sidebar, a row of "-0.12" labels would run into each other.
function fitTexts(data, layout, width) {
  const margin = layout.margin ?? {};
  const plot = width - (margin.l ?? 80) - (margin.r ?? 80);
  return data.map((trace) => {
    if (trace.type !== "heatmap" || !trace.texttemplate || !width) return trace;
    const [a, b] = layout[(trace.xaxis ?? "x").replace("x", "xaxis")]?.domain ?? [0, 1];
    const columns = trace.x?.length ?? trace.z?.[0]?.length ?? 1;
    const decimals = /\.(\d)f/.exec(trace.texttemplate);
    const chars = decimals ? +decimals[1] + 3 // "-0.12": sign, digit, point, decimals
      : Math.max(1, ...Array.from(trace.text?.[0] ?? [], (label) => String(label).length));
    const needed = chars * (trace.textfont?.size ?? 12) * 0.6 + 4;
    return needed <= (plot * (b - a)) / columns ? trace : { ...trace, texttemplate: "" };
  });
}

function drawItem(Plotly, state, item, k) {
  const slot = state.slots[k];
  const ctx = Object.assign(Object.create(state.ctx), { names: item.names ?? {} });
  setText(slot.title, item.title);
  setText(slot.caption, item.caption);
  const previous = state.items.get(k);
  if (previous && previous.hash === item.hash) return; // unchanged since the last rerun: keep it
  const entry = { hash: item.hash };
  if (item.figure) {
    const gd = previous?.gd ?? document.createElement("div");
    const heading = previous?.heading ?? document.createElement("div");
    if (!previous?.gd) {
      heading.className = "rv-title";
      const box = document.createElement("div");
      box.className = "rv-plot";
      box.append(gd);
      slot.body.replaceChildren(heading, box);
    }
    // On screen the title is HTML above the plot: it wraps like text, never runs under the export
    // buttons, and follows t without a Plotly redraw. Exports carry it inside the figure.
    // Cursors (shapes named "cursor…") are drawn over the plot in HTML too: moving one is a style
    // change, not a Plotly redraw of a figure full of heatmaps. Exports draw them as shapes.
    const spec = item.figure;
    const titleRef = spec.layout.title?.text ?? "";
    const titleFont = spec.layout.title?.font?.size ?? 18;
    heading.style.fontSize = `${titleFont}px`;
    const shapes = spec.layout.shapes ?? [];
    const cursors = shapes.filter((sh) => String(sh.name ?? "").startsWith("cursor"));
    const notes = spec.layout.annotations ?? [];
    const labels = notes.filter((note) => String(note.name ?? "").startsWith("label"));
    const drawn = {
      data: spec.data,
      layout: { ...spec.layout, title: { text: "" }, margin: { ...(spec.layout.margin ?? {}), t: 42 },
                shapes: shapes.filter((sh) => !cursors.includes(sh)),
                annotations: notes.filter((note) => !labels.includes(note)) },
    };
    const paths = stepPaths(drawn);
    const config = {
      responsive: true, displaylogo: false, displayModeBar: true,
      // Only the exports: zooming still works by dragging (double-click resets).
      // sendChartToCloud: plotly.js 4's "Share chart..." (sendDataToCloud before it), which offered to upload
      // the figure to a chart server, and did nothing here but log an error.
      modeBarButtonsToRemove: ["toImage", "lasso2d", "select2d", "sendDataToCloud", "sendChartToCloud", "zoom2d",
                               "pan2d", "zoomIn2d", "zoomOut2d", "autoScale2d", "resetScale2d",
                               "hoverClosestCartesian", "hoverCompareCartesian", "toggleSpikelines"],
      modeBarButtonsToAdd: exportButtons(Plotly, item, (width) => exportFigure(spec, bus.t, ctx, width), ctx, () => gd),
    };
    const showTitle = (t) => {
      const text = isRef(titleRef) ? evaluate(titleRef, t, ctx) : titleRef;
      if (heading.__text !== text) heading.innerHTML = heading.__text = text; // builders' markup; labels escaped
    };
    gd.parentElement?.querySelectorAll(":scope > .rv-cursor, :scope > .rv-note").forEach((el) => el.remove());
    const overlays = [cursorOverlay(gd, cursors, ctx), labelOverlay(gd, labels, ctx, spec.layout.font)];
    const overlay = (gd.__rvOverlay = { place: (t) => overlays.forEach((o) => o.place(t)) });
    let plotted = Boolean(previous?.gd && gd.data);
    const texted = spec.data.some((trace) => trace.type === "heatmap" && trace.texttemplate);
    let fits = ""; // which heatmaps print their values at the width drawn, e.g. "10110"
    const fitAt = (data, layout, width) => {
      const fitted = fitTexts(data, layout, width);
      fits = fitted.map((trace) => (trace.texttemplate ? "1" : "0")).join("");
      return fitted;
    };
    const draw = () => {
      showTitle(bus.t);
      const layout = materialise(drawn.layout, bus.t, ctx);
      const data = materialise(drawn.data, bus.t, ctx);
      const width = gd.parentElement?.clientWidth || slot.body.clientWidth;
      const drawing = (plotted ? Plotly.react : Plotly.newPlot)(gd, texted ? fitAt(data, layout, width) : data,
                                                                 layout, config);
      // Plotly has laid the plot out by now; its promise and "afterplot" come a task later, and the
      // cursors placed only then were the page's last change, 5-12 ms after the figure itself.
      overlay.place(bus.t);
      drawing.then(() => overlay.place(bus.t));
      if (texted && !gd.__rvResizing && typeof ResizeObserver !== "undefined") {
        // A sidebar opened or closed changes the room for the squares' values: draw again only when
        // that changes which of them fit (Plotly's own resize keeps the texts as they were).
        gd.__rvResizing = new ResizeObserver(() => {
          const now = gd.parentElement?.clientWidth || 0;
          if (entry.drawnAt === undefined || !now) return;
          const before = fits;
          fitAt(materialise(drawn.data, bus.t, ctx), materialise(drawn.layout, bus.t, ctx), now);
          if (fits !== before) draw();
        });
        gd.__rvResizing.observe(gd.parentElement ?? slot.body);
      }
      if (!gd.__rvListening) {
        gd.__rvListening = true;
        gd.on("plotly_afterplot", () => gd.__rvOverlay?.place(bus.t));
      }
      plotted = true;
      entry.drawnAt = bus.t;
    };
    entry.gd = gd;
    entry.heading = heading;
    slot.body.style.minHeight = `${spec.layout.height ?? 450}px`; // its place is kept before it is drawn
    // Drawn now if in view, else when it comes into view; moved through t only while in view.
    slot.wake = () => {
      if (entry.drawnAt === undefined) draw();
      else if (entry.drawnAt !== bus.t) entry.move(bus.t);
    };
    if (slot.visible) draw();
    entry.update = (t) => {
      if (entry.drawnAt === undefined || !slot.visible) return; // caught up by wake()
      entry.move(t);
    };
    entry.move = (t) => {
      entry.drawnAt = t;
      overlay.place(t);
      showTitle(t);
      if (!paths.traces.length && !paths.layout.length) return;
      const byTrace = new Map();
      for (const [i, p, ref] of paths.traces) {
        if (!byTrace.has(i)) byTrace.set(i, {});
        byTrace.get(i)[p] = evaluate(ref, t, ctx);
      }
      const indices = [...byTrace.keys()];
      const attrs = new Set();
      for (const u of byTrace.values()) for (const a in u) attrs.add(a);
      const traceUpdate = {};
      for (const a of attrs) traceUpdate[a] = indices.map((i) => byTrace.get(i)[a]);
      const layoutUpdate = {};
      for (const [p, ref] of paths.layout) layoutUpdate[p] = evaluate(ref, t, ctx);
      if (indices.length) Plotly.update(gd, traceUpdate, layoutUpdate, indices);
      else Plotly.relayout(gd, layoutUpdate);
    };
  } else if (item.block) {
    const el = document.createElement("div");
    slot.body.replaceChildren(el);
    entry.update = (t) => renderBlock(el, item.block, t, ctx);
    entry.update(bus.t);
  }
  state.items.set(k, entry);
  state.updaters = [...state.items.values()].map((e) => e.update).filter(Boolean);
  if (state.showStep) state.updaters.push(state.showStep);
}

function setText(el, text) {
  // only what changed: an unchanged rerun must not touch the page
  if (el.textContent !== (text ?? "")) el.textContent = text ?? "";
  if (el.hidden !== !text) el.hidden = !text;
}

function adopt(header) {
  // The server's t wins when this is a new view (another page, scenario or length) or when the
  // server moved t itself (a followed link, a lesson step: a new version); otherwise the browser's t,
  // which may have moved since the server last heard of it, stays.
  if (bus.view !== header.view || bus.T !== header.T || bus.version !== header.version) {
    bus.view = header.view;
    bus.T = header.T;
    bus.version = header.version;
    setT(header.t, "force");
  }
}

function controlBar(header, state) {
  const bar = document.createElement("div");
  bar.className = "rv-bar";
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", header.controlLabel ?? "Step");
  const noun = header.controlNoun ?? "step";
  const backward = header.direction === "backward";
  const prev = button("◀", `Previous ${noun} (←)`, () => setT(bus.t - 1, "user"));
  const next = button("▶", `Next ${noun} (→)`, () => setT(bus.t + 1, "user"));
  const slider = document.createElement("input");
  slider.type = "range";
  slider.min = 1;
  slider.max = header.T;
  slider.step = 1;
  slider.setAttribute("aria-label", header.controlLabel ?? "Step t");
  slider.addEventListener("input", () => setT(+slider.value, "user"));
  const label = document.createElement("span");
  label.className = "rv-t";
  label.setAttribute("aria-live", "polite");
  const play = button(backward ? "◁ Play backward" : "▷ Play", "Play through the steps", () => (state.timer ? stop() : start()));
  const speed = document.createElement("select");
  speed.setAttribute("aria-label", "Play speed: milliseconds a step");
  speed.title = "Play speed: milliseconds a step";
  for (const ms of [100, 200, 400, 800, 1500]) {
    const option = document.createElement("option");
    option.value = String(ms);
    option.textContent = `${ms} ms`; // short: "ms a step" wrapped the bar in presentation mode
    speed.append(option);
  }
  speed.value = String(header.speed ?? 400);
  if (!speed.value) speed.value = "400"; // not one of the options: never a 0 ms interval
  speed.addEventListener("change", () => { if (state.timer) { stop(); start(); } });
  function start() {
    const last = backward ? 1 : bus.T;
    if (bus.t === last) setT(backward ? bus.T : 1, "play");
    play.textContent = "❚❚ Pause";
    state.timer = setInterval(() => {
      if (bus.t === (backward ? 1 : bus.T)) stop();
      else setT(bus.t + (backward ? -1 : 1), "play");
    }, +speed.value);
  }
  function stop() {
    clearInterval(state.timer);
    state.timer = null;
    play.textContent = backward ? "◁ Play backward" : "▷ Play";
    setT(bus.t, "force"); // the URL and the server catch up with where Play stopped
  }
  state.stopPlay = () => state.timer && stop();
  bar.append(prev, slider, next, label, play, speed);
  state.showStep = (t) => {
    slider.value = String(t);
    label.textContent = (header.controlText ?? "t = {t} of {T}").replace("{t}", t).replace("{T}", header.T);
  };
  state.showStep(bus.t);
  if (header.autoplay) setTimeout(start, 600); // after the figures are drawn
  bar.addEventListener("keydown", (e) => {
    if (e.target === slider || e.target === speed) return; // they handle their own keys
    if (e.key === "ArrowLeft") { setT(bus.t - 1, "user"); e.preventDefault(); }
    if (e.key === "ArrowRight") { setT(bus.t + 1, "user"); e.preventDefault(); }
  });
  return bar;
}

function button(text, title, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.title = title;
  b.setAttribute("aria-label", title);
  b.addEventListener("click", onClick);
  return b;
}
