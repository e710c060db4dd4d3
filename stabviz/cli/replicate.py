"""`python -m stabviz replicate`: the replication study (docs/evidence/README.md), end to end.

Runs every arm, writes JSON and PNG files to ``--out`` (default docs/evidence) and prints each claim's
verdict (``--json``: summary.json's content). ``--rejudge DIR`` judges a study's stored cells and runs again
by today's rules, without training. torch is imported only inside the handler.
"""

from __future__ import annotations

import argparse
import sys

from stabviz.cli.options import UsageError, Whole, force_option, output_errors, path, size_flags
from stabviz.config import limits
from stabviz.jsonsafe import dumps

#: the options that choose how to train: meaningless with --rejudge (nothing is trained)
TRAINING_OPTIONS = (("size", None), ("budget", "--budget"), ("launcher", "--launcher"), ("device", "--device"))


def cmd_replicate(args: argparse.Namespace) -> int:
    if args.rejudge is not None:
        return _rejudge(args)
    if args.variants:
        return _variants(args)
    from stabviz.evidence import replicate

    size = args.size or "quick"
    words = (
        ["python -m stabviz replicate", f"--{size}"]
        + (["--device"] if args.device else [])
        + ([f"--launcher {args.launcher}"] if args.launcher else [])
        + ([f"--budget {args.budget}"] if args.budget else [])
        + ([f"--out {args.out}"] if args.out else [])
    )
    quiet = args.json
    out = args.out or "docs/evidence"
    with output_errors("--out", out, os_errors=False):  # the folder and its result files are checked before any run
        summary = replicate(
            size,
            out,
            launcher=args.launcher,
            device="auto" if args.device else "cpu",
            command=" ".join(words),
            png=not args.no_png,
            force=args.force,
            budget=args.budget,
            progress=None if quiet else lambda text: print(text, file=sys.stderr, flush=True),
        )
    if args.json:
        print(dumps(summary))
    else:
        print(f"{summary['runs']} runs in {summary['wall_s']:.0f} s; files in {args.out or 'docs/evidence'}")
        _print_claims(summary)
    return 0


def _print_claims(summary) -> None:
    for c in summary["claims"]:
        print(f"{c['verdict']:<13} {c['id']:<18} {c['claim']}")


def _variants(args: argparse.Namespace) -> int:
    """`replicate --variants`: arms E, F and G (docs/evidence/README.md#the-variant-arms) into --out (default
    docs/evidence/variants)."""
    from stabviz.evidence.variants import VARIANT_SIZES, replicate_variants

    size = args.size or "quick"
    if size not in VARIANT_SIZES:
        raise UsageError(f"--variants runs at --smoke, --quick or --full, not --{size}")
    if args.budget:
        raise UsageError("--variants sets each arm's own budget; --budget does not apply to it")
    out = args.out or ("docs/evidence/variants" if size != "full" else "docs/evidence/variants-full")
    words = (
        ["python -m stabviz replicate --variants", f"--{size}"]
        + (["--device"] if args.device else [])
        + ([f"--launcher {args.launcher}"] if args.launcher else [])
        + ([f"--out {args.out}"] if args.out else [])
    )
    with output_errors("--out", out, os_errors=False):
        summary = replicate_variants(
            size,
            out,
            launcher=args.launcher,
            device="auto" if args.device else "cpu",
            command=" ".join(words),
            force=args.force,
            progress=None if args.json else lambda t: print(t, file=sys.stderr, flush=True),
        )
    if args.json:
        print(dumps(summary))
    else:
        print(f"{summary['runs']} runs in {summary['wall_s']:.0f} s; files in {out}")
        _print_claims(summary)
    return 0


def _rejudge(args: argparse.Namespace) -> int:
    from stabviz.evidence.results import rejudge

    given = [flag or f"--{args.size}" for name, flag in TRAINING_OPTIONS if getattr(args, name)]
    if given:
        raise UsageError(
            f"--rejudge trains nothing: {', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to it"
        )
    words = ["python -m stabviz replicate", f"--rejudge {args.rejudge}"] + ([f"--out {args.out}"] if args.out else [])
    out = args.out or args.rejudge
    with output_errors("--out" if args.out else "--rejudge", out, os_errors=False):
        summary = rejudge(args.rejudge, args.out, command=" ".join(words), png=not args.no_png, force=args.force)
    if args.json:
        print(dumps(summary))
    else:
        print(f"{summary['runs']} stored runs judged again; files in {out}")
        _print_claims(summary)
    return 0


def register(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add `replicate` to the main CLI; ``parents`` carry --json."""
    p = subparsers.add_parser(
        "replicate",
        parents=parents,
        help="the replication study: the paper's claims rerun, with verdicts",
        description="Run the replication study and write docs/evidence (JSON, PNG). "
        "--quick (the default) fits 30 minutes on 2 CPU cores; --full adds seeds, "
        "two-layer networks and learning rates for a GPU or a Ray cluster; "
        "--smoke is the test suite's end-to-end check.",
    )
    size_flags(p)
    p.add_argument("--device", action="store_true", help="train on CUDA when available (device auto)")
    p.add_argument(
        "--launcher",
        choices=("local", "ray"),
        help="queue the runs through this launcher (default: one after the other in this process)",
    )
    p.add_argument(
        "--budget",
        type=Whole(1, limits()["train_steps"]),
        metavar="N",
        help="optimiser steps per run (default: the size's own: smoke 3, quick 200, full 500)",
    )
    p.add_argument(
        "--variants",
        action="store_true",
        help="run the variant arms instead (E: ALIF vs LIF on cues; F: fluctuation-driven vs conditions "
        "I + II vs Glorot init; G: DECOLLE with and without rate control) into docs/evidence/variants",
    )
    p.add_argument(
        "--rejudge",
        type=path(empty=False),
        metavar="DIR",
        help="train nothing: judge the study stored in DIR (its cells.json and runs.json) again by "
        "today's rules and rewrite its files (in --out if given; replacing them needs --force)",
    )
    p.add_argument("--out", type=path(empty=False), help="output folder (default docs/evidence)")
    p.add_argument("--no-png", action="store_true", help="write the JSON files only")
    force_option(p, "the result files in --out")
    p.set_defaults(func=cmd_replicate)


__all__ = ["register", "cmd_replicate"]
