"""Learn (/learn): surrogate gradients and the four stability conditions, for a student new to them.

The page's whole glue: cached teaching simulations, the knobs figure, the four conditions in words with
their live numbers, settings that reproduce the paper's findings, and :func:`render`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from stabviz import paper_demos, plots, theory_doc
from stabviz.config import RANGES, LIFConfig, Surrogate
from stabviz.ui import compute, figures, layout, state, teach
from stabviz.ui.advice import gain_phrase
from stabviz.ui.layout import fmt


def demo_regime(demo: Mapping[str, Any]) -> str:
    """The theory's calibrated regime at a demo's setting, as the sidebar's other pages compute it."""
    cfg = paper_demos.demo_config(demo)
    return compute.predictions(cfg)[cfg.voltage_model]["regime"]


@st.cache_data(max_entries=64, show_spinner=False)
def neuron_trace(leak: float, threshold: float, drive: float, noise: float, reset: str) -> teach.Trace:
    return teach.neuron_trace(leak, threshold, drive, noise, reset=reset)


@st.cache_data(max_entries=64, show_spinner=False)
def raster(leak: float, reset: str, input_rate: float, in_scale: float, rec_scale: float) -> np.ndarray:
    """Sixty neurons, a hundred inputs, threshold 1 (the units of the neuron above)."""
    return teach.network_spikes(60, 100, leak, 1.0, reset, input_rate, rec_scale, in_scale)


@st.cache_resource(max_entries=64, show_spinner=False)
def _knobs_figure(sg: Surrogate) -> go.Figure:
    from stabviz import surrogates

    dampening, sharpness = sg.dampening, sg.sharpness
    v = np.linspace(-4.0 / sharpness, 4.0 / sharpness, 601)
    # Double each knob, or halve it where doubling would leave its allowed range.
    g2, b2 = (
        (2.0 if 2 * dampening <= RANGES["dampening"][1] else 0.5),
        (2.0 if 2 * sharpness <= RANGES["sharpness"][1] else 0.5),
    )
    curves = {
        f"{sg.shape} (γ = {dampening:g}, β = {sharpness:g})": surrogates.sg_prime(v, sg),
        f"γ × {g2:g} ({'higher' if g2 > 1 else 'lower'})": surrogates.sg_prime(v, sg.replace(dampening=g2 * dampening)),
        f"β × {b2:g} ({'narrower' if b2 > 1 else 'wider'})": surrogates.sg_prime(
            v, sg.replace(sharpness=b2 * sharpness)
        ),
    }
    return plots.surrogate_curves(v, curves, highlight=next(iter(curves)))


def knobs_figure(cfg: LIFConfig) -> go.Figure:
    return _knobs_figure(cfg.surrogate)


def condition_steps(cfg: LIFConfig, rec: Mapping[str, Any], pred: Mapping[str, Any]) -> list[dict[str, str]]:
    """The four conditions of docs/theory.md#3-conditions-i-to-iv in words, each with its live number."""
    mu, var = rec.get("recurrent_mean"), rec.get("recurrent_var")
    g3, beta = rec.get("dampening"), rec.get("sharpness")
    return [
        {
            "title": "Condition I: recurrent weight mean",
            "number": f"$\\mu_{{\\mathrm{{rec}}}} = {fmt(mu, 4)}$",
            "text": "Choose the mean of the recurrent weights so the average voltage sits at the threshold: then "
            "about half the neurons fire at the start ($p = \\tfrac12$). Here the theory predicts an initial rate of "
            f"{pred['firing_rate']:.1%} with your current weights.",
        },
        {
            "title": "Condition II: recurrent weight variance",
            "number": f"$\\sigma_{{\\mathrm{{rec}}}}^2 = {fmt(var, 4)}$" if var is not None else "unattainable here",
            "text": "Make the recurrent current as variable as the input current, so neither drowns the other."
            + (
                ""
                if var is not None
                else " Here the input is too weak for condition I's mean: choose another initialisation."
            ),
        },
        {
            "title": "Condition III: dampening",
            "number": f"$\\gamma_{{\\mathrm{{III}}}} = {fmt(g3)}$ (yours: $\\gamma = {cfg.dampening:g}$)",
            "text": "In the worst case one step multiplies the gradient by $\\alpha + \\gamma \\sum_j [w_j]_+$ "
            "(the sum of the positive weights). Setting $\\gamma = \\gamma_{\\mathrm{III}}$ makes that worst case "
            "exactly 1. Your worst-case gain is "
            f"{fmt(pred['max_gain'])}.",
        },
        {
            "title": "Condition IV: sharpness (or tail)",
            "number": f"$\\beta^* = {fmt(beta)}$ (yours: $\\beta = {cfg.sharpness:g}$)"
            if beta is not None
            else "no β* at this γ",
            "text": "On average the squared gain of one step is "
            "$\\rho^2 = \\alpha^2 + (n-1)\\,\\mathbb{E}[w^2]\\,\\mathbb{E}[\\sigma'^2]$ (subtractive reset). "
            f"Choosing the width so that $\\rho^2 = 1$ keeps the gradient's size over time. Yours: "
            f"$\\rho^2 = {fmt(pred['rho2'], 4)}$, so "
            f"gradients {gain_phrase(pred.get('log10_gain'), cfg.steps)}.",
        },
    ]


