"""Speed of the measured check: median seconds of simulate.measure at n_rec 256, 300 steps, batch 64,
and the gaussian model's error against it on the three paper presets. `python -m benchmarks.bench_simulate`"""

from __future__ import annotations

import statistics
import time

import torch

from stabviz import simulate, theory
from stabviz.config import preset


def main(reps: int = 7) -> None:
    torch.set_num_threads(2)
    cfg = preset("paper-shd")
    simulate.measure(cfg)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        simulate.measure(cfg)
        times.append(time.perf_counter() - t0)
    print(f"simulate.measure n_rec=256 steps=300 batch=64: median {statistics.median(times):.3f} s over {reps}")
    print(f"{'preset':<15}{'rate meas':>10}{'rate gauss':>11}{'rho2 meas':>11}{'rho2 gauss':>11}{'rho2 unif':>11}")
    for name in ("paper-slmnist", "paper-shd", "shd-tau20"):
        c = preset(name)
        m = simulate.measure(c)
        g, u = theory.predict(c, "gaussian"), theory.predict(c, "uniform")
        print(f"{name:<15}{m.firing_rate:>10.3f}{g.firing_rate:>11.3f}{m.rho2:>11.4f}{g.rho2:>11.4f}{u.rho2:>11.4f}")


if __name__ == "__main__":
    main()
