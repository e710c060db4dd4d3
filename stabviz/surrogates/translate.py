"""Other libraries' one-knob surrogates expressed as stabviz's (shape, γ, β, q), and back."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from stabviz.config import DEFAULT_SURROGATE, RANGES, Surrogate, check_choice, check_number, check_range, tau_to_leak
from stabviz.shapes import SHAPE_TABLE

# Other libraries' surrogates (docs/theory.md#24-other-libraries-surrogates), checked against their source:
# snnTorch surrogate.py, SpikingJelly activation_based/surrogate.py, braintools/BrainPy surrogate
# QPseudoSpike, Norse functional/threshold.py and superspike.py. s(x) = 1/(1 + e^{−x}).

#: "library.function" -> (knob, library default, σ'(v) as the library computes it)
LIBRARY_SURROGATES: dict[str, tuple[str, float, str]] = {
    "snntorch.fast_sigmoid": ("slope", 25.0, "1/(1 + slope·|v|)²"),
    "snntorch.atan": ("alpha", 2.0, "(alpha/2)/(1 + (π·alpha·v/2)²)"),
    "snntorch.sigmoid": ("slope", 25.0, "slope·s(slope·v)·(1 − s(slope·v))"),
    "spikingjelly.ATan": ("alpha", 2.0, "(alpha/2)/(1 + (π·alpha·v/2)²)"),
    "spikingjelly.Sigmoid": ("alpha", 4.0, "alpha·s(alpha·v)·(1 − s(alpha·v))"),
    "spikingjelly.QPseudoSpike": ("alpha", 2.0, "(1 + 2|v|/(alpha − 1))^(−alpha)"),
    "braintools.QPseudoSpike": ("alpha", 2.0, "(1 + 2|v|/(alpha + 1))^(−alpha)"),
    "brainpy.QPseudoSpike": ("alpha", 2.0, "(1 + 2|v|/(alpha + 1))^(−alpha)"),
    # SuperSpike as Norse documents it; Norse 1.1.0's backward ignores alpha (it computes 1/(1 + |v|)²), so the
    # snippets differentiate with their own surrogate instead of Norse's
    "norse.super": ("alpha", 100.0, "1/(1 + alpha·|v|)²  (SuperSpike; Norse 1.1.0 ignores alpha)"),
    "norse.triangle": ("alpha", 0.3, "alpha·max(1 − |v|, 0)"),
    # plain PyTorch: the SuperSpike SurrGradSpike of Zenke's SpyTorch tutorial, the usual hand-written one
    "pytorch.SurrGradSpike": ("scale", 100.0, "1/(scale·|v| + 1)²"),
}

# name -> (stabviz shape, knob -> (γ, β, q), what the knob sets, β -> knob for width-setting knobs)
_LIBRARY_MAPS = {
    "snntorch.fast_sigmoid": ("fastsigmoid", lambda k: (1.0, k / 2.0, None), "width", lambda b: 2.0 * b),
    "snntorch.atan": ("cauchy", lambda a: (a / 2.0, a / 2.0, None), "coupled", lambda b: 2.0 * b),
    "snntorch.sigmoid": ("sigmoid", lambda k: (k / 4.0, k / 4.0, None), "coupled", lambda b: 4.0 * b),
    "spikingjelly.ATan": ("cauchy", lambda a: (a / 2.0, a / 2.0, None), "coupled", lambda b: 2.0 * b),
    "spikingjelly.Sigmoid": ("sigmoid", lambda a: (a / 4.0, a / 4.0, None), "coupled", lambda b: 4.0 * b),
    "spikingjelly.QPseudoSpike": ("qpseudospike", lambda a: (1.0, 1.0, a), "tail", None),
    "braintools.QPseudoSpike": ("qpseudospike", lambda a: (1.0, (a - 1.0) / (a + 1.0), a), "tail", None),
    "brainpy.QPseudoSpike": ("qpseudospike", lambda a: (1.0, (a - 1.0) / (a + 1.0), a), "tail", None),
    "norse.super": ("fastsigmoid", lambda a: (1.0, a / 2.0, None), "width", lambda b: 2.0 * b),
    "norse.triangle": ("triangular", lambda a: (a, 1.0, None), "height", None),
    "pytorch.SurrGradSpike": ("fastsigmoid", lambda k: (1.0, k / 2.0, None), "width", lambda b: 2.0 * b),
}

#: library -> (its LIF neuron, leak knob, knob default, α as the neuron's update computes it, the stabviz
#: reset (and reset gradient) of the neuron's default reset). Each library discretises the membrane its
#: own way, so the same τ is a different α (docs/theory.md#24-other-libraries-surrogates).
LIBRARY_NEURONS: dict[str, tuple[str, str, float, str, str, bool]] = {
    # mem = beta·mem + input + recurrent(spk) − reset·θ, the reset detached: (L1)
    "snntorch": ("snn.RLeaky", "beta", 0.95, "α = beta", "subtract", False),
    # decay_input=False: v = v − v/tau + x, hard reset to v_reset = 0 (L3), the reset not detached
    "spikingjelly": ("neuron.LIFNode(decay_input=False)", "tau", 2.0, "α = 1 − 1/tau", "mult2", True),
    # v = v + dt·tau_mem_inv·(i − v), reset to v_reset = 0 (L3), not detached; input scaled by dt·tau_mem_inv
    "norse": ("LIFBoxCell", "dt·tau_mem_inv", 0.1, "α = 1 − dt·tau_mem_inv", "mult2", True),
    "pytorch": ("your own loop", "tau", 20.0, "α = exp(−1/tau)", "subtract", False),
}
_LEAK_OF_KNOB = {
    "snntorch": lambda k: k,
    "spikingjelly": lambda tau: 1.0 - 1.0 / tau,
    "norse": lambda x: 1.0 - x,
    "pytorch": tau_to_leak,
}


@dataclass(frozen=True)
class Translation:
    """One library function's knob setting for a stabviz surrogate. ``exact`` is False when the library
    cannot express it; ``note`` then says what differs and what the given knob value matches."""

    name: str
    knob: str
    value: float
    exact: bool
    note: str


def _library_name(name: str) -> str:
    check_choice("library", name, tuple(LIBRARY_SURROGATES))
    return name


def from_library(name: str, value: Any = None) -> Surrogate:
    """The (shape, γ, β, q) a library surrogate computes; ``value`` None = the library's default knob.

    e.g. ``from_library("snntorch.sigmoid")`` (slope 25) is the sigmoid surrogate with γ = β = 6.25 (peak 6.25).
    """
    knob, default, _ = LIBRARY_SURROGATES[_library_name(name)]
    x = default if value is None else value
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{knob} = {value!r} is not a number ({name})") from None
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{knob} = {value!r} is outside the allowed range (0, inf) ({name})")
    shape, to_params, _, _ = _LIBRARY_MAPS[name]
    g, b, q = to_params(x)
    try:
        return Surrogate(shape, g, b, DEFAULT_SURROGATE.tail if q is None else q)
    except ValueError as err:
        raise ValueError(f"{name}({knob}={x:g}) is outside stabviz's ranges: {err}") from None


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)


def _as_library_shape(lib_shape: str, shape: str, g: float, b: float, q: float):
    """(γ, β, q) of the user's surrogate written in ``lib_shape``, or None when the shapes differ
    (a record's ``special_case`` holds in both directions: the fast sigmoid is q-PseudoSpike at q = 2)."""
    if shape == lib_shape:
        return g, b, q
    mine, theirs = SHAPE_TABLE[shape].special_case, SHAPE_TABLE[lib_shape].special_case
    if mine and mine[0] == lib_shape:
        return g, b, mine[1]
    if theirs and theirs[0] == shape and _close(q, theirs[1]):
        return g, b, theirs[1]
    return None


def to_library(name: str, sg: Surrogate | str = DEFAULT_SURROGATE) -> Translation:
    """The library knob that reproduces the surrogate ``sg`` (shape, γ, β, q), or the closest one with
    exact=False.

    Closest means: same sharpness β (the width) for knobs that set width or couple height and width,
    the same tail q for q-PseudoSpike knobs, the same height γ for Norse's triangle; the note says what
    the user gets instead. A different shape gets the knob matching β, or the library default.
    """
    knob, default, formula = LIBRARY_SURROGATES[_library_name(name)]
    sg = Surrogate.of(sg)
    shape, g, b, q = sg.shape, float(sg.dampening), float(sg.sharpness), float(sg.tail)
    lib_shape, to_params, controls, knob_of_beta = _LIBRARY_MAPS[name]
    mine = _as_library_shape(lib_shape, shape, g, b, q)
    if mine is None:
        return _other_shape(name, knob, default, lib_shape, shape, g, b)
    g, b, q = mine
    if controls == "width":  # γ = 1 fixed, β = knob/2
        value = knob_of_beta(b)
        return _verdict(
            name,
            knob,
            value,
            _close(g, 1.0),
            f"height fixed at 1 (yours γ={g:g}): {knob}={value:g} matches β={b:g}; "
            f"multiply the gradient by {g:g} to match the height",
        )
    if controls == "coupled":  # γ = β = knob/2 (atan) or knob/4 (sigmoid)
        value = knob_of_beta(b)
        return _verdict(
            name,
            knob,
            value,
            _close(g, b),
            f"height and width are coupled (γ = β): {knob}={value:g} matches β={b:g}, "
            f"peak height is {b:g} instead of γ={g:g}",
        )
    if controls == "height":  # norse triangle: γ = knob, β = 1
        return _verdict(
            name,
            knob,
            g,
            _close(b, 1.0),
            f"width fixed (β = 1, support |v| < 1): {knob}={g:g} matches the height, yours has β={b:g}",
        )
    lg, lb, _ = to_params(q)  # q-PseudoSpike knobs set q; γ and β follow
    return _verdict(
        name,
        knob,
        q,
        _close(g, lg) and _close(b, lb),
        f"{knob}={q:g} matches the tail q; the library fixes γ={lg:g}, β={lb:.6g} (yours γ={g:g}, β={b:g})",
    )


def _other_shape(name: str, knob: str, default: float, lib_shape: str, shape: str, g: float, b: float) -> Translation:
    """The closest knob when the library function has another shape than the user's."""
    _, to_params, controls, knob_of_beta = _LIBRARY_MAPS[name]
    head = f"different shape: {name} is {lib_shape}, yours is {shape}; "
    if controls == "tail":
        return Translation(name, knob, float(default), False, head + f"{knob}={default:g} is the library default")
    if controls == "height":
        return Translation(name, knob, g, False, head + f"{knob}={g:g} matches the peak height γ (width β = 1)")
    value = knob_of_beta(b)
    lg, lb, _ = to_params(value)
    return Translation(
        name, knob, float(value), False, head + f"{knob}={value:g} matches the sharpness β={lb:g}, peak height {lg:g}"
    )


def _verdict(name: str, knob: str, value: float, exact: bool, mismatch: str) -> Translation:
    return Translation(name, knob, float(value), bool(exact), "exact" if exact else mismatch)


def translation_table(sg: Surrogate | str = DEFAULT_SURROGATE) -> list[Translation]:
    """:func:`to_library` for every entry of :data:`LIBRARY_SURROGATES`, in that order."""
    return [to_library(name, sg) for name in LIBRARY_SURROGATES]


def library_of(name: str) -> str:
    """The library part of a ``LIBRARY_SURROGATES`` name (``snntorch.atan`` -> ``snntorch``)."""
    return _library_name(name).partition(".")[0]


def leak_from_library(library: str, value: Any = None) -> float:
    """The leak α of ``library``'s LIF neuron at its leak knob ``value`` (None = the knob's default),
    checked against stabviz's leak range."""
    check_choice("library", library, tuple(LIBRARY_NEURONS))
    _, knob, default, *_ = LIBRARY_NEURONS[library]
    x = check_number(knob, default if value is None else value, {knob: (0.0, math.inf, False, False)})
    alpha = _LEAK_OF_KNOB[library](x)
    try:
        check_range("leak", alpha)
    except ValueError:
        raise ValueError(
            f"{library}: {knob} = {x:g} gives leak α = {alpha:.6g}, outside stabviz's leak range "
            f"{RANGES['leak'][0]:g} to {RANGES['leak'][1]:g}"
        ) from None
    return alpha


def setting_from_library(name: str, knob: Any = None, leak_knob: Any = None, threshold: Any = None) -> dict[str, Any]:
    """The stabviz setting fields (shape, dampening, sharpness, tail, leak, threshold, reset, reset_grad)
    of a network built in the library of ``name`` with that surrogate, its knob, the neuron's leak knob,
    the threshold and the neuron's default reset (None: each knob's library default; threshold 1, every
    library's default)."""
    sg = from_library(name, knob)
    library = library_of(name)
    *_, reset, reset_grad = LIBRARY_NEURONS[library]
    return {
        **sg.to_dict(),
        "leak": leak_from_library(library, leak_knob),
        "threshold": check_number("threshold", 1.0 if threshold is None else threshold),
        "reset": reset,
        "reset_grad": reset_grad,
    }


# ---------------------------------------------------------------------------------------------
# The neuron variants (stabviz.lif.variants) in other libraries

#: (library, neuron) -> (the library's neuron, the knob of its synaptic decay, the knob's default (None: the
#: library requires it), α_s as the neuron's update computes it). Checked against snnTorch's Synaptic and
#: RSynaptic (syn = alpha·syn + input; mem = beta·mem + syn − reset) and Norse 1.1's lif_feed_forward_step
#: (i += input, v += dt·tau_mem_inv·(i − v), i −= dt·tau_syn_inv·i).
LIBRARY_VARIANTS: dict[tuple[str, str], tuple[str, str, float | None, str]] = {
    ("snntorch", "cuba"): ("snn.Synaptic / snn.RSynaptic", "alpha", None, "α_s = alpha"),
    ("norse", "cuba"): ("LIFCell", "dt·tau_syn_inv", 0.2, "α_s = 1 − dt·tau_syn_inv"),
    ("pytorch", "cuba"): ("your own loop", "tau_syn", 5.0, "α_s = exp(−1/tau_syn)"),
    ("pytorch", "alif"): ("your own loop", "tau_adapt", 200.0, "ρ_a = exp(−1/tau_adapt)"),
}
_SYN_DECAY_OF_KNOB = {"snntorch": lambda k: k, "norse": lambda x: 1.0 - x, "pytorch": lambda tau: math.exp(-1.0 / tau)}
_KNOB_OF_SYN_DECAY = {
    "snntorch": lambda a: a,
    "norse": lambda a: 1.0 - a,
    "pytorch": lambda a: -1.0 / math.log(a) if a > 0 else math.inf,
}

#: (library, neuron) -> why the library has no neuron that computes it
NO_LIBRARY_VARIANT: dict[tuple[str, str], str] = {
    ("snntorch", "alif"): "snnTorch has no adaptive-threshold neuron",
    ("spikingjelly", "alif"): "SpikingJelly has no adaptive-threshold neuron",
    ("spikingjelly", "cuba"): "SpikingJelly's LIFNode has no synaptic current",
    ("norse", "alif"): (
        "Norse's adaptive-threshold neuron (LSNNCell) charges the voltage with the previous "
        "step's current, one step later than this layer, so it is another layer"
    ),
}


@dataclass(frozen=True)
class VariantTranslation:
    """How ``library`` builds a neuron model: its neuron and the knob value for the setting's decay, or,
    when ``neuron`` is None, ``note`` says why the library cannot."""

    library: str
    model: str
    neuron: str | None
    knob: str | None
    value: float | None
    note: str


def syn_decay_from_library(library: str, value: Any = None) -> float:
    """α_s of ``library``'s current-based neuron at its synaptic knob ``value`` (None: the knob's default)."""
    check_choice("library", library, tuple(lib for lib, model in LIBRARY_VARIANTS if model == "cuba"))
    _, knob, default, _ = LIBRARY_VARIANTS[(library, "cuba")]
    if value is None and default is None:
        raise ValueError(f"{library}: {knob} has no default; give its value")
    x = check_number(knob, default if value is None else value, {knob: (0.0, math.inf, False, False)})
    alpha_s = _SYN_DECAY_OF_KNOB[library](x)
    try:
        check_range("syn_decay", alpha_s)
    except ValueError:
        low, high = RANGES["syn_decay"][:2]
        raise ValueError(
            f"{library}: {knob} = {x:g} gives synaptic decay α_s = {alpha_s:.6g}, outside stabviz's "
            f"range {low:g} to {high:g}"
        ) from None
    return alpha_s


def variant_to_library(library: str, cfg: Any) -> VariantTranslation:
    """The neuron and knob value with which ``library`` computes ``cfg.neuron`` (the LIF: LIBRARY_NEURONS),
    or the reason it has none."""
    check_choice("library", library, tuple(LIBRARY_NEURONS))
    model = cfg.neuron
    if model == "lif":
        return VariantTranslation(library, model, LIBRARY_NEURONS[library][0], None, None, "the plain LIF")
    if (library, model) in NO_LIBRARY_VARIANT:
        return VariantTranslation(library, model, None, None, None, NO_LIBRARY_VARIANT[(library, model)])
    neuron, knob, _, formula = LIBRARY_VARIANTS[(library, model)]
    if model == "cuba":
        value = _KNOB_OF_SYN_DECAY[library](float(cfg.syn_decay))
        return VariantTranslation(library, model, neuron, knob, value, f"{formula}: {knob} = {value:.6g}")
    value = -1.0 / math.log(float(cfg.adapt_decay)) if cfg.adapt_decay > 0 else 0.0
    return VariantTranslation(library, model, neuron, knob, value, f"{formula}: {knob} = {value:.6g}")
