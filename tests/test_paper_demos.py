"""The Learn page's evidence: the paper's findings at the paper's settings and the shipped measured maps
(stabviz/data/paper_maps.json, made by scripts/paper_maps.py) must match what the code computes today."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stabviz import paper_demos, simulate, theory
from stabviz.config import power_of_ten, preset


def test_every_demo_is_shipped_with_its_measurement_and_uses_a_paper_preset():
    assert [d["id"] for d in paper_demos.shipped()["demos"]] == [d["id"] for d in paper_demos.DEMOS]
    assert all(d["preset"].startswith("paper-") for d in paper_demos.DEMOS)


@pytest.mark.parametrize("demo", paper_demos.DEMOS, ids=lambda d: d["id"])
def test_a_demos_shipped_measurement_is_what_simulate_measures_today(demo):
    cfg = paper_demos.demo_config(demo)
    m = simulate.measure(cfg)
    shipped = paper_demos.measured_demo(demo["id"])
    assert shipped["measured_log10_gain"] == pytest.approx(cfg.steps * math.log10(m.rho_hat), abs=0.01)
    assert (
        shipped["measured_regime"]
        == theory.REGIMES[int(theory.regime_of(shipped["measured_log10_gain"], cfg.tolerance)) + 1]
    )


@pytest.mark.parametrize("spec", paper_demos.MAPS, ids=lambda s: s["id"])
def test_a_shipped_maps_theory_is_todays_theory(spec):
    entry = paper_demos.shipped_map(spec["id"])
    cfg = preset(spec["preset"], **spec.get("changes", {}))
    # the grid the file was made on (the maps' default axes may have moved since)
    xs, ys = entry["x_values"], entry["y_values"]
    region = theory.region(
        cfg,
        x=spec["x"],
        y="dampening",
        nx=len(xs),
        ny=len(ys),
        x_range=(xs[0], xs[-1]),
        y_range=(ys[0], ys[-1]),
        log_x=entry["log_x"],
    )
    assert np.allclose(region.x, entry["x_values"], rtol=1e-3, atol=1e-3)
    shipped = np.array([[np.nan if v is None else v for v in row] for row in entry["predicted_log10_gain"]])
    ok = np.isfinite(shipped)
    assert np.allclose(shipped[ok], np.asarray(region.log10_gain)[ok], atol=2e-3)


def test_shipped_measured_cells_match_simulate_at_that_cell():
    entry = paper_demos.shipped_map("slmnist-sharpness")
    cfg = preset("paper-slmnist")
    for i, j in ((5, 3), (12, 12), (20, 17)):
        at = cfg.replace(sharpness=entry["x_values"][j], dampening=entry["y_values"][i])
        m = simulate.measure(at)
        # x/y are rounded to 3 decimals in the file: 1% in ρ̂ is T·log10(1.01) = 0.43 decades at T = 100
        assert entry["measured_log10_gain"][i][j] == pytest.approx(at.steps * math.log10(m.rho_hat), abs=0.43)


@pytest.mark.parametrize(
    "regime,outcome,expected",
    [
        ("exploding", "collapses", "explains it"),
        ("vanishing", "collapses", "does not explain it"),
        ("stable", "collapses", "does not explain it"),
        ("vanishing", "trains", "is consistent with it"),
        ("stable", "trains", "is consistent with it"),
        ("exploding", "trains", "does not explain it"),
        ("uncertain", "collapses", "cannot tell"),
        (None, "trains", "cannot tell"),
    ],
)
def test_whether_a_regime_explains_a_training_outcome(regime, outcome, expected):
    assert paper_demos.explains(regime, outcome) == expected


def test_boundary_crossing_is_log_interpolated_per_column():
    gammas = [0.1, 1.0, 10.0]
    gain = [[-2.0, -1.0, -3.0], [0.0, 1.0, -2.0], [2.0, 3.0, -1.0]]
    found = paper_demos.boundary_gammas(gain, gammas)
    assert found[0] == pytest.approx(1.0) and found[1] == pytest.approx(10**-0.5) and found[2] is None
    entry = {
        "measured_log10_gain": gain,
        "predicted_log10_gain": [[-1.0, -1.0, 0], [1.0, 1.0, 0], [2, 2, 0]],
        "y_values": gammas,
    }
    # theory crosses at 10^-0.5 in both columns: off by 10^0.5 in column 0 and 1 in column 1
    assert paper_demos.boundary_offset(entry) == pytest.approx((10**0.5 + 1) / 2)


def test_the_summary_never_claims_an_explanation_the_numbers_do_not_give():
    text = paper_demos.findings_summary()
    explained = [
        d
        for d in paper_demos.DEMOS
        if d["outcome"] == "collapses"
        and paper_demos.explains(paper_demos.measured_demo(d["id"])["measured_regime"], d["outcome"]) == "explains it"
    ]
    assert ("does not explain the collapses" in text) == (not explained)
    gains = [paper_demos.measured_demo(d["id"])["measured_log10_gain"] for d in paper_demos.DEMOS]
    assert power_of_ten(min(gains)) in text and power_of_ten(max(gains)) in text
    assert "^" not in text


def test_powers_of_ten_are_superscripts():
    assert power_of_ten(-37.45) == "10⁻³⁷" and power_of_ten(2.6) == "10³"


def test_a_map_summary_says_holds_only_within_the_stated_factor():
    for spec in paper_demos.MAPS:
        entry = paper_demos.shipped_map(spec["id"])
        text, offset = paper_demos.map_summary(entry), paper_demos.boundary_offset(entry)
        assert f"{entry['agreement']:.0%}" in text
        assert (paper_demos.HOLDS in text) == (offset is not None and offset <= paper_demos.HOLDS_WITHIN)


def test_the_theory_documents_table_quotes_the_shipped_maps():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "theory.md").read_text(encoding="utf-8")
    section = doc[doc.index("### 8.7") :]
    for spec in paper_demos.MAPS:
        entry = paper_demos.shipped_map(spec["id"])
        assert f"| {entry['agreement']:.0%} | {paper_demos.boundary_offset(entry):.2f} |" in section, spec["id"]
