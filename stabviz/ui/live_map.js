// The Explore map's browser side (see livemap.py).
// - While a sidebar slider moves, redraw the drawn region map from the per-column terms the server
//   shipped, without waiting for the rerun; the rerun's own figure replaces it when it lands.
// - Hover shows every number of the cell under the pointer; a click moves the setting to that cell.
// Nothing here is physics: every cell is rho2 = a0 + a1*g + a2*g^2 of its column (theory.map_slices),
// coloured with the server's own colour table.

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
  d.xc = d.x.map((v) => coord(v, d.log_x, d.x_name));
  d.gc = d.gamma.map((v) => coord(v, d.log_y));
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

// As plots.map_coord: log10 on a log axis; a log leak axis is spaced in log10 τ, τ = −1/ln α.
function coord(v, log, name) {
  if (!log) return v;
  if (name === "leak") return v > 0 && v < 1 ? Math.log10(-1 / Math.log(v)) : null;
  return v > 0 ? Math.log10(v) : null;
}
// A coordinate pinned inside [first, last] of `cs` (null: below the low end), as plots.point_marker_specs.
const pin = (c, cs) => (c === null || Number.isNaN(c) ? cs[0] : Math.max(cs[0], Math.min(cs[cs.length - 1], c)));
const finite = (v, limit) => (Number.isNaN(v) ? NaN : Math.max(-limit, Math.min(limit, v)));
const fmt = (v, digits) => (Number.isFinite(v) ? String(Number(v.toPrecision(digits))) : String(v));

function mapOf(d) {
  return [...document.querySelectorAll(".js-plotly-plot")].find(
    (g) => g.layout && g.layout.uirevision === d.uirevision && g.data);
}

// The shipped row for slider values `vals` (only the map's own axes may differ beyond it); null when
// `vals` is beyond what was shipped.
function rowOf(d, vals) {
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
  return { along, moved: moved.length > 0, term, has: (k) => k in t.rows };
}

const gainOf = (d, rho2) => (rho2 > 0 ? d.steps * 0.5 * Math.log10(rho2) : -Infinity);    // as theory.region

// ρ² of every cell, row by row (j: γ, k: x).
function field(d, row) {
  const nx = d.x.length, ny = d.gamma.length, out = new Float64Array(nx * ny);
  const a0 = d.x.map((_, k) => row.term("a0", k)), a1 = d.x.map((_, k) => row.term("a1", k));
  const a2 = d.x.map((_, k) => row.term("a2", k));
  for (let j = 0; j < ny; j++) {
    const g = d.gamma[j];
    for (let k = 0; k < nx; k++) out[j * nx + k] = a0[k] + a1[k] * g + a2[k] * g * g;
  }
  return out;
}

// Every number of cell (row j, column k), as theory.region has it.
function cell(d, row, j, k) {
  const g = d.gamma[j];
  const rho2 = row.term("a0", k) + row.term("a1", k) * g + row.term("a2", k) * g * g;
  return { x: d.x[k], gamma: g, rho2, gain: gainOf(d, rho2), worst: row.term("leak", k) + g * row.term("worst", k),
    firing: row.term("firing", k) };
}

function fieldImage(d, rho2) {
  const nx = d.x.length, ny = d.gamma.length, n = d.lutBytes.length / 4, zlim = d.zlim;
  const px = new Uint8ClampedArray(nx * ny * 4);
  for (let j = 0; j < ny; j++) {
    for (let k = 0; k < nx; k++) {
      const r = rho2[j * nx + k];
      const z = d.color_by === "log10_gain" ? finite(gainOf(d, r), d.field_limit)
        : finite(r < 0 ? NaN : Math.log10(r), d.field_limit);
      const o = ((ny - 1 - j) * nx + k) * 4;       // image rows run top (largest γ) to bottom
      if (Number.isNaN(z)) continue;                // transparent
      // plots.colour_t: asinh(z / knee), linear near 0 and logarithmic beyond
      const t = 0.5 + Math.asinh(Math.max(-zlim, Math.min(zlim, z)) / d.knee) / (2 * Math.asinh(zlim / d.knee));
      const l = Math.round(t * (n - 1)) * 4;
      px[o] = d.lutBytes[l]; px[o + 1] = d.lutBytes[l + 1]; px[o + 2] = d.lutBytes[l + 2]; px[o + 3] = 255;
    }
  }
  const canvas = document.createElement("canvas");
  canvas.width = nx; canvas.height = ny;
  canvas.getContext("2d").putImageData(new ImageData(px, nx, ny), 0, 0);
  return canvas.toDataURL("image/png");
}

