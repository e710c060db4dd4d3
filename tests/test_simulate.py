"""The measured check: its transition-derivative algebra against autograd, and the gaussian model against it."""

import math

import pytest
import torch

from stabviz import simulate, surrogates, theory
from stabviz.config import LIFConfig, preset


def _one_step(cfg, y_prev, current, w_rec):
    """y_t as a function of y_{t−1} with the surrogate in the backward pass
    (docs/theory.md#11-the-layer-equations-l1-to-l3 (L1)-(L3))."""
    z = surrogates.spike(y_prev - cfg.threshold, cfg.surrogate)
    zr = z if cfg.reset_grad else z.detach()
    drive = current + z @ w_rec
    if cfg.reset == "subtract":
        return cfg.leak * y_prev + drive - cfg.threshold * zr
    if cfg.reset == "mult1":
        return (cfg.leak * y_prev + drive) * (1 - zr)
    return cfg.leak * y_prev * (1 - zr) + drive


@pytest.mark.parametrize("reset", ["subtract", "mult1", "mult2"])
@pytest.mark.parametrize("reset_grad", [False, True])
def test_transition_terms_equal_the_autograd_jacobian(reset, reset_grad):
    torch.manual_seed(0)
    n = 6
    cfg = LIFConfig(
        n_rec=n,
        n_in=3,
        leak=0.8,
        threshold=0.3,
        reset=reset,
        reset_grad=reset_grad,
        shape="fastsigmoid",
        dampening=0.7,
        sharpness=1.3,
    )
    w = torch.randn(n, n, dtype=torch.float64) * 0.5
    w.fill_diagonal_(0)
    y_prev = torch.randn(n, dtype=torch.float64) * 0.5 + 0.3
    current = torch.randn(n, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda y: _one_step(cfg, y, current, w), y_prev)  # M_ij
    z = (y_prev > cfg.threshold).double()
    s = surrogates.sg_prime_torch(y_prev - cfg.threshold, cfg.surrogate)
    c, r = simulate.transition_terms(cfg, cfg.leak, cfg.threshold, y_prev, z, s, current + z @ w)
    model = torch.diag(c) + r[:, None] * w.t() * s[None, :]
    assert torch.allclose(model, jac, atol=1e-12)


def test_measurement_is_seeded_and_reproducible():
    cfg = preset("shd-tau20", n_rec=64)
    a = simulate.measure(cfg, batch=8, steps=80, burn_in=20, seed=3)
    b = simulate.measure(cfg, batch=8, steps=80, burn_in=20, seed=3)
    c = simulate.measure(cfg, batch=8, steps=80, burn_in=20, seed=4)
    assert a.rho2 == b.rho2 and a.firing_rate == b.firing_rate
    assert a.rho2 != c.rho2
    assert len(a.voltages) > 0 and a.steps_measured == 60


@pytest.mark.parametrize("name", ["paper-slmnist", "paper-shd", "shd-tau20"])
def test_gaussian_model_agrees_with_simulation_on_the_presets(name):
    cfg = preset(name)
    m = simulate.measure(cfg, batch=64, steps=300, burn_in=100, seed=0)
    p = theory.predict(cfg, "gaussian")
    assert abs(p.firing_rate - m.firing_rate) < 0.05
    assert p.rho2 == pytest.approx(m.rho2, rel=0.25)


@pytest.mark.parametrize("name", ["paper-slmnist", "shd-tau20"])
def test_theory_predicts_the_pytorch_default_initialisation(name):
    # nn.Linear's default init for both matrices: the laws (uniform, std 1/√(3 fan_in)) feed the theory;
    # the tolerances are the presets' above (measured: |Δp| ≤ 0.04, ρ² within 8%)
    cfg = preset(name).replace(init_rec="pytorch-default", init_in="pytorch-default")
    m = simulate.measure(cfg, batch=64, steps=300, burn_in=100, seed=0)
    p = theory.predict(cfg, "gaussian")
    assert abs(p.firing_rate - m.firing_rate) < 0.05
    assert p.rho2 == pytest.approx(m.rho2, rel=0.25)


def test_measured_gradient_gain_tracks_rho():
    # ρ̂ measured by pushing a vector back must order like the predicted ρ, across dampening
    cfg = preset("shd-tau20", n_rec=128)
    gains = [
        simulate.measure(cfg.replace(dampening=g), batch=16, steps=160, burn_in=60, seed=1).rho_hat
        for g in (0.05, 0.5, 3.0)
    ]
    assert gains[0] < gains[1] < gains[2]
    pred = theory.predict(cfg.replace(dampening=3.0))
    assert pred.rho > 1 and gains[2] > 1


def test_measured_voltage_model_feeds_the_theory():
    cfg = preset("shd-tau20", n_rec=64, voltage_model="measured")
    p = theory.predict(cfg)
    assert p.voltage_model == "measured" and 0 < p.firing_rate < 1 and math.isfinite(p.rho2)
    assert theory.recommend(cfg).sharpness is not None


def test_bad_burn_in_is_a_clear_error():
    with pytest.raises(ValueError, match="burn_in"):
        simulate.measure(preset("paper-shd", n_rec=16), steps=10, burn_in=10)


def test_the_measured_model_burns_in_for_five_time_constants_or_says_it_could_not():
    from stabviz import theory

    slow = preset("shd-tau20", n_rec=32, n_in=40, tau=60.0)
    short = simulate.measure(slow, batch=4, steps=160, burn_in=100)
    assert short.notes and "5τ = 300" in short.notes[0]
    v = theory.measured_voltage(slow, batch=4)  # burns in 5τ = 300 steps by itself
    assert v.measurement.notes == [] and v.measurement.steps_measured == 200
    very_slow = slow.replace(leak=0.9999)  # 5τ = 50000 steps: over the limit, said so
    assert simulate.stationary_burn_in(very_slow) == simulate.MAX_BURN_IN
    assert "limit" in simulate.burn_in_notes(very_slow, simulate.MAX_BURN_IN)[0]
