"""The LIF layers of a NIR graph as stabviz built them (:mod:`.nir_graph`); the surrogate, dt and the reset's
gradient are options, not part of the file."""

from __future__ import annotations

import dataclasses
from typing import Any

LIBRARY = "nir"
KINDS = ("LIF",)


def owns(module: Any) -> bool:
    from stabviz.check.nir_graph import NIRLIF

    return isinstance(module, NIRLIF)


def describe(module: Any) -> dict[str, Any]:
    sg = module.sg
    notes = [
        f"NIR carries no surrogate: {sg.shape} γ = {sg.dampening:g}, β = {sg.sharpness:g} was used "
        f"(an option), with dt = {module.dt:g}"
    ]
    if float(module.v_reset.abs().max()) != 0.0 or float(module.v_leak.abs().max()) != 0.0:
        notes.append("v_reset or v_leak is not 0: the theory's (L3) resets to 0 and leaks to 0")
    return {
        "kind": "LIF",
        "leak": float(module.alpha.mean()),
        "threshold": float(module.v_threshold.mean()),
        "reset": "mult2",
        "reset_detached": module.reset_detached,
        "surrogate_key": None,
        "knob": None,
        "surrogate_text": f"{sg.shape}(γ={sg.dampening:g}, β={sg.sharpness:g}) [option]",
        "stabviz_surrogate": sg,
        "recurrent_weights": [],
        "input_scale": float(module.scale.mean()),
        "notes": notes,
        "multi_step": False,
    }


def reset_state(module: Any) -> None:
    module.reset()


def spikes(module: Any, output: Any) -> Any:
    return output


def membrane(module: Any, output: Any) -> Any:
    return module.last_v


def spike_function(module: Any):
    from stabviz.surrogates import spike

    sg = module.sg
    return lambda v: spike(v, sg)


def set_surrogate(module: Any, key: str, value: float) -> str:
    module.sg = dataclasses.replace(module.sg, sharpness=float(value))
    return f"--sharpness {value:.4g}"


def set_leak(module: Any, alpha: float) -> str:
    module.alpha.fill_(alpha)  # the input scale dt·R/τ is kept: R grows with τ
    return f"tau = dt/(1 − {alpha:.4g}), r = tau/dt"


def detach_reset(module: Any) -> str | None:
    if module.reset_detached:
        return None
    module.reset_detached = True
    return "--reset-detached"


def threads_state(model: Any) -> bool:
    return False
