"""Calibrated verdicts: the stored band, the 'uncertain' label, held-out coverage, whole options."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from stabviz import calibration, theory
from stabviz.config import PRESETS, preset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import calibrate  # noqa: E402  (the script that made the stored table)


def test_the_stored_table_has_its_provenance_and_every_group():
    table = calibration.table()
    prov = table["provenance"]
    for key in ("script", "date", "commit", "settings", "seed", "quantiles", "measurement"):
        assert key in prov
    for model in ("uniform", "gaussian", "measured"):
        for reset in ("subtract", "mult1"):
            lo, hi = calibration.residual_interval(model, reset)
            assert lo < hi and table["groups"][calibration.group_of(model, reset)]["count"] >= 30


def test_the_groups_are_what_the_rows_say():
    table = calibration.table()
    again = calibrate.residual_groups(table["rows"])
    assert set(again) == {g for g in table["groups"] if ":" not in g}  # "alif:..": test_variant_calibration
    for group, stats in again.items():
        assert stats == pytest.approx(table["groups"][group])


@pytest.mark.parametrize(
    "lo,hi,regime",
    [
        (-5, -2, "vanishing"),
        (-0.5, 0.9, "stable"),
        (2, 7, "exploding"),
        (-3, 0, "uncertain"),
        (0.5, 4, "uncertain"),
        (-9, 9, "uncertain"),
    ],
)
def test_a_regime_is_called_only_when_the_whole_band_is_in_it(lo, hi, regime):
    assert calibration.regime_of_band(lo, hi, 1.0) == regime


def test_held_out_settings_fall_inside_their_band():
    """Settings drawn apart from the calibration set (another seed), measured now: the measured T·log10 ρ̂
    must fall inside the predicted band for at least 80% of them, under every voltage model."""
    cfgs = calibrate.sample_settings(np.random.default_rng(20261130), 30, max_rec=160)
    hits, total = 0, 0
    for cfg in cfgs:
        try:
            row = calibrate.measure_row(cfg)
        except ValueError:  # condition II unattainable for this init: no such layer
            continue
        for model in calibrate.MODELS:
            if row["observed"] is None or row[model] is None:
                continue
            lo, hi = calibration.band(cfg.steps * row[model], cfg.steps, model, cfg.reset)
            hits += lo <= cfg.steps * row["observed"] <= hi
            total += 1
    assert total >= 60 and hits / total >= 0.8, f"coverage {hits}/{total}"


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("shape", ["fastsigmoid", "qpseudospike", "gaussian"])
def test_every_option_is_a_whole_setting_with_rho2_one(name, shape):
    cfg = preset(name, shape=shape)
    rec = theory.recommend(cfg)
    labels = [o["label"] for o in rec.options]
    assert len(set(labels)) == len(labels)
    for o in rec.options:
        at = cfg.replace(dampening=o["dampening"], sharpness=o["sharpness"], tail=o["tail"])
        p = theory.predict(at)
        assert abs(p.rho2 - 1) <= theory.OPTION_TOLERANCE and p.point_regime == "stable"
        assert o["regime"] == p.regime and o["log10_gain_band"] == pytest.approx(list(p.log10_gain_band))
    # an option missing is explained
    for label in ("keep γ, solve β", "keep β, solve γ", "keep γ, β, solve q"):
        assert label in labels or any(n.startswith(label) for n in rec.notes)
    if shape == "qpseudospike" and "keep γ, β, solve q" in labels:
        assert next(o for o in rec.options if o["label"] == "keep γ, β, solve q")["tail"] > 1


def test_the_snippet_runs_alone_and_reproduces_the_option(tmp_path):
    """In a fresh Python with torch only: the option's γ, β, q, and the recurrent weights' mean and variance
    of the setting the option was solved at (conditions I and II for the conditions options, Glorot otherwise)."""
    import subprocess

    from stabviz.ui import advice, snippets

    cfg = preset("shd-tau20", n_rec=256)
    options = [s for s in advice.settings(cfg) if s.solved]
    assert {s.cfg.init_rec for s in options} == {"glorot-uniform", "conditions"}
    for option in options:
        script = tmp_path / "snippet.py"
        script.write_text(
            snippets.pytorch_init(option) + "\n"
            "off = ~torch.eye(n_rec, dtype=torch.bool)\n"
            "print(json.dumps([gamma, beta, q, w_rec[off].mean().item(), w_rec[off].var().item()]))\n"
        )
        script.write_text("import json\n" + script.read_text())
        out = subprocess.run(
            [sys.executable, "-I", str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120
        )
        assert out.returncode == 0, out.stderr
        gamma, beta, q, mean, var = json.loads(out.stdout)
        at = option.cfg
        assert (gamma, beta, q) == pytest.approx((at.dampening, at.sharpness, at.tail), rel=1e-5)
        law = theory.recurrent_law(at)
        assert mean == pytest.approx(law.mean, abs=4 * law.std / 256)
        assert var == pytest.approx(law.std**2, rel=0.05)


@pytest.mark.parametrize(
    "changes,fires",
    [
        ({"reset": "mult1"}, True),
        ({"n_rec": 2}, True),
        ({"threshold": 1.0, "init_rec": "conditions"}, True),
        ({}, False),
        ({"threshold": 0.01, "init_rec": "conditions"}, False),
    ],
)
def test_validity_warnings_fire_where_simulation_disagrees(changes, fires):
    """Each trigger, checked against the simulation: where a warning fires the gaussian rate is off by more
    than 0.1; where none fires it is within 0.05."""
    from stabviz import simulate

    cfg = preset("shd-tau20", **{"n_rec": 128, **changes})
    pred = theory.predict(cfg)
    warned = [n for n in pred.notes if n.startswith("validity:")]
    assert bool(warned) == fires
    gap = abs(simulate.measure(cfg, batch=32).firing_rate - pred.firing_rate)
    assert (gap > 0.1) if fires else (gap < 0.05), gap


def test_no_preset_carries_a_validity_warning():
    for name in PRESETS:
        assert not [n for n in theory.predict(preset(name)).notes if n.startswith("validity:")]
