"""Forward+backward time of one recurrent LIF layer: stabviz fast BPTT vs its plain-autograd reference vs
snnTorch's RLeaky, against the GEMM-only floor.

    python -m benchmarks.bench_lif [--sizes 128 256 512] [--batch 32] [--steps 100] [--threads 2]
                                   [--reps 15] [--bf16] [--json]

Every variant computes the same layer: L1 subtractive reset, no gradient through the reset, fast-sigmoid
surrogate (γ = β = 1, which is snnTorch's fast_sigmoid(slope=2)), leak α ≈ 0.951 and threshold
θ = 0.01 of the shd-tau20 preset, input current (B, T, n) given, loss Σ spikes·probe, gradients for the
current and W_rec. snnTorch's RLeaky is built by benchmarks.snntorch_layers (which says what differs
in it). With identical weights the two produce the same spikes; the script checks that on every size.

The floor is 6·B·n²·T FLOP run as 3·T per-step (B×n)@(n×n) products: three such products per step
are unavoidable (forward current, backward error, weight gradient). It is timed in both orientations,
z (B×n) @ W as the layer equation writes it and Wᵀ (n×n) @ zᵀ (n×B), the same numbers, which stabviz
uses because it is faster on CPUs; "eff" is against the faster one, "eff z@W" against the other. "fast" times the layer
as LIFNetwork runs it: current and spikes time-major (T, n, B), the
layout the network keeps between its GEMMs; "(B,T,n)" times the batch-major functional API
recurrent_lif, which adds two layout copies (current in, gradient of the spikes back). Every variant
runs once per round, --reps rounds after warm-up, and medians are reported, so all see the same
background load; on a shared machine, rerun if noisy.
"""

from __future__ import annotations

import argparse
import json

import torch

from benchmarks.snntorch_layers import snntorch_step, spike_agreement
from stabviz.config import preset
from stabviz.timing import floor_figures, gemm_floor_steps, interleaved_median_ms, stabviz_layer_step


def bench_config(n: int):
    return preset(
        "shd-tau20",
        n_rec=n,
        n_in=n,
        reset="subtract",
        reset_grad=False,
        shape="fastsigmoid",
        dampening=1.0,
        sharpness=1.0,
    )


def run(sizes, batch: int, steps: int, reps: int, bf16: bool) -> list[dict]:
    rows = []
    for n in sizes:
        cfg = bench_config(n)
        variants = {
            "fast_ms": stabviz_layer_step(cfg, batch, steps, "fast"),
            "fast_batch_major_ms": stabviz_layer_step(cfg, batch, steps, "fast-batch-major"),
        }
        if bf16:
            variants["fast_bf16_ms"] = stabviz_layer_step(cfg, batch, steps, "fast", bf16_matmul=True)
        variants |= {
            "reference_ms": stabviz_layer_step(cfg, batch, steps, "reference"),
            "snntorch_ms": snntorch_step(cfg, batch, steps),
            **gemm_floor_steps(n, batch, steps),
        }
        ms = interleaved_median_ms(variants, reps=reps)
        row = {"n": n, "batch": batch, "steps": steps, "threads": torch.get_num_threads(), "reps": reps}
        row |= {k: v for k, v in ms.items() if k.endswith("_ms")}
        row |= floor_figures(ms, n, batch, steps, ms["fast_ms"])
        row["speedup_vs_snntorch"] = row["snntorch_ms"] / row["fast_ms"]
        row["speedup_vs_reference"] = row["reference_ms"] / row["fast_ms"]
        row["spike_agreement_snntorch"] = spike_agreement(cfg, batch, steps)
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    bf16 = "fast_bf16_ms" in rows[0]
    print(
        f"one recurrent LIF layer, forward+backward, B={rows[0]['batch']} T={rows[0]['steps']} "
        f"threads={rows[0]['threads']} fp32, medians of {rows[0]['reps']} interleaved runs"
    )
    print(
        f"{'n':>5} {'fast ms':>8} {'(B,T,n)':>8}"
        + (f" {'bf16':>8}" if bf16 else "")
        + f" {'ref ms':>8} {'snnTorch':>8} {'floor ms':>8} {'z@W flr':>8} {'eff':>5} {'eff z@W':>7}"
        f" {'vs snnT':>7} {'vs ref':>6} {'agree':>6}"
    )
    for r in rows:
        print(
            f"{r['n']:>5} {r['fast_ms']:>8.2f} {r['fast_batch_major_ms']:>8.2f}"
            + (f" {r['fast_bf16_ms']:>8.2f}" if bf16 else "")
            + f" {r['reference_ms']:>8.2f} {r['snntorch_ms']:>8.2f} {r['floor_ms']:>8.2f} {r['floor_row_ms']:>8.2f}"
            f" {100 * r['efficiency']:>4.0f}% {100 * r['efficiency_row']:>6.0f}%"
            f" {r['speedup_vs_snntorch']:>6.1f}x {r['speedup_vs_reference']:>5.1f}x"
            f" {r['spike_agreement_snntorch']:>6.3f}"
        )
    print(
        "fast: the layer as LIFNetwork runs it (time-major (T, n, B) current in, spikes out); (B,T,n): "
        "the same through recurrent_lif's batch-major API (two layout copies more); floor: 3·T products "
        "in the faster orientation (Wᵀ zᵀ), z@W flr: the same as z (B×n) @ W; eff = floor / fast; "
        "vs snnT = snnTorch / fast."
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--bf16", action="store_true", help="also time the bfloat16-matmul fast path")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = run(args.sizes, args.batch, args.steps, args.reps, args.bf16)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
