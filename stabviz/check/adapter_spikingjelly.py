"""SpikingJelly's LIFNode and ParametricLIFNode (activation_based), single-step ('s') and multi-step ('m').

Update (SpikingJelly ``neuron/lif.py``, ``neuron/plif.py``): with ``decay_input`` the charge is
v ← v + (x − (v − v_reset))/τ, so α = 1 − 1/τ and the input enters scaled by 1/τ; without it
v ← v − (v − v_reset)/τ + x. ParametricLIFNode learns 1/τ = sigmoid(w). ``v_reset=None`` is the soft
(subtractive) reset (L1), a number the hard reset to v_reset (L3 when v_reset = 0); ``detach_reset``
says whether the reset's gradient is cut. Membranes are read from ``v`` after each step, or from
``v_seq`` in multi-step mode (``store_v_seq`` set on stabviz's private copy only).
"""

from __future__ import annotations

from typing import Any

LIBRARY = "spikingjelly"
KINDS = ("LIFNode", "ParametricLIFNode")


def owns(module: Any) -> bool:
    cls = type(module)
    return cls.__module__.startswith("spikingjelly.") and cls.__name__ in KINDS


def _inverse_tau(module: Any) -> float:
    if type(module).__name__ == "ParametricLIFNode":
        return float(module.w.detach().sigmoid())
    return 1.0 / float(module.tau)


def surrogate_of(module: Any) -> tuple[str | None, float | None, str]:
    sg = module.surrogate_function
    name = type(sg).__name__
    alpha = getattr(sg, "alpha", None)
    alpha = float(alpha) if isinstance(alpha, (int, float)) else None
    text = f"surrogate.{name}(alpha={alpha:g})" if alpha is not None else f"surrogate.{name}()"
    from stabviz.surrogates import LIBRARY_SURROGATES

    key = f"spikingjelly.{name}"
    return (key if key in LIBRARY_SURROGATES and alpha is not None else None), alpha, text


def describe(module: Any) -> dict[str, Any]:
    inv_tau = _inverse_tau(module)
    soft = module.v_reset is None
    notes = []
    if not soft and float(module.v_reset) != 0.0:
        notes.append(f"hard reset to v_reset = {float(module.v_reset):g}, not 0: the theory's (L3) resets to 0")
    key, knob, text = surrogate_of(module)
    return {
        "kind": type(module).__name__,
        "leak": 1.0 - inv_tau,
        "threshold": float(module.v_threshold),
        "reset": "subtract" if soft else "mult2",
        "reset_detached": bool(module.detach_reset),
        "surrogate_key": key,
        "knob": knob,
        "surrogate_text": text,
        "recurrent_weights": [],
        "input_scale": inv_tau if module.decay_input else 1.0,
        "notes": notes,
        "multi_step": module.step_mode == "m",
    }


def prepare_copy(module: Any) -> None:
    """On stabviz's copy only: keep the per-step voltages of a multi-step node."""
    if module.step_mode == "m":
        module.store_v_seq = True


def reset_state(module: Any) -> None:
    module.reset()


def spikes(module: Any, output: Any) -> Any:
    return output


def membrane(module: Any, output: Any) -> Any:
    """The voltage after this step's reset (``v``), or the whole ``v_seq`` in multi-step mode."""
    if module.step_mode == "m":
        return module.v_seq
    v = module.v
    return v if hasattr(v, "detach") else None


def spike_function(module: Any):
    return module.surrogate_function


def set_surrogate(module: Any, key: str, value: float) -> str:
    from spikingjelly.activation_based import surrogate

    name = key.split(".", 1)[1]
    module.surrogate_function = getattr(surrogate, name)(alpha=value)
    return f"surrogate_function=surrogate.{name}(alpha={value:.4g})"


def detach_reset(module: Any) -> str | None:
    if module.detach_reset:
        return None
    module.detach_reset = True
    return "detach_reset=True"


def threads_state(model: Any) -> bool:
    return False


def set_leak(module: Any, alpha: float) -> str:
    """Give ``module`` (a copy) the leak α: τ = 1/(1 − α) (ParametricLIFNode: w = logit(1 − α))."""
    import math

    import torch

    if type(module).__name__ == "ParametricLIFNode":
        with torch.no_grad():
            module.w.fill_(math.log((1 - alpha) / alpha))
        return f"init_tau={1 / (1 - alpha):.4g}"
    module.tau = 1.0 / (1.0 - alpha)
    return f"tau={module.tau:.4g}"
