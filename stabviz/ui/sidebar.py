"""The shared sidebar: every control of the setting (a LIFConfig), presets, reset and the share link.

Drawn by the router (stabviz.ui.app) on every page, so the setting follows the user from page to page;
:func:`draw` returns the setting, which the router hands to the page. Widgets take their values from
session state only (seeded by :mod:`stabviz.ui.state`), never from a ``value=`` argument,
so a preset, a reset or a map click can move them.
"""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from stabviz.config import (
    FORMULAS,
    IN_INITS,
    INITS,
    NEURONS,
    PRESET_NOTES,
    PRESETS,
    RESETS,
    SHAPES,
    VOLTAGE_MODELS,
    LIFConfig,
    preset,
)
from stabviz.shapes import SHAPE_TABLE
from stabviz.ui import fields, library, runlaunch, sharing, sliders, state, urlstate

#: shape -> the name the selectbox shows (from the shape's record)
SHAPE_NAMES = {name: record.label or name for name, record in SHAPE_TABLE.items()}
RESET_NAMES = {
    "subtract": "subtract θ (L1)",
    "mult1": "multiply (1 − z), whole voltage (L2)",
    "mult2": "multiply (1 − z), leak term only (L3)",
}
INIT_NAMES = {
    "glorot-uniform": "Glorot uniform",
    "glorot-normal": "Glorot normal",
    "he-normal": "He normal",
    "orthogonal": "orthogonal",
    "pytorch-default": "PyTorch default (kaiming-uniform)",
    "uniform": "uniform (mean ± √3·std)",
    "normal": "normal (mean, std)",
    "conditions": "conditions I + II (paper)",
    "fluctuation": "fluctuation-driven (voltage mean 0)",
    "fluctuation-theta": "fluctuation-driven (mean θ)",
}
#: Input spike statistics the reference code uses (docs/theory.md#13-input-statistics-and-the-input-drive-d).
INPUT_STATS = {"sl-MNIST": (0.003673, 0.003659), "SHD": (0.04388, 0.04196), "deeper layer (p = ½)": (0.5, 0.25)}
CUSTOM = "custom"
NEURON_NAMES = {
    "lif": "LIF",
    "alif": "ALIF: adaptive threshold (LSNN)",
    "cuba": "CUBA: synaptic current (snnTorch Synaptic, Norse LIFCell)",
}

SLIDER_LABELS = {
    "dampening": "Dampening γ: surrogate peak height σ'(0)",
    "sharpness": "Sharpness β: inverse surrogate width",
    "tail": "Tail-fatness q (q-PseudoSpike only)",
    "leak": "Leak α = exp(−1/τ): membrane memory",
}
SLIDER_HELP = {
    "dampening": "Condition III sets it so the worst-case one-step gain is 1 (γ_III).",
    "sharpness": "Condition IV sets it so the mean squared one-step gain ρ² is 1 (β*).",
    "tail": "q → 1 fattens the tails; q = 2 is the fast sigmoid; q → ∞ tends to the exponential.",
    "leak": "τ = 0.1 (α ≈ 4.5e-5) is the reference code's default; realistic leaks are τ ≈ 20 (α ≈ 0.95).",
}


def _key(name: str) -> str:
    return state.widget_key(name)


def _apply_preset() -> None:
    choice = st.session_state["preset_choice"]
    if choice != CUSTOM:
        state.apply(preset(choice).to_dict())


def _apply_input_stats() -> None:
    choice = st.session_state.get("input_stats_choice")
    if choice in INPUT_STATS:
        m, v = INPUT_STATS[choice]
        state.apply({"input_mean": m, "input_var": v})
    st.session_state["input_stats_choice"] = None


#: slider -> the symbol its typed twin is labelled with
SYMBOLS = {"dampening": "γ", "sharpness": "β", "tail": "q", "leak": "α"}


def _log_slider(name: str, **kw: Any) -> None:
    """A log slider over its grid and, below it, its typed twin: any value in range, exactly (the slider
    then gets that value as one more stop, so both show the setting's exact value)."""
    opts, labels = sliders.stops(name, st.session_state[_key(name)])
    st.select_slider(
        SLIDER_LABELS[name], options=opts, format_func=labels.__getitem__, key=_key(name), help=SLIDER_HELP[name], **kw
    )
    twin = lambda key, label, text, parse: _twin(name, key, label, text, parse, **kw)
    if name != "leak":
        twin(
            f"exact_{name}",
            f"{SYMBOLS[name]} exactly",
            sliders.exact_text,
            lambda text: sliders.parse_exact(name, text),
        )
        return
    cols = st.columns(2)
    with cols[0]:
        twin("exact_leak", "α exactly", sliders.exact_text, lambda text: sliders.parse_exact(name, text))
    with cols[1]:
        twin("exact_tau", "or τ (steps)", sliders.tau_text, sliders.parse_tau)


