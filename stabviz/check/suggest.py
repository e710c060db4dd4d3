"""Whole changes in the user's own library's terms. Each is applied to a private copy and re-measured."""

from __future__ import annotations

from typing import Any

import torch

from stabviz import theory
from stabviz.check.layers import modules_by_name
from stabviz.config import Surrogate
from stabviz.surrogates import to_library

PROMISES = ("gain_up", "gain_down", "rate_up", "rate_down", "no_nan")


def candidates(
    layers, described: list[dict], configs: list, ranges: list, regime: str, hazard_kinds: set
) -> list[dict[str, Any]]:
    """Suggestions as {change, code, why, promise, apply(copy_modules)}: surrogate knobs solved by the theory
    when the gain vanishes or explodes, a weight scale for dead or saturated layers, a NaN-free surrogate,
    a detached reset."""
    out = []
    if regime in ("vanishing", "exploding"):
        s = _surrogate_change(layers, described, configs, regime)
        if s:
            out.append(s)
    if regime == "vanishing":
        s = _leak_change(layers, described)
        if s:
            out.append(s)
    for i, d in enumerate(described):
        kinds = {h for (layer, h) in hazard_kinds if layer == d["name"]}
        if ("dead" in kinds or "saturated" in kinds) and d.get("feeder"):
            s = _weight_scale(i, d, ranges[i], "dead" in kinds)
            if s:
                out.append(s)
    nan_layers = [
        i
        for i, d in enumerate(described)
        if {(d["name"], "nan_surrogate"), (d["name"], "nan_surrogate_near")} & hazard_kinds
    ]
    if nan_layers:
        s = _nan_free(layers, described, nan_layers)
        if s:
            out.append(s)
    undetached = [i for i, d in enumerate(described) if (d["name"], "undetached_reset") in hazard_kinds]
    if undetached:
        out.append(_detach(layers, undetached, regime))
    return out


def _surrogate_change(layers, described, configs, regime):
    """Condition IV solved for each layer's own knob (keep γ, solve β; else keep β, solve γ), written as the
    library function's knob value."""
    changes, texts = {}, []
    for i, (d, cfg) in enumerate(zip(described, configs)):
        key = d["surrogate"]["library_key"]
        if cfg is None or key is None:
            continue
        options, _ = theory.recommendation_options(cfg)
        if not options:
            continue
        o = options[0]
        if key == "stabviz":  # stabviz's own layer takes (γ, β, q) as they are: its knob is β
            value, knob, note = o["sharpness"], "sharpness", ""
        else:
            option = cfg.surrogate.replace(dampening=o["dampening"], sharpness=o["sharpness"], tail=o["tail"])
            t = to_library(key, option)
            value, knob, note = t.value, t.knob, "" if t.exact else f" ({t.note})"
        if not abs(value - d["surrogate"]["knob"]) > 1e-9 * abs(value):
            continue
        changes[i] = (key, value)
        texts.append(f"{d['name']}: {knob} {d['surrogate']['knob']:g} → {value:.4g}{note}")
        if key == "stabviz" and layers[i].library == "stabviz":  # one LIFConfig sets every layer: the first's β*
            break
    if not changes:
        return None

    def apply(mods, work):
        for i, (key, value) in changes.items():
            layers[i].adapter.set_surrogate(mods[i], key, value)

    def between(fraction: float) -> dict[str, Any]:
        """The same change a ``fraction`` of the way in log(knob) from the user's knob to the theory's."""
        part = {
            i: (key, described[i]["surrogate"]["knob"] ** (1 - fraction) * value**fraction)
            for i, (key, value) in changes.items()
        }

        def apply_part(mods, work):
            for i, (key, value) in part.items():
                layers[i].adapter.set_surrogate(mods[i], key, value)

        return {
            "change": f"surrogate knob between yours and condition IV's (a fraction {fraction:.3g} of the way "
            "in log(knob)), where the measured gain crosses 0",
            "code": _code_text(layers, part),
            "why": "condition IV's knob missed the stable band when measured",
            "promise": "gain_up" if regime == "vanishing" else "gain_down",
            "apply": apply_part,
        }

    return {
        "change": "surrogate knob from condition IV (ρ² = 1): " + "; ".join(texts),
        "code": _code_text(layers, changes),
        "why": f"the measured gain is {regime}",
        "promise": "gain_up" if regime == "vanishing" else "gain_down",
        "apply": apply,
        "between": between,
    }


def leak_target(steps: int) -> float:
    """The leak whose own decay costs one decade over T: α^T = 10⁻¹ (the stable band's edge)."""
    return 10 ** (-1.0 / steps)


def _leak_change(layers, described):
    """Raise every layer's leak to α = 10^(−1/T): the membrane alone then loses at most one decade over T."""
    target = leak_target(described[0]["T"])
    idx = [i for i, d in enumerate(described) if d["leak"] < target and hasattr(layers[i].adapter, "set_leak")]
    if not idx:
        return None
    knob = {
        "snntorch": f"beta={target:.4g}",
        "spikingjelly": f"tau={1 / (1 - target):.4g}",
        "stabviz": f"LIFConfig(leak={target:.4g})",
        "nir": f"tau = dt/(1 − {target:.4g}), r = tau/dt",
        "norse": f"tau_mem_inv=(1 − {target:.4g})/dt",
    }

    def apply(mods, work):
        for i in idx:
            layers[i].adapter.set_leak(mods[i], target)

    before = ", ".join(format(described[i]["leak"], ".4g") for i in idx)
    return {
        "change": f"a slower leak, α = {target:.4g} (from {before})",
        "code": "; ".join(f"{layers[i].name}: {knob[layers[i].library]}" for i in idx),
        "why": "with α below 10^(−1/T) the membrane's own decay loses more than a decade over T",
        "promise": "gain_up",
        "apply": apply,
    }


