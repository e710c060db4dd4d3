"""`python -m stabviz bench lif ...`: time one forward+backward pass of a recurrent LIF layer (on CUDA
eagerly and replayed as a CUDA graph); `bench ensemble ...`: E training runs as one ensemble against
E sequential runs.

The timing itself is :mod:`stabviz.timing` (torch imported only when a benchmark runs).
"""

from __future__ import annotations

import argparse
import json

from stabviz import memory
from stabviz.cli.options import BENCH_BATCH, BENCH_REPS, BENCH_THREADS, Whole, check_elements, lif_config_from_args
from stabviz.cli.progress import Progress
from stabviz.config import TRAIN_RANGES, TrainConfig
from stabviz.timing import DEFAULT_BATCH, DEFAULT_REPS, bench_ensemble, bench_lif, bench_lif_cuda, check_bench_ensemble

#: `bench ensemble`'s defaults: the issue's CPU goal (16 members, n = 128, T = 50, batch 32, 100 steps)
ENSEMBLE_MEMBERS, ENSEMBLE_STEPS, ENSEMBLE_TRAIN_STEPS = 16, 50, 100


def cmd_bench_lif(args: argparse.Namespace) -> int:
    cfg = lif_config_from_args(args)
    if args.n is not None:
        cfg = cfg.replace(n_rec=args.n)
    steps = cfg.steps if args.steps is None else args.steps
    check_elements("bench lif", batch=args.batch, steps=steps, n=cfg.n_rec)
    memory.check_bench_lif(cfg.n_rec, args.batch, steps)  # before anything is allocated
    if args.device == "cuda":
        with Progress("bench lif", None, "timed calls") as progress:
            r = bench_lif_cuda(
                cfg, batch=args.batch, steps=args.steps, reps=args.reps, bf16_matmul=args.bf16, progress=progress
            )
        return _show(
            args,
            r,
            f"lif layer n={r['n']} batch={r['batch']} T={r['steps']} on {r['device']}: "
            f"{r['ms']:.2f} ms eager, {r['graph_ms']:.2f} ms as a CUDA graph "
            f"({r['graph_mode']}{'; ' + r['graph_note'] if r['graph_note'] else ''}), "
            f"median of {r['reps']}",
        )
    with Progress("bench lif", None, "timed calls") as progress:  # the total comes with the first call
        result = bench_lif(
            cfg,
            batch=args.batch,
            steps=args.steps,
            threads=args.threads,
            reps=args.reps,
            bf16_matmul=args.bf16,
            progress=progress,
        )
    return _show(
        args,
        result,
        f"{cfg.neuron} layer n={result['n']} batch={result['batch']} T={result['steps']} "
        f"threads={result['threads']} reset={result['reset']} sg={result['shape']}"
        f"{' bf16' if args.bf16 else ''}: {result['ms']:.2f} ms forward+backward "
        f"(median of {result['reps']}); GEMM-only floor {result['floor_ms']:.2f} ms "
        f"(z@W orientation: {result['floor_row_ms']:.2f} ms); efficiency {100 * result['efficiency']:.0f}% "
        f"({100 * result['efficiency_row']:.0f}% against the z@W floor)",
    )


def _show(args: argparse.Namespace, result: dict, line: str) -> int:
    """The result as JSON with --json, else the one-line summary."""
    print(json.dumps(result, indent=2) if args.json else line)
    return 0


def cmd_bench_ensemble(args: argparse.Namespace) -> int:
    lif = lif_config_from_args(args)
    if args.n is not None:
        lif = lif.replace(n_rec=args.n)
    cfg = TrainConfig(
        lif=lif,
        time_steps=ENSEMBLE_STEPS if args.steps is None else args.steps,
        batch=args.batch,
        train_steps=args.train_steps,
        device=args.device,
    )
    check_bench_ensemble(cfg, args.members)  # member bound and memory estimate: refused before torch loads
    # the E runs twice: as the ensemble, then one by one
    with Progress("bench ensemble", 2 * args.members, "runs") as progress:
        r = bench_ensemble(cfg, args.members, progress=progress)
    return _show(
        args,
        r,
        f"{r['members']} runs (n={r['n']} T={r['steps']} batch={r['batch']} {r['train_steps']} "
        f"steps on {r['device']}, {r['threads']} threads): ensemble {r['ensemble_s']:.1f} s, "
        f"sequential {r['sequential_s']:.1f} s, speedup {r['speedup']:.2f}×",
    )


def register(subparsers, parents) -> None:
    """Add `bench lif` to the main CLI (``parents`` carry the shared LIF options and --json)."""
    bench = subparsers.add_parser("bench", help="time the LIF layer (forward+backward)")
    targets = bench.add_subparsers(dest="bench_target", metavar="TARGET")
    targets.required = True
    p = targets.add_parser(
        "lif", parents=parents, help="median ms of one forward+backward of a recurrent LIF layer vs the GEMM floor"
    )
    p.add_argument("--n", type=Whole.of("n_rec"), help="neurons n (default: --n-rec / the preset's)")
    p.add_argument("--batch", type=Whole(*BENCH_BATCH), default=DEFAULT_BATCH, help="batch size B")
    p.add_argument("--threads", type=Whole(*BENCH_THREADS), help="torch CPU threads (default: torch's)")
    p.add_argument(
        "--reps",
        type=Whole(*BENCH_REPS),
        default=DEFAULT_REPS,
        help="timed repetitions (median reported), at most 1000",
    )
    p.add_argument("--bf16", action="store_true", help="bfloat16 matmuls in the time loop")
    p.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="cuda: eager and CUDA-graph times (no GEMM floor)"
    )
    p.set_defaults(func=cmd_bench_lif)
    e = targets.add_parser(
        "ensemble",
        parents=parents,
        help="wall time of E training runs as one ensemble vs one after another",
        description="Train E runs (seeds seed … seed+E−1, randman) as one ensemble, then the same "
        "runs one after another in this process; --steps is the task's T.",
    )
    e.add_argument(
        "--members",
        type=Whole(1, 1024),
        default=ENSEMBLE_MEMBERS,
        help=f"ensemble members E (default {ENSEMBLE_MEMBERS})",
    )
    e.add_argument("--n", type=Whole.of("n_rec"), help="neurons n (default: --n-rec / the preset's)")
    e.add_argument("--batch", type=Whole.of("batch", TRAIN_RANGES), default=DEFAULT_BATCH, help="batch size B")
    e.add_argument(
        "--train-steps",
        type=Whole.of("train_steps", TRAIN_RANGES),
        default=ENSEMBLE_TRAIN_STEPS,
        help=f"optimiser steps S (default {ENSEMBLE_TRAIN_STEPS})",
    )
    e.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto = CUDA when available")
    e.set_defaults(func=cmd_bench_ensemble)
