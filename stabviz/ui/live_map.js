// The Explore map's browser-side preview (see livemap.py): while a sidebar slider moves, redraw the
// drawn region map from the per-column terms the server shipped, without waiting for the rerun.
// The rerun's own figure replaces the preview when it lands. Nothing here is physics: the field is
// rho2 = a0 + a1*g + a2*g^2 per column (theory.map_slices), coloured with the server's table.

function bytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function decode(d) {
  for (const t of Object.values(d.tables)) {
    for (const [k, col] of Object.entries(t.rows)) {
      t.rows[k] = { cols: col.cols, a: new Float32Array(bytes(col.b64).buffer) };
    }
  }
  d.lutBytes = bytes(d.lut);
  return d;
}

// The value of every sidebar slider, read from its thumb's text (the slider's own option labels).
function sliderValues(d) {
  const out = { ...d.current };
  const inputs = document.querySelectorAll('[data-testid="stSidebar"] input[type="range"]');
  for (const [name, s] of Object.entries(d.sliders)) {
    for (const input of inputs) {
      if (input.getAttribute("aria-label") !== s.label) continue;
      const i = s.labels.indexOf(input.getAttribute("aria-valuetext"));
      if (i >= 0) out[name] = s.values[i];
    }
  }
  return out;
}

const coord = (v, log) => (log ? (v > 0 ? Math.log10(v) : null) : v);
const finite = (v, limit) => (Number.isNaN(v) ? NaN : Math.max(-limit, Math.min(limit, v)));

function mapOf(d) {
  return [...document.querySelectorAll(".js-plotly-plot")].find(
    (g) => g.layout && g.layout.uirevision === d.uirevision && g.data);
}

// The whole map at slider values `vals`, from one shipped row; null when `vals` is beyond what was shipped.
function compute(d, vals) {
  const moved = Object.keys(d.tables).filter((p) => vals[p] !== d.current[p]);
  if (moved.length > 1) return null;
  const along = moved[0] || Object.keys(d.tables)[0];
  const t = d.tables[along];
  const i = t.values.indexOf(vals[along]);
  if (i < 0) return null;
  const term = (k, col) => {
    const r = t.rows[k];
    return r.a[i * r.cols + (r.cols === 1 ? 0 : col)];
  };
  const nx = d.x.length, ny = d.gamma.length, T = d.steps;
  const rho2 = new Float64Array(nx * ny), gain = new Float64Array(nx * ny);
  for (let j = 0; j < ny; j++) {
    const g = d.gamma[j];
    for (let k = 0; k < nx; k++) {
      const r = term("a0", k) + term("a1", k) * g + term("a2", k) * g * g;
      rho2[j * nx + k] = r;
      gain[j * nx + k] = r > 0 ? T * 0.5 * Math.log10(r) : -Infinity;    // as theory.region
    }
  }
  return { along, moved: moved.length > 0, term, has: (k) => k in t.rows, rho2, gain, nx, ny };
}

function fieldImage(d, m) {
  const n = d.lutBytes.length / 4, zlim = d.zlim, px = new Uint8ClampedArray(m.nx * m.ny * 4);
  for (let j = 0; j < m.ny; j++) {
    for (let k = 0; k < m.nx; k++) {
      const c = j * m.nx + k;
      const z = d.color_by === "log10_gain" ? finite(m.gain[c], d.field_limit)
        : finite(m.rho2[c] < 0 ? NaN : Math.log10(m.rho2[c]), d.field_limit);
      const o = ((m.ny - 1 - j) * m.nx + k) * 4;       // image rows run top (largest γ) to bottom
      if (Number.isNaN(z)) { px[o + 3] = 0; continue; }
      const l = Math.round(((Math.max(-zlim, Math.min(zlim, z)) + zlim) / (2 * zlim)) * (n - 1)) * 4;
      px[o] = d.lutBytes[l]; px[o + 1] = d.lutBytes[l + 1]; px[o + 2] = d.lutBytes[l + 2]; px[o + 3] = 255;
    }
  }
  const canvas = document.createElement("canvas");
  canvas.width = m.nx; canvas.height = m.ny;
  canvas.getContext("2d").putImageData(new ImageData(px, m.nx, m.ny), 0, 0);
  return canvas.toDataURL("image/png");
}

