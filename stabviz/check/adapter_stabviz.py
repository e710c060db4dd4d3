"""stabviz's own LIFNetwork: every layer read from ``cfg``/``dyn``, measured through its plain-autograd
``reference_forward`` (the same dynamics as the fast path; its voltages y_t are autograd nodes, so the gain
here is ∂L/∂y_t itself). Inputs are time first like every other library's; the network takes (batch, T, n)."""

from __future__ import annotations

import dataclasses
from typing import Any

LIBRARY = "stabviz"
KINDS = ("LIFNetwork",)


def owns(module: Any) -> bool:
    from stabviz.lif import LIFNetwork

    return isinstance(module, LIFNetwork)


def describe_layer(net: Any, k: int) -> dict[str, Any]:
    d = net.dyn
    return {
        "kind": "LIFNetwork",
        "leak": float(d.leak),
        "threshold": float(d.threshold),
        "reset": d.reset,
        "reset_detached": not d.reset_grad,
        "surrogate_key": None,
        "knob": None,
        "surrogate_text": f"{d.shape}(γ={d.dampening:g}, β={d.sharpness:g}, q={d.tail:g})",
        "stabviz_surrogate": d.surrogate,
        "recurrent_weights": [net.w_rec[k]],
        "input_weights": net.w_in[k].t(),
        "bias": net.bias[k],
        "input_scale": 1.0,
        "notes": [],
        "multi_step": True,
        "layer_index": k,
    }


def run(net: Any, x: Any) -> tuple[Any, Any, list]:
    """(readout (batch, T, out), its last step, [(voltage steps, spikes (batch, T, n)) per layer])."""
    readout, spikes, steps = net.reference_forward(x.transpose(0, 1))
    return readout, readout[:, -1], list(zip(steps, spikes))


def spike_function(net: Any):
    return lambda v: net.dyn.spike(v + net.dyn.threshold)


def set_dynamics(net: Any, **changes: Any) -> str:
    """Give the copy ``net`` other dynamics (leak, surrogate, reset_grad)."""
    net.dyn = dataclasses.replace(net.dyn, **changes)
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in changes.items())


def set_leak(net: Any, alpha: float) -> str:
    return "LIFConfig(" + set_dynamics(net, leak=float(alpha)) + ")"


def detach_reset(net: Any) -> str | None:
    if not net.dyn.reset_grad:
        return None
    return "LIFConfig(" + set_dynamics(net, reset_grad=False) + ")"


def set_surrogate(net: Any, key: str, value: float) -> str:
    """stabviz's knob for a suggested surrogate is the sharpness β (the dampening and shape kept)."""
    return "LIFConfig(" + set_dynamics(net, sharpness=float(value)) + ")"


def threads_state(model: Any) -> bool:
    return False


def reset_state(module: Any) -> None:
    """LIFNetwork keeps no state between calls."""
