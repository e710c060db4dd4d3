"""Surrogates (/surrogates): every shape at the current (γ, β, q), what it does to E[σ'] and E[σ'²],
and how other libraries spell the same surrogate.

The page's whole glue: curves, moments per shape, the library translation table and :func:`render`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from stabviz import plots
from stabviz.config import SHAPES, LIFConfig, Surrogate
from stabviz.ui import compute, figures, snippets


def _v_axis(cfg: LIFConfig, n: int = 801) -> np.ndarray:
    """v = y − θ over ±4 surrogate widths (width 1/β), where every shape has visibly decayed."""
    half = 4.0 / cfg.sharpness
    return np.linspace(-half, half, n)


@st.cache_resource(max_entries=64, show_spinner=False)
def _curves_figure(sg: Surrogate) -> go.Figure:
    from stabviz import surrogates

    v = _v_axis(LIFConfig(sharpness=sg.sharpness))
    curves = {s: surrogates.sg_prime(v, sg.replace(shape=s)) for s in SHAPES}
    return plots.surrogate_curves(v, curves, highlight=sg.shape)


def curves_figure(cfg: LIFConfig) -> go.Figure:
    return _curves_figure(cfg.surrogate)


@st.cache_resource(max_entries=64, show_spinner=False)
def _primitive_figure(sg: Surrogate) -> go.Figure:
    from stabviz import surrogates

    v = _v_axis(LIFConfig(sharpness=sg.sharpness))
    return plots.step_and_primitive(v, surrogates.sg_primitive(v, sg), shape=sg.shape)


def primitive_figure(cfg: LIFConfig) -> go.Figure:
    return _primitive_figure(cfg.surrogate)


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=compute.HASH_FUNCS)
def shape_moments(key: LIFConfig) -> dict[str, tuple[float, float]]:
    """(E[σ'], E[σ'²]) of every shape at the setting's (γ, β, q) under its voltage model
    (theory.predict with the shape swapped in)."""
    from stabviz import theory

    cfg = compute.config_of(key)
    out = {}
    for shape in SHAPES:
        p = theory.predict(cfg.replace(shape=shape))
        out[shape] = (p.moment1, p.moment2)
    return out


def moments_figure(moments: dict[str, tuple[float, float]], shape: str) -> go.Figure:
    return plots.surrogate_moments(moments, highlight=shape)


def translation_rows(cfg: LIFConfig) -> list[dict[str, Any]]:
    """surrogates.translation_table at the current setting, as table rows with a verdict:
    "exact", "approximate" (same shape, but the library couples height and width or uses the other
    q-PseudoSpike form) or "other shape"."""
    from stabviz import surrogates

    rows = []
    for t in surrogates.translation_table(cfg.surrogate):
        verdict = (
            "exact" if t.exact else ("other shape" if (t.note or "").startswith("different shape") else "approximate")
        )
        rows.append(
            {
                "library": t.name,
                "call": snippets.library_call(t.name, t.knob, t.value),
                "match": verdict,
                "note": "" if t.exact else (t.note or ""),
            }
        )
    return rows


def translation_warnings(rows: list[dict[str, Any]]) -> list[str]:
    """A warning per library that offers this shape but cannot reproduce (γ, β, q) exactly."""
    return [
        f"**{r['library']}** cannot reproduce this setting exactly: {r['note']}"
        for r in rows
        if r["match"] == "approximate"
    ]


def render(cfg: LIFConfig) -> None:
    """The Surrogates page at the sidebar's setting."""
    st.title("Surrogate shapes")
    st.markdown(
        f"Every shape at the current **dampening γ = {cfg.dampening:g}**, **sharpness β = {cfg.sharpness:g}** and "
        f"**tail-fatness q = {cfg.tail:g}** (q only changes the q-PseudoSpike). All shapes share the peak height "
        "σ'(0) = γ and the area γ/β; they differ in how fast the tails fall (docs/theory.md#2-the-surrogate-family)."
    )

    cols = st.columns([3, 2])
    with cols[0]:
        figures.chart(curves_figure(cfg), "sg_curves")
    with cols[1]:
        st.markdown(
            "**Forward vs backward.** The forward pass spikes with the Heaviside step; the backward pass "
            f"pretends the step was the smooth curve whose slope is σ' (here the {cfg.shape} shape)."
        )
        figures.chart(primitive_figure(cfg), "sg_primitive")

    st.subheader(f"E[σ'] and E[σ'²] under the {cfg.voltage_model} voltage model")
    st.markdown(
        "Condition IV needs E[σ'²]: the mean squared slope the membrane voltage actually sees. "
        "Same height and area, yet E[σ'²] differs severalfold between shapes once the voltage spreads."
    )
    moments = shape_moments(cfg)
    figures.chart(moments_figure(moments, cfg.shape), "sg_moments")

    st.subheader("The same surrogate in other libraries")
    st.markdown(
        "Libraries parameterise shapes with one knob that couples height and width. Where no knob "
        "reproduces (γ, β, q) exactly the row says so."
    )
    rows = translation_rows(cfg)
    st.dataframe(rows, width="stretch", hide_index=True)
    for warning in translation_warnings(rows):
        st.warning(warning, icon=":material/warning:")
