"""Learn (/learn): surrogate gradients and the four stability conditions, for a student new to them.

The page's whole glue: cached teaching simulations, the knobs figure, the four conditions in words with
their live numbers, settings that reproduce the paper's findings, and :func:`render`.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from stabviz import plots, theory_doc
from stabviz.config import RANGES, LIFConfig, preset
from stabviz.ui import compute, figures, layout, state, teach
from stabviz.ui.advice import gain_phrase
from stabviz.ui.layout import fmt

#: Settings that reproduce the paper's qualitative findings (docs/theory.md#6-what-the-paper-reports), on the SHD layer with
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
def neuron_trace(leak: float, threshold: float, drive: float, noise: float, reset: str) -> teach.Trace:
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
    """The four conditions of docs/theory.md#3-conditions-i-to-iv in words, each with its live number."""
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


def render(cfg: LIFConfig) -> None:
    """The Learn page at the sidebar's setting."""
    key = compute.key_of(cfg)
    st.title("Surrogate gradients in five minutes")

    st.header("1. A spiking neuron")
    st.markdown(
        "A leaky integrate-and-fire (LIF) neuron keeps a membrane voltage **y**. Each step it forgets a little "
        "(it keeps a fraction **α**, the leak), adds its input current **I**, and when **y** crosses the "
        "threshold **θ** it emits a spike (z = 1) and is reset. Move the input and watch:")
    c = st.columns(4)
    drive = c[0].slider("Input current per step", 0.0, 0.5, 0.12, 0.01, key="learn_drive")
    noise = c[1].slider("Input noise (std)", 0.0, 0.5, 0.05, 0.01, key="learn_noise")
    leak = c[2].slider("Leak α (this neuron)", 0.0, 0.99, 0.9, 0.01, key="learn_leak")
    reset = c[3].selectbox("Reset", ["subtract", "mult1", "mult2"], key="learn_reset",
                           help="subtract θ after a spike, or multiply the voltage by (1 − z).")
    trace = neuron_trace(leak, 1.0, drive, noise, reset)
    figures.chart(plots.membrane_trace(trace.t, trace.voltage, trace.spikes, threshold=1.0, drive=trace.drive),
                  "learn_trace")
    st.caption(f"Firing rate: {trace.rate:.1%} of steps. With more leak memory (α → 1) small inputs add up; "
               "with α = 0 the neuron only sees the current step.")

    st.header("2. A small network")
    st.markdown("Sixty such neurons (same leak and reset as above, threshold 1), each listening to a hundred "
                "random input spike trains and to the other neurons. Each dark dash is a spike.")
    c = st.columns(3)
    rate_in = c[0].slider("Input spike rate", 0.0, 0.5, 0.1, 0.01, key="learn_rate_in")
    in_scale = c[1].slider("Input weight scale", 0.0, 10.0, 3.0, 0.5, key="learn_in_scale")
    rec_scale = c[2].slider("Recurrent weight scale", 0.0, 10.0, 1.0, 0.5, key="learn_rec_scale")
    spikes = raster(leak, reset, rate_in, in_scale, rec_scale)
    figures.chart(plots.spike_raster(spikes), "learn_raster")
    st.caption(f"Mean firing rate {spikes.mean():.1%}. The paper starts training from a high rate (about ½).")

    st.header("3. The surrogate gradient")
    st.markdown(
        "A spike is a step: its derivative is zero everywhere except at the threshold, where it is infinite, "
        "so backpropagation cannot pass through it. The trick: keep the step in the forward pass, but in the "
        "backward pass pretend its slope was a smooth bump **σ'(v)** around the threshold (v = y − θ). "
        "Three knobs shape the bump: the **dampening γ** is its height, the **sharpness β** is one over its "
        "width, and the **tail-fatness q** (q-PseudoSpike only) sets how slowly it falls off.")
    figures.chart(knobs_figure(cfg), "learn_sg")
    st.caption(f"Thick: your {cfg.shape} at γ = {cfg.dampening:g}, β = {cfg.sharpness:g}. Raising γ raises the "
               "bump; raising β narrows it (its area γ/β shrinks).")

    st.header("4. Four conditions, step by step")
    st.markdown("Backpropagating through time multiplies the error by one step's gain **T** times. If that gain "
                "is above 1 gradients explode; below 1 they vanish. The paper picks the initialisation and the "
                "surrogate so that the gain is 1 before training starts:")
    for step in condition_steps(cfg, compute.recommendation(key), compute.predictions(key)[cfg.voltage_model]):
        with st.container(border=True):
            st.markdown(f"**{step['title']}** · {step['number']}")
            st.markdown(step["text"])

    st.header("5. Reproduce the paper's findings")
    st.markdown("Each button loads a setting into the sidebar (the other pages follow). "
                "The badge is what the theory predicts there.")
    for i, demo in enumerate(DEMOS):
        c = st.columns([3, 1, 2], vertical_alignment="center")
        c[0].markdown(f"**{demo['title']}**: {demo['finding']}")
        with c[1]:
            layout.regime_badge(demo_regime(demo))
        c[2].button("Load this setting", key=f"demo_{i}", on_click=state.apply, args=(demo_config(demo).to_dict(),))

    theory_reader()


#: the sections of docs/theory.md the reader offers, in reading order
THEORY_SECTIONS = ("1.1", "2.1", "3", "4", "5.3", "8")


def theory_reader() -> None:
    """docs/theory.md itself, one section at a time: the formulas behind every number on these pages."""
    st.header("6. The theory, in full")
    st.markdown("Every formula stabviz computes is written out in the project's theory document, "
                "`docs/theory.md` in the repository (`stabviz/data/theory.md` in the installed package). "
                "Pick a section to read it here:")
    titles = {key: theory_doc.section(key)[0] for key in THEORY_SECTIONS}
    chosen = st.selectbox("Section", THEORY_SECTIONS, format_func=titles.get, key="learn_theory_section")
    with st.container(border=True):
        st.markdown(theory_doc.section(chosen)[1])
