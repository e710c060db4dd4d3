"""The variant arms of the replication study (issue 23): E, the adaptive threshold on a long-horizon task;
F, the fluctuation-driven initialisation against conditions I + II and Glorot; G, DECOLLE-style local losses
with and without the paper's firing-rate control. Design and rules: docs/evidence/README.md#the-variant-arms.

They run apart from arms A to D (``replicate --variants``, into docs/evidence/variants), in the same file
layout (summary.json, cells.json, runs.json; no figures: the Evidence page shows their cells as tables), and
are judged by the rules of :mod:`.rules`. Importing this module never loads torch.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stabviz import safeio
from stabviz.config import TrainConfig, preset
from stabviz.evidence import rules
from stabviz.evidence.study import (
    COLLAPSE_FRACTION,
    Cell,
    _claim,
    _guard,
    base_config,
    cell_stats,
    chance,
    checkout_commit,
    execute,
    output_files,
    run_row,
    seeds_of,
    sized,
    write_outputs,
)
from stabviz.jsonsafe import finite_or_none

#: the long-horizon task of arm E (tasks.cues: the answer lies more than 100 steps before the recall)
CUES = dict(task="cues", time_steps=200, loss="last")
#: arm F's initialisations: label -> the LIFConfig changes
INITS = {
    "Glorot": {},
    "conditions I+II": {"init_rec": "conditions"},
    "fluctuation-driven": {"init_in": "fluctuation", "init_rec": "fluctuation"},
    "fluctuation-driven μ_U=θ": {"init_in": "fluctuation-theta", "init_rec": "fluctuation"},
}
#: arm G's rate control: label -> f0 (None: off); λ = RATE_WEIGHT for the first half of the budget
RATE_TARGETS = {"no rate control": None, "f0=0.158": 0.158, "f0=0.5": 0.5}
RATE_WEIGHT = 1.0


@dataclass(frozen=True)
class VariantSize:
    """How big the variant arms are: seeds per cell, the neurons and optimiser steps of each arm, and the study
    size whose randman task arm F trains on."""

    seeds: int
    cues_samples: int
    cues_neurons: int
    cues_budget: int
    init_budget: int
    decolle_neurons: int
    decolle_budget: int
    randman: str


VARIANT_SIZES = {
    "smoke": VariantSize(1, 40, 8, 2, 3, 8, 3, "smoke"),
    "quick": VariantSize(3, 400, 32, 150, 200, 64, 200, "quick"),
    "full": VariantSize(3, 400, 32, 750, 1000, 64, 1000, "quick"),  # quick at 5× the budgets
}


def variant_size(size_name: str) -> VariantSize:
    if size_name not in VARIANT_SIZES:
        raise ValueError(f"size = {size_name!r} is not one of the variant arms' sizes: {', '.join(VARIANT_SIZES)}")
    return VARIANT_SIZES[size_name]


def variant_cells(size: VariantSize, device: str = "cpu") -> list[Cell]:
    """Every cell of arms E, F and G, each with one config per seed."""
    return [*_arm_e(size, device), *_arm_f(size, device), *_arm_g(size, device)]


def _seeds(cfg: TrainConfig, size: VariantSize) -> list[TrainConfig]:
    return [cfg.replace(lif=cfg.lif.replace(seed=seed)) for seed in range(size.seeds)]


def _arm_e(size: VariantSize, device: str) -> list[Cell]:
    """cues at τ = 20, 1 layer, the last step's loss: the LIF against the ALIF with the LSNN's τ_a = 200, β_a = 1.8."""
    out = []
    for neuron in ("lif", "alif"):
        cfg = TrainConfig(
            lif=preset("shd-tau20", n_rec=size.cues_neurons, n_in=40, neuron=neuron),
            **CUES,
            samples=size.cues_samples,
            train_steps=size.cues_budget,
            batch=32,
            lr=1e-2,
            device=device,
            log_every=size.cues_budget,
            time_limit=max(600.0, 6.0 * size.cues_budget),
        )
        out.append(Cell("E", "cues", neuron.upper(), {"neuron": neuron}, _seeds(cfg, size)))
    return out


def _arm_f(size: VariantSize, device: str) -> list[Cell]:
    """randman at τ = 20 (arm A′'s setting), fast sigmoid γ = β = 1, under each initialisation of INITS."""
    base = base_config("randman", sized(size.randman), device)
    base = base.replace(train_steps=size.init_budget, log_every=size.init_budget)
    return [
        Cell(
            "F",
            "randman",
            label,
            {"init": label, **changes},
            _seeds(base.replace(lif=base.lif.replace(**changes)), size),
        )
        for label, changes in INITS.items()
    ]


def _arm_g(size: VariantSize, device: str) -> list[Cell]:
    """digits, 2 layers with local losses (DECOLLE), 32 per batch, lr 5e-3: rate control off or toward f0."""
    base = TrainConfig(
        lif=preset("paper-slmnist", n_rec=size.decolle_neurons),
        task="digits",
        layers=2,
        local_losses=True,
        train_steps=size.decolle_budget,
        batch=32,
        lr=5e-3,
        device=device,
        log_every=size.decolle_budget,
        time_limit=max(600.0, 3.0 * size.decolle_budget),
    )
    phase = max(1, size.decolle_budget // 2)
    return [
        Cell(
            "G",
            "digits",
            label,
            {"rate_control": f0},
            _seeds(base.replace(rate_control=None if f0 is None else (f0, RATE_WEIGHT, phase)), size),
        )
        for label, f0 in RATE_TARGETS.items()
    ]


# ---------------------------------------------------------------------------------------------
# the rules' reading of the cells


def judge_variants(stats: list[dict[str, Any]], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The arms' results as load_results keeps them (cells, runs with "collapsed", claims; no theory,
    boundaries, regret or AUC: these arms have none)."""
    best = max((s["mean"] for s in stats if s["arm"] == "F" and s["mean"] is not None), default=None)
    for r in runs:
        floor = None if best is None else chance(r["task"]) + COLLAPSE_FRACTION * (best - chance(r["task"]))
        r["collapsed"] = (
            r["status"] != "finished"
            or r["accuracy"] is None
            or (r["arm"] == "F" and floor is not None and r["accuracy"] < floor)
        )
    return {
        "cells": stats,
        "runs": runs,
        "theory": {},
        "boundaries": {},
        "regret": {},
        "auc": {},
        "claims": variant_claims(stats, runs),
    }


def variant_claims(stats: list[dict[str, Any]], runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Arms E, F and G's claims, each judged by a rule of :mod:`.rules` (docs/evidence/README.md)."""
    cell = {(s["arm"], s["label"]): seeds_of(s) for s in stats}
    near = rules.NEAR

    def helps(arm, treated, rivals):
        if (arm, treated) not in cell or any((arm, r) not in cell for r in rivals):
            return None
        verdict, numbers = rules.helps([cell[arm, treated]], [[cell[arm, r]] for r in rivals])
        rival = rivals[numbers.pop("rival_group")]
        return verdict, {**numbers, "rival": rival}

    gain = f"confirmed if its mean beats the {{}} by ≥ {near:g} points (gain); refuted if it does not; {_guard()}"
    flags = {label: [r["collapsed"] for r in runs if r["arm"] == "F" and r["cell"] == label] for label in INITS}
    collapse = (
        rules.fewer_collapses(flags["fluctuation-driven"], [flags["conditions I+II"], flags["Glorot"]])
        if all(flags[k] for k in ("fluctuation-driven", "conditions I+II", "Glorot"))
        else None
    )
    return [
        _claim(
            "E-alif",
            "cues (long horizon): the adaptive threshold (ALIF) trains better than the LIF",
            gain.format("LIF's"),
            helps("E", "ALIF", ["LIF"]),
        ),
        _claim(
            "F-accuracy",
            "randman: the fluctuation-driven initialisation trains better than conditions I + II and Glorot",
            gain.format("better of conditions I + II and Glorot"),
            helps("F", "fluctuation-driven", ["conditions I+II", "Glorot"]),
        ),
        _claim(
            "F-collapse",
            "randman: the fluctuation-driven initialisation collapses less often than conditions I + II and Glorot",
            f"collapsed: diverged or below chance + {COLLAPSE_FRACTION:g} × (arm F's best cell − chance); "
            f"confirmed if its share of collapsed runs is ≥ {rules.COLLAPSE_GAP:g} below the lower of the other "
            f"two (gap) and the gap's {rules.LEVEL:.0%} bootstrap interval (each cell's runs resampled) lies "
            f"there too; refuted if both lie under {rules.COLLAPSE_GAP:g}; inconclusive otherwise or when no "
            "run of the three collapsed",
            collapse,
        ),
        _claim(
            "G-rate-0.5",
            "digits, DECOLLE (2 layers): rate control toward f0 = 0.5 helps",
            gain.format("run without rate control"),
            helps("G", "f0=0.5", ["no rate control"]),
        ),
        _claim(
            "G-rate-0.158",
            "digits, DECOLLE (2 layers): rate control toward f0 = 0.158 helps",
            gain.format("run without rate control"),
            helps("G", "f0=0.158", ["no rate control"]),
        ),
        _claim(
            "G-high",
            "digits, DECOLLE (2 layers): the high target f0 = 0.5 beats f0 = 0.158",
            gain.format("f0 = 0.158 cell"),
            helps("G", "f0=0.5", ["f0=0.158"]),
        ),
    ]


# ---------------------------------------------------------------------------------------------
# running them


def replicate_variants(
    size_name: str,
    out_dir: str | Path,
    launcher: str | None = None,
    device: str = "cpu",
    command: str = "",
    progress: Callable[[str], None] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Run arms E, F and G at ``size_name`` (smoke or quick) and write their JSON files to ``out_dir``
    (checked first, like :func:`~stabviz.evidence.study.replicate`); returns summary.json's content."""
    size, began = variant_size(size_name), time.monotonic()
    say = progress or (lambda text: None)
    commit = checkout_commit()
    out = safeio.prepare_dir(out_dir, output_files(png=False), force)
    cells = variant_cells(size, device)
    configs = [c for cell in cells for c in cell.configs]
    say(f"{len(cells)} cells, {len(configs)} runs")
    flat = execute(configs, launcher, lambda done, total: say(f"runs {done}/{total}"))
    rows, stats, i = [], [], 0
    for cell in cells:
        cell_rows = [run_row(cell, s) for s in flat[i : i + len(cell.configs)]]
        i += len(cell.configs)
        rows += cell_rows
        stats.append(cell_stats(cell, cell_rows))
    result = judge_variants(stats, rows)
    summary = {
        "study": "variants",
        "size": size_name,
        "command": command,
        "commit": commit,
        "launcher": launcher or "in-process",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": device,
        "runs": len(configs),
        "cells": len(cells),
        "wall_s": time.monotonic() - began,
        "budgets": {"E": size.cues_budget, "F": size.init_budget, "G": size.decolle_budget},
        "claims": result["claims"],
        "auc": {},
        "regret": {},
    }
    write_outputs(out, result, summary, png=False, force=force)
    return finite_or_none(summary)


def cell_table(results: dict[str, Any], arm: str) -> list[dict[str, Any]]:
    """One row per cell of ``arm``: its label, mean and sd over seeds, the seeds' accuracies and (arm F) how
    many of its runs collapsed."""
    collapsed: dict[str, int] = {}
    for r in results["runs"]:
        if r.get("arm") == arm and r.get("collapsed"):
            collapsed[r["cell"]] = collapsed.get(r["cell"], 0) + 1
    return [
        {
            "setting": c["label"],
            "accuracy (%)": c["mean"],
            "seed sd": c["sd"],
            "seeds (%)": ", ".join("—" if a is None else f"{a:.1f}" for a in c["accuracies"]),
            "collapsed": collapsed.get(c["label"], 0),
            "chance (%)": c["chance"],
        }
        for c in results["cells"]
        if c["arm"] == arm
    ]