// The field's traces for `row`: the stable band and the condition curves.
function fieldTraces(d, row, rho2) {
  const s = d.contour_stride, nx = d.x.length, band = [];
  for (let j = 0; j < d.gamma.length; j += s) {
    const line = [];
    for (let k = 0; k < nx; k += s) line.push(Math.fround(finite(gainOf(d, rho2[j * nx + k]), d.field_limit)));
    band.push(line);
  }
  const out = { [d.band_name]: { z: band } };
  for (const [key, name] of Object.entries(d.curves)) {
    if (row.has(key)) out[name] = { y: d.x.map((_, k) => coord(row.term(key, k), d.log_y)) };
  }
  return { band, out };
}

// The points' traces: the current point at `vals`, and the optimum, which depends on the moved
// parameter: its marker leaves until the rerun (its legend entry stays, so nothing shifts).
function pointTraces(self, gd, row, vals) {
  const d = self.d, out = {};
  const xv = vals[d.x_name], gv = vals.dampening;
  // A point beyond the axes stays at the edge it is beyond (the server's figure says so in its legend).
  const current = { x: [pin(coord(xv, d.log_x, d.x_name), d.xc)], y: [pin(coord(gv, d.log_y), d.gc)], customdata: [[xv, gv]] };
  for (const tr of gd.data) {
    if (tr.name && tr.name.startsWith(d.current_name)) out[tr.name] = current;
    if (tr.name === d.optimum_name && self.optimum === null) self.optimum = { x: tr.x, y: tr.y };
  }
  if (self.optimum) out[d.optimum_name] = row.moved ? { x: [null], y: [null] } : self.optimum;
  return out;
}

// What a map drawn for `vals` from `row` shows: a slider the map ignores changes nothing in it.
const shownBy = (d, vals, row) => JSON.stringify([vals[d.x_name], vals.dampening, row.along, vals[row.along]]);

// The measured layer (traces with meta "measured") belongs to the setting the server drew: a slider
// other than the map's own axes moves away from it, so the layer hides until the rerun brings the new
// setting's (or its progress). Moving along the map's axes keeps it: the measured map covers them.
function measuredLayer(self, gd, vals) {
  const d = self.d;
  const stale = Object.keys(d.current).some((n) => n !== d.x_name && n !== "dampening" && vals[n] !== d.current[n]);
  const idx = gd.data.map((tr, i) => (tr.meta === d.measured_meta ? i : -1)).filter((i) => i >= 0);
  const shown = !stale;
  const change = idx.filter((i) => (gd.data[i].visible ?? true) !== shown);
  if (change.length) window.Plotly.restyle(gd, { visible: shown }, change);
  self.measuredStale = stale && idx.length > 0;
  window.stabvizMeasuredStale = self.measuredStale;        // for the browser tests
}

// The measured map's log10 gain over T at map coordinates (xc, yc): its nearest cell, or null.
function measuredAt(self, gd, xc, yc) {
  if (self.measuredStale) return null;
  const tr = gd.data.find((t) => t.meta === self.d.measured_meta && t.type === "contour");
  if (!tr) return null;
  const nearest = (cs, v) => cs.reduce((best, c, i) => (Math.abs(c - v) < Math.abs(cs[best] - v) ? i : best), 0);
  const k = nearest(tr.x, xc), j = nearest(tr.y, yc);
  return { value: tr.z[j][k], nx: tr.x.length, ny: tr.y.length };
}

// Along the map's own axes only the points move, and every Plotly call redraws far more: react and
// restyle redraw the legend, colour bar and axes (~40 ms), and Plotly.animate redraws the named traces
// but drops the band's contour. So a moved point's marker is moved where Plotly drew it, and its trace
// and calcdata take the new values: a zoom or pan redraws it there, and the rerun replaces it all.
// False (nothing changed) where Plotly's figure lacks what this needs.
function movePoints(gd, out) {
  const xa = (gd._fullLayout || {}).xaxis, ya = (gd._fullLayout || {}).yaxis;
  if (!xa || !ya || !xa.c2p || !gd._fullData) return false;
  for (const group of gd.querySelectorAll(".scatterlayer .trace")) {
    const cd = group.__data__, i = cd && cd[0] && cd[0].trace ? cd[0].trace.index : -1;
    const moved = i >= 0 ? out[gd.data[i].name] : undefined;
    if (!moved) continue;
    Object.assign(gd.data[i], moved);
    Object.assign(gd._fullData[i], moved);
    Object.assign(cd[0], { x: moved.x[0], y: moved.y[0] });
    const px = xa.c2p(moved.x[0]), py = ya.c2p(moved.y[0]);
    for (const pt of group.querySelectorAll(".points path.point")) pt.setAttribute("transform", `translate(${px},${py})`);
  }
  return true;
}

