"""The replication study's verdict rules (docs/evidence/README.md#the-rules).

Every rule reads cells: one cell is the per-seed final test accuracies of one setting, in percentage points
(0-100; a diverged run already counted at chance). A rule computes one effect from the cells' means (a drop,
a span, a gain, a regret; the AUC reads runs instead) and a bootstrap interval of it: each cell's seeds are
resampled with replacement RESAMPLES times (random.Random(SEED), so the interval is reproducible) and the
effect recomputed from the resampled means; the interval is the LEVEL percentile interval of those effects.

A rule confirms only when the effect is on the claim's side of its threshold *and* the interval does not
contain the threshold; it refutes only when both are on the other side; anything else (the interval
straddles the threshold, or the interval and the effect disagree) is inconclusive. Noise is thus checked
before any verdict, confirmed included.

Returns ``(verdict, numbers)``: numbers the values compared, so summary.json shows why. Pure Python: no
torch, no numpy, no plotting, no scikit-learn.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

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
#: a collapse share this much lower (a quarter of the runs) is "collapses less often"
COLLAPSE_GAP = 0.25
#: bootstrap resamples, the interval's coverage (percentile interval: 2.5th to 97.5th) and the fixed RNG seed
RESAMPLES = 2000
LEVEL = 0.95
SEED = 2000

Cell = Sequence[float]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _percentile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile (0 <= q <= 1) of sorted values, linear between order statistics."""
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (pos - lo) * (ordered[hi] - ordered[lo])


def _interval(values: list[float]) -> tuple[float, float]:
    finite = sorted(v for v in values if math.isfinite(v))
    if not finite:
        return math.nan, math.nan
    tail = (1 - LEVEL) / 2
    return _percentile(finite, tail), _percentile(finite, 1 - tail)


def _cells(cells: Sequence[Cell]) -> list[list[float]]:
    """The cells as lists of finite floats; a ValueError for a cell without any."""
    out = [[float(v) for v in c if v is not None and math.isfinite(v)] for c in cells]
    if not out or any(not c for c in out):
        raise ValueError("every cell a rule compares needs at least one finite accuracy")
    return out


def bootstrap(cells: Sequence[Cell], *effects: Callable[[list[float]], float]) -> list[tuple[float, float]]:
    """The LEVEL percentile interval of each effect (a function of the cells' means, in ``cells``' order),
    each cell's seeds resampled with replacement, RESAMPLES times, the same resamples for every effect."""
    rng = random.Random(SEED)
    data = _cells(cells)
    draws: list[list[float]] = [[] for _ in effects]
    for _ in range(RESAMPLES):
        means = [_mean(rng.choices(c, k=len(c))) for c in data]
        for out, effect in zip(draws, effects):
            out.append(effect(means))
    return [_interval(d) for d in draws]


def side(point: float, interval: tuple[float, float], threshold: float, at_least: bool) -> bool | None:
    """Whether the condition ``point >= threshold`` (``at_least``) or ``point <= threshold`` holds: True or
    False when the point and the whole interval agree on it, None when the interval contains the threshold,
    the two disagree, or a number is not finite."""
    lo, hi = interval
    if not all(math.isfinite(v) for v in (point, lo, hi)):
        return None
    if at_least:
        holds, certain_yes, certain_no = point >= threshold, lo >= threshold, hi < threshold
    else:
        holds, certain_yes, certain_no = point <= threshold, hi <= threshold, lo > threshold
    if holds and certain_yes:
        return True
    if not holds and certain_no:
        return False
    return None


def _verdict(*conditions: bool | None) -> str:
    """Confirmed when every condition surely holds, refuted when one surely fails, else inconclusive."""
    if any(c is False for c in conditions):
        return "refuted"
    return "confirmed" if all(c is True for c in conditions) else "inconclusive"


def max_sd(cells: Sequence[Cell]) -> float:
    """The largest seed sd among ``cells`` (shown beside the interval; the rules decide on the interval)."""
    return max((mean_sd(c)[1] for c in cells), default=math.nan)


