"""Explore (/): will gradients survive at this setting, and what firing rate will training start from?"""
import streamlit as st

from stabviz.ui import advice, compute, figures, layout, maps, router, snippets, state
from stabviz.ui import explore as ex
from stabviz.ui import runs as ui_runs

router.ensure()          # a first request straight to this page still goes through app.py

cfg = layout.require_setting()
key = compute.key_of(cfg)
preds = compute.predictions(key)
pred = preds[cfg.voltage_model]
rec = compute.recommendation(key)

st.title("Will gradients survive?")
header = st.container()          # filled once the map has given condition IV's curve
m = st.columns(5)
m[0].metric("Initial firing rate p", f"{pred['firing_rate']:.1%}", help=advice.rate_sentence(preds))
m[1].metric("ρ² (mean squared one-step gain)", layout.fmt(pred["rho2"], 4))
m[2].metric("Worst one-step gain α + γX", layout.fmt(pred["max_gain"]))
m[3].metric("Gradient gain over T = ρ^T", layout.fmt(pred["gradient_gain"]),
            help=f"log₁₀ = {layout.fmt(pred['log10_gain'])} decades; stable within ±{cfg.tolerance:g}")
m[4].metric("Voltage model", cfg.voltage_model)
for note in pred.get("notes", []):
    st.caption(f":material/info: {note}")

left, right = st.columns([3, 2], gap="medium")
region = None
with left:
    state.seed_widget("map_color", "color", state.choice_parser("color", ex.COLOR_MODES), "log10_gain")
    color_by = st.segmented_control("Colour", ex.COLOR_MODES, key="map_color", required=True,
                                    format_func=ex.COLOR_MODES.get, persist_state="session",
                                    label_visibility="collapsed")
    state.keep_param("color", color_by, default="log10_gain")
    state.seed_widget("map_tab", "map", ex.map_tab_parser, list(maps.MAPS)[0])
    tabs = st.tabs(list(maps.MAPS), key="map_tab", on_change="rerun")
    state.keep_param("map", maps.MAP_PARAMS[st.session_state["map_tab"]], default="beta")
    for label, tab in zip(maps.MAPS, tabs):
        if tab.open:
            with tab:
                region = maps.draw(cfg, label, color_by, runs=ui_runs.map_markers(cfg, *maps.MAPS[label]))

with header:
    cols = st.columns([1, 7], vertical_alignment="center")
    with cols[0]:
        layout.regime_badge(pred["regime"])
        st.badge(f"firing: {pred['firing']}", color="gray")
    cols[1].markdown(advice.what_to_change(cfg, pred, rec, *ex.gamma_iv_here(cfg, region)))

with right:
    st.subheader("Initial firing rate")
    figures.chart(figures.rate_bars(tuple(ex.rates(cfg, preds).items())), "rate_bars",
                  config={"displayModeBar": False})
    st.caption(advice.rate_sentence(preds))
    ex.confirm_button(cfg)

st.divider()
detail = st.tabs(["Firing rate vs leak and μ_rec", "Voltage models", "Recommended initialisation",
                  "Numbers & downloads"], key="detail_tab", on_change="rerun", default="Recommended initialisation")
with detail[0]:
    if detail[0].open:
        ex.rate_panel(cfg, rec)
with detail[1]:
    if detail[1].open:
        ex.voltage_panel(cfg, preds)
with detail[2]:
    if detail[2].open:
        st.markdown("Conditions I–IV at this setting (THEORY.md section 3). Copy the snippet into your own code:")
        st.code(snippets.pytorch_init(cfg, rec), language="python")
        st.markdown("The same surrogate in other libraries:")
        st.code(ex.library_calls(cfg, rec), language="python")
        for note in rec.get("notes", []):
            st.caption(f":material/info: {note}")
with detail[3]:
    if detail[3].open:
        ex.numbers_panel(cfg, preds, rec)