// The whole figure redrawn by Plotly with `out`'s traces (and a new field image, if any).
function reactAll(self, gd, out) {
  const data = gd.data.map((tr) => (tr.name in out ? { ...tr, ...out[tr.name] } : tr));
  const images = (gd.layout.images || []).map((im) => (im.name === "map" && self.source ? { ...im, source: self.source } : im));
  window.Plotly.react(gd, data, { ...gd.layout, images, datarevision: (gd.layout.datarevision || 0) + 1 });
}

// A new field: the image, band, curves and points. Plotly.react would redraw the whole figure; the
// legend, colour bar and axes do not change, so only the image is relaid out and the changed traces are
// recomputed (each trace type's own calc) and the plot area redrawn. Plotly.animate cannot do it: it
// draws a contour empty. Where Plotly lacks what this needs, react redraws it all.
function drawField(self, gd, row, out) {
  const d = self.d, rho2 = field(d, row), drawn = fieldTraces(d, row, rho2);
  Object.assign(out, drawn.out);
  self.band = drawn.band;
  self.source = fieldImage(d, rho2);
  const i = (gd.layout.images || []).findIndex((im) => im.name === "map");
  if (i >= 0 && redrawTraces(gd, out)) window.Plotly.relayout(gd, { [`images[${i}].source`]: self.source });
  else reactAll(self, gd, out);
}

// Recompute the traces named in `out` and redraw the plot area only; false (nothing changed) where
// Plotly's figure lacks what this needs.
function redrawTraces(gd, out) {
  const full = gd._fullData, cart = ((gd._fullLayout || {})._basePlotModules || []).find((m) => m.name === "cartesian");
  const idx = gd.data.map((tr, i) => (tr.name in out ? i : -1)).filter((i) => i >= 0);
  if (!cart || !gd.calcdata || !full || idx.some((i) => !full[i] || full[i].index !== i || !(full[i]._module || {}).calc)) return false;
  for (const i of idx) {
    const upd = out[gd.data[i].name];
    Object.assign(gd.data[i], upd);
    Object.assign(full[i], upd);
    const cd = full[i]._module.calc(gd, full[i]);        // as Plotly's own doCalcdata
    cd[0].t = cd[0].t || {};
    cd[0].trace = full[i];
    gd.calcdata[i] = cd;
  }
  cart.plot(gd);
  return true;
}

// Redraw the map for `vals`, unless it already shows them. The field (image, band, curves) is redrawn
// only when a third parameter moved to a stop not drawn; along the map's own axes only the points move.
function redraw(self, vals) {
  const d = self.d, gd = mapOf(d);
  if (!gd || !window.Plotly) return;
  measuredLayer(self, gd, vals);
  const row = rowOf(d, vals);
  if (row === null) { gd.style.opacity = "0.45"; return; }    // beyond the shipped stops: the rerun repaints
  gd.style.opacity = "";
  const shows = shownBy(d, vals, row);
  if (shows === self.drawn) return;
  const out = pointTraces(self, gd, row, vals);
  const fieldKey = JSON.stringify([row.moved && row.along, vals[row.along]]);
  if (fieldKey !== self.field) drawField(self, gd, row, out);
  else if (!movePoints(gd, out)) reactAll(self, gd, out);
  self.field = fieldKey;
  self.drawn = shows;
  self.row = row;
  // What was drawn, for the browser tests.
  window.stabvizPreview = { values: vals, band: self.band, source: self.source, at: performance.now() };
}

// The cell under a pointer event, or null outside the plot area (axis ranges follow zoom and pan).
function cellAt(d, gd, event) {
  const area = gd.querySelector(".draglayer .nsewdrag");
  const full = gd._fullLayout;
  if (!area || !full) return null;
  const box = area.getBoundingClientRect();
  const fx = (event.clientX - box.left) / box.width, fy = (event.clientY - box.top) / box.height;
  if (!(fx >= 0 && fx <= 1 && fy >= 0 && fy <= 1)) return null;
  const [x0, x1] = full.xaxis.range, [y0, y1] = full.yaxis.range;
  const nearest = (cs, v) => {
    const step = (cs[cs.length - 1] - cs[0]) / (cs.length - 1);
    return Math.max(0, Math.min(cs.length - 1, Math.round((v - cs[0]) / step)));
  };
  return { k: nearest(d.xc, x0 + fx * (x1 - x0)), j: nearest(d.gc, y1 - fy * (y1 - y0)) };
}

