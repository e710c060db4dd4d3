"""Launchers train compatible queued runs as one ensemble (stabviz.train.run_ensemble): the store claims a
group, the worker trains it in lockstep, and each member stays a normal run (metrics, summary, verdict,
cancel). Real worker processes and a real SQLite file, as in test_runs."""

from __future__ import annotations

import pytest
from support import metric_points, wait_for
from test_runs import WAIT_S, home, long_run, tiny  # noqa: F401  (home is a fixture)

from stabviz import train
from stabviz.runs import LocalLauncher, RunStore, worker


def _key(config: dict) -> tuple:
    return worker._ensemble_key(config)


def test_the_store_claims_the_oldest_run_with_the_queued_runs_that_can_share_its_ensemble(home):
    store = RunStore()
    a = store.create(tiny(lr=1e-3))
    b = store.create(tiny(batch=16))  # another batch: apart
    c = store.create(tiny(lr=3e-3, lif=tiny().lif.replace(dampening=2.0)))  # same shape: together
    d = store.create(tiny(lr=2e-3))
    claimed = store.claim_group("local", 111, key=_key, limit=2)
    assert claimed == [a, c]  # oldest first, the limit holds
    assert {r["id"]: r["status"] for r in store.list(limit=None)} == {
        a: "running",
        b: "queued",
        c: "running",
        d: "queued",
    }
    # an ensemble is one worker: with max_running = 1 nobody else may claim
    assert store.claim_group("local", 222, key=_key, limit=8, max_running=1) == []
    assert store.claim_next("local", 222, max_running=1) is None
    assert store.claim_group("local", 222, key=_key, limit=8, max_running=2) == [b]
    store.requeue([c], pid=111)
    assert store.get(c)["status"] == "queued" and store.get(c)["started"] is None
    store.requeue([b], pid=111)  # not ours: untouched
    assert store.get(b)["status"] == "running"


def test_a_config_the_key_cannot_read_is_claimed_alone(home):
    store = RunStore()
    a, b = store.create(tiny()), store.create(tiny())

    def broken(config):
        raise ValueError("unreadable")

    assert store.claim_group("local", 1, key=broken, limit=8) == [a]
    assert store.get(b)["status"] == "queued"


def test_cancel_requests_are_read_for_a_whole_ensemble_at_once(home):
    store = RunStore()
    ids = [store.create(tiny()) for _ in range(3)]
    assert store.claim_group("local", 7, key=_key, limit=8) == ids  # running: cancel is a flag
    assert store.request_cancel(ids[1]) == "running"
    assert store.cancel_requests(ids) == {ids[1]} and store.cancel_requests([]) == set()


def test_a_seed_group_trains_as_one_ensemble_and_each_member_is_its_separate_run(home, monkeypatch):
    monkeypatch.setenv("STABVIZ_WORKERS", "1")
    launcher = LocalLauncher()
    cfg = tiny(train_steps=20, log_every=5)
    _, ids = launcher.submit_seeds(cfg, 3)
    store = launcher.store
    assert store.wait(ids, timeout=WAIT_S * 2) == {i: "finished" for i in ids}
    runs = [store.get(i) for i in ids]
    assert {r["versions"].get("ensemble") for r in runs} == {3}  # packed: one ensemble of three
    assert len({r["pid"] for r in runs}) == 1  # one worker trained them
    for r in runs:
        s = r["summary"]
        assert s["verdict"] and s["status"] == "finished" and metric_points(store, r["id"]) >= 4
        alone = train.run(type(cfg).from_dict(r["config"]))  # the same run, trained alone
        for k in ("rho2", "grad_gain"):
            assert s["initial"][k] == pytest.approx(alone["initial"][k], rel=1e-5)
        assert s["initial"]["firing_rate"] == pytest.approx(alone["initial"]["firing_rate"], rel=1e-5)


def test_one_member_cancelled_mid_ensemble_stops_alone(home, monkeypatch):
    monkeypatch.setenv("STABVIZ_WORKERS", "1")
    store = RunStore()
    launcher = LocalLauncher(store)
    slow = long_run()
    ids = [launcher.submit(slow.replace(lr=1e-3 * (k + 1))) for k in range(3)]
    wait_for(lambda: all(metric_points(store, i) >= 2 for i in ids), what="the ensemble training")
    assert {store.get(i)["status"] for i in ids} == {"running"}  # all three at once
    assert launcher.cancel(ids[0]) == "running"
    wait_for(lambda: store.get(ids[0])["status"] == "cancelled", what="the cancelled member to stop")
    before = [metric_points(store, i) for i in ids[1:]]
    wait_for(
        lambda: all(metric_points(store, i) > b for i, b in zip(ids[1:], before)), what="the other members to go on"
    )
    for i in ids[1:]:
        launcher.cancel(i)
    assert store.wait(ids, timeout=30) == {i: "cancelled" for i in ids}


def test_an_ensemble_that_raises_fails_every_member_with_the_message(home):
    store = RunStore()
    ids = [store.create(tiny()) for _ in range(2)]
    assert store.claim_group("local", 5, key=_key, limit=8) == ids

    def broken(members, callback, should_stop):
        raise RuntimeError("out of cheese\nsecond line")

    assert worker.execute_claimed_ensemble(store, ids, broken) == ["failed", "failed"]
    for i in ids:
        run = store.get(i)
        assert run["error"] == "RuntimeError: out of cheese" and "Traceback" in run["traceback"]


def test_max_ensemble_one_or_a_custom_entry_trains_runs_one_at_a_time(home, monkeypatch):
    store = RunStore()
    ids = [store.create(tiny()) for _ in range(3)]
    monkeypatch.setenv("STABVIZ_MAX_ENSEMBLE", "1")
    assert worker.claim_work(store, "local", 9, None) == [ids[0]]
    monkeypatch.delenv("STABVIZ_MAX_ENSEMBLE")
    monkeypatch.setenv("STABVIZ_TRAIN_ENTRY", "stabviz.train:run")
    assert worker.claim_work(store, "local", 9, None) == [ids[1]]
    monkeypatch.delenv("STABVIZ_TRAIN_ENTRY")
    assert worker.claim_work(store, "local", 9, None) == [ids[2]]


def test_runs_that_do_not_fit_one_ensemble_go_back_to_the_queue(home, monkeypatch):
    store = RunStore()
    ids = [store.create(tiny()) for _ in range(4)]
    from stabviz import memory

    one = memory.estimate_ensemble_bytes([tiny()])
    two = memory.estimate_ensemble_bytes([tiny(), tiny()])
    monkeypatch.setenv(
        "STABVIZ_MAX_MEMORY_MB", str((two + (memory.estimate_ensemble_bytes([tiny()] * 3) - two) / 2) / 2**20)
    )
    assert one < two
    assert worker.claim_work(store, "local", 9, None) == ids[:2]
    assert [store.get(i)["status"] for i in ids] == ["running", "running", "queued", "queued"]
