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

and ∂L/∂W_rec = Σ_t z_{t−1}ᵀ G_i,t as one GEMM. The loop carries E_t = G_a,t + β_a G_y,t in place of
G_a,t (the same numbers, one kernel a step fewer: see ``_Coefficients``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from stabviz import neuron, surrogates
from stabviz.config import LIFConfig
from stabviz.lif.bptt import RecurrentLayer, add_scaled, batch_major, prepared_time_major, with_diagonal_shift
from stabviz.lif.dynamics import Dynamics
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
    def of(cls, cfg: LIFConfig | Variant) -> Variant:
        if isinstance(cfg, Variant):
            return cfg
        return cls(
            cfg.neuron, float(cfg.adapt_decay), float(cfg.adapt_strength), bool(cfg.adapt_grad), float(cfg.syn_decay)
        )

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
    def zeros_like(cls, x: torch.Tensor) -> State:
        return cls(*(torch.zeros_like(x) for _ in range(4)))


# ---------------------------------------------------------------------------------------------
# Pure steps (plain autograd): the referee


def alif_step(current: torch.Tensor, state: State, w_rec: torch.Tensor, dyn: Dynamics, var: Variant) -> State:
    """One ALIF step. ``current`` = x_t W_in + b (batch, n)."""
    total = current + state.z @ w_rec
    reset = state.z if dyn.reset_grad else state.z.detach()
    crossed = dyn.threshold + var.adapt_strength * state.a  # θ_{t−1}: what the spike crossed
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


def lif_state_step(current: torch.Tensor, state: State, w_rec: torch.Tensor, dyn: Dynamics, var: Variant) -> State:
    """The LIF (stabviz.lif.reference.lif_step's rule) in the family's signature."""
    total = current + state.z @ w_rec
    reset = state.z if dyn.reset_grad else state.z.detach()
    y = neuron.integrate(state.y, reset, total, dyn.leak, dyn.threshold, dyn.reset)
    return State(dyn.spike(y), y, state.a, state.i)


STEPS = {"lif": lif_state_step, "alif": alif_step, "cuba": cuba_step}


def reference_variant(
    current: torch.Tensor,
    w_rec: torch.Tensor,
    cfg: LIFConfig | tuple[Dynamics, Variant],
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
# Fast path: time-major (T, n, batch) buffers, one GEMM per step each way. Every elementwise kernel
# costs a few µs at n = 256, B = 32 (a tenth of the step's GEMM), so the loops run as few as the rules allow.


def _forward_loop(current: torch.Tensor, w_rec: torch.Tensor, dyn: Dynamics, var: Variant):
    """(spikes, voltages, drives i_t or None, thresholds θ_t or None), each (T, n, batch), by stabviz.neuron's
    (L1)-(L3). The alif threshold runs as θ_t = ρ_a θ_{t−1} + (1 − ρ_a)(θ + β_a z_{t−1}) (the same as
    θ + β_a a_t): two kernels a step, with no adaptation buffer."""
    steps, alpha = current.shape[0], dyn.leak
    # i_t = I_t (+ α_s i_{t−1} for cuba) needs a buffer of its own only where cuba's filter or mult1's
    # backward reads it; otherwise I_t accumulates in the voltage buffer itself (one (T, n, B) copy less)
    own_drive = var.filters or dyn.reset == "mult1"
    drive = current.clone() if own_drive else None
    z_all = torch.empty_like(current)
    y_all = torch.empty_like(current) if own_drive else current.clone()
    keep_all = torch.empty_like(current) if dyn.reset != "subtract" else None
    theta_all = _threshold_start(current, dyn, var) if var.adapts else None
    w_fwd = w_rec.t().contiguous()  # (n_post × n_pre): I_tᵀ += Wᵀ z_{t−1}ᵀ
    zs, ys = z_all.unbind(0), y_all.unbind(0)
    ds = drive.unbind(0) if own_drive else ys
    ks = keep_all.unbind(0) if keep_all is not None else None
    thetas = theta_all.unbind(0) if var.adapts else (dyn.threshold,) * steps
    step_up = (1.0 - var.adapt_decay) * var.adapt_strength
    if own_drive:
        ys[0].copy_(ds[0])  # y_{−1} = z_{−1} = a_{−1} = i_{−1} = 0
    for t in range(steps):
        y = ys[t]
        if t:
            i, z_prev, y_prev = ds[t], zs[t - 1], ys[t - 1]
            i.addmm_(w_fwd, z_prev)
            if var.filters:
                i.add_(ds[t - 1], alpha=var.syn_decay)
            if dyn.reset == "subtract":  # (L1) α y + i − θ_{t−1} z
                if own_drive:
                    torch.add(i, y_prev, alpha=alpha, out=y)
                else:
                    y.add_(y_prev, alpha=alpha)
                if var.adapts:
                    y.addcmul_(z_prev, thetas[t - 1], value=-1.0)
                else:
                    y.add_(z_prev, alpha=-dyn.threshold)
            elif dyn.reset == "mult1":  # (L2) (α y + i)(1 − z)
                torch.add(i, y_prev, alpha=alpha, out=y).mul_(ks[t - 1])
            elif own_drive:  # (L3) α y (1 − z) + i
                torch.addcmul(i, y_prev, ks[t - 1], value=alpha, out=y)
            else:
                y.addcmul_(y_prev, ks[t - 1], value=alpha)
            if var.adapts:
                thetas[t].add_(thetas[t - 1], alpha=var.adapt_decay).add_(z_prev, alpha=step_up)
        torch.gt(y, thetas[t], out=zs[t])
        if ks is not None:
            torch.le(y, thetas[t], out=ks[t])  # 1 − z_t, for the next step
    return z_all, y_all, drive, theta_all


def _threshold_start(current: torch.Tensor, dyn: Dynamics, var: Variant) -> torch.Tensor:
    """θ_0 = θ, and (1 − ρ_a) θ in every later step, where the loop adds ρ_a θ_{t−1} + (1 − ρ_a) β_a z_{t−1}."""
    theta_all = torch.full_like(current, (1.0 - var.adapt_decay) * dyn.threshold)
    theta_all[0].fill_(dyn.threshold)
    return theta_all


class _VariantLoop:
    """The alif and cuba models' :class:`stabviz.lif.bptt.TimeLoop`."""

    def __init__(self, dyn: Dynamics, var: Variant):
        self.dyn, self.var = dyn, var

    def forward(self, current, w_rec):
        return _forward_loop(current, w_rec, self.dyn, self.var)  # spikes, voltages, drives, thresholds

    def backward(self, w_rec, z_all, y_all, saved, work, grad_y):
        drive, theta_all = saved
        dyn, var = self.dyn, self.var
        threshold = theta_all if var.adapts else dyn.threshold
        sgp = surrogates.sg_prime_torch(y_all - threshold, dyn.surrogate)
        coef = _Coefficients.of(dyn, var, w_rec, z_all, y_all, drive, theta_all)
        return _backward_loop(sgp, work, grad_y, coef, var)


@dataclass(frozen=True, eq=False)
class _Coefficients:
    """The backward map's per-step coefficients, formed for all steps at once (row t acts on step t + 1's
    adjoints; the loop's buffers carry a zero row T, so the last step needs no branch):

    - ``w``: W, with −K folded into its diagonal when K is a number and G_i = G_y;
    - ``reset``: K_t, what ∂L/∂z_t takes of G_y,{t+1} with the opposite sign (the reset's −∂y_{t+1}/∂z_t
      with reset grad, and (1 − ρ_a) β_a with the adaptation gradient: see ``adapt``); None when folded;
    - ``leak``: ∂y_{t+1}/∂y_t, α or α (1 − z_t);
    - ``adapt``: with the adaptation gradient, c_t of E_t = G_a,t + β_a G_y,t = ρ_a E_{t+1} + c_t G_y,{t+1}
      + β_a dY_t. E needs two kernels a step where G_a needs three: the term −β_a s_t ∂L/∂z_t, shared by
      G_a and G_y, cancels, and ∂L/∂z_t's (1 − ρ_a) G_a,{t+1} becomes (1 − ρ_a)(E_{t+1} − β_a G_y,{t+1});
    - ``keep``: ∂y_t/∂i_t = 1 − z_{t−1} (mult1; row 0 is 1), else None.
    """

    w: torch.Tensor
    reset: float | torch.Tensor | None
    leak: float | torch.Tensor
    adapt: torch.Tensor | None
    keep: torch.Tensor | None
    own_drive: bool

    @classmethod
    def of(cls, dyn: Dynamics, var: Variant, w_rec, z_all, y_all, drive, theta_all) -> _Coefficients:
        adapt_grad = var.adapts and var.adapt_grad
        mult = dyn.reset != "subtract"
        leak = dyn.leak * (1.0 - z_all) if mult else dyn.leak
        reset = _reset_coefficients(dyn, y_all, drive, theta_all) if dyn.reset_grad else None
        adapt = None
        if adapt_grad:
            shift = (1.0 - var.adapt_decay) * var.adapt_strength
            reset = shift if reset is None else reset + shift
            beta = var.adapt_strength
            if mult:  # c_t = β_a (α (1 − z_t) − ρ_a)
                adapt = torch.sub(leak, var.adapt_decay).mul_(beta)
            else:  # c_t = β_a (α − ρ_a − z_t), one kernel
                adapt = torch.rsub(z_all, beta * (dyn.leak - var.adapt_decay), alpha=beta)
        keep = None
        if dyn.reset == "mult1":
            keep = torch.ones_like(z_all)
            torch.sub(1.0, z_all[:-1], out=keep[1:])
        own_drive = keep is not None or var.filters  # G_i differs from G_y
        if isinstance(reset, float) and not own_drive:
            return cls(with_diagonal_shift(w_rec, -reset), None, leak, adapt, keep, own_drive)
        return cls(w_rec, reset, leak, adapt, keep, own_drive)


def _backward_loop(sgp, g_z, dy, coef: _Coefficients, var: Variant):
    """The adjoint recursion of the module docstring; returns G_i (T, n, B) = ∂L/∂current. ``g_z`` holds
    dZ and becomes ∂L/∂z in place."""
    steps = g_z.shape[0]
    padded = lambda: g_z.new_zeros((steps + 1, *g_z.shape[1:]))  # noqa: E731 (row T: the zero after the end)
    g_y_all = padded()
    g_drive = padded() if coef.own_drive else g_y_all
    gz, gy, gi, ss = g_z.unbind(0), g_y_all.unbind(0), g_drive.unbind(0), sgp.unbind(0)
    dys = dy.unbind(0) if dy is not None else None
    leaks = coef.leak.unbind(0) if isinstance(coef.leak, torch.Tensor) else (coef.leak,) * steps
    resets = coef.reset.unbind(0) if isinstance(coef.reset, torch.Tensor) else (coef.reset,) * steps
    if coef.adapt is not None:
        cs, rho, beta = coef.adapt.unbind(0), var.adapt_decay, var.adapt_strength
        e, e_next = torch.zeros_like(gz[0]), torch.zeros_like(gz[0])
    keeps = coef.keep.unbind(0) if coef.keep is not None else None
    for t in range(steps - 1, -1, -1):
        g, g_y, g_y_next = gz[t], gy[t], gy[t + 1]
        g.addmm_(coef.w, gi[t + 1])
        reset = resets[t]
        if isinstance(reset, float):
            g.add_(g_y_next, alpha=-reset)
        elif reset is not None:
            g.addcmul_(reset, g_y_next, value=-1.0)
        if coef.adapt is not None:
            g.add_(e_next, alpha=1.0 - rho)
        add_scaled(torch.mul(ss[t], g, out=g_y), leaks[t], g_y_next)
        if dys is not None:
            g_y.add_(dys[t])
        if coef.adapt is not None:
            torch.mul(e_next, rho, out=e).addcmul_(cs[t], g_y_next)
            if dys is not None:
                e.add_(dys[t], alpha=beta)
            e, e_next = e_next, e
        if keeps is not None:
            torch.mul(g_y, keeps[t], out=gi[t])
        if var.filters:
            torch.add(gi[t] if keeps is not None else g_y, gi[t + 1], alpha=var.syn_decay, out=gi[t])
        elif coef.own_drive and keeps is None:
            gi[t].copy_(g_y)
    return g_drive[:steps]


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


def recurrent_variant_time_major(
    current: torch.Tensor, w_rec: torch.Tensor, cfg: LIFConfig | tuple[Dynamics, Variant]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fast alif / cuba layer on time-major tensors: current (T, n, batch) -> (spikes, voltages)."""
    dyn, var = _parts(cfg)
    if var.neuron not in ("alif", "cuba"):
        raise ValueError(f"neuron = {var.neuron!r}: this fast path runs alif and cuba (the LIF has its own)")
    current, w_rec = prepared_time_major(current, w_rec)
    return RecurrentLayer.apply(current, w_rec, _VariantLoop(dyn, var))


def recurrent_variant(
    current: torch.Tensor,
    w_rec: torch.Tensor,
    cfg: LIFConfig | tuple[Dynamics, Variant],
) -> tuple[torch.Tensor, torch.Tensor]:
    """One fast alif / cuba layer on (batch, T, n) tensors, as :func:`stabviz.lif.recurrent_lif`."""
    return batch_major(recurrent_variant_time_major, current, w_rec, cfg)
