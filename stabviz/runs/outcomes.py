"""What a finished run measured, in the theory's words: the regime label of its gradient-flow probe, and
one outcome row (setting, predicted regime, measured regime, accuracy) shared by `sweep --wait` and the
dashboard's tables."""
from __future__ import annotations

from typing import Any, Mapping

from stabviz.runs.store import ACTIVE

OUTCOMES = ("vanishing", "stable", "exploding")


def measured_outcome(run: Mapping[str, Any]) -> str:
    """The regime a run measured at initialisation (vanishing / stable / exploding: the label of
    T·log10 ρ̂ in the run's verdict), "exploding" for a diverged run, else "unknown"."""
    if run.get("status") == "diverged":
        return "exploding"
    verdict = (run.get("summary") or {}).get("verdict") or {}
    measured = (verdict.get("regime") or {}).get("measured")
    return measured if measured in OUTCOMES else "unknown"


def outcome_row(run: Mapping[str, Any]) -> dict[str, Any]:
    """setting (the sweep point's label, else the run id), predicted and measured regime (None while the
    run is queued or running), final test accuracy (None before it), and ``agrees``: the run's calibrated
    regime verdict (measured inside the prediction's band; None when it has none)."""
    summary = run.get("summary") or {}
    prediction = run.get("prediction") or summary.get("prediction") or {}
    ended = run.get("status") not in ACTIVE
    return {"setting": run.get("sweep_label") or run["id"], "predicted": prediction.get("regime"),
            "measured": measured_outcome(run) if ended else None,
            "accuracy": (summary.get("final") or {}).get("accuracy"),
            "agrees": ((summary.get("verdict") or {}).get("regime") or {}).get("agrees")}
