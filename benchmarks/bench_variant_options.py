"""Time of a variant recommendation: conditions I–IV with the block-gain solver, as Explore asks for it each
time a variant's setting changes.

    python -m benchmarks.bench_variant_options [--n 128] [--settings 5] [--json]

For alif (β_a from 0.02, with the adaptation gradient) and cuba (α_s from 0.80), ``--settings`` settings of
shd-tau20 each new to the process (the solver's caches never help across them), one ``theory.recommend``
each, after one warm-up recommendation that loads the modules; prints the median and the range in seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from stabviz import theory
from stabviz.config import preset

#: neuron -> (the parameter stepped to make each setting new, its first value, its step)
STEPPED = {"alif": ("adapt_strength", 0.02, 0.001), "cuba": ("syn_decay", 0.80, 0.01)}


def bench(n: int, settings: int) -> dict[str, dict[str, float]]:
    base = preset("shd-tau20", n_rec=n)
    theory.recommend(base.replace(neuron="cuba", syn_decay=0.5))  # imports and first-use work
    out = {}
    for neuron, (field, first, step) in STEPPED.items():
        times = []
        for k in range(settings):
            cfg = base.replace(neuron=neuron, **{field: first + k * step})
            start = time.perf_counter()
            theory.recommend(cfg)
            times.append(time.perf_counter() - start)
        out[neuron] = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=128, help="recurrent neurons (default 128)")
    p.add_argument("--settings", type=int, default=5, help="new settings timed per neuron (default 5)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.settings < 1:
        p.error(f"--settings = {args.settings} is outside the allowed range [1, inf)")
    try:
        result = bench(args.n, args.settings)
    except ValueError as err:  # a size the setting refuses: one line, exit 2
        p.error(str(err))
    if args.json:
        print(json.dumps(result))
        return 0
    for neuron, r in result.items():
        print(f"{neuron}: recommend {r['median_s']:.3f} s median ({r['min_s']:.3f}–{r['max_s']:.3f}), n = {args.n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
