"""One measured forward and backward pass of the user's network, on a private copy.

The gain (docs/check.md#the-gain): L = Σ r ⊙ y_{T−1}, a random projection r ~ N(0, 1) of the model's output
at the last step (or the user's own loss). g_k(t) = ‖∂L/∂I_k(t)‖ (Frobenius norm over batch and neurons) of
the current I_k(t) that spiking layer k receives at step t, G(t) = √(Σ_k g_k(t)²), and the per-step gain is
the least-squares slope of log₁₀ G(t) against the distance T − 1 − t, fitted over the steps at least
max(2, T/10) from either end. For snnTorch's Leaky, mem_t = β·mem_{t−1} + I_t − reset, so ∂L/∂I_t is
exactly ∂L/∂mem_t.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from stabviz.check.layers import Layer, module_of, modules_by_name

SATURATED_AT = 0.9  # a neuron firing at >= 90% of (step, sample) pairs is saturated


@dataclass
class Record:
    """What one spiking layer did in one run: its input currents (autograd nodes), spikes, membranes."""

    currents: list = field(default_factory=list)
    spikes: list = field(default_factory=list)
    membranes: list = field(default_factory=list)
    feeder: str | None = None
    input_stats: tuple[float, float] | None = None  # mean, variance of what the feeding module received


def work_copy(model: torch.nn.Module, layers: list[Layer], change: Callable | None = None):
    """A deep copy of ``model`` (the user's stays untouched) with fresh state, every parameter
    differentiable, and ``change(copy_layers)`` applied."""
    work = copy.deepcopy(model)
    for p in work.parameters():
        p.requires_grad_(True)
    mods = [module_of(work, layer) for layer in layers]
    for layer, m in zip(layers, mods):
        getattr(layer.adapter, "prepare_copy", lambda _m: None)(m)
    if change is not None:
        change(mods, work)
    return work, mods


def _first_tensor(out: Any) -> torch.Tensor:
    while isinstance(out, (tuple, list)):
        if not out:
            raise ValueError("the model returned an empty tuple: no output to check")
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"the model returned a {type(out).__name__}, not a tensor")
    return out


def _last_step(out: torch.Tensor, steps: int) -> torch.Tensor:
    """The output at the last step of a time-major (or batch-first) sequence; a time-less output as is."""
    if out.dim() >= 2 and out.shape[0] == steps:
        return out[-1]
    if out.dim() >= 3 and out.shape[1] == steps:
        return out[:, -1]
    return out


class Hooks:
    """Forward hooks on the copy's spiking layers (and on modules with weights, to learn which one feeds
    each spiking layer). Hooks only read; they are removed on exit."""

    def __init__(self, work: torch.nn.Module, layers: list[Layer], mods: list, record: bool = True):
        self.layers, self.mods, self.record = layers, mods, record
        self.records = {layer.name: Record() for layer in layers}
        self.calls = {layer.name: 0 for layer in layers}
        self.sizes = {layer.name: 0 for layer in layers}  # numbers per call: input + output, largest seen
        self.outputs_of: dict[int, tuple[str, Any]] = {}
        self.handles = []
        spiking = {id(m) for m in mods}
        if record:
            for name, m in work.named_modules():
                if id(m) not in spiking and isinstance(getattr(m, "weight", None), torch.Tensor):
                    self.handles.append(m.register_forward_hook(self._feeder_hook(name)))
        for layer, m in zip(layers, mods):
            self.handles.append(m.register_forward_hook(self._layer_hook(layer)))

    def _feeder_hook(self, name: str):
        def hook(module, args, output):
            if isinstance(output, torch.Tensor) and args and isinstance(args[0], torch.Tensor):
                x = args[0].detach().float()
                self.outputs_of[id(output)] = (name, module, float(x.mean()), float(x.var(unbiased=False)))

        return hook

    def _layer_hook(self, layer: Layer):
        def hook(module, args, output):
            self.calls[layer.name] += 1
            numbers = sum(t.numel() for t in (args[0], _first_tensor(output)) if isinstance(t, torch.Tensor))
            self.sizes[layer.name] = max(self.sizes[layer.name], numbers)
            if not self.record:
                return
            rec = self.records[layer.name]
            current = args[0]
            rec.currents.append(current)
            if rec.feeder is None and id(current) in self.outputs_of:
                name, _, mean, var = self.outputs_of[id(current)]
                rec.feeder, rec.input_stats = name, (mean, var)
            rec.spikes.append(layer.adapter.spikes(module, output).detach())
            v = layer.adapter.membrane(module, output)
            if isinstance(v, torch.Tensor):
                rec.membranes.append(v.detach())

        return hook

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()


def run_forward(work, mods, layers, x: torch.Tensor, steps: int, mode: str):
    """The model's output (as returned, or the per-step outputs stacked) and the output at the last step."""
    for layer, m in zip(layers, mods):
        layer.adapter.reset_state(m)
    if mode == "loop":
        out = work(x)
        return out, _last_step(_first_tensor(out), steps)
    carry, outs = None, []
    threads = layers[0].adapter.threads_state(work) or any(
        a.threads_state(work) for a in {layer.adapter for layer in layers}
    )
    for t in range(steps):
        if threads:
            out, carry = work(x[t], carry)
        else:
            out = work(x[t])
        outs.append(_first_tensor(out))
    return torch.stack(outs), outs[-1]


