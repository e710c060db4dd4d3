"""Pure Plotly figure builders: arrays in, ``go.Figure`` out.

No physics here (the numbers come from :mod:`stabviz.theory`, :mod:`stabviz.surrogates`, the run store)
and no Streamlit: every builder is a plain function with a unit test on its traces. Large arrays are
sent as float32 (half the payload of float64; Plotly encodes numpy arrays as base64 typed arrays).
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

#: Axis titles with the symbols of docs/theory.md#2-the-surrogate-family and docs/theory.md#1-the-model.
AXIS_TITLES = {
    "dampening": "dampening γ",
    "sharpness": "sharpness β",
    "tail": "tail-fatness q",
    "leak": "leak α = exp(−1/τ)",
    "tau": "time constant τ (leak α = e^(−1/τ))",
    "rec_mean": "recurrent weight mean μ_rec",
    "n_rec": "neurons n",
    "lr": "learning rate",
    "threshold": "threshold θ",
    "initial_rate": "initial firing rate f0",
}

#: Condition curves drawn over a region map: key of Region.curves -> (legend label, dash style).
CURVE_STYLES = {
    "gamma_III": ("γ_III (worst gain 1)", "dash"),
    "gamma_IV": ("γ_IV (ρ² = 1)", "solid"),
    "q_star": ("q* (ρ² = 1 at this β)", "dot"),
}

#: Colours of the three regimes (vanishing, stable, exploding) and of an unknown outcome.
REGIME_COLORS = {
    "vanishing": "#2b6cb0",
    "stable": "#2f9e44",
    "exploding": "#c92a2a",
    "diverged": "#c92a2a",
    "unknown": "#868e96",
}
MODEL_COLORS = {"uniform": "#e8590c", "gaussian": "#1971c2", "measured": "#2f9e44"}

# Diverging scale: blue (gradients vanish) - white (stable) - red (gradients explode).
DIVERGING = [[0.0, "#1e3a8a"], [0.25, "#6d9eeb"], [0.5, "#f8f9fa"], [0.75, "#f08c6c"], [1.0, "#7f1d1d"]]
#: Every figure's text (ticks, legends, notes) is at least 16 px: read from the back of a lecture room.
FONT_SIZE = 16
_FIG_FONT = dict(size=FONT_SIZE)
# The dashboard styles figures with Streamlit's theme; Plotly's default template would be deep-copied
# into every figure (milliseconds each) only to be overridden. (An empty template counts as unset,
# so this one holds Plotly's own default hover mode.)
_NO_TEMPLATE = dict(layout=dict(hovermode="closest"))


def axis_title(name: str, log: bool = False) -> str:
    """The axis title of parameter ``name``; a log leak axis is spaced in τ (see :func:`map_coord`)."""
    return AXIS_TITLES["tau"] if name == "leak" and log else AXIS_TITLES.get(name, name)


def _finite32(a: Any, limit: float = 1e30) -> np.ndarray:
    """float32 copy with ±inf clipped to ±limit (JSON and colour scales cannot carry infinities)."""
    return np.clip(
        np.nan_to_num(np.asarray(a, np.float64), nan=np.nan, posinf=limit, neginf=-limit), -limit, limit
    ).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Region maps
#
# A log axis is drawn as a linear axis in log10 units with tick labels in real units: Plotly paints a
# 200 × 200 heatmap on a log axis about three times slower than on a linear one (~110 vs ~35 ms in
# headless Chromium), and the repaint budget after a slider release is 100 ms. Real values travel
# in every hover's customdata; :func:`map_value` turns a clicked coordinate back into a value.


def map_coord(values: Any, log: bool, name: str = "") -> np.ndarray:
    """Map coordinates of parameter values: log10 on a log axis (non-positive values: NaN). A log leak
    axis is spaced in log10 τ, τ = −1/ln α (theory.axis_values): linear in α, every τ ≥ 10 would
    crowd into the axis's last 10% (docs/theory.md#1-the-model); α = 0 (τ → 0) has no coordinate."""
    v = np.asarray(values, float)
    if not log:
        return v
    if name == "leak":
        inside = (v > 0) & (v < 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(inside, np.log10(-1.0 / np.log(np.where(inside, v, 0.5))), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)


def map_value(coord: float, log: bool, name: str = "") -> float:
    """The parameter value at a map coordinate (inverse of :func:`map_coord`)."""
    if log and name == "leak":
        return float(math.exp(-1.0 / 10.0**coord))
    return float(10.0**coord) if log else float(coord)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def tick_label(v: float) -> str:
    """A tick label: plain between 0.001 and 10 000 ("0.05", "300"), else in powers of ten ("10⁻²⁴",
    "2×10⁻⁵"), the same way on every axis and colour bar (Plotly's own labels mix SI prefixes such as
    1f … 1μ with 10⁻²⁴ on one axis)."""
    v = float(v)
    if v == 0 or not math.isfinite(v) or 1e-3 <= abs(v) < 1e4:
        return f"{float(f'{v:.3g}'):g}".replace("-", "−")
    k = math.floor(math.log10(abs(v)))
    m = abs(v) / 10.0**k
    if m >= 9.995:  # 9.999e4 rounds up to 10×10⁴: carry into the exponent
        m, k = m / 10.0, k + 1
    power = "10" + str(k).translate(_SUPERSCRIPT)
    mantissa = f"{m:.2g}"
    return ("−" if v < 0 else "") + (power if mantissa == "1" else f"{mantissa}×{power}")


def power_text(log10: float, digits: int = 3) -> str:
    """The number 10^``log10`` as text, from its logarithm: plain while it reads so ("0.00123", "45.6"),
    else "2.3×10⁻⁴³⁴³" (ρ^T at T = 100 000 underflows a float to 0, so the value itself would print "0")."""
    if math.isnan(log10):
        return "—"
    if math.isinf(log10):
        return "0" if log10 < 0 else "∞"
    if -3 <= log10 < 4:
        return f"{float(f'{10.0**log10:.{digits}g}'):g}"
    k = math.floor(log10)
    m = float(f"{10.0 ** (log10 - k):.{digits}g}")
    if m >= 10:  # 9.996 rounds to 10: carry into the exponent
        m, k = m / 10, k + 1
    power = "10" + str(k).translate(_SUPERSCRIPT)
    return power if m == 1 else f"{m:g}×{power}"


def _log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick positions (log10 units) and labels (real units) at 1, 2, 5 × 10^k within [lo, hi]."""
    vals = [m * 10.0**k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1) for m in (1, 2, 5)]
    vals = [v for v in vals if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9)]
    if len(vals) > 9:  # many decades: decades only
        vals = [
            v
            for v in vals
            if math.isclose(math.log10(v) % 1, 0, abs_tol=1e-9) or math.isclose(math.log10(v) % 1, 1, abs_tol=1e-9)
        ]
    return [math.log10(v) for v in vals], [tick_label(v) for v in vals]


def _map_axis(name: str, values: np.ndarray, log: bool) -> dict:
    coords = map_coord([np.min(values), np.max(values)], log, name)
    lo, hi = (10.0**coords) if log else coords  # real units: τ on a log leak axis
    # No grid or zero line: under a heatmap they were hidden, over the field image they would show.
    axis = dict(
        title=dict(text=axis_title(name, log)),
        type="linear",
        showgrid=False,
        zeroline=False,
        range=[float(c) for c in coords],
        automargin=True,
    )
    if log:
        axis["tickvals"], axis["ticktext"] = _log_ticks(float(lo), float(hi))
    return axis


def axis_range(region: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """The (x, y) coordinate ranges a region map's axes span (the cells' centres)."""

    def span(values: Any, log: bool, name: str) -> tuple[float, float]:
        c = map_coord([np.min(values), np.max(values)], log, name)
        return float(c[0]), float(c[1])

    return span(region.x, region.log_x, region.x_name), span(region.y, region.log_y, region.y_name)


def colour_scale(color_by: str, tolerance: float) -> tuple[float, float]:
    """(zlim, knee) of a region map's colours: the field is coloured by asinh(z / knee) over
    [-zlim, zlim] (:func:`colour_t`), linear within a knee of 0 and logarithmic beyond, so neither the
    stable band's edges nor values tens of decades out saturate. log10 gain over T: the knee is the
    tolerance, the limit 100 tolerances; ρ²: log10 ρ², knee 0.05 (ρ² within ~12% of 1), limit 3 decades."""
    check_color_by(color_by)
    return (100.0 * float(tolerance), float(tolerance)) if color_by == "log10_gain" else (3.0, 0.05)


def check_color_by(color_by: str) -> None:
    if color_by not in ("log10_gain", "rho2"):
        raise ValueError(f"color_by = {color_by!r} is not one of: log10_gain, rho2")


def colour_t(z: Any, zlim: float, knee: float) -> np.ndarray:
    """Position in [0, 1] on the colour scale of ``z`` (clipped to ±zlim): 0.5 + asinh(z/knee) /
    (2·asinh(zlim/knee)). live_map.js computes the same number before reading :func:`colour_lut`."""
    z = np.clip(np.nan_to_num(np.asarray(z, float), nan=0.0), -zlim, zlim)
    return 0.5 + np.arcsinh(z / knee) / (2.0 * math.asinh(zlim / knee))


def colour_ticks(zlim: float, knee: float, real: Any = None) -> dict:
    """Colour bar ticks at round values of z (or of ``real``(z), e.g. ρ² from log10 ρ²) on the [-1, 1]
    colour coordinate (2·colour_t − 1) the colour bar is drawn in."""
    zs = [0.0] + [s * m * 10.0**k for k in range(-2, 5) for m in (1, 3) for s in (1, -1)]
    zs = sorted(v for v in zs if abs(v) <= zlim and (v == 0 or abs(v) >= knee))
    return dict(
        tickvals=[float(2 * colour_t(v, zlim, knee) - 1) for v in zs],
        ticktext=[tick_label(real(v) if real else v) for v in zs],
    )


def colour_field(z: Any, zlim: float, knee: float) -> np.ndarray:
    """RGBA pixels (uint8, shape z.shape + (4,)) of ``z`` on the DIVERGING scale at :func:`colour_t`,
    linear between the scale's stops as Plotly interpolates them; NaN is transparent."""
    z = np.asarray(z, float)
    out = _paint(colour_t(z, zlim, knee))
    out[..., 3] = np.where(np.isnan(z), 0, 255)
    return out