def render(cfg: LIFConfig) -> None:
    """The Learn page at the sidebar's setting."""
    st.title("Surrogate gradients in five minutes")

    st.header("1. A spiking neuron")
    st.markdown(
        "A leaky integrate-and-fire (LIF) neuron keeps a membrane voltage **y**. Each step it forgets a little "
        "(it keeps a fraction **α**, the leak), adds its input current **I**, and when **y** crosses the "
        "threshold **θ** it emits a spike (z = 1) and is reset. Move the input and watch:"
    )
    st.latex(
        r"y_t = \alpha\, y_{t-1} + I_t - \theta\, z_{t-1}, \qquad z_t = H(y_t - \theta), \qquad "
        r"\alpha = e^{-1/\tau}"
    )
    c = st.columns(4)
    drive = c[0].slider("Input current per step", 0.0, 0.5, 0.12, 0.01, key="learn_drive")
    noise = c[1].slider("Input noise (std)", 0.0, 0.5, 0.05, 0.01, key="learn_noise")
    leak = c[2].slider("Leak α (this neuron)", 0.0, 0.99, 0.9, 0.01, key="learn_leak")
    reset = c[3].selectbox(
        "Reset",
        ["subtract", "mult1", "mult2"],
        key="learn_reset",
        help="subtract θ after a spike, or multiply the voltage by (1 − z).",
    )
    trace = neuron_trace(leak, 1.0, drive, noise, reset)
    figures.chart(
        plots.membrane_trace(trace.t, trace.voltage, trace.spikes, threshold=1.0, drive=trace.drive), "learn_trace"
    )
    st.caption(
        f"Firing rate: {trace.rate:.1%} of steps. With more leak memory (α → 1) small inputs add up; "
        "with α = 0 the neuron only sees the current step."
    )

    st.header("2. A small network")
    st.markdown(
        "Sixty such neurons (same leak and reset as above, threshold 1), each listening to a hundred "
        "random input spike trains and to the other neurons. Each dark dash is a spike."
    )
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
        "width, and the **tail-fatness q** (q-PseudoSpike only) sets how slowly it falls off."
    )
    figures.chart(knobs_figure(cfg), "learn_sg")
    st.caption(
        f"Thick: your {cfg.shape} at γ = {cfg.dampening:g}, β = {cfg.sharpness:g}. Raising γ raises the "
        "bump; raising β narrows it (its area γ/β shrinks)."
    )

    st.header("4. Four conditions, step by step")
    st.latex(
        r"\frac{\partial L}{\partial y_{t-T}} \approx \rho^{T}\,\frac{\partial L}{\partial y_t}, \qquad "
        r"\rho^2 = \mathbb{E}\Big[\big(\tfrac{\partial y_t}{\partial y_{t-1}}\big)^2\Big]"
    )
    st.markdown(
        "Backpropagating through time multiplies the error by one step's gain **T** times. If that gain "
        "is above 1 gradients explode; below 1 they vanish. The paper picks the initialisation and the "
        "surrogate so that the gain is 1 before training starts:"
    )
    for step in condition_steps(cfg, compute.recommendation(cfg), compute.predictions(cfg)[cfg.voltage_model]):
        with st.container(border=True):
            st.markdown(f"**{step['title']}** · {step['number']}")
            st.markdown(step["text"])

    findings()
    where_the_theory_holds()
    theory_reader()


