"""Explore (/): will gradients survive at this setting, and what firing rate will training start from?

The page's whole glue: the clickable stable-region maps, the measured check, the confirmation run,
the firing-rate, voltage and numbers panels, and :func:`render`, which draws the page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import streamlit as st

from stabviz import plots
from stabviz.config import RANGES, LIFConfig
from stabviz.ui import (
    advice,
    compute,
    figures,
    firstview,
    layout,
    livemap,
    measuredlayer,
    nav,
    optionlink,
    outcome,
    recommended,
    runlaunch,
    runlive,
    sharing,
    state,
    urlstate,
)

#: tab label -> (x axis, y axis); every map's y axis is the dampening γ. Short labels: the three tabs fit
#: side by side at 1280 × 720 without a scroll arrow. The tail map is always drawn for q-PseudoSpike.
MAPS = {
    "β × γ": ("sharpness", "dampening"),
    "q × γ (tail)": ("tail", "dampening"),
    "τ × γ (leak)": ("leak", "dampening"),
}
#: tab label -> its short name in the URL (?map=...).
MAP_PARAMS = dict(zip(MAPS, ("beta", "tail", "leak")))


def _on_click(click: dict[str, float], x_name: str, y_name: str) -> None:
    """Move the current setting to the clicked cell (a callback: runs before the widgets are drawn).
    live_map.js sends the cell's own values; 4 significant digits keep the link readable and stay
    within the cell (neighbouring cells differ by ≥ 2%)."""
    values = {x_name: float(plots.round_sig(click["x"], 4)), y_name: float(plots.round_sig(click["y"], 4))}
    if x_name == "tail":
        values["shape"] = "qpseudospike"
    state.apply(values)


def map_config(cfg: LIFConfig, x: str) -> LIFConfig:
    """The setting a map is computed at: the tail map always uses the q-PseudoSpike shape."""
    return cfg.replace(shape="qpseudospike") if x == "tail" else cfg


def draw_map(cfg: LIFConfig, label: str, color_by: str, runs: Sequence[dict[str, Any]] = ()) -> Any:
    """Draw one map (and its downloads); returns the Region."""
    x, y = MAPS[label]
    at = map_config(cfg, x)
    if cfg.voltage_model == "measured":
        # The measured model has one voltage sample per setting: it cannot vary the leak along an axis,
        # and a 200-point sharpness axis would re-evaluate σ' on every sample 200 times. Maps use the
        # gaussian model, which docs/theory.md#4-the-voltage-models finds within a few percent of simulation.
        at = at.replace(voltage_model="gaussian")
        st.caption("Maps use the gaussian voltage model (the measured model gives one point, not a map).")
    if x == "tail" and cfg.shape != "qpseudospike":
        st.caption("Drawn for the q-PseudoSpike shape; the current point shows where you would be with it.")
    region = compute.region(at, x, y)
    if plots.off_map(region, region.current):
        st.caption(
            f":material/arrow_range: The current setting ({plots.axis_title(x)} = {region.current[0]:.4g}, "
            f"γ = {region.current[1]:.4g}) lies outside this map; its marker (×) is pinned at the nearest edge."
        )
    chart_key = f"map_{x}_{y}"
    layer = measuredlayer.controls(at, x)
    specs = (
        ((), ())
        if layer.result is None
        else plots.measured_layer_specs(
            layer.result, log_y=region.log_y, color_by=color_by, show_field=layer.field == "measured"
        )
    )
    fig = figures.region_chart(
        region,
        compute.grid_key(at, x, y),
        color_by,
        runs,
        specs,
        height=MAP_HEIGHT_PRESENT if layout.presenting() else MAP_HEIGHT,
    )
    # theme=None: Streamlit's theme is merged into the figure in the browser on every remount (~100 ms
    # of the repaint budget); the figure carries its own styling instead.
    st.plotly_chart(
        fig, key=chart_key, theme=None, config={"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
    )
    # Repaints this map in the browser as a slider moves; hover and clicks, exact to the cell.
    livemap.mount(cfg, at, x, color_by, on_click=lambda click: _on_click(click, x, y))
    measuredlayer.show(layer, at)
    for note in region.notes:
        st.caption(f":material/info: {note}")
    layout.download_buttons(
        "Map numbers", f"stabviz_{x}_{y}", region.to_csv, lambda: _json(region.to_dict()), key=f"dl_{chart_key}"
    )
    return region


def _json(data: Any) -> str:
    import orjson

    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY).decode()


MEASURE_FLAG = "_measured_keys"
#: The map's height in px; in presentation mode the verdict, the numbers and the whole map fit in 720 px.
MAP_HEIGHT, MAP_HEIGHT_PRESENT = 500, 390
COLOR_MODES = {"log10_gain": "log₁₀ gain over T", "rho2": "ρ²"}


def map_tab_parser(text: str) -> str:
    """``?map=beta|tail|leak`` -> the map tab's label."""
    by_param = {v: k for k, v in MAP_PARAMS.items()}
    if text not in by_param:
        raise ValueError(f"map = {text!r} is not one of: {', '.join(by_param)}")
    return by_param[text]