function traces(d, m, vals) {
  const s = d.contour_stride, [ky, kx] = d.hover_stride, big = 1e30;
  const band = [], custom = [];
  for (let j = 0; j < m.ny; j += s) {
    const row = [];
    for (let k = 0; k < m.nx; k += s) row.push(Math.fround(finite(m.gain[j * m.nx + k], d.field_limit)));
    band.push(row);
  }
  for (let j = 0; j < m.ny; j += ky) {
    const g = d.gamma[j];
    for (let k = 0; k < m.nx; k += kx) {
      const c = j * m.nx + k;
      custom.push([d.x[k], g, finite(m.rho2[c], big), finite(m.term("leak", k) + g * m.term("worst", k), big),
        finite(m.gain[c], big), m.term("firing", k)]);
    }
  }
  const curve = (key) => d.x.map((_, k) => coord(m.term(key, k), d.log_y));
  const out = { "stable band": { z: band }, cells: { customdata: custom } };
  for (const [key, name] of Object.entries(d.curves)) if (m.has(key)) out[name] = { y: curve(key) };
  const xv = vals[d.x_name], gv = vals.dampening;
  out[d.current_name] = { x: [coord(xv, d.log_x)], y: [coord(gv, d.log_y)], customdata: [[xv, gv]] };
  // The optimum depends on the moved parameter; it reappears with the rerun.
  out[d.optimum_name] = { visible: !m.moved };
  return { band, out };
}

// Redraw the map for `vals`; `drawn` is what it shows now (a slider the map ignores draws nothing).
function redraw(d, vals, drawn) {
  const gd = mapOf(d);
  if (!gd || !window.Plotly) return drawn;
  const m = compute(d, vals);
  if (m === null) { gd.style.opacity = "0.45"; return drawn; }    // beyond the shipped stops: the rerun repaints
  gd.style.opacity = "";
  const shows = JSON.stringify([vals[d.x_name], vals.dampening, m.along, vals[m.along]]);
  if (shows === drawn) return drawn;
  const t0 = performance.now();
  const { band, out } = traces(d, m, vals);
  const data = gd.data.map((tr) => (tr.name in out ? { ...tr, ...out[tr.name] } : tr));
  const source = fieldImage(d, m);
  const images = (gd.layout.images || []).map((im) => (im.name === "map" ? { ...im, source } : im));
  window.Plotly.react(gd, data, { ...gd.layout, images, datarevision: (gd.layout.datarevision || 0) + 1 });
  // What was drawn, for the browser tests.
  window.stabvizPreview = { values: vals, along: m.along, band, source, at: performance.now(), ms: performance.now() - t0 };
  return shows;
}

// Streamlit calls this on every rerun with the new data, not always cleaning up the last call: one
// observer for the page, replaced each time (a second one would redraw twice per move).
export default function liveMap({ data }) {
  const self = (window.stabvizLiveMap ||= { observer: null });
  if (self.observer) self.observer.disconnect();
  // JSON bytes (livemap.py); the tables are decoded once per rerun.
  const raw = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  const d = decode(JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw)));
  const gd = mapOf(d);
  if (gd) gd.style.opacity = "";                 // the server's figure for this data has been drawn
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  if (!sidebar) return undefined;
  const along = Object.keys(d.tables)[0];
  let drawn = JSON.stringify([d.current[d.x_name], d.current.dampening, along, d.current[along]]);
  let pending = false;
  const observer = new MutationObserver(() => {
    if (pending) return;
    pending = true;
    // One redraw per burst of changes, before anything else: drawing after the slider has sent its
    // value would share the two cores with the rerun and land ~25 ms later.
    queueMicrotask(() => {
      pending = false;
      drawn = redraw(d, sliderValues(d), drawn);
    });
  });
  observer.observe(sidebar, { subtree: true, attributes: true, attributeFilter: ["aria-valuetext"] });
  self.observer = observer;
  return () => { observer.disconnect(); if (self.observer === observer) self.observer = null; };
}
