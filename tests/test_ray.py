"""The Ray launcher against a local Ray started here (one per module: start-up takes seconds)."""
from __future__ import annotations

import os

import pytest

from stabviz.config import LIFConfig, TrainConfig
from stabviz.runs import RunStore, get_launcher
from stabviz.runs.host import dispatcher_pid

ray = pytest.importorskip("ray")
from stabviz.runs.ray_launcher import gpu_share  # noqa: E402  (imports ray)


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def tiny(**changes) -> TrainConfig:
    base = TrainConfig(lif=LIFConfig(n_rec=16, n_in=20), time_steps=10, train_steps=5, batch=8,
                       samples=40, classes=2, log_every=1, device="cpu")
    return base.replace(**changes)


def test_ray_launcher_completes_a_two_point_sweep_into_the_same_store(ray_cluster, tmp_path):
    store = RunStore(tmp_path / "stabviz.db")
    launcher = get_launcher("ray", store=store)
    sweep_id, ids = launcher.submit_sweep(tiny(), "dampening", [0.5, 2.0])
    assert launcher.wait(ids, timeout=90) == {i: "finished" for i in ids}

    runs = store.sweep(sweep_id)["runs"]
    assert [r["id"] for r in runs] == ids
    assert [r["config"]["lif"]["dampening"] for r in runs] == [0.5, 2.0]
    assert [r["sweep_point"] for r in runs] == [{"dampening": 0.5}, {"dampening": 2.0}]
    for r in runs:
        assert r["launcher"] == "ray" and r["pid"] != os.getpid()   # ran in a Ray worker
        assert r["summary"]["status"] == "finished" and store.metrics(r["id"])
    # Ray runs are Ray's: no local dispatcher was started for them.
    assert dispatcher_pid(store.path) is None


def test_ray_run_cancelled_while_queued_never_starts(ray_cluster, tmp_path):
    store = RunStore(tmp_path / "stabviz.db")
    launcher = get_launcher("ray", store=store)
    # The one CPU is held by the first run, so the second waits in Ray's queue.
    busy = launcher.submit(tiny(train_steps=5000, time_limit=120.0))
    waiting = launcher.submit(tiny())
    assert launcher.cancel(waiting) == "cancelled"
    assert launcher.cancel(busy) in ("cancelled", "running")
    assert launcher.wait([busy, waiting], timeout=60) == {busy: "cancelled", waiting: "cancelled"}
    assert store.get(waiting)["started"] is None


def test_gpu_share_is_fractional_for_small_runs_only():
    assert gpu_share(tiny(), cluster_gpus=0) == 0.0
    assert gpu_share(tiny(device="auto"), cluster_gpus=2) == 0.25
    assert gpu_share(tiny(device="cpu"), cluster_gpus=2) == 0.0
    assert gpu_share(tiny(lif=LIFConfig(n_rec=1024, n_in=20)).replace(device="cuda"), cluster_gpus=2) == 1.0
