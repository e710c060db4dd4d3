"""The sidebar's "From my library" panel: a network's knobs in snnTorch, SpikingJelly, Norse or plain
PyTorch (surrogate + slope/alpha/scale, the neuron's beta or τ, the threshold) as stabviz's setting,
with what decides the verdict besides them: the number of inputs, their rate and the initialisation.

The translation is the CLI ``translate``'s own table (stabviz.surrogates.translate: LIBRARY_SURROGATES
for the surrogate, LIBRARY_NEURONS for the leak and the reset). The initialisation defaults to the
libraries' own: their layers are torch.nn.Linear, whose default init is U(±1/√fan_in) (stabviz's
"pytorch-default" law), never the preset's Glorot weights.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from stabviz import surrogates
from stabviz.config import LIFConfig, check_number
from stabviz.ui import advice, sliders, state

LIBRARY_NAMES = {"snntorch": "snnTorch", "spikingjelly": "SpikingJelly", "norse": "Norse", "pytorch": "PyTorch"}
RESET_WORDS = {
    "subtract": "subtract θ (L1)",
    "mult1": "multiply (1 − z), whole voltage (L2)",
    "mult2": "multiply (1 − z), leak term only (L3)",
}
PANEL = "library_panel"
RESULT = "_library_result"
#: Each library's default surrogate (what a layer built without spike_grad / surrogate_function / method uses).
DEFAULT_SURROGATE = {
    "snntorch": "snntorch.atan",
    "spikingjelly": "spikingjelly.Sigmoid",
    "norse": "norse.super",
    "pytorch": "pytorch.SurrGradSpike",
}
#: The initialisation of every library's layers: they wrap torch.nn.Linear (kaiming_uniform_(a=√5) =
#: U(±1/√fan_in), input and recurrent alike).
LIBRARY_INIT = "pytorch-default"
#: The initialisations the panel offers (the standard laws of stabviz.config.standard_law), with their names.
INIT_WORDS = {
    "pytorch-default": "nn.Linear's default, U(±1/√fan_in) (snnTorch, Norse, SpikingJelly)",
    "glorot-uniform": "Glorot (Xavier) uniform",
    "glorot-normal": "Glorot (Xavier) normal",
    "he-normal": "He (Kaiming) normal",
    "orthogonal": "orthogonal",
}
#: The setting fields the panel sets: the translated knobs (surrogates.setting_from_library), then the network's.
TRANSLATED = ("shape", "dampening", "sharpness", "tail", "leak", "threshold", "reset", "reset_grad")
NETWORK_FIELDS = ("n_in", "input_mean", "input_var", "init_in", "init_rec")


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


def network(
    base: LIFConfig,
    surrogate: str,
    knob: str = "",
    leak_knob: str = "",
    threshold: str = "",
    n_in: str = "",
    rate: str = "",
    init: str = LIBRARY_INIT,
) -> LIFConfig:
    """The whole network of the typed fields on top of ``base`` (the sidebar's setting: its n_rec, T,
    ...): the translated knobs, ``n_in`` inputs (empty: base's) firing with probability ``rate`` per step
    (Bernoulli: mean p, variance p(1 − p); empty: base's), both weight matrices drawn by ``init``.
    ValueError names the field that is wrong."""
    values = translate(surrogate, knob, leak_knob, threshold)
    count, p = _typed(n_in), _typed(rate)
    if init not in INIT_WORDS:
        raise ValueError(f"initialisation = {init!r} is not one of: {', '.join(INIT_WORDS)}")
    changes: dict[str, Any] = {"init_in": init, "init_rec": init}
    if count is not None:
        changes["n_in"] = check_number("n_in", count)
    if p is not None:
        p = check_number("input rate", p, {"input rate": (0.0, 1.0, True, True)})
        changes.update(input_mean=p, input_var=p * (1 - p))
    return base.replace(**values, **changes)


def library_default(library: str, base: LIFConfig) -> LIFConfig:
    """``library``'s defaults on top of ``base``: its default surrogate, neuron, threshold and initialisation."""
    return network(base, DEFAULT_SURROGATE[library])


def fields_of(cfg: LIFConfig) -> dict[str, Any]:
    """The fields "Use these values" applies to the sidebar's setting."""
    return {k: getattr(cfg, k) for k in TRANSLATED + NETWORK_FIELDS}


def verdict(cfg: LIFConfig) -> str:
    """The prediction at the whole network: the regime (the setting's voltage model) and the initial firing
    rate of both analytic voltage models, with advice on which to believe when they disagree."""
    from stabviz import theory

    preds = {m: p.to_dict() for m, p in theory.predict_all(cfg).items()}
    p = preds.get(cfg.voltage_model) or preds["gaussian"]
    return (
        f"Verdict for this network (n = {cfg.n_rec}, {cfg.n_in} inputs at p = {cfg.input_mean:.4g}, "
        f"{cfg.init_rec} weights): **{p['regime']}** at T = {cfg.steps}. " + advice.rate_sentence(preds)
    )


def summary(values: dict[str, Any]) -> str:
    """The translated setting in one line of Markdown."""
    tail = f", q = {values['tail']:g}" if values["shape"] == "qpseudospike" else ""
    tau = sliders.tau_text(values["leak"])
    return (
        f"**{values['shape']}**, γ = {values['dampening']:g}, β = {values['sharpness']:g}{tail}; "
        f"leak α = {values['leak']:.6g} (τ = {tau}), θ = {values['threshold']:g}; reset "
        f"{RESET_WORDS[values['reset']]}, reset gradient {'on' if values['reset_grad'] else 'off'}"
    )


def draw() -> None:
    """The panel as a lazy expander (drawn only while open, like the advanced controls)."""
    panel = st.expander(
        "From my library: snnTorch, SpikingJelly, Norse, PyTorch", key=PANEL, on_change="rerun", icon=":material/input:"
    )
    if panel.open:
        with panel:
            _panel()


def _panel() -> None:
    ss = st.session_state
    library = st.selectbox("Library", list(LIBRARY_NAMES), format_func=LIBRARY_NAMES.__getitem__, key="lib_library")
    choices = surrogate_choices(library)
    if ss.get("lib_surrogate") not in choices:
        ss["lib_surrogate"] = DEFAULT_SURROGATE[library]
    surrogate = st.selectbox(
        "Surrogate",
        choices,
        key="lib_surrogate",
        format_func=lambda n: f"{n.partition('.')[2]}  σ' = {surrogates.LIBRARY_SURROGATES[n][2]}",
    )
    knob, knob_default, _ = surrogates.LIBRARY_SURROGATES[surrogate]
    neuron, leak_knob, leak_default, leak_formula, *_ = surrogates.LIBRARY_NEURONS[library]
    base = state.setting() or LIFConfig()
    cols = st.columns(3)
    texts = [
        cols[0].text_input(knob, placeholder=f"{knob_default:g}", key="lib_knob"),
        cols[1].text_input(
            leak_knob, placeholder=f"{leak_default:g}", key="lib_leak", help=f"{neuron}: {leak_formula}"
        ),
        cols[2].text_input("threshold", placeholder="1", key="lib_threshold"),
    ]
    cols = st.columns(2)
    texts += [
        cols[0].text_input(
            "inputs n_in",
            placeholder=str(base.n_in),
            key="lib_n_in",
            help="Input channels feeding the layer (empty: the sidebar's).",
        ),
        cols[1].text_input(
            "input rate p",
            placeholder=f"{base.input_mean:g}",
            key="lib_rate",
            help="Firing probability of one input channel per step, 0 to 1 (empty: the sidebar's mean input).",
        ),
        st.selectbox(
            "Weight initialisation",
            list(INIT_WORDS),
            format_func=INIT_WORDS.__getitem__,
            key="lib_init",
            help="Of the input and the recurrent weights. Every library's layers are "
            "torch.nn.Linear: its default is the first entry.",
        ),
    ]
    st.caption(
        f"Empty fields take the library's defaults (inputs and rate: the sidebar's). Neuron: {neuron}, "
        f"{leak_formula}; n = {base.n_rec} neurons from the sidebar."
    )
    try:
        cfg = network(base, surrogate, *texts)
    except ValueError as err:
        st.error(str(err), icon=":material/error:")
        return
    values = fields_of(cfg)
    ss[RESULT] = values
    st.markdown(summary(values))
    st.markdown(verdict(cfg))
    st.button(
        "Use these values",
        key="lib_use",
        icon=":material/check:",
        width="stretch",
        on_click=lambda: state.apply(ss[RESULT]),
    )
