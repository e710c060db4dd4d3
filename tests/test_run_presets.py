"""Named run presets (config.RUN_PRESETS): every entry point that starts "a default run" builds it from its
preset, and the decay factor from a time constant is one function (config.tau_to_leak)."""

import math

import numpy as np
import pytest

from stabviz.cli.options import train_config_from_args, train_options
from stabviz.config import RUN_PRESETS, LIFConfig, TrainConfig, run_preset, tau_to_leak
from stabviz.runs.confirm import quick_config


def test_the_cli_default_is_trainconfigs_own():
    args = train_options().parse_args([])
    args.preset = "paper-slmnist"
    cfg = train_config_from_args(args)
    assert cfg.replace(lif=LIFConfig()) == TrainConfig() == run_preset("cli")
    assert (cfg.train_steps, cfg.batch) == (200, 64)


def test_a_cli_option_overrides_the_preset():
    args = train_options().parse_args(["--steps", "30", "--batch", "8"])
    cfg = train_config_from_args(args)
    assert (cfg.train_steps, cfg.batch, cfg.lr) == (30, 8, TrainConfig().lr)


def test_the_confirmation_run_is_the_quick_preset_at_the_settings_t():
    lif = LIFConfig(steps=30)
    cfg = quick_config(lif)
    assert cfg == run_preset("quick", lif=lif, time_steps=30)
    assert (cfg.train_steps, cfg.batch, cfg.samples, cfg.log_every, cfg.time_limit) == (40, 16, 400, 2, 300.0)


def test_the_runs_form_starts_from_the_quick_run_with_a_sparsity_target():
    lif = LIFConfig(steps=30)
    form, quick = quick_config(lif, preset="form"), quick_config(lif)
    assert form.replace(sparsity_target=quick.sparsity_target) == quick
    assert (form.sparsity_target, form.sparsity_weight) == (0.05, 0.0)  # the loss stays off until asked


def test_a_preset_change_is_validated_and_an_unknown_preset_named():
    assert run_preset("sweep", train_steps=7).train_steps == 7
    assert set(RUN_PRESETS) == {"cli", "quick", "form", "sweep"}
    with pytest.raises(ValueError, match="run preset.*'huge'"):
        run_preset("huge")
    with pytest.raises(ValueError, match="batch"):
        run_preset("quick", batch=0)


def test_tau_to_leak_for_numbers_and_grids():
    assert tau_to_leak(20.0) == math.exp(-1.0 / 20.0)
    grid = np.array([0.1, 20.0, 5000.0])
    assert np.array_equal(tau_to_leak(grid), np.exp(-1.0 / grid))  # numpy's values: the sliders' stops
    with pytest.raises(ValueError, match=r"tau_syn = -1 is outside the allowed range \(0, inf\)"):
        tau_to_leak(-1, "tau_syn")
    with pytest.raises(ValueError, match="tau = 0"):
        tau_to_leak(np.array([1.0, 0.0]))


def test_the_recommended_setting_flag_keeps_its_old_names():
    """Renamed from use_recommended_sg: stored runs keep loading, and the CLI keeps the old option."""
    from stabviz.evidence.results import config_key

    new = TrainConfig(use_recommended_setting=True)
    old = {k: v for k, v in new.to_dict().items() if k != "use_recommended_setting"}
    old["use_recommended_sg"] = True
    assert TrainConfig.from_dict(old) == new
    assert config_key(old) == config_key(new.to_dict())  # the Evidence overlay finds the stored run
    for flag in ("--recommended", "--recommended-sg"):
        assert train_config_from_args(train_options().parse_args([flag])).use_recommended_setting
    assert not train_config_from_args(train_options().parse_args(["--no-recommended-sg"])).use_recommended_setting