def falls_past(curve: Sequence[Cell], low: Sequence[int], high: Sequence[int]) -> tuple[str, dict]:
    """Accuracy falls past a boundary along a curve of cells: the cells ``low`` (indices into ``curve``) all
    within NEAR points of the curve's best cell (``low_gap`` <= NEAR), and the cells ``high`` on average at
    least DROP points below it (``drop`` >= DROP). Both are judged with their bootstrap intervals."""
    if not high:
        raise ValueError("falls_past needs at least one cell past the boundary")
    cells = _cells(curve)
    means = [_mean(c) for c in cells]

    def drop(m):
        return max(m) - _mean([m[i] for i in high])

    def gap(m):
        return max(m) - min(m[i] for i in low) if low else 0.0

    drop_ci, gap_ci = bootstrap(cells, drop, gap)
    numbers = {
        "best": max(means),
        "past_mean": _mean([means[i] for i in high]),
        "drop": drop(means),
        "drop_interval": list(drop_ci),
        "low_gap": gap(means) if low else None,
        "low_gap_interval": list(gap_ci) if low else None,
        "sd": max_sd(cells),
    }
    conditions = [side(drop(means), drop_ci, DROP, at_least=True)]
    if low:
        conditions.append(side(gap(means), gap_ci, NEAR, at_least=False))
    return _verdict(*conditions), numbers


def is_flat(cells: Sequence[Cell]) -> tuple[str, dict]:
    """The cell means span at most FLAT points: confirmed when the span's interval lies at or under FLAT,
    refuted when it lies above, inconclusive when it contains FLAT."""
    data = _cells(cells)
    means = [_mean(c) for c in data]

    def span(m):
        return max(m) - min(m)

    (ci,) = bootstrap(data, span)
    numbers = {"span": span(means), "span_interval": list(ci), "sd": max_sd(data), "max": max(means), "min": min(means)}
    return _verdict(side(span(means), ci, FLAT, at_least=False)), numbers


def helps(treated: Sequence[Cell], controls: Sequence[Sequence[Cell]]) -> tuple[str, dict]:
    """The treated cells' average beats the best of the control groups (each a list of cells, averaged) by at
    least NEAR points: ``gain`` >= NEAR, judged with its bootstrap interval."""
    groups = [list(treated), *[list(g) for g in controls]]
    if not controls or any(not g for g in groups):
        raise ValueError("helps needs treated cells and at least one non-empty control group")
    cells = _cells([c for g in groups for c in g])
    bounds, start = [], 0
    for g in groups:
        bounds.append((start, start + len(g)))
        start += len(g)

    def group_means(m):
        return [_mean(m[a:b]) for a, b in bounds]

    def gain(m):
        g = group_means(m)
        return g[0] - max(g[1:])

    means = [_mean(c) for c in cells]
    (ci,) = bootstrap(cells, gain)
    point = group_means(means)
    rival = max(range(1, len(point)), key=lambda k: point[k])
    numbers = {
        "treated": point[0],
        "control": point[rival],
        "gain": gain(means),
        "gain_interval": list(ci),
        "sd": max_sd(cells),
    }
    return _verdict(side(gain(means), ci, NEAR, at_least=True)), {**numbers, "rival_group": rival - 1}


def near_best(grid: Sequence[Cell], theory: int) -> tuple[str, dict]:
    """The theory's cell (index ``theory`` into ``grid``) is within NEAR points of the grid's best cell:
    ``regret`` <= NEAR, judged with its bootstrap interval (every cell resampled, so the best cell's noise
    counts as much as the theory cell's). ``sd``: the larger seed sd of the theory cell and the best cell."""
    cells = _cells(grid)
    means = [_mean(c) for c in cells]

    def regret(m):
        return max(m) - m[theory]

    (ci,) = bootstrap(cells, regret)
    top = max(range(len(means)), key=lambda k: means[k])
    ordered = sorted(means)
    median = (ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) / 2
    numbers = {
        "theory": means[theory],
        "best": means[top],
        "median": median,
        "regret": regret(means),
        "regret_interval": list(ci),
        "regret_vs_median": median - means[theory],
        "sd": max(mean_sd(cells[theory])[1], mean_sd(cells[top])[1]),
    }
    return _verdict(side(regret(means), ci, NEAR, at_least=False)), numbers


