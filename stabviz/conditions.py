"""Stability conditions I to IV of a LIF layer, in one place (docs/theory.md#3-conditions-i-to-iv).

I and II set the recurrent weight law (μ_rec, σ_rec²) from the input drive; III is the dampening γ_III
that bounds the worst-case one-step gain; IV is the surrogate (γ_IV, β*, q*) that makes the mean squared
gain ρ² = A + C·E[σ'²] + D·E[σ'] equal 1. numpy/scipy and the input laws only: :mod:`stabviz.weights`
samples ``recurrent_law`` from here, below the simulator, and :mod:`stabviz.theory` (voltage models,
predictions) sits above. Condition IV needs the voltage state ``v`` (any object with ``firing_rate`` and
``moments(surrogate)``, in practice a ``theory.VoltageState``): the caller passes it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from stabviz.config import RANGES, LIFConfig, WeightLaw, standard_law
from stabviz.laws import fluctuation_recurrent_law, input_drive, input_law, positive_part_mean

_BETA_SEARCH = (RANGES["sharpness"][0], RANGES["sharpness"][1])
_Q_SEARCH = (RANGES["tail"][0], RANGES["tail"][1])


# conditions I and II: the recurrent weight law


def aimed_threshold(cfg: LIFConfig) -> float:
    """The θ of condition I's formulas for cfg's neuron (docs/theory.md#94-conditions-i-to-iv-for-the-variants):
    θ for the LIF; θ + β_a/2 for the alif (the threshold at p = ½, E[a] = p); (1 − α_s)θ for the cuba (its
    current is the drive filtered by 1/(1 − α_s), so the same mean voltage needs that much less drive)."""
    if cfg.neuron == "alif":
        return cfg.threshold + cfg.adapt_strength / 2
    if cfg.neuron == "cuba":
        return (1 - cfg.syn_decay) * cfg.threshold
    return cfg.threshold


def condition_i(cfg: LIFConfig, leak: Any = None) -> Any:
    """Condition I: the recurrent weight mean μ_rec that puts the stationary mean voltage at θ (p = ½).

    subtract ((3 − 2α)θ − 2d)/(n−1); mult2 ((2 − α)θ − 2d)/(n−1); mult1 derived (2(2 − α)θ − 2d)/(n−1),
    code 2(1 − α)θ/(n−1). ``leak`` may be an array (defaults to cfg.leak). For alif and cuba, θ is
    :func:`aimed_threshold` (the same formulas then hold for the variant: section 9.4).
    """
    a = cfg.leak if leak is None else np.asarray(leak, dtype=float)
    th, n1 = aimed_threshold(cfg), cfg.n_rec - 1
    d, _ = input_drive(cfg)
    if cfg.reset == "subtract":
        return ((3 - 2 * a) * th - 2 * d) / n1
    if cfg.reset == "mult2":
        return ((2 - a) * th - 2 * d) / n1
    if cfg.formula == "code":
        return 2 * (1 - a) * th / n1
    return (2 * (2 - a) * th - 2 * d) / n1


def condition_ii(cfg: LIFConfig, rec_mean: Any) -> Any:
    """Condition II: σ_rec² making Var(I_rec) equal Var(I_in) at p = ½.

    derived 2 V_in/(n−1) − μ_rec²/2; code V_in/(n−1) − μ_rec²/2. Negative means unattainable.
    """
    _, v_in = input_drive(cfg)
    first = (2.0 if cfg.formula == "derived" else 1.0) * v_in / (cfg.n_rec - 1)
    return first - np.square(rec_mean) / 2


def recurrent_law(cfg: LIFConfig, leak: Any = None) -> WeightLaw:
    """Entry law of W_rec. ``init_rec="conditions"`` gives N(μ_I, σ_II²); raises ValueError when
    condition II has no solution. ``leak`` (array) only matters for the conditions law."""
    if cfg.init_rec == "fluctuation":
        return fluctuation_recurrent_law(cfg)
    if cfg.init_rec != "conditions":
        return standard_law(cfg.init_rec, cfg.n_rec, cfg.n_rec, cfg.rec_mean, cfg.rec_std)
    mean = condition_i(cfg, leak)
    var = condition_ii(cfg, mean)
    if np.ndim(var) == 0 and var < 0:
        raise ValueError(
            f"condition II is unattainable: σ_rec² = {float(var):.4g} < 0 (the input is too "
            "weak for the recurrent mean condition I asks for); choose another init_rec"
        )
    return WeightLaw("normal", mean, np.sqrt(np.maximum(var, 0.0)) if np.ndim(var) else math.sqrt(var))


def drive_sums(cfg: LIFConfig, leak: Any = None, rec: WeightLaw | None = None) -> dict[str, Any]:
    """Expected per-neuron drive sums S⁺, S⁻ of W_rec (n−1 inputs: zero diagonal) and of W_in."""
    rec = recurrent_law(cfg, leak) if rec is None else rec
    inp = input_law(cfg)
    rp, ip = positive_part_mean(rec), positive_part_mean(inp)
    n1 = cfg.n_rec - 1
    return {
        "S+": n1 * rp,
        "S-": n1 * (np.asarray(rec.mean) - rp),
        "S+in": cfg.n_in * ip,
        "S-in": cfg.n_in * (inp.mean - ip),
    }


# condition III and the coefficients of condition IV


def gain_coefficients(cfg: LIFConfig, p: Any, leak: Any = None, rec: WeightLaw | None = None) -> tuple:
    """(A, C, D) of ρ² = A + C·E[σ'²] + D·E[σ'] (condition IV), with E[w²] = σ_rec² + μ_rec².

    For the multiplicative resets the (1 − z) factor is averaged with the model's firing rate p
    (``derived``; at p = ½ this is the α²/2 and (n−1)E[w²]/2 of
    docs/theory.md#34-condition-iv-the-sharpness-or-tail-from-the-mean-squared-gain), or with p = ½ (``code``).
    """
    a = cfg.leak if leak is None else np.asarray(leak, float)
    rec = recurrent_law(cfg, a) if rec is None else rec
    ew2 = (cfg.n_rec - 1) * (np.square(rec.std) + np.square(rec.mean))
    keep = 0.5 if cfg.formula == "code" else 1 - np.asarray(p)
    th = cfg.threshold
    if cfg.reset == "subtract":
        if not cfg.reset_grad:
            return a * a, ew2, 0.0
        return a * a, ew2 + th * th, (-2 * a * th if cfg.formula == "derived" else 0.0)
    if cfg.reset == "mult1":
        return a * a * keep, ew2 * keep, 0.0
    return a * a * keep, ew2, 0.0


def worst_gain_factor(cfg: LIFConfig, leak: Any = None, threshold: float | None = None) -> Any:
    """X in the worst-case one-step gain α + γ·X, X = S⁺(|S⁻| + θ)/|S⁻| (θ → 0 for multiplicative resets).

    This is the gain condition III sets to 1: γ_III = (1 − α)/X = (1 − α)|S⁻|/(S⁺(|S⁻| + θ)).
    ``threshold``: the θ of the reset's allowance (cfg's when None; :func:`worst_threshold` for a variant).
    """
    s = drive_sums(cfg, leak)
    th = 0.0 if cfg.reset in ("mult1", "mult2") else cfg.threshold if threshold is None else threshold
    neg = np.abs(s["S-"])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(neg > 0, s["S+"] * (neg + th) / neg, np.where(th > 0, np.inf, s["S+"]))


def condition_iii(cfg: LIFConfig, leak: Any = None, threshold: float | None = None) -> Any:
    """Condition III: the dampening γ_III at which the worst-case one-step gain is 1 (``threshold``: as in
    :func:`worst_gain_factor`)."""
    a = cfg.leak if leak is None else np.asarray(leak, float)
    with np.errstate(divide="ignore"):
        return (1 - a) / worst_gain_factor(cfg, a, threshold)


def worst_threshold(cfg: LIFConfig) -> float | None:
    """The threshold condition III's worst case sees for cfg's neuron, or None where the condition has no
    form (docs/theory.md#94-conditions-i-to-iv-for-the-variants): θ for the LIF; θ + β_a for an alif without
    the adaptation gradient, whose backward map is the LIF's at θ_t = θ + β_a a_t with a_t in [0, 1] (the
    largest θ_t is the worst case); None for the cuba and for the alif with the adaptation gradient, whose
    block maps keep a row-sum floor no dampening lowers."""
    if cfg.neuron == "lif":
        return cfg.threshold
    if cfg.neuron == "alif" and not cfg.adapt_grad:
        return cfg.threshold + cfg.adapt_strength
    return None


def variant_condition_iii(cfg: LIFConfig) -> float:
    """Condition III at cfg's own neuron: γ_III with the threshold of :func:`worst_threshold` (the LIF's
    own for the LIF), nan where the condition has no form."""
    th = worst_threshold(cfg)
    return math.nan if th is None else float(condition_iii(cfg, threshold=th))


def gamma_iv(A: Any, C: Any, D: Any, e1: Any, e2: Any) -> Any:
    """Condition IV as a curve: the γ solving A + C e2 γ² + D e1 γ = 1 (E[σ'^m] = γ^m e_m), positive root."""
    qa, qb, qc = C * e2, D * e1, A - 1
    disc = qb * qb - 4 * qa * qc
    with np.errstate(divide="ignore", invalid="ignore"):
        root = (-qb + np.sqrt(np.maximum(disc, 0))) / (2 * qa)
    return np.where((qa > 0) & (disc >= 0) & (root > 0), root, np.nan)


# condition IV solved for one surrogate knob at a given voltage state


def rho2_along(cfg: LIFConfig, v: Any, **sg: Any) -> Any:
    e1, e2 = v.moments(cfg.surrogate.replace(**sg))
    A, C, D = gain_coefficients(cfg, v.firing_rate)
    return A + C * e2 + D * e1


def solve_rho2_is_one(
    f, lo: float, hi: float, n: int = 48, refine: int = 32, passes: int = 3
) -> tuple[float | None, float, float]:
    """Root of f(x) = ρ²(x) − 1 on a log grid [lo, hi]. Returns (root or None, f(lo), f(hi)); the endpoint
    values explain a missing root.

    f is vectorised and one call costs about as much for 32 points as for one (the moments' set-up
    dominates), so the first sign change is narrowed by ``passes`` calls on ``refine`` points each
    (33× narrower per call; a bracket 1e-5 of a decade wide after three), then interpolated linearly in
    log x: ~2 ms where scalar brentq took ~3.5 ms, to ~1e-12 relative. The dashboard solves this on
    every slider release.
    """
    xs = np.geomspace(lo, hi, n)
    fs = f(xs)
    change = np.nonzero(np.sign(fs[:-1]) * np.sign(fs[1:]) <= 0)[0]
    if len(change) == 0 or not np.all(np.isfinite(fs)):
        return None, float(fs[0]), float(fs[-1])
    i = change[0]
    a, b, fa, fb = xs[i], xs[i + 1], fs[i], fs[i + 1]
    for _ in range(passes):
        if fa == 0 or fb == 0:
            break
        pts = np.geomspace(a, b, refine + 2)
        vals = np.concatenate([[fa], f(pts[1:-1]), [fb]])
        k = np.nonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) <= 0)[0][0]
        a, b, fa, fb = pts[k], pts[k + 1], vals[k], vals[k + 1]
    if fa == 0:
        return float(a), float(fs[0]), float(fs[-1])
    la, lb = math.log(a), math.log(b)
    root = math.exp(la + (lb - la) * fa / (fa - fb))
    return float(min(max(root, a), b)), float(fs[0]), float(fs[-1])


