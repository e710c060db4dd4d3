"""Fit the outcome model on the training-outcome dataset and write it with its validation.

    python scripts/fit_outcomes.py [--data docs/evidence/outcomes] [--out stabviz/data/outcome_model.json]

Reads runs.json and summary.json written by ``python -m stabviz outcomes``; writes the model file the advice
reads (stabviz/data/outcome_model.json) and validation.json beside the data (leave-one-task-out AUC,
calibration per decile, regret per task and base). Prints the leave-one-task-out table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stabviz import safeio  # noqa: E402
from stabviz.jsonsafe import dumps  # noqa: E402
from stabviz.outcomes.fit import build  # noqa: E402


def table(model: dict) -> str:
    lines = [
        "source     held-out task   AUC    committed  mean regret  max regret  below median",
    ]
    for source, val in model["validation"].items():
        for task, t in val["tasks"].items():
            auc = "  –  " if t["auc"] is None else f"{t['auc']:.3f}"
            lines.append(
                f"{source:<10} {task:<14} {auc}  {t['committed']:>8.0%}  {t['mean_regret']:>10.1f}  "
                f"{t['max_regret']:>10.1f}  {t['below_median']:>4}/{len(t['bases'])}"
            )
        pooled = val["pooled"]
        lines.append(
            f"{source:<10} {'pooled':<14} {pooled['auc']:.3f}  {pooled['committed']:>8.0%}  "
            f"calibration: largest decile gap {pooled['max_calibration_gap']:.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(ROOT / "docs/evidence/outcomes"))
    p.add_argument("--out", default=str(ROOT / "stabviz/data/outcome_model.json"))
    p.add_argument("--force", action="store_true", help="replace existing output files")
    args = p.parse_args(argv)
    data = Path(args.data)
    rows = json.loads((data / "runs.json").read_text())
    summary = json.loads((data / "summary.json").read_text())
    provenance = {k: summary.get(k) for k in ("command", "commit", "date", "size", "runs", "settings", "wall_s")}
    provenance["fitted_by"] = "python scripts/fit_outcomes.py"
    model = build(rows, provenance)
    safeio.write_text(
        Path(args.out),
        dumps({k: v for k, v in model.items() if k != "validation"} | {"validation": _short(model["validation"])})
        + "\n",
        force=args.force,
    )
    safeio.write_text(data / "validation.json", dumps(model["validation"]) + "\n", force=args.force)
    print(table(model))
    return 0


def _short(validation: dict) -> dict:
    """The validation without the per-base lists (the model file stays small; validation.json has them)."""
    return {
        s: {
            "pooled": v["pooled"],
            "tasks": {t: {k: x for k, x in d.items() if k != "bases"} for t, d in v["tasks"].items()},
        }
        for s, v in validation.items()
    }


if __name__ == "__main__":
    raise SystemExit(main())
