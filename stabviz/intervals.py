"""Seeds and intervals: the mean of a measured quantity over K seeds with its 95% interval, and the group
verdict of K runs of one setting (docs/theory.md#55-the-measured-counterparts-and-the-training-verdict).

One seed says little: the initial firing rate alone moves by a few hundredths between seeds. Over K ≥ 2
seeds a quantity gets the Student-t interval of its mean, mean ± t_{0.975, K−1}·s/√K (s the sample
standard deviation). The group verdict then says "agrees" when the prediction lies inside that interval
widened by the single-run tolerance: the calibrated band for T·log₁₀ρ̂, max(RATE_ABS_TOL, RATE_REL_TOL·p)
for the firing rate. With K = 1 there is no interval and the rule is exactly the single run's.

Pure numbers (scipy only, imported on first use): importing this module loads neither torch nor scipy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The interval's coverage.
CONFIDENCE = 0.95
#: Firing rates agree when |predicted − measured| <= max(RATE_ABS_TOL, RATE_REL_TOL · measured).
RATE_ABS_TOL, RATE_REL_TOL = 0.05, 0.25
#: LIF fields that may differ between the members of one group: the seed, and the input statistics each
#: member measured on its own (seeded) draw of the task.
MEMBER_FIELDS = ("seed", "input_mean", "input_var")
NO_INTERVAL = "one seed: no interval (it needs K ≥ 2); the single-run rule applies"


@dataclass(frozen=True)
class Interval:
    """The mean of ``n`` finite values and its two-sided interval (lo, hi None when n < 2)."""

    mean: float | None
    lo: float | None
    hi: float | None
    n: int
    left_out: int = 0  # values that were None or not finite

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "interval": None if self.lo is None else [self.lo, self.hi],
            "n": self.n,
            "left_out": self.left_out,
        }


def mean_interval(values: Sequence[float | None], confidence: float = CONFIDENCE) -> Interval:
    """The mean and its Student-t ``confidence`` interval over the finite ``values`` (None, NaN and ±inf
    are left out and counted). One value: its mean, no interval; none: nothing."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence = {confidence!r} is outside the allowed range (0, 1)")
    kept = [float(v) for v in values if v is not None and math.isfinite(v)]
    n, left_out = len(kept), len(values) - len(kept)
    if n == 0:
        return Interval(None, None, None, 0, left_out)
    mean = math.fsum(kept) / n
    if n == 1:
        return Interval(mean, None, None, 1, left_out)
    from scipy import stats  # on first use: the CLI's run commands start without scipy

    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in kept) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, left_out)


