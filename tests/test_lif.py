"""The LIF network: docs/theory.md#11-the-layer-equations-l1-to-l3 dynamics,
docs/theory.md#14-the-backward-pass-the-one-step-jacobian-m one-step Jacobians, fast BPTT gradients equal
to plain autograd, the zero recurrent diagonal, the conditions initialisation, the gradient-flow probe
and the `bench lif` command."""

import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from stabviz import theory
from stabviz.config import LIFConfig
from stabviz.lif import (
    Dynamics,
    LIFNetwork,
    fit_gradient_gain,
    keep_freed_cpu_memory,
    lif_step,
    probe_gradient_flow,
    recurrent_lif,
    reference_recurrent,
)
from stabviz.weights import layer_config

RESETS = ["subtract", "mult1", "mult2"]


def small_cfg(**changes) -> LIFConfig:
    """A layer that fires often (about a third of the time) so every reset path is exercised."""
    base = dict(
        n_in=7,
        n_rec=9,
        leak=0.8,
        threshold=0.3,
        init_rec="normal",
        rec_mean=0.0,
        rec_std=0.5,
        init_in="normal",
        in_std=0.6,
        bias=0.1,
        dampening=0.9,
        sharpness=1.3,
        tail=2.5,
    )
    return LIFConfig(**(base | changes))


def theory_voltages(current: np.ndarray, w_rec: np.ndarray, reset: str, alpha: float, theta: float):
    """docs/theory.md#1-the-model, (L1)-(L3), written out directly: current (batch, T, n) = x W_in + b."""
    y = np.zeros(current.shape[::2])
    z = np.zeros_like(y)
    ys = []
    for t in range(current.shape[1]):
        total = current[:, t] + z @ w_rec
        if reset == "subtract":
            y = alpha * y + total - theta * z
        elif reset == "mult1":
            y = (alpha * y + total) * (1 - z)
        else:
            y = alpha * y * (1 - z) + total
        z = (y > theta).astype(float)
        ys.append(y)
    return np.stack(ys, 1)


