"""The one Surrogate record: its defaults are LIFConfig's, the config holds and replaces it, and stored
configs keep the four fields they always had."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from stabviz.config import DEFAULT_SURROGATE, SURROGATE_FIELDS, LIFConfig, Surrogate, TrainConfig


def test_the_config_defaults_are_the_records_defaults():
    fields = {f.name: f.default for f in dataclasses.fields(LIFConfig)}
    assert {name: fields[name] for name in SURROGATE_FIELDS} == DEFAULT_SURROGATE.to_dict()
    assert LIFConfig().surrogate == Surrogate() == DEFAULT_SURROGATE
    assert DEFAULT_SURROGATE.to_dict() == {"shape": "fastsigmoid", "dampening": 1.0, "sharpness": 1.0, "tail": 1.56}


def test_the_config_holds_the_record_and_replaces_it_whole():
    sg = Surrogate("qpseudospike", 0.3, 2.5, 3.0)
    cfg = LIFConfig(n_rec=16).replace(surrogate=sg)
    assert cfg.surrogate == sg
    assert (cfg.shape, cfg.dampening, cfg.sharpness, cfg.tail) == ("qpseudospike", 0.3, 2.5, 3.0)
    assert cfg == LIFConfig(n_rec=16, shape="qpseudospike", dampening=0.3, sharpness=2.5, tail=3.0)
    # a field named beside the record wins, as in dataclasses.replace
    assert cfg.replace(surrogate=Surrogate("cauchy"), dampening=2.0).surrogate == Surrogate("cauchy", 2.0)
    assert cfg.replace(surrogate="sigmoid").surrogate == Surrogate("sigmoid")


def test_stored_configs_keep_their_four_fields():
    cfg = LIFConfig(n_rec=16, shape="cauchy", dampening=0.5)
    record = cfg.to_record()
    assert "surrogate" not in record and {k: record[k] for k in SURROGATE_FIELDS} == cfg.surrogate.to_dict()
    assert LIFConfig.from_dict(record) == cfg
    run = TrainConfig(lif=cfg).to_dict()
    assert "surrogate" not in run["lif"] and TrainConfig.from_dict(run).lif.surrogate == cfg.surrogate


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Surrogate("atan"), "shape = 'atan' is not one of"),
        (lambda: Surrogate("fastsigmoid", 0.0), r"dampening = 0.0 is outside the allowed range \(0, 1000\]"),
        (lambda: Surrogate("fastsigmoid", 1.0, float("nan")), "sharpness = nan is outside the allowed range"),
        (lambda: Surrogate("qpseudospike", tail=1.0), r"tail = 1.0 is outside the allowed range \[1.001, 10000\]"),
        (lambda: Surrogate("fastsigmoid", True), "dampening = True is a boolean"),
        (lambda: Surrogate("fastsigmoid", np.array([1.0, -1.0])), "dampening = -1.0 is outside"),
        (lambda: Surrogate.of(3), "surrogate = 3 must be a Surrogate record or a shape name"),
        (lambda: LIFConfig().replace(surrogate=Surrogate("cauchy", 2e3)), "dampening = 2000.0 is outside"),
    ],
)
def test_bad_values_name_the_parameter_and_its_range(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_numbers_become_floats_and_arrays_stay_arrays():
    sg = Surrogate("gaussian", 2, np.float32(3.0), np.array(1.5))
    assert [type(getattr(sg, f)) for f in ("dampening", "sharpness", "tail")] == [float, float, float]
    grid = Surrogate("cauchy", 1.0, [0.5, 1.0, 2.0])
    assert isinstance(grid.sharpness, np.ndarray) and grid.sharpness.tolist() == [0.5, 1.0, 2.0]
