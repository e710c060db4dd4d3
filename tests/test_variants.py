"""The neuron family (stabviz.lif.variants): each fast path's gradients equal plain autograd's, the
variants reduce to the LIF exactly at β_a = 0 / α_s = 0, and LIFNetwork runs them by cfg.neuron."""

import itertools

import pytest
import torch

from stabviz import train
from stabviz.config import TrainConfig, preset
from stabviz.lif import (
    LIFEnsemble,
    LIFNetwork,
    recurrent_lif,
    recurrent_variant,
    reference_recurrent,
    reference_variant,
)

RESETS = ["subtract", "mult1", "mult2"]


def layer(neuron, reset="subtract", reset_grad=False, **variant):
    params = {"adapt_decay": 0.9, "adapt_strength": 0.7, "syn_decay": 0.6, **variant}
    return preset(
        "shd-tau20", n_rec=12, n_in=5, threshold=0.3, reset=reset, reset_grad=reset_grad, neuron=neuron, **params
    )


def inputs(seed=0, batch=3, steps=25, n=12):
    g = torch.Generator().manual_seed(seed)
    current = (torch.randn(batch, steps, n, generator=g, dtype=torch.float64) * 0.4 + 0.1).requires_grad_()
    w = (torch.randn(n, n, generator=g, dtype=torch.float64) * 0.3).fill_diagonal_(0).requires_grad_()
    probes = torch.randn(2, batch, steps, n, generator=g, dtype=torch.float64)
    return current, w, probes


def run(fn, current, w, probes):
    z, y = fn()[:2]
    loss = (z * probes[0]).sum() + (y * probes[1]).sum()
    return (z, y, *torch.autograd.grad(loss, (current, w)))


def rel(a, b):
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


CASES = [("alif", r, g, a) for r, g, a in itertools.product(RESETS, [False, True], [True, False])] + [
    ("cuba", r, g, True) for r, g in itertools.product(RESETS, [False, True])
]


@pytest.mark.parametrize("neuron, reset, reset_grad, adapt_grad", CASES)
def test_fast_gradients_equal_plain_autograd(neuron, reset, reset_grad, adapt_grad):
    cfg = layer(neuron, reset, reset_grad, adapt_grad=adapt_grad)
    current, w, probes = inputs()
    fast = run(lambda: recurrent_variant(current, w, cfg), current, w, probes)
    ref = run(lambda: reference_variant(current, w, cfg), current, w, probes)
    assert torch.equal(fast[0], ref[0]) and 0.1 < float(ref[0].detach().mean()) < 0.6  # spiking, not silent
    for a, b in zip(fast[1:], ref[1:]):
        assert rel(a, b) < 1e-6


def test_the_adaptation_gradient_switch_changes_the_gradient():
    current, w, probes = inputs()
    on = run(lambda: reference_variant(current, w, layer("alif", adapt_grad=True)), current, w, probes)
    off = run(lambda: reference_variant(current, w, layer("alif", adapt_grad=False)), current, w, probes)
    assert torch.equal(on[0], off[0]) and rel(on[2], off[2]) > 1e-3


@pytest.mark.parametrize("reset, reset_grad", list(itertools.product(RESETS, [False, True])))
@pytest.mark.parametrize("variant", [dict(neuron="alif", adapt_strength=0.0), dict(neuron="cuba", syn_decay=0.0)])
def test_a_variant_at_zero_is_the_lif_exactly(variant, reset, reset_grad):
    lif = layer("lif", reset, reset_grad)
    var = lif.replace(**variant)
    current, w, probes = inputs(1)
    ref_lif = run(lambda: reference_recurrent(current, w, lif), current, w, probes)
    ref_var = run(lambda: reference_variant(current, w, var), current, w, probes)
    for a, b in zip(ref_var, ref_lif):
        assert torch.equal(a, b)  # the same arithmetic: bit for bit
    fast_lif = run(lambda: recurrent_lif(current, w, lif), current, w, probes)
    fast_var = run(lambda: recurrent_variant(current, w, var), current, w, probes)
    assert torch.equal(fast_var[0], fast_lif[0])  # the same spikes; the LIF's loop folds −θ into
    for a, b in zip(fast_var[1:], fast_lif[1:]):  # its GEMM, so the rest agrees to rounding
        assert rel(a, b) < 1e-12


def test_adaptation_lowers_the_rate_and_a_synaptic_current_smooths_the_voltage():
    current, w, _ = inputs(2, steps=200)
    with torch.no_grad():
        rates = {n: float(reference_variant(current, w, layer(n))[0].mean()) for n in ("lif", "alif")}
        assert rates["alif"] < 0.8 * rates["lif"]
        v = {n: reference_variant(current, w, layer(n, syn_decay=0.9))[1] for n in ("lif", "cuba")}
    rough = {n: float(y.diff(dim=1).std() / y.std()) for n, y in v.items()}
    assert rough["cuba"] < rough["lif"]


@pytest.mark.parametrize("neuron", ["alif", "cuba"])
def test_a_network_runs_its_neuron_fast_and_by_reference(neuron):
    cfg = preset("shd-tau20", n_in=6, n_rec=10, neuron=neuron, reset="mult2", reset_grad=True)
    net = LIFNetwork(cfg, n_layers=2, n_out=3, dtype=torch.float64)
    x = torch.bernoulli(torch.full((4, 30, 6), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(3))
    grads = []
    for fast in (True, False):
        net.zero_grad()
        out, spikes = net(x, fast=fast)
        out.square().mean().backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    for a, b in zip(*grads):
        assert rel(a, b) < 1e-6
    lif_net = LIFNetwork(cfg.replace(neuron="lif"), n_layers=2, n_out=3, dtype=torch.float64)
    assert not torch.equal(lif_net(x)[0], net(x)[0])  # the neuron model is used, not ignored


def test_variants_train_alone_and_a_plain_lif_still_groups():
    base = TrainConfig(lif=preset("shd-tau20", n_in=8, n_rec=16), time_steps=10, train_steps=1, batch=4)
    cfgs = [
        base,
        base.replace(lif=base.lif.replace(seed=1)),
        base.replace(lif=base.lif.replace(neuron="alif")),
        base.replace(lif=base.lif.replace(neuron="alif", seed=1)),
    ]
    assert train.group_configs(cfgs) == [[0, 1], [2], [3]]
    nets = [LIFNetwork(c.lif, n_out=2) for c in cfgs[2:]]
    with pytest.raises(ValueError, match="LIF members only"):
        LIFEnsemble(nets)
    with pytest.raises(ValueError, match="bf16_matmul = True is for neuron = 'lif' only"):
        LIFNetwork(cfgs[2].lif, bf16_matmul=True)
