"""The study's results as files (summary.json, cells.json, runs.json) and the reruns drawn over them.

The committed results live in docs/evidence. In a checkout stabviz/data/evidence is a link to that folder,
and the wheel copies its JSON files as package data, so an installed dashboard finds them too;
``STABVIZ_EVIDENCE`` names another folder (``replicate --out DIR``'s, a test's). Importing this module never
loads torch: the dashboard's server uses it.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stabviz import safeio
from stabviz.config import train_record
from stabviz.evidence import rules
from stabviz.evidence.study import (
    OLD_PROBE_KEY,
    PROBE_KEY,
    SIZES,
    Cell,
    arm_cells,
    cell_stats,
    checkout_commit,
    judge,
    output_files,
    run_row,
    sized,
    stored_summary,
    write_outputs,
)
from stabviz.jsonsafe import finite_or_none
from stabviz.runs import ACTIVE

RESULTS_ENV = "STABVIZ_EVIDENCE"
PACKAGED = Path(__file__).resolve().parents[1] / "data" / "evidence"
FILES = ("summary.json", "cells.json", "runs.json")
#: the command that writes the committed results (docs/evidence/README.md)
MAKE_COMMAND = "python -m stabviz replicate --quick --json"
#: a rerun of results this size (or larger) uses the quick size's configs: small enough for one machine
RERUN_SIZES = ("smoke", "quick")


def stamp(folder: str) -> tuple:
    """What changes when the results are rewritten (each file's modification time and size): the page's
    cache key. Here, not in the dashboard, which never probes paths itself; the folder is the server's
    own results folder, never a visitor's input."""
    out = []
    for name in FILES:
        try:
            st_ = os.stat(os.path.join(folder, name))
            out.append((st_.st_mtime_ns, st_.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


#: stored runs that count in an overlay: the others (failed, cancelled, interrupted) measured nothing
ENDED = ("finished", "diverged")


def results_folder(folder: str | os.PathLike | None = None) -> Path:
    """``folder``, else STABVIZ_EVIDENCE, else the packaged copy of docs/evidence."""
    if folder is not None:
        return Path(folder)
    named = os.environ.get(RESULTS_ENV, "").strip()
    return Path(named) if named else PACKAGED


def load_results(folder: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """The results in ``folder`` (default :func:`results_folder`) as :func:`~stabviz.evidence.study.analyse`
    returns them (cells, runs, theory, boundaries, regret, claims, auc) plus "summary" (summary.json) and
    "folder"; None when the folder has no summary.json. A missing or damaged file: one-line ValueError."""
    where = results_folder(folder)
    if not (where / "summary.json").is_file():
        return None
    parts = {}
    for name in FILES:
        try:
            parts[name] = json.loads((where / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{name} is missing beside summary.json in {where}; rerun the study") from None
        except (OSError, ValueError) as err:
            raise ValueError(
                f"{name} in {where} is not readable JSON ({type(err).__name__}); rerun the study"
            ) from None
    summary, cells, runs = (parts[n] for n in FILES)
    if not (
        isinstance(summary, dict)
        and isinstance(summary.get("claims"), list)
        and isinstance(runs, list)
        and all(isinstance(r, dict) for r in runs)
        and isinstance(cells, dict)
        and {"cells", "theory", "boundaries", "regret"} <= set(cells)
    ):
        raise ValueError(f"the files in {where} do not have the layout the study writes; rerun the study")
    return {
        **{k: cells[k] for k in ("cells", "theory", "boundaries", "regret")},
        "runs": [_renamed(r) for r in runs],
        "claims": summary["claims"],
        "auc": _renamed(summary.get("auc") or {}),
        "summary": summary,
        "folder": str(where),
    }


def _renamed(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with the training probe's gain under PROBE_KEY (files written before it had its name call it
    OLD_PROBE_KEY)."""
    return {(PROBE_KEY if k == OLD_PROBE_KEY else k): v for k, v in row.items()}


def rejudge(
    folder: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    command: str = "",
    png: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """The verdicts of the study in ``folder`` by today's rules, from its stored cells and runs (no training):
    writes summary.json, cells.json, runs.json (and the PNGs) to ``out_dir`` (default ``folder`` itself;
    replacing files there needs ``force``, checked before any work) and returns the new summary. The run's
    own record (command, commit, date, wall time) stays; "judged" says when, by which code and rules."""
    results = load_results(folder)
    if results is None:
        raise ValueError(f"folder = {str(folder)!r} holds no summary.json of a replication study")
    variants = results["summary"].get("study") == "variants"
    png = png and not variants  # the variant arms have no figures
    out = safeio.prepare_dir(folder if out_dir is None else out_dir, output_files(png), force)
    if variants:
        from stabviz.evidence.variants import judge_variants

        result = judge_variants(results["cells"], results["runs"])
    else:
        result = judge(results["cells"], results["runs"], results["theory"], results["boundaries"])
    old = results["summary"]
    summary = {
        **{k: v for k, v in old.items() if k not in ("claims", "auc", "regret", "judged")},
        "budget": old.get("budget") or _own_budget(old),
        "judged": {
            "command": command,
            "commit": checkout_commit(),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "rules": f"{rules.LEVEL:.0%} percentile bootstrap interval, {rules.RESAMPLES} resamples, seed {rules.SEED}",
        },
        "claims": result["claims"],
        "auc": result["auc"],
        "regret": result["regret"],
    }
    write_outputs(out, result, summary, png, force)
    return finite_or_none(summary)


def _own_budget(summary: Mapping[str, Any]) -> int | None:
    """The optimiser steps of a study written before summaries recorded them: its size's own."""
    size = summary.get("size")
    return SIZES[size].train_steps if size in SIZES else None


def rerun_size(summary: Mapping[str, Any]) -> str:
    """The size whose configs a rerun uses: the results' own, at most quick."""
    size = summary.get("size")
    return size if size in RERUN_SIZES else "quick"


def rerun_budget(summary: Mapping[str, Any]) -> int | None:
    """The optimiser steps of a rerun: the results' own budget when their size is a rerun size (a
    ``--budget`` study reruns at its budget), else None (the rerun size's own)."""
    from stabviz.config import limits

    budget = summary.get("budget")
    if (
        summary.get("size") in RERUN_SIZES
        and isinstance(budget, int)
        and not isinstance(budget, bool)
        and 1 <= budget <= limits()["train_steps"]
    ):
        return budget
    return None


def rerun_cells(results: Mapping[str, Any], arm: str | None = None, seeds: int | None = None) -> list[Cell]:
    """The cells of ``arm`` (every arm when None) as a rerun of ``results`` queues them: the configs of
    :func:`rerun_size`, the first ``seeds`` seeds of each cell (all when None)."""
    cells = [
        c
        for c in arm_cells(sized(rerun_size(results["summary"]), rerun_budget(results["summary"])), results["theory"])
        if arm is None or c.arm == arm
    ]
    if seeds is not None:
        for c in cells:
            c.configs = [cfg for cfg in c.configs if cfg.lif.seed < seeds]
    return cells


def config_key(config: Mapping[str, Any]) -> str:
    """A run's identity for the overlay: its whole TrainConfig as canonical JSON, renamed fields under
    their current names (a run stored by an older stabviz is the same run)."""
    return json.dumps(train_record(config), sort_keys=True)


def rerun_overlay(cells: Sequence[Cell], stored: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, int]]:
    """The newest stored run of each config of ``cells`` (``stored``: the store's runs, newest first) as
    (overlay for :func:`~stabviz.evidence.study.figures`: {"cells", "runs"} of the runs that ended, the
    number still queued or running per arm). Any run with the same config counts: a rerun from the
    Evidence page, one from ``replicate --launcher local``, or one queued by hand."""
    newest: dict[str, Mapping[str, Any]] = {}
    for run in stored:
        if isinstance(run.get("config"), dict):
            newest.setdefault(config_key(run["config"]), run)
    out_cells, out_runs, active = [], [], {}
    for cell in cells:
        runs = [r for cfg in cell.configs if (r := newest.get(config_key(cfg.to_dict()))) is not None]
        if still := sum(r["status"] in ACTIVE for r in runs):
            active[cell.arm] = active.get(cell.arm, 0) + still
        rows = [run_row(cell, {**stored_summary(r), "status": r["status"]}) for r in runs if r["status"] in ENDED]
        if rows:
            out_cells.append(cell_stats(cell, rows))
            out_runs += rows
    return {"cells": out_cells, "runs": out_runs}, active
