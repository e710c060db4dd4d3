"""Surrogates (/surrogates): every shape at the current (γ, β, q), what it does to E[σ'] and E[σ'²],
and how other libraries spell the same surrogate."""
import streamlit as st

from stabviz.ui import compute, figures, layout, router
from stabviz.ui import surrogates_page as sp

router.ensure()          # a first request straight to this page still goes through app.py

cfg = layout.require_setting()
st.title("Surrogate shapes")
st.markdown(
    f"Every shape at the current **dampening γ = {cfg.dampening:g}**, **sharpness β = {cfg.sharpness:g}** and "
    f"**tail-fatness q = {cfg.tail:g}** (q only changes the q-PseudoSpike). All shapes share the peak height "
    "σ'(0) = γ and the area γ/β; they differ in how fast the tails fall (THEORY.md section 2).")

cols = st.columns([3, 2])
with cols[0]:
    figures.chart(sp.curves_figure(cfg), "sg_curves")
with cols[1]:
    st.markdown("**Forward vs backward.** The forward pass spikes with the Heaviside step; the backward pass "
                f"pretends the step was the smooth curve whose slope is σ' (here the {cfg.shape} shape).")
    figures.chart(sp.primitive_figure(cfg), "sg_primitive")

st.subheader(f"E[σ'] and E[σ'²] under the {cfg.voltage_model} voltage model")
st.markdown("Condition IV needs E[σ'²]: the mean squared slope the membrane voltage actually sees. "
            "Same height and area, yet E[σ'²] differs severalfold between shapes once the voltage spreads.")
moments = sp.shape_moments(compute.key_of(cfg))
figures.chart(sp.moments_figure(moments, cfg.shape), "sg_moments")

st.subheader("The same surrogate in other libraries")
st.markdown("Libraries parameterise shapes with one knob that couples height and width. Where no knob "
            "reproduces (γ, β, q) exactly the row says so.")
rows = sp.translation_rows(cfg)
st.dataframe(rows, width="stretch", hide_index=True)
for warning in sp.translation_warnings(rows):
    st.warning(warning, icon=":material/warning:")
