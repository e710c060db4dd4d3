"""The replication study: its pre-registered rules on synthetic numbers, its design, and --smoke end to end."""

import json
import math
import subprocess
import sys

import pytest
import torch

from stabviz.cli import main
from stabviz.config import TrainConfig
from stabviz.evidence import (
    SIZES,
    design,
    execute,
    figures,
    load_results,
    rerun_cells,
    rerun_overlay,
    results_folder,
    rules,
)
from stabviz.evidence import results as ev_results
from stabviz.evidence.study import arm_cells, base_config, task_lif, theory_points
from stabviz.jsonsafe import dumps


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: a second thread only waits on the first
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------------------------- rules


def cell(mean, sd=0.0):
    """Three seeds with this mean and sample sd (mean − sd, mean, mean + sd)."""
    return [mean - sd, mean, mean + sd]


def test_falls_past_gives_each_verdict():
    curve = [cell(90, 0.5), cell(89, 0.5), cell(85), cell(70, 1), cell(60, 1)]
    verdict, numbers = rules.falls_past(curve, low=[0, 1], high=[3, 4])
    assert verdict == "confirmed" and numbers["drop"] == pytest.approx(25) and numbers["low_gap"] == pytest.approx(1)
    assert numbers["low_gap_interval"][1] <= rules.NEAR
    lo, hi = numbers["drop_interval"]
    assert 10 < lo <= 25 <= hi
    assert rules.falls_past([cell(90), cell(89), cell(85), cell(84)], [0, 1], [2, 3])[0] == "refuted"  # drops 5.5
    assert rules.falls_past([cell(90), cell(80), cell(70), cell(60)], [0, 1], [2, 3])[0] == "refuted"  # low cell 10 off
    assert rules.falls_past([cell(90), cell(89), cell(70, 40), cell(60, 40)], [0, 1], [2, 3])[0] == "inconclusive"


def test_a_refutation_by_less_than_a_point_with_sd_8_reads_inconclusive():
    """(issue 21, item 6) The drop misses the 10-point threshold by 0.4 points, but the seeds' sd is 8: the
    old guard (sd 8 < drop 9.6) refuted it; the drop's bootstrap interval contains 10."""
    verdict, numbers = rules.falls_past([cell(80, 1), cell(80, 1), cell(70.4, 8)], [0, 1], [2])
    assert numbers["drop"] == pytest.approx(9.6) and numbers["sd"] == pytest.approx(8)
    lo, hi = numbers["drop_interval"]
    assert lo < rules.DROP < hi and verdict == "inconclusive"
    assert rules.helps([cell(81.6, 8)], [[cell(80)]])[0] == "inconclusive"  # gain 1.6 vs 2, sd 8
    assert rules.near_best([cell(77.6, 8), cell(80)], theory=0)[0] == "inconclusive"  # regret 2.4 vs 2, sd 8


def test_a_clear_effect_confirms_and_a_clear_miss_refutes():
    assert rules.helps([cell(95, 1)], [[cell(80, 1)]])[0] == "confirmed"
    verdict, numbers = rules.helps([cell(80, 1)], [[cell(85, 1)]])
    assert verdict == "refuted" and numbers["gain"] == pytest.approx(-5) and numbers["gain_interval"][1] < rules.NEAR
    assert rules.is_flat([cell(80, 0.5), cell(82, 0.5), cell(84, 0.5)])[0] == "confirmed"
    assert rules.is_flat([cell(60, 1), cell(80, 1), cell(84, 1)])[0] == "refuted"
    assert rules.near_best([cell(88, 0.5), cell(89, 0.5), cell(70)], theory=0)[0] == "confirmed"
    assert rules.near_best([cell(70, 1), cell(89, 1), cell(75)], theory=0)[0] == "refuted"


def test_noise_is_checked_before_confirming_a_flat_curve_or_a_near_best_setting():
    """The old is_flat and near_best confirmed a small span or regret whatever the seeds' sd."""
    verdict, numbers = rules.is_flat([cell(80, 8), cell(82, 8), cell(83, 8)])
    assert numbers["span"] == pytest.approx(3) and numbers["span_interval"][1] > rules.FLAT
    assert verdict == "inconclusive"
    verdict, numbers = rules.near_best([cell(79, 8), cell(80, 8), cell(60)], theory=0)
    assert numbers["regret"] == pytest.approx(1) and verdict == "inconclusive"