function tooltip() {
  let tip = document.getElementById("stabviz-map-tip");
  if (!tip) {
    tip = document.createElement("div");
    tip.id = "stabviz-map-tip";
    tip.setAttribute("role", "tooltip");
    tip.style.cssText = "position:fixed;z-index:1000;pointer-events:none;display:none;background:#fff;"
      + "border:1px solid #495057;border-radius:3px;padding:4px 6px;font:12px sans-serif;color:#212529;"
      + "line-height:1.35;white-space:nowrap;box-shadow:0 1px 3px rgba(0,0,0,.2)";
    document.body.appendChild(tip);
  }
  return tip;
}

function showTip(self, gd, event) {
  const d = self.d, tip = tooltip();
  const at = self.row ? cellAt(d, gd, event) : null;
  if (at === null) { tip.style.display = "none"; return; }
  const c = cell(d, self.row, at.j, at.k);
  tip.innerHTML = `${d.x_title} = ${fmt(c.x, 4)}<br>${d.y_title} = ${fmt(c.gamma, 4)}<br>ρ² = ${fmt(c.rho2, 4)}`
    + `<br>worst one-step gain = ${fmt(c.worst, 4)}<br>log₁₀ gain over T = ${fmt(c.gain, 3)}`
    + `<br>firing rate p = ${c.firing.toFixed(3)}`;
  const m = measuredAt(self, gd, d.xc[at.k], d.gc[at.j]);
  if (m) tip.innerHTML += `<br>measured log₁₀ gain over T = ${fmt(m.value, 3)} (${m.ny} × ${m.nx} grid)`;
  tip.innerHTML += "<br><i>click to move here</i>";
  tip.style.left = `${event.clientX + 14}px`;
  tip.style.top = `${event.clientY + 14}px`;
  tip.style.display = "block";
}

// Pointer handlers, installed once for the page: the map element is found on each event (Streamlit
// may draw it after this script first runs, or replace it), and the newest data is read from `self`.
function attachPointer(self) {
  if (self.pointer) return;
  self.pointer = true;
  const target = (e) => { const gd = self.d && mapOf(self.d); return gd && gd.contains(e.target) ? gd : null; };
  let down = null;
  document.addEventListener("mousemove", (e) => {
    const gd = target(e);
    if (gd) showTip(self, gd, e); else tooltip().style.display = "none";
  }, true);
  document.addEventListener("mousedown", (e) => { down = [e.clientX, e.clientY]; }, true);
  document.addEventListener("click", (e) => {
    const gd = target(e);
    const still = down && Math.hypot(e.clientX - down[0], e.clientY - down[1]) < 4;    // not a zoom drag
    const at = gd && still && self.row ? cellAt(self.d, gd, e) : null;
    if (at === null) return;
    const d = self.d, value = { x: d.x[at.k], y: d.gamma[at.j] };
    redraw(self, { ...sliderValues(d), [d.x_name]: value.x, dampening: value.y });      // the point moves now
    self.trigger("click", value);                                                     // the setting follows
  }, true);
}

// Streamlit calls this on every rerun with the new data, not always cleaning up the last call: one
// observer for the page, replaced each time (a second one would redraw twice per move).
export default function liveMap({ data, setTriggerValue }) {
  const self = (window.stabvizLiveMap ||= { observer: null });
  if (self.observer) self.observer.disconnect();
  // JSON bytes (livemap.py); the tables are decoded once per rerun.
  const raw = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  const d = decode(JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw)));
  const row = rowOf(d, d.current);
  // The server's figure shows d.current: its field, its band and image, its optimum (read on the first move).
  Object.assign(self, { d, row, trigger: setTriggerValue, drawn: shownBy(d, d.current, row), measuredStale: false,
    field: JSON.stringify([false, d.current[row.along]]), band: null, source: null, optimum: null });
  window.stabvizMeasuredStale = false;
  const gd = mapOf(d);
  if (gd) gd.style.opacity = "";                 // the server's figure for this data has been drawn
  if (gd && window.Plotly) measuredLayer(self, gd, d.current);
  attachPointer(self);
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  if (!sidebar) return undefined;
  let pending = false;
  const observer = new MutationObserver(() => {
    if (pending) return;
    pending = true;
    // One redraw per burst of changes, before anything else: drawing after the slider has sent its
    // value would share the two cores with the rerun and land ~25 ms later.
    queueMicrotask(() => {
      pending = false;
      redraw(self, sliderValues(self.d));
    });
  });
  observer.observe(sidebar, { subtree: true, attributes: true, attributeFilter: ["aria-valuetext"] });
  self.observer = observer;
  return () => { observer.disconnect(); if (self.observer === observer) self.observer = null; };
}
