"""Region-grid speed and accuracy: median ms per grid, and the worst relative error of ρ² against
scipy quadrature on a sample of cells. Run alone on the machine: `python -m benchmarks.bench_region`."""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from scipy import integrate, stats

from stabviz import surrogates, theory
from stabviz.config import preset

MAPS = [
    ("sharpness", "dampening", "fastsigmoid"),
    ("tail", "dampening", "qpseudospike"),
    ("leak", "dampening", "fastsigmoid"),
]


def median_ms(fn, reps: int, cold: bool) -> float:
    """Median wall ms of fn(); ``cold`` clears theory's caches first (a new setting, not a dampening move)."""
    fn()  # imports
    times = []
    for _ in range(reps):
        if cold:
            for cached in (theory._region_terms, theory._optimum_cached, theory._cached_state):
                cached.cache_clear()
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def quad_rho2(cfg, leak=None) -> float:
    """ρ² at one cell with E[σ'²] by adaptive quadrature over the model's voltage law (the referee)."""
    c = cfg if leak is None else cfg.replace(leak=float(leak))
    v = theory.voltage_state(c)
    f = lambda y: surrogates.sg_prime(y - c.threshold, c.surrogate) ** 2
    if c.voltage_model == "gaussian":
        mu, sd = float(v.mean), float(v.std)
        a, b = sorted((c.threshold, mu))  # split at the SG's kink and the gaussian's centre
        e2 = sum(
            integrate.quad(lambda y: f(y) * stats.norm.pdf(y, mu, sd), lo, hi, limit=1000, epsabs=0, epsrel=1e-13)[0]
            for lo, hi in ((-np.inf, a), (a, b), (b, np.inf))
        )
    else:
        lo, hi = float(v.low), float(v.high)
        # split at the kink, with breakpoints at the SG's own scale (it can be far narrower than [lo, hi])
        width = 1.0 / c.sharpness
        cuts = [c.threshold + s * width * 2.0**k for s in (-1, 1) for k in range(-4, 12)] + [c.threshold]
        edges = sorted({lo, hi, *(x for x in cuts if lo < x < hi)})
        e2 = sum(
            integrate.quad(f, a, b, limit=200, epsabs=0, epsrel=1e-13)[0] for a, b in zip(edges[:-1], edges[1:])
        ) / (hi - lo)
    A, C, D = theory.gain_coefficients(c, v.firing_rate)
    e1 = 0.0 if D == 0 else float(v.moments(c.surrogate)[0])
    return float(A + C * e2 + D * e1)


def max_rel_error(cfg, x, y, cells: int = 12) -> float:
    reg = theory.region(cfg, x, y, nx=200, ny=200)
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(cells):
        i, j = rng.integers(200), rng.integers(200)
        c = cfg.replace(**{x: float(reg.x[j]), y: float(reg.y[i])})
        worst = max(worst, abs(reg.rho2[i, j] / quad_rho2(c) - 1))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for model in ("gaussian", "uniform"):
        for x, y, shape in MAPS:
            cfg = preset("shd-tau20", shape=shape, voltage_model=model)
            grid = lambda n: lambda: theory.region(cfg, x, y, n, n)
            moved = iter(np.linspace(0.2, 2.0, 10**6))  # a new dampening each call: a slider move
            row = {
                "model": model,
                "x": x,
                "y": y,
                "ms_200_cold": median_ms(grid(200), args.reps, cold=True),
                "ms_200_move": median_ms(
                    lambda: theory.region(cfg.replace(dampening=float(next(moved))), x, y, 200, 200),
                    args.reps,
                    cold=False,
                ),
                "ms_1000_cold": median_ms(grid(1000), max(3, args.reps // 6), cold=True),
                "max_rel_err": max_rel_error(cfg, x, y),
            }
            rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("median ms per grid; 'cold' = new setting (caches cleared), 'move' = dampening slider moved")
    print(f"{'model':<9}{'map (x, y)':<24}{'200² cold':>10}{'200² move':>10}{'1000² cold':>11}{'max rel err':>13}")
    for r in rows:
        print(
            f"{r['model']:<9}{r['x'] + ', ' + r['y']:<24}{r['ms_200_cold']:>10.2f}{r['ms_200_move']:>10.2f}"
            f"{r['ms_1000_cold']:>11.1f}{r['max_rel_err']:>13.2e}"
        )


if __name__ == "__main__":
    main()
