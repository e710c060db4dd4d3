"""Fluctuation-driven input initialisation (init_in = "fluctuation" / "fluctuation-theta",
docs/theory.md#96-fluctuation-driven-initialisation): the free voltage hits its target mean and spread, the mean-field
rate predicts the
initial rate of a feed-forward layer, and impossible targets give one clear message."""

import math

import pytest
import torch

from stabviz import laws, simulate, variant_gain
from stabviz.config import LIFConfig, preset
from stabviz.weights import layer_weights


def free_voltage(cfg, batch=16, steps=500, burn_in=250):
    """The voltage without reset or recurrence: the input current through the neuron's PSP kernel."""
    g = torch.Generator().manual_seed(cfg.seed)
    w_in, _, bias = layer_weights(cfg, generator=g, dtype=torch.float64)
    x = simulate.bernoulli_inputs(cfg, batch, steps, g, dtype=torch.float64)
    current = x @ w_in + bias
    syn = cfg.syn_decay if cfg.neuron == "cuba" else 0.0
    i = y = torch.zeros_like(current[:, 0])
    kept = []
    for t in range(steps):
        i = syn * i + current[:, t]
        y = cfg.leak * y + i
        if t >= burn_in:
            kept.append(y)
    return torch.stack(kept)


SETTINGS = [
    dict(),
    dict(neuron="cuba"),
    dict(leak=0.8, n_in=200, input_mean=0.2, input_var=0.16),
    dict(neuron="cuba", syn_decay=0.5, leak=0.9, bias=0.0005),
    dict(neuron="alif", n_in=300, input_mean=0.1, input_var=0.09),
]


@pytest.mark.parametrize("init", ["fluctuation", "fluctuation-theta"])
@pytest.mark.parametrize("setting", SETTINGS)
def test_the_free_voltage_hits_its_target(init, setting):
    cfg = preset("shd-tau20", n_rec=1024, init_in=init, **setting)  # 1024 neurons sample the fixed means
    mu_u, sigma_u = laws.fluctuation_target(cfg)
    y = free_voltage(cfg)
    assert abs(float(y.mean()) - mu_u) < 0.1 * sigma_u
    assert float(y.std()) == pytest.approx(sigma_u, rel=0.06)


# held out: none of these were used to write or tune the rate theory (variant_gain.predicted_rate)
HELD_OUT = [
    dict(),
    dict(neuron="cuba"),
    dict(neuron="alif", adapt_strength=0.02),
    dict(leak=0.8),
    dict(neuron="cuba", syn_decay=0.5, leak=0.9),
    dict(n_in=200, input_mean=0.2, input_var=0.16),
    dict(neuron="alif", adapt_strength=0.05, n_in=300, input_mean=0.1, input_var=0.09),
]


@pytest.mark.parametrize("init", ["fluctuation", "fluctuation-theta"])
@pytest.mark.parametrize("setting", HELD_OUT)
def test_the_predicted_initial_rate_of_a_feed_forward_layer(init, setting):
    cfg = preset("shd-tau20", n_rec=128, init_in=init, init_rec="normal", rec_mean=0.0, rec_std=0.0, **setting)
    measured = simulate.measure(cfg, batch=32, steps=600, burn_in=300, seed=5).firing_rate
    assert abs(variant_gain.predicted_rate(cfg)["rate"] - measured) < 0.05


def test_the_theta_target_fires_more_than_the_centred_one():
    rates = [
        simulate.measure(
            preset("shd-tau20", n_rec=64, init_in=i, init_rec="normal", rec_std=0.0), batch=16, steps=400, burn_in=200
        ).firing_rate
        for i in ("fluctuation", "fluctuation-theta")
    ]
    assert rates[1] > rates[0] > 0


def test_impossible_targets_say_which_parameter():
    with pytest.raises(
        ValueError, match=r"init_in = 'fluctuation' needs input spikes: input_mean = 0 must be in \(0, 1000\]"
    ):
        laws.input_law(LIFConfig(init_in="fluctuation", input_mean=0.0, input_var=0.0))
    with pytest.raises(ValueError, match="init_in = 'fluctuation-theta' has no solution.*bias = -5"):
        laws.input_law(preset("shd-tau20", init_in="fluctuation-theta", bias=-5.0))


def test_the_law_is_the_input_drive_the_theory_sees():
    cfg = preset("shd-tau20", init_in="fluctuation-theta", neuron="cuba")
    d, _ = laws.input_drive(cfg)
    law, (total, square) = laws.input_law(cfg), laws.psp_sums(cfg)
    m, v = cfg.input_mean, cfg.input_var
    spread = cfg.n_in * (law.second_moment * v * square + law.std**2 * m * m * total**2)
    assert d * total == pytest.approx(cfg.threshold) and math.sqrt(spread) == pytest.approx(cfg.threshold)
