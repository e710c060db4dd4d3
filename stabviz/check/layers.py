"""Find the spiking layers of a user's model, in module order, and describe each one in stabviz's terms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stabviz.check import adapter_nir, adapter_norse, adapter_snntorch, adapter_spikingjelly, adapter_stabviz

ADAPTERS = (adapter_snntorch, adapter_norse, adapter_spikingjelly, adapter_nir)
SUPPORTED = {a.LIBRARY: a.KINDS for a in ADAPTERS + (adapter_stabviz,)}


@dataclass
class Layer:
    """One spiking layer: its dotted name in the model, the adapter that reads it, what it reads."""

    name: str
    adapter: Any
    info: dict[str, Any]

    @property
    def library(self) -> str:
        return self.adapter.LIBRARY


def _supported_text() -> str:
    return "; ".join(f"{lib}: {', '.join(kinds)}" for lib, kinds in SUPPORTED.items())


def find_layers(model: Any) -> list[Layer]:
    """Every supported spiking layer of ``model`` (named_modules order). ValueError naming what was found
    and what is supported when there is none."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ValueError(
            f"model = {type(model).__name__} object is not a torch.nn.Module; "
            f"supported spiking layers: {_supported_text()}"
        )
    if adapter_stabviz.owns(model):  # one module, several layers: each read from its parameters
        return [
            Layer(f"layer{k}", adapter_stabviz, adapter_stabviz.describe_layer(model, k)) for k in range(model.n_layers)
        ]
    found = []
    for name, module in model.named_modules():
        adapter = next((a for a in ADAPTERS if a.owns(module)), None)
        if adapter is not None:
            found.append(Layer(name or type(module).__name__, adapter, adapter.describe(module)))
    if not found:
        kinds = sorted({type(m).__name__ for m in model.modules()})
        shown = ", ".join(kinds[:12]) + (f" and {len(kinds) - 12} more" if len(kinds) > 12 else "")
        raise ValueError(
            f"model has no spiking layer stabviz can read (found: {shown}); supported: {_supported_text()}"
        )
    return found


def module_of(model: Any, layer: Layer) -> Any:
    """The module of ``layer`` in ``model`` (the model itself for a layer of stabviz's LIFNetwork)."""
    return modules_by_name(model).get(layer.name, model)


def modules_by_name(model: Any) -> dict[str, Any]:
    named = dict(model.named_modules())
    named.setdefault(type(model).__name__, model)  # a bare layer passed as the model
    return named
