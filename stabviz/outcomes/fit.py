"""Fitting the outcome model on the training-outcome dataset, and judging it leave-one-task-out.

:func:`fit_part` fits one source's logistic regression (scikit-learn, balanced L2, standardised features)
and the isotonic shortfall map; :func:`validate` holds out each task in turn: collapse AUC and calibration
per decile on the held-out task, and the regret of :func:`stabviz.outcomes.advice.pick` on each held-out
base (its choice's mean accuracy against the base's best and median choice). :func:`build` returns the
model file's content with the validation and provenance.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from stabviz.outcomes import features

#: L2 strength of the logistic regression (C, scikit-learn's inverse): mild, the features are few
C = 1.0


def fit_part(rows: Sequence[dict[str, Any]], source: str) -> dict[str, Any]:
    """One source's model fitted on ``rows``: standardisation, logistic coefficients, isotonic knots."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    x = features.matrix(list(rows), source)
    y = np.array([bool(r["collapsed"]) for r in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    clf = LogisticRegression(C=C, max_iter=2000).fit((x - mean) / scale, y)
    part = {
        "features": list(features.NAMES),
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": clf.coef_[0].tolist(),
        "intercept": float(clf.intercept_[0]),
    }
    from stabviz.outcomes.model import p_collapse

    p = p_collapse(x, part)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(p, np.array([min(max(r["shortfall_fraction"], 0.0), 1.0) for r in rows]))
    part["shortfall_x"] = [float(v) for v in iso.X_thresholds_]
    part["shortfall_y"] = [float(v) for v in iso.y_thresholds_]
    return part


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve of ``scores`` for ``labels``; None without both classes."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels, dtype=bool)
    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else None


def calibration(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Predicted against observed collapse rate per decile of the predicted probability (equal counts)."""
    order = np.argsort(p, kind="stable")
    out = []
    for chunk in np.array_split(order, bins):
        if len(chunk):
            out.append({"n": int(len(chunk)), "predicted": float(p[chunk].mean()), "observed": float(y[chunk].mean())})
    return out


#: a run collapsed when it diverged or ended below chance + this fraction of (its network's best choice − chance)
COLLAPSE_FRACTION = 0.5
#: a choice is never recommended where the network it gives is silent (initial rate below this)
DEAD_RATE = 0.01


def score(r: dict[str, Any]) -> float:
    """A run's accuracy for the labels: a diverged (or failed) run learned nothing, so it counts at chance."""
    return r["accuracy"] if r["status"] == "finished" and r["accuracy"] is not None else r["chance"]


def choice_key(r: dict[str, Any]) -> tuple[str, float, float]:
    """What a recommendation chooses: the initialisation (the network's own, or conditions I + II), γ and β."""
    return ("conditions" if r["init"] == "conditions" else "own", float(r["dampening"]), float(r["sharpness"]))


def label_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add each run's ``best`` (the best choice's mean accuracy on the same network, task and budget: what the
    advice could have reached), ``shortfall`` (best − accuracy, a diverged run at chance), ``shortfall_fraction``
    (shortfall / (best − chance)) and ``collapsed`` (diverged, or below half way from chance to best)."""
    cells: dict[tuple, list[float]] = {}
    for r in rows:
        cells.setdefault((r["base"], r["budget"], choice_key(r)), []).append(score(r))
    best: dict[tuple, float] = {}
    for (base, budget, _), accs in cells.items():
        best[(base, budget)] = max(best.get((base, budget), -math.inf), statistics.fmean(accs))
    for r in rows:
        top, chance = best[(r["base"], r["budget"])], r["chance"]
        r["best"] = top
        r["shortfall"] = top - score(r)
        r["shortfall_fraction"] = r["shortfall"] / (top - chance) if top > chance else 0.0
        r["collapsed"] = r["status"] != "finished" or score(r) < chance + COLLAPSE_FRACTION * (top - chance)
    return list(rows)


def ranking(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The choices by their mean shortfall fraction over every network and seed of ``rows`` (least first)."""
    by: dict[tuple, list[float]] = {}
    for r in rows:
        by.setdefault(choice_key(r), []).append(min(max(r["shortfall_fraction"], 0.0), 1.0))
    out = [
        {"init": k[0], "dampening": k[1], "sharpness": k[2], "shortfall": statistics.fmean(v), "runs": len(v)}
        for k, v in by.items()
    ]
    return sorted(out, key=lambda c: (c["shortfall"], c["init"], c["dampening"], c["sharpness"]))


def _base_cells(rows: Sequence[dict[str, Any]]) -> dict[tuple, dict[tuple, list[dict[str, Any]]]]:
    """Rows grouped by (base, budget), then by choice."""
    out: dict[tuple, dict[tuple, list[dict[str, Any]]]] = {}
    for r in rows:
        out.setdefault((r["base"], r["budget"]), {}).setdefault(choice_key(r), []).append(r)
    return out


def regret(
    rows: Sequence[dict[str, Any]], part: dict[str, Any], order: list[dict[str, Any]], source: str
) -> list[dict[str, Any]]:
    """Per network (base) of ``rows``: the choice :func:`stabviz.outcomes.advice.first_choice` makes (the
    ranking ``order`` walked, skipping a silent network or one the model calls harmful, from the choices'
    mean features over seeds) against the best and the median choice, by mean accuracy over seeds."""
    from stabviz.outcomes.advice import first_choice

    out = []
    for (base, budget), cells in _base_cells(rows).items():
        keys = list(cells)
        x = np.array([features.matrix(cells[k], source).mean(axis=0) for k in keys])
        chosen = first_choice(keys, x, part, order)
        means = {k: statistics.fmean(score(r) for r in cells[k]) for k in keys}
        best = max(means.values())
        out.append(
            {
                "base": base,
                "budget": budget,
                "task": cells[keys[0]][0]["task"],
                "chosen": dict(zip(("init", "dampening", "sharpness"), keys[chosen])),
                "chosen_mean": means[keys[chosen]],
                "best": best,
                "median": statistics.median(means.values()),
                "regret": best - means[keys[chosen]],
                "chance": cells[keys[0]][0]["chance"],
            }
        )
    return out


def validate(rows: Sequence[dict[str, Any]], source: str) -> dict[str, Any]:
    """Leave-one-task-out: fit on the other tasks, judge on the held-out one (AUC, calibration, regret)."""
    from stabviz.outcomes.model import p_collapse

    tasks = sorted({r["task"] for r in rows})
    per_task, all_p, all_y = {}, [], []
    for task in tasks:
        train = [r for r in rows if r["task"] != task]
        test = [r for r in rows if r["task"] == task]
        part = fit_part(train, source)
        p = p_collapse(features.matrix(test, source), part)
        y = np.array([bool(r["collapsed"]) for r in test], dtype=float)
        all_p.append(p), all_y.append(y)
        regrets = regret(test, part, ranking(train), source)
        per_task[task] = {
            "runs": len(test),
            "collapsed": int(y.sum()),
            "auc": auc(p, y.astype(bool)),
            "committed": float(np.mean((p < 0.2) | (p > 0.8))),
            "calibration": calibration(p, y),
            "mean_regret": statistics.fmean(r["regret"] for r in regrets),
            "max_regret": max(r["regret"] for r in regrets),
            "below_median": sum(r["chosen_mean"] < r["median"] for r in regrets),
            "n_bases": len(regrets),
            "bases": regrets,
        }
    p, y = np.concatenate(all_p), np.concatenate(all_y)
    bins = calibration(p, y)
    return {
        "source": source,
        "tasks": per_task,
        "pooled": {
            "auc": auc(p, y.astype(bool)),
            "committed": float(np.mean((p < 0.2) | (p > 0.8))),
            "calibration": bins,
            "max_calibration_gap": max(abs(b["predicted"] - b["observed"]) for b in bins),
        },
    }


def build(rows: Sequence[dict[str, Any]], provenance: dict[str, Any]) -> dict[str, Any]:
    """The model file: both sources fitted on every row, the choices' ranking, their leave-one-task-out
    validation, and the provenance."""
    rows = label_rows([r for r in rows if r.get("T")])
    return {
        "provenance": provenance,
        "rows": len(rows),
        "low": 0.2,
        "high": 0.8,
        "dead_rate": DEAD_RATE,
        "ranking": ranking(rows),
        "sources": {s: fit_part(rows, s) for s in features.SOURCES},
        "validation": {s: validate(rows, s) for s in features.SOURCES},
    }
