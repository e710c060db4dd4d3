"""Explore's measured layer: the measured stability map (stabviz.measured) over the theory's map.

A toggle on the map (``?measured=1``) asks for the measured map of the open tab at the current setting.
It is computed in the background by the server's one map worker (:mod:`stabviz.ui.mapjobs`, shared by
every session through st.cache_resource), never in a script thread: the page shows its progress in a
fragment that polls the registry, and reruns once when the map is done, so the sliders stay usable
meanwhile. Finished maps are cached per setting (the map's own axes excluded), so moving along the map's
axes, or back to a setting measured before, shows the map at once.

Drawn on the map: the measured regime boundaries (T·log10 ρ̂ = ±tolerance) as lines, and on request the
measured field instead of the theory's (``?field=measured``); under the map, the share of cells whose
regimes agree and how the measured map is made.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import streamlit as st

from stabviz.config import LIFConfig, config_key, fields_except, limits
from stabviz.shapes import SHAPE_TABLE
from stabviz.ui import layout, mapjobs, sharing, state

#: Cells per axis of a measured map: 20 × 20 takes ~3 s for 128 neurons, ~4–7 s for 256 (2 shared cores).
GRID = 20
#: The simulation of every measured map: simulate.measure's defaults (docs/theory.md#43-measured-monte-carlo).
SIM = dict(batch=64, steps=300, burn_in=100)
#: Seconds between two looks at a map in progress.
POLL_S = 0.5
TOGGLE_KEY, FIELD_KEY, OWNER = "map_measured", "map_field", "_measured_owner"
FIELDS = {"theory": "theory field", "measured": "measured field"}
FLAGS = {"1": True, "0": False}


@st.cache_resource(show_spinner=False)
def registry() -> mapjobs.MapJobs:
    """The server's one map worker and its cache, shared by every session."""
    return mapjobs.MapJobs()


def flag_parser(text: str) -> bool:
    """``?measured=1|0`` -> whether the layer is on."""
    if text not in FLAGS:
        raise ValueError(f"measured = {text!r} is not one of: 1, 0")
    return FLAGS[text]


def map_key(at: LIFConfig, x: str) -> tuple:
    """The cache key of the measured (x, dampening) map at ``at``: every field but the map's own axes
    (and the tail, for shapes that do not read it), with the grid and the simulation."""
    skip = (x, "dampening") + (() if SHAPE_TABLE[at.shape].uses_tail else ("tail",))
    return ("measured", x, GRID, tuple(SIM.values()), config_key(at, fields_except(*skip)))


@dataclass
class Layer:
    """The measured layer of one map this run: whether it is on, which field to colour, where its map
    stands (None: off or refused) and why it was refused."""

    on: bool
    field: str = "theory"
    key: tuple | None = None
    spec: mapjobs.MapSpec | None = None
    status: mapjobs.Status | None = None
    refusal: str | None = None

    @property
    def result(self) -> dict[str, Any] | None:
        return self.status.result if self.status is not None and self.status.state == "done" else None


def _owner() -> str:
    """This browser session's name in the registry (its newer requests supersede its older ones)."""
    return st.session_state.setdefault(OWNER, uuid.uuid4().hex)


def _ask(key: tuple, spec: mapjobs.MapSpec) -> mapjobs.Status:
    return registry().submit(_owner(), key, spec, max_waiting=sharing.max_waiting_maps())