def _twin(name: str, key: str, label: str, text: Any, parse: Any, **kw: Any) -> None:
    """A text field holding the setting's ``name`` exactly. Typing a valid value sets it (slider, URL,
    everything); a bad one keeps the text and says why below it, the setting unchanged. Whenever the
    setting moves by other means (slider, preset, map click, library panel) the text follows."""
    ss = st.session_state
    value, synced, error = ss[_key(name)], f"_synced_{key}", f"_error_{key}"
    if ss.get(synced) != value or key not in ss:
        ss[key], ss[synced] = text(value), value
        ss.pop(error, None)

    def typed() -> None:
        try:
            new = parse(ss[key])
        except ValueError as err:
            ss[error] = str(err)
            return
        ss.pop(error, None)
        state.apply({name: new})
        ss[synced] = new

    st.text_input(label, key=key, on_change=typed, help="Type any value in range; the slider gets it as a stop.", **kw)
    if ss.get(error):
        st.error(ss[error], icon=":material/error:")


def _number(name: str, label: str, *, step: float | int, fmt: str | None = None, **kw: Any) -> None:
    """A setting's number field: an empty or out-of-range value is named in red under it, and the setting
    keeps its last valid value meanwhile (state.widget_values skips the field)."""
    integer = name in urlstate.INTEGERS
    kept = urlstate.format_field(name, st.session_state[state.SETTING][name])
    _, why = fields.number(
        st,
        label,
        name,
        _key(name),
        step=step,
        format=fmt or ("%d" if integer else "%g"),
        note=f". The setting keeps {name} = {kept}.",
        **kw,
    )
    if why:
        st.session_state[state.INVALID][name] = why


def draw() -> LIFConfig | None:
    """Draw the setting's controls in the sidebar; returns the setting they form, or None when it is
    impossible (:func:`stabviz.ui.layout.setting_error` says why)."""
    ss = st.session_state
    ss["preset_choice"] = urlstate.matching_preset(ss[state.SETTING], PRESETS) or CUSTOM
    with st.sidebar:
        st.selectbox(
            "Preset",
            [CUSTOM, *PRESETS],
            key="preset_choice",
            on_change=_apply_preset,
            help="Fills every control at once. " + " ".join(f"**{k}**: {v}" for k, v in PRESET_NOTES.items()),
        )
        st.button(
            "Reset to defaults",
            on_click=state.reset_to_defaults,
            width="stretch",
            icon=":material/restart_alt:",
            help="Every control back to its default (the paper's sl-MNIST layer).",
        )
        library.draw()
        st.selectbox("Surrogate shape", SHAPES, key=_key("shape"), format_func=SHAPE_NAMES.__getitem__)
        _log_slider("dampening")
        _log_slider("sharpness")
        _log_slider("tail", disabled=ss[_key("shape")] != "qpseudospike")
        _log_slider("leak")
        cols = st.columns(2)
        with cols[0]:
            _number("n_rec", "Neurons n", step=1, help="Recurrent LIF neurons in the layer.")
        with cols[1]:
            _number("n_in", "Inputs n_in", step=1, help="Input channels.")
        cols = st.columns(2)
        with cols[0]:
            _number("threshold", "Threshold θ", step=0.001)
        with cols[1]:
            _number("steps", "Time steps T", step=10, help="How many steps the gradient travels back.")
        _neuron()
        st.segmented_control(
            "Voltage model",
            VOLTAGE_MODELS,
            key=_key("voltage_model"),
            required=True,
            help="uniform: the paper's code; gaussian: mean-field (stabviz); measured: a "
            "quick Monte-Carlo simulation of the initialised layer (CPU).",
        )
        # Lazy: the dozen advanced widgets are drawn only while open (a rerun costs ~1 ms per widget);
        # their values live on in the session's copy of the setting (state.begin restores them).
        advanced = st.expander("Advanced: reset, initialisation, inputs", key="advanced", on_change="rerun")
        if advanced.open:
            with advanced:
                _advanced()
        _shared_panel()
    state.widget_values()
    return state.setting()


