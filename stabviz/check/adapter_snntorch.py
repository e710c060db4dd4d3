"""snnTorch's Leaky, RLeaky, Synaptic and RSynaptic, read through their documented attributes.

Update (snnTorch ``_neurons/leaky.py``): mem_t = beta·mem_{t−1} + I_t − reset_{t−1}·threshold, with
reset_{t−1} = H(mem_{t−1} − threshold) detached (``SpikingNeuron.mem_reset``); that is stabviz's (L1)
with α = beta. ``reset_mechanism="zero"`` is (L3). With ``reset_delay=False`` the extra same-step reset
uses the spike itself, so its gradient is not detached. The surrogate is ``spike_grad``, a closure made
by ``snntorch.surrogate.<name>(knob)``; its knob is read from the closure's free variable.
"""

from __future__ import annotations

from typing import Any

LIBRARY = "snntorch"
KINDS = ("Leaky", "RLeaky", "Synaptic", "RSynaptic")
_RESETS = {"subtract": "subtract", "zero": "mult2", "none": "none"}


def owns(module: Any) -> bool:
    cls = type(module)
    return cls.__module__.startswith("snntorch.") and cls.__name__ in KINDS


def _scalar(value: Any) -> float:
    import torch

    return float(torch.as_tensor(value).detach().float().mean())


def surrogate_of(module: Any) -> tuple[str | None, float | None, str]:
    """(LIBRARY_SURROGATES key, knob value, text as the user wrote it) of ``spike_grad``."""
    fn = module.spike_grad
    name = getattr(fn, "__qualname__", "").split(".<locals>")[0]
    cells = getattr(fn, "__closure__", None) or ()
    names = getattr(getattr(fn, "__code__", None), "co_freevars", ())
    knobs = {n: c.cell_contents for n, c in zip(names, cells) if isinstance(c.cell_contents, (int, float))}
    key = f"snntorch.{name}"
    value = next(iter(knobs.values()), None)
    text = f"surrogate.{name}({', '.join(f'{k}={v:g}' for k, v in knobs.items())})" if name else repr(fn)
    from stabviz.surrogates import LIBRARY_SURROGATES

    return (key if key in LIBRARY_SURROGATES and value is not None else None), value, text


def describe(module: Any) -> dict[str, Any]:
    kind = type(module).__name__
    notes = []
    syn_decay = None
    if kind in ("Synaptic", "RSynaptic"):  # syn = alpha·syn + input; mem = beta·mem + syn − reset: cuba
        syn_decay = min(max(_scalar(module.alpha), 0.0), 1.0)
        notes.append(
            f"synaptic current with decay alpha = {syn_decay:.4g}: predicted as the cuba neuron "
            "(docs/theory.md section 9)"
        )
    recurrent = []
    if kind in ("RLeaky", "RSynaptic"):
        rec = getattr(module, "recurrent", None)
        weight = getattr(rec, "weight", None)
        if weight is not None and weight.dim() == 2:
            recurrent.append(weight)
        else:
            notes.append("one-to-one or convolutional recurrence: no dense recurrent weight for the theory")
    key, knob, text = surrogate_of(module)
    return {
        "kind": kind,
        "leak": min(max(_scalar(module.beta), 0.0), 1.0),
        "threshold": _scalar(module.threshold),
        "reset": _RESETS.get(module.reset_mechanism, "subtract"),
        "reset_detached": bool(getattr(module, "reset_delay", True)),
        "surrogate_key": key,
        "knob": knob,
        "surrogate_text": text,
        "recurrent_weights": recurrent,
        "input_scale": 1.0,
        "notes": notes,
        "syn_decay": syn_decay,
        "multi_step": False,
    }


def reset_state(module: Any) -> None:
    """Zero the hidden state (``reset_mem``, snnTorch's documented reset) so no earlier batch leaks in."""
    module.reset_mem()


def spikes(module: Any, output: Any) -> Any:
    return output[0] if isinstance(output, tuple) else output


def membrane(module: Any, output: Any) -> Any:
    """mem_t before any same-step reset: the last element of the returned tuple, else ``module.mem``."""
    if isinstance(output, tuple) and len(output) >= 2:
        return output[-1]
    return module.mem


def spike_function(module: Any):
    """v − θ -> spikes, with the module's own surrogate backward."""
    return module.spike_grad


def set_surrogate(module: Any, key: str, value: float) -> str:
    """Give ``module`` (a copy) ``snntorch.surrogate.<name>(value)``; returns the code the user writes."""
    from snntorch import surrogate

    name = key.split(".", 1)[1]
    module.spike_grad = getattr(surrogate, name)(value)
    return f"spike_grad=surrogate.{name}({_knob_name(key)}={value:.4g})"


def _knob_name(key: str) -> str:
    from stabviz.surrogates import LIBRARY_SURROGATES

    return LIBRARY_SURROGATES[key][0]


def detach_reset(module: Any) -> str | None:
    """snnTorch detaches its delayed reset already; the same-step reset goes with reset_delay=True."""
    if getattr(module, "reset_delay", True):
        return None
    module.reset_delay = True
    return "reset_delay=True (the reset then comes from the detached previous-step spike)"


def threads_state(model: Any) -> bool:
    return False


def set_leak(module: Any, alpha: float) -> str:
    """Give ``module`` (a copy) the leak α through its ``beta``."""
    import torch

    with torch.no_grad():
        module.beta.fill_(alpha)
    return f"beta={alpha:.4g}"
