"""measure-map for alif and cuba: every cell is `simulate.measure` at that setting (the same weights, inputs
and start vector, pushed back through the 2 × 2 blocks), and the predicted field is the variant's own."""

import json
import math

import numpy as np
import pytest
from test_cli import SMALL_SIM, run

from stabviz import measured, simulate, theory, variant_gain
from stabviz.config import preset

SIM = dict(batch=8, steps=150, burn_in=60, seed=4)


@pytest.mark.parametrize(
    "kw", [{"neuron": "cuba"}, {"neuron": "alif"}, {"neuron": "alif", "reset": "mult1", "reset_grad": True}]
)
@pytest.mark.parametrize("x", ["sharpness", "leak"])
def test_a_variant_map_cell_is_simulate_measure_there(kw, x):
    cfg = preset("shd-tau20", n_rec=32, steps=50, **kw)
    m = measured.measure_map(cfg, x=x, nx=3, ny=3, **SIM)
    for i, j in ((1, 2), (2, 0)):
        at = cfg.replace(dampening=float(m.y[i]), **{x: float(m.x[j])})
        assert m.rho_hat[i, j] == pytest.approx(simulate.measure(at, **SIM).rho_hat, rel=1e-6)


def test_a_variant_map_is_not_the_lifs():
    cfg = preset("shd-tau20", n_rec=32, steps=50, neuron="cuba")
    cuba = measured.measure_map(cfg, nx=2, ny=2, **SIM)
    lif = measured.measure_map(cfg.replace(neuron="lif"), nx=2, ny=2, **SIM)
    assert not np.allclose(cuba.rho_hat, lif.rho_hat)


def test_the_predicted_field_is_the_variants_closed_form_gain():
    cfg = preset("shd-tau20", n_rec=32, steps=50, neuron="alif", adapt_strength=0.2)
    m = measured.measure_map(cfg, nx=2, ny=2, **SIM)
    at = cfg.replace(dampening=float(m.y[1]), sharpness=float(m.x[0]))
    gain = variant_gain.closed_form_gain(at)["gain"]
    assert m.predicted_log10_gain[1, 0] == pytest.approx(at.steps * math.log10(gain), rel=1e-9)
    assert m.predicted_regime[1, 0] == theory.regime_of(m.predicted_log10_gain[1, 0], cfg.tolerance)


def test_a_multiplicative_variant_has_no_predicted_field():
    cfg = preset("shd-tau20", n_rec=16, steps=30, neuron="cuba", reset="mult2")
    m = measured.measure_map(cfg, nx=2, ny=2, batch=4, steps=80, burn_in=30, seed=1)
    assert np.isnan(m.predicted_log10_gain).all() and np.isfinite(m.rho_hat).all()


def test_measure_map_on_the_command_line_maps_the_chosen_neuron():
    args = ("measure-map", *SMALL_SIM, "--nx", "2", "--ny", "2")
    cuba = json.loads(run(*args, "--neuron", "cuba").stdout)
    lif = json.loads(run(*args).stdout)
    assert cuba["rho_hat"] != lif["rho_hat"] and len(cuba["rho_hat"]) == 2
