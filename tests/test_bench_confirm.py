"""benchmarks/bench_confirm runs the dashboard's default confirmation end to end (store, dispatcher, worker,
verdict); its smoke size (--train-steps 1 --seeds 2) keeps that path tested."""

import json
import os

import pytest

from benchmarks import bench_confirm


def test_the_smoke_run_reaches_the_group_verdict_and_reports_its_times(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("STABVIZ_WORKER_IDLE_S", "1")
    assert bench_confirm.main(["--train-steps", "1", "--seeds", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (run,) = report["runs"]
    assert run["statuses"] == ["finished", "finished"] and run["train_steps"] == 1
    assert run["wall_s"] > 0 and run["cpu_s"] > 0 and run["wait_for_worker_s"] is not None
    assert run["group_verdict"].startswith("Over 2 seeds the prediction")
    assert run["outcome"][0].isupper() and "chance" in run["outcome"]
    assert os.listdir(tmp_path) == []  # each confirmation used a store of its own


def test_bad_arguments_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench_confirm.main(["--seeds", "0"])
    assert exit_.value.code == 2 and "--seeds = 0 is outside the allowed range" in capsys.readouterr().err
