"""The measured layer's background registry (stabviz.ui.mapjobs) with stand-in workers in a real spawn
process: submit, progress, result, supersede, cache hits, refusals and a crashed worker, each a message."""

import os
import time

import numpy as np
import pytest
from support import wait_for

from stabviz.ui import mapjobs
from stabviz.ui.mapjobs import MapJobs, MapSpec

pytestmark = pytest.mark.timeout(180)


# Stand-in workers (module level: the spawned worker imports them by name). ``setting`` carries their orders.
def counting(spec, progress):
    """Reports every cell; holds at the half-way mark while the file ``hold`` exists; dies at once (as
    the kernel's out-of-memory killer would end it) when told to ``crash``."""
    total = spec.n * spec.n
    for done in range(total + 1):
        progress(done, total)
        if spec.setting.get("crash"):
            os._exit(3)
        while done == total // 2 and os.path.exists(spec.setting.get("hold", "")):
            time.sleep(0.02)
    return {"x": spec.x, "n": spec.n, "pid": os.getpid()}


def refusing(spec, progress):
    raise ValueError("the measured map needs about 9 GB,\nover the limit")


def failing(spec, progress):
    raise KeyError("gamma")


def _spec(x="sharpness", n=4, **setting):
    return MapSpec(setting, x, n)


@pytest.fixture
def jobs():
    made = []

    def make(worker=counting, **kw):
        made.append(MapJobs(worker, **kw))
        return made[-1]

    yield make
    for j in made:
        j.shutdown()


def _finished(registry, key, timeout=60):
    return wait_for(lambda: (s := registry.status(key)).state in ("done", "error") and s, timeout, f"map {key}")


def test_a_map_reports_progress_then_its_result_and_is_cached(jobs, tmp_path):
    reg = jobs()
    hold = tmp_path / "hold"
    hold.touch()
    first = reg.submit("alice", "k1", _spec(n=4, hold=str(hold)))
    assert first.state in ("waiting", "running") and first.total == 16
    half = wait_for(lambda: (s := reg.status("k1")).done == 8 and s, 60, "half the cells")
    assert half.state == "running" and half.total == 16
    hold.unlink()
    done = _finished(reg, "k1")
    assert done.state == "done" and done.done == done.total == 16
    assert done.result["x"] == "sharpness" and done.result["pid"] != os.getpid()  # another process
    again = reg.submit("bob", "k1", _spec(n=4))  # a cache hit: no new job
    assert again is done


def test_one_map_at_a_time_and_a_newer_request_supersedes_the_older_waiting_one(jobs, tmp_path):
    reg = jobs()
    hold = tmp_path / "hold"
    hold.touch()
    reg.submit("alice", "running", _spec(hold=str(hold)))
    wait_for(lambda: reg.status("running").state == "running", 60, "the first map to start")
    assert reg.submit("alice", "old", _spec()).state == "waiting"
    bob = reg.submit("bob", "bobs", _spec())
    assert bob.state == "waiting" and bob.ahead == 2  # the running map and alice's
    assert reg.submit("alice", "new", _spec()).state == "waiting"
    assert reg.status("old").state == "none"  # superseded before it started
    assert reg.status("bobs").ahead == 1  # alice's old one left the queue
    assert reg.status("running").state == "running"  # a running map is never superseded
    hold.unlink()
    for key in ("running", "bobs", "new"):
        assert _finished(reg, key).state == "done"
    assert reg.status("old").state == "none"


def test_a_session_that_switches_the_layer_off_leaves_the_queue(jobs, tmp_path):
    reg = jobs()
    hold = tmp_path / "hold"
    hold.touch()
    reg.submit("alice", "busy", _spec(hold=str(hold)))
    reg.submit("alice", "mine", _spec())
    reg.submit("bob", "both", _spec())
    reg.submit("carol", "both", _spec())
    reg.withdraw("alice")
    reg.withdraw("bob")
    assert reg.status("mine").state == "none" and reg.status("both").ahead == 1  # carol still waits
    assert reg.status("busy").state == "running"
    hold.unlink()


def test_a_map_two_sessions_ask_for_survives_one_of_them_moving_on(jobs, tmp_path):
    reg = jobs()
    hold = tmp_path / "hold"
    hold.touch()
    reg.submit("alice", "busy", _spec(hold=str(hold)))
    reg.submit("alice", "shared", _spec())
    reg.submit("bob", "shared", _spec())
    reg.submit("alice", "elsewhere", _spec())  # alice moves on; bob still waits for it
    assert reg.status("shared").state == "waiting"
    hold.unlink()
    assert _finished(reg, "shared").state == "done"


