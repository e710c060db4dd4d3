"""torch: σ' on tensors and the spike op (docs/theory.md#1-the-model). torch is imported on first use only,
so importing stabviz.surrogates (the CLI's theory commands) never loads it."""

from __future__ import annotations

from typing import Any

import numpy as np

from stabviz.config import DEFAULT_SURROGATE, Surrogate, check_range
from stabviz.shapes import SHAPE_TABLE
from stabviz.surrogates.validate import _check_values


def _scalar_or_tensor(name: str, value: Any, like):
    """A validated parameter as a Python float, or as a tensor on ``like``'s device (validated on it)."""
    import torch

    if isinstance(value, torch.Tensor):
        if value.numel() and not torch.compiler.is_compiling():
            lo, hi = float(value.detach().min()), float(value.detach().max())
            check_range(name, lo)
            check_range(name, hi)
        return value.to(device=like.device, dtype=like.dtype)
    _check_values(name, value)
    if np.ndim(value) == 0:
        return float(value)
    return torch.as_tensor(np.asarray(value, dtype=float), device=like.device, dtype=like.dtype)


def sg_prime_torch(v, sg: Surrogate | str = DEFAULT_SURROGATE):
    """σ'(v) on a tensor (docs/theory.md#2-the-surrogate-family): same dtype and device as ``v``, any shape.

    float16/bfloat16 inputs are evaluated in float32 and rounded once at the end. ``sg`` is the
    :class:`~stabviz.config.Surrogate` (or a shape name); its fields are numbers (validated by the
    record) or tensors broadcastable to ``v`` (validated here).
    """
    import torch

    sg = Surrogate.of(sg)
    x = v.float() if v.dtype in (torch.float16, torch.bfloat16) else v
    if _plain_numbers(sg.dampening, sg.sharpness, sg.tail):
        if not (torch.is_grad_enabled() and x.requires_grad):
            # The hot path of BPTT: one buffer, updated in place (no temporaries to allocate and fault in).
            unit = SHAPE_TABLE[sg.shape].torch_inplace(x.abs(), sg.sharpness, sg.tail)
            return unit.mul_(sg.dampening).to(v.dtype)
    g = _scalar_or_tensor("dampening", sg.dampening, x)
    b = _scalar_or_tensor("sharpness", sg.sharpness, x)
    q = _scalar_or_tensor("tail", sg.tail, x)
    a = x.abs()
    unit = SHAPE_TABLE[sg.shape].torch_prime(a, b, q)
    return (g * unit).to(v.dtype)


def _plain_numbers(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


_SPIKE_FUNCTION = None


def _spike_function():
    """The autograd.Function behind :func:`spike`, defined on first use so that torch loads lazily."""
    global _SPIKE_FUNCTION
    if _SPIKE_FUNCTION is None:
        import torch

        class SurrogateSpike(torch.autograd.Function):
            """Forward: Heaviside H(v) = 1[v > 0] (strict). Backward: σ'(v) × incoming gradient."""

            @staticmethod
            def forward(v, sg):
                return (v > 0).to(v.dtype)

            @staticmethod
            def setup_context(ctx, inputs, output):
                v, sg = inputs
                ctx.save_for_backward(v)
                ctx.sg = sg

            @staticmethod
            def backward(ctx, grad_out):
                (v,) = ctx.saved_tensors
                grad_v = grad_out * sg_prime_torch(v, ctx.sg) if ctx.needs_input_grad[0] else None
                return grad_v, None

        _SPIKE_FUNCTION = SurrogateSpike
    return _SPIKE_FUNCTION


def spike(v, sg: Surrogate | str = DEFAULT_SURROGATE):
    """z = H(v) forward (strict v > 0, in v's dtype), ∂z/∂v := σ'(v) backward (docs/theory.md#1-the-model).

    ``v`` = y − θ, any shape, float32/float64/bfloat16/float16, CPU or CUDA. ``sg`` as in
    :func:`sg_prime_torch`: the record checked its numbers when it was built, so a bad value fails before
    training starts (tensor fields are checked in the backward pass).
    """
    return _spike_function().apply(v, Surrogate.of(sg))
