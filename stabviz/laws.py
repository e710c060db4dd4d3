"""The input weight laws and input statistics of a LIF layer (docs/theory.md#13-input-statistics-and-the-input-drive-d).

The lowest layer of the theory: numpy/scipy and :mod:`stabviz.config` only. The recurrent law, whose
``init_rec="conditions"`` form is conditions I and II, lives one layer up in :mod:`stabviz.conditions`
with conditions III and IV, so every condition is in one module.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from stabviz.config import FLUCTUATION_INITS, LIFConfig, WeightLaw, standard_law


def input_law(cfg: LIFConfig) -> WeightLaw:
    """Entry law of W_in (n_in × n_rec)."""
    if cfg.init_in in FLUCTUATION_INITS:
        return fluctuation_law(cfg)
    return standard_law(cfg.init_in, cfg.n_in, cfg.n_rec, cfg.in_mean, cfg.in_std)


def psp_sums(cfg: LIFConfig) -> tuple[float, float]:
    """(Σ_k ε_k, Σ_k ε_k²) of the neuron's PSP kernel ε_k, the free voltage k steps after a unit input:
    α^k for lif and alif, (α^{k+1} − α_s^{k+1})/(α − α_s) for cuba
    (docs/theory.md#96-fluctuation-driven-initialisation)."""
    a = cfg.leak
    s = cfg.syn_decay if cfg.neuron == "cuba" else 0.0
    return 1.0 / ((1 - a) * (1 - s)), (1 + a * s) / ((1 - a * s) * (1 - a * a) * (1 - s * s))


def fluctuation_target(cfg: LIFConfig) -> tuple[float, float]:
    """(μ_U, σ_U) of the fluctuation-driven initialisation: (0, θ) centred, (θ, θ) for "fluctuation-theta".
    With init_rec = "fluctuation", the input weights carry 1 − rec_share of σ_U², the recurrent ones the rest."""
    return (cfg.threshold if cfg.init_in == "fluctuation-theta" else 0.0), cfg.threshold


def fluctuation_law(cfg: LIFConfig) -> WeightLaw:
    """N(μ_w, σ_w²) input weights whose free voltage (no reset, no recurrence), across neurons and steps,
    has mean μ_U and spread σ_U. The input's fluctuations pass the kernel as Σε², but each neuron's own
    mean input n_in m_x w̄_i differs from its neighbours' and passes it as (Σε)²
    (docs/theory.md#96-fluctuation-driven-initialisation):

        μ_U = (n_in μ_w m_x + b) Σε,   σ_U² = n_in ((σ_w² + μ_w²) v_x Σε² + σ_w² m_x² (Σε)²)

    ValueError when there is no input or the mean asks for more spread than σ_U."""
    if cfg.input_mean <= 0:
        raise ValueError(
            f"init_in = {cfg.init_in!r} needs input spikes: input_mean = {cfg.input_mean:g} must be in (0, 1000]"
        )
    mu_u, sigma_u = fluctuation_target(cfg)
    sigma_u *= math.sqrt(1.0 - recurrent_share(cfg))
    total, square = psp_sums(cfg)
    n, m, v = cfg.n_in, cfg.input_mean, cfg.input_var
    mean = (mu_u / total - cfg.bias) / (n * m)
    var = (sigma_u**2 / n - mean**2 * v * square) / (v * square + m * m * total * total)
    if not var >= 0:
        raise ValueError(
            f"init_in = {cfg.init_in!r} has no solution: the voltage mean μ_U = {mu_u:g} with bias = "
            f"{cfg.bias:g} asks for a weight mean whose spread alone exceeds σ_U = {sigma_u:g}; "
            "lower |bias| or choose another init_in"
        )
    return WeightLaw("normal", mean, math.sqrt(var))


def recurrent_share(cfg: LIFConfig) -> float:
    """The share of σ_U² the recurrent weights carry: ``rec_share`` with init_rec = "fluctuation", else 0."""
    return cfg.rec_share if cfg.init_rec == "fluctuation" else 0.0


def fluctuation_rate(cfg: LIFConfig) -> float:
    """The rate the fluctuation target implies for the free voltage, P(U > θ) = 1 − Φ((θ − μ_U)/σ_U): about
    0.159 centred, ½ for "fluctuation-theta". The recurrent law takes it as its presynaptic rate."""
    mu_u, sigma_u = fluctuation_target(cfg)
    return float(1.0 - special.ndtr((cfg.threshold - mu_u) / sigma_u))


def fluctuation_recurrent_law(cfg: LIFConfig) -> WeightLaw:
    """Centred N(0, σ_rec²) recurrent weights carrying the share s = ``rec_share`` of the free voltage's variance
    σ_U² (docs/theory.md#97-the-recurrent-part-of-the-fluctuation-driven-initialisation). Spikes at rate p
    (:func:`fluctuation_rate`) fluctuate in time with variance p(1 − p), which passes the kernel as Σε², and
    give each neuron its own fixed mean Σ_j W_ji p, which passes it as (Σε)²:

        s σ_U² = (n − 1) σ_rec² (p(1 − p) Σε² + p² (Σε)²)

    The mean μ_U stays with the input weights (:func:`fluctuation_law`): a recurrent mean would feed the rate's
    error back into the mean voltage. The target is init_in's (μ_U = 0, σ_U = θ for a standard init_in)."""
    _, sigma_u = fluctuation_target(cfg)
    total, square = psp_sums(cfg)
    p = fluctuation_rate(cfg)
    var = cfg.rec_share * sigma_u**2 / ((cfg.n_rec - 1) * (p * (1 - p) * square + p * p * total * total))
    return WeightLaw("normal", 0.0, math.sqrt(var))


def input_drive(cfg: LIFConfig) -> tuple[float, float]:
    """(d, V_in): mean input current E[I_in] + b and its variance
    (docs/theory.md#13-input-statistics-and-the-input-drive-d).

    d = n_in μ_in m_x + b;  V_in = n_in (σ_in² (v_x + m_x²) + μ_in² v_x)  (the μ_in term is zero for
    the zero-mean standard laws, where this is exactly the n_in σ_in² (v_x + m_x²) of
    docs/theory.md#13-input-statistics-and-the-input-drive-d).
    """
    law = input_law(cfg)
    m, v = cfg.input_mean, cfg.input_var
    d = cfg.n_in * law.mean * m + cfg.bias
    v_in = cfg.n_in * (law.std**2 * (v + m * m) + law.mean**2 * v)
    return d, v_in


def positive_part_mean(law: WeightLaw) -> Any:
    """E[max(w, 0)] for the law: uniform U(μ ± a): (μ + a)²/(4a) when |μ| < a; normal: μΦ(μ/s) + sφ(μ/s)."""
    mu, s = np.asarray(law.mean, float), np.asarray(law.std, float)
    if law.kind == "uniform":
        a = np.sqrt(3.0) * s
        # over: a tiny std squares below the float range in the branch np.where then discards
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            inside = (mu + a) ** 2 / (4 * a)
        return np.where(mu >= a, mu, np.where(mu <= -a, 0.0, inside))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = mu / s
        val = mu * special.ndtr(r) + s * np.exp(-0.5 * r * r) / np.sqrt(2 * np.pi)
    return np.where(s > 0, val, np.maximum(mu, 0.0))