@pytest.mark.parametrize("reset", RESETS)
def test_both_paths_follow_the_theory_equations(reset):
    net = LIFNetwork(small_cfg(reset=reset), n_layers=1, n_out=3, dtype=torch.float64)
    x = torch.randn(3, 15, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    current = (x @ net.w_in[0] + net.bias[0]).detach().numpy()
    expected = theory_voltages(current, net.recurrent_weight(0).detach().numpy(), reset, 0.8, 0.3)
    for fast in (True, False):
        readout, spikes, voltages = net(x, fast=fast, return_voltages=True)
        np.testing.assert_allclose(voltages[0].detach().numpy(), expected, rtol=1e-12, atol=1e-12)
        assert torch.equal(spikes[0], (voltages[0] > 0.3).double())
        assert readout.shape == (3, 15, 3)
        expected_readout = spikes[0] @ net.w_out + net.b_out
        torch.testing.assert_close(readout, expected_readout, rtol=1e-12, atol=1e-12)
    assert 0.1 < float(spikes[0].detach().mean()) < 0.9  # the example really spikes and resets


def jacobian_per_theory(reset, reset_grad, alpha, theta, w, y_prev, z_prev, sgp_prev, total):
    """docs/theory.md#3-conditions-i-to-iv: M_ij = ∂y_{t,i}/∂y_{t−1,j}. The reset-grad-on rows for the multiplicative
    resets are the derivative of (L2)/(L3) through (1 − z_{t−1})."""
    n = len(y_prev)
    eye = np.eye(n)
    rec = w.T * sgp_prev[None, :]  # W_rec[j, i] σ'_j
    if reset == "subtract":
        m = alpha * eye + rec
        if reset_grad:
            m -= theta * eye * sgp_prev[:, None]
    elif reset == "mult1":
        m = (1 - z_prev)[:, None] * (alpha * eye + rec)
        if reset_grad:
            m -= eye * ((alpha * y_prev + total) * sgp_prev)[:, None]
    else:
        m = alpha * (1 - z_prev)[:, None] * eye + rec
        if reset_grad:
            m -= eye * (alpha * y_prev * sgp_prev)[:, None]
    return m


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("reset_grad", [False, True])
def test_one_step_jacobian_is_theorys_transition_matrix(reset, reset_grad):
    cfg = small_cfg(reset=reset, reset_grad=reset_grad)
    dyn = Dynamics.of(cfg)
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(9, 9, dtype=torch.float64, generator=gen).fill_diagonal_(0)
    y_prev = 0.3 + 0.5 * torch.randn(9, dtype=torch.float64, generator=gen)
    current = torch.randn(9, dtype=torch.float64, generator=gen)

    def step(y):
        return lif_step(current[None], dyn.spike(y[None]), y[None], w, dyn)[1][0]

    got = torch.autograd.functional.jacobian(step, y_prev).numpy()
    z_prev = (y_prev > 0.3).double()
    total = (current + z_prev @ w).numpy()
    expected = jacobian_per_theory(
        reset, reset_grad, 0.8, 0.3, w.numpy(), y_prev.numpy(), z_prev.numpy(), dyn.sg_prime(y_prev).numpy(), total
    )
    assert 0 < z_prev.sum() < 9
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def gradients(net, x, fast, extra):
    readout, spikes, voltages = net(x, fast=fast, return_voltages=True)
    loss = (readout * extra[0]).sum() + (spikes[0] * extra[1]).sum() + 0.1 * (voltages[-1] ** 2).sum()
    grads = torch.autograd.grad(loss, [x] + list(net.parameters()))
    return [s.detach() for s in spikes], grads


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("reset_grad", [False, True])
@pytest.mark.parametrize("shape", ["fastsigmoid", "triangular", "qpseudospike"])
def test_fast_gradients_equal_plain_autograd(reset, reset_grad, shape):
    net = LIFNetwork(
        small_cfg(reset=reset, reset_grad=reset_grad, shape=shape), n_layers=2, n_out=3, dtype=torch.float64
    )
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(4, 12, 7, dtype=torch.float64, generator=gen).requires_grad_()
    extra = (
        torch.randn(4, 12, 3, dtype=torch.float64, generator=gen),
        torch.randn(4, 12, 9, dtype=torch.float64, generator=gen),
    )
    spikes_fast, fast = gradients(net, x, True, extra)
    spikes_ref, ref = gradients(net, x, False, extra)
    for a, b in zip(spikes_fast, spikes_ref):
        assert torch.equal(a, b)
    for name, a, b in zip(["x"] + [n for n, _ in net.named_parameters()], fast, ref):
        assert float(b.abs().max()) > 0, name
        assert float((a - b).abs().max()) <= 1e-6 * float(b.abs().max()), name


def test_reset_grad_switch_changes_the_gradient():
    x = torch.randn(4, 12, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    grads = []
    for reset_grad in (False, True):
        net = LIFNetwork(small_cfg(reset_grad=reset_grad), n_out=3, dtype=torch.float64)
        readout, _ = net(x)
        grads.append(torch.autograd.grad(readout.sum(), net.w_rec[0])[0])
    assert not torch.allclose(grads[0], grads[1])


@pytest.mark.parametrize("reset", RESETS)
def test_functional_layer_in_user_layout(reset):
    cfg = small_cfg(reset=reset, reset_grad=True)
    gen = torch.Generator().manual_seed(4)
    current = (0.3 + 0.6 * torch.randn(3, 10, 9, dtype=torch.float64, generator=gen)).requires_grad_()
    w = torch.randn(9, 9, dtype=torch.float64, generator=gen).fill_diagonal_(0).requires_grad_()
    probe = torch.randn(3, 10, 9, dtype=torch.float64, generator=gen)
    results = []
    for layer in (recurrent_lif, reference_recurrent):
        z, y = layer(current, w, cfg)[:2]
        loss = (z * probe).sum() + (y * probe).sum()
        results.append((z.detach(), torch.autograd.grad(loss, [current, w])))
    assert torch.equal(results[0][0], results[1][0])
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="w_rec"):
        recurrent_lif(current, w[:5, :5], cfg)


def test_bf16_matmuls_approximate_the_float32_layer():
    net = LIFNetwork(small_cfg(n_rec=32), n_out=3)
    x = torch.randn(8, 8, 7, generator=torch.Generator().manual_seed(5))
    results = []
    for bf16 in (False, True):
        net.bf16_matmul = bf16
        readout, spikes = net(x)
        results.append((spikes[0].detach(), torch.autograd.grad(readout.square().sum(), net.w_rec[0])[0]))
    (z32, g32), (z16, g16) = results
    assert z16.dtype == torch.float32 and g16.dtype == torch.float32
    assert float((z32 == z16).float().mean()) > 0.95
    assert float(torch.nn.functional.cosine_similarity(g32.flatten(), g16.flatten(), dim=0)) > 0.95


def test_malloc_tuning_is_on_by_default_and_can_be_switched_off():
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert keep_freed_cpu_memory() is glibc
    code = "from stabviz.lif import keep_freed_cpu_memory as k; print(k())"
    env = {**os.environ, "STABVIZ_MALLOC_TUNING": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_evaluation_without_grad_gives_the_same_outputs():
    net = LIFNetwork(small_cfg(), n_layers=3, n_out=4)
    x = torch.randn(2, 6, 7, generator=torch.Generator().manual_seed(6))
    readout, spikes = net(x)
    with torch.no_grad():
        readout_eval, spikes_eval = net(x)
    assert not readout_eval.requires_grad
    torch.testing.assert_close(readout_eval, readout.detach())
    assert len(spikes_eval) == 3 and all(s.shape == (2, 6, 9) for s in spikes_eval)


def test_recurrent_diagonal_stays_zero_during_training():
    net = LIFNetwork(small_cfg(), n_layers=2, n_out=3)
    assert all(torch.all(torch.diagonal(w) == 0) for w in net.w_rec)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    x = torch.randn(4, 10, 7, generator=torch.Generator().manual_seed(7))
    for fast in (True, False, True):
        opt.zero_grad()
        readout, _ = net(x, fast=fast)
        torch.nn.functional.cross_entropy(readout[:, -1], torch.tensor([0, 1, 2, 0])).backward()
        assert all(torch.all(torch.diagonal(w.grad) == 0) for w in net.w_rec)
        assert any(float(w.grad.abs().sum()) > 0 for w in net.w_rec)
        opt.step()
    assert all(torch.all(torch.diagonal(w) == 0) for w in net.w_rec)


def test_conditions_initialisation_matches_the_theory():
    cfg = LIFConfig(n_in=200, n_rec=256, init_rec="conditions", input_mean=0.05, input_var=0.05)
    net = LIFNetwork(cfg, n_layers=2)
    for k in range(2):
        law = theory.recurrent_law(layer_config(cfg, k))
        w = net.w_rec[k].detach().double()
        values = w[~torch.eye(256, dtype=torch.bool)]
        n = values.numel()
        assert abs(float(values.mean()) - law.mean) < 5 * law.std / math.sqrt(n)
        assert abs(float(values.var()) - law.std**2) < 5 * law.std**2 * math.sqrt(2 / n)
    assert theory.recurrent_law(layer_config(cfg, 1)) != theory.recurrent_law(cfg)


def test_seeded_networks_are_identical():
    a, b = LIFNetwork(small_cfg(seed=3)), LIFNetwork(small_cfg(seed=3))
    c = LIFNetwork(small_cfg(seed=4))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.w_rec[0], c.w_rec[0])


@pytest.mark.parametrize("bad", [dict(n_layers=0), dict(n_layers=4), dict(n_out=0)])
def test_bad_network_sizes_raise(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        LIFNetwork(small_cfg(), **bad)


def test_bad_input_shape_raises():
    net = LIFNetwork(small_cfg())
    with pytest.raises(ValueError, match="x must have shape"):
        net(torch.zeros(2, 5, 8))


def probe_setting():
    cfg = LIFConfig(
        n_in=10, n_rec=32, leak=0.3, threshold=0.5, init_rec="normal", rec_std=0.3, init_in="normal", in_std=0.5
    )
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(8, 30, 10, generator=gen) < 0.5).float()
    return cfg, x, torch.randint(0, 3, (8,), generator=gen)


def test_gradient_gain_grows_with_dampening():
    cfg, x, target = probe_setting()
    gains = []
    for dampening in (0.3, 1.0, 3.0):
        net = LIFNetwork(cfg.replace(dampening=dampening), n_layers=2, n_out=3)
        norms = probe_gradient_flow(net, x, target)
        assert norms.shape == (2, 30) and np.all(np.isfinite(norms))
        assert all(p.grad is None for p in net.parameters())
        gains.append(fit_gradient_gain(norms))
    gains = np.array(gains)  # (dampening, layer)
    assert np.all(np.diff(gains, axis=0) > 0)
    assert gains[0].max() < 1 < gains[-1].min()  # vanishing at γ = 0.3, exploding at γ = 3


def test_probe_checks_the_target():
    cfg, x, _ = probe_setting()
    net = LIFNetwork(cfg, n_out=3)
    with pytest.raises(ValueError, match="target classes"):
        probe_gradient_flow(net, x, torch.full((8,), 3))
    with pytest.raises(ValueError, match="target must have shape"):
        probe_gradient_flow(net, x, torch.zeros(4, dtype=torch.long))


def test_fit_gradient_gain():
    steps = 20
    norms = 3.0 * 0.8 ** (steps - np.arange(steps))
    assert fit_gradient_gain(norms) == pytest.approx(0.8, rel=1e-12)
    spoiled = norms.copy()
    spoiled[[2, 5, 9]] = [0.0, np.nan, np.inf]
    assert fit_gradient_gain(spoiled) == pytest.approx(0.8, rel=1e-12)
    assert math.isnan(fit_gradient_gain([0.0, -1.0, 2.0]))
    np.testing.assert_allclose(fit_gradient_gain(np.stack([norms, 1.0 / norms])), [0.8, 1.25], rtol=1e-12)
    with pytest.raises(ValueError, match="norms"):
        fit_gradient_gain(np.ones((2, 2, 2)))


def test_bench_lif_command(capsys):
    from stabviz.cli import main

    threads = torch.get_num_threads()
    try:
        code = main(
            [
                "bench",
                "lif",
                "--n",
                "16",
                "--batch",
                "2",
                "--steps",
                "5",
                "--reps",
                "2",
                "--threads",
                "1",
                "--reset",
                "mult1",
                "--json",
            ]
        )
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["n"], result["batch"], result["steps"], result["threads"], result["reset"]) == (16, 2, 5, 1, "mult1")
    assert result["ms"] > 0 and 0 < result["floor_ms"] <= result["floor_row_ms"]
    assert result["efficiency"] == pytest.approx(result["floor_ms"] / result["ms"])
    assert result["efficiency_row"] == pytest.approx(result["floor_row_ms"] / result["ms"])
    assert main(["bench", "lif", "--n", "16", "--batch", "0", "--steps", "5"]) == 2
