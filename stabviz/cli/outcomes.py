"""`python -m stabviz outcomes`: the training-outcome dataset the advice is fitted on
(docs/evidence/outcomes/README.md), generated end to end.

Trains every base × choice × seed of a size, spread over ``--jobs`` worker processes, and writes runs.json and
summary.json to ``--out`` (default docs/evidence/outcomes). ``scripts/fit_outcomes.py`` fits the outcome model
on them. torch is imported only inside the handler.
"""

from __future__ import annotations

import argparse
import sys

from stabviz.cli.options import force_option, output_errors, path, size_flags
from stabviz.jsonsafe import dumps

DEFAULT_OUT = "docs/evidence/outcomes"


def cmd_outcomes(args: argparse.Namespace) -> int:
    from stabviz.evidence.outcomes import generate

    size = args.size or "quick"
    words = ["python -m stabviz outcomes", f"--{size}", f"--jobs {args.jobs}"] + (
        [f"--out {args.out}"] if args.out else []
    )
    out = args.out or DEFAULT_OUT
    with output_errors("--out", out, os_errors=False):  # checked before any run
        summary = generate(
            size,
            out,
            jobs=args.jobs,
            command=" ".join(words),
            force=args.force,
            progress=None if args.json else lambda text: print(text, file=sys.stderr, flush=True),
        )
    if args.json:
        print(dumps(summary))
    else:
        print(
            f"{summary['runs']} runs ({summary['settings']} settings) in {summary['wall_s'] / 60:.1f} min; "
            f"{summary['collapsed']} collapsed, {summary['diverged']} diverged; files in {out}"
        )
    return 0


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--jobs = {text!r} must be a whole number in [1, 64]") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"--jobs = {value} is outside the allowed range [1, 64]")
    return value


def register(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add `outcomes` to the main CLI; ``parents`` carry --json."""
    p = subparsers.add_parser(
        "outcomes",
        parents=parents,
        help="the training-outcome dataset the recommendation is fitted on",
        description="Train every base network × surrogate/initialisation choice × seed of a size "
        "and write runs.json and summary.json. --quick (the default) is the shipped "
        "dataset; --full doubles the bases and adds long-budget runs on every task; "
        "--smoke is the test suite's end-to-end check.",
    )
    size_flags(p)
    p.add_argument("--jobs", type=_jobs, default=2, help="worker processes, one torch thread each (default 2)")
    p.add_argument("--out", type=path(empty=False), help=f"output folder (default {DEFAULT_OUT})")
    force_option(p, "the result files in --out")
    p.set_defaults(func=cmd_outcomes)


__all__ = ["register", "cmd_outcomes"]
