"""snnTorch's recurrent layers built to compute a stabviz layer (the comparison of bench_lif and
bench_variants): RLeaky for the LIF, RSynaptic for cuba, with the same decays, threshold, subtractive
reset, fast-sigmoid surrogate (γ = β = 1 is snnTorch's fast_sigmoid(slope=2)) and recurrent weights.

What differs in snnTorch: its recurrent nn.Linear also has a bias (zeroed here but still added and
differentiated) and a diagonal (self-connections; zeroed here but trained), and it recomputes the reset
as H(mem_{t−1} − θ) instead of reusing the previous spike (same value)."""

from __future__ import annotations

import torch

from stabviz.timing import layer_inputs


def snntorch_layer(cfg, w_rec: torch.Tensor):
    """RLeaky (cfg.neuron lif) or RSynaptic (cuba) with cfg's leak, threshold, surrogate and ``w_rec``."""
    import snntorch as snn
    from snntorch import surrogate

    common = dict(
        threshold=cfg.threshold,
        linear_features=cfg.n_rec,
        all_to_all=True,
        spike_grad=surrogate.fast_sigmoid(slope=2.0 * cfg.sharpness),
        reset_mechanism="subtract",
    )
    if cfg.neuron == "cuba":
        layer = snn.RSynaptic(alpha=cfg.syn_decay, beta=cfg.leak, **common)
    elif cfg.neuron == "lif":
        layer = snn.RLeaky(beta=cfg.leak, **common)
    else:
        raise ValueError(f"neuron = {cfg.neuron!r}: snnTorch has no adaptive-threshold neuron to compare with")
    with torch.no_grad():
        layer.recurrent.weight.copy_(w_rec.t())  # nn.Linear computes z Wᵀ
        layer.recurrent.bias.zero_()
    return layer


def snntorch_run(layer, current: torch.Tensor) -> torch.Tensor:
    """The layer's spikes (batch, T, n) for the current (batch, T, n)."""
    import snntorch as snn

    synaptic = isinstance(layer, snn.RSynaptic)
    state = layer.init_rsynaptic() if synaptic else layer.reset_mem()
    spikes = []
    for x_t in current.unbind(1):
        state = layer(x_t, *state)
        spikes.append(state[0])
    return torch.stack(spikes, 1)


def snntorch_step(cfg, batch: int, steps: int):
    """A function running forward+backward of snnTorch's layer (loss Σ spikes·probe), as
    stabviz.timing.stabviz_layer_step does for stabviz's."""
    current, w_rec, probe = layer_inputs(cfg, batch, steps)
    layer = snntorch_layer(cfg, w_rec.detach())

    def step() -> None:
        current.grad = None
        layer.zero_grad(set_to_none=True)
        (snntorch_run(layer, current) * probe).sum().backward()

    return step


def spike_agreement(cfg, batch: int, steps: int) -> float:
    """Fraction of equal spikes between stabviz's fast layer and snnTorch's on the same weights and input."""
    from stabviz import lif

    current, w_rec, _ = layer_inputs(cfg, batch, steps)
    with torch.no_grad():
        fast = lif.recurrent_lif if cfg.neuron == "lif" else lif.recurrent_variant
        ours, _ = fast(current, w_rec, cfg)
        theirs = snntorch_run(snntorch_layer(cfg, w_rec), current)
    return float((ours == theirs).float().mean())
