"""The recurrent part of the fluctuation-driven initialisation (init_rec = "fluctuation",
docs/theory.md#97-the-recurrent-part-of-the-fluctuation-driven-initialisation):
the recurrent weights carry the share rec_share of the free voltage's variance σ_U² and the input weights the
rest, the mean-field rate predicts the initial rate of the recurrent layer within 0.05 on settings held out from
the theory, and bad shares are one clear message."""

import math

import pytest
import torch

from stabviz import conditions, laws, simulate, theory, variant_gain
from stabviz.cli import build_parser
from stabviz.cli.options import lif_config_from_args
from stabviz.config import LIFConfig, preset
from stabviz.weights import layer_weights


def free_voltage_parts(cfg, batch=8, steps=300, burn_in=150):
    """The voltage without reset, driven (a) by the input spikes alone and (b) by independent recurrent spikes
    at the target's rate p alone: the two parts whose variances the initialisation sets."""
    g = torch.Generator().manual_seed(cfg.seed)
    w_in, w_rec, bias = layer_weights(cfg, generator=g, dtype=torch.float64)
    x = simulate.bernoulli_inputs(cfg, batch, steps, g, dtype=torch.float64)
    z = torch.bernoulli(
        torch.full((batch, steps, cfg.n_rec), laws.fluctuation_rate(cfg), dtype=torch.float64), generator=g
    )
    return [_filtered(cfg, current, burn_in) for current in (x @ w_in + bias, z @ w_rec)]


def _filtered(cfg, current, burn_in):
    syn = cfg.syn_decay if cfg.neuron == "cuba" else 0.0
    i = y = torch.zeros_like(current[:, 0])
    kept = []
    for t in range(current.shape[1]):
        i = syn * i + current[:, t]
        y = cfg.leak * y + i
        if t >= burn_in:
            kept.append(y)
    return torch.stack(kept)


@pytest.mark.parametrize("init_in", ["fluctuation", "fluctuation-theta"])
@pytest.mark.parametrize("setting", [dict(rec_share=0.1), dict(rec_share=0.4, neuron="cuba")])
def test_the_recurrent_weights_carry_their_share_of_the_variance(init_in, setting):
    cfg = preset("shd-tau20", n_rec=1024, init_in=init_in, init_rec="fluctuation", **setting)
    share, (mu_u, sigma_u) = cfg.rec_share, laws.fluctuation_target(cfg)
    inp, rec = free_voltage_parts(cfg)
    assert float(rec.std()) == pytest.approx(math.sqrt(share) * sigma_u, rel=0.08)
    assert float(inp.std()) == pytest.approx(math.sqrt(1 - share) * sigma_u, rel=0.08)
    assert abs(float(inp.mean()) - mu_u) < 0.1 * sigma_u and abs(float(rec.mean())) < 0.1 * sigma_u


def test_the_law_is_centred_with_a_zero_diagonal_and_share_zero_is_the_feed_forward_initialisation():
    cfg = preset("shd-tau20", n_rec=64, init_in="fluctuation-theta", init_rec="fluctuation")
    _, w_rec, _ = layer_weights(cfg)
    assert conditions.recurrent_law(cfg).mean == 0.0 and torch.all(w_rec.diagonal() == 0)
    assert float(w_rec.std()) == pytest.approx(conditions.recurrent_law(cfg).std, rel=0.05)
    none = cfg.replace(rec_share=0.0)
    assert conditions.recurrent_law(none).std == 0.0
    assert laws.input_law(none) == laws.input_law(cfg.replace(init_rec="normal", rec_std=0.0))
    assert laws.fluctuation_rate(cfg) == pytest.approx(0.5)
    assert laws.fluctuation_rate(cfg.replace(init_in="fluctuation")) == pytest.approx(0.1587, abs=1e-4)


# held out: none of these were used to write the rate theory (variant_gain.predicted_rate) or this law
HELD_OUT = [
    dict(),
    dict(neuron="cuba"),
    dict(neuron="alif", adapt_strength=0.02),
    dict(leak=0.8),
    dict(rec_share=0.3, n_in=200, input_mean=0.2, input_var=0.16),
    dict(rec_share=0.5, leak=0.9),
]


@pytest.mark.parametrize("init_in", ["fluctuation", "fluctuation-theta"])
@pytest.mark.parametrize("setting", HELD_OUT)
def test_the_predicted_initial_rate_of_a_recurrent_layer(init_in, setting):
    cfg = preset("shd-tau20", n_rec=128, init_in=init_in, init_rec="fluctuation", **setting)
    measured = simulate.measure(cfg, batch=32, steps=600, burn_in=300, seed=5).firing_rate
    assert abs(variant_gain.predicted_rate(cfg)["rate"] - measured) < 0.05


def test_the_theory_predicts_for_it_and_a_standard_input_init_takes_the_centred_target():
    cfg = preset("shd-tau20", n_rec=64, init_rec="fluctuation")
    assert laws.fluctuation_target(cfg) == (0.0, cfg.threshold)
    assert math.isfinite(theory.predict(cfg).rho)


def test_the_share_is_an_option_and_bad_values_are_one_clear_message():
    args = build_parser().parse_args(
        ["simulate", "--init", "fluctuation", "--init-in", "fluctuation", "--rec-share", "0.25"]
    )
    cfg = lif_config_from_args(args)
    assert (cfg.init_rec, cfg.rec_share) == ("fluctuation", 0.25)
    for bad in (1.0, -0.1, math.nan):
        with pytest.raises(ValueError, match=r"rec_share = .* is outside the allowed range \[0, 1\)"):
            LIFConfig(rec_share=bad)
    assert "rec_share" not in LIFConfig().to_record()  # records from before it keep their identity
    assert LIFConfig.from_dict(LIFConfig(rec_share=0.3).to_record()).rec_share == 0.3
