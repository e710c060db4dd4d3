"""The fast path: the layer's time loop on preallocated time-major buffers with a hand-written backward
(σ' for all steps at once, ∂L/∂W_rec as one GEMM). Its gradients equal stabviz.lif.reference's."""

from __future__ import annotations

import torch

from stabviz import neuron
from stabviz.config import LIFConfig
from stabviz.lif.bptt import (
    MatAdd,
    RecurrentLayer,
    add_scaled,
    batch_major,
    diagonal_column,
    prepared_time_major,
    with_diagonal_shift,
)
from stabviz.lif.cpu_memory import keep_freed_cpu_memory
from stabviz.lif.dynamics import Dynamics, EnsembleDynamics


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
        w_fwd.diagonal(dim1=-2, dim2=-1).sub_(diagonal_column(theta))
    recur = MatAdd(w_fwd, bf16)
    ys, zs = y_all.unbind(0), z_all.unbind(0)
    ns = keep_mask.unbind(0) if mult else None
    us = pre_reset.unbind(0) if pre_reset is not None else None
    drives = us if us is not None else ys  # where I_t is accumulated (u_t for mult1 + grad)
    ops = _InPlace() if isinstance(alpha, float) else _InPlaceEnsemble()
    integrate, fire = neuron.integrate, neuron.fire  # local names: ~1 µs per step counts
    for t, y in enumerate(ys):
        ops.out, ops.spikes = y, zs[t]
        if t:
            ops.in_gemm = None if mult else zs[t - 1]  # L1's −θ z_{t−1} came with the GEMM
            integrate(
                ys[t - 1],
                zs[t - 1],
                recur(drives[t], zs[t - 1]),
                alpha,
                theta,
                reset,
                ops,
                keep=ns[t - 1] if mult else None,
            )
        elif us is not None:
            y.copy_(us[0])  # y_0 = I_0: y_{−1} = z_{−1} = 0
        fire(y, theta, ops)
        if mult:
            torch.le(y, theta, out=ns[t])  # 1 − z_t, kept for the next step and backward
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


class _LIFLoop:
    """The LIF's :class:`stabviz.lif.bptt.TimeLoop`: the loop above forward, by reset mode backward."""

    def __init__(self, dyn: Dynamics | EnsembleDynamics, bf16: bool):
        self.dyn, self.bf16 = dyn, bf16

    def forward(self, current, w_rec):
        return _forward_loop(current, w_rec, self.dyn, self.bf16)  # spikes, voltages, keep mask, pre-reset

    def backward(self, w_rec, z_all, y_all, saved, work, grad_y):
        keep_mask, pre_reset = saved
        dyn, bf16 = self.dyn, self.bf16
        sgp = dyn.sg_prime(y_all)  # σ'(y_t − θ) for all t at once
        if dyn.reset == "subtract":
            w_bwd = with_diagonal_shift(w_rec, -dyn.threshold) if dyn.reset_grad else w_rec
            return _backward_subtract(sgp, work, grad_y, MatAdd(w_bwd, bf16), dyn.leak)
        if dyn.reset == "mult2":
            return _backward_mult2(sgp, work, grad_y, MatAdd(w_rec, bf16), dyn, y_all, keep_mask)
        return _backward_mult1(sgp, work, grad_y, MatAdd(w_rec, bf16), dyn, keep_mask, pre_reset)


def _backward_subtract(sgp, work, grad_y, recur_t: MatAdd, alpha: float) -> torch.Tensor:
    """L1. g_t := ∂L/∂y_t = ∂L/∂I_t. In ``work`` (which holds dZ = ∂L/∂z from outside), step t becomes
    ∂L/∂z_t = dZ_t + W g_{t+1} (− θ g_{t+1} with reset grad, folded into W's diagonal), then
    g_t = σ'_t ∂L/∂z_t + α g_{t+1} (+ dY_t). Returns ``work`` = g."""
    gs, ss = work.unbind(0), sgp.unbind(0)
    dys = grad_y.unbind(0) if grad_y is not None else None
    for t in range(len(gs) - 1, -1, -1):
        g = gs[t]
        if t < len(gs) - 1:
            add_scaled(recur_t(g, gs[t + 1]).mul_(ss[t]), alpha, gs[t + 1])
        else:
            g.mul_(ss[t])
        if dys is not None:
            g.add_(dys[t])
    return work


def _backward_mult2(sgp, work, grad_y, recur_t: MatAdd, dyn: Dynamics, y_all, keep_mask) -> torch.Tensor:
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


def _backward_mult1(sgp, work, grad_y, recur_t: MatAdd, dyn: Dynamics, keep_mask, pre_reset) -> torch.Tensor:
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
            add_scaled(g.mul_(ss[t]), dyn.leak, hs[t + 1])
        else:
            g.mul_(ss[t])
        if dys is not None:
            g.add_(dys[t])
        if t:
            torch.mul(g, ns[t - 1], out=hs[t])
        else:
            hs[t].copy_(g)
    return h


def recurrent_lif_time_major(
    current: torch.Tensor, w_rec: torch.Tensor, dyn: LIFConfig | Dynamics, bf16_matmul: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fast layer on time-major tensors: current (T, n, batch) -> (spikes, voltages) (T, n, batch)."""
    current, w_rec = prepared_time_major(current, w_rec)
    return RecurrentLayer.apply(current, w_rec, _LIFLoop(Dynamics.of(dyn), bool(bf16_matmul)))


def recurrent_lif(
    current: torch.Tensor, w_rec: torch.Tensor, dyn: LIFConfig | Dynamics, bf16_matmul: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """One recurrent LIF layer, fast path. ``current`` (batch, T, n) = x W_in + b; ``w_rec`` (n, n)
    used as z W_rec (its diagonal is used as given: zero it, or mask it, for the layer of
    docs/theory.md#11-the-layer-equations-l1-to-l3).

    Returns (spikes, voltages), each (batch, T, n) (views of time-major storage). Gradients flow to
    ``current`` and ``w_rec``; they equal :func:`reference_recurrent`'s. ``bf16_matmul`` rounds the
    recurrent products to bfloat16 (faster on CPUs with AVX512-BF16/AMX and on GPUs; approximate).
    """
    return batch_major(recurrent_lif_time_major, current, w_rec, dyn, bf16_matmul)


def recurrent_lif_ensemble(
    current: torch.Tensor, w_rec: torch.Tensor, dyn: EnsembleDynamics, bf16_matmul: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """E fast layers stepped together on time-major tensors: current (T, E, n, batch), w_rec (E, n, n)
    (each used as z W_rec, diagonal as given) -> (spikes, voltages) (T, E, n, batch).

    One batched GEMM per step forward and backward, σ' of all members and steps at once, and
    ∂L/∂W_rec as one batched GEMM; member k's numbers are those of :func:`recurrent_lif_time_major`
    on current[:, k], w_rec[k] with member k's dynamics."""
    if not isinstance(dyn, EnsembleDynamics):
        raise ValueError(f"dyn must be an EnsembleDynamics; got {type(dyn).__name__}")
    members = dyn.members
    if (
        current.dim() != 4
        or current.shape[1] != members
        or w_rec.shape != (members, current.shape[2], current.shape[2])
    ):
        raise ValueError(
            f"current must be (T, {members}, n, batch) and w_rec ({members}, n, n); got "
            f"{tuple(current.shape)} and {tuple(w_rec.shape)}"
        )
    if current.device.type == "cpu":
        keep_freed_cpu_memory()
    return RecurrentLayer.apply(current.contiguous(), w_rec.contiguous(), _LIFLoop(dyn, bool(bf16_matmul)))
