"""Explore's *Recommended initialisation* tab: the whole settings to choose from, the verdict on the chosen
one, the layer built in each library and the surrogate in other libraries.

Everything here is drawn from one :class:`stabviz.ui.advice.Setting` (the chosen one): its label, its
snippet, its library calls and the Confirm run beside the map all read the same record, so the code a
user copies builds the network that was judged. A setting whose calibrated band crosses a regime edge is
never called a fix: the tab says the theory can't tell, and offers to simulate exactly that network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from stabviz.config import LIFConfig
from stabviz.ui import advice, compute, layout, snippets, state
from stabviz.ui.advice import Setting

#: the radio's key (and the session entry the Confirm button reads)
PICK = "rec_option"
#: the settings this session asked to measure (their compute keys)
MEASURE_FLAG = "_measured_settings"


def chosen(choices: Sequence[Setting]) -> Setting:
    """The setting picked in the tab (the setting as set until one is picked)."""
    return advice.by_label(choices, st.session_state.get(PICK))


def picker(choices: Sequence[Setting]) -> Setting:
    """The radio of whole settings, each with its verdict; returns the chosen one."""
    labels = [s.label for s in choices]
    if st.session_state.get(PICK) not in labels:  # by default the recommended setting
        st.session_state[PICK] = advice.default_choice(choices).label
    described = {s.label: s.describe() for s in choices}
    st.radio(
        "Setting",
        labels,
        key=PICK,
        format_func=described.__getitem__,
        on_change=state.picked,
        args=(PICK,),
        help="Each entry is one whole network: its weights (as set, or conditions I and II) and its surrogate, "
        "with the outcome model's P(collapse). *recommended* entries come from the outcome model (fitted "
        "on measured training runs); the others are the theory's ρ² = 1 options, what the paper proposes, "
        "labelled with what the outcome model expects of them. The snippet, the library calls and "
        "*Confirm with a short run* all use the setting picked here.",
    )
    return chosen(choices)


def _ask_measure(key: LIFConfig) -> None:
    st.session_state.setdefault(MEASURE_FLAG, set()).add(key)


def verdict(setting: Setting) -> None:
    """What the outcome model expects of the chosen setting, then what the theory says: a fix, a definite
    regime, or "measure it" with the button."""
    if setting.outcome is not None:
        o = setting.outcome
        text = (
            f"Outcome model: {o['verdict']}, P(collapse) {o['p_collapse']:.2f}, expected shortfall "
            f"{100 * o['shortfall']:.0f}% (from the theory's predicted initial gain)."
        )
        if o.get("harmful"):
            st.warning(text + " The outcome data call this setting harmful.", icon=":material/warning:")
        else:
            st.info(text, icon=":material/insights:")
    if setting.recommended:  # chosen by measured outcomes: the theory's band is detail here
        lo, hi = setting.band
        st.caption(
            f"The theory at this setting: {setting.regime}, calibrated band {lo:+.1f} to {hi:+.1f} decades "
            f"over T = {setting.cfg.steps}."
        )
        return
    lo, hi = setting.band
    band = f"calibrated band {lo:+.1f} to {hi:+.1f} decades over T = {setting.cfg.steps}"
    if setting.is_fix:
        st.success(f"A fix: the whole {band} lies within ±{setting.cfg.tolerance:g}.", icon=":material/check:")
    elif setting.cant_tell:
        why = (
            f"The {band} crosses a regime edge"
            if setting.regime == "uncertain"
            else f"The voltage model is off here, so the {band} is no guarantee ({layout.plain(setting.warnings[0])})"
        )
        st.warning(
            f"{advice.CANT_TELL}. {why}" + (", although ρ² = 1 in theory." if setting.solved else "."),
            icon=":material/help:",
        )
        measure(setting)
    else:
        st.info(f"Not a fix: {setting.regime} (the whole {band}).", icon=":material/info:")


def measure(setting: Setting) -> None:
    """The button that simulates exactly this network (its weights, input and surrogate), then its result."""
    key = setting.cfg
    if key not in st.session_state.get(MEASURE_FLAG, set()):
        st.button(
            "Measure this setting (Monte-Carlo, CPU)",
            key="measure_setting",
            on_click=_ask_measure,
            args=(key,),
            icon=":material/science:",
            help="Simulates this whole network (its initialisation, input and surrogate) for 300 steps and "
            "pushes a gradient back through its last T steps. Seconds on the CPU; cached per setting.",
        )
        st.caption("The *Measured layer* toggle above the map measures the whole map at the sliders' setting.")
        return
    try:
        m = compute.measurement(key)
    except ValueError as err:
        st.warning(f"Not measured: {layout.plain(err)}", icon=":material/block:")
        return
    st.markdown(advice.measured_sentence(m, setting.cfg))


def model(setting: Setting) -> None:
    """The layer built in the chosen library (snippets.library_model) and its notebook download."""
    choice = st.segmented_control(
        "Library",
        list(snippets.LIBRARIES),
        format_func=snippets.LIBRARIES.__getitem__,
        key="snippet_library",
        default="pytorch",
    )
    library = choice or "pytorch"
    code = snippets.library_model(library, setting)
    note = snippets.variant_note(library, setting.cfg.neuron)
    if note:
        st.warning(note[0].upper() + note[1:], icon=":material/warning:")
    st.code(code, language="python")
    title = f"A stabviz LIF layer in {snippets.LIBRARIES[library]}"
    cfg = setting.cfg
    st.download_button(
        "Notebook (.ipynb)",
        lambda: snippets.notebook(code, title, cfg.input_mean, cfg.steps),
        file_name=f"stabviz_{library}.ipynb",
        mime="application/x-ipynb+json",
        key="dl_notebook",
        on_click="ignore",
        icon=":material/download:",
    )


def tab(rec: Mapping[str, Any], choices: Sequence[Setting]) -> None:
    """The whole tab: the picker, the verdict, the layer in your library, the calls in the others."""
    setting = picker(choices)
    verdict(setting)
    st.markdown(
        "The whole recurrent layer of the setting picked above, in your library, ready to train: the "
        "weights drawn from that setting's initialisation (docs/theory.md#3-conditions-i-to-iv for "
        "conditions I and II), transposed for `nn.Linear`, the recurrent bias zeroed, a surrogate that "
        "keeps γ:"
    )
    model(setting)
    st.markdown("The same surrogate in other libraries:")
    st.code(snippets.setting_calls(setting), language="python")
    for note in rec.get("notes", []):
        st.caption(f":material/info: {note}")
