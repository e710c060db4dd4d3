"""The shipped outcome model (stabviz/data/outcome_model.json, written by scripts/fit_outcomes.py).

Per source (``measured`` or ``predicted`` features, :mod:`.features`): a logistic regression for
P(collapse) on standardised features, and an isotonic map from that probability to the expected shortfall,
as a fraction of the way from the task's best accuracy down to chance. Pure numpy: reading the model
needs neither scikit-learn nor torch.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from stabviz.outcomes import features

DATA = Path(__file__).resolve().parent.parent / "data" / "outcome_model.json"
#: the verdict's words by P(collapse): below LOW "expected to train", above HIGH "will collapse"
LOW, HIGH = 0.2, 0.8
VERDICTS = ("expected to train", "at risk", "will collapse")


@functools.lru_cache(maxsize=4)
def load(path: str | None = None) -> dict[str, Any]:
    """The stored model (both sources, the validation summary and the provenance)."""
    return json.loads(Path(path or DATA).read_text(encoding="utf-8"))


def p_collapse(x: np.ndarray, part: dict[str, Any]) -> np.ndarray:
    """P(collapse) for feature rows ``x`` (n, features) under one source's fitted part."""
    z = (np.atleast_2d(x) - np.asarray(part["mean"])) / np.asarray(part["scale"])
    logit = z @ np.asarray(part["coef"]) + part["intercept"]
    return 1.0 / (1.0 + np.exp(-np.clip(logit, -60, 60)))


def shortfall(p: np.ndarray, part: dict[str, Any]) -> np.ndarray:
    """Expected shortfall fraction (0 = the task's best, 1 = chance) at P(collapse) ``p`` (isotonic knots)."""
    return np.interp(p, part["shortfall_x"], part["shortfall_y"])


def verdict_word(p: float) -> str:
    """'expected to train' below LOW, 'will collapse' above HIGH, 'at risk' between."""
    if not math.isfinite(p):
        return "at risk"
    return VERDICTS[0] if p < LOW else VERDICTS[2] if p > HIGH else VERDICTS[1]


def outcome(
    log10_gain: float | None,
    rate: float | None,
    T: int,
    budget: int,
    layers: int,
    init: str,
    source: str = "measured",
    model: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The predicted outcome of one setting: p_collapse, expected shortfall fraction, the verdict word and the
    source it was read from."""
    part = (model or load())["sources"][source]
    x = np.array([features.row(log10_gain, rate, T, budget, layers, init)])
    p = float(p_collapse(x, part)[0])
    return {
        "p_collapse": p,
        "shortfall": float(shortfall(np.array([p]), part)[0]),
        "verdict": verdict_word(p),
        "source": source,
    }
