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
        assert r["launcher"] == "ray" and r["pid"] != os.getpid()  # ran in a Ray worker
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


RAY_SUBMIT = """
import socket, sys, time
from stabviz.runs import RunStore, get_launcher
from stabviz.config import TrainConfig
store = RunStore(sys.argv[1])
address = sys.argv[2]
if address == "silent":                 # accepts TCP, never answers like Ray
    server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(8)
    address = f"127.0.0.1:{server.getsockname()[1]}"
t = time.monotonic()
try:
    get_launcher("ray", store=store, ray_address=address).submit(TrainConfig.from_dict(%r))
    print("SUBMITTED")
except Exception as exc:
    print(f"{type(exc).__name__}|{exc}|{time.monotonic() - t:.1f}")
print("RUNS", len(store.list(limit=None)))
"""


@pytest.mark.parametrize("address", ["127.0.0.1:1", "silent"])
def test_unreachable_ray_fails_fast_with_one_line_and_queues_nothing(tmp_path, address):
    """ray.init has no timeout of its own: 127.0.0.1:1 used to hang for minutes and leave a
    queued run. Run in a subprocess so a hang fails the test after 30 s instead of blocking it."""
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "STABVIZ_RAY_CONNECT_TIMEOUT_S": "4", "RAY_ADDRESS": ""}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")) if p
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", RAY_SUBMIT % (tiny().to_dict(),), str(tmp_path / "stabviz.db"), address],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"submitting to an unreachable Ray ({address}) still runs after 30 s")
    lines = done.stdout.strip().splitlines()
    assert lines and lines[-1] == "RUNS 0", done.stdout + done.stderr[-2000:]
    kind, message, seconds = lines[-2].split("|")
    assert kind == "RayConnectError" and message.startswith("could not connect to Ray at 127.0.0.1:")
    assert float(seconds) < 10