def test_the_regret_rule_counts_the_best_cells_noise_too():
    """(issue 21, item 6) A precise theory cell 3 points below a best cell whose seeds spread by 8: the old
    rule read only the theory cell's sd (0) and refuted; the best cell's noise makes it inconclusive."""
    verdict, numbers = rules.near_best([cell(77), cell(80, 8), cell(60)], theory=0)
    assert numbers["sd"] == pytest.approx(8) and numbers["regret"] == pytest.approx(3)
    assert verdict == "inconclusive"
    verdict, numbers = rules.near_best([cell(80, 1), cell(89, 1), cell(70), cell(75)], theory=0)
    assert numbers["regret"] == pytest.approx(9) and numbers["median"] == pytest.approx(77.5)
    assert numbers["regret_vs_median"] == pytest.approx(-2.5) and verdict == "refuted"


def test_helps_compares_with_the_best_control_group():
    verdict, numbers = rules.helps([cell(90), cell(92)], [[cell(70), cell(72)], [cell(85), cell(87)]])
    assert numbers["control"] == pytest.approx(86) and numbers["rival_group"] == 1
    assert numbers["gain"] == pytest.approx(5) and verdict == "confirmed"
    with pytest.raises(ValueError, match="control group"):
        rules.helps([cell(90)], [])
    with pytest.raises(ValueError, match="finite accuracy"):
        rules.is_flat([cell(90), [None, float("nan")]])


def test_the_bootstrap_is_reproducible_and_a_noiseless_effect_has_a_point_interval():
    cells = [[70, 75, 90], [60, 61, 80], [50, 52, 51]]
    first = rules.bootstrap(cells, lambda m: m[0] - m[1])
    assert first == rules.bootstrap(cells, lambda m: m[0] - m[1])
    assert rules.bootstrap([cell(80), cell(70)], lambda m: m[0] - m[1]) == [(10, 10)]
    ((lo, hi),) = first
    assert lo < (78.33 - 67) < hi


def test_side_needs_the_point_and_the_whole_interval_on_one_side():
    assert rules.side(12, (11, 13), 10, at_least=True) is True
    assert rules.side(8, (7, 9), 10, at_least=True) is False
    assert rules.side(9.6, (7, 14), 10, at_least=True) is None
    assert rules.side(9, (10.5, 12), 10, at_least=True) is None  # the point and its interval disagree
    assert rules.side(float("nan"), (1, 2), 10, at_least=False) is None


def test_ranks_gives_each_verdict():
    labels = [False] * 20 + [True] * 20
    verdict, numbers = rules.ranks(list(range(40)), labels)
    assert verdict == "confirmed" and numbers["auc"] == 1 and numbers["auc_interval"][0] >= rules.AUC_GOOD
    mixed = [i % 2 for i in range(200)]
    verdict, numbers = rules.ranks(mixed, [False] * 100 + [True] * 100)
    assert verdict == "refuted" and numbers["auc_interval"][1] <= rules.AUC_POOR  # AUC 0.5, tightly
    verdict, numbers = rules.ranks(mixed[:40], labels)
    assert verdict == "inconclusive" and numbers["auc"] == 0.5  # AUC 0.5, but 40 runs: too wide
    assert rules.ranks([1, 3, 2, 4, 6, 5], [False, False, True, False, True, True])[0] == "inconclusive"
    assert rules.ranks(list(range(22)), [True] * 2 + [False] * 20)[0] == "inconclusive"  # too few collapses


def test_auc_is_the_mann_whitney_statistic():
    assert rules.auc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert rules.auc([4, 3, 2, 1], [False, False, True, True]) == 0.0
    assert rules.auc([1, 1, 1, 1], [False, True, False, True]) == 0.5
    assert rules.auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75  # sklearn's own example
    assert rules.auc([1, float("nan"), None, 3], [False, True, True, True]) == 1.0
    assert math.isnan(rules.auc([1, 2], [True, True]))


def test_mean_sd_is_the_sample_sd():
    assert rules.mean_sd([1, 2, 3]) == (2, 1)
    assert rules.mean_sd([5]) == (5, 0)


