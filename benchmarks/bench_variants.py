"""Forward+backward time of one recurrent alif or cuba layer: stabviz's fast BPTT against snnTorch's
RSynaptic (cuba) and against a plain-autograd ALIF (stabviz.lif.reference_variant, the fast path's referee).

    python -m benchmarks.bench_variants [--n 256] [--batch 32] [--steps 100] [--threads 1] [--reps 15] [--json]

The layers: the shd-tau20 preset (α ≈ 0.951, θ = 0.01), L1 subtractive reset without reset gradient,
fast-sigmoid surrogate γ = β = 1 (snnTorch's fast_sigmoid(slope=2)); cuba with α_s = exp(−1/5), alif with
ρ_a = exp(−1/200), β_a = 1.8, gradient through a_t. Input current (B, T, n) N(θ, θ²), loss Σ spikes·probe,
gradients for the current and W_rec (stabviz.timing.stabviz_layer_step, as bench_lif times the LIF).
snnTorch's RSynaptic (benchmarks.snntorch_layers) gets the same (zero-diagonal) recurrent weights and a
zeroed bias; the script reports the fraction of equal spikes. Each variant runs once per round
(stabviz.timing.interleaved_median_ms), so the ratios are measured back to back under the same load.
"""

from __future__ import annotations

import argparse
import json

import torch

from benchmarks.snntorch_layers import snntorch_step, spike_agreement
from stabviz.config import preset
from stabviz.timing import interleaved_median_ms, stabviz_layer_step


def bench_config(neuron: str, n: int):
    return preset(
        "shd-tau20",
        n_rec=n,
        n_in=n,
        reset="subtract",
        reset_grad=False,
        shape="fastsigmoid",
        dampening=1.0,
        sharpness=1.0,
        neuron=neuron,
    )


def run(n: int, batch: int, steps: int, reps: int) -> dict:
    cuba, alif = bench_config("cuba", n), bench_config("alif", n)
    fns = {
        "cuba_fast_ms": stabviz_layer_step(cuba, batch, steps, "fast"),
        "cuba_snntorch_rsynaptic_ms": snntorch_step(cuba, batch, steps),
        "cuba_autograd_ms": stabviz_layer_step(cuba, batch, steps, "reference"),
        "alif_fast_ms": stabviz_layer_step(alif, batch, steps, "fast"),
        "alif_autograd_ms": stabviz_layer_step(alif, batch, steps, "reference"),
    }
    row = {"n": n, "batch": batch, "steps": steps, "threads": torch.get_num_threads(), "reps": reps}
    row |= interleaved_median_ms(fns, reps=reps)
    row["cuba_vs_rsynaptic"] = row["cuba_snntorch_rsynaptic_ms"] / row["cuba_fast_ms"]
    row["cuba_vs_autograd"] = row["cuba_autograd_ms"] / row["cuba_fast_ms"]
    row["alif_vs_autograd"] = row["alif_autograd_ms"] / row["alif_fast_ms"]
    row["spike_agreement_rsynaptic"] = spike_agreement(cuba, batch, steps)
    return row


def print_row(r: dict) -> None:
    print(
        f"one recurrent layer, forward+backward, n={r['n']} B={r['batch']} T={r['steps']} threads={r['threads']} "
        f"fp32, medians of {r['reps']} interleaved runs"
    )
    print(
        f"cuba  fast {r['cuba_fast_ms']:8.2f} ms   snnTorch RSynaptic {r['cuba_snntorch_rsynaptic_ms']:8.2f} ms "
        f"({r['cuba_vs_rsynaptic']:.1f}x)   autograd {r['cuba_autograd_ms']:8.2f} ms ({r['cuba_vs_autograd']:.1f}x)"
        f"   spikes equal to RSynaptic's: {r['spike_agreement_rsynaptic']:.3f}"
    )
    print(
        f"alif  fast {r['alif_fast_ms']:8.2f} ms   plain autograd ALIF {r['alif_autograd_ms']:8.2f} ms "
        f"({r['alif_vs_autograd']:.1f}x)"
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    row = run(args.n, args.batch, args.steps, args.reps)
    print(json.dumps(row, indent=2)) if args.json else print_row(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