def _code_text(layers, changes) -> str:
    """The library code of the change, without touching any module."""
    from stabviz.surrogates import LIBRARY_SURROGATES

    parts = []
    for i, (key, value) in changes.items():
        lib, _, name = key.partition(".")
        if lib == "stabviz":
            nir = layers[i].library == "nir"
            parts.append(f"--sharpness {value:.4g}" if nir else f"LIFConfig(sharpness={value:.4g})")
            continue
        knob = LIBRARY_SURROGATES[key][0]
        if lib == "snntorch":
            parts.append(f"{layers[i].name}: spike_grad=surrogate.{name}({knob}={value:.4g})")
        elif lib == "spikingjelly":
            parts.append(f"{layers[i].name}: surrogate_function=surrogate.{name}(alpha={value:.4g})")
        else:
            parts.append(f"{layers[i].name}: LIFParameters(method={name!r}, alpha={value:.4g})")
    return "; ".join(parts)


def _weight_scale(i: int, d: dict, vrange, dead: bool):
    """Scale the weights feeding a dead layer until its highest membrane reaches 1.5 θ (at least ×1.5), or
    those feeding a saturated layer until it falls to θ/2 (at most ×0.5), from the membrane range seen."""
    theta = d["threshold"]
    if dead:
        top = None if vrange is None else vrange[1] + theta
        factor = 4.0 if top is None or top <= 0 else min(max(1.5 * theta / top, 1.5), 1000.0)
    else:  # bring the highest membrane seen down to about θ/2 (at most ×0.5)
        top = None if vrange is None else vrange[1] + theta
        factor = 0.5 if top is None or top <= 0 else min(max(0.5 * theta / top, 0.01), 0.5)
    feeder = d["feeder"]

    def apply(mods, work):
        scale_change(modules_by_name(work), feeder, factor)

    return {
        "change": f"scale the weights feeding {d['name']} ({feeder}) by {factor:.3g}",
        "code": f"with torch.no_grad(): model.{feeder}.weight.mul_({factor:.4g})",
        "why": f"{d['name']} is {'dead' if dead else 'saturated'}",
        "promise": "rate_up" if dead else "rate_down",
        "apply": apply,
        "layer": d["name"],
    }


def _nan_free(layers, described, idx):
    """A surrogate of the same library whose backward stays finite, at the same sharpness β."""
    changes = {}
    for i in idx:
        d = described[i]
        lib = layers[i].library
        target = {"snntorch": "snntorch.fast_sigmoid", "spikingjelly": "spikingjelly.ATan", "norse": "norse.super"}.get(
            lib
        )
        sg = d["surrogate"]
        if sg["shape"] is None or target is None:
            continue
        t = to_library(target, Surrogate(sg["shape"], sg["dampening"], sg["sharpness"], sg["tail"]))
        changes[i] = (target, t.value)
    if not changes:
        return None

    def apply(mods, work):
        for i, (key, value) in changes.items():
            layers[i].adapter.set_surrogate(mods[i], key, value)

    return {
        "change": "a surrogate whose backward stays finite, at the same sharpness: " + _code_text(layers, changes),
        "code": _code_text(layers, changes),
        "why": "the surrogate's backward overflows to NaN for membranes far below threshold",
        "promise": "no_nan",
        "apply": apply,
    }


def _detach(layers, idx, regime):
    def apply(mods, work):
        for i in idx:
            layers[i].adapter.detach_reset(mods[i])

    code = "; ".join(
        f"{layers[i].name}: "
        + {
            "spikingjelly": "detach_reset=True",
            "snntorch": "reset_delay=True",
            "stabviz": "LIFConfig(reset_grad=False)",
            "nir": "--reset-detached",
        }.get(layers[i].library, "detach the reset (z.detach() in the reset term)")
        for i in idx
    )
    return {
        "change": "detach the reset's gradient",
        "code": code,
        "why": "an undetached reset with a steep surrogate repels the threshold",
        "promise": "gain_down" if regime == "exploding" else "no_nan",
        "apply": apply,
    }


def scale_change(work_modules: dict, feeder: str, factor: float) -> None:
    """Multiply a feeding module's weight and bias (on stabviz's copy) by ``factor``."""
    m = work_modules[feeder]
    with torch.no_grad():
        m.weight.mul_(factor)
        if isinstance(getattr(m, "bias", None), torch.Tensor):
            m.bias.mul_(factor)


def kept(promise: str, before: dict, after: dict, layer: str | None) -> bool:
    """Whether the re-measured network moved the promised way."""
    if promise == "no_nan":
        return not after["nan_gradient"] and not after["nan_hazard"]
    if promise in ("gain_up", "gain_down"):
        a, b = after["gain"]["log10_per_step"], before["gain"]["log10_per_step"]
        a = -1e9 if a is None else a
        b = -1e9 if b is None else b
        return a > b if promise == "gain_up" else a < b
    ra, rb = after["rates"][layer], before["rates"][layer]
    return ra > rb if promise == "rate_up" else ra < rb
