"""What a finished run measured, in the theory's words: the regime label of its gradient-flow probe, one
outcome row (setting, predicted regime, measured regime, accuracy) shared by `sweep --wait` and the
dashboard's tables, and how training went in plain words (:func:`training_outcome`: diverged, stopped by
its time limit, at chance or trained), which every verdict leads with."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from stabviz.runs.status import STOPPED, ended_as, status_text
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
    return {
        "setting": run.get("sweep_label") or run["id"],
        "predicted": prediction.get("regime"),
        "measured": measured_outcome(run) if ended else None,
        "accuracy": (summary.get("final") or {}).get("accuracy"),
        "agrees": ((summary.get("verdict") or {}).get("regime") or {}).get("agrees"),
    }


# -- how training went, in plain words ---------------------------------------------------------------

#: Standard errors above chance an accuracy must reach to count as trained: below, it is at chance.
CHANCE_SE = 2.0
#: Worst first: the status that leads a group's outcome sentence.
SEVERITY = ("failed", "diverged", "interrupted", STOPPED, "cancelled", "finished")
REGIME_WORDS = {
    "vanishing": "gradients vanished",
    "exploding": "gradients exploded",
    "stable": "gradients stayed stable",
}


def chance_level(run: Mapping[str, Any]) -> float | None:
    """1 / classes of the run's task (its summary's, else a randman config's classes); None unknown."""
    classes = ((run.get("summary") or {}).get("task") or {}).get("n_classes")
    cfg = run.get("config") or {}
    if not classes and cfg.get("task") == "randman":
        classes = cfg.get("classes")
    return 1.0 / classes if isinstance(classes, (int, float)) and classes >= 2 else None


def at_chance(accuracy: float, chance: float, samples: int | None) -> bool:
    """Whether a test accuracy over ``samples`` test samples is within CHANCE_SE standard errors of
    guessing (the binomial standard error at the chance level; 100 samples when unknown)."""
    n = samples if samples and samples > 0 else 100
    return accuracy <= chance + CHANCE_SE * math.sqrt(chance * (1.0 - chance) / n)


def _final_accuracy(runs: Sequence[Mapping[str, Any]]) -> tuple[float | None, int]:
    """Mean test accuracy over ``runs`` with one, and their test samples together."""
    accs, samples = [], 0
    for r in runs:
        summary = r.get("summary") or {}
        acc = (summary.get("final") or {}).get("accuracy")
        if isinstance(acc, (int, float)) and math.isfinite(acc):
            accs.append(float(acc))
            samples += int((summary.get("task") or {}).get("test_samples") or 0)
    return (sum(accs) / len(accs) if accs else None), samples


def _regimes(runs: Sequence[Mapping[str, Any]]) -> str | None:
    """ "gradients vanished" (every run measured the same), "gradients vanished in 2 of 3 runs, stayed
    stable in 1"; None when no run measured a regime."""
    counts: dict[str, int] = {}
    for r in runs:
        regime = measured_outcome({**r, "status": "finished"})  # the probe's label, even if diverged later
        if regime in REGIME_WORDS:
            counts[regime] = counts.get(regime, 0) + 1
    if not counts:
        return None
    if len(counts) == 1:
        return REGIME_WORDS[next(iter(counts))]
    parts = [f"{REGIME_WORDS[k].split(' ', 1)[1]} in {n} of {len(runs)} runs" for k, n in counts.items()]
    return "gradients " + ", ".join(parts)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def training_outcome(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How the run (or a seed group's runs) went, leading with the outcome in plain words.

    ``kind``: pending, failed, diverged, interrupted, stopped, cancelled (the worst status among the runs),
    else trained or at chance (finished runs: the mean test accuracy against guessing, :func:`at_chance`).
    ``tone``: success only for trained, error for failed and diverged, warning otherwise (info while
    pending): it says whether training went well, never whether a prediction matched. ``sentence``: e.g.
    "Gradients vanished; accuracy stayed at chance: 20% (chance 20%)." or "Trained: 87% test accuracy (chance
    20%); at initialisation gradients stayed stable."
    """
    runs = list(runs)
    if not runs or any(r.get("status") in ACTIVE for r in runs):
        ended = sum(r.get("status") not in ACTIVE for r in runs)
        return {"kind": "pending", "tone": "info", "sentence": f"Training: {ended} of {len(runs)} runs ended."}
    statuses = [ended_as(r) for r in runs]
    worst = min(statuses, key=lambda s: SEVERITY.index(s) if s in SEVERITY else 0)
    n = statuses.count(worst)
    who = "" if len(runs) == 1 else f"all {n} runs " if n == len(runs) else f"{n} of {len(runs)} runs "
    gradients = _regimes(runs)
    acc, samples = _final_accuracy(runs)
    chance = chance_level(runs[0])
    if worst != "finished":
        first = next(r for r, s in zip(runs, statuses) if s == worst)
        what = {"failed": "failed", "interrupted": "interrupted (its worker stopped)"}.get(
            worst, status_text({**first, "status": worst})
        )
        rest = {"failed": "no result", "interrupted": "no result", "diverged": "no trained result"}.get(
            worst, "not a finished result"
        )
        lead = f"{who}{what}"
        sentence = f"{lead[0].upper()}{lead[1:]}: {rest}" + (f"; at initialisation {gradients}" if gradients else "")
        return {
            "kind": worst,
            "tone": "error" if worst in ("failed", "diverged") else "warning",
            "sentence": sentence + ".",
        }
    if acc is None or chance is None:
        text = (gradients or "finished").capitalize() + ("" if acc is None else f"; test accuracy {_pct(acc)}")
        return {"kind": "finished", "tone": "warning", "sentence": text + "."}
    mean = "mean " if len(runs) > 1 else ""
    if at_chance(acc, chance, samples):
        head = (gradients or "finished").capitalize()
        return {
            "kind": "at chance",
            "tone": "warning",
            "sentence": f"{head}; {mean}accuracy stayed at chance: {_pct(acc)} (chance {_pct(chance)}).",
        }
    tail = f"; at initialisation {gradients}" if gradients else ""
    return {
        "kind": "trained",
        "tone": "success",
        "sentence": f"Trained: {mean}{_pct(acc)} test accuracy (chance {_pct(chance)}){tail}.",
    }
