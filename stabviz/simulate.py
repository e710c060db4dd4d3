"""The measured check: simulate an initialised LIF layer (no training) and measure what the theory
predicts (docs/theory.md#43-measured-monte-carlo).

The one-step transition derivative M_t = ∂y_t/∂y_{t−1} (docs/theory.md#14-the-backward-pass-the-one-step-jacobian-m) of
every reset mode has
the form M_ij = c_i δ_ij + r_i W_rec[j,i] s_j with s = σ'(y_{t−1} − θ); with a zero recurrent diagonal

    Σ_j M_ij²   = c_i² + r_i² Σ_j W_ji² s_j²          (the empirical ρ², one matmul per step)
    Σ_j |M_ij|  = |c_i| + |r_i| Σ_j |W_ji| s_j          (the one-step gain of neuron i)
    (Mᵀδ)_j     = c_j δ_j + s_j Σ_i W_ji r_i δ_i        (pushing a gradient back one step)

so nothing of size n² per step is ever built.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from stabviz import memory, neuron
from stabviz.config import LIFConfig
from stabviz.jsonsafe import finite_or_none
from stabviz.surrogates import sg_prime_torch
from stabviz.weights import layer_weights


@dataclass
class Measurement:
    """Monte-Carlo measurement of an initialised layer; rates per step, voltages in y units."""

    firing_rate: float
    voltage_mean: float
    voltage_std: float
    moment1: float  # empirical E[σ']
    moment2: float  # empirical E[σ'²]
    rho2: float  # mean over neurons, batch and time of Σ_j M_ij²
    max_gain: float  # mean over batch and time of max_i Σ_j |M_ij| (the worst neuron's gain)
    rho_hat: float  # per-step gain of a random vector pushed back through the M_t
    gradient_gain: float  # rho_hat^T, T = cfg.steps
    log10_gain: float
    steps_measured: int
    voltages: np.ndarray  # a sample of stationary voltages (for histograms)
    notes: list[str] = field(default_factory=list)  # e.g. a burn-in too short for the leak
    block_rho: float = math.nan  # alif/cuba: the 2×2-block recursion's per-step gain, measured moments

    def to_dict(self, with_voltages: bool = False) -> dict[str, Any]:
        d = asdict(self)
        d["voltages"] = self.voltages.tolist() if with_voltages else len(self.voltages)
        return finite_or_none(d)


def bernoulli_inputs(
    cfg: LIFConfig,
    batch: int,
    steps: int,
    generator: torch.Generator,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Input spikes (batch, steps, n_in) with mean m_x per channel and step: Bernoulli(m_x) for m_x ≤ 1
    (variance m_x(1 − m_x), which is what the paper's data sets have), Poisson(m_x) counts above 1."""
    shape = (batch, steps, cfg.n_in)
    rate = torch.full(shape, cfg.input_mean, dtype=torch.float32)
    x = torch.bernoulli(rate, generator=generator) if cfg.input_mean <= 1 else torch.poisson(rate, generator)
    return x.to(device=device, dtype=dtype)


#: measure's progress callback: every this many simulated steps (a seed of 100 000 steps reports 100 times)
PROGRESS_EVERY = 1000


def measure(
    cfg: LIFConfig,
    batch: int = 64,
    steps: int = 300,
    burn_in: int = 100,
    seed: int | None = None,
    device: str = "cpu",
    inputs: torch.Tensor | None = None,
    voltage_samples: int = 20000,
    progress: Callable[[int], None] | None = None,
) -> Measurement:
    """Initialise the layer of ``cfg`` (seeded), drive it with Bernoulli input spikes at the configured
    statistics (or ``inputs``, shape (batch, steps, n_in)) and measure it after ``burn_in`` steps.
    ``progress(steps_done)`` is called every PROGRESS_EVERY simulated steps and at the end."""
    if not (1 <= burn_in + 1 < steps + 1 and burn_in < steps):
        raise ValueError(f"burn_in = {burn_in} must be below steps = {steps}")
    # before any allocation: a link asking for n_in = 100000 is refused, not simulated
    memory.check_simulate(cfg, batch=batch, steps=steps, burn_in=burn_in, inputs=inputs)
    gen = torch.Generator().manual_seed(cfg.seed if seed is None else seed)
    w_in, w_rec, bias = layer_weights(cfg, generator=gen)
    if inputs is None:
        inputs = bernoulli_inputs(cfg, batch, steps, gen)
    return measure_layer(
        w_in.to(device),
        w_rec.to(device),
        bias.to(device),
        cfg,
        inputs.to(device),
        burn_in=burn_in,
        voltage_samples=voltage_samples,
        generator=gen,
        progress=progress,
    )


