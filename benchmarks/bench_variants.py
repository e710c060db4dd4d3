"""Forward+backward time of one recurrent alif or cuba layer: stabviz's fast BPTT against snnTorch's
RSynaptic (cuba) and against a plain-autograd ALIF (stabviz.lif.reference_variant, the fast path's referee).

    python -m benchmarks.bench_variants [--n 256] [--batch 32] [--steps 100] [--threads 1] [--reps 15] [--json]

The layers: the shd-tau20 preset (α ≈ 0.951, θ = 0.01), L1 subtractive reset without reset gradient,
fast-sigmoid surrogate γ = β = 1 (snnTorch's fast_sigmoid(slope=2)); cuba with α_s = exp(−1/5), alif with
ρ_a = exp(−1/200), β_a = 1.8, gradient through a_t. Input current (B, T, n) N(θ, θ²), loss Σ spikes·probe,
gradients for the current and W_rec. snnTorch's RSynaptic gets the same (zero-diagonal) recurrent weights
and a zeroed bias; the script reports the fraction of equal spikes. Each variant runs once per round
(stabviz.timing.interleaved_median_ms), so the ratios are measured back to back under the same load.
"""
from __future__ import annotations

import argparse
import json

import torch

from stabviz import lif
from stabviz.config import preset
from stabviz.timing import interleaved_median_ms, layer_inputs


def bench_config(neuron: str, n: int):
    return preset("shd-tau20", n_rec=n, n_in=n, reset="subtract", reset_grad=False, shape="fastsigmoid",
                  dampening=1.0, sharpness=1.0, neuron=neuron)


def stabviz_step(cfg, batch: int, steps: int, fast: bool):
    current, w_rec, probe = layer_inputs(cfg, batch, steps)
    if fast:
        current, probe = lif.to_time_major(current.detach()).requires_grad_(), lif.to_time_major(probe)

    def step() -> None:
        current.grad = w_rec.grad = None
        if fast:
            spikes, _ = lif.recurrent_variant_time_major(current, w_rec, cfg)
        else:
            spikes, _, _ = lif.reference_variant(current, w_rec, cfg)
        (spikes * probe).sum().backward()

    return step


def rsynaptic(cfg, w_rec: torch.Tensor):
    """snnTorch RSynaptic with the same decays, threshold, surrogate and recurrent weights."""
    import snntorch as snn
    from snntorch import surrogate

    layer = snn.RSynaptic(alpha=cfg.syn_decay, beta=cfg.leak, threshold=cfg.threshold, linear_features=cfg.n_rec,
                          all_to_all=True, spike_grad=surrogate.fast_sigmoid(slope=2.0 * cfg.sharpness),
                          reset_mechanism="subtract")
    with torch.no_grad():
        layer.recurrent.weight.copy_(w_rec.t())            # nn.Linear computes z Wᵀ
        layer.recurrent.bias.zero_()
    return layer


def rsynaptic_run(layer, current: torch.Tensor) -> torch.Tensor:
    spk, syn, mem = layer.init_rsynaptic()
    spikes = []
    for x_t in current.unbind(1):
        spk, syn, mem = layer(x_t, spk, syn, mem)
        spikes.append(spk)
    return torch.stack(spikes, 1)


def rsynaptic_step(cfg, batch: int, steps: int):
    current, w_rec, probe = layer_inputs(cfg, batch, steps)
    layer = rsynaptic(cfg, w_rec.detach())

    def step() -> None:
        current.grad = None
        layer.zero_grad(set_to_none=True)
        (rsynaptic_run(layer, current) * probe).sum().backward()

    return step


def rsynaptic_agreement(cfg, batch: int, steps: int) -> float:
    current, w_rec, _ = layer_inputs(cfg, batch, steps)
    with torch.no_grad():
        ours, _ = lif.recurrent_variant(current, w_rec, cfg)
        theirs = rsynaptic_run(rsynaptic(cfg, w_rec), current)
    return float((ours == theirs).float().mean())


def run(n: int, batch: int, steps: int, reps: int) -> dict:
    cuba, alif = bench_config("cuba", n), bench_config("alif", n)
    fns = {"cuba_fast_ms": stabviz_step(cuba, batch, steps, True),
           "cuba_snntorch_rsynaptic_ms": rsynaptic_step(cuba, batch, steps),
           "cuba_autograd_ms": stabviz_step(cuba, batch, steps, False),
           "alif_fast_ms": stabviz_step(alif, batch, steps, True),
           "alif_autograd_ms": stabviz_step(alif, batch, steps, False)}
    row = {"n": n, "batch": batch, "steps": steps, "threads": torch.get_num_threads(), "reps": reps}
    row |= interleaved_median_ms(fns, reps=reps)
    row["cuba_vs_rsynaptic"] = row["cuba_snntorch_rsynaptic_ms"] / row["cuba_fast_ms"]
    row["cuba_vs_autograd"] = row["cuba_autograd_ms"] / row["cuba_fast_ms"]
    row["alif_vs_autograd"] = row["alif_autograd_ms"] / row["alif_fast_ms"]
    row["spike_agreement_rsynaptic"] = rsynaptic_agreement(cuba, batch, steps)
    return row


def print_row(r: dict) -> None:
    print(f"one recurrent layer, forward+backward, n={r['n']} B={r['batch']} T={r['steps']} threads={r['threads']} "
          f"fp32, medians of {r['reps']} interleaved runs")
    print(f"cuba  fast {r['cuba_fast_ms']:8.2f} ms   snnTorch RSynaptic {r['cuba_snntorch_rsynaptic_ms']:8.2f} ms "
          f"({r['cuba_vs_rsynaptic']:.1f}x)   autograd {r['cuba_autograd_ms']:8.2f} ms ({r['cuba_vs_autograd']:.1f}x)"
          f"   spikes equal to RSynaptic's: {r['spike_agreement_rsynaptic']:.3f}")
    print(f"alif  fast {r['alif_fast_ms']:8.2f} ms   plain autograd ALIF {r['alif_autograd_ms']:8.2f} ms "
          f"({r['alif_vs_autograd']:.1f}x)")


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