def seed_range(first: int, k: int, largest: int = 2**31 - 1) -> list[int]:
    """The K seeds first, first+1, ..., first+K−1; ValueError when K < 1 or the last passes ``largest``
    (config.RANGES' largest seed)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"seeds = {k!r} must be a whole number of at least 1")
    if first + k - 1 > largest:
        raise ValueError(
            f"seeds = {k} from seed {first} would reach seed {first + k - 1}, above the largest seed {largest}"
        )
    return list(range(first, first + k))


def rate_tolerance(measured: float) -> float:
    """How far a predicted firing rate may be from a measured one and still agree."""
    return max(RATE_ABS_TOL, RATE_REL_TOL * measured)


def rate_accepts(lo: float, hi: float) -> tuple[float, float]:
    """The predicted rates that agree with some measured rate in [lo, hi]: [lo − tol(lo), hi + tol(hi)]
    (both ends grow with the measured rate, so the union of the single-run ranges is this one range)."""
    return lo - rate_tolerance(lo), hi + rate_tolerance(hi)


def group_verdict(summaries: Sequence[Mapping[str, Any]], confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Predicted vs measured at initialisation over the K runs of one setting (one per seed).

    ``summaries``: what :func:`stabviz.train.run` returns (``prediction``, ``initial``, ``lif`` are read);
    the runs must share the setting except for MEMBER_FIELDS. Per quantity: the per-seed ``values``, their
    ``mean`` and ``interval`` (None for K = 1), the ``predicted`` value (the members' mean: their predictions
    differ only through the input statistics of each seed's task draw), ``accepts`` (the predictions that
    agree: the interval widened by the tolerance) and ``agrees``:

    - ``firing_rate`` (layer 0): the interval [lo, hi] widened by the single-run tolerance,
      [lo − max(0.05, 0.25·lo), hi + max(0.05, 0.25·hi)];
    - ``log10_gain`` (T·log₁₀ρ̂): agrees when the interval overlaps the calibrated band
      [T·log₁₀ρ + T·r_lo, T·log₁₀ρ + T·r_hi], i.e. the predicted T·log₁₀ρ lies inside
      [lo − T·r_hi, hi − T·r_lo];
    - ``rho`` (ρ̂ per step): its own mean and interval, and the ``log10_gain`` verdict read per step
      (``accepts`` = 10^(accepts/T)).

    ``agrees`` overall: both agree (None when either cannot be judged). With K = 1 the interval is the one
    value, which is the single run's rule of :func:`stabviz.train.verdict`; ``notes`` says so.
    """
    if not summaries:
        raise ValueError("group_verdict needs at least one run summary")
    steps = _shared_setting(summaries)
    rates = [_first(s.get("initial", {}).get("firing_rate")) for s in summaries]
    rhos = [s.get("initial", {}).get("grad_gain") for s in summaries]
    logs = [steps * math.log10(r) if isinstance(r, (int, float)) and r > 0 else None for r in rhos]
    pred = [s.get("prediction") or {} for s in summaries]
    band = [_mean([(p.get("log10_gain_band") or [None, None])[i] for p in pred]) for i in (0, 1)]

    rate = _quantity(rates, _mean([p.get("firing_rate") for p in pred]), confidence, rate_accepts)
    pred_log = _mean([p.get("log10_gain") for p in pred])
    widen = (
        None if None in (*band, pred_log) else (lambda lo, hi: (lo - (band[1] - pred_log), hi + (pred_log - band[0])))
    )
    gain = _quantity(logs, pred_log, confidence, widen)
    gain["band"] = band
    rho = _quantity(rhos, _mean([p.get("rho") for p in pred]), confidence, None)
    if gain["accepts"] is not None:
        rho["accepts"] = [10 ** (v / steps) for v in gain["accepts"]]
    rho["agrees"] = gain["agrees"]
    parts = (rate["agrees"], gain["agrees"])
    notes = [NO_INTERVAL] if len(summaries) == 1 else []
    return {
        "members": len(summaries),
        "confidence": confidence,
        "steps": steps,
        "firing_rate": rate,
        "rho": rho,
        "log10_gain": gain,
        "agrees": None if None in parts else all(parts),
        "notes": notes,
    }


def _quantity(values, predicted, confidence, accepts) -> dict[str, Any]:
    """values, mean, interval and, when ``accepts`` maps (lo, hi) to the agreeing predictions, the verdict."""
    iv = mean_interval(values, confidence)
    out = {"values": list(values), **iv.to_dict(), "predicted": predicted, "accepts": None, "agrees": None}
    if accepts is None or iv.mean is None or predicted is None:
        return out
    a_lo, a_hi = accepts(*((iv.mean, iv.mean) if iv.lo is None else (iv.lo, iv.hi)))
    out["accepts"] = [a_lo, a_hi]
    out["agrees"] = a_lo <= predicted <= a_hi
    return out


def _shared_setting(summaries: Sequence[Mapping[str, Any]]) -> int:
    """T of the group; ValueError when the members are not one setting (seed and input statistics aside)."""
    settings = [{k: v for k, v in (s.get("lif") or {}).items() if k not in MEMBER_FIELDS} for s in summaries]
    differ = sorted(
        {k for other in settings[1:] for k in set(other) | set(settings[0]) if other.get(k) != settings[0].get(k)}
    )
    if differ:
        raise ValueError(f"the runs of one group must share their setting; these differ: {', '.join(differ)}")
    steps = settings[0].get("steps")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"the runs' lif.steps = {steps!r} is not a positive whole number")
    return steps


def _first(values: Any) -> float | None:
    return values[0] if isinstance(values, (list, tuple)) and values else None


def _mean(values: Sequence[float | None]) -> float | None:
    """The mean of the values, or None when any is missing (a prediction the theory could not make)."""
    if not values or any(v is None or not math.isfinite(v) for v in values):
        return None
    return math.fsum(values) / len(values)