def test_the_cache_is_bounded_and_forgets_the_least_recently_used(jobs):
    reg = jobs(cache_size=2)
    for key in ("a", "b"):
        reg.submit("alice", key, _spec(n=2))
        _finished(reg, key)
    reg.submit("alice", "a", _spec(n=2))  # a is now the most recent
    reg.submit("alice", "c", _spec(n=2))
    _finished(reg, "c")
    assert reg.status("a").state == "done" and reg.status("b").state == "none"


def test_a_refusal_is_its_one_line_and_can_be_retried(jobs):
    reg = jobs(refusing)
    reg.submit("alice", "big", _spec())
    status = _finished(reg, "big")
    assert status.state == "error" and status.error == "the measured map needs about 9 GB, over the limit"
    assert reg.submit("alice", "big", _spec()) is status  # cached: no retry loop
    reg.forget("big")
    assert reg.submit("alice", "big", _spec()).state in ("waiting", "running")


def test_an_unexpected_error_is_named_on_one_line(jobs):
    reg = jobs(failing)
    reg.submit("alice", "k", _spec())
    status = _finished(reg, "k")
    assert status.state == "error" and status.error == "the measured map failed: KeyError: 'gamma'"


def test_a_crashed_worker_is_a_message_and_the_next_map_gets_a_new_worker(jobs, tmp_path):
    reg = jobs()
    reg.submit("alice", "boom", _spec(crash=True))
    status = _finished(reg, "boom")
    assert status.state == "error" and status.error == mapjobs.CRASHED
    reg.submit("alice", "fine", _spec(n=2))  # the next map, on a fresh process
    assert _finished(reg, "fine").state == "done"


def test_shared_mode_bounds_the_waiting_maps(jobs, tmp_path):
    reg = jobs()
    hold = tmp_path / "hold"
    hold.touch()
    reg.submit("a", "busy", _spec(hold=str(hold)), max_waiting=1)
    wait_for(lambda: reg.status("busy").state == "running", 60, "the first map to start")
    reg.submit("b", "one", _spec(), max_waiting=1)
    with pytest.raises(ValueError, match="1 measured maps are already waiting"):
        reg.submit("c", "two", _spec(), max_waiting=1)
    assert reg.submit("b", "one", _spec(), max_waiting=1).state == "waiting"  # asking again is no new map
    hold.unlink()


def test_a_waiting_map_nobody_polls_is_dropped(jobs, tmp_path):
    reg = jobs(stale_s=0.2)
    hold = tmp_path / "hold"
    hold.touch()
    reg.submit("a", "busy", _spec(hold=str(hold)))
    reg.submit("b", "abandoned", _spec())  # b's tab closes: nobody asks again
    time.sleep(0.5)
    reg.submit("a", "busy", _spec(hold=str(hold)))  # a still polls its own
    hold.unlink()
    assert _finished(reg, "busy").state == "done"
    assert reg.status("abandoned").state == "none"


def test_the_real_worker_returns_measure_maps_numbers_with_progress():
    pytest.importorskip("torch")
    from stabviz import preset
    from stabviz.measured import measure_map

    cfg = preset("shd-tau20", n_rec=32, n_in=40, steps=30)
    spec = MapSpec(cfg.to_dict(), "sharpness", 5, batch=4, steps=80, burn_in=40)
    calls = []
    out = mapjobs.measure(spec, lambda done, total: calls.append((done, total)))
    want = measure_map(cfg, x="sharpness", nx=5, ny=5, batch=4, steps=80, burn_in=40)
    np.testing.assert_allclose(out["rho_hat"], want.rho_hat, rtol=1e-6)
    assert out["agreement"] == want.agreement and out["x_name"] == "sharpness"
    # one report per column chunk (PROGRESS_UPDATES of them at most), ending with every cell
    assert calls[0] == (0, 25) and calls[-1] == (25, 25) and len(calls) == 6


def test_the_verdicts_checks_run_on_the_same_registry_in_a_thread_with_the_same_cache_policy():
    # outcome.Checks is a jobs.Jobs over one server thread: one owner, so the newest request supersedes the
    # one waiting, and the finished checks are kept least-recently-used first, like the maps
    import threading

    from stabviz.ui import jobs as background

    gate, ran = threading.Event(), []

    def check(spec, progress):
        ran.append((spec, os.getpid()))
        gate.wait(10)
        return {"setting": spec}

    reg = background.Jobs(check, cache_size=1, executor=background.ThreadExecutor)
    try:
        assert reg.submit("server", "a", "a").state == "running"
        assert reg.submit("server", "b", "b").state == "waiting"
        assert reg.submit("server", "c", "c").state == "waiting"  # b is superseded before it starts
        assert reg.status("b").state == "none"
        gate.set()
        assert _finished(reg, "c").result == {"setting": "c"}
        assert ran == [("a", os.getpid()), ("c", os.getpid())]  # b never ran; in this process: a thread
        assert reg.status("a").state == "none"  # the cache holds one: c
    finally:
        reg.shutdown()
