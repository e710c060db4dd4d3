"""stabviz.neuron states (L1)-(L3) once: its users (the Learn page's numpy step, the reference layer, the
measured check and the fast layer) agree on random inputs in every reset mode."""

import numpy as np
import pytest
import torch

from stabviz import lif, neuron, simulate
from stabviz.config import LIFConfig
from stabviz.ui import teach

RESETS = ["subtract", "mult1", "mult2"]


def random_state(seed: int, batch: int = 5, n: int = 11):
    rng = np.random.default_rng(seed)
    y_prev = rng.normal(0.2, 0.5, (batch, n))
    z_prev = (rng.random((batch, n)) < 0.4).astype(float)
    current = rng.normal(0.0, 0.4, (batch, n))
    return y_prev, z_prev, current


def written_out(y_prev, z_prev, current, leak, theta, reset):
    """docs/theory.md#1-the-model, by hand."""
    if reset == "subtract":
        y = leak * y_prev + current - theta * z_prev
    elif reset == "mult1":
        y = (leak * y_prev + current) * (1 - z_prev)
    else:
        y = leak * y_prev * (1 - z_prev) + current
    return y, (y > theta).astype(float)


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("reset_grad", [False, True])
def test_every_user_takes_the_same_step(reset, reset_grad):
    leak, theta = 0.8, 0.3
    y_prev, z_prev, current = random_state(3)
    want_y, want_z = written_out(y_prev, z_prev, current, leak, theta, reset)

    y, z = teach.lif_step(y_prev, z_prev, current, leak, theta, reset)  # numpy, Learn page
    assert np.array_equal(y, want_y) and np.array_equal(z, want_z)

    t = [torch.from_numpy(a) for a in (y_prev, z_prev, current)]
    y = neuron.integrate(t[0], t[1], t[2], leak, theta, reset)  # the measured check
    assert np.array_equal(y.numpy(), want_y)
    assert np.array_equal(neuron.fire(y, theta).numpy(), want_z)

    cfg = LIFConfig(n_rec=11, n_in=3, leak=leak, threshold=theta, reset=reset, reset_grad=reset_grad)
    w0 = torch.zeros(11, 11, dtype=torch.float64)
    z_ref, y_ref = lif.lif_step(t[2], t[1], t[0], w0, lif.Dynamics.of(cfg))  # the reference layer
    assert np.array_equal(y_ref.detach().numpy(), want_y)
    assert np.array_equal(z_ref.detach().numpy(), want_z)


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("reset_grad", [False, True])
def test_fast_layer_follows_the_rule(reset, reset_grad):
    """The fast layer's in-place loop against neuron.step run step by step."""
    cfg = LIFConfig(n_rec=11, n_in=3, leak=0.8, threshold=0.3, reset=reset, reset_grad=reset_grad)
    rng = np.random.default_rng(5)
    current = rng.normal(0.1, 0.4, (25, 11, 4))  # (T, n, batch)
    w = rng.normal(0.0, 0.3, (11, 11))
    np.fill_diagonal(w, 0.0)
    z_fast, y_fast, _, _ = lif.fast._forward_loop(
        torch.from_numpy(current), torch.from_numpy(w), lif.Dynamics.of(cfg), False
    )
    y, z = np.zeros((4, 11)), np.zeros((4, 11))
    for t in range(current.shape[0]):
        y, z = neuron.step(y, z, current[t].T + z @ w, cfg.leak, cfg.threshold, reset)
        assert np.allclose(y_fast[t].numpy().T, y, rtol=0, atol=1e-12)
        assert np.array_equal(z_fast[t].numpy().T, z)


def test_measured_check_runs_the_rule():
    """simulate.measure_layer's voltages are neuron.step's, for a layer driven by known currents."""
    cfg = LIFConfig(n_rec=6, n_in=4, leak=0.7, threshold=0.2, reset="mult2")
    gen = torch.Generator().manual_seed(0)
    inputs = torch.rand(2, 12, 4, generator=gen, dtype=torch.float64)
    w_in = torch.randn(4, 6, generator=gen, dtype=torch.float64) * 0.5
    w_rec = torch.randn(6, 6, generator=gen, dtype=torch.float64) * 0.5
    w_rec.fill_diagonal_(0)
    bias = torch.zeros(6, dtype=torch.float64)
    m = simulate.measure_layer(w_in, w_rec, bias, cfg, inputs, burn_in=11, voltage_samples=100)
    y, z = torch.zeros(2, 6, dtype=torch.float64), torch.zeros(2, 6, dtype=torch.float64)
    for t in range(12):
        y, z = neuron.step(y, z, inputs[:, t] @ w_in + bias + z @ w_rec, cfg.leak, cfg.threshold, "mult2")
    assert np.array_equal(np.sort(m.voltages), np.sort(y.flatten().numpy()))


def test_unknown_reset_is_refused():
    with pytest.raises(ValueError, match="reset = 'hard'"):
        neuron.integrate(0.0, 0.0, 1.0, 0.5, 0.3, "hard")


def test_neuron_needs_no_torch():
    src = open(neuron.__file__, encoding="utf-8").read()
    assert "import torch" not in src and "import numpy" not in src
