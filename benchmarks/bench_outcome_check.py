"""Cost of Explore's automatic check and of a recommendation.

`python -m benchmarks.bench_outcome_check [--reps 7]` prints the median wall time of
stabviz.outcomes.features.measure (the background Monte-Carlo check behind the verdict) at n = 256, T = 100
(the shd-tau20 preset), a new seed each time (no cache), and of stabviz.outcomes.advice.recommend from the
theory's predicted gains (what `recommend` and the options read) and from measured gains (`recommend --measure`).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from stabviz.config import preset
from stabviz.outcomes import advice, features


def _median(fn, reps: int) -> tuple[float, float, float]:
    times = []
    for k in range(reps):
        t0 = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), max(times)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=7)
    args = p.parse_args(argv)
    cfg = preset("shd-tau20")
    features.measure(cfg)  # warm: imports and first-call allocations
    print(f"torch threads {torch.get_num_threads()}; setting shd-tau20 (n = {cfg.n_rec}, T = {cfg.steps})")
    med, lo, hi = _median(lambda k: features.measure(cfg.replace(seed=k + 1)), args.reps)
    print(f"automatic check (features.measure):      median {med:.3f} s ({lo:.3f}-{hi:.3f}) over {args.reps}")
    med, lo, hi = _median(lambda k: advice.recommend(cfg.replace(seed=k + 1)), args.reps)
    print(f"recommend, predicted gains (18 options): median {med:.3f} s ({lo:.3f}-{hi:.3f}) over {args.reps}")
    med, lo, hi = _median(
        lambda k: advice.recommend(cfg.replace(seed=k + 1), source="measured"), max(1, args.reps // 3)
    )
    print(
        f"recommend --measure (18 checks):         median {med:.3f} s ({lo:.3f}-{hi:.3f}) over {max(1, args.reps // 3)}"
    )


if __name__ == "__main__":
    main()