def controls(at: LIFConfig, x: str) -> Layer:
    """The layer's toggle (and, when on, the field switch) above the map; asks for the map when on."""
    state.seed_widget(TOGGLE_KEY, "measured", flag_parser, False)
    cols = st.columns([2, 3], vertical_alignment="center")
    on = cols[0].toggle(
        "Measured layer",
        key=TOGGLE_KEY,
        help=f"Measure the per-step gradient gain ρ̂ on a {GRID} × {GRID} grid of this map in the "
        "background (seconds on the CPU) and draw its regime boundaries over the theory's "
        "map. Cached per setting.",
    )
    state.keep_param("measured", "1" if on else None)
    if not on:
        if OWNER in st.session_state:  # switched off: this session no longer waits for a map
            registry().withdraw(st.session_state[OWNER])
        return Layer(False)
    state.seed_widget(FIELD_KEY, "field", state.choice_parser("field", tuple(FIELDS)), "theory")
    field = cols[1].segmented_control(
        "Field",
        FIELDS,
        key=FIELD_KEY,
        required=True,
        format_func=FIELDS.get,
        label_visibility="collapsed",
        help="Colour the map by the theory's or the measured gain over T.",
    )
    state.keep_param("field", field, default="theory")
    limit = limits()["neurons"]
    if at.n_rec > limit:
        return Layer(
            True, field, refusal=f"n_rec = {at.n_rec} is above this machine's limit {limit} (STABVIZ_MAX_NEURONS)"
        )
    key, spec = map_key(at, x), mapjobs.MapSpec(at.to_dict(), x, GRID, **SIM)
    try:
        return Layer(True, field, key, spec, _ask(key, spec))
    except ValueError as err:
        return Layer(True, field, key, spec, refusal=str(err))


def show(layer: Layer, at: LIFConfig) -> None:
    """Under the map: the progress while the map is measured, then the agreement and how it was made,
    or why there is none."""
    if not layer.on:
        return
    if layer.refusal is not None:
        st.warning(f"No measured layer: {layout.plain(layer.refusal)}", icon=":material/block:")
        return
    status = layer.status
    if status.state == "error":
        st.error(f"The measured map failed: {layout.plain(status.error)}", icon=":material/error:")
        st.button(
            "Measure again",
            key="measured_retry",
            on_click=registry().forget,
            args=(layer.key,),
            icon=":material/refresh:",
        )
    elif status.state == "done":
        agreement(status.result, at)
    else:
        _poll(layer.key, layer.spec)


@st.fragment(run_every=POLL_S)
def _poll(key: tuple, spec: mapjobs.MapSpec) -> None:
    """The map's progress, redrawn every POLL_S while it waits or runs; the whole page reruns once it is
    done (this fragment is not drawn then, so the polling stops)."""
    try:
        status = _ask(key, spec)  # asking again keeps the request alive (see mapjobs.STALE_S)
    except ValueError as err:
        st.warning(f"No measured layer: {layout.plain(err)}", icon=":material/block:")
        return
    if status.state in ("done", "error"):
        st.rerun()
    st.progress(status.done / max(status.total, 1), text=progress_text(status))


def progress_text(status: mapjobs.Status) -> str:
    """What the progress bar says: the queue position, or cells done / total."""
    if status.state == "waiting":
        return f"Measured map: waiting for the worker ({status.ahead} ahead)…"
    if status.done == 0:
        return f"Measured map: simulating the layer… 0 / {status.total} cells"
    return f"Measured map: {status.done} / {status.total} cells"


def agreement(m: dict[str, Any], at: LIFConfig) -> None:
    """The share of cells whose measured and predicted regimes agree, and how the map was made."""
    ny, nx = m["measured_log10_gain"].shape
    st.markdown(
        f"**Regimes agree on {m['agreement']:.0%} of the {ny} × {nx} cells** "
        f"(measured against the theory, in {m['seconds']:.1f} s)."
    )
    per = "one forward simulation per leak column" if m["x_name"] == "leak" else "one forward simulation"
    st.caption(
        f"How it is made: {per} of the initialised layer (batch {SIM['batch']}, {SIM['steps']} steps, "
        f"seed {at.seed}), then per cell the gain ρ̂ of a push-back through the last T = {at.steps} steps. "
        f"Green lines: T·log₁₀ρ̂ = ±{at.tolerance:g} (docs/theory.md#43-measured-monte-carlo; why the maps "
        "differ: docs/theory.md#82-one-step-independent-averages-miss-the-temporal-structure)."
    )