@torch.no_grad()
def measure_layer(
    w_in: torch.Tensor,
    w_rec: torch.Tensor,
    bias: torch.Tensor,
    cfg: LIFConfig,
    inputs: torch.Tensor,
    burn_in: int = 100,
    voltage_samples: int = 20000,
    generator: torch.Generator | None = None,
    progress: Callable[[int], None] | None = None,
) -> Measurement:
    """Measure one layer with given weights on given input spikes (batch, steps, n_in).

    The dynamics are docs/theory.md#11-the-layer-equations-l1-to-l3 (L1)-(L3); the surrogate is cfg's (shape, γ, β, q).
    """
    batch, steps, _ = inputs.shape
    if burn_in >= steps:
        raise ValueError(f"burn_in = {burn_in} must be below the number of input steps {steps}")
    if cfg.neuron != "lif":
        return _measure_variant(w_in, w_rec, bias, cfg, inputs, burn_in, voltage_samples, generator, progress)
    alpha, theta = cfg.leak, cfg.threshold
    current = inputs @ w_in + bias  # hoisted: one GEMM for all steps
    w2, wabs = w_rec.square(), w_rec.abs()
    n = w_rec.shape[0]
    y = torch.zeros(batch, n, dtype=inputs.dtype, device=inputs.device)
    z = torch.zeros_like(y)
    surrogate = cfg.surrogate  # built once: sg runs every step
    sg = lambda v: sg_prime_torch(v, surrogate)
    kept = steps - burn_in
    stats = torch.zeros(6, dtype=torch.float64, device=inputs.device)  # Σz, Σy, Σy², Σs, Σs², Σρ²
    max_gain_sum = 0.0
    c_hist, r_hist, s_hist, v_keep = [], [], [], []
    for t in range(steps):
        if progress is not None and t % PROGRESS_EVERY == 0 and t:
            progress(t)
        s = sg(y - theta)  # σ' at y_{t−1}: what M_t uses
        drive = current[:, t] + z @ w_rec  # I_t = x_t W_in + b + z_{t−1} W_rec
        y_new = neuron.integrate(y, z, drive, alpha, theta, cfg.reset)
        c, r = transition_terms(cfg, alpha, theta, y, z, s, drive)
        y, z = y_new, neuron.fire(y_new, theta)
        if t < burn_in:
            continue
        s2 = s.square()
        rho2_i = c.square() + r.square() * (s2 @ w2)
        gain_i = c.abs() + r.abs() * (s @ wabs)
        stats += torch.stack([z.sum(), y.sum(), y.square().sum(), s.sum(), s2.sum(), rho2_i.sum()]).double()
        max_gain_sum += float(gain_i.max(dim=1).values.mean())
        c_hist.append(c), r_hist.append(r), s_hist.append(s)
        v_keep.append(y)
    if progress is not None:
        progress(steps)
    count = batch * kept * n
    zs, ys, yy, ss, s2s, rs = (stats / count).tolist()
    rho_hat = _pushback_gain(w_rec, c_hist[-cfg.steps :], r_hist[-cfg.steps :], s_hist[-cfg.steps :], generator)
    log10_gain = cfg.steps * math.log10(rho_hat) if rho_hat > 0 else -math.inf
    voltages = torch.stack(v_keep).flatten()
    pick = (
        torch.randperm(voltages.numel(), generator=generator)[:voltage_samples]
        if generator is not None
        else torch.arange(min(voltage_samples, voltages.numel()))
    )
    return Measurement(
        zs,
        ys,
        math.sqrt(max(yy - ys * ys, 0.0)),
        ss,
        s2s,
        rs,
        max_gain_sum / kept,
        rho_hat,
        10**log10_gain if log10_gain < 308 else math.inf,
        log10_gain,
        kept,
        voltages[pick.to(voltages.device)].double().cpu().numpy(),
        burn_in_notes(cfg, burn_in),
    )


