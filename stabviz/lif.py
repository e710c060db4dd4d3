"""A recurrent LIF network (1 to 3 layers + linear readout) with fast back-propagation through time.

The dynamics are exactly docs/theory.md#1-the-model, in the row-vector convention:

    I_t = x_t W_in + z_{t−1} W_rec + b                       (W_rec has a zero diagonal)
    (L1) subtract:  y_t = α y_{t−1} + I_t − θ·sg(z_{t−1})
    (L2) mult1:     y_t = (α y_{t−1} + I_t)·(1 − sg(z_{t−1}))
    (L3) mult2:     y_t = α y_{t−1}·(1 − sg(z_{t−1})) + I_t
    z_t = H(y_t − θ)   (strict >),   ∂z_t/∂y_t := σ'(y_t − θ)   (docs/theory.md#2-the-surrogate-family)

with y_{−1} = z_{−1} = 0. ``sg`` is a stop-gradient unless ``cfg.reset_grad``; the recurrent current
always keeps its gradient. α (leak) and θ (threshold) are fixed; W_in, W_rec, b and the readout are
trained. Layers after the first read the previous layer's spikes. The readout is linear in the last
layer's *spikes*: out_t = z_t W_out + b_out, shape (batch, T, n_out); spikes rather than voltages, so
the readout sees exactly what a further spiking layer would see.

Two implementations compute the same numbers:

- ``fast=True``: a custom autograd function runs the time loop on preallocated time-major buffers
  (T, n, batch) — the per-step (n × n)@(n × batch) product is the fastest GEMM orientation on CPUs —
  saves only spikes, voltages (and the masks the multiplicative resets need), evaluates σ' for all
  steps at once in the backward pass, and forms ∂L/∂W_rec as ONE (n × T·batch)@(T·batch × n) GEMM.
- ``fast=False``: a plain autograd loop (:meth:`LIFNetwork.reference_forward`), the referee for the
  fast path's gradients and the path the gradient-flow probe uses.

The fast path is device-agnostic (CPU, CUDA). On CPU it calls :func:`keep_freed_cpu_memory` once.
"""
from __future__ import annotations

import ctypes
import math
import os
import platform
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from stabviz import neuron, surrogates
from stabviz.config import TRAIN_RANGES, LIFConfig, standard_law
from stabviz.weights import layer_config, layer_weights, sample_matrix

MAX_LAYERS = int(TRAIN_RANGES["layers"][1])


@dataclass(frozen=True)
class Dynamics:
    """The fixed (untrained) part of a layer: leak α, threshold θ, reset mode, and the surrogate."""
    leak: float
    threshold: float
    reset: str
    reset_grad: bool
    shape: str
    dampening: float
    sharpness: float
    tail: float

    @classmethod
    def of(cls, cfg: LIFConfig | "Dynamics") -> "Dynamics":
        if isinstance(cfg, Dynamics):
            return cfg
        return cls(float(cfg.leak), float(cfg.threshold), cfg.reset, bool(cfg.reset_grad), cfg.shape,
                   float(cfg.dampening), float(cfg.sharpness), float(cfg.tail))

    def spike(self, y: torch.Tensor) -> torch.Tensor:
        """z = H(y − θ) forward, σ'(y − θ) backward (autograd)."""
        return surrogates.spike(y - self.threshold, self.shape, self.dampening, self.sharpness, self.tail)

    def sg_prime(self, y: torch.Tensor) -> torch.Tensor:
        """σ'(y − θ), elementwise."""
        return surrogates.sg_prime_torch(y - self.threshold, self.shape, self.dampening, self.sharpness,
                                         self.tail)


