"""Plain-language advice from a prediction and a recommendation (pure: no streamlit, no physics).

The numbers come from :func:`stabviz.theory.predict` and :func:`stabviz.theory.recommend` (as their
``to_dict()``); this module only puts them into sentences a student can act on.
"""
from __future__ import annotations

import math
from typing import Any, Mapping


def _g(x: Any, digits: int = 3) -> str:
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{float(x):.{digits}g}"


def gain_phrase(log10_gain: float | None, steps: int) -> str:
    """'grow about 10^2.3×' / 'shrink about 10^-4.1×' / 'stay within a factor 10' over T steps."""
    if log10_gain is None or not math.isfinite(log10_gain):
        return f"vanish completely over T = {steps} steps" if log10_gain is None or log10_gain < 0 \
            else f"explode over T = {steps} steps"
    if abs(log10_gain) < 1:
        return f"change by a factor {10 ** log10_gain:.2g} over T = {steps} steps"
    verb = "grow" if log10_gain > 0 else "shrink"
    return f"{verb} by about 10^{abs(log10_gain):.1f} over T = {steps} steps"


def what_to_change(cfg: Any, pred: Mapping[str, Any], rec: Mapping[str, Any],
                   gamma_iv: float | None = None, along: str = "sharpness") -> str:
    """One to three sentences: the regime, and what to change to reach the stable band.

    ``gamma_iv``: the dampening that gives ρ² = 1 with everything else as it is (condition IV's curve
    read at the current ``along`` value), when known.
    """
    regime = pred["regime"]
    head = (f"Gradients are predicted to {gain_phrase(pred.get('log10_gain'), cfg.steps)} "
            f"(mean squared one-step gain ρ² = {_g(pred.get('rho2'), 4)}; stable band: ±{cfg.tolerance:g} decades).")
    worst = ""
    if pred.get("max_gain") is not None and pred["max_gain"] > 1.0 and rec.get("dampening"):
        worst = (f" The worst-case one-step gain is {_g(pred['max_gain'])} > 1; condition III bounds it by "
                 f"γ ≤ γ_III = {_g(rec['dampening'])}.")
    if regime == "stable":
        return head + " Nothing to change: this setting sits in the stable band." + worst
    moves = []
    if gamma_iv is not None and math.isfinite(gamma_iv) and gamma_iv > 0:
        verb = "lower" if gamma_iv < cfg.dampening else "raise"
        moves.append(f"{verb} the dampening to γ_IV = {_g(gamma_iv)} (condition IV at this {along})")
    if rec.get("sharpness") is not None:
        verb = "sharpen" if rec["sharpness"] > cfg.sharpness else "widen"
        moves.append(f"{verb} the surrogate to β* = {_g(rec['sharpness'])} (condition IV at γ = {cfg.dampening:g})")
    if cfg.shape == "qpseudospike" and rec.get("tail") is not None:
        moves.append(f"set the tail-fatness to q* = {_g(rec['tail'])} (condition IV at this γ, β)")
    if not moves:
        moves.append("lower the dampening γ" if regime == "exploding" else "raise the dampening γ")
    return head + " To reach the stable band: " + "; or ".join(moves) + "." + worst


def curve_value(curve: tuple[Any, Any] | None, at: float, log: bool) -> float | None:
    """A condition curve (xs, ys) read at ``at`` by interpolation (in log x when the axis is log);
    None outside the curve or where it has no value."""
    import numpy as np
    if curve is None:
        return None
    xs, ys = np.asarray(curve[0], float), np.asarray(curve[1], float)
    if xs.size < 2 or not (xs.min() <= at <= xs.max()):
        return None
    fx = np.log(xs) if log else xs
    y = float(np.interp(math.log(at) if log else at, fx, ys))
    return y if math.isfinite(y) else None


def rate_sentence(preds: Mapping[str, Mapping[str, Any]]) -> str:
    """The predicted initial firing rate with its spread across voltage models."""
    rates = {m: p["firing_rate"] for m, p in preds.items() if p.get("firing_rate") is not None}
    if not rates:
        return "No firing-rate prediction."
    lo, hi = min(rates.values()), max(rates.values())
    parts = ", ".join(f"{m} {r:.1%}" for m, r in rates.items())
    return f"Predicted initial firing rate {lo:.1%} – {hi:.1%} across voltage models ({parts})."