def _ask_measure(key: LIFConfig) -> None:
    st.session_state.setdefault(MEASURE_FLAG, set()).add(key)


def measured(cfg: LIFConfig) -> dict[str, Any] | None:
    """The quick Monte-Carlo check (firing rate and a voltage sample), when asked for with the button
    or when it is the chosen voltage model. Keyed by the forward setting: the surrogate does not change
    the voltages, so moving γ or β never re-simulates."""
    key = compute.forward_config(cfg)
    if cfg.voltage_model == "measured" or key in st.session_state.get(MEASURE_FLAG, set()):
        return compute.measurement(key)
    return None


def measure_button(cfg: LIFConfig, where: str) -> None:
    st.button(
        "Quick measured check (Monte-Carlo, CPU)",
        key=f"measure_{where}",
        on_click=_ask_measure,
        args=(compute.forward_config(cfg),),
        icon=":material/science:",
        help="Simulates the initialised layer for 300 steps (no training) and measures its firing "
        "rate and voltages. A few seconds on the CPU; cached per setting.",
    )


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


def confirm_button(cfg: LIFConfig, option: advice.Setting | None = None) -> None:
    """Queue short training runs at the chosen setting (the sliders', or a whole option: its cfg, init included),
    one per seed."""
    st.subheader("Confirm with a short run")
    at = cfg if option is None or option.label == advice.AS_SET else option.cfg
    where = "the current setting" if at is cfg else f"the option “{option.label}”"
    quick = runlaunch.quick_config(at)
    st.caption(
        f"At {where} (γ = {at.dampening:.4g}, β = {at.sharpness:.4g}"
        + (f", q = {at.tail:.4g}" if at.shape == "qpseudospike" else "")
        + f", W_rec {at.init_rec}): "
        f"{quick.train_steps} training "
        f"steps on the generated randman task (1 layer, batch {quick.batch}, T = {quick.time_steps} time steps, "
        "the T the prediction is made at), in a worker process, once per seed; "
        "the prediction is stored with each run, and two or more seeds are judged by the 95% interval "
        "of their mean. Pick the setting under *Recommended initialisation*."
    )
    off = sharing.launching() == "off"
    if off:
        st.caption(
            ":material/lock: Launching runs is switched off on this shared dashboard (the host has set no run token)."
        )
    c = st.columns([1, 3], vertical_alignment="bottom")
    seeds = runlaunch.seeds_input(c[0], "confirm_seeds")  # None: invalid, and the field says why
    if seeds is not None:
        st.caption(runlaunch.cost_caption(quick, seeds))
        too_long = runlaunch.limit_warning(quick, seeds)  # said before the click, with the estimate and limit
        if too_long:
            st.warning(too_long, icon=":material/timer_off:")
    if c[1].button(
        "Confirm with a short run",
        type="primary",
        icon=":material/play_arrow:",
        key="confirm_run",
        disabled=off or seeds is None,
    ):
        try:
            st.session_state[CONFIRMED] = runlaunch.submit_seeds(runlaunch.quick_config(at), seeds)
        except ValueError as err:
            st.error(f"The run was not started: {layout.plain(err)}")


CONFIRMED = "_confirm_run_ids"


def confirmation_view(run_ids: Sequence[str] | None) -> None:
    """The runs the button queued, followed inline: progress with ETA, live loss and accuracy, then the
    verdict (a seed group's interval verdict for two or more seeds); a link opens them on the Runs page."""
    if not run_ids:
        return
    store = runlaunch.store()
    try:
        lif = (store.get(run_ids[0]).get("config") or {}).get("lif") or {}
    except KeyError:  # no longer in the store (its database was moved aside)
        st.session_state[CONFIRMED] = None
        return
    with st.container(border=True):
        st.caption(
            f"Confirmation at {layout.plain(runlive.setting_label(lif))}"
            + (f", {len(run_ids)} seeds" if len(run_ids) > 1 else "")
        )
        runlive.follow(store, run_ids, "confirm", titles=("loss", "accuracy"), per_row=2)  # the page's full width
        runlive.group_view(store, run_ids[0], "confirm")
        params = {**urlstate.setting_params(st.session_state[state.SETTING]), "run": run_ids[0]}
        st.page_link(
            nav.page("runs"),
            label=f"Details on the Runs page (run {run_ids[0][:8]})",
            icon=":material/open_in_new:",
            query_params=params,
        )