def _paint(t: np.ndarray) -> np.ndarray:
    """RGBA (opaque) of positions ``t`` in [0, 1] on the DIVERGING scale."""
    stops = [s for s, _ in DIVERGING]
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for _, c in DIVERGING], float)
    out = np.empty(np.shape(t) + (4,), np.uint8)
    for ch in range(3):
        out[..., ch] = np.rint(np.interp(t, stops, rgb[:, ch]))
    out[..., 3] = 255
    return out


def colour_lut(n: int = 1024) -> np.ndarray:
    """The DIVERGING scale as ``n`` RGBA rows (uint8): entry i colours colour_t = i/(n − 1). The Explore
    page's browser preview colours its field with it, so the scale is defined once, here."""
    return _paint(np.linspace(0.0, 1.0, n))


def png_data_uri(rgba: np.ndarray) -> str:
    """An 8-bit RGBA image (rows top to bottom) as a ``data:image/png;base64`` URI (zlib, no Pillow)."""
    rgba = np.ascontiguousarray(rgba, np.uint8)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"rgba shape = {rgba.shape!r} is not (height, width, 4)")
    h, w, _ = rgba.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgba.reshape(h, 4 * w)], axis=1)  # filter 0 per row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def field_image(z: Any, x: np.ndarray, y: np.ndarray, zlim: float, knee: float) -> dict:
    """A layout image of the field ``z`` (rows along ``y``, columns along ``x``, uniform map coordinates)
    painted under the axes: each pixel is one cell, centred on its (x, y) as a heatmap's cell is."""
    dx = (x[-1] - x[0]) / max(len(x) - 1, 1)
    dy = (y[-1] - y[0]) / max(len(y) - 1, 1)
    return dict(
        source=png_data_uri(colour_field(z, zlim, knee)[::-1]),
        xref="x",
        yref="y",
        layer="below",
        x=float(x[0] - dx / 2),
        y=float(y[-1] + dy / 2),
        sizex=float(dx * len(x)),
        sizey=float(dy * len(y)),
        sizing="stretch",
        xanchor="left",
        yanchor="top",
        name="map",
    )


#: The stable band's outline is contoured on every CONTOUR_STRIDE-th cell of the map.
CONTOUR_STRIDE = 2
#: Field values beyond ±FIELD_LIMIT (e.g. log10 gain −inf where ρ² = 0) are clipped to it.
FIELD_LIMIT = 1e4


def map_revision(x: str, y: str) -> str:
    """A region map's layout.uirevision: keeps zoom across reruns, and names the map for page scripts."""
    return f"region-{x}-{y}"


#: The stable band's fill: visible over blue, white and red alike, translucent over the field.
BAND_FILL = "rgba(47, 158, 68, 0.35)"


def BAND_CONTOURS(tol: float) -> dict:  # noqa: N802 - a constant in spirit: the band's contour spec
    """|z| ≤ tol as a constraint contour. Plotly shades the region a constraint leaves out, so keeping the
    outside ("][") shades the band itself."""
    return dict(type="constraint", operation="][", value=[-tol, tol])


def band_name(tolerance: float) -> str:
    """The stable band's trace name (its legend entry; live_map.js finds the trace by it)."""
    return f"stable (±{tolerance:g})"


def region_map(region: Any, **kw: Any) -> go.Figure:
    """The stable region over two parameters (docs/theory.md#33-condition-iii-the-dampening-from-the-worst-case-gain and
    docs/theory.md#34-condition-iv-the-sharpness-or-tail-from-the-mean-squared-gain), as a
    validated Plotly figure; the keywords are :func:`region_map_spec`'s."""
    return go.Figure(region_map_spec(region, **kw))


