"""Pieces of the Learn page: cached teaching simulations, the knobs figure, the four conditions in
words with their live numbers, and settings that reproduce the paper's findings."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from stabviz import plots
from stabviz.config import RANGES, LIFConfig, preset
from stabviz.ui import compute, teach
from stabviz.ui.advice import gain_phrase
from stabviz.ui.layout import fmt

#: Settings that reproduce the paper's qualitative findings (THEORY.md section 5), on the SHD layer with
#: a realistic leak (τ = 20) and the fast-sigmoid surrogate.
DEMOS = [
    {"title": "A stable start", "preset": "shd-tau20", "changes": {"dampening": 1.0, "sharpness": 1.0},
     "finding": "the fast sigmoid at γ = β = 1 keeps the gradient within the stable band."},
    {"title": "Dampening too high", "preset": "shd-tau20", "changes": {"dampening": 3.0, "sharpness": 1.0},
     "finding": "accuracy collapses for γ ≳ 1.25: each step multiplies the gradient by more than 1."},
    {"title": "Surrogate too wide", "preset": "shd-tau20", "changes": {"dampening": 1.5, "sharpness": 0.5},
     "finding": "accuracy collapses for β ≲ 0.75: a wide bump lets every neuron pass gradient."},
    {"title": "Surrogate too sharp and low", "preset": "shd-tau20", "changes": {"dampening": 0.5, "sharpness": 2.0},
     "finding": "a narrow, low bump starves the gradient: it vanishes."},
    {"title": "q-PseudoSpike near q = 1.6", "preset": "shd-tau20",
     "changes": {"shape": "qpseudospike", "dampening": 1.0, "sharpness": 1.0, "tail": 1.6},
     "finding": "accuracy is nearly flat in q, best near q ≈ 1.6."},
    {"title": "No membrane memory (the reference code's τ = 0.1)", "preset": "paper-shd", "changes": {},
     "finding": "with α ≈ 0 the gradient can only travel through the recurrent weights, and it fades."},
]


def demo_config(demo: Mapping[str, Any]) -> LIFConfig:
    return preset(demo["preset"], **demo["changes"])


def demo_regime(demo: Mapping[str, Any]) -> str:
    cfg = demo_config(demo)
    return compute.predictions(compute.key_of(cfg))[cfg.voltage_model]["regime"]


@st.cache_data(max_entries=64, show_spinner=False)
def trace(leak: float, threshold: float, drive: float, noise: float, reset: str) -> teach.Trace:
    return teach.neuron_trace(leak, threshold, drive, noise, reset=reset)


@st.cache_data(max_entries=64, show_spinner=False)
def raster(leak: float, reset: str, input_rate: float, in_scale: float, rec_scale: float) -> np.ndarray:
    """Sixty neurons, a hundred inputs, threshold 1 (the units of the neuron above)."""
    return teach.network_spikes(60, 100, leak, 1.0, reset, input_rate, rec_scale, in_scale)


@st.cache_resource(max_entries=64, show_spinner=False)
def _knobs_figure(shape: str, dampening: float, sharpness: float, tail: float) -> go.Figure:
    from stabviz import surrogates
    v = np.linspace(-4.0 / sharpness, 4.0 / sharpness, 601)
    # Double each knob, or halve it where doubling would leave its allowed range.
    g2, b2 = (2.0 if 2 * dampening <= RANGES["dampening"][1] else 0.5), (2.0 if 2 * sharpness <= RANGES["sharpness"][1] else 0.5)
    curves = {
        f"{shape} (γ = {dampening:g}, β = {sharpness:g})": surrogates.sg_prime(v, shape, dampening, sharpness, tail),
        f"γ × {g2:g} ({'higher' if g2 > 1 else 'lower'})": surrogates.sg_prime(v, shape, g2 * dampening, sharpness, tail),
        f"β × {b2:g} ({'narrower' if b2 > 1 else 'wider'})": surrogates.sg_prime(v, shape, dampening, b2 * sharpness, tail),
    }
    return plots.surrogate_curves(v, curves, highlight=next(iter(curves)))


def knobs_figure(cfg: LIFConfig) -> go.Figure:
    return _knobs_figure(cfg.shape, cfg.dampening, cfg.sharpness, cfg.tail)


def condition_steps(cfg: LIFConfig, rec: Mapping[str, Any], pred: Mapping[str, Any]) -> list[dict[str, str]]:
    """The four conditions of THEORY.md section 3 in words, each with its live number."""
    mu, var = rec.get("recurrent_mean"), rec.get("recurrent_var")
    g3, beta = rec.get("dampening"), rec.get("sharpness")
    return [
        {"title": "Condition I: recurrent weight mean", "number": f"μ_rec = {fmt(mu, 4)}",
         "text": "Choose the mean of the recurrent weights so the average voltage sits at the threshold: then "
                 "about half the neurons fire at the start (p = ½). Here the theory predicts an initial rate of "
                 f"{pred['firing_rate']:.1%} with your current weights."},
        {"title": "Condition II: recurrent weight variance", "number":
            f"σ_rec² = {fmt(var, 4)}" if var is not None else "unattainable here",
         "text": "Make the recurrent current as variable as the input current, so neither drowns the other."
                 + ("" if var is not None else " Here the input is too weak for condition I's mean: "
                                                 "choose another initialisation.")},
        {"title": "Condition III: dampening", "number": f"γ_III = {fmt(g3)} (yours: γ = {cfg.dampening:g})",
         "text": "In the worst case one step multiplies the gradient by α + γ·(sum of positive weights). "
                 "Setting γ = γ_III makes that worst case exactly 1. Your worst-case gain is "
                 f"{fmt(pred['max_gain'])}."},
        {"title": "Condition IV: sharpness (or tail)", "number":
            f"β* = {fmt(beta)} (yours: β = {cfg.sharpness:g})" if beta is not None else "no β* at this γ",
         "text": "On average the squared gain of one step is ρ² = α² + (n−1)E[w²]·E[σ'²] (subtractive reset). Choosing the width "
                 f"so that ρ² = 1 keeps the gradient's size over time. Yours: ρ² = {fmt(pred['rho2'], 4)}, so "
                 f"gradients {gain_phrase(pred.get('log10_gain'), cfg.steps)}."},
    ]
