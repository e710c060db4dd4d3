"""Seed groups: K runs of one setting with seeds seed ... seed+K−1, judged together.

A seed group is a sweep whose only parameter is ``seed`` (``submit --seeds K``, the dashboard's Seeds
input, or ``sweep --x seed``), so the store needs nothing new: its runs share a ``sweep_id`` and each
carries its seed as its sweep point. Once two members have measured their initial state (status finished
or diverged: both ran the initial probe) the group has an interval verdict
(:func:`stabviz.intervals.group_verdict`, docs/theory.md#55-the-measured-counterparts-and-the-training-verdict).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stabviz.config import RANGES, TrainConfig
from stabviz.intervals import CONFIDENCE, group_verdict, seed_range

SEED = "seed"
#: the statuses of members whose summary holds the initial probe the verdict reads
MEASURED = ("finished", "stopped", "diverged")


def seed_values(base: TrainConfig, k: int) -> list[int]:
    """The K seeds of a group from ``base``: its seed, seed+1, ..., seed+K−1 (each a valid seed)."""
    return seed_range(base.lif.seed, k, int(RANGES[SEED][1]))


def in_seed_group(run: Mapping[str, Any]) -> bool:
    """Whether the run belongs to a seed group (a sweep over the seed alone)."""
    point = run.get("sweep_point")
    return bool(run.get("sweep_id")) and isinstance(point, Mapping) and list(point) == [SEED]


def summarize(members: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A group from its member runs (all :func:`in_seed_group`): id, size, seeds, how many measured, and the
    verdict over the measured members in seed order (None below two).

    A verdict that cannot be formed (members that are not one setting, e.g. a hand-made sweep) is None
    with the reason in ``error``."""
    members = sorted(members, key=lambda r: (r.get("sweep_point") or {}).get(SEED, 0))  # values in seed order
    measured = [r for r in members if r.get("status") in MEASURED and _has_probe(r.get("summary"))]
    out = {
        "id": members[0].get("sweep_id") if members else None,
        "size": len(members),
        "seeds": [r["sweep_point"][SEED] for r in members],
        "measured": len(measured),
        "confidence": CONFIDENCE,
        "verdict": None,
        "error": None,
    }
    if len(measured) >= 2:
        try:
            out["verdict"] = group_verdict([r["summary"] for r in measured])
        except ValueError as err:
            out["error"] = str(err)
    return out


def groups_of(runs: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """sweep id -> :func:`summarize` for every seed group among ``runs`` (only the members listed)."""
    members: dict[str, list[Mapping[str, Any]]] = {}
    for r in runs:
        if in_seed_group(r):
            members.setdefault(r["sweep_id"], []).append(r)
    return {gid: summarize(rs) for gid, rs in members.items()}


def group_of(store: Any, run: Mapping[str, Any]) -> dict[str, Any] | None:
    """The whole seed group of ``run`` read from ``store`` (None when it is in no group)."""
    if not in_seed_group(run):
        return None
    return summarize(store.list(sweep_id=run["sweep_id"], limit=None, newest_first=False))


def interval_text(group: Mapping[str, Any] | None, digits: int = 3) -> str | None:
    """ "ρ̂ 0.98 [0.95, 1.01], rate 0.31 [0.27, 0.35] (3 seeds)" or None before two members measured."""
    verdict = (group or {}).get("verdict")
    if not verdict:
        return None
    parts = [
        f"{name} {_num(verdict[key]['mean'], digits)} {_bracket(verdict[key]['interval'], digits)}"
        for name, key in (("ρ̂", "rho"), ("rate", "firing_rate"))
    ]
    return ", ".join(parts) + f" ({verdict['members']} seeds)"


def verdict_sentence(group: Mapping[str, Any] | None, digits: int = 3) -> str | None:
    """One plain sentence: agrees / refuted, with the predicted ρ, the 95% interval of ρ̂ and the widened
    interval; the firing rate the same way. None before two members measured."""
    verdict = (group or {}).get("verdict")
    if not verdict:
        return None
    pct = f"{verdict['confidence']:.0%}"
    rho, rate = verdict["rho"], verdict["firing_rate"]
    word = {True: "agrees", False: "is refuted", None: "cannot be judged"}[verdict["agrees"]]

    def clause(name: str, measured: str, q: Mapping[str, Any], widened_by: str) -> str:
        if q["agrees"] is None:
            return f"{name}: no prediction to compare"
        inside = "lies inside" if q["agrees"] else "lies outside"
        return (
            f"predicted {name} {_num(q['predicted'], digits)} {inside} the {pct} interval of {measured} "
            f"{_bracket(q['interval'], digits)} widened by {widened_by} to {_bracket(q['accepts'], digits)}"
        )

    return (
        f"Over {verdict['members']} seeds the prediction {word}: "
        + "; ".join(
            (
                clause("ρ", "ρ̂", rho, "the calibrated band"),
                clause("firing rate", "the measured rate", rate, "the single-run tolerance"),
            )
        )
        + "."
    )


def _has_probe(summary: Any) -> bool:
    return (
        isinstance(summary, Mapping)
        and isinstance(summary.get("initial"), Mapping)
        and isinstance(summary.get("lif"), Mapping)
    )


def _num(x: float | None, digits: int) -> str:
    return "—" if x is None else f"{x:.{digits}g}"


def _bracket(pair: Sequence[float] | None, digits: int) -> str:
    return "[—]" if not pair else f"[{_num(pair[0], digits)}, {_num(pair[1], digits)}]"
