"""The neuron family beyond the plain LIF: each model a pure step function (the plain-autograd referee)
and a fast time loop with a hand-written backward, sharing the LIF's layout, weight-gradient GEMM and
malloc tuning (docs/theory.md#9-neuron-variants).

With I_t = x_t W_in + b + z_{t−1} W_rec (row vectors) and reset mode L1/L2/L3 (stabviz.neuron):

    alif:  a_t = ρ_a a_{t−1} + (1 − ρ_a) z_{t−1},   θ_t = θ + β_a a_t
           y_t = L(y_{t−1}, z_{t−1}, I_t) with the subtractive reset −θ_{t−1} z_{t−1} (the threshold
           the spike crossed),   z_t = H(y_t − θ_t),   ∂z_t/∂y_t := σ'(y_t − θ_t)
           ``adapt_grad`` False: a_t is a stop-gradient (the threshold is a fixed input to the step).
    cuba:  i_t = α_s i_{t−1} + I_t,   y_t = L(y_{t−1}, z_{t−1}, i_t),   z_t = H(y_t − θ)

with a_{−1} = i_{−1} = 0. β_a = 0 gives the LIF (a never acts), α_s = 0 gives the LIF (i_t = I_t).

The backward pass (docs/theory.md#92-the-backward-map-a-2-by-2-block-per-neuron). With G_y, G_i, G_a the
adjoints of y_t, i_t, a_t and s_t = σ'(y_t − θ_t), going from t + 1 to t:

    ∂L/∂z_t = dZ_t + W G_i,{t+1} + (1 − ρ_a) G_a,{t+1} + [reset grad] ∂y_{t+1}/∂z_t · G_y,{t+1}
    G_y,t   = s_t ∂L/∂z_t + ∂y_{t+1}/∂y_t · G_y,{t+1} + dY_t
    G_a,t   = ρ_a G_a,{t+1} − β_a s_t ∂L/∂z_t − β_a z_t G_y,{t+1} (subtract only)     (alif, adapt_grad)
    G_i,t   = ∂y_t/∂i_t · G_y,t + α_s G_i,{t+1}                                        (= ∂L/∂current_t)

and ∂L/∂W_rec = Σ_t z_{t−1}ᵀ G_i,t as one GEMM.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from stabviz import neuron, surrogates
from stabviz.config import LIFConfig
from stabviz.lif.cpu_memory import keep_freed_cpu_memory
from stabviz.lif.dynamics import Dynamics
from stabviz.lif.fast import _recurrent_weight_grad
from stabviz.lif.layout import _as_time_major, to_time_major
from stabviz.lif.reference import _check_layer_inputs


@dataclass(frozen=True)
class Variant:
    """Which neuron model, and its parameters (the LIF ignores them)."""
    neuron: str = "lif"
    adapt_decay: float = 0.0
    adapt_strength: float = 0.0
    adapt_grad: bool = True
    syn_decay: float = 0.0

    @classmethod
    def of(cls, cfg: LIFConfig | "Variant") -> "Variant":
        if isinstance(cfg, Variant):
            return cfg
        return cls(cfg.neuron, float(cfg.adapt_decay), float(cfg.adapt_strength), bool(cfg.adapt_grad),
                   float(cfg.syn_decay))

    @property
    def adapts(self) -> bool:
        return self.neuron == "alif"

    @property
    def filters(self) -> bool:
        return self.neuron == "cuba"


class State(NamedTuple):
    """A layer's state after a step, (batch, n) each: spikes, voltage, adaptation (alif) or synaptic
    current (cuba), zero for the models that have none."""
    z: torch.Tensor
    y: torch.Tensor
    a: torch.Tensor
    i: torch.Tensor

    @classmethod
    def zeros_like(cls, x: torch.Tensor) -> "State":
        return cls(*(torch.zeros_like(x) for _ in range(4)))


# ---------------------------------------------------------------------------------------------
# Pure steps (plain autograd): the referee

def alif_step(current: torch.Tensor, state: State, w_rec: torch.Tensor, dyn: Dynamics, var: Variant) -> State:
    """One ALIF step. ``current`` = x_t W_in + b (batch, n)."""
    total = current + state.z @ w_rec
    reset = state.z if dyn.reset_grad else state.z.detach()
    crossed = dyn.threshold + var.adapt_strength * state.a          # θ_{t−1}: what the spike crossed
    y = neuron.integrate(state.y, reset, total, dyn.leak, crossed, dyn.reset)
    a = var.adapt_decay * state.a + (1.0 - var.adapt_decay) * state.z
    a = a if var.adapt_grad else a.detach()
    theta = dyn.threshold + var.adapt_strength * a
    z = surrogates.spike(y - theta, dyn.surrogate)
    return State(z, y, a, state.i)


def cuba_step(current: torch.Tensor, state: State, w_rec: torch.Tensor, dyn: Dynamics, var: Variant) -> State:
    """One current-based LIF step: the synaptic current i_t filters I_t, the voltage integrates i_t."""
    total = current + state.z @ w_rec
    i = total + var.syn_decay * state.i
    reset = state.z if dyn.reset_grad else state.z.detach()
    y = neuron.integrate(state.y, reset, i, dyn.leak, dyn.threshold, dyn.reset)
    return State(dyn.spike(y), y, state.a, i)


def lif_state_step(current: torch.Tensor, state: State, w_rec: torch.Tensor, dyn: Dynamics,
                   var: Variant) -> State:
    """The LIF (stabviz.lif.reference.lif_step's rule) in the family's signature."""
    total = current + state.z @ w_rec
    reset = state.z if dyn.reset_grad else state.z.detach()
    y = neuron.integrate(state.y, reset, total, dyn.leak, dyn.threshold, dyn.reset)
    return State(dyn.spike(y), y, state.a, state.i)


STEPS = {"lif": lif_state_step, "alif": alif_step, "cuba": cuba_step}


def reference_variant(current: torch.Tensor, w_rec: torch.Tensor, cfg: LIFConfig | tuple[Dynamics, Variant],
                      ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """The layer of ``cfg.neuron`` by plain autograd; as :func:`stabviz.lif.reference_recurrent`:
    (spikes, voltages (batch, T, n), the T voltage nodes of the graph)."""
    dyn, var = _parts(cfg)
    _check_layer_inputs(current, w_rec)
    state = State.zeros_like(current[:, 0])
    step = STEPS[var.neuron]
    zs, ys = [], []
    for c in current.unbind(1):
        state = step(c, state, w_rec, dyn, var)
        zs.append(state.z)
        ys.append(state.y)
    return torch.stack(zs, 1), torch.stack(ys, 1), ys


def _parts(cfg) -> tuple[Dynamics, Variant]:
    return cfg if isinstance(cfg, tuple) else (Dynamics.of(cfg), Variant.of(cfg))


# ---------------------------------------------------------------------------------------------
# Fast path: time-major (T, n, batch) buffers, one GEMM per step each way

def _forward_loop(current: torch.Tensor, w_rec: torch.Tensor, dyn: Dynamics, var: Variant):
    """(spikes, voltages, drives i_t, thresholds θ_t or None), each (T, n, batch). The rules are
    stabviz.neuron's (L1)-(L3), fused into as few in-place kernels per step as they allow: each kernel
    costs a few µs at n = 256, B = 32, as much as a tenth of the step's GEMM."""
    drive = current.clone()                       # becomes i_t: I_t (+ α_s i_{t−1} for cuba)
    z_all, y_all = torch.empty_like(current), torch.empty_like(current)
    theta_all = torch.full_like(current, dyn.threshold) if var.adapts else None
    keep_all = torch.empty_like(current) if dyn.reset != "subtract" else None
    w_fwd = w_rec.t().contiguous()                # (n_post × n_pre): I_tᵀ += Wᵀ z_{t−1}ᵀ
    a = torch.zeros_like(current[0]) if var.adapts else None
    thresholds = theta_all.unbind(0) if var.adapts else [dyn.threshold] * current.shape[0]
    alpha = dyn.leak
    for t in range(current.shape[0]):
        y, i = y_all[t], drive[t]
        if t:
            z_prev, y_prev = z_all[t - 1], y_all[t - 1]
            i.addmm_(w_fwd, z_prev)
            if var.filters:
                i.add_(drive[t - 1], alpha=var.syn_decay)
            if dyn.reset == "subtract":                    # (L1) α y + i − θ_{t−1} z
                torch.add(i, y_prev, alpha=alpha, out=y)
                if var.adapts:
                    y.addcmul_(z_prev, thresholds[t - 1], value=-1.0)
                else:
                    y.add_(z_prev, alpha=-dyn.threshold)
            elif dyn.reset == "mult1":                     # (L2) (α y + i)(1 − z)
                torch.add(i, y_prev, alpha=alpha, out=y).mul_(keep_all[t - 1])
            else:                                          # (L3) α y (1 − z) + i
                torch.addcmul(i, y_prev, keep_all[t - 1], value=alpha, out=y)
            if var.adapts:
                a.mul_(var.adapt_decay).add_(z_prev, alpha=1.0 - var.adapt_decay)
                torch.mul(a, var.adapt_strength, out=theta_all[t]).add_(dyn.threshold)
        else:
            y.copy_(i)                                     # y_{−1} = z_{−1} = a_{−1} = i_{−1} = 0
        torch.gt(y, thresholds[t], out=z_all[t])
        if keep_all is not None:
            torch.le(y, thresholds[t], out=keep_all[t])    # 1 − z_t, for the next step
    return z_all, y_all, drive, theta_all


class _RecurrentVariant(torch.autograd.Function):
    """current (T, n, B) -> (spikes, voltages) (T, n, B) for the alif and cuba models."""

    @staticmethod
    def forward(ctx, current, w_rec, dyn: Dynamics, var: Variant):
        ctx.set_materialize_grads(False)
        ctx.dyn, ctx.var = dyn, var
        z_all, y_all, drive, theta_all = _forward_loop(current, w_rec, dyn, var)
        ctx.save_for_backward(w_rec, z_all, y_all, drive, theta_all)
        return z_all, y_all

    @staticmethod
    def backward(ctx, grad_z, grad_y):
        w_rec, z_all, y_all, drive, theta_all = ctx.saved_tensors
        dyn, var = ctx.dyn, ctx.var
        threshold = theta_all if var.adapts else dyn.threshold
        sgp = surrogates.sg_prime_torch(y_all - threshold, dyn.surrogate)
        g_z = torch.zeros_like(y_all) if grad_z is None else _as_time_major(grad_z, own=True)
        dy = None if grad_y is None else _as_time_major(grad_y)
        g_drive = _backward_loop(sgp, g_z, dy, w_rec, dyn, var, z_all, y_all, drive, theta_all)
        grad_w = _recurrent_weight_grad(z_all, g_drive) if ctx.needs_input_grad[1] else None
        return (g_drive if ctx.needs_input_grad[0] else None), grad_w, None, None


def _backward_loop(sgp, g_z, dy, w_rec, dyn: Dynamics, var: Variant, z_all, y_all, drive, theta_all):
    """The adjoint recursion of the module docstring; returns G_i (T, n, B) = ∂L/∂current. ``g_z`` holds
    dZ and becomes ∂L/∂z in place; the per-step coefficients are formed for all steps at once."""
    steps, alpha, mult = y_all.shape[0], dyn.leak, dyn.reset != "subtract"
    adapt_grad = var.adapts and var.adapt_grad
    g_y_all = torch.empty_like(y_all)
    # G_i = G_y unless mult1's (1 − z_{t−1}) or cuba's α_s G_i,{t+1} make it differ
    g_drive = torch.empty_like(y_all) if dyn.reset == "mult1" or var.filters else g_y_all
    leak_keep = alpha * (1.0 - z_all) if mult else None                 # ∂y_{t+1}/∂y_t
    reset_coef = _reset_coefficients(dyn, y_all, drive, theta_all) if dyn.reset_grad else None
    keep_prev = 1.0 - z_all if dyn.reset == "mult1" else None          # ∂y_t/∂i_t = 1 − z_{t−1}
    if adapt_grad:
        beta_s = sgp * (-var.adapt_strength)                            # ∂z_t/∂a_t
        beta_z = z_all * (-var.adapt_strength) if not mult else None    # ∂y_{t+1}/∂a_t (subtract)
        g_a, g_a_next = torch.empty_like(y_all[0]), torch.empty_like(y_all[0])
    for t in range(steps - 1, -1, -1):
        g, g_y = g_z[t], g_y_all[t]
        last = t == steps - 1
        if not last:
            g.addmm_(w_rec, g_drive[t + 1])
            if adapt_grad:
                g.add_(g_a_next, alpha=1.0 - var.adapt_decay)
            if isinstance(reset_coef, torch.Tensor):
                g.addcmul_(reset_coef[t], g_y_all[t + 1], value=-1.0)
            elif reset_coef is not None:
                g.add_(g_y_all[t + 1], alpha=-reset_coef)
        torch.mul(sgp[t], g, out=g_y)
        if not last:
            g_y.addcmul_(leak_keep[t], g_y_all[t + 1]) if mult else g_y.add_(g_y_all[t + 1], alpha=alpha)
        if dy is not None:
            g_y.add_(dy[t])
        if adapt_grad:
            torch.mul(beta_s[t], g, out=g_a)
            if not last:
                g_a.add_(g_a_next, alpha=var.adapt_decay)
                if beta_z is not None:
                    g_a.addcmul_(beta_z[t], g_y_all[t + 1])
            g_a, g_a_next = g_a_next, g_a
        if g_drive is g_y_all:
            continue
        if keep_prev is not None and t:
            torch.mul(g_y, keep_prev[t - 1], out=g_drive[t])
        elif not (var.filters and not last):
            g_drive[t].copy_(g_y)
        if var.filters and not last:
            source = g_drive[t] if keep_prev is not None and t else g_y
            torch.add(source, g_drive[t + 1], alpha=var.syn_decay, out=g_drive[t])
    return g_drive


def _reset_coefficients(dyn: Dynamics, y_all, drive, theta_all):
    """−∂y_{t+1}/∂z_t for every t (the last row unused): θ_t (subtract: the threshold z_t crossed; a
    number for cuba), u_{t+1} = α y_t + i_{t+1} (mult1), α y_t (mult2)."""
    if dyn.reset == "subtract":
        return theta_all if theta_all is not None else dyn.threshold
    if dyn.reset == "mult1":
        u = dyn.leak * y_all
        u[:-1].add_(drive[1:])
        return u
    return dyn.leak * y_all


def recurrent_variant_time_major(current: torch.Tensor, w_rec: torch.Tensor,
                                 cfg: LIFConfig | tuple[Dynamics, Variant]) -> tuple[torch.Tensor, torch.Tensor]:
    """The fast alif / cuba layer on time-major tensors: current (T, n, batch) -> (spikes, voltages)."""
    dyn, var = _parts(cfg)
    if var.neuron not in ("alif", "cuba"):
        raise ValueError(f"neuron = {var.neuron!r}: this fast path runs alif and cuba (the LIF has its own)")
    if current.dim() != 3 or w_rec.shape != (current.shape[1], current.shape[1]):
        raise ValueError(f"current must be (T, n, batch) and w_rec (n, n); got {tuple(current.shape)} "
                         f"and {tuple(w_rec.shape)}")
    if current.device.type == "cpu":
        keep_freed_cpu_memory()
    return _RecurrentVariant.apply(current.contiguous(), w_rec.contiguous(), dyn, var)


def recurrent_variant(current: torch.Tensor, w_rec: torch.Tensor, cfg: LIFConfig | tuple[Dynamics, Variant],
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """One fast alif / cuba layer on (batch, T, n) tensors, as :func:`stabviz.lif.recurrent_lif`."""
    _check_layer_inputs(current, w_rec)
    z, y = recurrent_variant_time_major(to_time_major(current), w_rec, cfg)
    return z.permute(2, 0, 1), y.permute(2, 0, 1)