def _neuron() -> None:
    """The neuron model and, for alif / cuba, its parameters (docs/theory.md section 9)."""
    st.selectbox(
        "Neuron model",
        NEURONS,
        key=_key("neuron"),
        format_func=NEURON_NAMES.__getitem__,
        help="LIF: the paper's neuron. ALIF: threshold θ + β_a·a_t with a spike trace a_t of time "
        "constant τ_a. CUBA: the input passes a synaptic current with time constant τ_s first.",
    )
    neuron = st.session_state[_key("neuron")]
    if neuron == "alif":
        cols = st.columns(2)
        with cols[0]:
            _number("adapt_strength", "Adaptation β_a", step=0.1, help="θ_t = θ + β_a a_t (the LSNN's 1.8).")
        with cols[1]:
            _number(
                "adapt_decay",
                "Trace decay ρ_a",
                step=0.001,
                fmt="%.6g",
                help="ρ_a = exp(−1/τ_a): the spike trace's memory (τ_a = 200 steps: 0.995).",
            )
        st.checkbox(
            "Gradient through the adaptation",
            key=_key("adapt_grad"),
            help="Off: the threshold is a fixed input of each step (a stop-gradient on a_t).",
        )
        st.caption(f"τ_a = {_tau_of(st.session_state[_key('adapt_decay')])} steps")
    elif neuron == "cuba":
        _number(
            "syn_decay",
            "Synaptic decay α_s",
            step=0.01,
            fmt="%.6g",
            help="α_s = exp(−1/τ_s): i_t = α_s i_(t−1) + I_t (τ_s = 5 steps: 0.819).",
        )
        st.caption(f"τ_s = {_tau_of(st.session_state[_key('syn_decay')])} steps")


def _tau_of(decay: Any) -> str:
    """τ = −1/ln ρ as text (a cleared or out-of-range field shows a dash)."""
    if not isinstance(decay, (int, float)) or not 0 < decay < 1:
        return "–"
    return f"{-1 / math.log(decay):.4g}"


def _shared_panel() -> None:
    """On a shared dashboard (stabviz.ui.sharing): say so, and take the run token when the host set one."""
    mode = sharing.launching()
    if mode == "open":
        return
    st.divider()
    st.markdown(":material/groups: **Shared dashboard**")
    if mode == "off":
        st.caption(
            "Launching, cancelling, tagging and deleting training runs is switched off here: the host "
            "has set no run token. Everything else works."
        )
        return
    st.text_input(
        "Run token",
        type="password",
        key=runlaunch.TOKEN,
        autocomplete="off",
        help="Launching training runs here, and cancelling, tagging or deleting your own, needs the "
        "token the host gave you.",
    )
    st.caption(
        f"Each visitor may have {sharing.max_runs()} runs queued or running at once, counted by "
        "address: every tab of yours counts together."
    )


def _init_controls(which: str, label: str, choices, mean_label: str, std_label: str) -> None:
    """An initialiser choice and its mean/std inputs, which only the uniform and normal laws use."""
    st.selectbox(label, choices, key=_key(f"init_{which}"), format_func=INIT_NAMES.__getitem__)
    fixed_law = st.session_state[_key(f"init_{which}")] not in ("uniform", "normal")
    cols = st.columns(2)
    with cols[0]:
        _number(f"{which}_mean", mean_label, step=0.001, disabled=fixed_law)
    with cols[1]:
        _number(f"{which}_std", std_label, step=0.01, disabled=fixed_law)


def _advanced() -> None:
    st.selectbox("Reset mode", RESETS, key=_key("reset"), format_func=RESET_NAMES.__getitem__)
    st.checkbox(
        "Gradient through reset",
        key=_key("reset_grad"),
        help="Off in the paper: the reset term is detached (stop-gradient).",
    )
    _init_controls("rec", "Recurrent initialisation", INITS, "Recurrent mean", "Recurrent std")
    if st.session_state[_key("init_rec")] == "fluctuation":
        _number(
            "rec_share",
            "Recurrent share of σ_U²",
            step=0.05,
            help="Fluctuation-driven init: the share of the free voltage's variance the recurrent weights "
            "carry (the input weights carry the rest; Rossbroich, Gygax & Zenke's default 0.1).",
        )
    _init_controls("in", "Input initialisation", IN_INITS, "Input weight mean", "Input weight std")
    st.markdown("**Input statistics** (spikes per channel and step)")
    st.pills("Fill from", list(INPUT_STATS), key="input_stats_choice", on_change=_apply_input_stats)
    cols = st.columns(2)
    with cols[0]:
        _number("input_mean", "Input mean m_x", step=0.001)
    with cols[1]:
        _number("input_var", "Input variance v_x", step=0.001)
    _number("bias", "Bias b", step=0.001)
    st.radio(
        "Formula variant",
        FORMULAS,
        key=_key("formula"),
        horizontal=True,
        help="derived: first-principles forms (default); code: as the reference code computes them.",
    )
    cols = st.columns(2)
    with cols[0]:
        _number(
            "tolerance",
            "Stable band ± decades",
            step=0.1,
            help="A gradient gain over T within ± this many decades (powers of ten) counts as stable.",
        )
    with cols[1]:
        _number("seed", "Seed", step=1)


def draw_share(link_slot: Any) -> None:
    """Fill the share-link slot (drawn at the end of the run, when the page's own parameters are known)."""
    with link_slot.container():
        st.caption("Link to this exact view (copy icon at the right):")
        st.code(state.share_link(), language=None, wrap_lines=True)
