"""theory.predict for alif and cuba: the closed-form block gain, the per-variant calibrated band and its
held-out coverage (docs/theory.md section 9)."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from stabviz import calibration, simulate, theory, variant_gain
from stabviz.config import preset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import calibrate  # noqa: E402  (the script that made the stored table)

VARIANT_GROUPS = [
    f"{n}:{g}" for n in ("alif", "cuba") for g in ("gaussian/subtract", "measured/subtract", "measured/multiplicative")
]


def test_the_stored_table_has_every_variant_group_and_its_rows():
    table = calibration.table()
    assert set(table["variant_provenance"]["neurons"]) == {"alif", "cuba"}
    for group in VARIANT_GROUPS:
        stats = table["groups"][group]
        assert stats["lo"] < stats["hi"] and stats["count"] >= 15, group
    again = calibrate.variant_residual_groups(table["variant_rows"])
    assert set(again) == {g for g in table["groups"] if ":" in g}
    for group, stats in again.items():
        assert stats == pytest.approx(table["groups"][group])


def test_the_lif_groups_are_unchanged_by_the_variant_refit():
    table = calibration.table()
    again = calibrate.residual_groups(table["rows"])
    assert set(again) == {g for g in table["groups"] if ":" not in g}
    for group, stats in again.items():
        assert stats == pytest.approx(table["groups"][group])


def test_held_out_variant_settings_fall_inside_their_band():
    """alif and cuba settings drawn apart from the calibration set (another seed), measured now: the measured
    T·log10 ρ̂ falls inside the band of the prediction under every model that covers the setting, in at
    least 80% of cases."""
    cfgs = calibrate.sample_variant_settings(np.random.default_rng(20261207), 14, max_rec=48)
    hits, total = 0, 0
    for cfg in cfgs:
        cfg = cfg.replace(steps=50, tau=min(cfg.tau, 20.0))  # short burn-in: keeps the test fast
        try:
            row = calibrate.measure_variant_row(cfg)
        except ValueError:
            continue
        for model in calibrate.VARIANT_MODELS:
            if row["observed"] is None or row[model] is None:
                continue
            lo, hi = calibration.band(cfg.steps * row[model], cfg.steps, model, cfg.reset, cfg.neuron)
            hits += lo <= cfg.steps * row["observed"] <= hi
            total += 1
    assert total >= 15 and hits / total >= 0.8, f"coverage {hits}/{total}"


@pytest.mark.parametrize("neuron", ["alif", "cuba"])
def test_predict_is_the_variants_own(neuron):
    cfg = preset("shd-tau20", n_rec=64, neuron=neuron)
    lif, var = theory.predict(cfg.replace(neuron="lif")), theory.predict(cfg)
    assert var.rho != pytest.approx(lif.rho, rel=1e-3)
    cf = variant_gain.closed_form_gain(cfg)
    assert var.rho == pytest.approx(cf["gain"]) and var.firing_rate == pytest.approx(cf["rate"])
    lo, hi = var.log10_gain_band
    assert math.isfinite(lo) and lo < var.log10_gain < hi
    assert var.notes[0].startswith(f"{neuron}: the gain theory")
    assert not any("plain LIF's" in n for n in var.notes)


def test_the_adaptation_changes_the_prediction():
    """The LSNN's β_a = 1.8 fires less and predicts a larger gain than β_a = 0.02 (measured: 0.23 against 0.48,
    ρ̂ 1.15 against 1.00 at shd-tau20)."""
    weak = theory.predict(preset("shd-tau20", n_rec=64, neuron="alif", adapt_strength=0.02))
    lsnn = theory.predict(preset("shd-tau20", n_rec=64, neuron="alif"))
    assert lsnn.firing_rate < weak.firing_rate - 0.2 and lsnn.rho > weak.rho


def test_a_multiplicative_variant_is_predicted_from_its_simulation():
    cfg = preset("shd-tau20", n_rec=32, neuron="alif", reset="mult2")
    p = theory.predict(cfg, "gaussian")
    assert p.voltage_model == "measured" and any("no gaussian theory for the mult2 reset" in n for n in p.notes)
    m = simulate.measure(cfg, burn_in=simulate.stationary_burn_in(cfg), steps=simulate.stationary_burn_in(cfg) + 200)
    assert p.rho == pytest.approx(m.block_rho) and math.isfinite(p.log10_gain_band[0])


def test_the_measured_prediction_follows_the_surrogate():
    """The variant's measured prediction depends on σ' (the block recursion), so a new sharpness must not
    reuse the previous one's gain from the cache."""
    cfg = preset("shd-tau20", n_rec=32, neuron="cuba")
    a, b = theory.predict(cfg, "measured"), theory.predict(cfg.replace(sharpness=cfg.sharpness * 4), "measured")
    assert a.rho != pytest.approx(b.rho, rel=1e-4)


