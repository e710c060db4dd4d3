"""What the fast time loops (stabviz.lif.fast for the LIF, stabviz.lif.variants for alif and cuba) share:
the per-step recurrent product, the diagonal folds, the adjoint buffers handed to a backward loop,
∂L/∂W_rec as one GEMM, and the checks and layout wrappers of their public functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

from stabviz.lif.cpu_memory import keep_freed_cpu_memory
from stabviz.lif.layout import _as_time_major, to_time_major
from stabviz.lif.reference import _check_layer_inputs


class MatAdd:
    """out += W @ rhs for (n × batch) blocks, in place (cheaper than addmm's copy of a separate base),
    optionally with bfloat16 operands: the product is then rounded to bfloat16 (~3 significant
    digits) before it is added in full precision. An ensemble's W (E, n, n) multiplies its
    (E, n, batch) blocks with one batched GEMM."""

    def __init__(self, w: torch.Tensor, bf16: bool = False):
        self.bf16 = bf16
        self.w = w.to(torch.bfloat16) if bf16 else w
        self.mm = torch.bmm if w.dim() == 3 else torch.mm

    def __call__(self, out: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
        if self.bf16:
            return out.add_(self.mm(self.w, rhs.to(torch.bfloat16)))
        return out.baddbmm_(self.w, rhs) if self.w.dim() == 3 else out.addmm_(self.w, rhs)


def diagonal_column(c: float | torch.Tensor) -> float | torch.Tensor:
    """A per-layer constant as it adds to W's diagonal: a number, or (E,) member values as (E, 1)."""
    return c if isinstance(c, float) else c.reshape(-1, 1)


def with_diagonal_shift(w: torch.Tensor, shift: float | torch.Tensor) -> torch.Tensor:
    """A copy of W (or of each member's W) with ``shift`` added to its diagonal: a term c·v_{t+1} that
    joins the step's product W v_{t+1} then costs no kernel of its own."""
    out = w.clone()
    out.diagonal(dim1=-2, dim2=-1).add_(diagonal_column(shift))
    return out


def add_scaled(y: torch.Tensor, a: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """y += a·x in place; ``a`` a number or per-member values broadcast over each member's block."""
    return y.add_(x, alpha=a) if isinstance(a, float) else y.addcmul_(x, a)


def adjoint_buffers(
    grad_z: torch.Tensor | None, grad_y: torch.Tensor | None, like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(a time-major copy of ∂L/∂z that the backward loop turns into ∂L/∂z_t in place, ∂L/∂y from
    outside or None); ``like`` (the saved voltages) gives shape and dtype when no ∂L/∂z arrived."""
    work = torch.zeros_like(like) if grad_z is None else _as_time_major(grad_z, own=True)
    return work, None if grad_y is None else _as_time_major(grad_y)


class TimeLoop(Protocol):
    """A neuron model's fast time loop: the forward pass returns (spikes, voltages, *what its backward
    needs), each time-major; the backward pass turns ``work`` (a copy of ∂L/∂z) into ∂L/∂current."""

    def forward(self, current: torch.Tensor, w_rec: torch.Tensor) -> tuple[torch.Tensor | None, ...]: ...

    def backward(
        self,
        w_rec: torch.Tensor,
        z_all: torch.Tensor,
        y_all: torch.Tensor,
        saved: list,
        work: torch.Tensor,
        grad_y: torch.Tensor | None,
    ) -> torch.Tensor: ...


class RecurrentLayer(torch.autograd.Function):
    """One layer's time loop as an autograd function, for every neuron model: current (T, n, B) (or
    (T, E, n, B)) -> (spikes, voltages); ∂L/∂W_rec from the loop's ∂L/∂current by one GEMM."""

    @staticmethod
    def forward(ctx, current, w_rec, loop: TimeLoop):
        ctx.set_materialize_grads(False)
        ctx.loop = loop
        z_all, y_all, *saved = loop.forward(current, w_rec)
        ctx.save_for_backward(w_rec, z_all, y_all, *saved)
        return z_all.to(current.dtype), y_all  # z_all is bfloat16 in the LIF's bf16 mode

    @staticmethod
    def backward(ctx, grad_z, grad_y):
        w_rec, z_all, y_all, *saved = ctx.saved_tensors
        work, grad_y = adjoint_buffers(grad_z, grad_y, y_all)
        g_current = ctx.loop.backward(w_rec, z_all, y_all, saved, work, grad_y)
        grad_w = None
        if ctx.needs_input_grad[1]:
            grad_w = recurrent_weight_grad(z_all, g_current).to(w_rec.dtype)
        return (g_current if ctx.needs_input_grad[0] else None), grad_w, None


def recurrent_weight_grad(z_all: torch.Tensor, g_current: torch.Tensor) -> torch.Tensor:
    """∂L/∂W_rec = Σ_t z_{t−1}^T ∂L/∂I_t as ONE GEMM over all (t, batch) pairs, (n × (T−1)·B) @
    ((T−1)·B × n), in z_all's dtype (bfloat16 in the bf16 mode); for an ensemble (T, E, n, B) one
    batched GEMM giving (E, n, n)."""
    steps, n, batch = z_all.shape[0], z_all.shape[-2], z_all.shape[-1]
    members = z_all.shape[1:-2]  # () or (E,)
    if steps < 2:
        return z_all.new_zeros(*members, n, n)
    z_prev = z_all[:-1].movedim(0, -2).reshape(*members, n, (steps - 1) * batch)
    g_next = torch.empty((*members, n, steps - 1, batch), dtype=z_all.dtype, device=z_all.device)
    g_next.copy_(g_current[1:].movedim(0, -2))  # one copy, with the dtype change
    return z_prev @ g_next.view(*members, n, -1).transpose(-2, -1)


def prepared_time_major(current: torch.Tensor, w_rec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer's (T, n, batch) current and (n, n) weights, checked and contiguous; on the CPU the
    malloc tuning the loops' buffers want is set once."""
    if current.dim() != 3 or w_rec.shape != (current.shape[1], current.shape[1]):
        raise ValueError(
            f"current must be (T, n, batch) and w_rec (n, n); got {tuple(current.shape)} and {tuple(w_rec.shape)}"
        )
    if current.device.type == "cpu":
        keep_freed_cpu_memory()
    return current.contiguous(), w_rec.contiguous()


def batch_major(
    time_major_layer: Callable[..., tuple[torch.Tensor, torch.Tensor]],
    current: torch.Tensor,
    w_rec: torch.Tensor,
    *args,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A time-major layer on the user's (batch, T, n) current: (spikes, voltages) (batch, T, n), views of
    the time-major storage."""
    _check_layer_inputs(current, w_rec)
    z, y = time_major_layer(to_time_major(current), w_rec, *args)
    return z.permute(2, 0, 1), y.permute(2, 0, 1)
