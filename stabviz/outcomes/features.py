"""What the outcome model reads about a setting before any training (docs/evidence/outcomes/README.md).

Two sources of the same quantities: ``measured`` (the quick Monte-Carlo check of :func:`measure`, what the
Explore page runs in the background) and ``predicted`` (the theory, instant). A feature row is built from
the T·log₁₀ gain, the firing rate, T, the optimiser budget, the depth and whether conditions I + II set the
recurrent weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from stabviz.config import LIFConfig
from stabviz.jsonsafe import finite_or_none

SOURCES = ("measured", "predicted")
#: T·log₁₀ gains beyond this many decades are read as this many: past it every run is alike
GAIN_CLIP = 40.0
NAMES = (
    "gain/10",
    "exploding gain/10",
    "log10 per-step gain ×10",
    "rate",
    "rate²",
    "log10 T",
    "log10 budget",
    "2 layers",
    "conditions init",
)


def row(log10_gain: float | None, rate: float | None, T: int, budget: int, layers: int, init: str) -> list[float]:
    """One feature row (order NAMES). A missing or non-finite gain reads as the clip on its side (−inf:
    vanished), a missing rate as 0."""
    g = _clipped(log10_gain)
    r = 0.0 if rate is None or not math.isfinite(rate) else min(max(rate, 0.0), 1.0)
    per_step = max(min(g / max(T, 1), 1.0), -1.0)
    return [
        g / 10,
        max(g, 0.0) / 10,
        10 * per_step,
        r,
        r * r,
        math.log10(max(T, 1)),
        math.log10(max(budget, 1)),
        float(layers >= 2),
        float(init == "conditions"),
    ]


def _clipped(log10_gain: float | None) -> float:
    if log10_gain is None or math.isnan(log10_gain):
        return -GAIN_CLIP
    return max(min(log10_gain, GAIN_CLIP), -GAIN_CLIP)


def matrix(rows: list[Mapping[str, Any]], source: str) -> np.ndarray:
    """The feature matrix of dataset rows (:mod:`stabviz.evidence.outcomes`) from one source."""
    if source not in SOURCES:
        raise ValueError(f"source = {source!r} is not one of: {', '.join(SOURCES)}")
    return np.array(
        [
            row(r.get(f"{source}_log10_gain"), r.get(f"{source}_rate"), r["T"], r["budget"], r["layers"], r["init"])
            for r in rows
        ],
        dtype=float,
    )


def measure(lif: LIFConfig) -> dict[str, Any]:
    """The quick Monte-Carlo check of a setting: T·log₁₀ gain and firing rate of :func:`stabviz.simulate.measure`
    (batch 32, the stationary burn-in up to 300 steps, then T steps), the setting's own seed. The dataset
    measures its runs with this same call."""
    from stabviz import simulate

    burn = min(simulate.stationary_burn_in(lif), 300)
    m = simulate.measure(lif, batch=32, steps=burn + lif.steps, burn_in=burn, seed=lif.seed)
    return finite_or_none({"log10_gain": m.log10_gain, "firing_rate": m.firing_rate})


def predict(lif: LIFConfig) -> dict[str, Any]:
    """The theory's T·log₁₀ gain and firing rate for ``lif`` (what the ``predicted`` source reads)."""
    from stabviz import theory

    p = theory.predict(lif)
    return finite_or_none({"log10_gain": p.log10_gain, "firing_rate": p.firing_rate})
