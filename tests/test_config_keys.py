"""config.py's field groups and config_key: the one way a setting becomes a cache key, and the cache hits
it gives (a dampening move reuses the voltage state and the region's axis terms)."""

import dataclasses

import pytest

from stabviz import config, theory
from stabviz.config import Keyed, LIFConfig, config_key, fields_except, preset

GROUPS = (
    config.FORWARD_FIELDS,
    config.SURROGATE_FIELDS,
    config.GRADIENT_FIELDS,
    config.MODEL_FIELDS,
    config.DISPLAY_FIELDS,
)


def test_the_groups_partition_the_fields():
    names = [f for g in GROUPS for f in g]
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(LIFConfig))
    assert len(names) == len(set(names))


@pytest.mark.parametrize("change", [dict(dampening=0.3), dict(sharpness=7.0), dict(shape="gaussian"), dict(tail=3.0)])
def test_a_surrogate_change_keeps_the_forward_key(change):
    cfg = preset("shd-tau20")
    assert config_key(cfg.replace(**change), config.FORWARD_FIELDS) == config_key(cfg, config.FORWARD_FIELDS)
    assert config_key(cfg.replace(**change)) != config_key(cfg)


@pytest.mark.parametrize(
    "change",
    [
        dict(leak=0.5),
        dict(threshold=0.2),
        dict(reset="mult1"),
        dict(n_rec=64),
        dict(rec_std=0.3),
        dict(input_mean=0.1),
        dict(seed=3),
    ],
)
def test_a_forward_change_changes_the_forward_key(change):
    cfg = preset("shd-tau20")
    assert config_key(cfg.replace(**change), config.FORWARD_FIELDS) != config_key(cfg, config.FORWARD_FIELDS)


def test_keys_round_to_ten_digits_unless_exact():
    a, b = LIFConfig(leak=0.5), LIFConfig(leak=0.5 + 1e-13)
    assert config_key(a) == config_key(b) and hash(Keyed(a)) == hash(Keyed(b)) and Keyed(a) == Keyed(b)
    assert config_key(a, digits=None) != config_key(b, digits=None)
    assert config_key(a, ("leak", "reset")) == (0.5, "subtract")
    assert fields_except(*config.FORWARD_FIELDS[1:]) == ("n_rec",) + tuple(
        f for f in config.FIELDS if f not in config.FORWARD_FIELDS
    )


def test_a_dampening_move_reuses_the_voltage_state_and_the_axis_terms():
    cfg = preset("shd-tau20", leak=0.93)
    assert theory.voltage_state(cfg) is theory.voltage_state(cfg.replace(dampening=0.4, sharpness=3.0, steps=7))
    assert theory.voltage_state(cfg) is not theory.voltage_state(cfg.replace(leak=0.94))
    theory.region(cfg, "sharpness", "dampening", 20, 20)
    misses = theory._region_terms.cache_info().misses
    moved = theory.region(cfg.replace(dampening=0.45), "sharpness", "dampening", 20, 20)
    assert theory._region_terms.cache_info().misses == misses
    assert moved.current == (cfg.sharpness, 0.45)
    theory.region(cfg.replace(leak=0.94), "sharpness", "dampening", 20, 20)
    assert theory._region_terms.cache_info().misses == misses + 1


def test_the_dashboard_hashes_and_computes_with_the_rounded_setting():
    from stabviz.ui import compute

    a, b = preset("shd-tau20"), preset("shd-tau20", leak=preset("shd-tau20").leak * (1 + 1e-13))
    hash_of = compute.HASH_FUNCS[LIFConfig]
    assert hash_of(a) == hash_of(b) and hash_of(a) != hash_of(a.replace(dampening=0.5))
    assert compute.config_of(a) == compute.config_of(b) == LIFConfig(**dict(zip(config.FIELDS, config_key(a))))
    fwd = compute.forward_config(a.replace(dampening=0.3, shape="cauchy", reset_grad=True, steps=9))
    assert config_key(fwd) == config_key(compute.forward_config(a))
    assert config_key(fwd, config.FORWARD_FIELDS) == config_key(a, config.FORWARD_FIELDS)
