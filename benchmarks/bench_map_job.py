"""The measured layer's map end to end, as the Explore page gets it: submitted to the server's map
registry (stabviz.ui.mapjobs: a spawned worker process, progress, the result cache), polled until done.

For each repeat a fresh registry (cold: the worker process starts and imports torch) measures the
shd-tau20 (leak, dampening) map at the page's grid and simulation, then the same registry measures a
second setting (warm: the worker is up) and asks for the first again (a cache hit). Prints medians
(min–max) in seconds. Usage: ``python -m benchmarks.bench_map_job [--reps 3]``
"""

from __future__ import annotations

import argparse
import statistics
import time

from stabviz.config import preset
from stabviz.ui import mapjobs
from stabviz.ui.measuredlayer import GRID, SIM

POLL_S = 0.02


def _until_done(jobs: mapjobs.MapJobs, key: str, spec: mapjobs.MapSpec) -> float:
    began = time.perf_counter()
    status = jobs.submit("bench", key, spec)
    while status.state not in ("done", "error"):
        time.sleep(POLL_S)
        status = jobs.submit("bench", key, spec)  # the page asks again on every poll
    if status.state == "error":
        raise SystemExit(f"the map failed: {status.error}")
    return time.perf_counter() - began


def _spec(dampening: float) -> mapjobs.MapSpec:
    return mapjobs.MapSpec(preset("shd-tau20", dampening=dampening).to_dict(), "leak", GRID, **SIM)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    cold, warm, hit = [], [], []
    for _ in range(args.reps):
        jobs = mapjobs.MapJobs()
        try:
            cold.append(_until_done(jobs, "a", _spec(0.5)))
            warm.append(_until_done(jobs, "b", _spec(0.3)))
            hit.append(_until_done(jobs, "a", _spec(0.5)))
        finally:
            jobs.shutdown()
    print(f"measured map {GRID} × {GRID} through the registry, shd-tau20, {args.reps} repeats")
    for name, xs in (("cold (worker starts)", cold), ("warm", warm), ("cached", hit)):
        print(f"  {name:22s} {statistics.median(xs):7.3f} s  ({min(xs):.3f}–{max(xs):.3f})")


if __name__ == "__main__":
    main()
