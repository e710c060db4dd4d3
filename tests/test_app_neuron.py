"""The sidebar's neuron selector (lif / alif / cuba) and its parameters: the prediction is the variant's,
the link carries it and restores it."""

import pytest
from support import open_app

from stabviz import theory
from stabviz.config import LIFConfig, preset
from stabviz.ui import urlstate


@pytest.fixture(autouse=True)
def temp_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    return tmp_path


def _rho2(at):
    return next(m.value for m in at.metric if m.label.startswith("$\\rho^2$"))


def _param(at, name):
    value = at.query_params[name]
    return value[0] if isinstance(value, list) else value


def test_selecting_alif_changes_the_prediction_and_the_link_round_trips():
    base = preset("shd-tau20", n_rec=64)
    at = open_app(urlstate.setting_params(base.to_dict()))
    lif = _rho2(at)
    at.selectbox(key="lif_neuron").set_value("alif").run()
    assert not at.exception
    alif = base.replace(neuron="alif")
    assert _rho2(at) == f"{theory.predict_shown(alif).rho2:.4g}" != lif
    assert _param(at, "neuron") == "alif"
    at.number_input(key="lif_adapt_strength").set_value(0.5).run()
    assert not at.exception and _param(at, "adapt_strength") == "0.5"
    weaker = alif.replace(adapt_strength=0.5)
    assert _rho2(at) == f"{theory.predict_shown(weaker).rho2:.4g}"
    # the link restores the neuron and its parameter
    again = open_app({name: _param(at, name) for name in at.query_params})
    assert again.selectbox(key="lif_neuron").value == "alif"
    assert again.number_input(key="lif_adapt_strength").value == 0.5
    assert _rho2(again) == _rho2(at)


def test_cuba_shows_its_synaptic_decay_and_lif_hides_the_variant_fields():
    at = open_app(urlstate.setting_params(preset("shd-tau20", n_rec=64, neuron="cuba", syn_decay=0.5).to_dict()))
    assert at.number_input(key="lif_syn_decay").value == 0.5
    assert not [n for n in at.number_input if n.key == "lif_adapt_strength"]
    at.selectbox(key="lif_neuron").set_value("lif").run()
    assert not at.exception and "neuron" not in at.query_params
    assert not [n for n in at.number_input if n.key in ("lif_syn_decay", "lif_adapt_strength")]
    assert _rho2(at) == f"{theory.predict_shown(preset('shd-tau20', n_rec=64, syn_decay=0.5)).rho2:.4g}"


def test_an_out_of_range_variant_parameter_is_named_and_the_setting_kept():
    at = open_app({"neuron": "alif"})
    at.number_input(key="lif_adapt_decay").set_value(1.5).run()
    assert not at.exception
    assert any("adapt_decay" in e.value or "ρ_a" in e.value for e in at.error)
    assert _rho2(at) == f"{theory.predict_shown(LIFConfig(neuron='alif')).rho2:.4g}"


def test_a_variant_too_large_to_simulate_shows_the_lifs_numbers_and_says_so():
    """alif with a multiplicative reset is predicted from its simulation; above the neuron limit the page
    refuses to simulate and shows the plain LIF's prediction, saying so first."""
    from support import shown

    at = open_app({"neuron": "alif", "reset": "mult2", "n_rec": "4096"})
    assert not at.exception
    captions = [shown(c.value) for c in at.caption]
    assert any("the numbers shown are the plain LIF's" in c and "STABVIZ_MAX_NEURONS" in c for c in captions)
    lif = theory.predict(LIFConfig(reset="mult2", n_rec=4096))
    assert _rho2(at) == f"{lif.rho2:.4g}"


def test_a_variant_s_committed_verdict_carries_the_outcome_model_s_caveat():
    at = open_app({"neuron": "cuba"})
    box = " ".join(c.value for c in at.caption)
    assert "fitted on LIF runs only" in box
    lif = " ".join(c.value for c in open_app().caption)
    assert "fitted on LIF runs only" not in lif
