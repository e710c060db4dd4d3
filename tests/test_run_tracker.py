"""The run tracker: tags and soft delete in the store (and the migration that adds their columns to an older
store), relative times, ETA and the cost estimate from measured seconds per step, the comparison of a few
runs, and the Runs page that opens on the watched run, shows the new run after a launch, explains the
gradient-flow plot and deletes with undo."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest
from support import open_app, shown

from stabviz import theory
from stabviz.config import LIFConfig, TrainConfig
from stabviz.runs import RunStore
from stabviz.runs.store import SCHEMA_VERSION, StoreError
from stabviz.ui import runlaunch

RUNS_PAGE = "runs"


@pytest.fixture(autouse=True)
def temp_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    return tmp_path


def _store(home) -> RunStore:
    return RunStore(home / "stabviz.db")


def _ended(store, cfg=None, *, steps=10, seconds=5.0, status="finished", summary=None) -> str:
    """A run that ran ``steps`` steps in ``seconds`` (its start stamped back in time)."""
    run_id = store.create(cfg or TrainConfig(lif=LIFConfig(n_rec=32), train_steps=steps))
    store.set_status(run_id, "running")
    store.set_status(run_id, status, summary=summary)
    with sqlite3.connect(store.path) as c:
        c.execute("UPDATE runs SET started = finished - ? WHERE id = ?", (seconds, run_id))
    return run_id


# -- store: tags, soft delete, migration ---------------------------------------------------------------


def test_tags_are_cleaned_stored_and_exported(temp_home):
    store = _store(temp_home)
    run_id = _ended(store)
    assert store.set_tags(run_id[:6], ["  baseline ", "lecture", "baseline", ""]) == ["baseline", "lecture"]
    assert store.get(run_id)["tags"] == ["baseline", "lecture"]
    assert "baseline, lecture" in store.export_table("csv")
    with pytest.raises(ValueError, match="longer than 40 characters"):
        store.set_tags(run_id, ["x" * 41])
    assert store.set_tags(run_id, []) == [] and store.get(run_id)["tags"] is None


def test_delete_hides_ended_runs_until_undone_and_skips_active_ones(temp_home):
    store = _store(temp_home)
    done, other = _ended(store), _ended(store)
    queued = store.create(TrainConfig(), launcher="ray")  # ray: no local dispatcher picks it up
    assert store.delete([done, queued]) == [done]  # a queued run is cancelled first, not deleted
    assert {r["id"] for r in store.list()} == {other, queued}
    assert [r["id"] for r in store.list(deleted=True)] == [done]
    assert store.get(done)["deleted"] is not None  # still readable by id, metrics kept
    assert store.delete([done]) == []  # already deleted
    assert store.undelete([done]) == [done] and store.undelete([done]) == []
    assert {r["id"] for r in store.list()} == {done, other, queued}


OLD_SCHEMA = """
CREATE TABLE runs (id TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL,
    launcher TEXT NOT NULL DEFAULT 'local', created REAL NOT NULL, started REAL, finished REAL, heartbeat REAL,
    device TEXT, host TEXT, pid INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0, error TEXT, traceback TEXT,
    versions TEXT, prediction TEXT, summary TEXT, sweep_id TEXT, sweep_label TEXT, sweep_point TEXT);
CREATE TABLE metrics (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, step INTEGER NOT NULL,
    name TEXT NOT NULL, value REAL);