# --------------------------------------------------------------------------------------------- design


def test_quick_design_has_every_arm_and_at_least_three_seeds_per_cell():
    cells, points = design(SIZES["quick"])
    assert {c.arm for c in cells} == {"A", "A'", "B", "C", "D"}
    assert all(len(c.configs) >= 3 for c in cells)
    assert all(len({cfg.lif.seed for cfg in c.configs}) == len(c.configs) for c in cells)
    a = [c for c in cells if c.arm == "A"]
    assert len(a) == 3 * (6 + 4) and {c.task for c in a} == {"digits"}
    assert {c.configs[0].lif.shape for c in cells if c.arm == "B"} == {"qpseudospike"}
    assert {c.configs[0].lif.reset for c in cells if c.arm == "B"} == {"mult2"}
    # arm D's β*(γ = 1) and γ_IV(β = 1) are the theory's own, at the task's measured input statistics
    for task in ("digits", "randman"):
        d = {c.label: c.configs[0] for c in cells if c.arm == "D" and c.task == task}
        expected = theory_points(task_lif(base_config(task, SIZES["quick"])))
        assert d["γ_IV(β=1)"].lif.dampening == pytest.approx(expected["gamma_IV"])
        assert d["recommended"].use_recommended_setting and d["recommended"].lif.init_rec == "conditions"
        if expected["beta_star"]:
            assert d["β*(γ=1)"].lif.sharpness == pytest.approx(expected["beta_star"])
    assert sum(len(c.configs) for c in cells) == 3 * len(cells) and len(cells) >= 60 + 7 + 8 + 8


def test_a_rerun_rebuilds_the_designs_configs_from_the_stored_theory_points():
    cells, points = design(SIZES["quick"])
    stored = json.loads(dumps(points))  # as cells.json keeps them
    again = arm_cells(SIZES["quick"], stored)
    assert [(c.arm, c.label) for c in again] == [(c.arm, c.label) for c in cells]
    assert [[x.to_dict() for x in c.configs] for c in again] == [[x.to_dict() for x in c.configs] for c in cells]


def test_a_budget_sets_every_runs_steps_and_a_wall_time_limit_that_fits_them():
    from stabviz.evidence.study import sized

    assert sized("quick") is SIZES["quick"]
    longer = sized("quick", 1000)
    assert longer.train_steps == 1000 and longer.gammas == SIZES["quick"].gammas
    assert base_config("digits", longer).train_steps == 1000 and base_config("digits", longer).time_limit == 3000
    assert base_config("digits", SIZES["quick"]).time_limit == 600  # the committed configs' own
    for bad in (0, -5, 10**9, 2.5, True):
        with pytest.raises(ValueError, match=r"budget = .* optimiser steps in \[1, "):
            sized("quick", bad)
    with pytest.raises(ValueError, match="size = 'huge' is not one of"):
        sized("huge")
    rerun = rerun_cells({"summary": {"size": "quick", "budget": 1000}, "theory": _results()["theory"]}, "B", 1)
    assert {c.train_steps for cell in rerun for c in cell.configs} == {1000}


def test_importing_the_evidence_package_never_loads_torch():
    code = "import sys, stabviz.evidence; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------- results


def _results(summary_size="smoke", claims=()):
    return {
        "summary": {"size": summary_size, "claims": list(claims)},
        "theory": {
            t: {"fastsigmoid": {"gamma_III": None, "gamma_IV": 1.5, "beta_star": None}} for t in ("digits", "randman")
        },
    }


