"""Cached calls into stabviz for the pages (st.cache_data keyed by the rounded setting).

A slider release reruns the whole script; whatever did not change must come from the cache for the
rerun to stay within its budget (≤ 25 ms). The cached functions take the (frozen) setting itself and
Streamlit hashes it by config.config_key, floats rounded to 10 significant digits: the same setting
reached by two routes (a preset, a link) shares one entry, and nothing is converted to JSON and back.
The Monte-Carlo check imports torch lazily and always runs on the CPU: the dashboard process never
touches CUDA.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import streamlit as st

from stabviz import memory
from stabviz.config import FIELDS, FORWARD_FIELDS, RANGES, Keyed, LIFConfig, config_key, fields_except, limits

#: Cells per axis of the Explore maps.
MAP_SIZE = 200
#: Streamlit hashes a setting as the repr of its key: one string hashes faster than a tuple of two dozen.
HASH_FUNCS = {LIFConfig: lambda cfg: repr(config_key(cfg))}


def forward_config(cfg: LIFConfig) -> LIFConfig:
    """``cfg`` with every field outside config.FORWARD_FIELDS at its default: so moving the dampening or
    sharpness slider does not recompute firing-rate curves."""
    default = LIFConfig()
    return cfg.replace(**{f: getattr(default, f) for f in fields_except(*FORWARD_FIELDS)})


def config_of(key: LIFConfig) -> LIFConfig:
    """The setting a cached call computes with: ``key`` with its floats rounded as its hash rounds them,
    so an entry never depends on which of two nearby settings reached it first."""
    return LIFConfig(**dict(zip(FIELDS, config_key(key))))


def check_measurable(cfg: LIFConfig) -> None:
    """The Monte-Carlo check runs inside the dashboard's process: refuse layers above the machine's
    neuron limit (it would stall every session) with a reason the page shows."""
    limit = limits()["neurons"]
    if cfg.n_rec > limit:
        raise ValueError(
            f"the measured voltage model simulates the layer in this process: n_rec = {cfg.n_rec} is "
            f"above this machine's limit {limit} (STABVIZ_MAX_NEURONS); use the gaussian model"
        )
    from stabviz import simulate

    burn = simulate.stationary_burn_in(cfg)  # what theory.measured_voltage runs
    # its memory estimate too, before the spinner: n_in is not bounded by n_rec
    memory.check_simulate(cfg, burn_in=burn, steps=burn + 200)


@st.cache_data(max_entries=256, show_spinner="Predicting…", hash_funcs=HASH_FUNCS)
def predictions(key: LIFConfig) -> dict[str, dict[str, Any]]:
    """theory.predict under the uniform and gaussian models, and under the measured one when it is the
    chosen model or the automatic one (`shown_model`: the gaussian rate is off for multiplicative resets;
    that entry is theory.predict's own, with its note saying why it measured)."""
    from stabviz import theory

    cfg = config_of(key)
    out = {m: theory.predict(cfg, m).to_dict() for m in ("uniform", "gaussian")}
    if cfg.voltage_model == "measured":
        check_measurable(cfg)
        out["measured"] = theory.predict(cfg, "measured").to_dict()
    elif shown_model(cfg) == "measured":
        out["measured"] = theory.predict_shown(cfg).to_dict()  # the automatic switch, note included
    return out


def shown_model(cfg: LIFConfig) -> str:
    """The voltage model whose prediction a page headlines: theory.auto_voltage_model (measured in place of
    the gaussian model for multiplicative resets) where this process may simulate the layer, else the
    setting's own. Its Monte-Carlo runs once per forward setting (predictions is cached): a surrogate
    slider never waits on it."""
    from stabviz import theory

    model = theory.auto_voltage_model(cfg)
    if model == "measured" and cfg.voltage_model != "measured":
        try:
            check_measurable(cfg)
        except ValueError:
            return cfg.voltage_model
    return model


@st.cache_data(max_entries=256, show_spinner=False, hash_funcs=HASH_FUNCS)
def recommendation(key: LIFConfig) -> dict[str, Any]:
    from stabviz import theory

    return theory.recommend(config_of(key)).to_dict()


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=HASH_FUNCS)
def settings(key: LIFConfig, budget: int = 200) -> list[Any]:
    """Every whole setting Explore offers, each scored by the outcome model at ``budget`` optimiser steps:
    as set, the outcome model's recommended options, then the theory's ρ² = 1 options (advice.settings)."""
    from stabviz.ui import advice

    cfg = config_of(key)
    theory_settings = advice.settings(cfg, recommendation(key))
    return advice.scored([theory_settings[0], *advice.recommended_settings(cfg, budget), *theory_settings[1:]], budget)


# cache_resource, not cache_data: a hit then costs no copy of the five 200 × 200 arrays (~1 ms); the
# Region is never mutated (region() below returns a replaced copy).
@st.cache_resource(max_entries=64, show_spinner=False, hash_funcs=HASH_FUNCS)
def _region(key: LIFConfig, x: str, y: str, n: int) -> Any:
    from stabviz import theory

    return theory.region(config_of(key), x=x, y=y, nx=n, ny=n)