def region_map_spec(
    region: Any,
    *,
    color_by: str = "log10_gain",
    runs: Sequence[Mapping[str, Any]] = (),
    click_points: int | None = 25,
    show_points: bool = True,
    title: str | None = None,
    height: int = 460,
) -> dict:
    """:func:`region_map`'s figure as a plain dict ({"data": [...], "layout": {...}}), unvalidated: the
    dashboard builds one per new grid, and Plotly's validation of it would cost ~4 ms of the rerun
    (the tests validate the same dict through :func:`region_map`).

    ``region`` is a :class:`stabviz.theory.Region` (x, y, rho2, max_gain, log10_gain, firing_rate,
    curves, optimum, current, tolerance, log_x, log_y). Colour: ``color_by="log10_gain"`` shows
    T·log10 ρ (decades of gradient gain over T steps) centred on 0; ``"rho2"`` shows log10 ρ² centred on
    ρ² = 1 with ρ² tick labels. The stable band (|T·log10 ρ| ≤ tolerance) is outlined by contour
    lines. ``runs`` are confirmation runs: mappings with keys x, y, outcome (a regime name or
    "unknown") and label. Log axes are drawn in log10 units (see :func:`map_coord`). A transparent
    marker grid (about ``click_points`` per axis, see :func:`hover_grid`) carries the hover and
    receives clicks; ``click_points=None`` leaves it out, for a page that hovers and clicks the map
    by its own means (the dashboard: stabviz/ui/live_map.js, exact to the cell). ``show_points=False`` leaves out the
    optimum and the current point (see
    :func:`point_marker_specs`), for callers that add them later.
    """
    lx, ly = bool(region.log_x), bool(region.log_y)
    x, y = map_coord(region.x, lx, region.x_name), map_coord(region.y, ly, region.y_name)
    tol = float(region.tolerance)
    gain = _finite32(region.log10_gain, FIELD_LIMIT)
    zlim, knee = colour_scale(color_by, tol)
    if color_by == "log10_gain":
        z = gain
        colorbar = dict(title=dict(text="log₁₀ gain<br>over T", side="right"), **colour_ticks(zlim, knee))
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            z = _finite32(np.log10(np.asarray(region.rho2, float)), FIELD_LIMIT)
        colorbar = dict(title=dict(text="ρ²", side="right"), **colour_ticks(zlim, knee, lambda v: 10.0**v))
    # The field is one PNG under the axes, not a heatmap trace: the browser decodes ~13 kB of image
    # where Plotly would parse, theme and paint 40 000 cells (the spec shrinks from ~300 to ~100 kB,
    # and Streamlit's frontend re-serialises the whole spec on every remount). An empty marker trace
    # carries the colour bar.
    # The colour bar is drawn in the colour coordinate 2·colour_t − 1 (ticks at round values of z).
    colour_key = dict(
        colorscale=DIVERGING, cmin=-1.0, cmax=1.0, cmid=0.0, showscale=True, colorbar=colorbar, color=[0.0]
    )
    traces = [
        dict(
            type="scatter",
            x=[None],
            y=[None],
            mode="markers",
            marker=colour_key,
            hoverinfo="skip",
            showlegend=False,
            name="map",
        ),
        # The band is a filled region (|T·log10 ρ| ≤ tolerance) with a thick outline, not a hairline;
        # it needs no more than half the map's resolution (a quarter of the payload).
        dict(
            type="contour",
            x=x[::CONTOUR_STRIDE].astype(np.float32),
            y=y[::CONTOUR_STRIDE].astype(np.float32),
            z=gain[::CONTOUR_STRIDE, ::CONTOUR_STRIDE],
            showscale=False,
            hoverinfo="skip",
            name=band_name(tol),
            showlegend=True,
            contours=BAND_CONTOURS(tol),
            fillcolor=BAND_FILL,
            line=dict(color="#1b5e20", width=3),
            autocontour=False,
        ),
    ]
    for key, (xs, ys) in region.curves.items():
        label, dash = CURVE_STYLES.get(key, (key, "solid"))
        traces.append(
            dict(
                type="scatter",
                x=map_coord(xs, lx, region.x_name),
                y=map_coord(ys, ly, region.y_name),
                mode="lines",
                name=label,
                line=dict(color="#495057", width=2, dash=dash),
                hoverinfo="skip",
                connectgaps=False,
            )
        )
    if runs:
        traces += _runs_spec(runs, region)
    if click_points is not None:
        traces.append(_hover_grid_spec(region, click_points))
    if show_points:
        traces += point_marker_specs(region)
    layout = dict(
        height=height,
        font=_FIG_FONT,
        template=_NO_TEMPLATE,
        uirevision=map_revision(region.x_name, region.y_name),
        clickmode="event+select" if click_points is not None else "none",
        margin=dict(l=60, r=20, t=MODEBAR_BAND + (30 if title else 0), b=10),
        legend=LEGEND,
        xaxis=_map_axis(region.x_name, np.asarray(region.x, float), lx),
        yaxis=_map_axis(region.y_name, np.asarray(region.y, float), ly),
        images=[field_image(z, x, y, zlim, knee)],
    )
    if title is not None:
        layout["title"] = dict(text=title)
    return {"data": traces, "layout": layout}


def _marker(region: Any, at: tuple[float, float], name: str, marker: dict) -> dict:
    xt, yt = axis_title(region.x_name), axis_title(region.y_name)
    (x0, x1), (y0, y1) = axis_range(region)
    x, y = float(map_coord(at[0], region.log_x, region.x_name)), float(map_coord(at[1], region.log_y, region.y_name))
    if off_map(region, at):  # pinned at the edge it is beyond, and drawn as such
        x = x0 if not x >= x0 else min(x, x1)
        y = y0 if not y >= y0 else min(y, y1)
        name, marker = f"{name} (off the map: pinned at its edge)", {**marker, "symbol": "x-thin-open", "size": 22}
    return dict(
        type="scatter",
        x=[x],
        y=[y],
        cliponaxis=False,
        mode="markers",
        name=name,
        marker=marker,
        customdata=[[float(at[0]), float(at[1])]],
        hovertemplate=f"{name}<br>{xt} = %{{customdata[0]:.4g}}<br>{yt} = %{{customdata[1]:.4g}}<extra></extra>",
    )


#: Trace names of a region map's two point markers.
OPTIMUM_NAME = "optimum (conditions III + IV)"
CURRENT_NAME = "current setting"


def off_map(region: Any, at: tuple[float, float]) -> bool:
    """Whether the point ``at`` (x, y values) lies outside the region map's axes (NaN: no coordinate,
    e.g. α = 0 on a log-τ axis, lies below its low end)."""
    (x0, x1), (y0, y1) = axis_range(region)
    x, y = float(map_coord(at[0], region.log_x, region.x_name)), float(map_coord(at[1], region.log_y, region.y_name))
    eps = 1e-9
    return not (x0 - eps <= x <= x1 + eps and y0 - eps <= y <= y1 + eps)


def point_marker_specs(region: Any) -> list[dict]:
    """The optimum (when the conditions have one) and the current point of a region map, as plain trace
    dicts: they move on every slider release, and skipping Plotly's validation saves ~1 ms a rerun."""
    out = []
    if region.optimum is not None:
        out.append(
            _marker(
                region,
                region.optimum,
                OPTIMUM_NAME,
                dict(symbol="star", size=16, color="#f59f00", line=dict(color="#212529", width=1)),
            )
        )
    out.append(
        _marker(
            region,
            region.current,
            CURRENT_NAME,
            dict(symbol="circle-open", size=16, color="#000000", line=dict(width=3)),
        )
    )
    return out


#: Trace names of a region map's measured layer; both carry meta MEASURED_META (live_map.js finds them by it).
MEASURED_BOUNDARY = "measured boundary"
MEASURED_FIELD = "measured field"
MEASURED_META = "measured"


def measured_layer_specs(
    m: Mapping[str, Any], *, log_y: bool, color_by: str = "log10_gain", show_field: bool = False
) -> tuple[list[dict], list[dict]]:
    """The measured layer of a region map, as (traces to draw under the theory's lines, traces over them).

    ``m`` holds a measured map's numbers (stabviz.measured.MeasuredMap's fields x, y, log_x,
    measured_log10_gain, rho_hat, tolerance) on the same axes as the map; ``log_y`` is the map's. Over:
    the measured regime boundaries, T·log10 ρ̂ = ±tolerance, as lines in the measured colour. Under, with
    ``show_field``: the measured field as a heatmap coloured as the theory's field (``color_by``), which
    covers the theory's image cell for cell.
    """
    x, y = map_coord(m["x"], bool(m["log_x"]), m.get("x_name", "")), map_coord(m["y"], log_y)
    tol = float(m["tolerance"])
    gain = _finite32(m["measured_log10_gain"], FIELD_LIMIT)
    # Plain lists, not typed arrays: live_map.js reads the cells back for its hover (a 24 × 24 grid is small).
    over = [
        dict(
            type="contour",
            x=x.tolist(),
            y=y.tolist(),
            z=gain.tolist(),
            name=MEASURED_BOUNDARY,
            meta=MEASURED_META,
            showscale=False,
            hoverinfo="skip",
            showlegend=True,
            autocontour=False,
            contours=dict(start=-tol, end=tol, size=2 * tol, coloring="none"),
            line=dict(color=MODEL_COLORS["measured"], width=3),
        )
    ]
    if not show_field:
        return [], over
    zlim, knee = colour_scale(color_by, tol)
    if color_by == "log10_gain":
        z = gain
    else:
        with np.errstate(divide="ignore"):
            z = _finite32(2.0 * np.log10(np.asarray(m["rho_hat"], float)), FIELD_LIMIT)  # log10 ρ̂²
    u = (2.0 * colour_t(z, zlim, knee) - 1.0).astype(np.float32)  # the colour bar's coordinate
    under = [
        dict(
            type="heatmap",
            x=x.tolist(),
            y=y.tolist(),
            z=u.tolist(),
            name=MEASURED_FIELD,
            meta=MEASURED_META,
            colorscale=DIVERGING,
            zmin=-1.0,
            zmax=1.0,
            zmid=0.0,
            showscale=False,
            zsmooth=False,
            hoverinfo="skip",
            showlegend=False,
        )
    ]
    return under, over


