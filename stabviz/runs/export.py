"""Runs as files: one run's metrics, or a table of runs, as CSV or JSON (NaN and infinities written so
that every reader parses them back; a visitor's owner key and tracebacks never leave)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from stabviz.jsonsafe import finite_or_none
from stabviz.runs.database import _translated
from stabviz.runs.status import status_text, steps_done


class Export:
    """CSV and JSON exports (a mixin of RunStore)."""

    @_translated
    def export(self, run_id: str, fmt: str = "csv") -> str:
        """One run's metrics. csv: one row per step, one column per metric (empty = not logged at
        that step). json: {"run": {...}, "metrics": {name: {"steps": [...], "values": [...]}}},
        NaN/Infinity written as null."""
        _check_format(fmt)
        run = self.get(run_id, reap=False)
        series = self.metrics(run["id"])
        if fmt == "json":
            run.pop("traceback", None)
            run.pop("owner", None)  # a visitor's key: never handed to other visitors
            run.update(status_text=status_text(run), steps_done=steps_done(run))
            doc = {"run": run, "metrics": {k: {"steps": s, "values": v} for k, (s, v) in series.items()}}
            return json.dumps(finite_or_none(doc), indent=1)
        names = sorted(series)
        table: dict[int, dict[str, float]] = {}
        for name, (steps, values) in series.items():
            for s, v in zip(steps, values):
                table.setdefault(s, {})[name] = v
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["step", *names])
        for step in sorted(table):
            w.writerow([step, *(_csv_number(table[step].get(n)) for n in names)])
        return buf.getvalue()

    @_translated
    def export_table(self, fmt: str = "csv", runs: Sequence[Mapping[str, Any]] | None = None) -> str:
        """All runs (or ``runs``) as a table: identity, status, timing, flattened config
        (``lif.*`` and train fields), and the summary's initial/final metrics."""
        _check_format(fmt)
        runs = self.list(limit=None) if runs is None else runs
        if fmt == "json":
            docs = [
                {
                    **{k: v for k, v in r.items() if k not in ("traceback", "owner")},
                    "status_text": status_text(r),
                    "steps_done": steps_done(r),
                }
                for r in runs
            ]
            return json.dumps(finite_or_none(docs), indent=1)
        flat = [_flat_run(r) for r in runs]
        columns: list[str] = []
        for f in flat:
            columns += [k for k in f if k not in columns]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", restval="")
        w.writeheader()
        for f in flat:
            w.writerow({k: _csv_number(v) if isinstance(v, float) else v for k, v in f.items()})
        return buf.getvalue()


def _check_format(fmt: str) -> None:
    if fmt not in ("csv", "json"):
        raise ValueError(f"format = {fmt!r} is not one of: csv, json")


def _csv_number(v: float | None) -> str:
    if v is None:
        return ""
    return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))


def _flat_run(run: Mapping[str, Any]) -> dict[str, Any]:
    out = {
        k: run.get(k)
        for k in (
            "id",
            "status",
            "launcher",
            "created",
            "started",
            "finished",
            "device",
            "host",
            "error",
            "sweep_id",
            "sweep_label",
        )
    }
    out["status_text"], out["steps_done"] = status_text(run), steps_done(run)
    out["tags"] = ", ".join(run.get("tags") or [])
    config = dict(run.get("config") or {})
    for k, v in (config.pop("lif", None) or {}).items():
        out[f"lif.{k}"] = v
    out.update(config)
    summary = run.get("summary") or {}
    for part, values in (
        ("initial", summary.get("initial")),
        ("final", summary.get("final")),
        ("prediction", run.get("prediction")),
    ):
        if not isinstance(values, Mapping):
            continue
        for k, v in values.items():  # scalars only: nested data stays in JSON
            if isinstance(v, (bool, str)):
                out[f"{part}.{k}"] = v
            elif isinstance(v, (int, float)):
                out[f"{part}.{k}"] = float(v)
    if "wall_s" in summary:
        out["wall_s"] = summary["wall_s"]
    return out
