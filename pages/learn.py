"""Learn (/learn): surrogate gradients and the four stability conditions, for a student new to them."""
import streamlit as st

from stabviz import plots
from stabviz.ui import compute, figures, layout, router, state
from stabviz.ui import learn_page as lp

router.ensure()          # a first request straight to this page still goes through app.py

cfg = layout.require_setting()
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
trace = lp.trace(leak, 1.0, drive, noise, reset)
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
spikes = lp.raster(leak, reset, rate_in, in_scale, rec_scale)
figures.chart(plots.spike_raster(spikes), "learn_raster")
st.caption(f"Mean firing rate {spikes.mean():.1%}. The paper starts training from a high rate (about ½).")

st.header("3. The surrogate gradient")
st.markdown(
    "A spike is a step: its derivative is zero everywhere except at the threshold, where it is infinite, "
    "so backpropagation cannot pass through it. The trick: keep the step in the forward pass, but in the "
    "backward pass pretend its slope was a smooth bump **σ'(v)** around the threshold (v = y − θ). "
    "Three knobs shape the bump: the **dampening γ** is its height, the **sharpness β** is one over its "
    "width, and the **tail-fatness q** (q-PseudoSpike only) sets how slowly it falls off.")
figures.chart(lp.knobs_figure(cfg), "learn_sg")
st.caption(f"Thick: your {cfg.shape} at γ = {cfg.dampening:g}, β = {cfg.sharpness:g}. Raising γ raises the "
           "bump; raising β narrows it (its area γ/β shrinks).")

st.header("4. Four conditions, step by step")
st.markdown("Backpropagating through time multiplies the error by one step's gain **T** times. If that gain "
            "is above 1 gradients explode; below 1 they vanish. The paper picks the initialisation and the "
            "surrogate so that the gain is 1 before training starts:")
for step in lp.condition_steps(cfg, compute.recommendation(key), compute.predictions(key)[cfg.voltage_model]):
    with st.container(border=True):
        st.markdown(f"**{step['title']}** · {step['number']}")
        st.markdown(step["text"])

st.header("5. Reproduce the paper's findings")
st.markdown("Each button loads a setting into the sidebar (the other pages follow). "
            "The badge is what the theory predicts there.")
for i, demo in enumerate(lp.DEMOS):
    c = st.columns([3, 1, 2], vertical_alignment="center")
    c[0].markdown(f"**{demo['title']}**: {demo['finding']}")
    with c[1]:
        layout.regime_badge(lp.demo_regime(demo))
    c[2].button("Load this setting", key=f"demo_{i}", on_click=state.apply, args=(lp.demo_config(demo).to_dict(),))
