"""The neuron-variant fields of LIFConfig: validated like the others, and invisible in a plain LIF's
stored record (runs and evidence configs written before the variants keep their identity)."""

import json

import pytest

from stabviz.config import FIELDS, NEURON_FIELDS, LIFConfig, TrainConfig, config_key, preset


def test_a_plain_lif_record_has_exactly_the_old_fields():
    record = TrainConfig().to_dict()
    assert set(record["lif"]) == set(FIELDS) - set(NEURON_FIELDS) - {"rec_share"}
    assert TrainConfig.from_dict(json.loads(json.dumps(record))) == TrainConfig()


def test_a_variant_record_keeps_its_fields_and_round_trips():
    cfg = TrainConfig(lif=preset("shd-tau20", neuron="alif", adapt_strength=0.5, adapt_grad=False))
    record = json.loads(json.dumps(cfg.to_dict()))
    assert record["lif"]["neuron"] == "alif" and record["lif"]["adapt_grad"] is False
    assert TrainConfig.from_dict(record) == cfg
    # a LIF whose variant parameters were moved is a different setting: it keeps them too
    assert "syn_decay" in LIFConfig(syn_decay=0.5).to_record()


def test_variants_have_their_own_cache_keys():
    lif = preset("shd-tau20")
    assert config_key(lif) != config_key(lif.replace(neuron="cuba"))
    assert config_key(lif.replace(neuron="alif", adapt_strength=0.1)) != config_key(lif.replace(neuron="alif"))


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(neuron="izhikevich"), "neuron = 'izhikevich' is not one of: lif, alif, cuba"),
        (dict(adapt_strength=-0.1), "adapt_strength = -0.1 is outside the allowed range [0, 100]"),
        (dict(adapt_decay=1.0), "adapt_decay = 1.0 is outside the allowed range [0, 0.9999]"),
        (dict(syn_decay=-1e-9), "syn_decay = -1e-09 is outside the allowed range [0, 0.9999]"),
        (dict(adapt_grad="yes"), "adapt_grad = 'yes' must be true or false"),
    ],
)
def test_bad_variant_values_name_the_parameter_and_range(change, message):
    with pytest.raises(ValueError) as err:
        LIFConfig(**change)
    assert str(err.value) == message
