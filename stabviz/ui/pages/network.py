"""Your network (/network): stabviz.check on the user's own network, from an uploaded NIR file or from the
numbers of a snnTorch layer; each layer on the stability scale, rate histograms, hazards, suggestions that
are applied and re-measured on click, a link to Explore at a layer's setting, and downloads.

Measurements are cached by what defines them (the typed numbers, or the file's digest and the options), so
a rerun of this page or a return to it costs nothing, and they run in this session's script thread only:
other sessions, and this one's other pages once it is done, stay usable. An uploaded file is read as data
(stabviz.check.nir_graph's checks), never executed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import streamlit as st

from stabviz import plots
from stabviz.config import SHAPES, LIFConfig
from stabviz.ui import figures, layout, nav, network, urlstate

SOURCES = {"library": "From my library (snnTorch)", "nir": "A NIR file"}
REQUEST = "_net_request"  # the key of the measurement shown: ("library", numbers) or ("nir", digest, options)
APPLIED = "_net_applied"  # the index of the suggestion applied to it, or None
FILE = "_net_file"  # (name, bytes) of the last upload


@st.cache_resource(max_entries=16, show_spinner=False)
def _measure(key: tuple, _data: bytes | None = None):
    """The check of one request (cached by ``key``; ``_data``, the file's bytes, is named by its digest)."""
    from stabviz.check import check
    from stabviz.config import Surrogate

    if key[0] == "library":
        model, inputs = network.build(network.Numbers(*key[1]))
        return check(model, inputs)
    _, _digest, name, dt, shape, dampening, sharpness, steps, batch, rate = key
    return network.check_nir_bytes(
        _data,
        name,
        dt=dt,
        surrogate=Surrogate(shape, dampening, sharpness),
        input_shape=(steps, batch),
        input_rate=rate,
    )


@st.cache_resource(max_entries=16, show_spinner=False)
def _measure_applied(key: tuple, index: int, _data: bytes | None = None):
    """The check of the network with suggestion ``index`` of its own check applied (the change that
    suggestion's re-measurement used), on the same inputs."""
    from stabviz.check import check

    report = _measure(key, _data)
    return check(report.applied(index), report.inputs, seeds=report.run["seeds"])


def library_form() -> tuple | None:
    """The snnTorch layer's numbers; the request key when "Measure" was pressed with valid numbers."""
    d = network.Numbers()
    names = network.surrogate_names()
    with st.form("net_library"):
        c = st.columns(4)
        kind = c[0].selectbox("Layer", network.KINDS, help="snn.Leaky, or snn.RLeaky (all-to-all recurrent)")
        n = c[1].number_input("neurons n", 1, 1024, d.n, key="net_n")
        n_in = c[2].number_input("inputs n_in", 1, 1024, d.n_in, key="net_n_in")
        beta = c[3].number_input("beta (leak α)", 0.0, 1.0, d.beta, format="%.4f", key="net_beta")
        c = st.columns(4)
        threshold = c[0].number_input("threshold", 1e-3, 100.0, d.threshold, key="net_threshold")
        reset = c[1].selectbox("reset_mechanism", network.RESETS, key="net_reset")
        sg = c[2].selectbox("spike_grad", names, format_func=lambda k: f"surrogate.{k.split('.')[1]}", key="net_sg")
        knob = c[3].number_input(
            "slope / alpha",
            1e-3,
            1e4,
            d.knob,
            key="net_knob",
            help="The surrogate's knob: slope for fast_sigmoid and sigmoid (default 25), alpha for atan (default 2).",
        )
        c = st.columns(4)
        steps = c[0].number_input("steps T", 8, 500, d.steps, key="net_steps")
        rate = c[1].number_input(
            "input rate p",
            0.0,
            1.0,
            d.rate,
            key="net_rate",
            help="Bernoulli input spikes: the probability an input fires per step.",
        )
        batch = c[2].number_input("batch", 1, 64, d.batch, key="net_batch")
        go = st.form_submit_button("Measure", icon=":material/play_arrow:", type="primary")
    if not go:
        return None
    numbers = network.Numbers(
        kind,
        int(n),
        int(n_in),
        float(beta),
        float(threshold),
        reset,
        sg,
        float(knob),
        int(steps),
        float(rate),
        int(batch),
    )
    return ("library", dataclasses.astuple(numbers))


def nir_form() -> tuple | None:
    """The uploaded file and the options NIR does not store; the request key when "Measure" was pressed."""
    up = st.file_uploader(
        f"NIR file (.nir, at most {network.MAX_UPLOAD_MB} MB; read as data, never run)",
        type=["nir"],
        key="net_upload",
        max_upload_size=network.MAX_UPLOAD_MB,
    )
    c = st.columns(4)
    dt = c[0].number_input(
        "dt",
        1e-9,
        1.0,
        1e-4,
        format="%.2e",
        key="net_dt",
        help="NIR stores no time step: snnTorch exports with 1e-4 (Norse: read with 1e-6).",
    )
    shape = c[1].selectbox(
        "surrogate shape",
        SHAPES,
        index=SHAPES.index("fastsigmoid"),
        key="net_shape",
        help="NIR stores no surrogate: the check uses this one (default fast sigmoid γ = β = 1).",
    )
    dampening = c[2].number_input("dampening γ", 1e-3, 10.0, 1.0, key="net_gamma")
    sharpness = c[3].number_input("sharpness β", 1e-3, 1e3, 1.0, key="net_beta_sg")
    c = st.columns(4)
    steps = c[0].number_input("steps T", 8, 500, 100, key="net_nir_steps")
    batch = c[1].number_input("batch", 1, 64, 16, key="net_nir_batch")
    rate = c[2].number_input("input rate p", 0.0, 1.0, 0.1, key="net_nir_rate")
    if not st.button("Measure", icon=":material/play_arrow:", type="primary", key="net_nir_go", disabled=up is None):
        return None
    data = up.getvalue()
    network.check_upload(data, up.name)  # the size and the name, before anything reads the bytes
    st.session_state[FILE] = (up.name, data)
    return (
        "nir",
        hashlib.sha256(data).hexdigest(),
        up.name,
        float(dt),
        shape,
        float(dampening),
        float(sharpness),
        int(steps),
        int(batch),
        float(rate),
    )


def _data() -> bytes | None:
    key = st.session_state.get(REQUEST)
    return st.session_state[FILE][1] if key and key[0] == "nir" else None


def measured(source: str) -> tuple[Any, Any] | None:
    """(the checked network's report, the report with the applied suggestion or None), measured under a
    progress box the first time; None until ``source`` (the chosen form) has been measured."""
    key = st.session_state.get(REQUEST)
    if key is None or key[0] != source:
        return None
    index = st.session_state.get(APPLIED)
    with st.status("Measuring your network…", expanded=False) as box:
        report = _measure(key, _data())
        applied = None if index is None else _measure_applied(key, index, _data())
        box.update(
            label=f"Measured in {report.run['seconds']:.1f} s"
            + ("" if applied is None else f", with the suggestion in {applied.run['seconds']:.1f} s"),
            state="complete",
        )
    return report, applied


def show_report(report: Any, tag: str) -> None:
    """Verdict, each layer on the stability scale, rate histograms, Explore links, hazards."""
    d = report.as_dict()
    v, g = d["verdict"], d["gain"]
    say = {"stable": st.success, "vanishing": st.warning, "exploding": st.warning, "uncertain": st.info}.get(
        v["regime"], st.error
    )  # "nan": the gradient already holds NaN or inf
    say(f"**{v['regime']}**: {layout.plain(v['summary'])}", icon=":material/monitor_heart:")
    if g.get("over_T") is not None:
        lo, hi = g.get("over_T_interval") or (g["over_T"], g["over_T"])
        st.markdown(
            f"Measured gain: **{g['over_T']:+.2f} decades over T = {g['T']}** (interval {lo:+.2f} to "
            f"{hi:+.2f}, {g['seeds']} seeds, {d['run']['loss']})."
        )
    figures.chart(plots.check_gain(d["layers"], d["predicted"], g), f"net_gain_{tag}")
    cols = st.columns(min(len(d["layers"]), 3))
    for i, (lay, pred) in enumerate(zip(d["layers"], d["predicted"])):
        with cols[i % len(cols)]:
            st.markdown(
                f"**{layout.plain(lay['name'])}** ({lay['library']} {lay['kind']}, n = {lay['n']}): "
                f"rate {lay['firing_rate']:.3f}, dead {lay['dead_fraction']:.0%}, saturated "
                f"{lay['saturated_fraction']:.0%}; α = {lay['leak']:.4g}, θ = {lay['threshold']:.4g}, "
                f"`{lay['surrogate']['library_text']}`"
            )
            figures.chart(plots.check_rate_histogram(lay), f"net_hist_{tag}_{i}")
            if pred.get("setting"):
                st.page_link(
                    nav.page("explore"),
                    label=f"Open Explore at layer {lay['name']}'s setting",
                    icon=":material/map:",
                    query_params=urlstate.setting_params(pred["setting"]),
                )
            else:
                st.caption(f"No theory prediction: {layout.plain(pred.get('why', ''))}")
    if d["hazards"]:
        for h in d["hazards"]:
            st.warning(
                f"**{h['kind']}** ({layout.plain(h['layer'])}): {layout.plain(h['text'])}", icon=":material/warning:"
            )
    else:
        st.caption("Hazards: none found.")


def show_suggestions(report: Any) -> None:
    """Each suggestion, its re-measurement, and "Apply and re-measure"."""
    d = report.as_dict()
    st.subheader("Suggestions, each measured on your network")
    if not d["suggestions"]:
        st.caption("None: nothing to change.")
    for i, s in enumerate(d["suggestions"]):
        m = s["measured"]
        with st.container(border=True, key=f"net_suggestion_{i}"):
            over = m["gain"]["over_T"]
            st.markdown(
                f"**{layout.plain(s['change'])}**  \n{layout.plain(s['why'])}; measured with it: "
                f"{'n/a' if over is None else format(over, '+.2f')} over T ({m['regime']}), "
                f"{'as promised' if s['confirmed'] else 'not as promised'}."
            )
            st.code(s["code"], language=None)  # layer names come from the user's file: shown literally
            st.button(
                "Apply and re-measure",
                key=f"net_apply_{i}",
                icon=":material/replay:",
                on_click=st.session_state.__setitem__,
                args=(APPLIED, i),
            )


def downloads(report: Any, applied: Any) -> None:
    key = st.session_state[REQUEST]
    c = st.columns(2)
    c[0].download_button(
        "Report (JSON)",
        json.dumps(report.as_dict(), indent=1),
        file_name="stabviz_check.json",
        mime="application/json",
        icon=":material/download:",
        key="net_json",
    )
    if applied is None:
        c[1].caption("Apply a suggestion to download the code of its fix.")
        return
    s = report.as_dict()["suggestions"][st.session_state[APPLIED]]
    if key[0] == "library":
        numbers = network.Numbers(*key[1])
        scale = network.weight_scale(report.model, applied.model)
        text = network.snippet(numbers, s, applied.as_dict(), scale)
    else:
        text = network.snippet(None, s, None)
    c[1].download_button(
        "Fix (Python)",
        text,
        file_name="stabviz_fix.py",
        mime="text/x-python",
        icon=":material/code:",
        key="net_snippet",
    )


def render(cfg: LIFConfig) -> None:  # noqa: ARG001 - the page checks the user's network, not the sidebar's setting
    """The Your network page."""
    st.title("Your network")
    st.markdown(
        "Measure **your** spiking network before training it: firing rates, dead and saturated neurons, "
        "NaN-prone surrogates and how the gradient travels back over T, beside the theory's prediction "
        "for each layer, with fixes in your library's terms, each measured on your network "
        "(`stabviz.check`, docs/check.md)."
    )
    source = st.radio("Network", list(SOURCES), format_func=SOURCES.__getitem__, horizontal=True, key="net_source")
    try:
        key = library_form() if source == "library" else nir_form()
        if key is not None:
            st.session_state[REQUEST], st.session_state[APPLIED] = key, None
        result = measured(source)
    except ValueError as err:  # bad numbers, a refused file, a memory estimate above the limit
        st.error(layout.plain(err), icon=":material/error:")
        return
    if result is None:
        st.caption("Fill in the numbers or upload a file, then press Measure (about a second for these sizes).")
        return
    report, applied = result
    show_report(report, "base")
    show_suggestions(report)
    if applied is not None:
        s = report.as_dict()["suggestions"][st.session_state[APPLIED]]
        st.subheader("With the suggestion applied")
        st.info(f"Applied: {layout.plain(s['change'])}", icon=":material/replay:")
        show_report(applied, "applied")
    st.subheader("Downloads")
    downloads(report, applied)