def detect_mode(model, layers: list[Layer], inputs: torch.Tensor, steps: int) -> str:
    """'stabviz' for stabviz's own LIFNetwork (measured through its reference path); otherwise 'loop' when the
    model's forward runs the time loop itself (a spiking layer is called once per step,
    or once on the whole sequence in a multi-step layer), else 'step' (stabviz calls the model per step)."""
    if layers[0].library == "stabviz":
        return "stabviz"
    work, mods = work_copy(model, layers)
    errors = []
    for mode in ("loop", "step"):
        with Hooks(work, layers, mods, record=False) as hooks, torch.no_grad():
            try:
                run_forward(work, mods, layers, inputs, steps, mode)
            except Exception as err:  # the user's forward refusing this calling convention
                errors.append(f"{mode}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
                continue
        first = hooks.calls[layers[0].name]
        if mode == "step" or first >= steps or (first == 1 and layers[0].info["multi_step"]):
            _check_memory(work, hooks, steps, len(layers))
            return mode
    raise ValueError(
        "the model could not be run on inputs of shape "
        f"{tuple(inputs.shape)} (time-major: T, batch, ...): {'; '.join(errors)}"
    )


#: float32 numbers autograd and stabviz keep per number of a spiking layer's input and output at each step:
#: the current, the membrane before and after the reset, the spike, the surrogate's saved input, the feeding
#: layer's saved input, the recorded spikes and voltages, the gradients: 8 keeps the estimate above the
#: peak RSS growth measured on benchmarks/bench_check.py's network (149 MB estimated, 135-137 MB grown)
KEPT_PER_NUMBER = 8
#: copies of the parameters alive during a measurement: the user's, stabviz's copy, their gradients
PARAM_COPIES = 4


def estimate_bytes(sizes: dict[str, int], calls: dict[str, int], steps: int, n_params: int) -> int:
    """Peak bytes of one measured run (:mod:`stabviz.memory`'s rule: float32 entries plus OVERHEAD):
    every step of every spiking layer keeps KEPT_PER_NUMBER numbers per number of its input and output."""
    from stabviz.memory import F32, OVERHEAD

    per_run = sum(sizes[k] * calls[k] for k in sizes)  # a multi-step layer: one call holding all T steps
    return F32 * (KEPT_PER_NUMBER * per_run + PARAM_COPIES * n_params) + OVERHEAD


def _check_memory(work, hooks: Hooks, steps: int, n_layers: int) -> None:
    """Refuse (ValueError, one line) a check whose measured run would not fit the machine's limit, before
    the run with gradients is made (the detection pass ran without them)."""
    from stabviz.memory import check_memory

    n_params = sum(p.numel() for p in work.parameters())
    nbytes = estimate_bytes(hooks.sizes, hooks.calls, steps, n_params)
    check_memory(
        f"this check (T = {steps}, {n_layers} spiking layer{'s' if n_layers > 1 else ''}, {n_params} parameters)",
        nbytes,
        lower="T (time_steps), the batch or the network's size",
    )


@dataclass
class Measurement:
    """Per-layer records and per-seed gradient norms of one measured run."""

    records: dict[str, Record]
    norms: np.ndarray  # (seeds, layers, T): g_k(t)
    weight_grad: list[float | None]  # ‖∂L/∂W‖ per layer (first seed)
    nan_gradient: bool
    output_shape: tuple
    mods: list = field(default_factory=list)  # the copy's spiking modules (with the change applied)


def _per_step(grads: list, calls: int, steps: int) -> np.ndarray:
    """g(t) for t = 0..T−1 from the gradients of one layer's recorded currents (one per call, or one
    (T, ...) tensor of a multi-step layer), aligned to the last step."""
    if len(grads) == 1 and calls == 1 and steps > 1 and grads[0] is not None and grads[0].shape[0] == steps:
        grads = list(grads[0])
    out = np.zeros(steps)
    for i, g in enumerate(grads[-steps:]):
        t = steps - len(grads[-steps:]) + i
        out[t] = 0.0 if g is None else float(torch.linalg.vector_norm(g.double()))
    return out


def measure(
    model,
    layers: list[Layer],
    inputs: torch.Tensor,
    steps: int,
    mode: str,
    seeds: int,
    loss: Callable | None = None,
    change: Callable | None = None,
) -> Measurement:
    """Run the (changed) copy once forward and once backward per seed; see the module docstring."""
    work, mods = work_copy(model, layers, change)
    x = inputs.detach().clone().requires_grad_(True)
    if mode == "stabviz":
        with torch.enable_grad():
            full, last, records, calls = _run_stabviz(work, layers, x)
    else:
        with torch.enable_grad(), Hooks(work, layers, mods) as hooks:
            full, last = run_forward(work, mods, layers, x, steps, mode)
        records, calls = hooks.records, hooks.calls
    weights = [_layer_weights(work, layer, m, records[layer.name].feeder) for layer, m in zip(layers, mods)]
    currents = [c for layer in layers for c in records[layer.name].currents if c.requires_grad]
    flat_w = [w for ws in weights for w in ws]
    norms, weight_grad, nan = [], [None] * len(layers), False
    for s in range(seeds):
        objective = _objective(loss, full, last, s)
        grads = torch.autograd.grad(objective, currents + flat_w, retain_graph=s < seeds - 1, allow_unused=True)
        nan = nan or any(g is not None and not torch.isfinite(g).all() for g in grads)
        by_id = {id(c): g for c, g in zip(currents, grads[: len(currents)])}
        norms.append(
            [
                _per_step([by_id.get(id(c)) for c in records[layer.name].currents], calls[layer.name], steps)
                for layer in layers
            ]
        )
        if s == 0:
            weight_grad = _weight_norms(weights, grads[len(currents) :])
    return Measurement(records, np.asarray(norms), weight_grad, nan, tuple(last.shape), mods)


def _run_stabviz(work, layers: list[Layer], x: torch.Tensor):
    """stabviz's LIFNetwork through its reference path: the voltages y_t are the recorded autograd nodes."""
    from stabviz.check import adapter_stabviz

    full, last, per_layer = adapter_stabviz.run(work, x)
    records, calls, h = {}, {}, x
    for layer, (ys, z) in zip(layers, per_layer):
        h = h.detach().float()
        rec = Record(
            currents=list(ys),
            spikes=list(z.detach().unbind(1)),
            membranes=[y.detach() for y in ys],
            input_stats=(float(h.mean()), float(h.var(unbiased=False))),
        )
        records[layer.name], calls[layer.name] = rec, len(ys)
        h = z
    return full, last, records, calls


def _objective(loss: Callable | None, full: Any, last: torch.Tensor, seed: int) -> torch.Tensor:
    if loss is None:
        g = torch.Generator().manual_seed(seed)
        r = torch.randn(last.shape, generator=g, dtype=torch.float64).to(device=last.device, dtype=last.dtype)
        return (r * last).sum()
    value = loss(full)
    if not (isinstance(value, torch.Tensor) and value.numel() == 1 and value.requires_grad):
        raise ValueError(
            f"loss(output) must return a scalar tensor that depends on the output (got {type(value).__name__})"
        )
    return value.reshape(())


def _layer_weights(work, layer: Layer, module, feeder: str | None) -> list:
    """The weights that feed a layer: the module whose output is its input, plus its own recurrent ones."""
    if layer.library == "stabviz":
        k = layer.info["layer_index"]
        return [module.w_in[k], module.w_rec[k]]
    info = layer.adapter.describe(module)
    ws = list(info["recurrent_weights"])
    if info.get("input_weights") is not None:
        ws.append(info["input_weights"])
    if feeder is not None:
        w = getattr(modules_by_name(work)[feeder], "weight", None)
        if isinstance(w, torch.Tensor):
            ws.append(w)
    return [w for w in ws if isinstance(w, torch.Tensor) and w.requires_grad]


def _weight_norms(weights: list, grads) -> list[float | None]:
    out, i = [], 0
    for ws in weights:
        gs = grads[i : i + len(ws)]
        i += len(ws)
        total = sum(float(torch.linalg.vector_norm(g.double())) ** 2 for g in gs if g is not None)
        out.append(math.sqrt(total) if ws else None)
    return out


def fit_window(steps: int) -> tuple[int, int]:
    """(first, last) distance T − 1 − t used in the fit: at least max(2, T/10) steps from either end."""
    trim = max(2, steps // 10)
    return trim, steps - 1 - trim


def fit_log10_per_step(norms: np.ndarray) -> float | None:
    """The slope of log₁₀ g against the distance from the loss step, over :func:`fit_window`; None when fewer
    than 3 positive finite norms lie in the window (the gradient vanished to exactly zero)."""
    steps = len(norms)
    lo, hi = fit_window(steps)
    distance = steps - 1 - np.arange(steps)
    keep = (distance >= lo) & (distance <= hi) & np.isfinite(norms) & (norms > 0)
    if keep.sum() < 3:
        return None
    return float(np.polyfit(distance[keep], np.log10(norms[keep]), 1)[0])


def network_norms(norms: np.ndarray) -> np.ndarray:
    """G(t) = √(Σ_k g_k(t)²) per seed: (seeds, layers, T) -> (seeds, T)."""
    return np.sqrt(np.square(norms).sum(axis=1))


def layer_rates(rec: Record) -> dict[str, Any]:
    """Mean rate, dead and saturated fractions from the recorded spikes (any value > 0 is a spike)."""
    z = torch.cat(
        [s.reshape(1, s.shape[0], -1) if s.dim() > 1 else s.reshape(1, 1, -1) for s in _split_steps(rec.spikes)]
    )
    fired = (z > 0).double()
    per_neuron = fired.mean(dim=(0, 1))
    return {
        "n": int(z.shape[2]),
        "firing_rate": float(fired.mean()),
        "dead_fraction": float((per_neuron == 0).double().mean()),
        "saturated_fraction": float((per_neuron >= SATURATED_AT).double().mean()),
        "per_neuron_rate": per_neuron.numpy(),
    }


def _split_steps(tensors: list) -> list:
    """Per-step tensors; a single multi-step (T, batch, ...) tensor is split along its first axis."""
    if len(tensors) == 1 and tensors[0].dim() >= 3:
        return list(tensors[0])
    return tensors


def membrane_range(rec: Record, threshold: float) -> tuple[float, float] | None:
    """(min, max) of v − θ over every recorded step, neuron and sample; None when no voltage was readable."""
    vs = [v.float() for v in rec.membranes if v.numel()]
    if not vs:
        return None
    lo = min(float(v.min()) for v in vs) - threshold
    hi = max(float(v.max()) for v in vs) - threshold
    return lo, hi