def _measure_variant(
    w_in, w_rec, bias, cfg: LIFConfig, inputs, burn_in, voltage_samples, generator, progress
) -> Measurement:
    """An alif / cuba layer (stabviz.variant_gain) in the LIF's Measurement: ρ² is the block map's one-step
    mean square from a unit voltage error, ρ̂ is pushed back through the 2 × 2 blocks; the worst-row gain
    (III) is the LIF's for an alif without the adaptation gradient and nan for the others (no block
    counterpart). A note carries the block recursion's prediction."""
    from stabviz import variant_gain

    m = variant_gain.measure_variant_layer(
        w_in,
        w_rec,
        bias,
        cfg,
        inputs,
        burn_in=burn_in,
        generator=generator,
        voltage_samples=voltage_samples,
        progress=progress,
    )
    log10_gain = cfg.steps * math.log10(m.rho_hat) if m.rho_hat > 0 else -math.inf
    note = (
        f"{cfg.neuron}: per-step gain predicted by the 2×2-block second-moment recursion with the measured "
        f"coefficients: {m.predicted_rho:.4g} (measured ρ̂ {m.rho_hat:.4g})"
    )
    return Measurement(
        m.firing_rate,
        m.voltage_mean,
        m.voltage_std,
        m.moment1,
        m.moment2,
        m.rho2,
        m.max_gain,
        m.rho_hat,
        10**log10_gain if log10_gain < 308 else math.inf,
        log10_gain,
        inputs.shape[1] - burn_in,
        m.voltages,
        burn_in_notes(cfg, burn_in) + [note],
        m.predicted_rho,
    )


#: the longest burn-in the measured voltage model runs (leak 0.9999 would ask for 50000 steps)
MAX_BURN_IN = 2000


def stationary_burn_in(cfg: LIFConfig) -> int:
    """Steps for the voltages to forget their zero start: 5τ (never below 100, at most MAX_BURN_IN)."""
    # − 1e-6: τ comes back from α = exp(−1/τ) a hair above a round value (60 → 60.0000000001)
    return min(max(100, math.ceil(5 * cfg.tau - 1e-6)), MAX_BURN_IN)


def burn_in_notes(cfg: LIFConfig, burn_in: int) -> list[str]:
    """Say so when the burn-in is shorter than 5τ: what was measured may still be a transient."""
    need = math.ceil(5 * cfg.tau - 1e-6)
    if burn_in >= need:
        return []
    return [
        f"burn-in {burn_in} steps < 5τ = {need}: the voltages may not have reached their stationary state"
        + ("" if need <= MAX_BURN_IN else f" (longer than the {MAX_BURN_IN}-step limit of the measured model)")
    ]


def transition_terms(cfg: LIFConfig, alpha: float, theta: float, y, z, s, drive):
    """(c, r) of M_ij = c_i δ_ij + r_i W_ji s_j for each reset mode
    (docs/theory.md#14-the-backward-pass-the-one-step-jacobian-m).

    With the reset gradient on, the reset term adds its own diagonal derivative: −θ s_i (subtract),
    −(α y_i + I_i) s_i (mult1, I the total current ``drive``), −α y_i s_i (mult2).
    """
    keep = 1 - z
    if cfg.reset == "subtract":
        c = alpha - theta * s if cfg.reset_grad else torch.full_like(y, alpha)
        return c, torch.ones_like(y)
    if cfg.reset == "mult1":
        c = alpha * keep - ((alpha * y + drive) * s if cfg.reset_grad else 0)
        return c, keep
    c = alpha * keep - (alpha * y * s if cfg.reset_grad else 0)
    return c, torch.ones_like(y)


def _pushback_gain(w_rec, cs, rs, ss, generator) -> float:
    """Per-step gain of a random unit vector pushed back through M_T ... M_1: exp(mean log growth).

    The vector is renormalised every step (the log norms are summed), so gains like 0.2^300 neither
    underflow nor overflow.
    """
    if not cs:
        return math.nan
    batch, n = cs[0].shape
    delta = torch.randn(batch, n, generator=generator, dtype=torch.float64).to(cs[0])
    delta = delta / delta.norm(dim=1, keepdim=True)
    log_growth = torch.zeros(batch, dtype=torch.float64, device=delta.device)
    w_t = w_rec.t()
    for c, r, s in zip(reversed(cs), reversed(rs), reversed(ss)):
        delta = c * delta + s * ((r * delta) @ w_t)
        norm = delta.norm(dim=1, keepdim=True)
        log_growth += torch.log(norm.squeeze(1).double().clamp_min(1e-300))
        delta = delta / norm.clamp_min(1e-30)
    return float(torch.exp(log_growth.median() / len(cs)))
