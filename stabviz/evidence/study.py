"""The replication study: the paper's empirical claims rerun offline, judged by fixed rules (:mod:`.rules`).

Design, arms and rules: docs/evidence/README.md. :func:`design` builds every arm as cells, each cell a list
of :class:`~stabviz.config.TrainConfig` (one per seed, and in the full size per learning rate and depth);
:func:`execute` runs one list of configs and is the one place that decides how (in this process, or through
the local or Ray launcher); :func:`analyse` turns the summaries into curves, markers and verdicts;
:func:`write_outputs` writes JSON and PNG files; :func:`figures` draws them (the PNGs and the dashboard's
Evidence page alike).

Importing this module never loads torch (train, simulate and tasks are imported where a run or a
simulation needs them): the dashboard rebuilds an arm's configs (:func:`arm_cells`) and draws the figures
in its server process.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stabviz import plots, safeio, theory
from stabviz.config import LIFConfig, TrainConfig, limits, preset
from stabviz.evidence import rules
from stabviz.jsonsafe import dumps, finite_or_none

SIZE_NAMES = ("smoke", "quick", "full")
TASK_NAMES = ("digits", "randman")
#: the sparsity loss "on" of arm C: weight and target rate (docs/theory.md#6-what-the-paper-reports)
SPARSITY_WEIGHT, SPARSITY_TARGET = 1.0, 0.05
#: a run collapsed when diverged or below chance + this fraction of (its task's best cell mean − chance)
COLLAPSE_FRACTION = 0.5


@dataclass(frozen=True)
class Size:
    """How big the study is. Every cell runs ``seeds`` seeds × ``lrs`` × ``layers`` configs."""

    seeds: int
    digits_neurons: int
    randman_neurons: int
    train_steps: int
    randman_steps: int  # randman's time steps T
    randman_samples: int
    gammas: tuple[float, ...]
    betas: tuple[float, ...]
    tails: tuple[float, ...]
    rates: tuple[float, ...]
    shapes: tuple[str, ...]
    lrs: tuple[float, ...] = (2e-3,)
    layers: tuple[int, ...] = (1,)
    boundary_points: int = 24  # γ and β values simulated for the measured boundary


GAMMAS = (0.25, 0.5, 1.0, 1.25, 1.5, 2.0)
BETAS = (0.25, 0.5, 0.75, 1.5)
TAILS = (1.01, 1.05, 1.26, 1.6, 2.36, 4.08, 16.8)
RATES = (0.05, 0.2, 0.5, 0.8)
SHAPES = ("fastsigmoid", "exponential", "rectangular")
SIZES = {
    "smoke": Size(
        2, 16, 16, 3, 10, 100, (0.5, 1.0, 2.0), (0.25,), (1.05, 16.8), (0.05, 0.8), ("fastsigmoid",), boundary_points=6
    ),
    "quick": Size(3, 128, 64, 200, 30, 500, GAMMAS, BETAS, TAILS, RATES, SHAPES),
    "full": Size(
        5, 128, 128, 500, 50, 1000, GAMMAS, BETAS, TAILS, RATES, SHAPES, lrs=(3e-4, 1e-3, 3e-3), layers=(1, 2)
    ),
}


def sized(size_name: str, budget: int | None = None) -> Size:
    """The study size ``size_name`` with ``budget`` optimiser steps per run (None: the size's own)."""
    if size_name not in SIZES:
        raise ValueError(f"size = {size_name!r} is not one of: {', '.join(SIZE_NAMES)}")
    if budget is None:
        return SIZES[size_name]
    top = limits()["train_steps"]
    if isinstance(budget, bool) or not isinstance(budget, int) or not 1 <= budget <= top:
        raise ValueError(f"budget = {budget!r} is not a whole number of optimiser steps in [1, {top}]")
    return dataclasses.replace(SIZES[size_name], train_steps=budget)


@dataclass
class Cell:
    """One point of an arm: its parameters and the configs (seeds...) that measure it."""

    arm: str
    task: str
    label: str
    params: dict[str, Any]
    configs: list[TrainConfig] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# design


def base_config(task: str, size: Size, device: str = "cpu") -> TrainConfig:
    """Arm A's setting per task: digits at the paper's sl-MNIST layer (α ≈ 0), randman at τ = 20."""
    # a longer budget gets a longer wall-time limit (600 s at the quick size's 200 steps, as before)
    common = dict(
        train_steps=size.train_steps,
        batch=64,
        device=device,
        log_every=max(1, size.train_steps),
        time_limit=max(600.0, 3.0 * size.train_steps),
    )
    if task == "digits":
        return TrainConfig(task="digits", lif=preset("paper-slmnist", n_rec=size.digits_neurons), **common)
    return TrainConfig(
        task="randman",
        lif=preset("shd-tau20", n_rec=size.randman_neurons, n_in=50),
        classes=5,
        samples=size.randman_samples,
        time_steps=size.randman_steps,
        **common,
    )


def task_lif(base: TrainConfig) -> LIFConfig:
    """The LIFConfig a run of ``base`` really uses: the task's channels, steps and measured m_x, v_x."""
    from stabviz import train
    from stabviz.tasks import input_stats, load_task

    data = load_task(base)
    m_x, v_x = input_stats(data.x_train)
    return train.network_config(base, data, m_x, v_x)


def _seeded(base: TrainConfig, size: Size, **lif_changes: Any) -> list[TrainConfig]:
    lif = base.lif.replace(**lif_changes)
    return [
        base.replace(lif=lif.replace(seed=seed), lr=lr, layers=layers)
        for layers in size.layers
        for lr in size.lrs
        for seed in range(size.seeds)
    ]


def theory_points(lif: LIFConfig) -> dict[str, Any]:
    """γ_III, γ_IV(β) and β*(γ) at the task's setting (the options of theory.recommendation_options)."""
    options, notes = theory.recommendation_options(lif)
    by_label = {o["label"]: o for o in options}
    g3 = float(theory.condition_iii(lif))
    return finite_or_none(
        {
            "gamma_III": g3 if g3 > 0 else None,
            "gamma_IV": by_label.get("keep β, solve γ", {}).get("dampening"),
            "beta_star": by_label.get("keep γ, solve β", {}).get("sharpness"),
            "notes": notes,
        }
    )


def design(size: Size, device: str = "cpu") -> tuple[list[Cell], dict[str, Any]]:
    """Every cell of arms A, A′, B, C and D, and the theory's points per task (for markers and arm D)."""
    points: dict[str, Any] = {}
    for task in TASK_NAMES:
        lif = task_lif(base_config(task, size, device))
        points[task] = {
            shape: theory_points(lif.replace(shape=shape, dampening=1.0, sharpness=1.0)) for shape in size.shapes
        }
    return arm_cells(size, points, device), points


def arm_cells(size: Size, points: dict[str, Any], device: str = "cpu") -> list[Cell]:
    """The cells of :func:`design` given the theory's points per task (as cells.json keeps them under
    "theory"): the same configs, rebuilt without loading a task or torch."""
    cells: list[Cell] = []
    for task, arm in (("digits", "A"), ("randman", "A'")):
        base = base_config(task, size, device)
        for shape in size.shapes:
            for g in size.gammas:
                cells.append(
                    Cell(
                        arm,
                        task,
                        f"{shape} γ={g:g}",
                        {"shape": shape, "dampening": g, "sharpness": 1.0},
                        _seeded(base, size, shape=shape, dampening=g, sharpness=1.0),
                    )
                )
            for b in size.betas:
                cells.append(
                    Cell(
                        arm,
                        task,
                        f"{shape} β={b:g}",
                        {"shape": shape, "dampening": 1.0, "sharpness": b},
                        _seeded(base, size, shape=shape, dampening=1.0, sharpness=b),
                    )
                )
        cells += _arm_d(task, base, size, points[task]["fastsigmoid"])
    digits = base_config("digits", size, device)
    for q in size.tails:
        cells.append(
            Cell(
                "B",
                "digits",
                f"q={q:g}",
                {"tail": q},
                _seeded(digits, size, shape="qpseudospike", reset="mult2", tail=q),
            )
        )
    for f0 in size.rates:
        for on in (False, True):
            sp = dict(sparsity_weight=SPARSITY_WEIGHT, sparsity_target=SPARSITY_TARGET) if on else {}
            cells.append(
                Cell(
                    "C",
                    "digits",
                    f"f0={f0:g} SP {'on' if on else 'off'}",
                    {"initial_rate": f0, "sparsity": on},
                    [c.replace(initial_rate=f0, **sp) for c in _seeded(digits, size)],
                )
            )
    return cells


def _arm_d(task: str, base: TrainConfig, size: Size, point: dict[str, Any]) -> list[Cell]:
    """Glorot γ = β = 1; conditions I + II; β*(γ = 1); γ_IV(β = 1); the recommended option (conditions I + II
    and the first ρ² = 1 surrogate). A setting the theory cannot give here is left out (the notes say why)."""
    settings: list[tuple[str, dict, dict]] = [
        ("Glorot γ=β=1", {}, {}),
        ("conditions I+II", {"init_rec": "conditions"}, {}),
    ]
    if point.get("beta_star"):
        settings.append(("β*(γ=1)", {"sharpness": point["beta_star"]}, {}))
    if point.get("gamma_IV"):
        settings.append(("γ_IV(β=1)", {"dampening": point["gamma_IV"]}, {}))
    settings.append(("recommended", {"init_rec": "conditions"}, {"use_recommended_setting": True}))
    return [
        Cell(
            "D",
            task,
            label,
            {"setting": label, **lif_changes},
            [c.replace(**train_changes) for c in _seeded(base, size, **lif_changes)],
        )
        for label, lif_changes, train_changes in settings
    ]


# ---------------------------------------------------------------------------------------------
# execution: the one function that decides how a list of configs runs


def execute(
    configs: Sequence[TrainConfig], launcher: str | None = None, progress: Callable[[int, int], None] | None = None
) -> list[dict[str, Any]]:
    """The summaries of ``train.run`` for ``configs``, in order: in this process, configs that can share an
    ensemble trained together (``launcher`` None), or queued through the local launcher or Ray in batches of
    the queue limit (whose workers pack them into ensembles the same way)."""
    report = progress or (lambda done, total: None)
    if launcher is None:
        return _execute_ensembles(list(configs), report)
    from stabviz.runs import get_launcher

    runner = get_launcher(launcher)
    out, batch = [], max(1, limits()["queued"])
    for start in range(0, len(configs), batch):
        ids = runner.submit_many(configs[start : start + batch])
        runner.wait(ids)
        out += [stored_summary(runner.store.get(run_id)) for run_id in ids]
        report(len(out), len(configs))
    return out


def ensemble_chunks(configs: Sequence[TrainConfig], most: int | None = None) -> list[list[int]]:
    """Indices of ``configs`` in the ensembles they train as: configs that can share one (train.group_configs),
    in chunks that fit one (runs.worker.fit_count), at most ``most`` members each."""
    from stabviz import train
    from stabviz.runs.worker import fit_count

    chunks = []
    for group in train.group_configs(configs):
        while group:
            n = fit_count([configs[k] for k in group])
            n = n if most is None else min(n, most)
            chunks.append(group[:n])
            group = group[n:]
    return chunks


def _execute_ensembles(configs: list[TrainConfig], report: Callable[[int, int], None]) -> list[dict[str, Any]]:
    """In this process: each chunk of :func:`ensemble_chunks` trains as one train.run_ensemble (an alif,
    cuba or local-losses run is a chunk of its own: an ensemble of one); summaries in the configs' order."""
    from stabviz import train

    out: list[dict[str, Any]] = [{}] * len(configs)
    done = 0
    for chunk in ensemble_chunks(configs):
        summaries = train.run_ensemble([(configs[k], None) for k in chunk])
        for k, summary in zip(chunk, summaries):
            out[k] = summary
        done += len(chunk)
        report(done, len(configs))
    return out


def stored_summary(run: dict[str, Any]) -> dict[str, Any]:
    """What ``train.run`` returned for a run of the store, or an empty summary with its status (a run that
    failed before it could summarise)."""
    return run.get("summary") or {
        "status": run["status"],
        "final": {},
        "initial": {},
        "prediction": {},
        "lif": {},
        "error": run.get("error"),
    }


# ---------------------------------------------------------------------------------------------
# analysis


#: the runs.json key of the training probe's initial gain; files written before it was named so call it
#: OLD_PROBE_KEY (it was never simulate's measurement: see :func:`run_row`)
PROBE_KEY, OLD_PROBE_KEY = "probe_log10_gain", "measured_log10_gain"


def run_row(cell: Cell, summary: dict[str, Any]) -> dict[str, Any]:
    """One run as the study keeps it: accuracy in %, the predicted T·log₁₀ gain at init, and the training
    probe's (``probe_log10_gain``: T·log₁₀ ρ̂, ρ̂ the per-step gain ``train.probe`` fits to the gradient
    flow ‖∂L/∂y_t‖ of the task's loss through layer 0, on a task batch, before the first step)."""
    final, initial, pred = summary.get("final") or {}, summary.get("initial") or {}, summary.get("prediction") or {}
    steps = (summary.get("lif") or {}).get("steps")
    rho_hat = initial.get("grad_gain")
    acc = final.get("accuracy")
    return finite_or_none(
        {
            "arm": cell.arm,
            "task": cell.task,
            "cell": cell.label,
            "seed": (summary.get("lif") or {}).get("seed"),
            "status": summary.get("status"),
            "accuracy": None if acc is None else 100 * acc,
            PROBE_KEY: steps * math.log10(rho_hat) if rho_hat and steps and rho_hat > 0 else None,
            "predicted_log10_gain": pred.get("log10_gain"),
            "predicted_regime": pred.get("regime"),
            "wall_s": summary.get("wall_s"),
        }
    )


def chance(task: str) -> float:
    """Chance accuracy in % on ``task`` (digits: 10 classes; randman: 5; cues: 2)."""
    return {"digits": 10.0, "cues": 50.0}.get(task, 100.0 / 5)


def cell_stats(cell: Cell, rows: list[dict[str, Any]]) -> dict[str, Any]:
    accs = [r["accuracy"] if r["status"] == "finished" and r["accuracy"] is not None else None for r in rows]
    # a diverged run counts at chance: it learned nothing
    mean, sd = rules.mean_sd([chance(cell.task) if a is None else a for a in accs])
    return finite_or_none(
        {
            "arm": cell.arm,
            "task": cell.task,
            "label": cell.label,
            "params": cell.params,
            "mean": mean,
            "sd": sd,
            "accuracies": accs,
            "chance": chance(cell.task),
        }
    )


def measured_boundary(lif: LIFConfig, axis: str, points: int) -> float | None:
    """The measured edge of the exploding regime along ``axis`` (the other surrogate knob at 1): the
    smallest γ, or the largest β, whose simulated T·log₁₀ ρ̂ exceeds the tolerance; geometric mean of the
    two grid values around it. None when the grid [0.1, 4] does not cross it."""
    from stabviz import simulate

    values = np.geomspace(0.1, 4.0, points)
    exploding = []
    for v in values:
        m = simulate.measure(lif.replace(**{axis: float(v)}), batch=32, steps=max(lif.steps + 50, 100), burn_in=50)
        exploding.append(m.log10_gain > lif.tolerance)
    order = range(len(values)) if axis == "dampening" else range(len(values) - 1, -1, -1)
    prev = None
    for i in order:
        if exploding[i]:
            return None if prev is None else float(math.sqrt(values[i] * values[prev]))
        prev = i
    return None


def analyse(
    cells: list[Cell], summaries: list[list[dict[str, Any]]], points: dict[str, Any], boundaries: dict[str, Any]
) -> dict[str, Any]:
    """Curves, regret tables, the collapse scatter and every claim's verdict."""
    rows = [[run_row(c, s) for s in runs] for c, runs in zip(cells, summaries)]
    stats = [cell_stats(c, r) for c, r in zip(cells, rows)]
    return judge(stats, [r for rs in rows for r in rs], points, boundaries)


def judge(
    stats: list[dict[str, Any]], runs: list[dict[str, Any]], points: dict[str, Any], boundaries: dict[str, Any]
) -> dict[str, Any]:
    """:func:`analyse`'s result from cell statistics and run rows (a fresh study's, or the ones cells.json
    and runs.json keep): each run's "collapsed" flag, the AUCs, the regret tables and the claims by the
    rules of :mod:`.rules`. Runs of older files name the probe's gain OLD_PROBE_KEY: read as PROBE_KEY."""
    runs = [{(PROBE_KEY if k == OLD_PROBE_KEY else k): v for k, v in r.items()} for r in runs]
    best = {
        t: max(
            (s["mean"] for s in stats if s["task"] == t and s["arm"] != "C" and s["mean"] is not None), default=math.nan
        )
        for t in TASK_NAMES
    }
    for r in runs:
        floor = chance(r["task"]) + COLLAPSE_FRACTION * (best[r["task"]] - chance(r["task"]))
        r["collapsed"] = r["status"] != "finished" or r["accuracy"] is None or r["accuracy"] < floor
    scored = [r for r in runs if r["arm"] != "C"]
    aucs = {k: rules.auc([r.get(k) for r in scored], [r["collapsed"] for r in scored]) for k in SCORES}
    return {
        "cells": stats,
        "runs": runs,
        "theory": points,
        "boundaries": boundaries,
        "auc": aucs,
        "regret": _regret_tables(stats),
        "claims": _claims(stats, points, scored),
    }


#: the scores whose AUC for collapse is judged: key -> what it is, as the claims name it
SCORES = {
    "predicted_log10_gain": "the theory's predicted initial T·log₁₀ gain",
    PROBE_KEY: "the training probe's initial T·log₁₀ ρ̂ (gradient flow of the task's loss at init)",
}


def _cells(stats, arm, task, **params) -> list[dict[str, Any]]:
    return [
        s
        for s in stats
        if s["arm"] == arm and s["task"] == task and all(s["params"].get(k) == v for k, v in params.items())
    ]


def _curve(stats, arm, task, shape, axis) -> list[dict[str, Any]]:
    """The γ curve (β = 1) or the β curve (γ = 1, the γ = 1 cell included) of one shape, by x."""
    other = "sharpness" if axis == "dampening" else "dampening"
    cells = [s for s in _cells(stats, arm, task, shape=shape) if s["params"][other] == 1.0]
    return sorted(cells, key=lambda s: s["params"][axis])


def _regret_tables(stats) -> dict[str, Any]:
    """Per task: the theory's recommended setting against the best and the median cell of its grid (arm A
    or A′ with the fast sigmoid, and arm D)."""
    out = {}
    for task, arm in (("digits", "A"), ("randman", "A'")):
        grid = _cells(stats, arm, task, shape="fastsigmoid") + _cells(stats, "D", task)
        theory_cell = next((s for s in grid if s["params"].get("setting") == "recommended"), None)
        means = [s["mean"] for s in grid if s["mean"] is not None]
        if theory_cell is None or not means:
            continue
        top = max(grid, key=lambda s: s["mean"] if s["mean"] is not None else -math.inf)
        out[task] = {
            "theory": theory_cell["mean"],
            "theory_sd": theory_cell["sd"],
            "best": top["mean"],
            "best_cell": top["label"],
            "best_sd": top["sd"],
            "median": statistics.median(means),
            "cells": len(means),
            "settings": {s["label"]: s["mean"] for s in _cells(stats, "D", task)},
        }
    return out


def _claim(cid: str, claim: str, rule: str, result: tuple[str, dict] | None, why_missing: str = "") -> dict:
    verdict, numbers = result if result else ("inconclusive", {"missing": why_missing or "cells missing"})
    return finite_or_none({"id": cid, "claim": claim, "rule": rule, "verdict": verdict, "numbers": numbers})


def seeds_of(cell: dict[str, Any]) -> list[float]:
    """A cell's per-seed accuracies as the rules read them: a run that did not finish at chance."""
    return [cell["chance"] if a is None else a for a in cell["accuracies"]]


def _guard() -> str:
    """The clause every rule's text ends with (rules.py: the point and its interval must agree)."""
    return (
        f"each judged with its {rules.LEVEL:.0%} bootstrap interval over seeds ({rules.RESAMPLES} resamples, "
        "every cell's seeds resampled): inconclusive when the interval contains the threshold"
    )


def _claims(stats, points, scored) -> list[dict[str, Any]]:
    out = []
    near, drop = rules.NEAR, rules.DROP
    for task, arm in (("digits", "A"), ("randman", "A'")):
        g = _curve(stats, arm, task, "fastsigmoid", "dampening")
        low = [i for i, c in enumerate(g) if c["params"]["dampening"] <= 0.75]
        high = [i for i, c in enumerate(g) if c["params"]["dampening"] >= 1.5]
        res = rules.falls_past([seeds_of(c) for c in g], low, high) if high else None
        if res:
            res[1].update(points[task]["fastsigmoid"])
            res[1].pop("notes", None)
        out.append(
            _claim(
                f"{arm}-gamma",
                f"{task}: accuracy falls as γ rises past the conditions' values (fast sigmoid, β = 1)",
                f"confirmed if every cell with γ ≤ 0.75 is within {near:g} points of the best γ cell (low_gap) "
                f"and the cells with γ ≥ 1.5 average ≥ {drop:g} points below it (drop); refuted if either "
                f"fails; {_guard()}",
                res,
            )
        )
        b = _curve(stats, arm, task, "fastsigmoid", "sharpness")
        keep = [i for i, c in enumerate(b) if c["params"]["sharpness"] >= 1.0]
        lowb = [i for i, c in enumerate(b) if c["params"]["sharpness"] <= 0.5]
        res = rules.falls_past([seeds_of(c) for c in b], keep, lowb) if keep and lowb else None
        out.append(
            _claim(
                f"{arm}-beta",
                f"{task}: too low a sharpness β hurts (fast sigmoid, γ = 1)",
                f"confirmed if every cell with β ≥ 1 is within {near:g} points of the best β cell (low_gap) "
                f"and the cells with β ≤ 0.5 average ≥ {drop:g} points below it (drop); refuted if either "
                f"fails; {_guard()}",
                res,
            )
        )
        res = _robust_shape(stats, arm, task)
        out.append(
            _claim(
                f"{arm}-shape",
                f"{task}: the fast sigmoid is the most robust shape over the γ grid",
                f"mean accuracy over the γ curve: confirmed if the fast sigmoid beats the best other shape by "
                f"≥ {near:g} points (gain); refuted if it does not; {_guard()}",
                res,
                "fewer than two shapes in this size",
            )
        )
    q = sorted(_cells(stats, "B", "digits"), key=lambda c: c["params"]["tail"])
    out.append(
        _claim(
            "B-tail",
            "digits, q-PseudoSpike with the mult2 reset: accuracy is flat in the tail q",
            f"confirmed if the q cells' means span ≤ {rules.FLAT:g} points (span); refuted if they span "
            f"more; {_guard()}",
            rules.is_flat([seeds_of(c) for c in q]) if len(q) > 1 else None,
        )
    )
    on = _cells(stats, "C", "digits", sparsity=True)
    hi = [seeds_of(c) for c in on if c["params"]["initial_rate"] >= 0.5]
    lo = [seeds_of(c) for c in on if c["params"]["initial_rate"] < 0.5]
    res = rules.helps(hi, [lo]) if hi and lo else None
    if res:
        res[1].pop("rival_group")
    out.append(
        _claim(
            "C-rate",
            "digits: high initial firing rates (f0 ≥ 0.5), with the sparsity loss, help",
            f"confirmed if the f0 ≥ 0.5 cells average ≥ {near:g} points above the f0 < 0.5 cells, sparsity "
            f"loss on (gain); refuted if they do not; {_guard()}",
            res,
        )
    )
    for task, arm in (("digits", "A"), ("randman", "A'")):
        grid = _cells(stats, arm, task, shape="fastsigmoid") + _cells(stats, "D", task)
        at = next((i for i, s in enumerate(grid) if s["params"].get("setting") == "recommended"), None)
        if at is None:
            continue
        res = rules.near_best([seeds_of(c) for c in grid], at)
        res[1]["best_cell"] = max(grid, key=lambda c: statistics.fmean(seeds_of(c)))["label"]
        out.append(
            _claim(
                f"D-regret-{task}",
                f"{task}: the theory's recommended setting is near the grid's best",
                f"confirmed if its mean is within {near:g} points of the best cell of the grid (arm A/A′ fast "
                f"sigmoid + arm D) (regret); refuted if further; {_guard()} (the best cell's seeds as much "
                "as the recommended one's)",
                res,
            )
        )
    labels = [r["collapsed"] for r in scored]
    for key, what in SCORES.items():
        cid = "AUC-predicted" if key == "predicted_log10_gain" else "AUC-probe"
        out.append(
            _claim(
                cid,
                f"{what} ranks training collapse (arms A, A′, B, D)",
                f"AUC of the score for 'collapsed' (diverged, or below chance + {COLLAPSE_FRACTION:g} × (task's "
                f"best cell − chance)): confirmed if ≥ {rules.AUC_GOOD:g}, refuted if ≤ {rules.AUC_POOR:g}, "
                f"each judged with its {rules.LEVEL:.0%} bootstrap interval ({rules.RESAMPLES} resamples of the "
                "runs, collapsed and kept ones apart); inconclusive when the interval contains the threshold, "
                f"between the two, or with fewer than {rules.AUC_MIN_RUNS} runs on either side",
                rules.ranks([r.get(key) for r in scored], labels),
            )
        )
    return out


def _robust_shape(stats, arm, task) -> tuple[str, dict] | None:
    """The fast sigmoid's mean over its γ curve against the best other shape's (rules.helps, each shape's
    curve a group of cells)."""
    curves = {
        shape: [seeds_of(c) for c in curve]
        for shape in SHAPES
        if (curve := _curve(stats, arm, task, shape, "dampening"))
    }
    if "fastsigmoid" not in curves or len(curves) < 2:
        return None
    rivals = [s for s in curves if s != "fastsigmoid"]
    verdict, numbers = rules.helps(curves["fastsigmoid"], [curves[s] for s in rivals])
    per_shape = {s: statistics.fmean(statistics.fmean(c) for c in cells) for s, cells in curves.items()}
    rival = rivals[numbers.pop("rival_group")]
    return verdict, {**numbers, "rival": rival, "per_shape": per_shape}


# ---------------------------------------------------------------------------------------------
# the whole study and its files


def replicate(
    size_name: str,
    out_dir: str | Path,
    launcher: str | None = None,
    device: str = "cpu",
    command: str = "",
    png: bool = True,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
    budget: int | None = None,
) -> dict[str, Any]:
    """Run the study of ``size_name`` (``budget`` optimiser steps per run; None: the size's own) and write
    its files to ``out_dir``; returns summary.json's content.
    The folder and its result files are checked first (:func:`stabviz.safeio.prepare_dir`: never ``/`` or a
    symbolic link; existing result files only replaced with ``force``), so a refusal costs no run."""
    size, began = sized(size_name, budget), time.monotonic()
    say = progress or (lambda text: None)
    commit = checkout_commit()  # the code that runs, read before the runs (the checkout may change meanwhile)
    out = safeio.prepare_dir(out_dir, output_files(png), force)
    cells, points = design(size, device)
    configs = [c for cell in cells for c in cell.configs]
    say(f"{len(cells)} cells, {len(configs)} runs")
    flat = execute(configs, launcher, lambda done, total: say(f"runs {done}/{total}"))
    summaries, i = [], 0
    for cell in cells:
        summaries.append(flat[i : i + len(cell.configs)])
        i += len(cell.configs)
    boundaries = {}
    for task in TASK_NAMES:
        lif = task_lif(base_config(task, size, device)).replace(dampening=1.0, sharpness=1.0)
        boundaries[task] = {
            "dampening": measured_boundary(lif, "dampening", size.boundary_points),
            "sharpness": measured_boundary(lif, "sharpness", size.boundary_points),
        }
    result = analyse(cells, summaries, points, boundaries)
    summary = {
        "size": size_name,
        "command": command,
        "commit": commit,
        "launcher": launcher or "in-process",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": device,
        "budget": size.train_steps,
        "runs": len(configs),
        "cells": len(cells),
        "wall_s": time.monotonic() - began,
        "claims": result["claims"],
        "auc": result["auc"],
        "regret": result["regret"],
    }
    write_outputs(out, result, summary, png, force)
    return finite_or_none(summary)


def checkout_commit() -> str | None:
    """The checkout's commit (with '-dirty' when files differ from it), or None outside git."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("-dirty" if dirty else "")) or None


#: the JSON files write_outputs writes (the PNGs are named by CURVE_FIGURES and SCATTER_KEYS)
JSON_FILES = ("summary.json", "cells.json", "runs.json")


def output_files(png: bool = True) -> list[str]:
    """The names of every file :func:`write_outputs` writes."""
    return [*JSON_FILES, *([f"{stem}.png" for stem in (*CURVE_FIGURES, *SCATTER_KEYS)] if png else [])]


def write_outputs(
    out: Path, result: dict[str, Any], summary: dict[str, Any], png: bool = True, force: bool = False
) -> None:
    """summary.json, cells.json (every cell with its seeds), runs.json (every run), and the PNG figures,
    each by stabviz.safeio's rules (replacing an existing file only with ``force``)."""
    files = {
        "summary.json": summary,
        "cells.json": {k: result[k] for k in ("cells", "theory", "boundaries", "regret")},
        "runs.json": result["runs"],
    }
    for name, obj in files.items():
        safeio.write_text(out / name, dumps(obj) + "\n", force=force)
    if png:
        # kaleido writes to the paths it is given: let it write into a private new folder, then move each
        # file into place by the same rules as the JSON files
        with tempfile.TemporaryDirectory(dir=out, prefix=".png-") as tmp:
            figs = figures(result)
            plots.write_pngs({str(Path(tmp) / f"{name}.png"): fig for name, fig in figs.items()})
            for name in figs:
                safeio.place(Path(tmp) / f"{name}.png", out / f"{name}.png", force)


#: figure stem -> (its x parameter, log x axis); the γ and β figures exist per task
CURVE_FIGURES = {
    **{
        f"{stem}_{task}": (axis, True)
        for task in TASK_NAMES
        for stem, axis in (("gamma", "dampening"), ("beta", "sharpness"))
    },
    "tail_digits": ("tail", True),
    "rate_digits": ("initial_rate", False),
}
SCATTER_KEYS = {"collapse_probe": PROBE_KEY, "collapse_predicted": "predicted_log10_gain"}
#: the scatters' x axis titles
SCATTER_TITLES = {
    "collapse_probe": "initial T·log₁₀ ρ̂ (training probe)",
    "collapse_predicted": "predicted initial T·log₁₀ gain (theory)",
}


def figure_curves(stats: list[dict[str, Any]]) -> dict[str, dict[str, tuple[list, list, list]]]:
    """The curves of each curve figure (stem -> {line name: (x, mean, sd)}) read from cell statistics;
    a line without cells is left out."""

    def line(cells, axis):
        return [s["params"][axis] for s in cells], [s["mean"] for s in cells], [s["sd"] for s in cells]

    out: dict[str, dict[str, tuple[list, list, list]]] = {}
    for task, arm in (("digits", "A"), ("randman", "A'")):
        for stem, axis in (("gamma", "dampening"), ("beta", "sharpness")):
            out[f"{stem}_{task}"] = {
                shape: line(c, axis) for shape in SHAPES if (c := _curve(stats, arm, task, shape, axis))
            }
    q = sorted(_cells(stats, "B", "digits"), key=lambda c: c["params"]["tail"])
    out["tail_digits"] = {"q-PseudoSpike, mult2": line(q, "tail")} if q else {}
    out["rate_digits"] = {}
    for on in (False, True):
        c = sorted(_cells(stats, "C", "digits", sparsity=on), key=lambda s: s["params"]["initial_rate"])
        if c:
            out["rate_digits"][f"sparsity loss {'on' if on else 'off'}"] = line(c, "initial_rate")
    return out


def figure_marks(result: dict[str, Any], stem: str) -> dict[str, float | None]:
    """The vertical lines of a γ or β figure: the theory's γ_III, γ_IV or β* and the measured edge."""
    kind, _, task = stem.partition("_")
    if kind not in ("gamma", "beta"):
        return {}
    pts, bound = result["theory"][task].get("fastsigmoid", {}), result["boundaries"][task]
    if kind == "gamma":
        return {"γ_III": pts.get("gamma_III"), "γ_IV": pts.get("gamma_IV"), "measured edge": bound["dampening"]}
    return {"β*": pts.get("beta_star"), "measured edge": bound["sharpness"]}


def figures(result: dict[str, Any], rerun: dict[str, Any] | None = None) -> dict[str, Any]:
    """The study's figures by file stem: accuracy vs γ and vs β per task, vs q, vs f0, and the scatters.
    ``rerun``: cells and runs of a rerun (as :func:`analyse` returns them; runs need no "collapsed"),
    drawn over the study's own as open markers (the Evidence page)."""
    curves = figure_curves(result["cells"])
    again = figure_curves(rerun["cells"]) if rerun else {}
    figs = {
        stem: plots.evidence_curves(
            curves[stem], x_name=axis, marks=figure_marks(result, stem), log_x=log_x, overlay=again.get(stem)
        )
        for stem, (axis, log_x) in CURVE_FIGURES.items()
    }
    scored = [r for r in result["runs"] if r["arm"] != "C"]
    extra = [r for r in (rerun or {}).get("runs", []) if r["arm"] != "C"]
    for stem, key in SCATTER_KEYS.items():
        figs[stem] = plots.evidence_scatter(
            [r.get(key) for r in scored],
            [r["accuracy"] or 0.0 for r in scored],
            [r["collapsed"] for r in scored],
            x_title=SCATTER_TITLES[stem],
            auc=result["auc"].get(key),
            overlay=([r.get(key) for r in extra], [r["accuracy"] or 0.0 for r in extra]) if extra else None,
        )
    return figs