def test_load_results_reads_a_folder_and_says_what_is_wrong(tmp_path, monkeypatch):
    assert load_results(tmp_path) is None  # no summary.json: nothing to show
    monkeypatch.setenv(ev_results.RESULTS_ENV, str(tmp_path))
    assert results_folder() == tmp_path
    monkeypatch.delenv(ev_results.RESULTS_ENV)
    assert results_folder() == ev_results.PACKAGED and ev_results.PACKAGED.resolve().name == "evidence"
    (tmp_path / "summary.json").write_text(json.dumps({"claims": [], "size": "quick"}))
    with pytest.raises(ValueError, match="cells.json is missing"):
        load_results(tmp_path)
    (tmp_path / "cells.json").write_text("[1")
    (tmp_path / "runs.json").write_text("[]")
    with pytest.raises(ValueError, match="cells.json in .* is not readable JSON"):
        load_results(tmp_path)
    (tmp_path / "cells.json").write_text("[]")
    with pytest.raises(ValueError, match="layout"):
        load_results(tmp_path)
    (tmp_path / "cells.json").write_text(json.dumps({"cells": [], "theory": {}, "boundaries": {}, "regret": {}}))
    loaded = load_results(tmp_path)
    assert loaded["summary"]["size"] == "quick" and loaded["runs"] == [] and loaded["folder"] == str(tmp_path)


def test_a_rerun_uses_the_quick_configs_at_most_and_the_seeds_asked_for():
    assert ev_results.rerun_size({"size": "full"}) == "quick" == ev_results.rerun_size({"size": "quick"})
    cells = rerun_cells(_results("full"), "B", seeds=2)
    assert len(cells) == len(SIZES["quick"].tails)
    assert all([c.lif.seed for c in cell.configs] == [0, 1] for cell in cells)
    assert {c.train_steps for cell in cells for c in cell.configs} == {SIZES["quick"].train_steps}


def test_the_overlay_takes_the_newest_ended_run_of_each_config_and_counts_the_active_ones():
    cells = rerun_cells(_results(), "C", seeds=1)
    first, second = cells[0].configs[0].to_dict(), cells[1].configs[0].to_dict()

    def run(config, status, acc=None):
        return {
            "config": json.loads(json.dumps(config)),
            "status": status,
            "summary": None if acc is None else {"final": {"accuracy": acc}, "lif": {"seed": 0, "steps": 16}},
        }

    stored = [
        run(first, "finished", 0.9),
        run(first, "finished", 0.1),  # newest first: 90 % wins
        run(second, "running"),
        run({"other": 1}, "finished", 0.5),
        {"config": None, "status": "failed"},
    ]
    overlay, active = rerun_overlay(cells, stored)
    assert active == {"C": 1}
    assert [(c["label"], c["mean"]) for c in overlay["cells"]] == [(cells[0].label, pytest.approx(90.0))]
    assert [r["accuracy"] for r in overlay["runs"]] == [pytest.approx(90.0)]
    figs = figures(
        {
            "cells": [],
            "runs": [],
            "theory": _results()["theory"],
            "auc": {},
            "boundaries": {t: {"dampening": None, "sharpness": None} for t in ("digits", "randman")},
        },
        overlay,
    )
    assert cells[0].label == "f0=0.05 SP off"
    assert [t.name for t in figs["rate_digits"].data] == ["sparsity loss off · rerun"]


def test_execute_through_the_local_launcher_returns_summaries_in_order(one_thread):
    base = TrainConfig(task="randman", samples=40, time_steps=8, train_steps=2, batch=8, classes=2)
    configs = [base.replace(lif=base.lif.replace(n_rec=8, n_in=10, seed=s)) for s in (3, 4)]
    out = execute(configs, launcher="local")
    assert [s["lif"]["seed"] for s in out] == [3, 4] and {s["status"] for s in out} == {"finished"}
    here = execute(configs[:1])
    assert here[0]["final"]["accuracy"] == out[0]["final"]["accuracy"]


# --------------------------------------------------------------------------------------------- end to end