@dataclass(frozen=True, eq=False)
class EnsembleDynamics:
    """The fixed part of E layers stepped together: each member's leak α, threshold θ and surrogate
    γ, β, q as (E, 1, 1) tensors (they broadcast over a member's (n, batch) block of the time-major
    (T, E, n, batch) buffers); the reset mode and the surrogate's shape are shared."""
    leak: torch.Tensor
    threshold: torch.Tensor
    reset: str
    reset_grad: bool
    shape: str
    dampening: torch.Tensor
    sharpness: torch.Tensor
    tail: torch.Tensor

    @classmethod
    def of(cls, members: Sequence[LIFConfig | Dynamics], dtype: torch.dtype = torch.float32,
           device: str | torch.device = "cpu") -> "EnsembleDynamics":
        dyns = [Dynamics.of(m) for m in members]
        if not dyns:
            raise ValueError("an ensemble needs at least one member")
        shared = {(d.reset, d.reset_grad, d.shape) for d in dyns}
        if len(shared) > 1:
            raise ValueError(f"ensemble members must share the reset mode, reset grad and surrogate shape; "
                             f"got {sorted(shared)} (split them with group_by_shape)")
        column = lambda name: torch.tensor([getattr(d, name) for d in dyns], dtype=dtype,   # noqa: E731
                                           device=device).view(-1, 1, 1)
        first = dyns[0]
        return cls(column("leak"), column("threshold"), first.reset, first.reset_grad, first.shape,
                   column("dampening"), column("sharpness"), column("tail"))

    @property
    def members(self) -> int:
        return self.leak.shape[0]

    def sg_prime(self, y: torch.Tensor) -> torch.Tensor:
        """σ'(y − θ) of every member at once, y (..., E, n, batch). The parameters were validated as
        LIFConfig fields, so the shape's formula runs directly: no host synchronisation (which a
        CUDA graph capture would refuse)."""
        unit = surrogates.SHAPE_TABLE[self.shape].torch_prime((y - self.threshold).abs_(), self.sharpness,
                                                              self.tail)
        return unit.mul_(self.dampening)


def shape_key(cfg: LIFConfig) -> tuple:
    """What ensemble members must share: the layer sizes, the reset mode (and its gradient switch)
    and the surrogate's shape. α, θ, γ, β, q and the weights may differ."""
    return (cfg.n_in, cfg.n_rec, cfg.reset, bool(cfg.reset_grad), cfg.shape)


def group_by_shape(configs: Sequence[LIFConfig], key=shape_key) -> list[list[int]]:
    """Indices of ``configs`` split into groups that can step together (equal ``key``), each group
    in input order, the groups in order of their first member."""
    groups: dict[tuple, list[int]] = {}
    for i, cfg in enumerate(configs):
        groups.setdefault(key(cfg), []).append(i)
    return list(groups.values())


# ---------------------------------------------------------------------------------------------
# Reference: plain autograd, one step at a time