def hover_grid(region: Any, points: int = 25) -> go.Scatter:
    """:func:`_hover_grid_spec` as a validated Plotly trace."""
    return go.Scatter(_hover_grid_spec(region, points))


def _hover_grid_spec(region: Any, points: int = 25) -> dict:
    """Invisible markers on every k-th cell of the map (about ``points`` per axis) carrying the hover.

    Plotly heatmaps give no selection events, so these markers receive the clicks; they also carry
    every number of their cell (its x and y, ρ², worst one-step gain, log10 gain over T, firing
    rate), so what a person reads on hover is exactly where a click moves the current point. SVG
    markers, not WebGL: a WebGL context costs ~200 ms per redraw without a GPU; and only one of them
    is drawn (``marker.maxdisplayed``), as hover and selection work from the data.
    """
    if points < 2:
        raise ValueError(f"click_points = {points!r} is outside the allowed range [2, inf)")
    ny, nx = np.shape(region.log10_gain)
    kx, ky = max(1, math.ceil(nx / points)), max(1, math.ceil(ny / points))
    cells = (slice(None, None, ky), slice(None, None, kx))
    xx, yy = np.meshgrid(np.asarray(region.x, float)[::kx], np.asarray(region.y, float)[::ky])
    custom = np.stack(
        [xx.ravel().astype(np.float32), yy.ravel().astype(np.float32)]
        + [
            _finite32(np.asarray(a)[cells]).ravel()
            for a in (region.rho2, region.max_gain, region.log10_gain, region.firing_rate)
        ],
        axis=-1,
    )
    xt, yt = axis_title(region.x_name), axis_title(region.y_name)
    hover = (
        f"{xt} = %{{customdata[0]:.4g}}<br>{yt} = %{{customdata[1]:.4g}}<br>ρ² = %{{customdata[2]:.4g}}"
        "<br>worst one-step gain = %{customdata[3]:.4g}<br>log₁₀ gain over T = %{customdata[4]:.3g}"
        "<br>firing rate p = %{customdata[5]:.3f}<br><i>click to move here</i><extra></extra>"
    )
    return dict(
        type="scatter",
        x=map_coord(xx.ravel(), region.log_x).astype(np.float32),
        y=map_coord(yy.ravel(), region.log_y).astype(np.float32),
        customdata=custom,
        mode="markers",
        name="cells",
        hovertemplate=hover,
        showlegend=False,
        # Hover and click selection work on every marker, drawn or not: drawing one of
        # them, not 625 SVG paths, saves ~20 ms of each remount in headless Chromium.
        marker=dict(size=10, color="rgba(0,0,0,0)", maxdisplayed=1),
    )