@pytest.mark.parametrize(
    "kw", [{"neuron": "cuba"}, {"neuron": "cuba", "syn_decay": 0.5}, {"neuron": "alif", "adapt_strength": 0.02}]
)
def test_the_closed_form_gain_matches_the_measured_moments(kw):
    """Where the moment recursion holds (section 9.5's small errors), the gaussian model's moments give the
    gain the simulation's moments give, within 2% per step."""
    cfg = preset("shd-tau20", n_rec=128, **kw)
    m = simulate.measure(cfg, burn_in=100, steps=300)
    assert variant_gain.closed_form_gain(cfg)["gain"] == pytest.approx(m.block_rho, rel=0.02)


def test_with_no_adaptation_or_current_the_variants_agree():
    """β_a = 0 and α_s = 0 are both the LIF: the same rate and gain from the variant theory."""
    a = variant_gain.closed_form_gain(preset("shd-tau20", n_rec=64, neuron="alif", adapt_strength=0.0))
    c = variant_gain.closed_form_gain(preset("shd-tau20", n_rec=64, neuron="cuba", syn_decay=0.0))
    assert a == pytest.approx(c, rel=1e-9)


@pytest.mark.parametrize("neuron", ["alif", "cuba"])
def test_recommend_is_the_variants_own_and_region_says_it_is_the_lifs(neuron):
    """A variant's recommendation carries the variant's own prediction and never a LIF-solved option (its
    options solve the block gain: tests/test_variant_conditions.py); the region map says it is the LIF's."""
    cfg = preset("shd-tau20", n_rec=64, neuron=neuron)
    rec = theory.recommend(cfg)
    lif_options = theory.recommendation_options(cfg.replace(neuron="lif"))[0]
    assert all(
        o["sharpness"] != pytest.approx(p["sharpness"])
        for o in rec.options
        for p in lif_options
        if o["label"] == p["label"] == "keep γ, solve β"
    )
    assert rec.rho2 == pytest.approx(theory.predict(cfg).rho2)
    region = theory.region(cfg, nx=8, ny=8)
    assert region.notes[0].startswith(f"neuron = {neuron}: this map")
    assert not any(n.startswith("neuron =") for n in theory.region(cfg.replace(neuron="lif"), nx=8, ny=8).notes)


def test_a_variant_the_machine_may_not_simulate_falls_back_to_the_lif_and_says_so(monkeypatch):
    monkeypatch.setenv("STABVIZ_MAX_NEURONS", "16")
    cfg = preset("shd-tau20", n_rec=32, neuron="alif", reset="mult2")
    p = theory.predict(cfg, "gaussian")
    assert p.notes[0].startswith("neuron = alif: with the mult2 reset its prediction simulates the layer")
    assert "STABVIZ_MAX_NEURONS" in p.notes[0]
    assert p.rho2 == pytest.approx(theory.predict(cfg.replace(neuron="lif"), "gaussian").rho2)
