"""The sidebar's "From my library" panel: a network's knobs in snnTorch, SpikingJelly, Norse or plain
PyTorch (surrogate + slope/alpha/scale, the neuron's beta or τ, the threshold) as stabviz's setting.

The translation is the CLI ``translate``'s own table (stabviz.surrogates.translate: LIBRARY_SURROGATES
for the surrogate, LIBRARY_NEURONS for the leak and the reset); this module only draws it.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from stabviz import surrogates
from stabviz.ui import sliders, state

LIBRARY_NAMES = {"snntorch": "snnTorch", "spikingjelly": "SpikingJelly", "norse": "Norse", "pytorch": "PyTorch"}
RESET_WORDS = {"subtract": "subtract θ (L1)", "mult1": "multiply (1 − z), whole voltage (L2)",
               "mult2": "multiply (1 − z), leak term only (L3)"}
PANEL = "library_panel"
RESULT = "_library_result"


def surrogate_choices(library: str) -> list[str]:
    """The translation table's surrogates of ``library``, in the table's order."""
    return [n for n in surrogates.LIBRARY_SURROGATES if surrogates.library_of(n) == library]


def _typed(text: str) -> Any:
    """None (the library's default) for an empty field, a float for a number; other text is passed on
    for the translation to refuse by name."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def translate(surrogate: str, knob: str, leak_knob: str, threshold: str) -> dict[str, Any]:
    """The setting fields of the typed knobs (empty = the library's default); ValueError says what is wrong."""
    return surrogates.setting_from_library(surrogate, *map(_typed, (knob, leak_knob, threshold)))


def summary(values: dict[str, Any]) -> str:
    """The translated setting in one line of Markdown."""
    tail = f", q = {values['tail']:g}" if values["shape"] == "qpseudospike" else ""
    tau = sliders.tau_text(values["leak"])
    return (f"**{values['shape']}**, γ = {values['dampening']:g}, β = {values['sharpness']:g}{tail}; "
            f"leak α = {values['leak']:.6g} (τ = {tau}), θ = {values['threshold']:g}; reset "
            f"{RESET_WORDS[values['reset']]}, reset gradient {'on' if values['reset_grad'] else 'off'}")


def draw() -> None:
    """The panel as a lazy expander (drawn only while open, like the advanced controls)."""
    panel = st.expander("From my library: snnTorch, SpikingJelly, Norse, PyTorch", key=PANEL, on_change="rerun",
                        icon=":material/input:")
    if panel.open:
        with panel:
            _panel()


def _panel() -> None:
    ss = st.session_state
    library = st.selectbox("Library", list(LIBRARY_NAMES), format_func=LIBRARY_NAMES.__getitem__, key="lib_library")
    choices = surrogate_choices(library)
    if ss.get("lib_surrogate") not in choices:
        ss["lib_surrogate"] = choices[0]
    surrogate = st.selectbox("Surrogate", choices, key="lib_surrogate",
                             format_func=lambda n: f"{n.partition('.')[2]}  σ' = {surrogates.LIBRARY_SURROGATES[n][2]}")
    knob, knob_default, _ = surrogates.LIBRARY_SURROGATES[surrogate]
    neuron, leak_knob, leak_default, leak_formula, *_ = surrogates.LIBRARY_NEURONS[library]
    cols = st.columns(3)
    texts = [cols[0].text_input(knob, placeholder=f"{knob_default:g}", key="lib_knob"),
             cols[1].text_input(leak_knob, placeholder=f"{leak_default:g}", key="lib_leak",
                                help=f"{neuron}: {leak_formula}"),
             cols[2].text_input("threshold", placeholder="1", key="lib_threshold")]
    st.caption(f"Empty fields take the library's defaults. Neuron: {neuron}, {leak_formula}.")
    try:
        values = translate(surrogate, *texts)
    except ValueError as err:
        st.error(str(err), icon=":material/error:")
        return
    ss[RESULT] = values
    st.markdown(summary(values))
    st.button("Use these values", key="lib_use", icon=":material/check:", width="stretch",
              on_click=lambda: state.apply(ss[RESULT]))
