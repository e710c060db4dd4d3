"""`python -m stabviz bench lif ...`: time one forward+backward pass of a recurrent LIF layer.

The timing itself is :mod:`stabviz.timing` (torch imported only when a benchmark runs).
"""
from __future__ import annotations

import argparse
import json

from stabviz.cli.options import (BENCH_BATCH, BENCH_REPS, BENCH_THREADS, Whole, check_elements,
                                 lif_config_from_args)
from stabviz.timing import DEFAULT_BATCH, DEFAULT_REPS, bench_lif


def cmd_bench_lif(args: argparse.Namespace) -> int:
    cfg = lif_config_from_args(args)
    if args.n is not None:
        cfg = cfg.replace(n_rec=args.n)
    check_elements("bench lif", batch=args.batch, steps=cfg.steps if args.steps is None else args.steps,
                   n=cfg.n_rec)
    result = bench_lif(cfg, batch=args.batch, steps=args.steps, threads=args.threads, reps=args.reps,
                       bf16_matmul=args.bf16)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"lif layer n={result['n']} batch={result['batch']} T={result['steps']} "
              f"threads={result['threads']} reset={result['reset']} sg={result['shape']}"
              f"{' bf16' if args.bf16 else ''}: {result['ms']:.2f} ms forward+backward "
              f"(median of {result['reps']}); GEMM-only floor {result['floor_ms']:.2f} ms "
              f"(z@W orientation: {result['floor_row_ms']:.2f} ms); efficiency {100 * result['efficiency']:.0f}% "
              f"({100 * result['efficiency_row']:.0f}% against the z@W floor)")
    return 0


def register(subparsers, parents) -> None:
    """Add `bench lif` to the main CLI (``parents`` carry the shared LIF options and --json)."""
    bench = subparsers.add_parser("bench", help="time the LIF layer (forward+backward)")
    targets = bench.add_subparsers(dest="bench_target", metavar="TARGET")
    targets.required = True
    p = targets.add_parser("lif", parents=parents,
                           help="median ms of one forward+backward of a recurrent LIF layer vs the GEMM floor")
    p.add_argument("--n", type=Whole.of("n_rec"), help="neurons n (default: --n-rec / the preset's)")
    p.add_argument("--batch", type=Whole(*BENCH_BATCH), default=DEFAULT_BATCH, help="batch size B")
    p.add_argument("--threads", type=Whole(*BENCH_THREADS), help="torch CPU threads (default: torch's)")
    p.add_argument("--reps", type=Whole(*BENCH_REPS), default=DEFAULT_REPS,
                   help="timed repetitions (median reported), at most 1000")
    p.add_argument("--bf16", action="store_true", help="bfloat16 matmuls in the time loop")
    p.set_defaults(func=cmd_bench_lif)
