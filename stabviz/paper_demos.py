"""The paper's own findings at the paper's own settings, and the measured maps that show where the theory
holds (docs/theory.md#8-where-the-theory-is-known-to-fail). The Learn page teaches from these.

The numbers measured at these settings ship in ``stabviz/data/paper_maps.json``, made by
``scripts/paper_maps.py`` (the provenance is in the file). Nothing here imports torch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from stabviz.config import LIFConfig, power_of_ten, preset

DATA = Path(__file__).with_name("data") / "paper_maps.json"

#: What the paper reports (docs/theory.md#6-what-the-paper-reports), each at the paper's sl-MNIST layer
#: (τ = 0.1, so α ≈ 0; θ = 0.01; 128 neurons; fast sigmoid unless said). ``outcome`` is what the paper
#: observed in training: "trains" or "collapses".
DEMOS: tuple[dict[str, Any], ...] = (
    {
        "id": "default",
        "title": "The paper's default: fast sigmoid, γ = β = 1",
        "preset": "paper-slmnist",
        "changes": {},
        "outcome": "trains",
        "claim": "trains well: it is the paper's sl-MNIST default.",
    },
    {
        "id": "high-dampening",
        "title": "Dampening too high: γ = 1.5",
        "preset": "paper-slmnist",
        "changes": {"dampening": 1.5},
        "outcome": "collapses",
        "claim": "accuracy collapses for γ ≳ 1.25.",
    },
    {
        "id": "wide",
        "title": "Surrogate too wide: β = 0.5",
        "preset": "paper-slmnist",
        "changes": {"sharpness": 0.5},
        "outcome": "collapses",
        "claim": "accuracy collapses for β ≲ 0.75.",
    },
    {
        "id": "qpseudospike",
        "title": "q-PseudoSpike at q = 1.6",
        "preset": "paper-slmnist",
        "changes": {"shape": "qpseudospike", "tail": 1.6},
        "outcome": "trains",
        "claim": "accuracy is nearly flat in q, with its best near q ≈ 1.6.",
    },
    {
        "id": "shd",
        "title": "The SHD layer: 256 neurons, fast sigmoid, γ = β = 1",
        "preset": "paper-shd",
        "changes": {},
        "outcome": "trains",
        "claim": "trains well: it is the paper's SHD default.",
    },
)

#: The measured maps the Learn page draws: the paper's layer, and the same kind of layer with membrane memory.
MAPS: tuple[dict[str, Any], ...] = (
    {
        "id": "slmnist-sharpness",
        "title": "The paper's sl-MNIST layer (α ≈ 0): sharpness β × dampening γ",
        "preset": "paper-slmnist",
        "x": "sharpness",
    },
    {
        "id": "tau20-sharpness",
        "title": "The SHD layer with τ = 20 (α ≈ 0.95): sharpness β × dampening γ",
        "preset": "shd-tau20",
        "x": "sharpness",
    },
    {"id": "tau20-leak", "title": "The SHD layer: leak α × dampening γ (β = 1)", "preset": "shd-tau20", "x": "leak"},
)


def demo_config(demo: Mapping[str, Any]) -> LIFConfig:
    return preset(demo["preset"], **demo["changes"])


@lru_cache(maxsize=1)
def shipped() -> dict[str, Any]:
    """The measured numbers of ``scripts/paper_maps.py``."""
    return json.loads(DATA.read_text(encoding="utf-8"))


def measured_demo(demo_id: str) -> dict[str, Any]:
    return next(d for d in shipped()["demos"] if d["id"] == demo_id)


def shipped_map(map_id: str) -> dict[str, Any]:
    return next(m for m in shipped()["maps"] if m["id"] == map_id)


def explains(regime: str | None, outcome: str) -> str:
    """Does a gain regime account for what training did? A collapse needs exploding gradients; a setting that
    trains is consistent with anything but exploding (vanishing is not untrainable:
    docs/theory.md#86-vanishing-is-not-untrainable). 'uncertain' (the band crosses a boundary) cannot tell."""
    if regime in (None, "uncertain"):
        return "cannot tell"
    if outcome == "collapses":
        return "explains it" if regime == "exploding" else "does not explain it"
    return "does not explain it" if regime == "exploding" else "is consistent with it"


def decades_text(log10_gain: float | None) -> str:
    """' · gain 10⁻³⁷ over T' for a T·log₁₀ gain (None: nothing)."""
    return "" if log10_gain is None else f" · gain {power_of_ten(log10_gain)} over T"


def findings_summary() -> str:
    """One paragraph on what the demos show together, from the shipped numbers."""
    rows = [(d, measured_demo(d["id"])) for d in DEMOS]
    collapses = [(d, m) for d, m in rows if d["outcome"] == "collapses"]
    explained = [d for d, m in collapses if explains(m["measured_regime"], d["outcome"]) == "explains it"]
    gains = [m["measured_log10_gain"] for _, m in rows if m["measured_log10_gain"] is not None]
    text = (
        f"Measured at initialisation, these settings multiply the gradient by between {power_of_ten(min(gains))} "
        f"and {power_of_ten(max(gains))} over T. "
        if gains
        else ""
    )
    if collapses and not explained:
        text += (
            "So the gain of one layer at initialisation does not explain the collapses the paper saw: a "
            "setting whose gradient vanishes cannot explode at the start. Those collapses come from "
            "something this one-layer, at-initialisation theory leaves out (training itself, or depth). "
        )
    elif explained:
        text += f"{len(explained)} of the {len(collapses)} collapses are explained by exploding gradients. "
    return text + (
        "Vanishing is not untrainable: with a loss at every step, no gradient has to cross all T "
        "steps (docs/theory.md#86-vanishing-is-not-untrainable)."
    )


def boundary_gammas(gain: Any, gammas: Any) -> list[float | None]:
    """Per column: the dampening where the T·log₁₀ gain first crosses 0 going up (log-interpolated), or None."""
    import numpy as np

    z = np.asarray([[np.nan if v is None else v for v in row] for row in gain], float)
    lg = np.log10(np.asarray(gammas, float))
    out: list[float | None] = []
    for col in z.T:
        found = None
        for i in range(len(col) - 1):
            a, b = col[i], col[i + 1]
            if np.isfinite(a) and np.isfinite(b) and a < 0 <= b:
                found = float(10 ** (lg[i] + (lg[i + 1] - lg[i]) * (-a) / (b - a)))
                break
        out.append(found)
    return out


def boundary_offset(entry: Mapping[str, Any]) -> float | None:
    """Median over the columns where both cross gain 1 of max(γ_theory/γ_measured, γ_measured/γ_theory)."""
    import numpy as np

    meas = boundary_gammas(entry["measured_log10_gain"], entry["y_values"])
    pred = boundary_gammas(entry["predicted_log10_gain"], entry["y_values"])
    ratios = [max(p / m, m / p) for m, p in zip(meas, pred) if m and p]
    return float(np.median(ratios)) if ratios else None


def map_summary(entry: Mapping[str, Any]) -> str:
    offset = boundary_offset(entry)
    n = f"{len(entry['y_values'])} × {len(entry['x_values'])}"
    text = f"The theory's regime matches the measured one on **{entry['agreement']:.0%}** of the {n} cells."
    if offset is not None:
        text += (
            f" Where both cross gain 1, the theory's dampening is off by a factor of **{offset:.2f}** "
            "(the median over the columns). "
        )
        text += HOLDS if offset <= HOLDS_WITHIN else FAILS
    return text


#: a boundary within this factor of the measured one counts as "the theory holds here"
HOLDS_WITHIN = 1.2
HOLDS = "Here the theory's one-step averages hold."
FAILS = (
    "Here they do not: W_rec is the same at every step and σ' is correlated over time, which one-step "
    "averages ignore (docs/theory.md#82-one-step-independent-averages-miss-the-temporal-structure). "
    "Check such a setting with the measured map."
)
