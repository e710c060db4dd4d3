"""Pieces of the Explore page: measured check, confirmation run, firing-rate axes, panels."""
from __future__ import annotations

import json
from typing import Any, Mapping

import numpy as np
import streamlit as st

from stabviz.config import LIFConfig
from stabviz.ui import advice, compute, figures, layout, maps, snippets, state, urlstate
from stabviz.ui import runs as ui_runs

MEASURE_FLAG = "_measured_keys"
COLOR_MODES = {"log10_gain": "log₁₀ gain over T", "rho2": "ρ²"}


def map_tab_parser(text: str) -> str:
    """``?map=beta|tail|leak`` -> the map tab's label."""
    by_param = {v: k for k, v in maps.MAP_PARAMS.items()}
    if text not in by_param:
        raise ValueError(f"map = {text!r} is not one of: {', '.join(by_param)}")
    return by_param[text]


def gamma_iv_here(cfg: LIFConfig, region: Any) -> tuple[float | None, str]:
    """(γ_IV at the current x of the drawn map, the x name): condition IV's curve read off the map."""
    if region is None or (region.x_name == "tail" and cfg.shape != "qpseudospike"):
        return None, "sharpness"
    return (advice.curve_value(region.curves.get("gamma_IV"), getattr(cfg, region.x_name), region.log_x),
            region.x_name)


def _ask_measure(key: compute.Key) -> None:
    st.session_state.setdefault(MEASURE_FLAG, set()).add(key)


def measured(cfg: LIFConfig) -> dict[str, Any] | None:
    """The quick Monte-Carlo check (firing rate and a voltage sample), when asked for with the button
    or when it is the chosen voltage model. Keyed by the forward setting: the surrogate does not change
    the voltages, so moving γ or β never re-simulates."""
    key = compute.key_of(compute.forward_config(cfg))
    if cfg.voltage_model == "measured" or key in st.session_state.get(MEASURE_FLAG, set()):
        return compute.measurement(key)
    return None


def measure_button(cfg: LIFConfig, where: str) -> None:
    st.button("Quick measured check (Monte-Carlo, CPU)", key=f"measure_{where}", on_click=_ask_measure,
              args=(compute.key_of(compute.forward_config(cfg)),), icon=":material/science:",
              help="Simulates the initialised layer for 300 steps (no training) and measures its firing "
                   "rate and voltages. A few seconds on the CPU; cached per setting.")


def rates(cfg: LIFConfig, preds: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Predicted initial firing rate per voltage model, plus the quick measured check when asked for
    (else its button)."""
    out = {name: p["firing_rate"] for name, p in preds.items()}
    if "measured" not in out:
        m = measured(cfg)
        if m is None:
            measure_button(cfg, "rates")
        else:
            out["measured"] = m["firing_rate"]
    return out


def confirm_button(cfg: LIFConfig) -> None:
    """One button: queue a short training run at the current setting, then link to it."""
    st.subheader("Confirm with a short run")
    st.caption("100 training steps on the generated randman task (1 layer, batch 32, 50 time steps), "
               "in a worker process; the prediction is stored with the run.")
    if st.button("Confirm with a short run", type="primary", icon=":material/play_arrow:", key="confirm_run"):
        try:
            st.session_state["_confirm_run_id"] = ui_runs.submit(ui_runs.quick_config(cfg))
        except ValueError as err:
            st.error(f"The run was not started: {err}")
    run_id = st.session_state.get("_confirm_run_id")
    if run_id:
        st.success(f"Run {run_id[:8]} queued: follow it live on the Runs page.", icon=":material/check:")
        params = {**urlstate.setting_params(st.session_state[state.SETTING]), "run": run_id}
        st.page_link("pages/runs.py", label=f"Open run {run_id[:8]} on the Runs page",
                     icon=":material/open_in_new:", query_params=params)


def rate_panel(cfg: LIFConfig, rec: Mapping[str, Any]) -> None:
    """Predicted firing rate against the leak and against the recurrent weight mean."""
    fkey = compute.key_of(compute.forward_config(cfg))
    c = st.columns(2)
    with c[0]:
        figures.chart(figures.rate_vs_leak(fkey, cfg.leak), "rate_leak")
    mu, var = rec.get("recurrent_mean"), rec.get("recurrent_var")
    centre = float(mu) if mu is not None else 0.0
    spread = max(abs(centre), float(np.sqrt(var)) if var else 0.0, 1e-3)     # ±4 of these around μ_I
    current = cfg.rec_mean if cfg.init_rec in ("uniform", "normal") else (centre if cfg.init_rec == "conditions" else 0.0)
    with c[1]:
        figures.chart(figures.rate_vs_mean(fkey, (centre - 4 * spread, centre + 4 * spread, 121), current, mu),
                      "rate_mu")


def voltage_panel(cfg: LIFConfig, preds: Mapping[str, Mapping[str, Any]]) -> None:
    """The voltage density each model assumes against a quick measured histogram."""
    g = preds["gaussian"]
    lo, hi = g["voltage_mean"] - 5 * g["voltage_std"], g["voltage_mean"] + 5 * g["voltage_std"]
    lo, hi = min(lo, cfg.threshold - 1e-3), max(hi, cfg.threshold + 1e-3)
    fkey = compute.key_of(compute.forward_config(cfg))
    m = measured(cfg)
    figures.chart(figures.voltages(fkey, (lo, hi, 400), cfg.threshold, None if m is None else fkey), "vdist")
    u = preds["uniform"]
    st.caption(f"The uniform model spreads the voltage over ±{np.sqrt(3) * u['voltage_std']:.3g} around "
               f"{u['voltage_mean']:.3g}; the gaussian model has std {g['voltage_std']:.3g}. "
               "The measured histogram is the referee.")
    if m is None:
        measure_button(cfg, "voltages")


def library_calls(cfg: LIFConfig, rec: Mapping[str, Any]) -> str:
    """The recommended surrogate as other libraries' calls (surrogates.translation_table)."""
    from stabviz import surrogates
    gamma = rec.get("dampening") or cfg.dampening
    beta = rec.get("sharpness") or cfg.sharpness
    q = rec.get("tail") or cfg.tail
    return snippets.library_calls(surrogates.translation_table(cfg.shape, gamma, beta, q))


def numbers_panel(cfg: LIFConfig, preds: Mapping[str, Mapping[str, Any]], rec: Mapping[str, Any]) -> None:
    """Predictions per voltage model and the recommendation, with downloads."""
    fields = ("firing_rate", "voltage_mean", "voltage_std", "moment1", "moment2", "rho2", "max_gain",
              "gradient_gain", "log10_gain", "regime", "firing")
    rows = {f: {m: p.get(f) for m, p in preds.items()} for f in fields}
    st.dataframe(rows, width="stretch")
    st.json(rec, expanded=False)
    doc = {"setting": cfg.to_dict(), "predictions": dict(preds), "recommendation": dict(rec)}

    def csv_text() -> str:
        lines = ["quantity," + ",".join(preds)]
        lines += [f + "," + ",".join("" if rows[f][m] is None else str(rows[f][m]) for m in preds) for f in fields]
        return "\n".join(lines) + "\n"

    layout.download_buttons("Predictions", "stabviz_prediction", csv_text,
                            lambda: json.dumps(doc, indent=1, default=float), key="dl_pred")