def ranks(scores: Sequence[float], labels: Sequence[bool]) -> tuple[str, dict]:
    """A score ranks training collapse (``labels``: collapsed or not): confirmed when its AUC and the AUC's
    bootstrap interval lie at or above AUC_GOOD, refuted when they lie at or below AUC_POOR, inconclusive
    otherwise or with fewer than AUC_MIN_RUNS runs on either side. The bootstrap resamples runs, collapsed
    and kept ones separately (their counts fixed); runs whose score is not finite are left out."""
    pos, neg = _split(scores, labels)
    value = _auc(pos, neg)
    numbers = {"auc": value, "auc_interval": None, "collapsed": len(pos), "kept": len(neg)}
    if min(len(pos), len(neg)) < AUC_MIN_RUNS or not math.isfinite(value):
        return "inconclusive", numbers
    rng = random.Random(SEED)
    ci = _interval([_auc(rng.choices(pos, k=len(pos)), rng.choices(neg, k=len(neg))) for _ in range(RESAMPLES)])
    numbers["auc_interval"] = list(ci)
    good = side(value, ci, AUC_GOOD, at_least=True)
    poor = side(value, ci, AUC_POOR, at_least=False)
    verdict = "confirmed" if good is True else "refuted" if poor is True else "inconclusive"
    return verdict, numbers


def fewer_collapses(treated: Sequence[bool], controls: Sequence[Sequence[bool]]) -> tuple[str, dict]:
    """The treated runs collapse less often than each control group's (``treated`` and each control: one flag
    per run, True when it collapsed): the ``gap`` = the lower control share − the treated share must be at
    least COLLAPSE_GAP, judged with its bootstrap interval (each group's runs resampled with replacement).
    Inconclusive when no run of any group collapsed: there is nothing to tell apart."""
    groups = [[bool(f) for f in treated], *[[bool(f) for f in c] for c in controls]]
    if not controls or any(not g for g in groups):
        raise ValueError("fewer_collapses needs treated runs and at least one non-empty control group")

    def gap(shares):
        return min(shares[1:]) - shares[0]

    shares = [sum(g) / len(g) for g in groups]
    rng = random.Random(SEED)
    draws = [gap([sum(rng.choices(g, k=len(g))) / len(g) for g in groups]) for _ in range(RESAMPLES)]
    ci = _interval(draws)
    numbers = {
        "treated": shares[0],
        "controls": shares[1:],
        "gap": gap(shares),
        "gap_interval": list(ci),
        "runs": [len(g) for g in groups],
    }
    if not any(any(g) for g in groups):
        return "inconclusive", numbers
    return _verdict(side(gap(shares), ci, COLLAPSE_GAP, at_least=True)), numbers


def _split(scores: Sequence[float], labels: Sequence[bool]) -> tuple[list[float], list[float]]:
    pairs = [(float(s), bool(y)) for s, y in zip(scores, labels) if s is not None and math.isfinite(s)]
    return [s for s, y in pairs if y], [s for s, y in pairs if not y]


def _auc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """Mann-Whitney U / (n₊ n₋) from midranks (ties count one half); NaN without both classes."""
    if not pos or not neg:
        return math.nan
    ordered = sorted([(s, True) for s in pos] + [(s, False) for s in neg], key=lambda p: p[0])
    rank_sum, i = 0.0, 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1][0] == ordered[i][0]:
            j += 1
        midrank = (i + j) / 2 + 1
        rank_sum += midrank * sum(1 for k in range(i, j + 1) if ordered[k][1])
        i = j + 1
    n_pos, n_neg = len(pos), len(neg)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve of ``scores`` for the positive ``labels`` (Mann-Whitney U / (n₊ n₋), ties
    count one half); NaN without both classes. Scores that are not finite are left out."""
    return _auc(*_split(scores, labels))


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value); NaN for none."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    m = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return m, sd
