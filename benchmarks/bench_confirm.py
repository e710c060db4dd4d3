"""The default confirmation end to end, as the dashboard runs it: Explore's *Confirm with a short run*
at the default setting (K seeds queued as one seed group), submitted to a fresh run store through the local
launcher, trained by the dispatcher's worker (the seeds as one ensemble), timed until the group verdict.

    python -m benchmarks.bench_confirm [--seeds 3] [--train-steps N] [--repeats 1] [--json]

It prints the wall time from the click (submit) to the verdict (every run ended), split into the wait for a
worker (dispatcher start, spawned worker, torch import) and the training itself, the CPU time the dispatcher
and worker used (on a busy machine, the figure that bounds an idle machine's wall time), the load
average, the verdict and each run's status and accuracy. ``--train-steps`` overrides the confirmation's
steps (a quicker smoke run); the default is exactly what the dashboard launches
(:func:`stabviz.runs.confirm.quick_config`). Every repeat uses a fresh store and dispatcher (a cold start,
as after a dashboard has been idle). Times are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from typing import Any

from stabviz.config import LIFConfig
from stabviz.runs import RunStore, get_launcher
from stabviz.runs.confirm import quick_config
from stabviz.runs.groups import summarize, verdict_sentence
from stabviz.runs.outcomes import training_outcome


def confirm_once(seeds: int, train_steps: int | None, timeout: float, **sizes: Any) -> dict[str, Any]:
    """One cold confirmation in a fresh store; its timings, statuses and verdict. ``sizes`` override the
    confirmation's training fields (e.g. the sizes it had before, to compare on the same machine)."""
    with tempfile.TemporaryDirectory(prefix="bench_confirm_") as home:
        store = RunStore(os.path.join(home, "stabviz.db"))
        launcher = get_launcher("local", store=store)
        cfg = quick_config(LIFConfig(), **({"train_steps": train_steps} if train_steps else {}), **sizes)
        cpu0 = _children_cpu()
        t0 = time.time()
        _, ids = launcher.submit_seeds(cfg, seeds)
        launcher.wait(ids, timeout=timeout)
        wall = time.time() - t0
        runs = [store.get(r) for r in ids]
        launcher.shutdown()  # reaps the dispatcher, which reaped its worker: their CPU time is ours
        started = min((r["started"] for r in runs if r.get("started")), default=None)
        group = summarize(runs)
        return {
            "seeds": seeds,
            "train_steps": cfg.train_steps,
            "batch": cfg.batch,
            "T": cfg.time_steps,
            "samples": cfg.samples,
            "n_rec": cfg.lif.n_rec,
            "wall_s": wall,
            "cpu_s": _children_cpu() - cpu0,
            "wait_for_worker_s": None if started is None else started - t0,
            "training_s": None if started is None else max(r["finished"] or t0 for r in runs) - started,
            "statuses": [r["status"] for r in runs],
            "outcome": training_outcome(runs)["sentence"],
            "group_verdict": verdict_sentence(group),
            "accuracy": [((r.get("summary") or {}).get("final") or {}).get("accuracy") for r in runs],
        }


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's ended, reaped descendants: the dispatcher and its
    worker. Unlike the wall time it hardly depends on what else the machine runs, so on a busy machine it
    bounds what the confirmation costs an idle one (whose wall time is at most about this, less with torch's
    two threads on two cores)."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="runs in the seed group (the dashboard's default: 3)")
    ap.add_argument("--train-steps", type=int, default=None, help="override the confirmation's training steps")
    ap.add_argument("--repeats", type=int, default=1, help="cold confirmations in a row (median reported)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for one confirmation")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    for name in ("seeds", "repeats"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} = {getattr(args, name)} is outside the allowed range [1, inf)")
    if args.train_steps is not None and args.train_steps < 1:
        ap.error(f"--train-steps = {args.train_steps} is outside the allowed range [1, inf)")
    load = os.getloadavg()
    results = [confirm_once(args.seeds, args.train_steps, args.timeout) for _ in range(args.repeats)]
    report = {
        "load_before": load,
        "load_after": os.getloadavg(),
        "cpus": os.cpu_count(),
        "median_wall_s": statistics.median(r["wall_s"] for r in results),
        "runs": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for r in results:
        print(
            f"{r['seeds']} seeds × {r['train_steps']} steps (batch {r['batch']}, T = {r['T']}, {r['samples']} "
            f"samples, n = {r['n_rec']}): verdict after {r['wall_s']:.1f} s "
            f"(worker start {_s(r['wait_for_worker_s'])}, training {_s(r['training_s'])}); "
            f"CPU time of the dispatcher and worker {r['cpu_s']:.1f} s"
        )
        print(
            f"  statuses: {', '.join(r['statuses'])}; test accuracy: "
            + ", ".join("—" if a is None else f"{a:.2f}" for a in r["accuracy"])
        )
        print(f"  outcome: {r['outcome']}")
        print(f"  verdict: {r['group_verdict']}")
    print(
        f"median {report['median_wall_s']:.1f} s over {len(results)}; load average before "
        f"{load[0]:.2f}, after {report['load_after'][0]:.2f} on {report['cpus']} CPUs"
    )
    return 0


def _s(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f} s"


if __name__ == "__main__":
    raise SystemExit(main())
