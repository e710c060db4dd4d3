"""Calibrated verdicts: how far the measured gradient gain lands from the theory's prediction.

The theory predicts the per-step gain ρ; `simulate.measure` measures it (ρ̂, a vector pushed back through
the layer's own transition matrices). Their per-step residual r = log₁₀ρ̂ − log₁₀ρ was measured over a
calibration set of random settings (`scripts/calibrate.py`, stored in `stabviz/data/calibration.json` with
its provenance). A prediction of T·log₁₀ρ then carries the band

    [T·(log₁₀ρ + r_lo), T·(log₁₀ρ + r_hi)]

with (r_lo, r_hi) the residuals' central interval for the setting's group (voltage model × reset family),
and its regime is called only when the whole band lies in one regime; otherwise it is "uncertain"
(docs/theory.md, section 5.4).
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data") / "calibration.json"


def group_of(voltage_model: str, reset: str, neuron: str = "lif") -> str:
    """The calibration group: the models' bias differs mostly between the reset families, and between the
    neuron models (an alif or cuba group is prefixed with its neuron: "alif:gaussian/subtract")."""
    family = f"{voltage_model}/{'subtract' if reset == 'subtract' else 'multiplicative'}"
    return family if neuron == "lif" else f"{neuron}:{family}"


@functools.lru_cache(maxsize=1)
def table() -> dict[str, Any]:
    """The stored calibration (groups with their residual interval, and the provenance)."""
    return json.loads(DATA.read_text())


def residual_interval(voltage_model: str, reset: str, neuron: str = "lif") -> tuple[float, float]:
    """(r_lo, r_hi): the central interval of the per-step log₁₀ residual for this group; (nan, nan) for a
    group never calibrated (its regime is then "undefined", never a guess borrowed from another group)."""
    g = table()["groups"].get(group_of(voltage_model, reset, neuron))
    return (float(g["lo"]), float(g["hi"])) if g else (math.nan, math.nan)


def band(log10_gain: float, steps: int, voltage_model: str, reset: str, neuron: str = "lif") -> tuple[float, float]:
    """The calibrated band of T·log₁₀ρ around a prediction (−inf stays −inf)."""
    if not math.isfinite(log10_gain):
        return log10_gain, log10_gain
    lo, hi = residual_interval(voltage_model, reset, neuron)
    return log10_gain + steps * lo, log10_gain + steps * hi


def regime_of_band(lo: float, hi: float, tolerance: float) -> str:
    """vanishing / stable / exploding when the whole band is in one regime, else uncertain."""
    if math.isnan(lo) or math.isnan(hi):
        return "undefined"
    if hi < -tolerance:
        return "vanishing"
    if lo > tolerance:
        return "exploding"
    if -tolerance <= lo and hi <= tolerance:
        return "stable"
    return "uncertain"
