"""How runs ended, said honestly: a run its time limit stopped is "stopped at k/N (time limit)" in the store,
its exports and every text (never finished); the outcome sentence leads with how training went, coloured by
that (never by whether the prediction matched); the confirmation's one config."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3

import pytest

from stabviz.config import LIFConfig, TrainConfig
from stabviz.runs import RunStore
from stabviz.runs.outcomes import at_chance, chance_level, training_outcome
from stabviz.runs.status import status_text, steps_text


def tiny(**changes) -> TrainConfig:
    base = TrainConfig(
        lif=LIFConfig(n_rec=16, n_in=20),
        time_steps=10,
        train_steps=100,
        batch=8,
        samples=40,
        classes=5,
        log_every=1,
        device="cpu",
    )
    return base.replace(**changes)


def summary(
    status: str = "finished",
    steps: int = 100,
    accuracy: float = 0.2,
    regime: str = "vanishing",
    early: str | None = None,
    test_samples: int = 200,
) -> dict:
    return {
        "status": status,
        "stopped_early": early,
        "task": {"n_classes": 5, "test_samples": test_samples},
        "final": {"steps_done": steps, "accuracy": accuracy},
        "initial": {"firing_rate": [0.1], "grad_gain": 0.5},
        "lif": {"steps": 10},
        "verdict": {"regime": {"measured": regime, "agrees": True}},
    }


def ended(store: RunStore, status: str, **kw) -> str:
    run_id = store.create(tiny())
    assert store.claim(run_id, os.getpid())
    s = summary(status, **kw)
    assert store.set_status(run_id, status, summary=s, prediction={"regime": "vanishing"}, device="cpu")
    return run_id


# -- the status in the store, its text and the exports -------------------------------------------------


def test_a_time_limited_run_is_stored_stopped_with_the_steps_it_took(tmp_path):
    store = RunStore(tmp_path / "s.db")
    run_id = ended(store, "stopped", steps=77, early="time limit")
    run = store.get(run_id)
    assert run["status"] == "stopped"
    assert status_text(run) == "stopped at 77/100 (time limit)" and steps_text(run) == "77/100"
    assert store.list(status="finished") == []


def test_exports_say_stopped_at_k_of_n_and_the_steps_done(tmp_path):
    store = RunStore(tmp_path / "s.db")
    run_id = ended(store, "stopped", steps=77, early="time limit")
    doc = json.loads(store.export(run_id, "json"))["run"]
    assert (doc["status"], doc["status_text"], doc["steps_done"]) == ("stopped", "stopped at 77/100 (time limit)", 77)
    row = next(csv.DictReader(io.StringIO(store.export_table("csv"))))
    assert row["status_text"] == "stopped at 77/100 (time limit)" and row["steps_done"] == "77"
    table = json.loads(store.export_table("json"))
    assert table[0]["status_text"] == "stopped at 77/100 (time limit)"


def test_an_older_store_s_time_limited_finished_runs_become_stopped_on_opening(tmp_path):
    path = tmp_path / "old.db"
    store = RunStore(path)
    stopped = ended(store, "finished", steps=77, early="time limit")
    done = ended(store, "finished")
    broken = ended(store, "finished")
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE runs SET summary='{not json' WHERE id=?", (broken,))
    conn.execute("PRAGMA user_version = 3")  # as an older stabviz left it
    conn.commit()
    conn.close()
    store = RunStore(path)
    assert [store.get(r)["status"] for r in (stopped, done, broken)] == ["stopped", "finished", "finished"]


def test_status_text_names_divergence_and_cancels_with_their_step():
    cfg = {"train_steps": 60}
    assert (
        status_text(
            {
                "status": "diverged",
                "config": cfg,
                "summary": {"stopped_early": "non-finite loss", "final": {"steps_done": 12}},
            }
        )
        == "diverged at 12/60 (non-finite loss)"
    )
    assert (
        status_text({"status": "cancelled", "config": cfg, "summary": {"final": {"steps_done": 3}}})
        == "cancelled at 3/60"
    )
    assert (
        status_text(
            {
                "status": "finished",
                "config": cfg,
                "summary": {"stopped_early": "time limit", "final": {"steps_done": 40}},
            }
        )
        == "stopped at 40/60 (time limit)"
    )  # a summary from before the status existed
    for status in ("queued", "running", "interrupted", "failed", "finished"):
        assert status_text({"status": status, "config": cfg}) == status


# -- how training went --------------------------------------------------------------------------------


def run(status: str, **kw) -> dict:
    return {
        "id": "r",
        "status": status,
        "config": {"task": "randman", "classes": 5, "train_steps": 100},
        "summary": summary(status, **kw),
    }


def test_chance_is_one_over_the_classes_and_at_chance_allows_two_standard_errors():
    assert chance_level(run("finished")) == pytest.approx(0.2)
    assert at_chance(0.2, 0.2, 200) and at_chance(0.25, 0.2, 200) and not at_chance(0.3, 0.2, 200)
    assert not at_chance(0.87, 0.2, None)


def test_vanished_gradients_at_chance_say_so_first_in_a_warning():
    out = training_outcome([run("finished", accuracy=0.2, regime="vanishing")])
    assert out["kind"] == "at chance" and out["tone"] == "warning"
    assert out["sentence"].startswith("Gradients vanished; accuracy stayed at chance: 20% (chance 20%)")


def test_a_trained_run_leads_with_its_accuracy_in_green():
    out = training_outcome([run("finished", accuracy=0.87, regime="stable")])
    assert out["tone"] == "success" and out["sentence"].startswith("Trained: 87% test accuracy (chance 20%)")


@pytest.mark.parametrize(
    "status, early, tone, start",
    [
        ("stopped", "time limit", "warning", "Stopped at 77/100 (time limit): not a finished result"),
        ("diverged", "non-finite loss", "error", "Diverged at 77/100 (non-finite loss): no trained result"),
        ("cancelled", "cancelled", "warning", "Cancelled at 77/100: not a finished result"),
    ],
)
def test_runs_that_did_not_finish_are_never_a_result(status, early, tone, start):
    out = training_outcome([run(status, steps=77, early=early, accuracy=0.9)])
    assert out["tone"] == tone and out["sentence"].startswith(start)
    assert "90%" not in out["sentence"] and "Trained" not in out["sentence"]


def test_a_group_leads_with_its_worst_run_and_counts_it():
    out = training_outcome(
        [
            run("finished", accuracy=0.9),
            run("diverged", steps=12, early="non-finite loss"),
            run("finished", accuracy=0.9),
        ]
    )
    assert out["tone"] == "error" and out["sentence"].startswith("1 of 3 runs diverged at 12/100")
    mixed = training_outcome([run("finished", regime="vanishing"), run("finished", regime="stable")])
    assert "vanished in 1 of 2 runs" in mixed["sentence"] and "stable in 1 of 2 runs" in mixed["sentence"]


def test_interrupted_and_failed_runs_have_no_result_and_pending_runs_no_verdict():
    assert training_outcome([{"status": "failed", "config": {}}])["tone"] == "error"
    assert training_outcome([{"status": "interrupted", "config": {}}])["sentence"].startswith("Interrupted")
    assert training_outcome([run("finished"), {"status": "running", "config": {}}])["kind"] == "pending"


# -- the confirmation's one config --------------------------------------------------------------------


def test_the_confirmation_is_one_config_at_the_setting_s_T_with_enough_test_samples_for_the_probe():
    from stabviz.runs.confirm import quick_config
    from stabviz.tasks import TEST_FRACTION
    from stabviz.train import PROBE_SAMPLES
    from stabviz.ui import runlaunch

    assert runlaunch.quick_config is quick_config  # one definition, not a copy
    cfg = quick_config(LIFConfig(steps=80))
    assert cfg.time_steps == cfg.lif.steps == 80
    assert round(TEST_FRACTION * cfg.samples) >= PROBE_SAMPLES  # the verdict's probe has its samples
    assert cfg.train_steps * cfg.batch <= 1000  # short: see docs/confirmation.md


def test_the_worker_records_a_time_limited_run_as_stopped_with_the_steps_it_took(tmp_path):
    from stabviz.runs import worker

    store = RunStore(tmp_path / "s.db")
    run_id = store.create(tiny(train_steps=5, time_limit=1e-6))
    assert store.claim(run_id, os.getpid())
    assert worker.execute_claimed(store, run_id) == "stopped"
    run = store.get(run_id)
    assert run["status"] == "stopped" and status_text(run) == "stopped at 0/5 (time limit)"


def test_the_cli_lists_and_shows_a_time_limited_run_as_stopped_at_k_of_n(tmp_path, monkeypatch, capsys):
    from stabviz.cli import main

    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    run_id = ended(RunStore(), "stopped", steps=77, early="time limit")
    assert main(["runs", "list"]) == 0
    line = [row for row in capsys.readouterr().out.splitlines() if row.startswith(run_id)][0]
    assert "stopped at 77/100 (time limit)" in line
    assert main(["runs", "show", run_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["status"], shown["status_text"], shown["steps_done"]) == (
        "stopped",
        "stopped at 77/100 (time limit)",
        77,
    )
    assert main(["runs", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status_text"] == "stopped at 77/100 (time limit)"
