"""The replication study's verdict rules, written before any run (docs/evidence/README.md#the-rules).

Every rule reads cell means and seed standard deviations of final test accuracy in percentage points
(0-100) and returns ``(verdict, numbers)``: verdict one of VERDICTS, numbers the values it compared, so
summary.json shows why. Pure Python: no torch, no plotting, no scikit-learn.
"""
from __future__ import annotations

import math
from typing import Sequence

VERDICTS = ("confirmed", "refuted", "inconclusive")
#: "within 2 points of the maximum": the flat part of a curve
NEAR = 2.0
#: "drops by >= 10 points": a collapse
DROP = 10.0
#: a curve is flat when its cell means span at most this many points
FLAT = 5.0
#: the predicted score ranks collapses when its AUC is at least this (0.5 = chance) ...
AUC_GOOD = 0.7
#: ... and fails to when it is at most this
AUC_POOR = 0.6
#: an AUC needs at least this many runs on each side (collapsed / not)
AUC_MIN_RUNS = 3


def _noisy(effect: float, sd: float) -> bool:
    """The pre-registered guard: a seed sd larger than the effect makes any verdict inconclusive."""
    return not math.isfinite(effect) or not math.isfinite(sd) or sd > abs(effect)


def falls_past(low_means: Sequence[float], high_means: Sequence[float], best: float, sd: float
               ) -> tuple[str, dict]:
    """Accuracy falls past a boundary: the cells below it (``low_means``) all within NEAR points of the
    best cell, and the mean of the cells past it at least DROP points below the best.
    Refuted when the drop is under DROP points (or a low cell is far off the best); inconclusive when the
    largest seed sd of the cells compared exceeds the drop."""
    high = sum(high_means) / len(high_means)
    drop = best - high
    gap = best - min(low_means) if low_means else math.nan
    numbers = {"best": best, "past_mean": high, "drop": drop, "low_gap": gap, "sd": sd}
    if _noisy(drop, sd):
        return "inconclusive", numbers
    ok = drop >= DROP and (not low_means or gap <= NEAR)
    return ("confirmed" if ok else "refuted"), numbers


def is_flat(means: Sequence[float], sd: float) -> tuple[str, dict]:
    """The cell means span at most FLAT points: confirmed; more: refuted, unless the seed sd exceeds the
    span (inconclusive)."""
    span = max(means) - min(means)
    numbers = {"span": span, "sd": sd, "max": max(means), "min": min(means)}
    if span <= FLAT:
        return "confirmed", numbers
    return ("inconclusive" if _noisy(span, sd) else "refuted"), numbers


def helps(better: float, worse: float, sd: float) -> tuple[str, dict]:
    """``better`` beats ``worse`` by at least NEAR points: confirmed; by less (or not at all): refuted;
    inconclusive when the seed sd exceeds the difference."""
    gain = better - worse
    numbers = {"treated": better, "control": worse, "gain": gain, "sd": sd}
    if _noisy(gain, sd):
        return "inconclusive", numbers
    return ("confirmed" if gain >= NEAR else "refuted"), numbers


def near_best(theory: float, best: float, median: float, sd: float) -> tuple[str, dict]:
    """The theory's setting is within NEAR points of the grid's best: confirmed; further: refuted, unless
    the seed sd exceeds the regret (inconclusive)."""
    regret = best - theory
    numbers = {"theory": theory, "best": best, "median": median, "regret": regret,
               "regret_vs_median": median - theory, "sd": sd}
    if regret <= NEAR:
        return "confirmed", numbers
    return ("inconclusive" if _noisy(regret, sd) else "refuted"), numbers


def ranks(auc: float, positives: int, negatives: int) -> tuple[str, dict]:
    """The predicted score ranks training collapse: AUC >= AUC_GOOD confirmed, <= AUC_POOR refuted,
    between them (or fewer than AUC_MIN_RUNS runs on either side) inconclusive."""
    numbers = {"auc": auc, "collapsed": positives, "kept": negatives}
    if min(positives, negatives) < AUC_MIN_RUNS or not math.isfinite(auc):
        return "inconclusive", numbers
    if auc >= AUC_GOOD:
        return "confirmed", numbers
    return ("refuted" if auc <= AUC_POOR else "inconclusive"), numbers


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve of ``scores`` for the positive ``labels`` (Mann-Whitney U / (n₊ n₋), ties
    count one half); NaN without both classes. Scores that are not finite are left out."""
    pairs = [(float(s), bool(y)) for s, y in zip(scores, labels) if s is not None and math.isfinite(s)]
    pos = [s for s, y in pairs if y]
    neg = [s for s, y in pairs if not y]
    if not pos or not neg:
        return math.nan
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value); NaN for none."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    m = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return m, sd