def rate_panel(cfg: LIFConfig, rec: Mapping[str, Any]) -> None:
    """Predicted firing rate against the leak and against the recurrent weight mean."""
    fkey = compute.forward_config(cfg)
    c = st.columns(2)
    with c[0]:
        figures.chart(figures.rate_vs_leak(fkey, cfg.leak), "rate_leak")
    mu, var = rec.get("recurrent_mean"), rec.get("recurrent_var")
    centre = float(mu) if mu is not None else 0.0
    spread = max(abs(centre), float(np.sqrt(var)) if var else 0.0, 1e-3)  # ±4 of these around μ_I
    current = (
        cfg.rec_mean if cfg.init_rec in ("uniform", "normal") else (centre if cfg.init_rec == "conditions" else 0.0)
    )
    with c[1]:
        low, high = RANGES["rec_mean"][:2]  # the axis stays inside the values a weight mean may take
        axis = (max(centre - 4 * spread, low), min(centre + 4 * spread, high), 121)
        figures.chart(figures.rate_vs_mean(fkey, axis, current, mu), "rate_mu")


def voltage_panel(cfg: LIFConfig, preds: Mapping[str, Mapping[str, Any]]) -> None:
    """The voltage density each model assumes against a quick measured histogram."""
    g = preds["gaussian"]
    lo, hi = g["voltage_mean"] - 5 * g["voltage_std"], g["voltage_mean"] + 5 * g["voltage_std"]
    lo, hi = min(lo, cfg.threshold - 1e-3), max(hi, cfg.threshold + 1e-3)
    fkey = compute.forward_config(cfg)
    m = measured(cfg)
    figures.chart(figures.voltages(fkey, (lo, hi, 400), cfg.threshold, None if m is None else fkey), "vdist")
    u = preds["uniform"]
    st.caption(
        f"The uniform model spreads the voltage over ±{np.sqrt(3) * u['voltage_std']:.3g} around "
        f"{u['voltage_mean']:.3g}; the gaussian model has std {g['voltage_std']:.3g}. "
        "The measured histogram is the referee."
    )
    if m is None:
        measure_button(cfg, "voltages")


def numbers_panel(cfg: LIFConfig, preds: Mapping[str, Mapping[str, Any]], rec: Mapping[str, Any]) -> None:
    """Predictions per voltage model and the recommendation, with downloads."""
    fields = (
        "firing_rate",
        "voltage_mean",
        "voltage_std",
        "moment1",
        "moment2",
        "rho2",
        "max_gain",
        "gradient_gain",
        "log10_gain",
        "regime",
        "firing",
    )
    rows = {f: {m: p.get(f) for m, p in preds.items()} for f in fields}
    st.dataframe(rows, width="stretch")
    st.json(rec, expanded=False)
    doc = {"setting": cfg.to_dict(), "predictions": dict(preds), "recommendation": dict(rec)}

    def csv_text() -> str:
        lines = ["quantity," + ",".join(preds)]
        lines += [f + "," + ",".join("" if rows[f][m] is None else str(rows[f][m]) for m in preds) for f in fields]
        return "\n".join(lines) + "\n"

    layout.download_buttons(
        "Predictions", "stabviz_prediction", csv_text, lambda: json.dumps(doc, indent=1, default=float), key="dl_pred"
    )


#: What the firing badge's word means (theory.FIRING_BOUNDS).
FIRING_HELP = (
    "The initial firing rate p in words: silent below 1% of steps, sparse below 20%, dense below 90%, "
    "saturated above. The paper starts training near p = ½ (condition I)."
)