def sharpness_star(cfg: LIFConfig, v: Any) -> tuple[float | None, str]:
    """Condition IV's β*: the sharpness giving ρ² = 1 at the current dampening (and tail)."""
    root, f_lo, f_hi = solve_rho2_is_one(lambda b: rho2_along(cfg, v, sharpness=b) - 1, *_BETA_SEARCH)
    if root is not None:
        return root, ""
    return None, _unattainable("sharpness", cfg, f_lo, f_hi, "the widest SG (β = 1e-3)", "the sharpest (β = 1e3)")


def tail_star(cfg: LIFConfig, v: Any) -> tuple[float | None, str]:
    """Condition IV's q*: the tail-fatness giving ρ² = 1 at the current dampening and sharpness."""
    if cfg.shape != "qpseudospike":
        return None, "tail: only the qpseudospike shape has a tail-fatness q"
    root, f_lo, f_hi = solve_rho2_is_one(lambda q: rho2_along(cfg, v, tail=q) - 1, *_Q_SEARCH)
    if root is not None:
        return root, ""
    return None, _unattainable("tail", cfg, f_lo, f_hi, "q = 1.001", "q = 1e4")


def _unattainable(name: str, cfg: LIFConfig, f_lo: float, f_hi: float, lo_txt: str, hi_txt: str) -> str:
    lo, hi = f_lo + 1, f_hi + 1
    if min(lo, hi) > 1:
        why = f"ρ² stays above 1 (≥ {min(lo, hi):.3g}) from {lo_txt} to {hi_txt}: lower the dampening"
    elif max(lo, hi) < 1:
        why = f"ρ² stays below 1 (≤ {max(lo, hi):.3g}) from {lo_txt} to {hi_txt}: raise the dampening"
    else:
        why = "ρ² is not finite over the search range"
    return f"{name}: condition IV is unattainable at dampening {cfg.dampening:g}: {why}"
