"""Run store and local launcher, with real worker processes and a real SQLite file.

Every test gets its own STABVIZ_HOME and kills, at the end, every process that carries it in its
environment (the dispatcher and its workers), so nothing outlives the test.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import metric_points, processes_with_env, wait_for

from stabviz.cli import main as cli_main
from stabviz.config import LIFConfig, TrainConfig
from stabviz.runs import LocalLauncher, RunStore, parse_values, sweep_points
from stabviz.runs.store import HOST
from stabviz.runs.sweep import apply_point

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 60


def tiny(**changes) -> TrainConfig:
    """A run that trains in a fraction of a second on one CPU core."""
    base = TrainConfig(
        lif=LIFConfig(n_rec=16, n_in=20),
        time_steps=10,
        train_steps=5,
        batch=8,
        samples=40,
        classes=2,
        log_every=1,
        device="cpu",
    )
    return base.replace(**changes)


def long_run() -> TrainConfig:
    """Runs long enough (thousands of steps) to be killed or cancelled mid-way."""
    return tiny(train_steps=5000, time_limit=120.0)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh STABVIZ_HOME; afterwards no process started for it survives."""
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("STABVIZ_WORKER_IDLE_S", "1")
    monkeypatch.delenv("STABVIZ_WORKERS", raising=False)
    yield tmp_path
    LocalLauncher(RunStore(tmp_path / "stabviz.db")).shutdown(timeout=10)
    for pid in processes_with_env("STABVIZ_HOME", str(tmp_path)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# -- end to end --------------------------------------------------------------------------------------


def test_run_submitted_by_a_process_that_exits_finishes_with_metrics(home):
    script = (
        "import sys, time\n"
        "from stabviz.runs import get_launcher\n"
        "from stabviz.config import TrainConfig\n"
        f"cfg = TrainConfig.from_dict({tiny().to_dict()!r})\n"
        "t = time.monotonic(); run_id = get_launcher().submit(cfg); dt = time.monotonic() - t\n"
        "heavy = [m for m in ('torch', 'streamlit', 'ray') if m in sys.modules]\n"
        "print(run_id, round(dt, 3), ','.join(heavy) or '-')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S, check=True
    ).stdout.split()
    run_id, submit_s, heavy = out[0], float(out[1]), out[2]
    assert heavy == "-", f"submitting imported {heavy}"
    assert submit_s < 2.0, "submit must return at once, not after the run"

    store = RunStore()
    assert store.wait([run_id], timeout=WAIT_S) == {run_id: "finished"}
    run = store.get(run_id)
    assert run["config"] == tiny().to_dict()
    assert run["started"] >= run["created"] and run["finished"] >= run["started"]
    assert run["pid"] and run["host"] == HOST and run["error"] is None
    assert set(run["summary"]) >= {"run_id", "status", "initial", "final", "prediction", "device", "wall_s"}
    assert run["summary"]["run_id"] == run_id and run["device"] == run["summary"]["device"]
    assert run["versions"]["torch"] and run["versions"]["python"] and run["versions"]["stabviz"]
    series = store.metrics(run_id)
    assert series, "the callback's metrics must be stored"
    for steps, values in series.values():
        assert steps == sorted(steps) and len(steps) == len(values)
    assert len({s for steps, _ in series.values() for s in steps}) >= 2  # logged every step


def test_sigkilled_worker_is_reported_interrupted_and_keeps_its_metrics(home):
    store = RunStore()
    run_id = LocalLauncher(store).submit(long_run())
    wait_for(lambda: metric_points(store, run_id) >= 3, what="first metrics")
    pid = store.get(run_id)["pid"]
    before = metric_points(store, run_id)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: store.get(run_id)["status"] == "interrupted", timeout=15, what="interrupted")
    run = store.get(run_id)
    assert str(pid) in run["error"]
    assert metric_points(store, run_id) >= before


