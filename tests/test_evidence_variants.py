"""The variant arms of the replication study (E: ALIF vs LIF on cues; F: fluctuation-driven vs conditions I + II
vs Glorot; G: DECOLLE with and without rate control): their design, their rules, the pipeline end to end at the
smoke size, and the Evidence page showing their verdicts."""

import json
import shutil
from pathlib import Path

import pytest
from support import open_app, shown

from stabviz.evidence import results as ev_results
from stabviz.evidence import rules, variants
from stabviz.evidence.study import cell_stats
from stabviz.ui.pages import evidence as evidence_page

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = ["E-alif", "F-accuracy", "F-collapse", "G-rate-0.5", "G-rate-0.158", "G-high"]


def test_fewer_collapses_needs_a_gap_its_interval_agrees_with():
    never, always = [False] * 3, [True] * 3
    assert rules.fewer_collapses(never, [always, always])[0] == "confirmed"
    verdict, numbers = rules.fewer_collapses(never, [always, [True, True, False]])
    assert verdict == "inconclusive" and numbers["gap"] == pytest.approx(2 / 3)  # a resample can hold none
    assert numbers["gap_interval"][0] < rules.COLLAPSE_GAP
    verdict, numbers = rules.fewer_collapses(always, [never])
    assert verdict == "refuted" and numbers["gap"] == -1.0
    assert rules.fewer_collapses(never, [never, never])[0] == "inconclusive"  # nothing collapsed
    assert rules.fewer_collapses([False, True, False], [[True, False, False]])[0] == "inconclusive"  # noisy tie
    with pytest.raises(ValueError, match="fewer_collapses needs"):
        rules.fewer_collapses([], [never])


def test_the_quick_design_is_the_one_the_readme_states():
    cells = variants.variant_cells(variants.VARIANT_SIZES["quick"])
    assert [(c.arm, c.label) for c in cells] == [
        ("E", "LIF"),
        ("E", "ALIF"),
        ("F", "Glorot"),
        ("F", "conditions I+II"),
        ("F", "fluctuation-driven"),
        ("F", "fluctuation-driven μ_U=θ"),
        ("G", "no rate control"),
        ("G", "f0=0.158"),
        ("G", "f0=0.5"),
    ]
    assert all(len(c.configs) == 3 and [k.lif.seed for k in c.configs] == [0, 1, 2] for c in cells)
    lif, alif = (c.configs[0] for c in cells[:2])
    assert alif.lif == lif.lif.replace(neuron="alif") and (alif.task, alif.time_steps, alif.loss) == (
        "cues",
        200,
        "last",
    )
    assert alif.lif.adapt_strength == 1.8 and alif.train_steps == 150
    fluct = cells[4].configs[0].lif
    assert (fluct.init_in, fluct.init_rec, fluct.rec_share) == ("fluctuation", "fluctuation", 0.1)
    assert cells[3].configs[0].lif.init_rec == "conditions" and cells[2].configs[0].lif.init_rec == "glorot-uniform"
    g = [c.configs[0] for c in cells[6:]]
    assert all(c.local_losses and c.layers == 2 and c.train_steps == 200 for c in g)
    assert [c.rate_control for c in g] == [None, (0.158, 1.0, 100), (0.5, 1.0, 100)]


def _synthetic(accuracy):
    """Cell statistics and run rows of the quick design with the given per-cell seed accuracies (%)."""
    stats, runs = [], []
    for cell in variants.variant_cells(variants.VARIANT_SIZES["quick"]):
        rows = [
            {"arm": cell.arm, "task": cell.task, "cell": cell.label, "seed": k, "status": "finished", "accuracy": a}
            for k, a in enumerate(accuracy.get(cell.label, [50.0, 50.0, 50.0]))
        ]
        stats.append(cell_stats(cell, rows))
        runs += rows
    return stats, runs


