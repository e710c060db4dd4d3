"""Hazards: what will go wrong in training, each found on the measured network, with one sentence each."""

from __future__ import annotations

from typing import Any

import torch

DEAD_RATE, DEAD_FRACTION = 0.001, 0.9
SATURATED_RATE, SATURATED_FRACTION = 0.9, 0.5
#: how far beyond the seen membrane range the surrogate is probed as well (training moves the weights)
NEAR_FACTOR = 3.0


def surrogate_nan_at(spike_fn, lo: float, hi: float, points: int = 2049) -> float | None:
    """The v − θ nearest 0 in [lo, hi] where the layer's own surrogate backward is not finite, or None."""
    v = torch.linspace(lo, hi, points, dtype=torch.float32).requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(spike_fn(v).sum(), v, allow_unused=True)
    if grad is None:
        return None
    bad = ~torch.isfinite(grad)
    if not bad.any():
        return None
    vb = v.detach()[bad]
    return float(vb[vb.abs().argmin()])


def layer_hazards(layer: dict[str, Any], spike_fn, vrange: tuple[float, float] | None) -> list[dict[str, Any]]:
    """The hazards of one described and measured layer (a dict of report fields)."""
    out, name = [], layer["name"]
    theta, sg = layer["threshold"], layer["surrogate"]
    if theta <= 0:
        out.append(
            _h(
                "threshold",
                name,
                f"threshold = {theta:g} ≤ 0: a neuron at rest already fires, so every "
                "neuron fires at every step and the surrogate sees no threshold crossing to learn from",
            )
        )
    if layer["firing_rate"] <= DEAD_RATE or layer["dead_fraction"] >= DEAD_FRACTION:
        out.append(
            _h(
                "dead",
                name,
                f"dead: {layer['dead_fraction']:.0%} of neurons never fire (rate "
                f"{layer['firing_rate']:.3g}); layers after it get no input and its weights learn only "
                "through the surrogate's tail, slowly or not at all",
            )
        )
    if layer["firing_rate"] >= SATURATED_RATE or layer["saturated_fraction"] >= SATURATED_FRACTION:
        out.append(
            _h(
                "saturated",
                name,
                f"saturated: {layer['saturated_fraction']:.0%} of neurons fire at ≥ 90% "
                f"of steps (rate {layer['firing_rate']:.3g}); their spikes carry no information and the "
                "surrogate far above threshold passes little gradient",
            )
        )
    if vrange is not None and spike_fn is not None:
        lo, hi = vrange
        at = surrogate_nan_at(spike_fn, lo, hi)
        if at is not None:
            out.append(
                _h(
                    "nan_surrogate",
                    name,
                    f"the surrogate {sg['library_text']} returns NaN/inf at v − θ = "
                    f"{at:.3g}, inside the membrane range seen ({lo:.3g} to {hi:.3g}): the first such "
                    "step turns every gradient and then every weight into NaN",
                )
            )
        else:
            span = max(abs(lo), abs(hi), 1e-3) * NEAR_FACTOR
            near = surrogate_nan_at(spike_fn, -span, span)
            if near is not None:
                out.append(
                    _h(
                        "nan_surrogate_near",
                        name,
                        f"the surrogate {sg['library_text']} returns NaN/inf at "
                        f"v − θ = {near:.3g}, {NEAR_FACTOR:g}× beyond the range seen: once training "
                        "spreads the membranes, gradients can turn NaN",
                    )
                )
    gamma = sg.get("dampening")
    if (
        not layer["reset_detached"]
        and layer["reset"] != "none"
        and gamma is not None
        and theta * gamma > 1 + layer["leak"]
    ):
        out.append(
            _h(
                "undetached_reset",
                name,
                f"the reset's gradient is not detached and θ·γ = {theta * gamma:.3g}"
                f" > 1 + α = {1 + layer['leak']:.3g}: near threshold the one-step backward factor α − θ·σ' "
                "is below −1, so the threshold repels and gradients oscillate and grow",
            )
        )
    return out


def _h(kind: str, layer: str, text: str) -> dict[str, Any]:
    return {"kind": kind, "layer": layer, "text": text}
