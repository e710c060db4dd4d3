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

The backward pass (docs/theory.md#92-the-backward-map-a-2-2-block-per-neuron). With G_y, G_i, G_a the
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
    z = surrogates.spike(y - theta, dyn.shape, dyn.dampening, dyn.sharpness, dyn.tail)
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
    """(spikes, voltages, drives i_t, thresholds θ_t or None), each (T, n, batch)."""
    drive = current.clone()                       # becomes i_t: I_t (+ α_s i_{t−1} for cuba)
    y_all, z_all = torch.empty_like(current), torch.empty_like(current)
    theta_all = torch.full_like(current, dyn.threshold) if var.adapts else None
    w_fwd = w_rec.t().contiguous()                # (n_post × n_pre): I_tᵀ += Wᵀ z_{t−1}ᵀ
    a = torch.zeros_like(current[0]) if var.adapts else None
    for t in range(current.shape[0]):
        if t:
            drive[t].addmm_(w_fwd, z_all[t - 1])
            if var.filters:
                drive[t].add_(drive[t - 1], alpha=var.syn_decay)
            crossed = theta_all[t - 1] if var.adapts else dyn.threshold
            y_all[t] = neuron.integrate(y_all[t - 1], z_all[t - 1], drive[t], dyn.leak, crossed, dyn.reset)
            if var.adapts:
                a.mul_(var.adapt_decay).add_(z_all[t - 1], alpha=1.0 - var.adapt_decay)
                torch.mul(a, var.adapt_strength, out=theta_all[t]).add_(dyn.threshold)
        else:
            y_all[0] = drive[0]                   # y_{−1} = z_{−1} = a_{−1} = i_{−1} = 0
        torch.gt(y_all[t], theta_all[t] if var.adapts else dyn.threshold, out=z_all[t])
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
        sgp = surrogates.sg_prime_torch(y_all - threshold, dyn.shape, dyn.dampening, dyn.sharpness, dyn.tail)
        dz = None if grad_z is None else _as_time_major(grad_z)
        dy = None if grad_y is None else _as_time_major(grad_y)
        g_drive = _backward_loop(sgp, dz, dy, w_rec, dyn, var, z_all, y_all, drive, theta_all)
        grad_w = _recurrent_weight_grad(z_all, g_drive) if ctx.needs_input_grad[1] else None
        return (g_drive if ctx.needs_input_grad[0] else None), grad_w, None, None


def _backward_loop(sgp, dz, dy, w_rec, dyn: Dynamics, var: Variant, z_all, y_all, drive, theta_all):
    """The adjoint recursion of the module docstring; returns G_i (T, n, B) = ∂L/∂current."""
    g_drive = torch.empty_like(y_all)
    steps, alpha, mult = y_all.shape[0], dyn.leak, dyn.reset != "subtract"
    adapt_grad = var.adapts and var.adapt_grad
    g_y = g_a = None                              # G_y,{t+1}, G_a,{t+1}
    for t in range(steps - 1, -1, -1):
        g_z = dz[t].clone() if dz is not None else torch.zeros_like(y_all[t])
        if t < steps - 1:
            g_z.addmm_(w_rec, g_drive[t + 1])
            if adapt_grad:
                g_z.add_(g_a, alpha=1.0 - var.adapt_decay)
            if dyn.reset_grad:
                g_z.sub_(_reset_coefficient(dyn, t, y_all, drive, theta_all) * g_y)
        s = sgp[t]
        g_y_t = s * g_z
        if t < steps - 1:
            g_y_t.add_(g_y * (alpha * (1.0 - z_all[t]) if mult else alpha))
        if dy is not None:
            g_y_t.add_(dy[t])
        if adapt_grad:
            g_a_t = s * g_z * (-var.adapt_strength)
            if t < steps - 1:
                g_a_t.add_(g_a, alpha=var.adapt_decay)
                if not mult:
                    g_a_t.sub_(var.adapt_strength * z_all[t] * g_y)
            g_a = g_a_t
        if dyn.reset == "mult1" and t:
            torch.mul(g_y_t, 1.0 - z_all[t - 1], out=g_drive[t])
        else:
            g_drive[t].copy_(g_y_t)
        if var.filters and t < steps - 1:
            g_drive[t].add_(g_drive[t + 1], alpha=var.syn_decay)
        g_y = g_y_t
    return g_drive


def _reset_coefficient(dyn: Dynamics, t: int, y_all, drive, theta_all):
    """−∂y_{t+1}/∂z_t: θ_t (subtract: the threshold z_t crossed), u_{t+1} = α y_t + i_{t+1} (mult1),
    α y_t (mult2)."""
    if dyn.reset == "subtract":
        return theta_all[t] if theta_all is not None else dyn.threshold
    if dyn.reset == "mult1":
        return dyn.leak * y_all[t] + drive[t + 1]
    return dyn.leak * y_all[t]


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