def findings() -> None:
    """The paper's findings at the paper's own settings: what the paper saw in training, what the theory
    predicts there, and what the measured gain says, with an honest word on whether the gain explains it."""
    st.header("5. The paper's findings, at the paper's settings")
    st.markdown(
        "The paper trained the sl-MNIST layer below (τ = 0.1, so the leak α ≈ 0: no membrane memory). "
        "For each finding: what training did in the paper, the gain the theory predicts there, and the "
        "gain measured by simulating the initialised layer. Each button loads the setting into the "
        "sidebar (the other pages follow)."
    )
    for demo in paper_demos.DEMOS:
        regime, measured = demo_regime(demo), paper_demos.measured_demo(demo["id"])
        steps = paper_demos.demo_config(demo).steps  # the T both verdicts hold at
        with st.container(border=True):
            c = st.columns([4, 2, 2], vertical_alignment="center")
            c[0].markdown(f"**{demo['title']}**  \nThe paper: {demo['claim']}")
            with c[1]:
                st.caption("Theory")
                layout.regime_badge(regime, steps)
            with c[2]:
                st.caption("Measured" + paper_demos.decades_text(measured["measured_log10_gain"]))
                layout.regime_badge(measured["measured_regime"] or "unknown", steps)
            st.markdown(
                f"The measured gain {paper_demos.explains(measured['measured_regime'], demo['outcome'])}; "
                f"the theory's gain {paper_demos.explains(regime, demo['outcome'])}."
            )
            st.button(
                "Load this setting",
                key=f"demo_{demo['id']}",
                on_click=state.apply,
                args=(paper_demos.demo_config(demo).to_dict(),),
            )
    st.markdown(paper_demos.findings_summary())


def where_the_theory_holds() -> None:
    """The measured maps shipped with stabviz: the theory's stable band against the measured one."""
    st.header("6. Where the theory holds")
    st.markdown(
        "Each map simulates the initialised layer on every cell and measures how much one backward step "
        "multiplies the gradient (the same numbers as `python -m stabviz measure-map`). The colour is "
        "the measured gain over T; the solid black line bounds the measured stable band, the dashed "
        "violet line the theory's."
    )
    specs = {m["id"]: m for m in paper_demos.MAPS}
    chosen = st.selectbox("Map", list(specs), format_func=lambda k: specs[k]["title"], key="learn_map")
    m = paper_demos.shipped_map(chosen)
    figures.chart(
        plots.measured_vs_theory(
            m["x_values"],
            m["y_values"],
            m["measured_log10_gain"],
            m["predicted_log10_gain"],
            x_name=m["x"],
            y_name="dampening",
            tolerance=m["tolerance"],
            log_x=m["log_x"],
        ),
        f"learn_map_{chosen}",
    )
    st.markdown(paper_demos.map_summary(m))
    prov = paper_demos.shipped()["provenance"]
    st.caption(
        f"Measured with `{prov['command']}` on {prov['date']} (commit {prov['commit']}); "
        "docs/theory.md#8-where-the-theory-is-known-to-fail says why the two differ."
    )


#: the sections of docs/theory.md the reader offers, in reading order
THEORY_SECTIONS = ("1.1", "2.1", "3", "4", "5.3", "8")


def theory_reader() -> None:
    """docs/theory.md itself, one section at a time: the formulas behind every number on these pages."""
    st.header("7. The theory, in full")
    st.markdown(
        "Every formula stabviz computes is written out in the project's theory document, "
        "`docs/theory.md` in the repository (`stabviz/data/theory.md` in the installed package). "
        "Pick a section to read it here:"
    )
    titles = {key: theory_doc.section(key)[0] for key in THEORY_SECTIONS}
    chosen = st.selectbox("Section", THEORY_SECTIONS, format_func=titles.get, key="learn_theory_section")
    with st.container(border=True):
        st.markdown(theory_doc.section(chosen)[1])