def test_the_claims_follow_the_rules_on_known_numbers():
    stats, runs = _synthetic(
        {
            "LIF": [50, 51, 52],
            "ALIF": [70, 72, 74],
            "Glorot": [90, 91, 92],
            "conditions I+II": [20, 25, 90],
            "fluctuation-driven": [80, 81, 82],
            "fluctuation-driven μ_U=θ": [85, 86, 87],
            "no rate control": [60, 61, 62],
            "f0=0.158": [60, 61, 62],
            "f0=0.5": [80, 80, 81],
        }
    )
    verdicts = {c["id"]: c["verdict"] for c in variants.judge_variants(stats, runs)["claims"]}
    assert verdicts == {
        "E-alif": "confirmed",
        "F-accuracy": "refuted",
        "F-collapse": "refuted",
        "G-rate-0.5": "confirmed",
        "G-rate-0.158": "refuted",
        "G-high": "confirmed",
    }
    collapsed = [r["cell"] for r in runs if r["collapsed"]]
    assert collapsed == ["conditions I+II", "conditions I+II"]  # below 20 + ½ (91 − 20)
    # Glorot never collapsed, nor did the fluctuation-driven runs: the gap is 0 in every resample, so refuted


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    import torch

    out = tmp_path_factory.mktemp("variants")
    torch.set_num_threads(1)
    summary = variants.replicate_variants("smoke", out, command="python -m stabviz replicate --variants --smoke")
    return out, summary


def test_the_smoke_size_runs_every_arm_and_writes_files_the_results_reader_and_rejudge_take(smoke, tmp_path):
    out, summary = smoke
    assert summary["study"] == "variants" and summary["runs"] == 9
    assert [c["id"] for c in summary["claims"]] == CLAIMS
    assert all(c["verdict"] in rules.VERDICTS for c in summary["claims"])
    loaded = ev_results.load_results(out)
    assert {c["arm"] for c in loaded["cells"]} == {"E", "F", "G"}
    assert all(r["status"] == "finished" for r in loaded["runs"])
    again = ev_results.rejudge(out, tmp_path / "again", command="rejudge")
    assert [c["verdict"] for c in again["claims"]] == [c["verdict"] for c in summary["claims"]]
    assert not list((tmp_path / "again").glob("*.png"))


def test_the_evidence_page_shows_the_variant_arms_verdicts(tmp_path, monkeypatch):
    folder = tmp_path / "evidence"
    folder.mkdir()
    for name in ev_results.FILES:  # the committed study, and synthetic variant arms beside it
        shutil.copy(ROOT / "docs" / "evidence" / name, folder / name)
    stats, runs = _synthetic({"ALIF": [70, 72, 74], "f0=0.5": [80, 80, 81]})
    result = variants.judge_variants(stats, runs)
    summary = {
        "study": "variants",
        "size": "quick",
        "command": "python -m stabviz replicate --variants --quick",
        "date": "2026-12-08T00:00:00+00:00",
        "runs": len(runs),
        "budgets": {"E": 150, "F": 200, "G": 200},
        "claims": result["claims"],
        "auc": {},
        "regret": {},
    }
    (folder / "variants").mkdir()
    variants.write_outputs(folder / "variants", result, summary, png=False)
    monkeypatch.setenv(ev_results.RESULTS_ENV, str(folder))
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path / "home"))
    at = open_app(page="evidence")
    assert not at.exception and not at.error
    text = shown("\n".join([*(m.value for m in at.main.markdown), *(c.value for c in at.caption)]))
    assert "replicate --variants --quick" in text
    for claim in result["claims"]:
        assert claim["claim"] in text and claim["rule"][:40] in text
    assert [h.value for h in at.subheader if h.value.startswith("Arm ")][-3:] == [
        heading for _, heading, _ in evidence_page.VARIANT_ARMS
    ]
    tables = [t.value for t in at.dataframe][-3:]
    assert [list(t["setting"]) for t in tables] == [["LIF", "ALIF"], list(variants.INITS), list(variants.RATE_TARGETS)]


def test_the_committed_variant_results_load_with_every_claim():
    folder = ROOT / "docs" / "evidence" / "variants"
    results = ev_results.load_results(folder)
    assert results is not None and [c["id"] for c in results["claims"]] == CLAIMS
    assert json.loads((folder / "summary.json").read_text())["size"] == "quick"


def test_the_evidence_page_shows_the_largest_budgets_first_and_switches_to_the_quick_ones(monkeypatch, tmp_path):
    monkeypatch.delenv(ev_results.RESULTS_ENV, raising=False)  # the committed results: both sizes
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path / "home"))
    at = open_app(page="evidence")

    def caption() -> str:
        return next(t for t in (shown(c.value) for c in at.caption) if "replicate --variants" in t)

    control = at.segmented_control(key="variant_budgets")
    assert control.options == [label for _, label in evidence_page.VARIANT_RESULTS]
    assert "replicate --variants --full" in caption() and "E 750" in caption()
    control.set_value(evidence_page.VARIANT_RESULTS[1][1]).run()
    assert "replicate --variants --quick" in caption() and "E 150" in caption()
    assert not at.exception