CREATE TABLE sweeps (id TEXT PRIMARY KEY, created REAL NOT NULL, spec TEXT NOT NULL);
PRAGMA user_version = 2;
"""


def _old_store(path) -> None:
    """A version-2 store (before tags and deletion) holding one finished run 'old1'."""
    with sqlite3.connect(path) as c:
        c.executescript(OLD_SCHEMA)
        c.execute(
            "INSERT INTO runs (id, config, status, created, finished) VALUES ('old1', ?, 'finished', 1, 2)",
            (__import__("json").dumps(TrainConfig().to_dict()),),
        )


def test_an_older_store_gets_the_new_columns_and_keeps_its_runs(temp_home):
    path = temp_home / "stabviz.db"
    _old_store(path)
    store = RunStore(path)
    with sqlite3.connect(path) as c:
        columns = {row[1] for row in c.execute("PRAGMA table_info(runs)")}
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert {"tags", "deleted"} <= columns
    assert [r["id"] for r in store.list()] == ["old1"]
    assert store.set_tags("old1", ["kept"]) == ["kept"] and store.delete(["old1"]) == ["old1"]
    assert store.list() == [] and store.undelete(["old1"]) == ["old1"]


def test_an_older_store_that_cannot_be_upgraded_still_lists_and_says_why_it_cannot_tag(temp_home):
    path = temp_home / "stabviz.db"
    _old_store(path)
    store = RunStore(path, read_only=True)
    assert [r["id"] for r in store.list()] == ["old1"] and store.list(deleted=True) == []
    with pytest.raises(StoreError, match="older stabviz"):
        store.set_tags("old1", ["x"])


# -- times, ETA, cost, comparison ------------------------------------------------------------------------


def test_relative_times_and_spans():
    assert runlaunch.ago(None) == "—"
    assert runlaunch.ago(100.0, now=102.0) == "just now"
    assert runlaunch.ago(100.0, now=142.0) == "42 s ago"
    assert runlaunch.ago(0.0, now=180.0) == "3 min ago"
    assert runlaunch.span(5400) == "1.5 h" and runlaunch.span(7200) == "2 h" and runlaunch.span(3 * 86400) == "3 d"


def test_eta_comes_from_the_measured_seconds_per_step():
    run = {"status": "running", "started": 1000.0, "config": {"train_steps": 200}}
    # 55% of 200 steps = 110 steps in 33 s: 0.3 s per step, 90 steps left
    assert runlaunch.seconds_per_step(run, 0.55, now=1033.0) == pytest.approx(0.3)
    assert runlaunch.eta(run, 0.55, now=1033.0) == pytest.approx(27.0)
    assert runlaunch.eta({**run, "status": "queued", "started": None}, 0.0) is None
    assert runlaunch.eta(run, 0.0, now=1001.0) is None  # no step done yet


def test_the_cost_estimate_is_runs_times_steps_times_measured_seconds_per_step(temp_home):
    store = _store(temp_home)
    base = TrainConfig(lif=LIFConfig(n_rec=32), train_steps=10)
    assert runlaunch.cost_estimate(base, 4, store.list()) is None
    assert "No estimate yet: no run of this size" in runlaunch.cost_caption(base, 4)
    _ended(store, base, seconds=5.0)  # 0.5 s per step at this size
    _ended(store, base.replace(batch=128), seconds=50.0)  # another size: not used while one of this size exists
    est = runlaunch.cost_estimate(base.replace(train_steps=100), 4, store.list(), workers=1)
    assert est["measured_on"] == 1 and est["per_step"] == pytest.approx(0.5, rel=0.05)
    assert est["seconds"] == pytest.approx(4 * 100 * 0.5, rel=0.05)
    assert runlaunch.cost_estimate(base, 4, store.list(), workers=2)["seconds"] == pytest.approx(10.0, rel=0.05)
    # no run of this size: no estimate (a small run's time is mostly start-up; scaling it misled by 1000×)
    assert runlaunch.cost_estimate(base.replace(batch=16), 1, store.list(), workers=1) is None
    assert "no run of this size (n = 32, batch 16" in runlaunch.cost_caption(base.replace(batch=16), 1)
    assert "about" in runlaunch.cost_caption(base, 4)


def test_ensemble_members_each_cost_their_share_of_the_ensembles_wall_time(temp_home):
    # 16 sweep runs that trained as one ensemble each took the whole 8 s: 0.05 s per member-step, not 0.8
    store = _store(temp_home)
    base = TrainConfig(lif=LIFConfig(n_rec=32), train_steps=10)
    for _ in range(3):
        _ended(store, base, seconds=8.0, summary={"execution": {"mode": "eager", "note": None, "members": 16}})
    est = runlaunch.cost_estimate(base, 16, store.list(), workers=1)
    assert est["per_step"] == pytest.approx(8.0 / 10 / 16, rel=0.05)
    assert est["seconds"] == pytest.approx(8.0, rel=0.05)


def test_the_watched_run_is_the_newest_active_one_else_the_newest():
    runs = [{"id": "c", "status": "finished"}, {"id": "b", "status": "running"}, {"id": "a", "status": "queued"}]
    assert runlaunch.watched_run(runs) == "b"
    assert runlaunch.watched_run(runs[:1]) == "c" and runlaunch.watched_run([]) is None


def test_a_comparison_shows_only_the_settings_that_differ(temp_home):
    store = _store(temp_home)
    a = _ended(store, TrainConfig(lif=LIFConfig(dampening=0.5), train_steps=10))
    b = _ended(store, TrainConfig(lif=LIFConfig(dampening=2.0), train_steps=20))
    rows = runlaunch.comparison_table([store.get(a), store.get(b)])
    assert [r["lif.dampening"] for r in rows] == [0.5, 2.0] and [r["train_steps"] for r in rows] == [10, 20]
    assert set(rows[0]) == {"run", "lif.dampening", "train_steps", "status", "predicted", "measured", "accuracy"}


# -- the Runs page ---------------------------------------------------------------------------------------


def _summary(cfg: LIFConfig, measured: str, rho2: float, agrees: bool) -> dict:
    pred = theory.predict(cfg)
    return {
        "initial": {"firing_rate": [0.3], "rho2": rho2, "grad_gain": 1.2, "grad_flow": [8.0, 4.0, 2.0, 1.0]},
        "final": {"accuracy": 0.6, "loss": 0.9, "steps_done": 10},
        "verdict": {
            "regime": {"predicted": pred.regime, "measured": measured, "agrees": agrees, "band": [-1.0, 1.0]},
            "rho2": {"predicted": pred.rho2, "measured": rho2},
        },
    }


def test_the_runs_page_opens_on_the_newest_active_run_with_its_status_and_eta(temp_home):
    store = _store(temp_home)
    running = store.create(TrainConfig(train_steps=200), launcher="ray")  # no local worker takes it
    store.set_status(running, "running", pid=os.getpid())
    store.log_metrics(running, 110, {"progress": 0.55, "loss": 1.0})
    time.sleep(0.01)
    _ended(store)  # newer, but ended
    at = open_app(page=RUNS_PAGE)
    assert at.selectbox(key="run_choice").value == running
    assert at.subheader[0].value == f"Run {running[:8]}: running"  # above the launch form and the table
    bar = at.get("progress")[0].proto
    assert bar.text.startswith("running: 55% · ETA ") and "s per step" in bar.text
    form = next(e for e in at.expander if e.label == "Launch a run")
    assert not form.proto.expanded  # the form, collapsed once runs exist
    assert any("finished" in m.value and "-background[" in m.value for m in at.markdown)  # the colour key


def test_launching_shows_the_new_run_at_once(temp_home):
    store = _store(temp_home)
    old = _ended(store)
    at = open_app({"n_rec": "16"}, page=RUNS_PAGE)  # opened on the newest run, which goes into the link
    assert at.selectbox(key="run_choice").value == old and at.query_params["run"] in (old, [old])
    for label, value in (("Training steps", 2), ("Batch", 4), ("Time steps per sample", 5), ("Seeds", 1)):
        next(n for n in at.number_input if n.label == label).set_value(value)
    try:
        at.button(key="launch_run").click().run()
        assert not at.exception and not at.error
        new = next(r["id"] for r in store.list() if r["id"] != old)
        assert at.selectbox(key="run_choice").value == new
        assert at.query_params["run"] in (new, [new])
        assert at.subheader[0].value.startswith(f"Run {new[:8]}: ")
    finally:
        runlaunch.launcher().shutdown(timeout=20)


def test_an_exploding_run_with_rho2_below_one_says_which_gain_the_verdict_uses(temp_home):
    store = _store(temp_home)
    cfg = LIFConfig()
    run_id = _ended(store, TrainConfig(lif=cfg, train_steps=10), summary=_summary(cfg, "exploding", 0.93, False))
    at = open_app({"run": run_id}, page=RUNS_PAGE)
    notes = [shown(i.value) for i in at.info]
    assert any(
        n.startswith("Why is the measured ρ² = 0.93 below 1 while the run measured *exploding*?")
        and "The verdict uses ρ̂" in n
        for n in notes
    ), notes
    assert any("falls towards t = T" in c.value and "Exploding" in c.value for c in at.caption)


def test_delete_hides_the_run_and_undo_brings_it_back(temp_home):
    store = _store(temp_home)
    keep, gone = _ended(store), _ended(store)
    at = open_app({"run": gone}, page=RUNS_PAGE)
    at.button(key="delete_run").click().run()
    assert not at.exception
    assert [r["id"] for r in store.list()] == [keep] and at.selectbox(key="run_choice").value == keep
    assert any(gone[:8] in shown(i.value) and i.value.startswith("Deleted 1 run") for i in at.info)
    at.button(key="undo_delete").click().run()
    assert {r["id"] for r in store.list()} == {keep, gone}
    assert not any(i.value.startswith("Deleted") for i in at.info)