def lif_step(current: torch.Tensor, z_prev: torch.Tensor, y_prev: torch.Tensor, w_rec: torch.Tensor,
             dyn: Dynamics) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of L1/L2/L3. ``current`` = x_t W_in + b (batch, n); returns (z_t, y_t)."""
    total = current + z_prev @ w_rec
    reset = z_prev if dyn.reset_grad else z_prev.detach()
    y = neuron.integrate(y_prev, reset, total, dyn.leak, dyn.threshold, dyn.reset)
    return dyn.spike(y), y


def reference_recurrent(current: torch.Tensor, w_rec: torch.Tensor, dyn: LIFConfig | Dynamics,
                        ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """The layer by plain autograd. ``current`` (batch, T, n) = x W_in + b.

    Returns (spikes (batch, T, n), voltages (batch, T, n), the T voltage tensors (batch, n) that are
    nodes of the autograd graph: ask for their gradients to see ∂L/∂y_t)."""
    dyn = Dynamics.of(dyn)
    _check_layer_inputs(current, w_rec)
    z = current.new_zeros(current.shape[0], current.shape[2])
    y = torch.zeros_like(z)
    zs, ys = [], []
    for c in current.unbind(1):
        z, y = lif_step(c, z, y, w_rec, dyn)
        zs.append(z)
        ys.append(y)
    return torch.stack(zs, 1), torch.stack(ys, 1), ys


# ---------------------------------------------------------------------------------------------
# Fast path: time-major buffers (T, n, batch) and a hand-written backward
#
# Layout: step t of a layer is the contiguous (n × batch) block [t]. The per-step product is then
# Wᵀ (n × n) @ z_tᵀ (n × batch), about 20% faster on CPUs than z_t (batch × n) @ W, and the per-step
# elementwise work runs on contiguous memory. Between layers the spikes are copied to feature-major
# (n, T·batch) so that the next input projection and the readout are single GEMMs; that copy moves
# whole 'batch' rows and is cheap.

def _batch_to_time_major_copy(a: torch.Tensor) -> torch.Tensor:
    """(batch, T, n) -> contiguous (T, n, batch): one 2-D transpose of (batch, T·n)."""
    batch, steps, n = a.shape
    return a.reshape(batch, steps * n).t().contiguous().view(steps, n, batch)


def _time_to_batch_major_copy(a: torch.Tensor) -> torch.Tensor:
    """(T, n, batch) -> contiguous (batch, T, n)."""
    steps, n, batch = a.shape
    return a.reshape(steps * n, batch).t().contiguous().view(batch, steps, n)


class _BatchToTimeMajor(torch.autograd.Function):
    """Layout change (batch, T, n) -> (T, n, batch) whose backward is the inverse 2-D transpose."""

    @staticmethod
    def forward(ctx, a):
        return _batch_to_time_major_copy(a)

    @staticmethod
    def backward(ctx, grad):
        return _time_to_batch_major_copy(grad.contiguous())


def to_time_major(a: torch.Tensor) -> torch.Tensor:
    """(batch, T, n) -> contiguous (T, n, batch), differentiable."""
    return _BatchToTimeMajor.apply(a)


def _as_time_major(g: torch.Tensor, own: bool = False) -> torch.Tensor:
    """A gradient shaped (T, n, batch) (or (T, E, n, batch)) as a contiguous tensor (a fresh one when
    ``own``). Gradients of the user-facing views arrive as permutations of contiguous (batch, T, n)
    tensors: a 2-D transpose handles those."""
    if g.is_contiguous():
        return g.clone() if own else g
    user_layout = g.permute(2, 0, 1) if g.dim() == 3 else g
    if user_layout.is_contiguous():
        return _batch_to_time_major_copy(user_layout)
    return g.contiguous()


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


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3           # glibc mallopt parameter numbers
_malloc_tuned: bool | None = None


def keep_freed_cpu_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of handing it back to the OS.

    Why: the fast path allocates a few (n, T, batch) buffers per pass (1600 pages of 4 KiB each at
    n = 512, T = 100, batch = 32). glibc returns such blocks to the OS when they are freed, so every
    pass page-faults them in again, which in a virtual machine costs 2-5 µs per page: more than the
    arithmetic. Called once per process by the fast path on CPU; the cost is that the process keeps
    its peak memory. Set STABVIZ_MALLOC_TUNING=0 to leave malloc alone. Returns True when applied.
    """
    global _malloc_tuned
    if _malloc_tuned is None:
        _malloc_tuned = False
        if (os.environ.get("STABVIZ_MALLOC_TUNING", "1") != "0" and sys.platform.startswith("linux")
                and platform.libc_ver()[0] == "glibc"):
            try:
                libc = ctypes.CDLL(None)
                # blocks up to 32 MiB (glibc's ceiling) come from the heap, and the heap is never trimmed
                _malloc_tuned = bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and \
                    bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
            except (OSError, AttributeError):
                _malloc_tuned = False
    return _malloc_tuned


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


def _check_layer_inputs(current: torch.Tensor, w_rec: torch.Tensor) -> None:
    if current.dim() != 3:
        raise ValueError(f"current must have shape (batch, T, n); got {tuple(current.shape)}")
    n = current.shape[2]
    if w_rec.shape != (n, n):
        raise ValueError(f"w_rec must have shape ({n}, {n}) to match current; got {tuple(w_rec.shape)}")


# ---------------------------------------------------------------------------------------------
# The network