def test_stale_heartbeat_marks_a_run_interrupted_on_any_host(home):
    """Workers on another host cannot be checked by pid: only their heartbeat tells."""
    store = RunStore(stale_after=30)
    here, there = store.create(tiny()), store.create(tiny())
    assert store.claim(here, os.getpid()) and store.claim(there, 12345, host="other-node")
    store.log_metrics(there, 0, {"loss": 1.0})
    assert store.reap() == []  # both fresh
    old = time.time() - 60
    conn = store._conn()
    conn.execute("UPDATE runs SET heartbeat=? WHERE id IN (?, ?)", (old, here, there))
    assert sorted(store.reap()) == sorted([here, there])
    assert store.get(there)["status"] == "interrupted" and "heartbeat" in store.get(there)["error"]
    assert store.metrics(there) == {"loss": ([0], [1.0])}


def test_twenty_submissions_from_four_threads_are_all_recorded_and_finish(home, monkeypatch):
    monkeypatch.setenv("STABVIZ_WORKERS", "2")
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def submit_five(thread: int) -> None:
        launcher = LocalLauncher()  # one launcher (and store connection) per thread
        try:
            for k in range(5):
                run_id = launcher.submit(tiny(lr=1e-3 * (1 + thread * 5 + k)))
                with lock:
                    ids.append(run_id)
        except BaseException as e:  # surfaced below: a thread's failure fails the test
            errors.append(e)

    threads = [threading.Thread(target=submit_five, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert not errors
    store = RunStore()
    assert len(set(ids)) == 20
    assert sorted(r["id"] for r in store.list(limit=None)) == sorted(ids)
    lrs = sorted(round(r["config"]["lr"] * 1e3) for r in store.list(limit=None))
    assert lrs == list(range(1, 21))  # each submission kept its own config
    statuses = store.wait(ids, timeout=WAIT_S * 2)
    assert set(statuses.values()) == {"finished"}, statuses
    assert all(metric_points(store, i) > 0 for i in ids)


def test_cancel_works_on_queued_and_running_runs(home, monkeypatch):
    monkeypatch.setenv("STABVIZ_WORKERS", "1")
    monkeypatch.setenv("STABVIZ_MAX_ENSEMBLE", "1")  # one run at a time: the second waits queued
    store = RunStore()
    launcher = LocalLauncher(store)
    first, second = launcher.submit(long_run()), launcher.submit(long_run())
    wait_for(lambda: metric_points(store, first) >= 2, what="first run training")
    assert store.get(second)["status"] == "queued"  # one worker: it waits

    assert launcher.cancel(second) == "cancelled"
    assert launcher.cancel(first) == "running"  # flagged; the worker stops it
    assert store.wait([first, second], timeout=30) == {first: "cancelled", second: "cancelled"}
    assert store.get(second)["started"] is None and store.metrics(second) == {}
    kept = metric_points(store, first)
    assert 2 <= kept < 5000  # stopped early, metrics kept


def test_failing_run_ends_failed_with_its_message(home):
    bad_file = home / "not-really.h5"
    bad_file.write_bytes(b"this is not an HDF5 file")
    store = RunStore()
    run_id = LocalLauncher(store).submit(tiny(task="shd", data_path=str(bad_file)))
    assert store.wait([run_id], timeout=WAIT_S) == {run_id: "failed"}
    run = store.get(run_id)
    assert "not-really.h5" in run["error"]
    assert "Traceback" not in run["error"] and "\n" not in run["error"]  # one line for users
    assert "Traceback" in run["traceback"]  # kept for debugging


def test_limits_are_refused_before_anything_is_queued(home, monkeypatch):
    store = RunStore()
    launcher = LocalLauncher(store)
    monkeypatch.setenv("STABVIZ_MAX_NEURONS", "8")
    with pytest.raises(ValueError, match="neurons = 16 .*limit 8"):
        launcher.submit(tiny())
    monkeypatch.delenv("STABVIZ_MAX_NEURONS")
    monkeypatch.setenv("STABVIZ_MAX_QUEUED", "2")
    with pytest.raises(ValueError, match="queued runs = 3 .*limit 2"):
        launcher.submit_sweep(tiny(), "dampening", [0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match="dampening = -1"):
        launcher.submit_sweep(tiny(), "dampening", [1.0, -1.0])
    assert store.list() == []
    # The queue limit counts runs already waiting, atomically with the insert.
    store.create_many([(tiny(), None)] * 2, max_queued=2)
    with pytest.raises(ValueError, match="2 already waiting"):
        store.create(tiny(), max_queued=2)
    assert store.count("queued") == 2


# -- store contents and exports -----------------------------------------------------------------------


def _finished_run(store: RunStore) -> str:
    run_id = store.create(tiny())
    assert store.claim(run_id, os.getpid())
    store.log_metrics(run_id, 0, {"loss": 2.0, "rate": [0.1, 0.3]})
    store.log_metrics(run_id, 10, {"loss": float("nan")})
    summary = {
        "run_id": run_id,
        "status": "finished",
        "initial": {"loss": 2.0},
        "final": {"loss": 0.5, "accuracy": 0.75},
        "prediction": {"stable": True},
        "device": "cpu",
        "wall_s": 1.5,
    }
    store.set_status(run_id, "finished", summary=summary, prediction=summary["prediction"], device="cpu")
    return run_id


def test_export_csv_has_one_row_per_step_and_one_column_per_metric(home):
    store = RunStore()
    run_id = _finished_run(store)
    rows = list(csv.reader(io.StringIO(store.export(run_id, "csv"))))
    assert rows == [["step", "loss", "rate[0]", "rate[1]"], ["0", "2.0", "0.1", "0.3"], ["10", "nan", "", ""]]


def test_export_json_is_strict_json_with_run_and_series(home):
    store = RunStore()
    run_id = _finished_run(store)

    def no_nan(token):
        raise AssertionError(f"non-standard JSON constant {token}")

    doc = json.loads(store.export(run_id, "json"), parse_constant=no_nan)
    assert doc["run"]["id"] == run_id and doc["run"]["status"] == "finished"
    assert doc["run"]["config"]["lif"]["n_rec"] == 16
    assert doc["metrics"]["loss"] == {"steps": [0, 10], "values": [2.0, None]}
    assert doc["metrics"]["rate[1]"] == {"steps": [0], "values": [0.3]}
    assert "traceback" not in doc["run"]
    with pytest.raises(ValueError, match="format = 'xml'"):
        store.export(run_id, "xml")


def test_export_table_flattens_config_and_outcome(home):
    store = RunStore()
    done = _finished_run(store)
    queued = store.create(tiny(lr=0.01))
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(store.export_table("csv")))}
    assert set(rows) == {done, queued}
    assert rows[done]["lif.n_rec"] == "16" and rows[done]["final.accuracy"] == "0.75"
    assert rows[queued]["status"] == "queued" and rows[queued]["lr"] == "0.01"
    assert rows[queued]["final.accuracy"] == ""
    table = json.loads(store.export_table("json"))
    assert {r["id"] for r in table} == {done, queued}


def test_metrics_filters_by_name_and_step(home):
    store = RunStore()
    run_id = _finished_run(store)
    assert store.metrics(run_id, names=["rate[0]"]) == {"rate[0]": ([0], [0.1])}
    loss = store.metrics(run_id, after_step=0)["loss"]
    assert loss[0] == [10] and math.isnan(loss[1][0])
    assert store.get(run_id[:6])["id"] == run_id  # unique prefix
    with pytest.raises(KeyError):
        store.get("nope")


# -- sweeps and the CLI -------------------------------------------------------------------------------


def test_sweep_values_take_the_parameter_type_and_grid_order():
    assert parse_values("n_rec", "16, 32") == [16, 32]
    assert parse_values("dampening", "0.5,1") == [0.5, 1.0]
    assert parse_values("shape", "gaussian,cauchy") == ["gaussian", "cauchy"]
    assert parse_values("reset_grad", "true,false") == [True, False]
    with pytest.raises(ValueError, match="n_rec = '1.5'"):
        parse_values("n_rec", "1.5")
    with pytest.raises(ValueError, match="sweep parameter = 'gamma'"):
        sweep_points("gamma", [1.0])
    assert sweep_points("dampening", [0.5, 1.0], "lr", [0.1, 0.2]) == [
        {"dampening": 0.5, "lr": 0.1},
        {"dampening": 1.0, "lr": 0.1},
        {"dampening": 0.5, "lr": 0.2},
        {"dampening": 1.0, "lr": 0.2},
    ]
    cfg = apply_point(tiny(), {"tau": 20.0, "batch": 4})
    assert cfg.batch == 4 and math.isclose(cfg.lif.leak, math.exp(-1 / 20))


def test_cli_sweep_list_show_export_cancel(home, capsys):
    tiny_args = [
        "--n-rec",
        "16",
        "--n-in",
        "20",
        "--time-steps",
        "10",
        "--train-steps",
        "5",
        "--batch",
        "8",
        "--samples",
        "40",
        "--classes",
        "2",
        "--log-every",
        "1",
        "--device",
        "cpu",
    ]
    assert cli_main(["sweep", "--x", "dampening", "--x-values", "0.5,1", *tiny_args, "--wait", "--json"]) == 0
    sweep = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in sweep["runs"]] == ["finished", "finished"]
    assert [r["sweep_label"] for r in sweep["runs"]] == ["dampening=0.5", "dampening=1"]
    assert [r["outcome"]["setting"] for r in sweep["runs"]] == ["dampening=0.5", "dampening=1"]
    assert all(r["outcome"]["measured"] in ("vanishing", "stable", "exploding") for r in sweep["runs"])
    first = sweep["runs"][0]["id"]

    assert cli_main(["runs", "list", "--sweep", sweep["sweep_id"], "--json"]) == 0
    assert {r["id"] for r in json.loads(capsys.readouterr().out)} == {r["id"] for r in sweep["runs"]}
    assert cli_main(["runs", "show", first, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["lif"]["dampening"] == 0.5 and shown["latest_metrics"]
    assert cli_main(["runs", "export", first, "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("step,")
    assert cli_main(["runs", "cancel", first]) == 0
    assert "already finished" in capsys.readouterr().out

    longer = tiny_args.copy()  # one --train-steps: a second one with another value is refused
    longer[longer.index("--train-steps") + 1] = "5000"
    assert cli_main(["submit", *longer, "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["id"]
    assert cli_main(["runs", "cancel", run_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] in ("cancelled", "running")
    assert RunStore().wait([run_id], timeout=30)[run_id] == "cancelled"

    assert cli_main(["runs", "show", "no-such-run"]) == 2
    assert "no run with id 'no-such-run'" in capsys.readouterr().err


def test_sweep_wait_draws_progress_on_stderr_and_ends_with_an_outcome_table(home, capsys):
    tiny_args = [
        "--n-rec",
        "16",
        "--n-in",
        "20",
        "--time-steps",
        "10",
        "--train-steps",
        "5",
        "--batch",
        "8",
        "--samples",
        "40",
        "--classes",
        "2",
        "--log-every",
        "1",
        "--device",
        "cpu",
    ]
    assert cli_main(["sweep", "--x", "dampening", "--x-values", "0.5,2", *tiny_args, "--wait"]) == 0
    out, err = capsys.readouterr()
    bars = [line for line in err.splitlines() if line.startswith("[")]
    assert bars and "2/2 runs ended" in bars[-1] and " 100% " in bars[-1], err
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("setting "))
    assert lines[header].split() == ["setting", "status", "predicted", "measured", "verdict", "accuracy"]
    store = RunStore()
    for line, label in zip(lines[header + 1 : header + 3], ("dampening=0.5", "dampening=2")):
        run = next(r for r in store.list() if r["sweep_label"] == label)
        verdict = run["summary"]["verdict"]["regime"]
        words = line.split()
        assert words[:4] == [label, "finished", run["prediction"]["regime"], verdict["measured"]]
        assert words[4] == {True: "confirmed", False: "refuted"}.get(verdict["agrees"], "—")
        assert float(words[5]) == pytest.approx(run["summary"]["final"]["accuracy"], rel=1e-3)
    assert lines[header + 3].startswith("prediction confirmed for ")


# -- seed groups -------------------------------------------------------------------------------------


def test_a_seed_group_round_trips_through_the_store_and_gets_its_verdict_at_two_measured(home):
    from stabviz import train
    from stabviz.intervals import group_verdict
    from stabviz.runs.groups import group_of, groups_of, seed_values
    from stabviz.runs.sweep import sweep_configs

    store = RunStore()
    base = tiny(lif=tiny().lif.replace(seed=7), train_steps=1)
    seeds = seed_values(base, 3)
    assert seeds == [7, 8, 9]
    ids = store.create_many(
        [
            (cfg, {"id": "g1", "label": f"seed={p['seed']}", "point": p})
            for p, cfg in sweep_configs(base, "seed", seeds)
        ],
        sweep_spec=("g1", {"x": "seed", "x_values": seeds, "y": None, "y_values": None}),
    )
    other = store.create(tiny(), {"id": "s1", "label": "dampening=1", "point": {"dampening": 1.0}})
    assert group_of(store, store.get(other)) is None  # a sweep over anything else: no group
    summaries = []
    for k, run_id in enumerate(ids):
        run = store.get(run_id)
        assert run["config"]["lif"]["seed"] == seeds[k] and run["sweep_point"] == {"seed": seeds[k]}
        group = group_of(store, run)
        assert group["size"] == 3 and group["seeds"] == seeds and group["measured"] == k
        assert group["verdict"] is None if k < 2 else group["verdict"]["members"] == k
        summary = train.run(TrainConfig.from_dict(run["config"]))
        summaries.append(summary)
        store.set_status(run_id, "running")
        store.set_status(run_id, "finished", summary=summary, prediction=summary["prediction"])
    group = groups_of(store.list())["g1"]
    assert group["measured"] == 3 and set(groups_of(store.list())) == {"g1"}
    assert group["verdict"] == group_verdict(summaries)  # the stored summaries, read back as JSON


def test_cli_submit_seeds_queues_one_group_and_show_and_list_give_its_interval(home, capsys):
    tiny_args = [
        "--n-rec",
        "16",
        "--n-in",
        "20",
        "--time-steps",
        "10",
        "--train-steps",
        "3",
        "--batch",
        "8",
        "--samples",
        "40",
        "--classes",
        "2",
        "--log-every",
        "1",
        "--device",
        "cpu",
    ]
    assert cli_main(["submit", "--seeds", "3", "--seed", "4", *tiny_args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["ids"]) == 3 and out["seeds"] == [4, 5, 6]
    store = RunStore()
    assert store.sweep(out["group_id"])["spec"]["x"] == "seed"
    assert store.wait(out["ids"], timeout=WAIT_S) == {i: "finished" for i in out["ids"]}
    assert [store.get(i)["config"]["lif"]["seed"] for i in out["ids"]] == [4, 5, 6]

    assert cli_main(["runs", "show", out["ids"][0], "--json"]) == 0
    group = json.loads(capsys.readouterr().out)["group"]
    assert group["id"] == out["group_id"] and group["measured"] == 3
    verdict = group["verdict"]
    assert verdict["members"] == 3 and verdict["agrees"] in (True, False)
    lo, hi = verdict["rho"]["interval"]
    assert lo < verdict["rho"]["mean"] < hi
    assert cli_main(["runs", "show", out["ids"][1]]) == 0
    text = capsys.readouterr().out
    assert f"group      {out['group_id']}: 3 seeds 4-6, 3 measured" in text
    assert "Over 3 seeds the prediction " in text and "95% interval of ρ̂ [" in text
    assert cli_main(["runs", "list"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line[:12] in out["ids"]]
    assert len(rows) == 3 and all(f"ρ̂ {verdict['rho']['mean']:.3g} [{lo:.3g}, {hi:.3g}]" in r for r in rows)

    assert cli_main(["submit", "--seeds", "65", *tiny_args]) == 2
    assert "--seeds" in capsys.readouterr().err and len(store.list()) == 3