def round_sig(values: Any, digits: int = 3) -> np.ndarray:
    """Round to ``digits`` significant digits (0 stays 0)."""
    v = np.asarray(values, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(v != 0, np.floor(np.log10(np.abs(v))), 0)
    scale = 10.0 ** (digits - 1 - mag)
    return np.round(v * scale) / scale


#: A confirmation run's marker per measured outcome: colour and symbol, so the key reads without colour too.
RUN_SYMBOLS = {
    "stable": "circle",
    "vanishing": "triangle-down",
    "exploding": "triangle-up",
    "diverged": "x",
    "unknown": "diamond",
}


def _runs_spec(runs: Sequence[Mapping[str, Any]], region: Any) -> list[dict]:
    """One trace per measured outcome, so the legend is the key ("run measured stable", ...)."""
    by_outcome: dict[str, list[Mapping[str, Any]]] = {}
    for r in runs:
        o = str(r.get("outcome", "unknown"))
        by_outcome.setdefault(o if o in RUN_SYMBOLS else "unknown", []).append(r)
    out = []
    for o, group in by_outcome.items():
        xs, ys = [r["x"] for r in group], [r["y"] for r in group]
        out.append(
            dict(
                type="scatter",
                x=map_coord(xs, region.log_x, region.x_name),
                y=map_coord(ys, region.log_y, region.y_name),
                mode="markers",
                name=f"run: {o}" if o != "unknown" else "run: no verdict",
                text=[f"{r.get('label', '')}<br>measured: {o}" for r in group],
                customdata=np.c_[xs, ys],
                marker=dict(
                    symbol=RUN_SYMBOLS[o], size=13, color=REGIME_COLORS[o], line=dict(color="#ffffff", width=1.5)
                ),
                hovertemplate="%{text}<br>(%{customdata[0]:.4g}, %{customdata[1]:.4g})<extra></extra>",
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Shared layout pieces. Shapes and annotations go into the layout dict of one go.Figure call:
# fig.add_vline/add_hrect/update_layout each re-validate the figure and cost milliseconds apiece.


def _vline(x: float, text: str, color: str = "#000000", dash: str = "dot", position: str = "top") -> tuple[dict, dict]:
    shape = dict(
        type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1, line=dict(color=color, dash=dash, width=1.5)
    )
    # A "top" label hangs just inside the plot area: above it, the toolbar's band (MODEBAR_BAND) would cover it.
    note = dict(
        xref="x",
        yref="paper",
        x=x,
        y=1.0 if position == "top" else 0.02,
        text=text,
        showarrow=False,
        xanchor="left",
        yanchor="top" if position == "top" else "bottom",
        font=dict(color=color),
    )
    return shape, note


def _hline(y: float, text: str, color: str = "#000000", dash: str = "dash") -> tuple[dict, dict]:
    shape = dict(
        type="line", xref="paper", yref="y", x0=0, x1=1, y0=y, y1=y, line=dict(color=color, dash=dash, width=1.5)
    )
    note = dict(
        xref="paper",
        yref="y",
        x=1.0,
        y=y,
        text=text,
        showarrow=False,
        xanchor="right",
        yanchor="bottom",
        font=dict(color=color),
    )
    return shape, note


#: Pixels above the plot area kept free for Plotly's toolbar (the mode bar, drawn over the figure's top
#: right corner): no colour-bar label, legend or line label may sit under it.
MODEBAR_BAND = 40
#: Every legend: one horizontal block at the figure's bottom edge. Plotly reserves its height below
#: whatever the axes push into the margin (their ``automargin``), so however many rows it wraps into at
#: a narrow width, it never covers a tick label or an axis title (a legend placed in paper units does:
#: it keeps its place while the axis text grows).
LEGEND = dict(orientation="h", yref="container", yanchor="bottom", y=0, x=0, xanchor="left")


def _layout(
    height: int,
    x_title: str,
    y_title: str,
    *,
    lines: Sequence[tuple[dict, dict]] = (),
    top: int = MODEBAR_BAND,
    **extra: Any,
) -> dict:
    # automargin: the margins grow to fit the 16 px tick labels and titles (fixed margins cut them)
    xaxis = dict(title=x_title, automargin=True, **extra.pop("xaxis", {}))
    yaxis = dict(title=y_title, automargin=True, **extra.pop("yaxis", {}))
    return dict(
        height=height,
        font=_FIG_FONT,
        margin=dict(l=10, r=10, t=max(top, MODEBAR_BAND), b=10),
        xaxis=xaxis,
        yaxis=yaxis,
        template=_NO_TEMPLATE,
        legend=extra.pop("legend", LEGEND),
        shapes=[s for s, _ in lines],
        annotations=[a for _, a in lines],
        **extra,
    )


# ---------------------------------------------------------------------------------------------
# Firing-rate predictions and voltage models (docs/theory.md#4-the-voltage-models)


def firing_rate_bars(rates: Mapping[str, float], *, height: int = 260) -> go.Figure:
    """Predicted initial firing rate p per voltage model; the band between the lowest and the highest
    prediction is shaded (the uncertainty across models)."""
    names = list(rates)
    vals = [float(rates[n]) for n in names]
    bar = go.Bar(
        x=names,
        y=vals,
        marker=dict(color=[MODEL_COLORS.get(n, "#868e96") for n in names]),
        text=[f"{v:.1%}" for v in vals],
        textposition="outside",
        name="predicted p",
        hovertemplate="%{x}: p = %{y:.4f}<extra></extra>",
    )
    layout = _layout(
        height, "", "initial firing rate p", showlegend=False, yaxis=dict(range=[0, 1.15], tickformat=".0%")
    )
    if len(vals) > 1:
        layout["shapes"].append(
            dict(
                type="rect",
                xref="paper",
                yref="y",
                x0=0,
                x1=1,
                y0=min(vals),
                y1=max(vals),
                fillcolor="#adb5bd",
                opacity=0.3,
                line=dict(width=0),
                layer="below",
            )
        )
    return go.Figure(data=[bar], layout=layout)


def rate_curves(
    x: Any,
    curves: Mapping[str, Any],
    *,
    x_name: str,
    current: float | None = None,
    marks: Mapping[str, float | None] | None = None,
    log_x: bool = False,
    height: int = 280,
) -> go.Figure:
    """Predicted firing rate p as one parameter sweeps ``x``, one line per voltage model; ``current``
    and the named ``marks`` (None: skipped) are vertical lines."""
    x = np.asarray(x, float)
    traces = [
        go.Scatter(
            x=x,
            y=np.asarray(ys, float),
            mode="lines",
            name=name,
            line=dict(color=MODEL_COLORS.get(name), width=2),
            hovertemplate=f"{name}<br>{axis_title(x_name)} = %{{x:.4g}}<br>p = %{{y:.3f}}<extra></extra>",
        )
        for name, ys in curves.items()
    ]
    lines = [] if current is None else [_vline(current, "current")]
    lines += [_vline(at, name, "#e67700", "dash", "bottom") for name, at in (marks or {}).items() if at is not None]
    return go.Figure(
        data=traces,
        layout=_layout(
            height,
            axis_title(x_name),
            "firing rate p",
            lines=lines,
            xaxis=dict(type="log" if log_x else "linear"),
            yaxis=dict(range=[0, 1.02], tickformat=".0%"),
        ),
    )


def voltage_distributions(
    v: Any, densities: Mapping[str, Any], *, threshold: float, samples: Any = None, height: int = 300
) -> go.Figure:
    """The voltage density each model assumes (lines) against a measured histogram (bars), with θ."""
    v = np.asarray(v, float)
    traces = []
    if samples is not None and np.size(samples):
        traces.append(
            go.Histogram(
                x=np.asarray(samples, np.float32),
                histnorm="probability density",
                name="measured (Monte-Carlo)",
                marker=dict(color=MODEL_COLORS["measured"]),
                opacity=0.45,
                nbinsx=80,
            )
        )
    traces += [
        go.Scatter(
            x=v,
            y=np.asarray(dens, float),
            mode="lines",
            name=f"{name} model",
            line=dict(color=MODEL_COLORS.get(name), width=2),
        )
        for name, dens in densities.items()
    ]
    return go.Figure(
        data=traces,
        layout=_layout(
            height,
            "membrane voltage y",
            "density",
            lines=[_vline(threshold, "θ", dash="dash")],
            barmode="overlay",
            xaxis=dict(range=[float(v.min()), float(v.max())]),
        ),
    )


# ---------------------------------------------------------------------------------------------
# Surrogate shapes (docs/theory.md#2-the-surrogate-family)


def surrogate_curves(
    v: Any, curves: Mapping[str, Any], *, highlight: str | None = None, height: int = 360
) -> go.Figure:
    """σ'(v) of several shapes overlaid; ``highlight`` is drawn thicker."""
    v = np.asarray(v, float)
    traces = [
        go.Scatter(
            x=v,
            y=np.asarray(ys, float),
            mode="lines",
            name=name,
            line=dict(width=4 if name == highlight else 1.8),
            opacity=1.0 if name == highlight or not highlight else 0.75,
            hovertemplate=f"{name}<br>v = %{{x:.3g}}<br>σ'(v) = %{{y:.4g}}<extra></extra>",
        )
        for name, ys in curves.items()
    ]
    return go.Figure(data=traces, layout=_layout(height, "v = y − θ", "surrogate derivative σ'(v)"))


def step_and_primitive(v: Any, primitive: Any, *, shape: str, height: int = 300) -> go.Figure:
    """The forward Heaviside H(v) against the smooth step whose derivative is the surrogate."""
    v = np.asarray(v, float)
    traces = [
        go.Scatter(
            x=v,
            y=(v > 0).astype(float),
            mode="lines",
            name="Heaviside H(v) (forward)",
            line=dict(color="#212529", width=2, shape="hv"),
        ),
        go.Scatter(
            x=v,
            y=np.asarray(primitive, float),
            mode="lines",
            name="smooth step ∫σ' (backward)",
            line=dict(color="#1971c2", width=3),
            # the shape in the hover, not the legend: a long entry overflowed a 320 px column
            hovertemplate=f"{shape}: ∫σ' = %{{y:.3g}} at v = %{{x:.3g}}<extra></extra>",
        ),
    ]
    return go.Figure(data=traces, layout=_layout(height, "v = y − θ", "spike z"))


def surrogate_moments(
    moments: Mapping[str, tuple[float, float]], *, highlight: str | None = None, height: int = 300
) -> go.Figure:
    """E[σ'] and E[σ'²] per shape under one voltage model (grouped bars on a linear axis from 0: bar
    lengths compare as the numbers do; a log axis starting anywhere above 0 would not)."""
    names = list(moments)
    width = [3 if n == highlight else 0 for n in names]
    traces = [
        go.Bar(
            x=names,
            y=[float(moments[n][i]) for n in names],
            name=label,
            marker=dict(color=color, line=dict(width=width, color="#212529")),
            hovertemplate=f"%{{x}}<br>{label} = %{{y:.4g}}<extra></extra>",
        )
        for i, (label, color) in enumerate((("E[σ']", "#1971c2"), ("E[σ'²]", "#e8590c")))
    ]
    # A short y title: a long one ("expectation under the voltage model") was cut at the figure's height.
    return go.Figure(
        data=traces,
        layout=_layout(height, "", "expected value", barmode="group", yaxis=dict(type="linear", rangemode="tozero")),
    )


# ---------------------------------------------------------------------------------------------
# Training runs


def smooth(values: Any, weight: float) -> np.ndarray:
    """Exponential moving average with weight ``weight`` in [0, 1) (0 = raw), bias-corrected at the start."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing = {weight!r} is outside the allowed range [0, 1)")
    y = np.asarray(values, float)
    if weight == 0.0 or y.size == 0:
        return y
    out = np.empty_like(y)
    acc, norm = 0.0, 0.0
    for i, val in enumerate(y):  # a few hundred logged points at most: a loop is clearer than lfilter
        acc = weight * acc + (1 - weight) * val
        norm = weight * norm + (1 - weight)
        out[i] = acc / norm
    return out


def metric_curves(
    series: Mapping[str, tuple[Any, Any]],
    *,
    y_label: str,
    smoothing: float = 0.0,
    log_y: bool = False,
    height: int = 260,
) -> go.Figure:
    """One metric against training step, one line per run (``series``: name -> (steps, values))."""
    traces = [
        go.Scatter(
            x=np.asarray(steps, float),
            y=smooth(vals, smoothing),
            mode="lines",
            name=name,
            hovertemplate=f"{name}<br>step %{{x}}<br>{y_label} = %{{y:.4g}}<extra></extra>",
        )
        for name, (steps, vals) in series.items()
    ]
    return go.Figure(
        data=traces,
        layout=_layout(
            height,
            "training step",
            y_label,
            yaxis=_log_axis([v for _, v in series.values()]) if log_y else dict(type="linear"),
            uirevision=y_label,
        ),
    )


#: At most this many labels on a log axis of a short figure (its plot area is ~150 px tall).
LOG_TICKS = 6


def _log_axis(values: Sequence[Any]) -> dict:
    """A log axis whose labels do not crowd a short figure, labelled by :func:`tick_label`: powers of ten,
    every k-th decade so that at most LOG_TICKS show; over two decades or less, 1, 2 and 5 of each.
    (Plotly's own labels overprint there, and mix SI prefixes with powers of ten over many decades.)"""
    v = np.concatenate([np.asarray(x, float).ravel() for x in values]) if len(values) else np.array([])
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return dict(type="log", exponentformat="power")
    lo, hi = math.floor(math.log10(v.min())), math.ceil(math.log10(v.max()))
    if hi - lo <= 2:
        ticks = [m * 10.0**k for k in range(lo, hi + 1) for m in (1, 2, 5)]
        ticks = [t for t in ticks if v.min() / 1.5 <= t <= v.max() * 1.5]
    else:
        step = math.ceil((hi - lo + 1) / LOG_TICKS)
        ticks = [10.0**k for k in range(hi, lo - 1, -step)][::-1]
    return dict(type="log", exponentformat="power", tickvals=ticks, ticktext=[tick_label(t) for t in ticks])


def gradient_flow(series: Mapping[str, tuple[Any, Any]], *, height: int = 280) -> go.Figure:
    """The gradient-flow probe ‖∂L/∂y_t‖ against time step t (log y). The loss is at the last step, so
    the error travels from right to left: flat is stable, a curve falling towards t = T is exploding (the
    error grows on its way back), a rising one vanishing."""
    traces = [
        go.Scatter(
            x=np.asarray(t, float),
            y=np.asarray(norms, float),
            mode="lines+markers",
            name=name,
            marker=dict(size=4),
            hovertemplate=f"{name}<br>t = %{{x}}<br>‖∂L/∂y_t‖ = %{{y:.3g}}<extra></extra>",
        )
        for name, (t, norms) in series.items()
    ]
    # The title is the y axis's (a figure title and the toolbar would share the top edge); how to read
    # the curve is the caption under it (stabviz.ui.runlive.FLOW_CAPTION).
    return go.Figure(
        data=traces,
        layout=_layout(
            height, "time step t", "gradient flow ‖∂L/∂y_t‖", yaxis=_log_axis([n for _, n in series.values()])
        ),
    )


def sweep_map(
    x: Sequence[float],
    y: Sequence[float],
    z: Any,
    *,
    x_name: str,
    y_name: str,
    metric: str,
    boundary: Any = None,
    log_x: bool = False,
    log_y: bool = False,
    height: int = 420,
    marks: Any = None,
    scale: Mapping[str, Any] | None = None,
) -> go.Figure:
    """Measured outcome of a sweep (z: (len(y), len(x)), NaN where the run has not finished), with the
    predicted stable band of ``boundary`` (a Region over the same two parameters) under it.

    The band is a translucent green fill drawn first, and the cells are drawn over it with gaps between
    them: the band shows in the gaps and beside the grid, over finished and pending cells alike, and never
    crosses a cell's number. Each cell also names the regime predicted at its own values (its second
    line). Pending cells are light grey with a dark "pending". ``marks`` (strings shaped like z, "" for
    none) names cells whose run ended without a result ("diverged", "stopped 77/100"...): they are drawn
    mid-grey with that word and never coloured, so they never enter the colour range. ``scale`` anchors
    the colours (:func:`sweep_scale`): ``zmin``/``zmax``, ``zmid`` with a diverging scale, and ``chance``,
    marked on the colour bar."""
    z = np.asarray(z, float)
    marks = np.full(z.shape, "", dtype=object) if marks is None else np.asarray(marks, dtype=object)
    marked = marks != ""
    z = np.where(marked, np.nan, z)
    open_ = np.isnan(z) & ~marked
    text = np.where(np.isnan(z), "", np.char.mod("%.3g", np.nan_to_num(z)))
    pending_text = np.where(open_, "pending", "")
    mark_text = np.where(marked, marks, "").astype(str)
    traces = []
    if boundary is not None:
        pred = np.array([[f"<br>pred. {r}" for r in row] for row in _predicted_regimes(boundary, x, y)])
        text = np.char.add(text, np.where(np.isnan(z), "", pred))
        pending_text = np.char.add(pending_text, np.where(open_, pred, ""))
        mark_text = np.char.add(mark_text, np.where(marked, pred, ""))
        tol = float(boundary.tolerance)
        traces.append(
            go.Contour(
                x=np.asarray(boundary.x, float),
                y=np.asarray(boundary.y, float),
                z=_finite32(boundary.log10_gain, FIELD_LIMIT),
                showscale=False,
                hoverinfo="skip",
                contours=BAND_CONTOURS(tol),
                fillcolor="rgba(47, 158, 68, 0.55)",
                line=dict(color="#1b5e20", width=3),
                autocontour=False,
                name=f"predicted stable band (|log₁₀ gain| ≤ {tol:g})",
                showlegend=True,
            )
        )
    hover = (
        f"{axis_title(x_name)} = %{{x:.4g}}<br>{axis_title(y_name)} = %{{y:.4g}}<br>{metric} = "
        "%{z:.4g}<extra></extra>"
    )
    traces.append(_flat_cells(x, y, open_, "#e9ecef", pending_text, "pending", "#495057"))
    if marked.any():
        traces.append(_flat_cells(x, y, marked, NO_RESULT_COLOR, mark_text, NO_RESULT, "#212529"))
    scale = dict(scale or {})
    traces.append(
        go.Heatmap(
            x=list(x),
            y=list(y),
            z=z.astype(np.float32),
            zsmooth=False,
            text=text,
            texttemplate="%{text}",
            name="measured",
            xgap=10,
            ygap=10,
            hovertemplate=hover,
            **_sweep_colours(metric, scale),
        )
    )
    return go.Figure(
        data=traces,
        layout=_layout(
            height, axis_title(x_name), axis_title(y_name), xaxis=_sweep_axis(x, log_x), yaxis=_sweep_axis(y, log_y)
        ),
    )


#: The sweep cells of runs that ended without a result (diverged, stopped, cancelled...): mid-grey, named.
NO_RESULT, NO_RESULT_COLOR = "no result", "#adb5bd"


def _flat_cells(
    x: Sequence[float], y: Sequence[float], where: np.ndarray, color: str, text: Any, name: str, font: str
) -> go.Heatmap:
    """One flat colour over the cells ``where`` holds, with their words: pending or no-result cells."""
    return go.Heatmap(
        x=list(x),
        y=list(y),
        z=np.where(where, 0.0, np.nan).astype(np.float32),
        colorscale=[[0, color], [1, color]],
        showscale=False,
        zsmooth=False,
        xgap=10,
        ygap=10,
        text=text,
        texttemplate="%{text}",
        textfont=dict(color=font),
        name=name,
        hoverinfo="skip",
    )


def _sweep_colours(metric: str, scale: Mapping[str, Any]) -> dict:
    """The measured cells' colour arguments: Viridis over [zmin, zmax] (chance marked on the bar), or a
    diverging scale centred on ``zmid``."""
    bar: dict[str, Any] = dict(title=dict(text=metric, side="right"))
    out: dict[str, Any] = dict(colorscale="Viridis", colorbar=bar)
    if scale.get("zmid") is not None:
        out.update(colorscale=DIVERGING, zmid=float(scale["zmid"]))
    for k in ("zmin", "zmax"):
        if scale.get(k) is not None:
            out[k] = float(scale[k])
    chance = scale.get("chance")
    if chance is not None:
        ticks = [float(chance), *(t for t in (0.25, 0.5, 0.75, 1.0) if t > chance + 0.08)]
        bar.update(tickvals=ticks, ticktext=[f"chance {chance:.2g}", *(f"{t:g}" for t in ticks[1:])])
    return out


def sweep_scale(metric: str, chance: float | None = None) -> dict[str, Any]:
    """Anchored colours for a sweep's metric: accuracy from chance (the bar marks it) to 1, a firing rate
    from 0 to 1, a gain centred where it is stable (log₁₀ gain 0, ρ̂ 1); so a grid of runs all at chance is
    dark, never a bright "best" cell picked out of a 0.195–0.200 spread."""
    name = metric.lower()
    if "accuracy" in name:
        return {"zmin": chance if chance is not None else 0.0, "zmax": 1.0, "chance": chance}
    if "rate" in name:
        return {"zmin": 0.0, "zmax": 1.0}
    if "log" in name:
        return {"zmid": 0.0}
    if "ρ̂" in name or "gain" in name:
        return {"zmid": 1.0}
    return {}


def _predicted_regimes(boundary: Any, x: Sequence[float], y: Sequence[float]) -> list[list[str]]:
    """The regime the region ``boundary`` predicts at each swept cell (its nearest grid point), rows along y."""

    def nearest(grid: Any, values: Sequence[float], log: bool, name: str) -> np.ndarray:
        g, v = map_coord(grid, log, name), map_coord(values, log, name)
        return np.array([int(np.nanargmin(np.abs(g - c))) if np.isfinite(c) else 0 for c in v])

    ix = nearest(boundary.x, x, boundary.log_x, boundary.x_name)
    iy = nearest(boundary.y, y, boundary.log_y, boundary.y_name)
    tol = float(boundary.tolerance)
    gain = np.asarray(boundary.log10_gain, float)[np.ix_(iy, ix)]
    return [
        [
            "undefined" if np.isnan(g) else "stable" if abs(g) <= tol else "exploding" if g > tol else "vanishing"
            for g in row
        ]
        for row in gain
    ]


def _sweep_axis(values: Sequence[float], log: bool) -> dict:
    """Ticks at the swept values only: a log axis over a few values otherwise labels its minor ticks."""
    vals = [float(v) for v in values]
    return dict(type="log" if log else "linear", tickvals=vals, ticktext=[tick_label(v) for v in vals])


def measured_vs_theory(
    x: Sequence[float],
    y: Sequence[float],
    measured: Any,
    predicted: Any,
    *,
    x_name: str,
    y_name: str,
    tolerance: float,
    log_x: bool,
    height: int = 420,
) -> go.Figure:
    """A measured stability map (docs/theory.md#8-where-the-theory-is-known-to-fail): the measured
    T·log₁₀ gain as the colour field, its stable band (solid black) and the theory's (dashed violet: visible on
    red, blue and white alike) on top."""
    zlim = 10.0 * tolerance
    traces = [
        go.Heatmap(
            x=list(x),
            y=list(y),
            z=_finite32(measured, FIELD_LIMIT),
            colorscale=DIVERGING,
            zmid=0.0,
            zmin=-zlim,
            zmax=zlim,
            zsmooth=False,
            name="measured",
            colorbar=dict(title=dict(text="measured<br>T·log₁₀ gain", side="top")),
            hovertemplate=f"{axis_title(x_name)} = %{{x:.4g}}<br>{axis_title(y_name)} = %{{y:.4g}}"
            "<br>measured T·log₁₀ gain = %{z:.3g}<extra></extra>",
        )
    ]
    for z, label, color, dash in (
        (measured, "measured stable band", "#111111", "solid"),
        (predicted, "theory's stable band", "#7048e8", "dash"),
    ):
        traces.append(
            go.Contour(
                x=list(x),
                y=list(y),
                z=_finite32(z, FIELD_LIMIT),
                showscale=False,
                hoverinfo="skip",
                autocontour=False,
                name=label,
                showlegend=True,
                contours=dict(start=-tolerance, end=tolerance, size=2 * tolerance, coloring="none"),
                line=dict(color=color, width=2.5, dash=dash),
            )
        )
    return go.Figure(
        data=traces,
        layout=_layout(
            height,
            axis_title(x_name),
            axis_title(y_name),
            xaxis=dict(type="log" if log_x else "linear"),
            yaxis=dict(type="log"),
            plot_bgcolor="#868e96",
        ),
    )


# ---------------------------------------------------------------------------------------------
# Teaching figures (Learn page)


def membrane_trace(
    t: Any, voltage: Any, spikes: Any, *, threshold: float, drive: Any = None, height: int = 300
) -> go.Figure:
    """One neuron's membrane voltage y_t with the threshold θ, spike marks and (optionally) its input."""
    t = np.asarray(t, float)
    traces = []
    if drive is not None:
        traces.append(
            go.Scatter(
                x=t,
                y=np.asarray(drive, float),
                mode="lines",
                name="input current I_t",
                line=dict(color="#adb5bd", width=1),
            )
        )
    traces.append(
        go.Scatter(
            x=t,
            y=np.asarray(voltage, float),
            mode="lines",
            name="membrane voltage y_t",
            line=dict(color="#1971c2", width=2),
        )
    )
    idx = np.flatnonzero(np.asarray(spikes, bool))
    traces.append(
        go.Scatter(
            x=t[idx],
            y=np.full(idx.size, threshold),
            mode="markers",
            name="spike z_t = 1",
            marker=dict(symbol="line-ns-open", size=18, color="#c92a2a", line=dict(width=2)),
        )
    )
    return go.Figure(
        data=traces,
        layout=_layout(height, "time step t", "voltage", lines=[_hline(threshold, "threshold θ", "#c92a2a")]),
    )


def spike_raster(spikes: Any, *, height: int = 280) -> go.Figure:
    """Raster plot of a (T, n) 0/1 spike array: a dark cell per spike, neuron index against time step
    (drawn as a two-colour heatmap: one image, however many spikes)."""
    s = np.asarray(spikes, bool)
    trace = go.Heatmap(
        z=s.T.astype(np.int8),
        colorscale=[[0, "#ffffff"], [1, "#212529"]],
        zmin=0,
        zmax=1,
        showscale=False,
        xgap=0,
        ygap=1,
        name="spikes",
        hovertemplate="t = %{x}<br>neuron %{y}<br>spike = %{z}<extra></extra>",
    )
    return go.Figure(
        data=[trace],
        layout=_layout(
            height,
            "time step t",
            "neuron",
            showlegend=False,
            xaxis=dict(range=[-0.5, s.shape[0] - 0.5]),
            yaxis=dict(range=[-0.5, s.shape[1] - 0.5]),
        ),
    )


# ---------------------------------------------------------------------------------------------
# The replication study (docs/evidence/README.md): accuracy curves, the collapse scatter, PNG files

EVIDENCE_COLORS = ("#1971c2", "#e8590c", "#2f9e44", "#ae3ec9", "#868e96")


def evidence_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
    *,
    x_name: str,
    marks: Mapping[str, float | None] | None = None,
    log_x: bool = False,
    overlay: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]] | None = None,
    height: int = 320,
) -> go.Figure:
    """Final test accuracy (mean ± seed sd, %) against one parameter, one line per ``curves`` entry
    (name -> (x, mean, sd)); ``marks`` draw labelled vertical lines (γ_III, γ_IV, the measured boundary);
    ``overlay`` (same form: a rerun's cells) draws open diamonds in the colour of the line of that name."""
    names = [*curves, *(n for n in overlay or {} if n not in curves)]
    colors = {name: EVIDENCE_COLORS[i % len(EVIDENCE_COLORS)] for i, name in enumerate(names)}
    traces = [
        go.Scatter(
            x=list(x),
            y=list(m),
            error_y=dict(type="data", array=list(s), visible=True),
            mode="lines+markers",
            name=name,
            line=dict(color=colors[name]),
            hovertemplate=f"{name}: %{{x:.3g}} → %{{y:.1f}}%<extra></extra>",
        )
        for name, (x, m, s) in curves.items()
    ]
    traces += [
        go.Scatter(
            x=list(x),
            y=list(m),
            error_y=dict(type="data", array=list(s), visible=True, thickness=1),
            mode="markers",
            name=f"{name} · rerun",
            marker=dict(symbol="diamond-open", size=11, line=dict(width=2), color=colors[name]),
            hovertemplate=f"{name}, rerun: %{{x:.3g}} → %{{y:.1f}}%<extra></extra>",
        )
        for name, (x, m, s) in (overlay or {}).items()
    ]
    dashes = ("dot", "dash", "dashdot", "longdash")
    lines = [
        _vline(float(v), label, dash=dashes[i % len(dashes)], position="top" if i % 2 == 0 else "bottom")
        for i, (label, v) in enumerate((marks or {}).items())
        if v is not None and math.isfinite(v)
    ]
    if log_x:
        # a shape on a log axis takes data coordinates, an annotation the exponent (plotly.js)
        lines = [(s, dict(a, x=math.log10(a["x"]))) for s, a in lines]
    xs = [v for x, _, _ in [*curves.values(), *(overlay or {}).values()] for v in x]
    xaxis = dict(type="log", **_grid_ticks(xs)) if log_x else dict(type="linear")
    layout = _layout(height, axis_title(x_name), "test accuracy (%)", lines=lines, xaxis=xaxis)
    return go.Figure(data=traces, layout=layout)


def _grid_ticks(values: Sequence[float], share: float = 1 / 12) -> dict:
    """Ticks of a log axis at the grid's own values (a log axis's default minor labels read as another
    grid), leaving out a value closer than ``share`` of the span to the previous tick."""
    grid = sorted({float(v) for v in values if v is not None and math.isfinite(v) and v > 0})
    if len(grid) < 2:
        return {}
    gap = share * math.log10(grid[-1] / grid[0])
    ticks = [grid[0]]
    for v in grid[1:]:
        if math.log10(v / ticks[-1]) >= gap:
            ticks.append(v)
    return dict(tickvals=ticks, ticktext=[tick_label(v) for v in ticks])


def evidence_scatter(
    x: Sequence[float],
    accuracy: Sequence[float],
    collapsed: Sequence[bool],
    *,
    x_title: str,
    auc: float | None = None,
    overlay: tuple[Sequence[float], Sequence[float]] | None = None,
    height: int = 320,
) -> go.Figure:
    """Final accuracy (%) of every run against its initial T·log₁₀ gain, collapsed runs in red; the title
    carries the AUC of the score for collapse. ``overlay``: (x, accuracy) of rerun runs, open diamonds."""
    keep = [i for i, v in enumerate(x) if v is not None and math.isfinite(v)]
    traces = []
    for flag, name, color in ((False, "trained", "#1971c2"), (True, "collapsed", "#c92a2a")):
        idx = [i for i in keep if bool(collapsed[i]) == flag]
        traces.append(
            go.Scatter(
                x=[x[i] for i in idx],
                y=[accuracy[i] for i in idx],
                mode="markers",
                name=name,
                marker=dict(color=color, size=6, opacity=0.7),
                hovertemplate="%{x:.3g} → %{y:.1f}%<extra></extra>",
            )
        )
    if overlay:
        ox, oy = overlay
        idx = [i for i, v in enumerate(ox) if v is not None and math.isfinite(v)]
        traces.append(
            go.Scatter(
                x=[ox[i] for i in idx],
                y=[oy[i] for i in idx],
                mode="markers",
                name="rerun",
                marker=dict(symbol="diamond-open", color="#212529", size=9, line=dict(width=2)),
                hovertemplate="rerun: %{x:.3g} → %{y:.1f}%<extra></extra>",
            )
        )
    title = f"AUC for collapse: {auc:.2f}" if auc is not None and math.isfinite(auc) else "AUC: not defined"
    # The AUC heads the legend (a figure title would share the top edge with the toolbar).
    layout = _layout(height, x_title, "test accuracy (%)", legend=dict(LEGEND, title=dict(text=title, side="top")))
    return go.Figure(data=traces, layout=layout)


def write_pngs(figures: Mapping[str, go.Figure], width: int = 640, height: int | None = None) -> None:
    """Write each figure to its path as PNG in one browser session (kaleido with the system's Chrome or
    Chromium; nothing is downloaded). A missing kaleido is a one-line ValueError naming the package."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise ValueError(
            "PNG figures need kaleido (it uses the Chrome or Chromium installed here): pip install kaleido"
        ) from None
    import plotly.io as pio

    paths = list(figures)
    pio.write_images(
        [figures[p] for p in paths],
        paths,
        format="png",
        width=width,
        height=[height or figures[p].layout.height or 320 for p in paths],
    )


# ---------------------------------------------------------------------------------------------
# A user's own network (stabviz.check's report as a dict: docs/check.md)

CHECK_COLORS = {"dead": "#c92a2a", "firing": "#1971c2", "saturated": "#e8590c", "measured": "#212529"}


def check_gain(
    layers: Sequence[Mapping[str, Any]],
    predicted: Sequence[Mapping[str, Any]],
    gain: Mapping[str, Any],
    *,
    tolerance: float = 1.0,
    height: int = 320,
) -> go.Figure:
    """Each spiking layer on the stability scale: the theory's T·log₁₀ρ at the layer's equivalent setting
    with its calibrated band (an error bar; a layer without a prediction is left out), beside the
    network's measured gain over T with its interval (a line and a shaded strip), over the stable band ±tol."""
    names = [str(p.get("layer", lay.get("name"))) for lay, p in zip(layers, predicted)]
    keep = [i for i, p in enumerate(predicted) if p.get("over_T") is not None and p.get("band_over_T")]
    ys = [float(predicted[i]["over_T"]) for i in keep]
    band = [predicted[i]["band_over_T"] for i in keep]
    theory = go.Scatter(
        x=[names[i] for i in keep],
        y=ys,
        mode="markers",
        name="theory (calibrated band)",
        marker=dict(color=MODEL_COLORS["gaussian"], size=12, symbol="diamond"),
        error_y=dict(
            type="data",
            symmetric=False,
            array=[b[1] - y for b, y in zip(band, ys)],
            arrayminus=[y - b[0] for b, y in zip(band, ys)],
            thickness=2,
            width=10,
        ),
        hovertemplate="layer %{x}: theory %{y:+.2f} decades over T<extra></extra>",
    )
    lines = [
        (
            dict(
                type="rect",
                xref="paper",
                yref="y",
                x0=0,
                x1=1,
                y0=-tolerance,
                y1=tolerance,
                fillcolor=BAND_FILL,
                opacity=0.5,
                line=dict(width=0),
                layer="below",
            ),
            dict(
                xref="paper",
                yref="y",
                x=0.0,
                y=tolerance,
                text=band_name(tolerance),
                showarrow=False,
                xanchor="left",
                yanchor="bottom",
                font=dict(color=REGIME_COLORS["stable"]),
            ),
        )
    ]
    measured = gain.get("over_T")
    traces = [theory]
    if measured is not None:
        lo, hi = gain.get("over_T_interval") or (measured, measured)
        lines.append(
            (
                dict(
                    type="rect",
                    xref="paper",
                    yref="y",
                    x0=0,
                    x1=1,
                    y0=lo,
                    y1=hi,
                    fillcolor=CHECK_COLORS["measured"],
                    opacity=0.25,
                    line=dict(width=0),
                ),
                dict(visible=False),
            )
        )
        lines.append(_hline(float(measured), f"measured {measured:+.2f} over T", CHECK_COLORS["measured"], "solid"))
    values = ys + [b for pair in band for b in pair] + ([measured] if measured is not None else []) + [-2, 2]
    span = (min(values) - 0.5, max(values) + 0.5)
    layout = _layout(
        height,
        "spiking layer",
        "decades of gradient over T",
        lines=lines,
        yaxis=dict(range=list(span), zeroline=True),
        xaxis=dict(type="category"),
        showlegend=True,
    )
    return go.Figure(data=traces, layout=layout)


def check_rate_histogram(layer: Mapping[str, Any], *, height: int = 260) -> go.Figure:
    """One layer's neurons by firing rate (10 bins over 0-1): the never-firing (dead) part of the first bin
    and the last bin (rate ≥ 0.9: saturated) in their own colours."""
    counts = [int(c) for c in layer["rate_histogram"]]
    bins = len(counts)
    x = [(i + 0.5) / bins for i in range(bins)]
    dead = min(round(float(layer["dead_fraction"]) * int(layer["n"])), counts[0]) if counts else 0
    firing = [counts[0] - dead, *counts[1:-1], 0]
    parts = (
        ("dead (never fire)", [dead] + [0] * (bins - 1), CHECK_COLORS["dead"]),
        ("firing", firing, CHECK_COLORS["firing"]),
        ("saturated (rate ≥ 0.9)", [0] * (bins - 1) + [counts[-1]], CHECK_COLORS["saturated"]),
    )
    traces = [
        go.Bar(
            x=x,
            y=y,
            name=name,
            marker=dict(color=color),
            width=1 / bins * 0.95,
            hovertemplate=f"{name}: %{{y}} neurons<extra></extra>",
        )
        for name, y, color in parts
    ]
    layout = _layout(
        height, "firing rate (spikes per step)", "neurons", barmode="stack", xaxis=dict(range=[0, 1], dtick=0.1)
    )
    return go.Figure(data=traces, layout=layout)
