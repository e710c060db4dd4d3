"""Norse's LIFCell, LIFRecurrentCell, LIFBoxCell (one step, state returned) and LIF / LIFRecurrent
(the whole sequence in one call).

Update (Norse ``functional/lif.py``, ``lif_box.py``): v ← v + dt·τ_mem⁻¹·((v_leak − v) + i), a spike when
v − v_th > 0 (surrogate ``p.method`` with ``p.alpha``), then v ← (1 − z)·v + z·v_reset: α = 1 − dt·τ_mem⁻¹,
input scaled by dt·τ_mem⁻¹, the hard reset (L3 for v_reset = 0) and its gradient not detached. LIFCell's
input first feeds a synaptic current i (decay dt·τ_syn⁻¹). States come back from each call; the voltage
read here is the returned ``state.v`` (after the reset).
"""

from __future__ import annotations

from typing import Any

LIBRARY = "norse"
KINDS = ("LIFCell", "LIFRecurrentCell", "LIFBoxCell", "LIF", "LIFRecurrent")
_METHODS = {"super": "norse.super", "triangle": "norse.triangle"}


def owns(module: Any) -> bool:
    cls = type(module)
    return cls.__module__.startswith("norse.") and cls.__name__ in KINDS


def _num(x: Any) -> float:
    import torch

    return float(torch.as_tensor(x).detach().float().mean())


def surrogate_of(module: Any) -> tuple[str | None, float | None, str]:
    p = module.p
    alpha = _num(p.alpha)
    return _METHODS.get(p.method), alpha, f"method={p.method!r}, alpha={alpha:g}"


def describe(module: Any) -> dict[str, Any]:
    p, kind = module.p, type(module).__name__
    step = float(module.dt) * _num(p.tau_mem_inv)
    notes = []
    syn_decay = None
    if hasattr(p, "tau_syn_inv"):
        # Norse 1.1.0's lif_step and lif_feed_forward_step add the input to the current before the voltage
        # reads it: the cuba neuron with α_s = 1 − dt·tau_syn_inv
        syn_decay = min(max(1 - float(module.dt) * _num(p.tau_syn_inv), 0.0), 1.0)
        notes.append(
            f"synaptic current (decay {syn_decay:.4g} per step): predicted as the cuba neuron "
            "(docs/theory.md section 9)"
        )
    if _num(p.v_reset) != 0.0 or _num(p.v_leak) != 0.0:
        notes.append("v_reset or v_leak is not 0: the theory's (L3) resets to 0 and leaks to 0")
    recurrent = [module.recurrent_weights] if hasattr(module, "recurrent_weights") else []
    key, knob, text = surrogate_of(module)
    return {
        "kind": kind,
        "leak": 1.0 - step,
        "threshold": _num(p.v_th),
        "reset": "mult2",
        "syn_decay": syn_decay,
        "reset_detached": False,
        "surrogate_key": key,
        "knob": knob,
        "surrogate_text": text,
        "recurrent_weights": recurrent,
        "input_scale": step,
        "notes": notes,
        "multi_step": not kind.endswith("Cell"),
        "input_weights": getattr(module, "input_weights", None),
    }


def reset_state(module: Any) -> None:
    """Norse keeps no state in the module: each run starts from the module's initial state."""


def spikes(module: Any, output: Any) -> Any:
    return output[0]


def membrane(module: Any, output: Any) -> Any:
    state = output[1]
    v = getattr(state, "v", None)
    return v if type(module).__name__.endswith("Cell") else None


def spike_function(module: Any):
    from norse.torch.functional.threshold import threshold

    p = module.p
    return lambda v: threshold(v, p.method, p.alpha)


def set_surrogate(module: Any, key: str, value: float) -> str:
    import torch

    method = key.split(".", 1)[1]
    module.p = module.p._replace(method=method, alpha=torch.as_tensor(value))
    return f"p=LIFParameters(method={method!r}, alpha={value:.4g})"


def detach_reset(module: Any) -> str | None:
    return None


def threads_state(model: Any) -> bool:
    """Norse cells and SequentialState return (output, state) and take the state back on the next call."""
    cls = type(model)
    return cls.__module__.startswith("norse.") and (cls.__name__ == "SequentialState" or cls.__name__.endswith("Cell"))


def set_leak(module: Any, alpha: float) -> str:
    """Give ``module`` (a copy) the leak α: τ_mem⁻¹ = (1 − α)/dt."""
    import torch

    inv = (1.0 - alpha) / float(module.dt)
    module.p = module.p._replace(tau_mem_inv=torch.as_tensor(inv))
    return f"LIFParameters(tau_mem_inv={inv:.4g})"
