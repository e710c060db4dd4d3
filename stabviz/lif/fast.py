"""The fast path: the layer's time loop on preallocated time-major buffers with a hand-written backward
(σ' for all steps at once, ∂L/∂W_rec as one GEMM). Its gradients equal stabviz.lif.reference's."""
from __future__ import annotations

import torch

from stabviz import neuron
from stabviz.config import LIFConfig
from stabviz.lif.cpu_memory import keep_freed_cpu_memory
from stabviz.lif.dynamics import Dynamics, EnsembleDynamics
from stabviz.lif.layout import _as_time_major, to_time_major
from stabviz.lif.reference import _check_layer_inputs


class _MatAdd:
    """out += W @ rhs for (n × batch) blocks, in place (cheaper than addmm's copy of a separate base),
    optionally with bfloat16 operands: the product is then rounded to bfloat16 (~3 significant
    digits) before it is added in full precision. An ensemble's W (E, n, n) multiplies its
    (E, n, batch) blocks with one batched GEMM."""

    def __init__(self, w: torch.Tensor, bf16: bool):
        self.bf16 = bf16
        self.w = w.to(torch.bfloat16) if bf16 else w
        self.mm = torch.bmm if w.dim() == 3 else torch.mm

    def __call__(self, out: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
        if self.bf16:
            return out.add_(self.mm(self.w, rhs.to(torch.bfloat16)))
        return out.baddbmm_(self.w, rhs) if self.w.dim() == 3 else out.addmm_(self.w, rhs)


def _diagonal_column(c: float | torch.Tensor) -> float | torch.Tensor:
    """A per-layer constant as it adds to W's diagonal: a number, or (E,) member values as (E, 1)."""
    return c if isinstance(c, float) else c.reshape(-1, 1)


def _with_diagonal_shift(w: torch.Tensor, shift: float | torch.Tensor) -> torch.Tensor:
    out = w.clone()
    out.diagonal(dim1=-2, dim2=-1).add_(_diagonal_column(shift))
    return out


def _add_scaled(y: torch.Tensor, a: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """y += a·x in place; ``a`` a number or per-member values broadcast over each member's block."""
    return y.add_(x, alpha=a) if isinstance(a, float) else y.addcmul_(x, a)


def _forward_loop(current: torch.Tensor, w_rec: torch.Tensor, dyn: Dynamics, bf16: bool):
    """Run L1/L2/L3 over time on time-major buffers (T, n, batch). Returns (spikes, voltages,
    1 − spikes or None (multiplicative resets), pre-reset voltages u_t = α y_{t−1} + I_t or None (mult1
    with reset grad)). With ``bf16`` the spikes (0 or 1, exact) are returned in bfloat16."""
    alpha, theta, reset = dyn.leak, dyn.threshold, dyn.reset
    mult = reset != "subtract"
    # the loop accumulates into a copy of the current: y_t starts as I_t (y_{−1} = z_{−1} = 0)
    pre_reset = current.clone() if reset == "mult1" and dyn.reset_grad else None
    y_all = torch.empty_like(current) if pre_reset is not None else current.clone()
    z_all = torch.empty_like(current, dtype=torch.bfloat16 if bf16 else current.dtype)
    keep_mask = torch.empty_like(current) if mult else None
    # (n_post × n_pre) so that y^T = W^T z^T; the subtractive reset −θ z_{t−1} rides on the diagonal
    w_fwd = w_rec.transpose(-2, -1).contiguous()
    if not mult:
        w_fwd.diagonal(dim1=-2, dim2=-1).sub_(_diagonal_column(theta))
    recur = _MatAdd(w_fwd, bf16)
    ys, zs = y_all.unbind(0), z_all.unbind(0)
    ns = keep_mask.unbind(0) if mult else None
    us = pre_reset.unbind(0) if pre_reset is not None else None
    drives = us if us is not None else ys                 # where I_t is accumulated (u_t for mult1 + grad)
    ops = _InPlace() if isinstance(alpha, float) else _InPlaceEnsemble()
    integrate, fire = neuron.integrate, neuron.fire     # local names: ~1 µs per step counts
    for t, y in enumerate(ys):
        ops.out, ops.spikes = y, zs[t]
        if t:
            ops.in_gemm = None if mult else zs[t - 1]      # L1's −θ z_{t−1} came with the GEMM
            integrate(ys[t - 1], zs[t - 1], recur(drives[t], zs[t - 1]), alpha, theta, reset, ops,
                      keep=ns[t - 1] if mult else None)
        elif us is not None:
            y.copy_(us[0])                                 # y_0 = I_0: y_{−1} = z_{−1} = 0
        fire(y, theta, ops)
        if mult:
            torch.le(y, theta, out=ns[t])                  # 1 − z_t, kept for the next step and backward
    return z_all, y_all, keep_mask, pre_reset


class _InPlace:
    """stabviz.neuron's primitives on the fast loop's buffers, allocating nothing: each result lands in
    the drive buffer it updates, in ``out`` (the voltage y_t) or in ``spikes`` (z_t). A term in
    ``in_gemm`` (L1's reset spikes, whose −θ rides on W's diagonal) is already in the drive."""
    __slots__ = ("out", "spikes", "in_gemm")

    def axpy(self, a: float, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y if x is self.in_gemm else y.add_(x, alpha=a)

    def scale(self, v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return torch.mul(v, m, out=self.out)

    @staticmethod
    def axmy(a: float, x: torch.Tensor, m: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y.addcmul_(x, m, value=a)

    def greater(self, v: torch.Tensor, c: float) -> torch.Tensor:
        return torch.gt(v, c, out=self.spikes)


class _InPlaceEnsemble(_InPlace):
    """:class:`_InPlace` with per-member coefficients: α and θ are (E, 1, 1) tensors that broadcast
    over each member's (n, batch) block of an (E, n, batch) step."""
    __slots__ = ()

    def axpy(self, a: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y if x is self.in_gemm else y.addcmul_(x, a)

    @staticmethod
    def axmy(a: torch.Tensor, x: torch.Tensor, m: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y.addcmul_(x * a, m)


class _RecurrentLIF(torch.autograd.Function):
    """The layer's time loop on time-major tensors: current (T, n, B) -> (spikes, voltages) (T, n, B)."""

    @staticmethod
    def forward(ctx, current, w_rec, dyn: Dynamics, bf16: bool):
        ctx.set_materialize_grads(False)
        ctx.dyn, ctx.bf16 = dyn, bf16
        z_loop, y_all, keep_mask, pre_reset = _forward_loop(current, w_rec, dyn, bf16)
        ctx.save_for_backward(w_rec, z_loop, y_all, keep_mask, pre_reset)
        return z_loop.to(current.dtype), y_all

    @staticmethod
    def backward(ctx, grad_z, grad_y):
        w_rec, z_loop, y_all, keep_mask, pre_reset = ctx.saved_tensors
        dyn, bf16 = ctx.dyn, ctx.bf16
        # the loop turns this copy of ∂L/∂z into ∂L/∂y (in place)
        work = torch.zeros_like(y_all) if grad_z is None else _as_time_major(grad_z, own=True)
        grad_y = None if grad_y is None else _as_time_major(grad_y)
        sgp = dyn.sg_prime(y_all)                                   # σ'(y_t − θ) for all t at once
        if dyn.reset == "subtract":
            w_bwd = _with_diagonal_shift(w_rec, -dyn.threshold) if dyn.reset_grad else w_rec
            g_current = _backward_subtract(sgp, work, grad_y, _MatAdd(w_bwd, bf16), dyn.leak)
        elif dyn.reset == "mult2":
            g_current = _backward_mult2(sgp, work, grad_y, _MatAdd(w_rec, bf16), dyn, y_all, keep_mask)
        else:
            g_current = _backward_mult1(sgp, work, grad_y, _MatAdd(w_rec, bf16), dyn, keep_mask, pre_reset)
        grad_w = None
        if ctx.needs_input_grad[1]:
            grad_w = _recurrent_weight_grad(z_loop, g_current).to(w_rec.dtype)
        return (g_current if ctx.needs_input_grad[0] else None), grad_w, None, None


def _recurrent_weight_grad(z_all: torch.Tensor, g_current: torch.Tensor) -> torch.Tensor:
    """∂L/∂W_rec = Σ_t z_{t−1}^T ∂L/∂I_t as ONE GEMM over all (t, batch) pairs, (n × (T−1)·B) @
    ((T−1)·B × n), in z_all's dtype (bfloat16 in the bf16 mode); for an ensemble (T, E, n, B) one
    batched GEMM giving (E, n, n)."""
    steps, n, batch = z_all.shape[0], z_all.shape[-2], z_all.shape[-1]
    members = z_all.shape[1:-2]                                   # () or (E,)
    if steps < 2:
        return z_all.new_zeros(*members, n, n)
    z_prev = z_all[:-1].movedim(0, -2).reshape(*members, n, (steps - 1) * batch)
    g_next = torch.empty((*members, n, steps - 1, batch), dtype=z_all.dtype, device=z_all.device)
    g_next.copy_(g_current[1:].movedim(0, -2))                   # one copy, with the dtype change
    return z_prev @ g_next.view(*members, n, -1).transpose(-2, -1)


def _backward_subtract(sgp, work, grad_y, recur_t: _MatAdd, alpha: float) -> torch.Tensor:
    """L1. g_t := ∂L/∂y_t = ∂L/∂I_t. In ``work`` (which holds dZ = ∂L/∂z from outside), step t becomes
    ∂L/∂z_t = dZ_t + W g_{t+1} (− θ g_{t+1} with reset grad, folded into W's diagonal), then
    g_t = σ'_t ∂L/∂z_t + α g_{t+1} (+ dY_t). Returns ``work`` = g."""
    gs, ss = work.unbind(0), sgp.unbind(0)
    dys = grad_y.unbind(0) if grad_y is not None else None
    for t in range(len(gs) - 1, -1, -1):
        g = gs[t]
        if t < len(gs) - 1:
            _add_scaled(recur_t(g, gs[t + 1]).mul_(ss[t]), alpha, gs[t + 1])
        else:
            g.mul_(ss[t])
        if dys is not None:
            g.add_(dys[t])
    return work


def _backward_mult2(sgp, work, grad_y, recur_t: _MatAdd, dyn: Dynamics, y_all, keep_mask) -> torch.Tensor:
    """L3. g_t := ∂L/∂y_t = ∂L/∂I_t. In ``work``: ∂L/∂z_t = dZ_t + W g_{t+1} (− α y_t g_{t+1} with
    reset grad), then g_t = σ'_t ∂L/∂z_t + α (1 − z_t) g_{t+1} (+ dY_t). Returns ``work`` = g."""
    gs, ss = work.unbind(0), sgp.unbind(0)
    dys = grad_y.unbind(0) if grad_y is not None else None
    leak_keep = (dyn.leak * keep_mask).unbind(0)
    reset_coef = (-dyn.leak * y_all).unbind(0) if dyn.reset_grad else None
    for t in range(len(gs) - 1, -1, -1):
        g = gs[t]
        if t < len(gs) - 1:
            recur_t(g, gs[t + 1])
            if reset_coef is not None:
                g.addcmul_(reset_coef[t], gs[t + 1])
            g.mul_(ss[t]).addcmul_(leak_keep[t], gs[t + 1])
        else:
            g.mul_(ss[t])
        if dys is not None:
            g.add_(dys[t])
    return work


def _backward_mult1(sgp, work, grad_y, recur_t: _MatAdd, dyn: Dynamics, keep_mask, pre_reset) -> torch.Tensor:
    """L2 with u_t = α y_{t−1} + I_t, y_t = u_t (1 − z_{t−1}). With g_t := ∂L/∂y_t (kept in ``work``)
    and h_t := ∂L/∂I_t = ∂L/∂u_t = (1 − z_{t−1}) g_t (returned): ∂L/∂z_t = dZ_t + W h_{t+1}
    (− u_{t+1} g_{t+1} with reset grad), g_t = σ'_t ∂L/∂z_t + α h_{t+1} (+ dY_t)."""
    h = torch.empty_like(work)
    gs, hs, ss, ns = work.unbind(0), h.unbind(0), sgp.unbind(0), keep_mask.unbind(0)
    dys = grad_y.unbind(0) if grad_y is not None else None
    us = pre_reset.unbind(0) if pre_reset is not None else None
    for t in range(len(gs) - 1, -1, -1):
        g = gs[t]
        if t < len(gs) - 1:
            recur_t(g, hs[t + 1])
            if us is not None:
                g.addcmul_(us[t + 1], gs[t + 1], value=-1.0)
            _add_scaled(g.mul_(ss[t]), dyn.leak, hs[t + 1])
        else:
            g.mul_(ss[t])
        if dys is not None:
            g.add_(dys[t])
        if t:
            torch.mul(g, ns[t - 1], out=hs[t])
        else:
            hs[t].copy_(g)
    return h


def recurrent_lif_time_major(current: torch.Tensor, w_rec: torch.Tensor, dyn: LIFConfig | Dynamics,
                             bf16_matmul: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The fast layer on time-major tensors: current (T, n, batch) -> (spikes, voltages) (T, n, batch)."""
    if current.dim() != 3 or w_rec.shape != (current.shape[1], current.shape[1]):
        raise ValueError(f"current must be (T, n, batch) and w_rec (n, n); got {tuple(current.shape)} "
                         f"and {tuple(w_rec.shape)}")
    if current.device.type == "cpu":
        keep_freed_cpu_memory()
    return _RecurrentLIF.apply(current.contiguous(), w_rec.contiguous(), Dynamics.of(dyn), bool(bf16_matmul))


def recurrent_lif(current: torch.Tensor, w_rec: torch.Tensor, dyn: LIFConfig | Dynamics,
                  bf16_matmul: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """One recurrent LIF layer, fast path. ``current`` (batch, T, n) = x W_in + b; ``w_rec`` (n, n)
    used as z W_rec (its diagonal is used as given: zero it, or mask it, for the layer of docs/theory.md#11-the-layer-equations-l1-to-l3).

    Returns (spikes, voltages), each (batch, T, n) (views of time-major storage). Gradients flow to
    ``current`` and ``w_rec``; they equal :func:`reference_recurrent`'s. ``bf16_matmul`` rounds the
    recurrent products to bfloat16 (faster on CPUs with AVX512-BF16/AMX and on GPUs; approximate).
    """
    _check_layer_inputs(current, w_rec)
    z, y = recurrent_lif_time_major(to_time_major(current), w_rec, dyn, bf16_matmul)
    return z.permute(2, 0, 1), y.permute(2, 0, 1)


def recurrent_lif_ensemble(current: torch.Tensor, w_rec: torch.Tensor, dyn: EnsembleDynamics,
                           bf16_matmul: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """E fast layers stepped together on time-major tensors: current (T, E, n, batch), w_rec (E, n, n)
    (each used as z W_rec, diagonal as given) -> (spikes, voltages) (T, E, n, batch).

    One batched GEMM per step forward and backward, σ' of all members and steps at once, and
    ∂L/∂W_rec as one batched GEMM; member k's numbers are those of :func:`recurrent_lif_time_major`
    on current[:, k], w_rec[k] with member k's dynamics."""
    if not isinstance(dyn, EnsembleDynamics):
        raise ValueError(f"dyn must be an EnsembleDynamics; got {type(dyn).__name__}")
    members = dyn.members
    if current.dim() != 4 or current.shape[1] != members or \
            w_rec.shape != (members, current.shape[2], current.shape[2]):
        raise ValueError(f"current must be (T, {members}, n, batch) and w_rec ({members}, n, n); got "
                         f"{tuple(current.shape)} and {tuple(w_rec.shape)}")
    if current.device.type == "cpu":
        keep_freed_cpu_memory()
    return _RecurrentLIF.apply(current.contiguous(), w_rec.contiguous(), dyn, bool(bf16_matmul))
