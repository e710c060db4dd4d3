"""How long stabviz.check takes on a typical network: snnTorch, 2 Leaky layers of n = 256 fed by Linear layers,
T = 100, batch 32, 3 seeds, suggestions re-measured included. Prints the wall time of each repetition, the
median, the number of re-measured suggestions and the peak resident memory.

    OMP_NUM_THREADS=1 python benchmarks/bench_check.py [--reps 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
from torch import nn

N, N_IN, T, BATCH, SEEDS = 256, 100, 100, 32, 3


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        import snntorch as snn

        torch.manual_seed(0)
        self.fc1, self.lif1 = nn.Linear(N_IN, N), snn.Leaky(beta=0.95)
        self.fc2, self.lif2 = nn.Linear(N, N), snn.Leaky(beta=0.95)

    def forward(self, x):
        m1, m2, out = self.lif1.init_leaky(), self.lif2.init_leaky(), []
        for t in range(x.shape[0]):
            s1, m1 = self.lif1(self.fc1(x[t]), m1)
            s2, m2 = self.lif2(self.fc2(s1), m2)
            out.append(s2)
        return torch.stack(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from stabviz.check import check

    net = TwoLayer()
    x = (torch.rand(T, BATCH, N_IN, generator=torch.Generator().manual_seed(1)) < 0.1).float()
    times, report = [], None
    for _ in range(args.reps):
        t0 = time.perf_counter()
        report = check(net, x, seeds=SEEDS)
        times.append(time.perf_counter() - t0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"check: snnTorch 2×Leaky n={N}, T={T}, batch={BATCH}, seeds={SEEDS}, torch threads "
        f"{torch.get_num_threads()}: " + ", ".join(f"{t:.2f}" for t in times) + f" s; median "
        f"{statistics.median(times):.2f} s; {len(report.suggestions)} suggestion(s) re-measured; "
        f"verdict {report.verdict['regime']}; peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
