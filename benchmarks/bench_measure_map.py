"""Speed and consistency of the measured stability map: 24 × 24 cells on shd-tau20 for each x axis,
median of a few repeats, and the largest relative difference of ρ̂ from `simulate.measure` on sampled cells.
`python -m benchmarks.bench_measure_map [--device cuda] [--reps 3]`"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from stabviz import preset, simulate
from stabviz.measured import measure_map


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--n", type=int, default=24)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"measured map {args.n} × {args.n}, shd-tau20, batch 64, 300 steps (100 burn-in), {args.device}")
    for x in ("sharpness", "tail", "leak"):
        cfg = preset("shd-tau20", shape="qpseudospike" if x == "tail" else "fastsigmoid")
        times, m = [], None
        for _ in range(args.reps):
            began = time.perf_counter()
            m = measure_map(cfg, x=x, nx=args.n, ny=args.n, device=args.device)
            if args.device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - began)
        worst = 0.0
        for i, j in rng.integers(0, args.n, size=(3, 2)):
            cell = cfg.replace(dampening=float(m.y[i]), **{x: float(m.x[j])})
            ref = simulate.measure(cell, device=args.device).rho_hat
            worst = max(worst, abs(m.rho_hat[i, j] / ref - 1))
        print(
            f"  x = {x:<9} median {statistics.median(times):6.2f} s  (min {min(times):.2f}, max {max(times):.2f})"
            f"  agreement {m.agreement:.2f}  worst |ρ̂/simulate − 1| = {worst:.1e}"
        )


if __name__ == "__main__":
    main()