def test_smoke_study_writes_every_file_with_its_schema(tmp_path, capsys, one_thread):
    out = tmp_path / "evidence"
    assert main(["replicate", "--smoke", "--budget", "2", "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary == printed
    assert summary["command"] == f"python -m stabviz replicate --smoke --budget 2 --out {out}"
    assert summary["date"] and summary["size"] == "smoke" and "commit" in summary and summary["budget"] == 2
    ids = [c["id"] for c in summary["claims"]]
    assert {
        "A-gamma",
        "A-beta",
        "A'-gamma",
        "B-tail",
        "C-rate",
        "D-regret-digits",
        "AUC-predicted",
        "AUC-probe",
    } <= set(ids)
    for claim in summary["claims"]:
        assert set(claim) == {"id", "claim", "rule", "verdict", "numbers"}
        assert claim["verdict"] in rules.VERDICTS and claim["rule"]
    cells = json.loads((out / "cells.json").read_text())
    assert {"cells", "theory", "boundaries", "regret"} <= set(cells)
    runs = json.loads((out / "runs.json").read_text())
    assert len(runs) == summary["runs"] and all("collapsed" in r and "probe_log10_gain" in r for r in runs)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == [
        "beta_digits.png",
        "beta_randman.png",
        "collapse_predicted.png",
        "collapse_probe.png",
        "gamma_digits.png",
        "gamma_randman.png",
        "rate_digits.png",
        "tail_digits.png",
    ]
    for p in out.glob("*.png"):
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(data) < 300_000
    # written through stabviz.safeio: no temporary file or folder is left behind
    assert sorted(p.name for p in out.iterdir()) == sorted(["summary.json", "cells.json", "runs.json", *pngs])


def _as_before_the_rename(folder, to):
    """``folder``'s results as the study wrote them before --budget, the bootstrap rules and the probe's name."""
    to.mkdir()
    summary = json.loads((folder / "summary.json").read_text())
    summary.pop("budget")
    summary["auc"] = {("measured_log10_gain" if k == "probe_log10_gain" else k): v for k, v in summary["auc"].items()}
    summary["claims"] = [{"id": "AUC-measured", "claim": "old", "rule": "old", "verdict": "confirmed", "numbers": {}}]
    runs = [
        {("measured_log10_gain" if k == "probe_log10_gain" else k): v for k, v in r.items()}
        for r in json.loads((folder / "runs.json").read_text())
    ]
    (to / "summary.json").write_text(json.dumps(summary))
    (to / "runs.json").write_text(json.dumps(runs))
    (to / "cells.json").write_text((folder / "cells.json").read_text())
    return to


def test_rejudge_reads_older_files_and_gives_todays_verdicts_without_training(tmp_path, capsys, one_thread):
    from support import write_smoke_results

    fresh = write_smoke_results(tmp_path / "fresh")
    old = _as_before_the_rename(fresh, tmp_path / "old")
    loaded = load_results(old)  # the page reads older files under the new names
    assert "probe_log10_gain" in loaded["runs"][0] and "probe_log10_gain" in loaded["auc"]
    assert main(["replicate", "--rejudge", str(old), "--no-png"]) == 2  # replacing files needs --force
    err = capsys.readouterr().err
    assert "--rejudge" in err and err.count("\n") == 1
    new = tmp_path / "new"
    assert main(["replicate", "--rejudge", str(old), "--out", str(new), "--no-png", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    want = json.loads((fresh / "summary.json").read_text())
    assert summary["claims"] == want["claims"] and summary["auc"] == want["auc"]
    assert summary["command"] == want["command"] and summary["date"] == want["date"]  # the run's own record
    assert summary["budget"] == SIZES["smoke"].train_steps
    assert summary["judged"]["command"] == f"python -m stabviz replicate --rejudge {old} --out {new}"
    assert "bootstrap" in summary["judged"]["rules"] and summary["judged"]["date"]
    assert json.loads((new / "runs.json").read_text()) == json.loads((fresh / "runs.json").read_text())
    assert main(["replicate", "--rejudge", str(new), "--no-png", "--force"]) == 0  # in place, with --force


@pytest.mark.parametrize(
    "argv, needle",
    [
        (
            ["replicate", "--rejudge", "docs/evidence", "--quick", "--budget", "9"],
            "--rejudge trains nothing: --quick, --budget do not apply",
        ),
        (["replicate", "--rejudge", "/nonexistent/study"], "holds no summary.json"),
        (["replicate", "--budget", "0"], "--budget: 0 is outside the allowed range [1, "),
        (["replicate", "--budget", "1.5"], "--budget: '1.5' is not a whole number"),
        (["replicate", "--quick", "--full"], "not allowed with"),
        (["replicate", "--launcher", "slurm"], "invalid choice"),
        (["replicate", "--out", ""], "must not be empty"),
        (["replicate", "--smoke", "--seeds", "3"], "unrecognized arguments"),
    ],
)
def test_cli_errors_are_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_an_unwritable_output_folder_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["replicate", "--smoke", "--out", str(blocker / "sub"), "--no-png"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