def resolve_device(device: str | torch.device | None) -> torch.device:
    """'auto' (or None) -> CUDA when available, else CPU; anything else as given."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class LIFNetwork(torch.nn.Module):
    """``n_layers`` recurrent LIF layers (docs/theory.md#1-the-model) and a linear readout of the last layer's
    spikes. Every layer uses ``cfg``'s dynamics and surrogate; layer k > 0 is initialised with
    :func:`stabviz.weights.layer_config` (n_in = n_rec, spike-input statistics m_x = ½, v_x = ¼).

    Parameters: ``w_in[k]`` (n_in_k × n_rec), ``w_rec[k]`` (n_rec × n_rec; its diagonal is masked to
    zero in every forward pass, so it never acts and never receives a gradient), ``bias[k]`` (n_rec,),
    ``w_out`` (n_rec × n_out, Glorot-uniform), ``b_out`` (n_out,), zero. Weights are drawn on the CPU
    from ``generator`` (default: seeded with cfg.seed), then moved to ``device``.
    """

    def __init__(self, cfg: LIFConfig, n_layers: int = 1, n_out: int = 10,
                 generator: torch.Generator | None = None, device: str | torch.device | None = "cpu",
                 dtype: torch.dtype = torch.float32, bf16_matmul: bool = False):
        super().__init__()
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or not 1 <= n_layers <= MAX_LAYERS:
            raise ValueError(f"n_layers = {n_layers!r} is outside the allowed range [1, {MAX_LAYERS}]")
        if isinstance(n_out, bool) or not isinstance(n_out, int) or n_out < 1:
            raise ValueError(f"n_out = {n_out!r} must be a whole number in [1, inf)")
        device = resolve_device(device)
        generator = torch.Generator().manual_seed(cfg.seed) if generator is None else generator
        self.cfg, self.dyn, self.bf16_matmul = cfg, Dynamics.of(cfg), bool(bf16_matmul)
        self.layer_cfgs = [layer_config(cfg, k) for k in range(n_layers)]
        self.w_in, self.w_rec, self.bias = (torch.nn.ParameterList() for _ in range(3))
        for lc in self.layer_cfgs:
            w_in, w_rec, b = layer_weights(lc, generator=generator, dtype=dtype, device=device)
            self.w_in.append(torch.nn.Parameter(w_in))
            self.w_rec.append(torch.nn.Parameter(w_rec))
            self.bias.append(torch.nn.Parameter(b))
        out_law = standard_law("glorot-uniform", cfg.n_rec, n_out)
        self.w_out = torch.nn.Parameter(sample_matrix(out_law, cfg.n_rec, n_out, generator, dtype=dtype,
                                                      device=device))
        self.b_out = torch.nn.Parameter(torch.zeros(n_out, dtype=dtype, device=device))
        off_diagonal = 1.0 - torch.eye(cfg.n_rec, dtype=dtype, device=device)
        self.register_buffer("off_diagonal", off_diagonal, persistent=False)

    @property
    def n_layers(self) -> int:
        return len(self.w_rec)

    @property
    def n_in(self) -> int:
        return self.w_in[0].shape[0]

    @property
    def n_out(self) -> int:
        return self.w_out.shape[1]

    def recurrent_weight(self, layer: int) -> torch.Tensor:
        """W_rec of ``layer`` as the dynamics use it (zero diagonal), differentiable."""
        return self.w_rec[layer] * self.off_diagonal

    def forward(self, x: torch.Tensor, fast: bool = True, return_voltages: bool = False):
        """x (batch, T, n_in) -> (readout (batch, T, n_out), [spikes (batch, T, n_rec) per layer]),
        plus [voltages (batch, T, n_rec) per layer] when ``return_voltages``.

        ``fast=False`` runs :meth:`reference_forward` (plain autograd)."""
        self._check_input(x)
        if not fast:
            readout, spikes, steps = self.reference_forward(x)
            voltages = [torch.stack(ys, 1) for ys in steps]
            return (readout, spikes, voltages) if return_voltages else (readout, spikes)
        batch, steps, n_in = x.shape
        x = x.to(self.w_in[0].dtype)
        # layer 0: one GEMM on the batch-major input, then one 2-D transpose to time-major
        current = to_time_major(torch.addmm(self.bias[0], x.reshape(batch * steps, n_in), self.w_in[0])
                                .view(batch, steps, -1))
        spikes, voltages, features = [], [], None   # features: the previous layer's spikes, (n, T·batch)
        for k in range(self.n_layers):
            if k:
                # feature-major (n, T·batch) spikes make the next input projection one GEMM
                current = torch.addmm(self.bias[k][:, None], self.w_in[k].t(), features)
                current = current.view(-1, steps, batch).transpose(0, 1).contiguous()
            z, y = recurrent_lif_time_major(current, self.recurrent_weight(k), self.dyn, self.bf16_matmul)
            spikes.append(z.permute(2, 0, 1))
            voltages.append(y.permute(2, 0, 1))
            features = z.transpose(0, 1).reshape(z.shape[1], steps * batch)
        out = torch.addmm(self.b_out[:, None], self.w_out.t(), features)
        readout = out.view(-1, steps, batch).permute(2, 1, 0)
        return (readout, spikes, voltages) if return_voltages else (readout, spikes)

    def reference_forward(self, x: torch.Tensor):
        """The same network by plain autograd (the referee). Returns (readout, [spikes per layer],
        [the T voltage tensors (batch, n_rec) of each layer, nodes of the autograd graph])."""
        self._check_input(x)
        h = x.to(self.w_in[0].dtype)
        spikes, voltage_steps = [], []
        for k in range(self.n_layers):
            z, _, ys = reference_recurrent(h @ self.w_in[k] + self.bias[k], self.recurrent_weight(k), self.dyn)
            spikes.append(z)
            voltage_steps.append(ys)
            h = z
        return h @ self.w_out + self.b_out, spikes, voltage_steps

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[2] != self.n_in:
            raise ValueError(f"x must have shape (batch, T, {self.n_in}); got {tuple(x.shape)}")


class LIFEnsemble(torch.nn.Module):
    """E :class:`LIFNetwork` members of one shape (:func:`shape_key`, same layers and readout size)
    stepped together. Each member keeps its own parameters (its own leaves: an optimiser treats it
    exactly as a separate network); a forward pass stacks them and runs every layer with
    :func:`recurrent_lif_ensemble`. x (E, batch, T, n_in) -> (readout (E, batch, T, n_out),
    [spikes (E, batch, T, n_rec) per layer]); member k's numbers are ``members[k](x[k])``'s."""

    def __init__(self, members: Sequence[LIFNetwork]):
        super().__init__()
        members = list(members)
        if not members:
            raise ValueError("an ensemble needs at least one member")
        first = members[0]
        sizes = {(shape_key(m.cfg), m.n_layers, m.n_out, m.w_in[0].dtype, m.w_in[0].device,
                  m.bf16_matmul) for m in members}
        if len(sizes) > 1:
            raise ValueError("ensemble members must share n_in, n_rec, layers, n_out, reset, surrogate shape, "
                             "dtype and device (split them with group_by_shape)")
        self.members = torch.nn.ModuleList(members)
        self.dyn = EnsembleDynamics.of([m.dyn for m in members], first.w_in[0].dtype, first.w_in[0].device)
        self.bf16_matmul = first.bf16_matmul

    def stacked(self, name: str, layer: int | None = None) -> torch.Tensor:
        """Parameter ``name`` (of ``layer``) of every member, stacked (differentiable)."""
        return torch.stack([getattr(m, name) if layer is None else getattr(m, name)[layer]
                            for m in self.members])

    def forward(self, x: torch.Tensor):
        first = self.members[0]
        if x.dim() != 4 or x.shape[0] != len(self.members) or x.shape[3] != first.n_in:
            raise ValueError(f"x must have shape ({len(self.members)}, batch, T, {first.n_in}); got {tuple(x.shape)}")
        members, batch, steps, n_in = x.shape
        x = x.to(first.w_in[0].dtype)
        current = torch.baddbmm(self.stacked("bias", 0)[:, None, :], x.reshape(members, batch * steps, n_in),
                                self.stacked("w_in", 0))
        current = current.view(members, batch, steps, -1).permute(2, 0, 3, 1).contiguous()   # (T, E, n, B)
        spikes, features = [], None           # features: the previous layer's spikes, (E, n, T·batch)
        for k in range(first.n_layers):
            if k:
                current = torch.baddbmm(self.stacked("bias", k)[:, :, None],
                                        self.stacked("w_in", k).transpose(1, 2), features)
                current = current.view(members, -1, steps, batch).permute(2, 0, 1, 3).contiguous()
            w_rec = self.stacked("w_rec", k) * first.off_diagonal
            z, _ = recurrent_lif_ensemble(current, w_rec, self.dyn, self.bf16_matmul)
            spikes.append(z.permute(1, 3, 0, 2))
            features = z.permute(1, 2, 0, 3).reshape(members, z.shape[2], steps * batch)
        out = torch.baddbmm(self.stacked("b_out")[:, :, None], self.stacked("w_out").transpose(1, 2), features)
        return out.view(members, -1, steps, batch).permute(0, 3, 2, 1), spikes


# ---------------------------------------------------------------------------------------------
# CUDA graphs: one captured step, replayed

GRAPH_OFF_DEVICE = "CUDA graphs need a CUDA device; the step ran eagerly"


def capture_cuda_graph(fn: Callable[[], Any]) -> tuple[Callable[[], None], Any]:
    """Capture ``fn()`` in a CUDA graph: (replay, the static outputs the replays refresh)."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph.replay, out


class CapturedStep:
    """``fn()`` (a step on static tensors: inputs refreshed in place, outputs read after the call)
    run eagerly for ``warmup`` calls, then captured once and replayed: a replay launches the whole
    step at once instead of hundreds of small kernels. Where capturing is off, the device is not
    CUDA or the capture fails, every call runs eagerly and ``note`` says why. ``capture`` is the
    capturing function (:func:`capture_cuda_graph`; tests pass a fake)."""

    def __init__(self, fn: Callable[[], Any], device: torch.device, enabled: bool = True, warmup: int = 3,
                 capture: Callable | None = None):
        self.fn, self.warmup, self.note = fn, warmup, None
        self.capture = capture or capture_cuda_graph
        self.enabled = bool(enabled)
        if self.enabled and capture is None and (torch.device(device).type != "cuda"
                                                 or not torch.cuda.is_available()):
            self.enabled, self.note = False, GRAPH_OFF_DEVICE
        self._replay, self._out, self._calls = None, None, 0

    @property
    def mode(self) -> str:
        return "cuda-graph" if self._replay is not None else "eager"

    @property
    def captured(self) -> bool:
        return self._replay is not None

    def __call__(self) -> Any:
        if self._replay is not None:
            self._replay()
            return self._out
        self._calls += 1
        if not self.enabled or self._calls <= self.warmup:
            return self._eager()
        try:
            self._replay, self._out = self.capture(self.fn)
        except Exception as exc:            # any capture failure means: stay eager, and say so
            self.enabled, self._replay = False, None
            self.note = f"CUDA graph capture failed ({type(exc).__name__}: {str(exc)[:200]}); the step ran eagerly"
            return self._eager()
        self._replay()                      # capturing records the step without running it
        return self._out

    def _eager(self) -> Any:
        if not (self.enabled and torch.cuda.is_available()):
            return self.fn()
        # warm-up on a side stream, as capturing requires (lazy initialisation off the default stream)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = self.fn()
        torch.cuda.current_stream().wait_stream(side)
        return out


# ---------------------------------------------------------------------------------------------
# Gradient flow

def probe_gradient_flow(net: LIFNetwork, x: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """‖∂L/∂y_t‖ (Frobenius over batch and neurons) for every layer and step, shape (n_layers, T).

    L is the cross-entropy of the LAST step's readout against ``target`` (batch,), so row k shows how
    the error sent back from step T − 1 grows or shrinks on its way to earlier steps
    (docs/theory.md#14-the-backward-pass-the-one-step-jacobian-m: δ_{t−1} = M_tᵀ δ_t). Uses the reference path; parameter ``.grad`` fields are untouched.
    """
    target = torch.as_tensor(target, device=x.device)
    if target.dim() != 1 or target.shape[0] != x.shape[0]:
        raise ValueError(f"target must have shape ({x.shape[0]},); got {tuple(target.shape)}")
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= net.n_out):
        raise ValueError(f"target classes must lie in [0, {net.n_out - 1}]")
    with torch.enable_grad():
        readout, _, steps = net.reference_forward(x)
        loss = F.cross_entropy(readout[:, -1], target.long())
        flat = [y for layer in steps for y in layer]
        grads = torch.autograd.grad(loss, flat, allow_unused=True)
    norms = [0.0 if g is None else float(torch.linalg.vector_norm(g)) for g in grads]
    return np.asarray(norms, dtype=float).reshape(net.n_layers, x.shape[1])


def fit_gradient_gain(norms: Sequence[float] | np.ndarray) -> float | np.ndarray:
    """ρ̂ = exp(slope of log‖∂L/∂y_t‖ against the distance T − t from the loss step): the measured
    one-step gradient gain (docs/theory.md#55-the-measured-counterparts-and-the-training-verdict; ρ̂ < 1 vanishing, > 1 exploding).

    ``norms`` has shape (T,) -> float, or (n_layers, T) -> one ρ̂ per row. Non-positive and non-finite
    entries are ignored; nan when fewer than 2 usable points remain.
    """
    a = np.asarray(norms, dtype=float)
    if a.ndim == 2:
        return np.array([fit_gradient_gain(row) for row in a])
    if a.ndim != 1:
        raise ValueError(f"norms must have shape (T,) or (n_layers, T); got {a.shape}")
    distance = len(a) - np.arange(len(a), dtype=float)
    usable = np.isfinite(a) & (a > 0)
    if usable.sum() < 2:
        return math.nan
    slope = np.polyfit(distance[usable], np.log(a[usable]), 1)[0]
    return float(np.exp(slope))