def grid_key(cfg: LIFConfig, x: str, y: str) -> tuple:
    """The key of a region's grid: the setting without its x and y (see :func:`region`)."""
    return config_key(cfg, fields_except(x, y))


def _grid_config(cfg: LIFConfig, x: str, y: str) -> LIFConfig:
    default = LIFConfig()
    return cfg.replace(**{x: getattr(default, x), y: getattr(default, y)})


def region(cfg: LIFConfig, x: str, y: str, n: int = MAP_SIZE) -> Any:
    """theory.region over (x, y) on an n × n grid (its default axis ranges).

    The grid's values do not depend on the setting's own x and y (the axes replace them): only the
    current point and the optimum do. So the grid is cached with x and y at their defaults, and the
    current point and theory.optimum are put back: moving a slider along a map's own axes then costs
    no new grid.
    """
    from stabviz import theory

    canonical = _grid_config(cfg, x, y)
    grid = _region(canonical, x, y, n)
    best, notes = theory.optimum(cfg)
    _, canonical_notes = theory.optimum(config_of(canonical))
    optimum = (float(best[x]), float(best[y])) if best[x] is not None and best[y] is not None else None
    return dataclasses.replace(
        grid,
        current=(float(getattr(cfg, x)), float(getattr(cfg, y))),
        optimum=optimum,
        notes=[n for n in grid.notes if n not in canonical_notes] + notes,
    )


@functools.lru_cache(maxsize=2048)
def _slice_row(key: Keyed, x: str, along: str, value: float) -> dict[str, np.ndarray]:
    """One row of theory.map_slices, cached by parameter value (shared by sessions). The Explore page
    ships the rows of a few slider stops around the current one; one stop further along the slider
    shares all but one row with the last, so a rerun computes at most the new one (~3 ms)."""
    from stabviz import theory

    return {k: a[0] for k, a in theory.map_slices(config_of(key.cfg), x, along, [value], nx=MAP_SIZE).items()}


def map_slices(cfg: LIFConfig, x: str, along: str, values: Sequence[float]) -> dict[str, np.ndarray]:
    """theory.map_slices of the (x, dampening) map at ``values`` of ``along`` (MAP_SIZE columns), cached by row."""
    key = Keyed(cfg, fields_except(x, "dampening", along))  # the map's axes and the rows replace these
    rows = [_slice_row(key, x, along, float(v)) for v in values]
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=HASH_FUNCS)
def rate_curves(key: LIFConfig, param: str, lo: float, hi: float, n: int) -> dict[str, np.ndarray]:
    """Firing rate per voltage model as ``param`` sweeps linspace(lo, hi, n)."""
    from stabviz import theory

    return theory.rate_curve(config_of(key), param, np.linspace(lo, hi, n))


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=HASH_FUNCS)
def voltage_densities(key: LIFConfig, lo: float, hi: float, n: int) -> dict[str, np.ndarray]:
    from stabviz import theory

    return theory.voltage_density(config_of(key), np.linspace(lo, hi, n))


@st.cache_data(max_entries=16, show_spinner="Simulating the initialised layer on the CPU…", hash_funcs=HASH_FUNCS)
def measurement(key: LIFConfig) -> dict[str, Any]:
    """A quick Monte-Carlo check (simulate.measure on the CPU): its numbers and a voltage sample."""
    from stabviz import simulate

    cfg = config_of(key)
    check_measurable(cfg)
    m = simulate.measure(cfg, device="cpu")
    out = m.to_dict()
    out["voltages"] = np.asarray(m.voltages, np.float32)
    return out


def _inside(name: str, lo: float, hi: float) -> tuple[float, float]:
    """A padded axis span clamped to the parameter's allowed range (theory.region refuses values outside)."""
    low, high, _, _ = RANGES[name]
    tiny = 1e-12 * max(abs(low), abs(high), 1.0)  # an open bound: stay just inside it
    return max(lo, low + tiny), min(hi, high)


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=HASH_FUNCS)
def sweep_boundary(
    key: LIFConfig, x: str, y: str, x_values: tuple[float, ...], y_values: tuple[float, ...], n: int = 120
) -> Any:
    """theory.region over the span of a sweep's values (padded half a step), for its predicted band."""
    from stabviz import theory

    cfg = config_of(key)

    def span(name: str, values: tuple[float, ...]) -> tuple[tuple[float, float], bool]:
        lo, hi = float(min(values)), float(max(values))
        log = theory.AXES[name][2] and lo > 0
        if log:
            pad = (hi / lo) ** (0.5 / max(len(values) - 1, 1)) if hi > lo else 2.0
            return _inside(name, lo / pad, hi * pad), True
        pad = (hi - lo) / max(2 * (len(values) - 1), 1) if hi > lo else 0.05
        return _inside(name, lo - pad, hi + pad), False

    (xr, lx), (yr, ly) = span(x, x_values), span(y, y_values)
    if cfg.voltage_model == "measured":
        cfg = cfg.replace(voltage_model="gaussian")
    return theory.region(cfg, x=x, y=y, nx=n, ny=n, x_range=xr, y_range=yr, log_x=lx, log_y=ly)
