"""The Explore map's browser side: it repaints as a slider moves, before the rerun; hover and clicks.

On this machine one Streamlit rerun costs Chromium 100–250 ms of main-thread work, whatever the page
holds, and a slider release must repaint the map within 100 ms. So the map's numbers travel with the
page. Every (x, dampening) map is, column by column, ρ² = a0 + a1·γ + a2·γ² (theory.map_slices);
this module ships those columns for the few slider stops around the current one, and
``live_map.js`` watches the sidebar's sliders. On a move it redraws the field, the stable band, the
condition curves, the hover numbers and the current point from them, in the browser. The rerun that
follows replaces the preview with the server's own figure: the same numbers, coloured with the
same table (plots.colour_lut). The same columns give every number of the cell under the pointer, so
the hover is exact to the cell, and a click sends that cell's values back.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import streamlit as st

from stabviz import plots, theory
from stabviz.config import Keyed, LIFConfig, fields_except
from stabviz.ui import compute, sliders
from stabviz.ui.sidebar import SLIDER_LABELS

#: Slider stops on each side of the current one whose map columns are shipped. A keyboard step is one
#: stop; a drag further than this repaints when the rerun lands (the map dims meanwhile).
WINDOW = 3
#: Parameters besides the dampening that can move a map's field.
FIELD_PARAMS = ("sharpness", "tail", "leak")

_component = st.components.v2.component(
    "stabviz.live_map", js=Path(__file__).with_name("live_map.js").read_text(encoding="utf-8"), isolate_styles=False
)


def _b64(a: Any, dtype: Any) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype).tobytes()).decode("ascii")


def _columns(a: np.ndarray) -> dict[str, Any]:
    """A (stops, columns) table as float32; one column when every column is alike (most terms do
    not vary along the x axis)."""
    if np.array_equal(a, np.broadcast_to(a[:, :1], a.shape), equal_nan=True):
        a = a[:, :1]
    return {"cols": int(a.shape[1]), "b64": _b64(a, np.float32)}


def moving_params(at: LIFConfig, x: str) -> tuple[str, ...]:
    """The sliders other than the map's own axes that change its field (the tail only matters for
    the q-PseudoSpike shape)."""
    return tuple(p for p in FIELD_PARAMS if p != x and (p != "tail" or at.shape == "qpseudospike"))


def window(name: str, value: float) -> list[float]:
    """The slider stops of ``name`` within WINDOW of ``value`` (the slider's own options)."""
    opts, _ = sliders.stops(name, value)
    i = opts.index(value)
    return opts[max(0, i - WINDOW) : i + WINDOW + 1]


def preview_data(cfg: LIFConfig, at: LIFConfig, x: str, color_by: str) -> dict[str, Any]:
    """Everything live_map.js needs to redraw the (x, dampening) map computed at ``at`` for nearby
    slider stops, and to hover and click it cell by cell.

    ``cfg`` is the user's setting (its sliders); ``at`` the setting the map is computed at (the tail map
    forces the q-PseudoSpike shape; the measured model draws with the gaussian one). The parts that a
    move along the map's own axes leaves alone are cached: such a move costs ~0.1 ms here.
    """
    stable = Keyed(at, fields_except(x, "dampening"))  # the map's own axes
    return {
        "current": {n: float(getattr(cfg, n)) for n in sliders.SLIDERS},
        "sliders": {n: _slider(n, float(getattr(cfg, n))) for n in sliders.SLIDERS},
        **_map_part(stable, x, color_by, tuple((p, float(getattr(at, p))) for p in moving_params(at, x))),
    }


@functools.lru_cache(maxsize=512)
def _slider(name: str, value: float) -> dict[str, Any]:
    """A sidebar slider as the script finds and reads it: its label, option values and their labels."""
    opts, labels = sliders.stops(name, value)
    return {"label": SLIDER_LABELS[name], "values": opts, "labels": [labels[v] for v in opts]}


@functools.lru_cache(maxsize=64)
def _map_part(key: Keyed, x: str, color_by: str, moving: tuple[tuple[str, float], ...]) -> dict[str, Any]:
    """The map's axes, colours and the tables of its field at nearby stops of the ``moving`` sliders
    (name, exact current value: the key rounds to 10 digits, the slider's stops do not). The axes are
    theory.region's defaults, as compute.region draws them."""
    at = compute.config_of(key.cfg)
    xs, log_x = theory.axis_values(x, compute.MAP_SIZE)
    gammas, log_y = theory.axis_values("dampening", compute.MAP_SIZE)
    tables = {}
    for p, value in moving:
        stops = window(p, value)
        rows = compute.map_slices(at, x, p, stops)
        tables[p] = {"values": stops, "rows": {k: _columns(a) for k, a in rows.items()}}
    zlim, knee = plots.colour_scale(color_by, at.tolerance)
    return {
        "uirevision": plots.map_revision(x, "dampening"),
        "x_name": x,
        "tables": tables,
        "x": xs.tolist(),
        "gamma": gammas.tolist(),
        "log_x": log_x,
        "log_y": log_y,
        "steps": int(at.steps),
        "color_by": color_by,
        "zlim": zlim,
        "knee": knee,
        "field_limit": plots.FIELD_LIMIT,
        "lut": _b64(plots.colour_lut(), np.uint8),
        "band_name": plots.band_name(at.tolerance),
        "contour_stride": plots.CONTOUR_STRIDE,
        "x_title": plots.axis_title(x, log_x),
        "y_title": plots.axis_title("dampening"),
        "curves": {k: label for k, (label, _) in plots.CURVE_STYLES.items()},
        "optimum_name": plots.OPTIMUM_NAME,
        "current_name": plots.CURRENT_NAME,
        "measured_meta": plots.MEASURED_META,
    }


def mount(cfg: LIFConfig, at: LIFConfig, x: str, color_by: str, on_click: Callable[[dict[str, float]], None]) -> None:
    """Attach the preview, the hover and the clicks to the (x, dampening) map drawn just before (it
    draws nothing itself). ``on_click`` runs before the rerun a click starts, with the clicked cell's values
    ({"x": ..., "y": ...})."""
    # As JSON bytes: Streamlit forwards bytes untouched, where a dict would be walked for data frames
    # and serialised twice (~2 ms of the 25 ms rerun budget).
    payload = orjson.dumps(preview_data(cfg, at, x, color_by))
    key = f"live_{x}_dampening"

    def clicked() -> None:
        click = getattr(st.session_state.get(key), "click", None)
        if click:
            on_click(click)

    _component(data=payload, key=key, on_click_change=clicked)
