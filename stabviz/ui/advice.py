"""Plain-language advice from a prediction and a recommendation (pure: no streamlit, no physics).

The numbers come from :func:`stabviz.theory.predict` and :func:`stabviz.theory.recommend` (as their
``to_dict()``); this module only puts them into sentences a student can act on.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from stabviz.config import power_of_ten


def _g(x: Any, digits: int = 3) -> str:
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{float(x):.{digits}g}"


def gain_phrase(log10_gain: float | None, steps: int) -> str:
    """'grow by about 10²' / 'shrink by about 10⁴' / 'change by a factor 0.5' over T steps."""
    if log10_gain is None or not math.isfinite(log10_gain):
        return f"vanish completely over T = {steps} steps" if log10_gain is None or log10_gain < 0 \
            else f"explode over T = {steps} steps"
    if abs(log10_gain) < 1:
        return f"change by a factor {10 ** log10_gain:.2g} over T = {steps} steps"
    verb = "grow" if log10_gain > 0 else "shrink"
    return f"{verb} by about {power_of_ten(abs(log10_gain))} over T = {steps} steps"


def what_to_change(cfg: Any, pred: Mapping[str, Any], rec: Mapping[str, Any]) -> str:
    """A few sentences: the calibrated verdict, and the whole settings (the recommendation's options, each
    with ρ² = 1) that reach the stable band. Every move named here is one of those options, so the advice
    never pairs knobs the theory did not evaluate together.
    """
    regime = pred["regime"]
    band = pred.get("log10_gain_band") or [None, None]
    head = (f"Gradients are predicted to {gain_phrase(pred.get('log10_gain'), cfg.steps)} "
            f"(ρ² = {_g(pred.get('rho2'), 4)}; calibrated band {_band(band)} decades over T = {cfg.steps}, "
            f"stable within ±{cfg.tolerance:g}).")
    if regime == "stable":
        return head + " Nothing to change: the whole band lies in the stable range."
    if regime == "uncertain":
        head += (" The band crosses a regime boundary, so the theory cannot decide here: measure it "
                 "(a short run, or `stabviz measure-map` for the whole map).")
    elif regime == "vanishing":
        head += (" Vanishing is not untrainable: a loss at every step needs no gradient across all T steps, "
                 "so such settings often still train; it is exploding gradients that break training.")
    moves = [_move(cfg, o) for o in rec.get("options") or []]
    if not moves:
        return head + " No single knob reaches ρ² = 1 here: " + "; ".join(rec.get("notes") or ["see the notes"])
    return head + " For ρ² = 1: " + "; or ".join(moves) + "."


def _band(band: Any) -> str:
    lo, hi = band
    return f"[{_g(lo)}, {_g(hi)}]"


def _move(cfg: Any, option: Mapping[str, Any]) -> str:
    """One option as an instruction relative to the current setting."""
    if option["label"] == "keep β, solve γ":
        verb = "lower" if option["dampening"] < cfg.dampening else "raise"
        return f"{verb} the dampening to γ_IV = {_g(option['dampening'])} (keeping β = {_g(cfg.sharpness)})"
    if option["label"] == "keep γ, solve β":
        verb = "sharpen" if option["sharpness"] > cfg.sharpness else "widen"
        return f"{verb} the surrogate to β* = {_g(option['sharpness'])} (keeping γ = {_g(cfg.dampening)})"
    return f"set the tail-fatness to q* = {_g(option['tail'])} (keeping γ and β)"

def rate_sentence(preds: Mapping[str, Mapping[str, Any]]) -> str:
    """The predicted initial firing rate with its spread across voltage models."""
    rates = {m: p["firing_rate"] for m, p in preds.items() if p.get("firing_rate") is not None}
    if not rates:
        return "No firing-rate prediction."
    lo, hi = min(rates.values()), max(rates.values())
    parts = ", ".join(f"{m} {r:.1%}" for m, r in rates.items())
    text = f"Predicted initial firing rate {lo:.1%} – {hi:.1%} across voltage models ({parts})."
    if hi - lo > RATE_DISAGREEMENT:
        text += (" The models disagree. Prefer the gaussian one: on the shipped presets it lands within 0.05 of "
                 "the simulated rate, while the uniform one (the paper's) assumes a voltage spread evenly over "
                 "a range that can be far wider than the real one. The referee is the quick measured check, or "
                 "the measured voltage model.")
    return text


#: Rate predictions further apart than this get advice on which voltage model to believe.
RATE_DISAGREEMENT = 0.05