def metrics(cfg: LIFConfig, pred: Mapping[str, Any], preds: Mapping[str, Mapping[str, Any]]) -> None:
    """The key numbers: short labels (none truncated at 1280 px), maths in KaTeX, the long names as help."""
    m = st.columns(5)
    m[0].metric("Firing rate $p$", f"{pred['firing_rate']:.1%}", help=advice.rate_sentence(preds))
    m[1].metric(
        "$\\rho^2$",
        layout.fmt(pred["rho2"], 4),
        help="The mean squared one-step gradient gain (docs/theory.md#3-conditions-i-to-iv): "
        "1 keeps the gradient's size over time.",
    )
    m[2].metric(
        "Worst gain",
        layout.fmt(pred["max_gain"]),
        help="The worst-case one-step gain $\\alpha + \\gamma X$ ($X$: the sum of the positive weights); "
        "condition III makes it 1.",
    )
    m[3].metric(
        f"$\\rho^T$, $T = {cfg.steps}$",
        plots.power_text(pred["log10_gain"]),
        help=f"The gradient gain over $T = {cfg.steps}$ steps; $\\log_{{10}}$ = {layout.fmt(pred['log10_gain'])} "
        f"decades; stable within ±{cfg.tolerance:g}.",
    )
    m[4].metric("Voltage model", cfg.voltage_model)


def render(cfg: LIFConfig) -> None:
    """The Explore page at the sidebar's setting."""
    preds = compute.predictions(cfg)
    pred = preds[compute.shown_model(cfg)]  # the measured model for mult resets, where gaussian is off
    rec = compute.recommendation(cfg)
    choices = compute.settings(cfg, outcome.budget())  # every whole setting offered: options, snippets, Confirm
    optionlink.keep([s.label for s in choices], default=advice.default_choice(choices).label)  # ?option=N
    later = firstview.waiting()  # a session's first view: the map first, the rest one rerun later

    present = layout.presenting()
    if not present:  # on a projector the badge and the advice say it: the map moves up
        st.title("Will gradients survive?")
    header = st.container()  # filled once the map has given condition IV's curve
    metrics(cfg, pred, preds)
    for note in pred.get("notes", []):
        st.caption(f":material/info: {note}")

    left, right = st.columns([3, 2], gap="medium")
    with left:
        state.seed_widget("map_color", "color", state.choice_parser("color", COLOR_MODES), "log10_gain")
        color_by = st.segmented_control(
            "Colour",
            COLOR_MODES,
            key="map_color",
            required=True,
            format_func=COLOR_MODES.get,
            persist_state="session",
            label_visibility="collapsed",
        )
        state.keep_param("color", color_by, default="log10_gain")
        state.seed_widget("map_tab", "map", map_tab_parser, list(MAPS)[0])
        tabs = st.tabs(list(MAPS), key="map_tab", on_change="rerun")
        state.keep_param("map", MAP_PARAMS[st.session_state["map_tab"]], default="beta")
        for label, tab in zip(MAPS, tabs):
            if tab.open:
                with tab:
                    draw_map(cfg, label, color_by, runs=runlaunch.map_markers(cfg, *MAPS[label]))

    with header:
        recommendation = advice.recommendation_sentence(choices)
        text = "**The theory (detail):** " + advice.what_to_change(cfg, pred, rec, choices)
        top = st.columns([5, 2], vertical_alignment="center")
        with top[0]:  # the committed verdict: measured in the background, never blocking
            # on a projector the map must fit in 720 px: one line, the advice a hover away
            outcome.headline(
                cfg, compact=present, more=recommendation + "\n\n" + text if present else "", start=not later
            )
        with top[1]:
            if not present:
                outcome.budget_control()
            layout.regime_badge(pred["regime"], cfg.steps)
            if not present:  # the firing-rate metric right below says it too
                st.badge(f"firing: {pred['firing']} ({pred['firing_rate']:.0%})", color="gray", help=FIRING_HELP)
        if not present:
            st.markdown(recommendation)
            st.markdown(text)

    with right:
        st.subheader("Initial firing rate")
        figures.chart(
            figures.rate_bars(tuple(rates(cfg, preds).items())), "rate_bars", config={"displayModeBar": False}
        )
        st.caption(advice.rate_sentence(preds))
        if not later:
            confirm_button(cfg, recommended.chosen(choices))
    # The runs it queued are followed below both columns, at the page's full width (their curves and the
    # gradient-flow plot were squeezed into the right column).
    if not later:
        confirmation_view(st.session_state.get(CONFIRMED))

    if later:
        firstview.hold()
        return
    st.divider()
    detail = st.tabs(
        ["Firing rate vs leak and μ_rec", "Voltage models", "Recommended initialisation", "Numbers & downloads"],
        key="detail_tab",
        on_change="rerun",
        default="Recommended initialisation",
    )
    with detail[0]:
        if detail[0].open:
            rate_panel(cfg, rec)
    with detail[1]:
        if detail[1].open:
            voltage_panel(cfg, preds)
    with detail[2]:
        if detail[2].open:
            recommended.tab(rec, choices)
    with detail[3]:
        if detail[3].open:
            numbers_panel(cfg, preds, rec)
