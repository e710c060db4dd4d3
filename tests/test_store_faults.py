"""Run store under faults, with real processes and a real SQLite file: killed workers, dispatchers
and submitters, stopped workers declared dead, a lock held past the busy timeout, read-only,
full and damaged stores, and a load test.

Runs here use a fake training function (``fake_train`` below, named through STABVIZ_TRAIN_ENTRY):
a few steps of a few milliseconds each, logged through the real store, so each scenario takes
seconds and imports no torch.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import metric_points, processes_with_env, wait_for

from stabviz.config import LIFConfig, TrainConfig
from stabviz.runs import LocalLauncher, RunStore
from stabviz.runs import database as store_db
from stabviz.runs import store as store_mod
from stabviz.runs.host import dispatcher_pid
from stabviz.runs.store import TERMINAL

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
FAKE_ENTRY = "test_store_faults:fake_train"


def fake_train(cfg, callback, should_stop, run_id):
    """Stands in for stabviz.train.run: ``train_steps`` steps of STABVIZ_FAKE_STEP_S seconds."""
    step_s = float(os.environ.get("STABVIZ_FAKE_STEP_S", "0.02"))
    attempts = os.environ.get("STABVIZ_FAKE_ATTEMPTS")
    if attempts:  # one line per execution: run id, worker pid, its dispatcher's pid, time
        with open(attempts, "a") as f:
            f.write(f"{run_id} {os.getpid()} {os.getppid()} {time.time()}\n")
    for step in range(cfg.train_steps):
        if should_stop():
            return {"status": "cancelled", "run_id": run_id, "device": "cpu", "steps": step}
        callback({"step": step, "metrics": {"loss": 1.0 / (step + 1), "rate": [0.1, 0.2]}})
        time.sleep(step_s)
    return {"status": "finished", "run_id": run_id, "device": "cpu", "steps": cfg.train_steps}


def quick(steps: int = 8, **changes) -> TrainConfig:
    return TrainConfig(
        lif=LIFConfig(n_rec=16, n_in=20),
        time_steps=10,
        train_steps=steps,
        batch=8,
        samples=40,
        classes=2,
        log_every=1,
        device="cpu",
    ).replace(**changes)


def _kill_all(home: Path) -> None:
    for pid in processes_with_env("STABVIZ_HOME", str(home)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)


def _use_home(monkeypatch, home: Path, workers: int = 2) -> None:
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("STABVIZ_HOME", str(home))
    monkeypatch.setenv("STABVIZ_WORKER_IDLE_S", "1")
    monkeypatch.setenv("STABVIZ_WORKERS", str(workers))
    monkeypatch.setenv("STABVIZ_TRAIN_ENTRY", FAKE_ENTRY)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(TESTS)]))


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh STABVIZ_HOME whose runs use fake_train; no process started for it survives."""
    _use_home(monkeypatch, tmp_path / "home")
    yield tmp_path / "home"
    _kill_all(tmp_path / "home")


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# -- 1. queued runs are picked up again without a new submit ------------------------------------------


def test_queued_runs_left_without_dispatcher_start_when_the_store_is_opened(home):
    """A submitter killed between recording its runs and starting a dispatcher (or a dispatcher
    killed) leaves queued runs: opening the launcher, or ensure_dispatcher, starts them."""
    store = RunStore()
    ids = store.create_many([(quick(lr=0.001 * (i + 1)), None) for i in range(3)])
    assert dispatcher_pid(store.path) is None
    LocalLauncher(store)  # what the CLI and the dashboard do when they open it
    statuses = store.wait(ids, timeout=20)
    assert set(statuses.values()) == {"finished"}, statuses

    from stabviz.runs import ensure_dispatcher

    wait_for(lambda: dispatcher_pid(store.path) is None, 15, "the dispatcher to go idle")
    more = store.create_many([(quick(), None)])
    assert ensure_dispatcher(RunStore()) is not None
    assert ensure_dispatcher(RunStore()) is None  # one dispatcher: the lock holds
    assert store.wait(more, timeout=20) == {more[0]: "finished"}


# -- 2. a terminal status never changes ---------------------------------------------------------------


def test_status_changes_are_checked_transitions():
    import tempfile

    from stabviz.runs import RunEnded

    store = RunStore(Path(tempfile.mkdtemp()) / "s.db")
    run = store.create(quick())
    assert not store.set_status(run, "finished")  # queued -> finished: refused
    assert store.claim(run, os.getpid())
    assert store.set_status(run, "interrupted", error="declared dead")
    for later in ("finished", "failed", "cancelled", "running", "diverged"):
        assert not store.set_status(run, later, error=None)
    got = store.get(run)
    assert got["status"] == "interrupted" and got["error"] == "declared dead"
    with pytest.raises(RunEnded):
        store.log_metrics(run, 1, {"loss": 1.0})
    with pytest.raises(RunEnded):
        store.heartbeat(run)
    assert store.metrics(run) == {}
    other = store.create(quick())
    assert store.set_status(other, "cancelled")  # queued -> cancelled
    with pytest.raises(KeyError):
        store.set_status("no-such-run", "failed")


def test_stopped_worker_declared_dead_stays_interrupted_after_it_resumes(home, monkeypatch):
    monkeypatch.setenv("STABVIZ_STALE_AFTER_S", "1.5")
    monkeypatch.setenv("STABVIZ_WORKERS", "1")
    store = RunStore()
    run_id = LocalLauncher(store).submit(quick(steps=3000))  # 60 s at 20 ms a step
    wait_for(lambda: metric_points(store, run_id) >= 9, 20, "first metrics")
    pid = store.get(run_id)["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: store.get(run_id)["status"] == "interrupted", 15, "the stopped worker to be declared dead")
        dead = store.get(run_id)
        kept = metric_points(store, run_id)
    finally:
        os.kill(pid, signal.SIGCONT)
    time.sleep(1.5)  # the worker runs again meanwhile
    after = store.get(run_id)
    assert after["status"] == "interrupted"
    assert after["error"] == dead["error"] and "heartbeat" in after["error"]
    assert after["finished"] == dead["finished"] and after["summary"] is None
    assert metric_points(store, run_id) == kept, "metrics written after the run was declared dead"


# -- 3. reads never write -----------------------------------------------------------------------------


def test_list_and_get_do_not_reap(tmp_path):
    store = RunStore(tmp_path / "s.db")
    run = store.create(quick())
    assert store.claim(run, _dead_pid())
    assert store.get(run)["status"] == "running"
    assert [r["status"] for r in store.list()] == ["running"]
    assert store.reap() == [run]  # the explicit step
    assert store.get(run)["status"] == "interrupted"


@contextlib.contextmanager
def _read_only_view(folder: Path):
    """``folder`` seen through a read-only bind mount (root passes permission checks, not EROFS)."""
    view = folder.parent / (folder.name + "-ro")
    view.mkdir()
    if os.geteuid() != 0:
        os.chmod(folder, 0o555)
        try:
            yield folder
        finally:
            os.chmod(folder, 0o755)
        return
    done = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(view)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here: {done.stderr.strip()}")
    try:
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


def test_read_only_store_can_be_listed_and_refuses_writes(tmp_path):
    folder = tmp_path / "store"
    store = RunStore(folder / "stabviz.db")
    done = store.create(quick())
    assert store.claim(done, os.getpid())
    store.log_metrics(done, 0, {"loss": 0.5})
    store.set_status(done, "finished")
    stale = store.create(quick())
    assert store.claim(stale, _dead_pid())  # a dead worker: reaping would write
    store.close()
    with _read_only_view(folder) as view:
        ro = RunStore(view / "stabviz.db")
        assert {r["id"]: r["status"] for r in ro.list()} == {done: "finished", stale: "running"}
        assert ro.get(done)["status"] == "finished" and ro.metrics(done) == {"loss": ([0], [0.5])}
        assert ro.read_only and ro.reap() == []
        from stabviz.runs import StoreError

        with pytest.raises(StoreError, match="read-only") as err:
            ro.create(quick())
        assert "\n" not in str(err.value)


# -- 4. a failed COMMIT is rolled back ----------------------------------------------------------------


def test_write_after_a_commit_that_timed_out_succeeds(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_SQLITE_JOURNAL", "delete")
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.3)  # the connection layer reads it
    store = RunStore(tmp_path / "s.db")
    run = store.create(quick())
    assert store.claim(run, os.getpid())
    reader = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM runs").fetchall()  # a shared lock: COMMIT cannot finish
    with pytest.raises(Exception, match="busy|locked"):
        store.log_metrics(run, 0, {"loss": 1.0})
    reader.execute("COMMIT")
    reader.close()
    store.log_metrics(run, 1, {"loss": 0.5})  # same thread, same connection
    assert store.metrics(run) == {"loss": ([1], [0.5])}  # the failed write left nothing


# -- 5. clear errors: damaged, full; bad rows ---------------------------------------------------------


def test_damaged_database_gives_one_clear_store_error(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(random.Random(1).randbytes(8192))
    with pytest.raises(RuntimeError, match="damaged") as err:
        RunStore(garbage).list()
    from stabviz.runs import StoreError

    assert isinstance(err.value, StoreError) and err.value.kind == "corrupt"
    assert "\n" not in str(err.value)

    truncated = tmp_path / "truncated.db"
    store = RunStore(truncated)
    store.create_many([(quick(lr=0.001 * (i + 1)), None) for i in range(300)])
    store.close()
    with open(truncated, "r+b") as f:  # keep the header, lose the rest
        f.truncate(4096 + 100)
    with pytest.raises(StoreError, match="damaged"):
        RunStore(truncated).list(limit=None)


def test_unreadable_row_is_marked_and_the_others_list(tmp_path):
    store = RunStore(tmp_path / "s.db")
    good, bad = store.create(quick()), store.create(quick(lr=0.01))
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute("UPDATE runs SET config='{not json', summary='[1,' WHERE id=?", (bad,))
    conn.execute("INSERT INTO metrics (run_id, step, name, value) VALUES (?, 0, 'loss', 'x')", (good,))
    conn.commit()
    conn.close()
    runs = {r["id"]: r for r in store.list()}
    assert set(runs) == {good, bad}
    assert "row_error" not in runs[good] and runs[good]["config"]["lr"] == quick().lr
    assert runs[bad]["config"] is None and "config" in runs[bad]["row_error"]
    assert store.get(bad)["row_error"] == runs[bad]["row_error"]
    steps, values = store.metrics(good)["loss"]
    assert steps == [0] and values[0] != values[0]  # unreadable value: NaN


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root only), filled on demand."""
    mnt = mount_tmpfs(tmp_path / "small", "1m")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def mount_tmpfs(mnt: Path, size: str) -> Path:
    """A tmpfs of ``size`` at ``mnt`` (a folder under the test's tmp_path); skips unless root may mount."""
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    return mnt


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def _keep_full(folder: Path, seconds: float) -> Path:
    """Fill the disk and keep it full for ``seconds``: a writer whose failed transaction deletes its journal
    frees the pages it had taken, which another process could then use; topping up takes them back."""
    deadline = time.monotonic() + seconds
    filler = _fill(folder)
    while time.monotonic() < deadline:
        time.sleep(0.05)
        _fill(folder)
    return filler


def test_full_disk_lists_refuses_writes_clearly_and_records_the_cause(small_disk, monkeypatch):
    from stabviz.runs.worker import execute_claimed

    monkeypatch.setenv("STABVIZ_SQLITE_JOURNAL", "delete")  # each write needs a new journal file
    store = RunStore(small_disk / "stabviz.db")
    run = store.create(quick())
    assert store.claim(run, os.getpid())
    store.log_metrics(run, 0, {"loss": 1.0})
    filler = _fill(small_disk)
    assert [r["id"] for r in RunStore(small_disk / "stabviz.db").list()] == [run]
    monkeypatch.setenv("STABVIZ_SQLITE_JOURNAL", "wal")  # opening does not switch it (a write)
    assert [r["id"] for r in RunStore(small_disk / "stabviz.db").list()] == [run]
    monkeypatch.setenv("STABVIZ_SQLITE_JOURNAL", "delete")
    assert store.get(run)["status"] == "running" and store.metrics(run)["loss"][0] == [0]
    with pytest.raises(RuntimeError, match="disk is full") as err:
        store.log_metrics(run, 1, {"loss": 0.5})
    assert err.value.kind == "full" and "\n" not in str(err.value)  # a StoreError
    filler.unlink()
    store.log_metrics(run, 2, {"loss": 0.25})  # usable again once space is back
    assert store.metrics(run)["loss"][0] == [0, 2]

    # A worker whose writes fail on a full disk records why, once the disk frees up.
    second = store.create(quick())
    assert store.claim(second, os.getpid())

    def train_on_full_disk(cfg, callback, should_stop, run_id):
        callback({"step": 0, "metrics": {"loss": 1.0}})
        _fill(small_disk)
        threading.Timer(0.5, (small_disk / "filler").unlink).start()
        callback({"step": 1, "metrics": {"loss": 0.5}})  # fails: disk full
        return {"status": "finished"}

    # interrupted, not failed: the run did nothing wrong, the store could not be written
    assert execute_claimed(store, second, train_on_full_disk) == "interrupted"
    got = store.get(second)
    assert got["status"] == "interrupted" and "disk is full" in got["error"], got["error"]


# -- 7. killed workers, dispatchers, submitters -------------------------------------------------------

SUBMITTER = """
import sys, time
from stabviz.runs import get_launcher
from stabviz.config import TrainConfig
cfg = TrainConfig.from_dict({cfg!r})
launcher = get_launcher()
for i in range({n}):
    run_id = launcher.submit(cfg.replace(lr=0.001 * (i + 1)))
    print(run_id, flush=True)
    time.sleep(0.15)
"""


def _scenario(kind: str, seed: int, home: Path, monkeypatch) -> dict:
    _use_home(monkeypatch, home)
    monkeypatch.setenv("STABVIZ_FAKE_STEP_S", "0.08")  # 8 steps: 0.64 s a run
    rng = random.Random(seed)
    n = 4
    store = RunStore()
    killed_runs: set[str] = set()
    printed: list[str] = []
    hit = False
    try:
        if kind == "submitter":
            proc = subprocess.Popen(
                [sys.executable, "-c", SUBMITTER.format(cfg=quick().to_dict(), n=n)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(rng.uniform(0.3, 0.9))  # mid-way through its four submits
            hit = proc.poll() is None
            proc.kill()
            printed = proc.communicate()[0].split()
        else:
            launcher = LocalLauncher(store)
            for i in range(n):
                launcher.submit(quick(lr=0.001 * (i + 1)))
            if kind == "dispatcher":
                time.sleep(rng.uniform(0.0, 1.5))
            else:  # a random moment of a run's training
                wait_for(lambda: store.count("running"), 20, "a running run")
                time.sleep(rng.uniform(0.0, 0.7))
            running = store.list(status="running")
            if kind == "worker" and running:
                victim = rng.choice(running)
                os.kill(victim["pid"], signal.SIGKILL)
                killed_runs.add(victim["id"])
                hit = True
            elif kind in ("dispatcher", "both"):
                pid = dispatcher_pid(store.path)
                if pid is not None:
                    hit = True
                    if kind == "both":
                        killed_runs |= {r["id"] for r in running}
                        os.killpg(pid, signal.SIGKILL)
                    else:
                        os.kill(pid, signal.SIGKILL)
        # Whoever opens the store next (dashboard, CLI: a launcher) restarts what died.
        deadline = time.monotonic() + 30
        while True:
            LocalLauncher(store)
            runs = store.list(limit=None)
            if all(r["status"] in TERMINAL for r in runs) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        if kind == "both":  # runs claimed between the listing and the kill died too
            killed_runs |= {r["id"] for r in runs if r["status"] == "interrupted"}
        stranded = [r for r in runs if r["status"] not in TERMINAL]
        assert not stranded, f"{kind}/{seed}: stranded {[(r['id'], r['status']) for r in stranded]}"
        ids = [r["id"] for r in runs]
        assert len(ids) == len(set(ids))
        lrs = [r["config"]["lr"] for r in runs]
        assert len(lrs) == len(set(lrs)), f"{kind}/{seed}: a submission recorded twice"
        assert set(printed) <= set(ids), f"{kind}/{seed}: a submitted run was lost"
        if kind != "submitter":
            assert len(runs) == n
        for r in runs:
            steps = store.metrics(r["id"]).get("loss", ([], []))[0]
            assert len(steps) == len(set(steps)), f"{kind}/{seed}: run {r['id']} executed twice"
            if r["status"] == "finished":
                assert steps == list(range(8))
            else:
                assert r["status"] == "interrupted" and r["id"] in killed_runs, (kind, seed, r)
        return {
            "runs": len(runs),
            "finished": sum(r["status"] == "finished" for r in runs),
            "interrupted": sum(r["status"] == "interrupted" for r in runs),
            "kills": int(hit),
            "submitted": len(printed) if kind == "submitter" else n,
        }
    finally:
        _kill_all(home)


def test_killing_workers_dispatchers_and_submitters_strands_and_loses_nothing(tmp_path, monkeypatch):
    totals = {"scenarios": 0, "runs": 0, "finished": 0, "interrupted": 0, "kills": 0}
    t0 = time.monotonic()
    kinds = ["worker", "dispatcher", "both", "submitter"] * 2
    for seed, kind in enumerate(kinds):
        got = _scenario(kind, seed, tmp_path / f"{kind}-{seed}", monkeypatch)
        totals["scenarios"] += 1
        for k in ("runs", "finished", "interrupted", "kills"):
            totals[k] += got[k]
        print(f"\n  {kind}/{seed}: {got}", end="")
    print(
        f"\nfault scenarios survived: {totals['scenarios']}/{len(kinds)} "
        f"({totals['kills']} with a live victim killed), runs {totals['runs']} (finished "
        f"{totals['finished']}, interrupted {totals['interrupted']}, stranded 0, lost 0, "
        f"duplicated 0) in {time.monotonic() - t0:.1f} s"
    )
    assert totals["kills"] >= len(kinds) // 2, "the kills must hit live processes"


# -- 8. load ------------------------------------------------------------------------------------------


def test_fifty_concurrent_submits_with_three_readers(home, monkeypatch):
    monkeypatch.setenv("STABVIZ_MAX_QUEUED", "200")
    monkeypatch.setenv("STABVIZ_FAKE_STEP_S", "0.002")
    n, steps = 50, 5
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    go = threading.Barrier(n)

    def submit(i: int) -> None:
        try:
            launcher = LocalLauncher()
            go.wait()
            run_id = launcher.submit(quick(steps=steps, lr=0.0001 * (i + 1)))
            with lock:
                ids.append(run_id)
        except BaseException as e:
            errors.append(e)

    done = threading.Event()
    polls = [0, 0, 0]
    seen: dict[str, int] = {}

    def read(k: int) -> None:
        store = RunStore()
        cursors: dict[str, int] = {}
        try:
            while not done.is_set():
                runs = store.list(limit=None)
                if runs:
                    r = runs[polls[k] % len(runs)]
                    store.get(r["id"])
                    new, cursors[r["id"]] = store.metrics_since(r["id"], cursors.get(r["id"], 0))
                    with lock:
                        seen[r["id"]] = seen.get(r["id"], 0) + len(new.get("loss", ([],))[0])
                polls[k] += 1
                time.sleep(0.01)
        except BaseException as e:
            errors.append(e)

    readers = [threading.Thread(target=read, args=(k,)) for k in range(3)]
    for t in readers:
        t.start()
    t0 = time.monotonic()
    threads = [threading.Thread(target=submit, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    submitted = time.monotonic() - t0
    store = RunStore()
    try:
        statuses = store.wait(ids, timeout=45, poll=0.1)
    finally:
        done.set()
        for t in readers:
            t.join(10)
    drain = time.monotonic() - t0
    assert not errors, errors[:3]
    assert len(ids) == n and len(set(ids)) == n
    assert set(statuses.values()) == {"finished"}, statuses
    runs = store.list(limit=None)
    assert sorted(r["id"] for r in runs) == sorted(ids)
    assert sorted(round(r["config"]["lr"] * 1e4) for r in runs) == list(range(1, n + 1))
    for run_id in ids:
        assert store.metrics(run_id)["loss"][0] == list(range(steps))
    print(
        f"\nload: {n} concurrent submits in {submitted:.2f} s, drained in {drain:.2f} s; "
        f"reader polls {polls} (list+get+metrics_since), 0 errors"
    )


# -- 9. incremental metric reads ----------------------------------------------------------------------


def test_metrics_since_returns_only_newmetric_points(tmp_path):
    store = RunStore(tmp_path / "s.db")
    run, other = store.create(quick()), store.create(quick())
    assert store.claim(run, os.getpid()) and store.claim(other, os.getpid())
    names = ["loss", "accuracy", "grad_norm/0", "firing_rate/0", "progress"]
    for step in range(1500):
        store.log_metrics(run, step, {n: step * 0.001 for n in names})
        if step % 100 == 0:
            store.log_metrics(other, step, {"loss": 9.0})
    everything, cursor = store.metrics_since(run)
    assert everything == store.metrics(run)
    t = time.perf_counter()
    for _ in range(20):
        store.metrics(run)
    full_ms = (time.perf_counter() - t) / 20 * 1e3
    t = time.perf_counter()
    for _ in range(20):
        nothing, same = store.metrics_since(run, cursor)
    since_ms = (time.perf_counter() - t) / 20 * 1e3
    assert nothing == {} and same == cursor
    store.log_metrics(run, 1500, {"loss": 0.5, "rate": [0.1, float("nan")]})
    store.log_metrics(other, 1500, {"loss": 7.0})
    new, cursor2 = store.metrics_since(run, cursor)
    assert cursor2 > cursor
    assert new["loss"] == ([1500], [0.5]) and new["rate[0]"] == ([1500], [0.1])
    assert new["rate[1]"][0] == [1500] and new["rate[1]"][1][0] != new["rate[1]"][1][0]
    assert set(new) == {"loss", "rate[0]", "rate[1]"}
    assert store.metrics_since(run, cursor, names=["loss"])[0] == {"loss": ([1500], [0.5])}
    print(
        f"\npoll at 1500 steps x 5 metrics: metrics() {full_ms:.1f} ms, "
        f"metrics_since() with nothing new {since_ms:.2f} ms"
    )


# -- 10. a frozen dispatcher is replaced; damaged files; causes of store failures ---------------------


def _attempts(path: Path) -> list[tuple[str, int, int, float]]:
    if not path.exists():
        return []
    return [
        (r, int(pid), int(ppid), float(t))
        for r, pid, ppid, t in (line.split() for line in path.read_text().splitlines())
    ]


def _frozen_dispatcher_round(
    home: Path,
    rng: random.Random,
    timeout: float,
    resume_window: tuple[float, float],
    monkeypatch,
    kill_worker: bool = True,
) -> dict:
    """Freeze the dispatcher (SIGSTOP), kill its worker or let it finish its run, queue 9 runs, resume the
    dispatcher at a random moment; the queue must still drain, each run executed once, by one dispatcher's
    workers."""
    _use_home(monkeypatch, home, workers=1)
    attempts = home / "attempts"
    monkeypatch.setenv("STABVIZ_FAKE_ATTEMPTS", str(attempts))
    monkeypatch.setenv("STABVIZ_FAKE_STEP_S", "0.05")
    monkeypatch.setenv("STABVIZ_DISPATCHER_TIMEOUT_S", str(timeout))
    store = RunStore()
    launcher = LocalLauncher(store)
    first = launcher.submit(quick(steps=2000 if kill_worker else 100))  # killed long before / 5 s
    wait_for(lambda: metric_points(store, first) >= 2, 30, "the first run's metrics")
    frozen = dispatcher_pid(store.path)
    worker = store.get(first)["pid"]
    os.kill(frozen, signal.SIGSTOP)
    t_freeze = time.time()
    if kill_worker:
        os.kill(worker, signal.SIGKILL)
    resume_after = rng.uniform(*resume_window)
    resumer = threading.Timer(resume_after, os.kill, (frozen, signal.SIGCONT))
    resumer.start()
    try:
        more = [launcher.submit(quick(lr=0.001 * (i + 1))) for i in range(9)]
        statuses = launcher.wait([first, *more], timeout=90)  # restarts a missing dispatcher, as pages do
    finally:
        resumer.join()
    assert statuses[first] == ("interrupted" if kill_worker else "finished"), statuses
    assert all(statuses[r] == "finished" for r in more), statuses
    runs = _attempts(attempts)
    counts = {r: sum(a[0] == r for a in runs) for r in [first, *more]}
    assert all(n == 1 for n in counts.values()), f"a run executed twice or never: {counts}"
    served_by = {ppid for r, _, ppid, t in runs if t > t_freeze}
    assert len(served_by) == 1, f"runs after the freeze were launched by several dispatchers: {served_by}"
    replaced = served_by != {frozen}
    if replaced:  # resumed after its lease was taken: it must notice and exit, launching nothing
        wait_for(lambda: not store_mod.pid_alive(frozen), 30, "the replaced dispatcher to exit")
        assert [a[0] for a in runs if a[1] == worker] == [first], "the old worker claimed more runs"
    started = min(store.get(r)["started"] for r in more)
    return {
        "replaced": replaced,
        "resumed_after_s": resume_after,
        "stranded_s": started - t_freeze,
        "worker": "killed" if kill_worker else "left running",
    }


def test_a_frozen_dispatcher_is_replaced_and_no_run_is_executed_twice(tmp_path, monkeypatch):
    rng, timeout = random.Random(20), 3.0
    rounds = []
    try:
        for k in range(4):  # resumed before the timeout, about at it, and well after it
            window = (0.7 * k * timeout, 0.7 * (k + 1) * timeout)
            rounds.append(
                _frozen_dispatcher_round(
                    tmp_path / f"round{k}", rng, timeout, window, monkeypatch, kill_worker=k % 2 == 0
                )
            )
            _kill_all(tmp_path / f"round{k}")
    finally:
        for k in range(4):
            _kill_all(tmp_path / f"round{k}")
    for r in rounds:
        print(
            f"\n  worker {r['worker']}, resumed after {r['resumed_after_s']:.1f} s: replaced {r['replaced']}, "
            f"queue stranded {r['stranded_s']:.1f} s (timeout {timeout:g} s)",
            end="",
        )
        # a dispatcher frozen past the timeout is replaced soon after it (the page/CLI polls once a second)
        if r["replaced"]:
            assert r["stranded_s"] < timeout + 20
    assert any(r["replaced"] for r in rounds), "no round froze the dispatcher past the timeout"


@contextlib.contextmanager
def silent_dispatcher(store: RunStore, silent_for: float):
    """A live process holding the dispatcher lease whose last heartbeat was ``silent_for`` seconds ago."""
    silent = subprocess.Popen(["sleep", "120"])  # alive, but it never renews the lease
    try:
        assert store.take_dispatch("frozen", silent.pid)
        conn = sqlite3.connect(store.path)
        conn.execute("UPDATE dispatcher SET heartbeat = ?", (time.time() - silent_for,))
        conn.commit()
        conn.close()
        yield silent
    finally:
        silent.kill()
        silent.wait()


def test_runs_list_says_in_one_line_that_the_dispatcher_stopped_answering(tmp_path, monkeypatch, capsys):
    from stabviz.cli import main

    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    store = RunStore()
    with silent_dispatcher(store, silent_for=42) as silent:
        status = store.dispatcher_status()
        assert status["pid"] == silent.pid and status["alive"] and status["stale"] and 41 < status["age_s"] < 60
        assert main(["runs", "list"]) == 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"the dispatcher (pid {silent.pid}) has not responded for 42 s" in err[0], err

        monkeypatch.setenv("STABVIZ_DISPATCHER_TIMEOUT_S", "60")
        assert not store.dispatcher_status()["stale"]
        assert main(["runs", "list"]) == 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "it will be replaced after 60 s" in err[0], err

        monkeypatch.setenv("STABVIZ_DISPATCHER_TIMEOUT_S", "soon")
        assert main(["runs", "list"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [
            "stabviz: error: STABVIZ_DISPATCHER_TIMEOUT_S = 'soon' is not a number of seconds in "
            "[2, 86400]; fix or unset it"
        ], err
        assert main(["submit", "--steps", "5"]) == 2  # refused before anything is queued
        assert "STABVIZ_DISPATCHER_TIMEOUT_S = 'soon'" in capsys.readouterr().err
        assert store.count("queued") == 0
    monkeypatch.delenv("STABVIZ_DISPATCHER_TIMEOUT_S")
    assert store.dispatcher_status()["alive"] is False  # a dead holder is not reported
    assert main(["runs", "list"]) == 0 and capsys.readouterr().err == ""


def _cut_store(path: Path) -> None:
    """A store written by plain sqlite3 (this process keeps no connection to it), then cut short."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (id TEXT, config TEXT)")
    conn.executemany("INSERT INTO runs VALUES (?, ?)", [(str(i), "x" * 200) for i in range(500)])
    conn.commit()
    conn.close()
    with open(path, "r+b") as f:
        f.truncate(3 * 4096)


@pytest.mark.parametrize("damage", ["empty", "cut", "garbage"])
def test_an_empty_or_damaged_store_is_reported_with_the_mv_that_moves_it_aside(tmp_path, monkeypatch, capsys, damage):
    from stabviz.cli import main

    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    db = tmp_path / "stabviz.db"
    if damage == "empty":
        db.write_bytes(b"")
    elif damage == "cut":
        _cut_store(db)
    else:
        db.write_bytes(random.Random(2).randbytes(5000))
    before = db.read_bytes()
    for argv in (["runs", "list"], ["submit", "--steps", "5"], ["runs", "cancel", "abc"]):
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        lines = err.strip().splitlines()
        assert out == "" and len(lines) == 1, (argv, out, err)
        assert f"the run store {db} is damaged" in lines[0]
        assert lines[0].endswith(f"move it aside to start a new one: mv {db} {db}.damaged"), lines[0]
        assert {"empty": "0 bytes", "cut": "truncated", "garbage": "not a SQLite database"}[damage] in lines[0]
    assert db.read_bytes() == before, "the damaged store was changed"
    db.rename(tmp_path / "stabviz.db.damaged")  # what the message says to do
    assert main(["runs", "list"]) == 0 and capsys.readouterr().out.strip() == "no runs"


def test_a_journal_left_without_its_store_is_reported_not_replayed_into_a_new_one(tmp_path, monkeypatch, capsys):
    from stabviz.cli import main

    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    first = RunStore(tmp_path / "old.db")
    first.create(quick())
    wal = tmp_path / "stabviz.db-wal"
    wal.write_bytes((tmp_path / "old.db").read_bytes())  # some other store's pages under the journal's name
    assert main(["runs", "list"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        f"stabviz: error: the run store {tmp_path / 'stabviz.db'} is missing but its journal {wal} "
        f"is left; move it aside to start a new one: mv {wal} {wal}.orphan"
    ], lines
    assert not (tmp_path / "stabviz.db").exists()
    wal.rename(tmp_path / "stabviz.db-wal.orphan")
    assert main(["runs", "list"]) == 0 and capsys.readouterr().out.strip() == "no runs"


def test_the_runs_page_shows_a_damaged_store_as_one_error(tmp_path, monkeypatch):
    from support import open_app

    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    (tmp_path / "stabviz.db").write_bytes(b"")
    at = open_app(page="runs")
    errors = [e.value for e in at.error]
    assert any("damaged" in e and "0 bytes" in e and "mv" in e for e in errors), errors
    assert (tmp_path / "stabviz.db").stat().st_size == 0


def test_the_runs_page_says_when_the_dispatcher_stopped_answering(tmp_path, monkeypatch):
    from support import open_app, shown

    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    store = RunStore()
    with silent_dispatcher(store, silent_for=12) as silent:
        at = open_app(page="runs")
        warnings = [shown(w.value) for w in at.warning]
        assert any(
            f"(pid {silent.pid}) has not responded for 1" in w and "replaced after 30 s" in w for w in warnings
        ), warnings


def train_into_store_failure(cfg, callback, should_stop, run_id):
    """A training entry for the worker process: one step, then every write of this process to the store
    fails with STABVIZ_TEST_STORE_FAULT (a SQLite message) while the file STABVIZ_TEST_FAULT_FLAG exists."""
    import sqlite3 as sq

    flag, message = Path(os.environ["STABVIZ_TEST_FAULT_FLAG"]), os.environ["STABVIZ_TEST_STORE_FAULT"]
    callback({"step": 0, "metrics": {"loss": 1.0}})
    write = RunStore._write

    @contextlib.contextmanager
    def failing_write(self):
        if flag.exists():
            raise sq.OperationalError(message)
        with write(self) as conn:
            yield conn

    RunStore._write = failing_write
    flag.touch()
    for step in range(1, 1000):
        callback({"step": step, "metrics": {"loss": 1.0 / step}})  # raises at once: the store fails
        time.sleep(0.05)
    return {"status": "finished"}


@pytest.mark.parametrize(
    "fault, cause",
    [("database or disk is full", "disk is full"), ("attempt to write a readonly database", "read-only")],
)
def test_a_run_stopped_by_a_store_it_cannot_write_records_why_even_once_declared_dead(
    home, monkeypatch, capsys, fault, cause
):
    from stabviz.cli import main

    flag = home / "store-fails"
    monkeypatch.setenv("STABVIZ_TRAIN_ENTRY", "test_store_faults:train_into_store_failure")
    monkeypatch.setenv("STABVIZ_TEST_FAULT_FLAG", str(flag))
    monkeypatch.setenv("STABVIZ_TEST_STORE_FAULT", fault)
    monkeypatch.setenv("STABVIZ_STALE_AFTER_S", "2")  # the dispatcher declares it dead meanwhile
    store = RunStore()
    run_id = LocalLauncher(store).submit(quick())
    wait_for(flag.exists, 30, "the worker's writes to start failing")
    wait_for(lambda: store.get(run_id)["status"] == "interrupted", 30, "the reaper to mark the run")
    assert "heartbeat" in store.get(run_id)["error"]  # all the reaper could know
    flag.unlink()  # space is back / writable again
    wait_for(lambda: cause in (store.get(run_id)["error"] or ""), 30, "the worker to record the cause")
    got = store.get(run_id)
    assert got["status"] == "interrupted" and "\n" not in got["error"]
    assert got["error"].startswith(f"the run store {store.path}") and "heartbeat" in got["error"], got["error"]
    assert main(["runs", "list"]) == 0
    assert any(run_id in line and cause in line for line in capsys.readouterr().out.splitlines())


def test_a_real_full_disk_ends_a_workers_run_interrupted_with_that_cause(tmp_path, monkeypatch):
    """The store on a small tmpfs, filled while a real worker trains: nobody can write (the dispatcher's
    log, its lease and its reaper included) until space is freed; then the run ends interrupted with
    the disk as its cause, whoever writes first."""
    mnt = mount_tmpfs(tmp_path / "small", "4m")
    home = mnt / "home"
    try:
        _use_home(monkeypatch, home, workers=1)
        monkeypatch.setenv("STABVIZ_SQLITE_JOURNAL", "delete")  # each write needs a new journal file
        monkeypatch.setenv("STABVIZ_STALE_AFTER_S", "2")
        store = RunStore()
        run_id = LocalLauncher(store).submit(quick(steps=3000))  # 60 s at 20 ms a step
        wait_for(lambda: metric_points(store, run_id) >= 5, 30, "first metrics")
        filler = _keep_full(mnt, 4)  # past the stale limit, but no process can write the verdict
        assert store.get(run_id)["status"] == "running"
        filler.unlink()
        wait_for(lambda: "disk is full" in (store.get(run_id)["error"] or ""), 30, "the cause to be recorded")
        got = store.get(run_id)
        assert got["status"] == "interrupted" and "\n" not in got["error"], got
    finally:
        _kill_all(home)
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_cancel_submit_and_sweep_on_a_full_disk_print_one_line(tmp_path, monkeypatch, capsys):
    from stabviz.cli import main

    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    store = RunStore()
    queued = store.create(quick())
    dead = store.create(quick())
    assert store.claim(dead, _dead_pid())  # opening the store wants to reap it: a write

    def full(self):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(RunStore, "_write", full)
    for argv in (
        ["runs", "cancel", queued],
        ["submit", "--steps", "5"],
        ["sweep", "--x", "lr", "--x-values", "0.01,0.02", "--steps", "5"],
    ):
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        assert out == "" and err.strip().splitlines() == [
            f"stabviz: error: the run store {store.path} cannot be written: its disk is full"
        ], (argv, err)


@pytest.mark.parametrize("name", ["STABVIZ_WORKER_IDLE_S", "STABVIZ_RECORD_RETRY_S"])
@pytest.mark.parametrize("raw", ["abc", "nan", "-1", "1e9"])
def test_the_workers_own_variables_are_named_when_their_value_is_bad(monkeypatch, name, raw):
    from stabviz.runs import worker

    monkeypatch.setenv(name, raw)
    with pytest.raises(ValueError, match=f"^{name} = '{re.escape(raw)}' is not a number of seconds"):
        if name == "STABVIZ_WORKER_IDLE_S":
            worker.main(["--db", "unused.db", "--workers", "1"])
        else:
            worker._record(None, "run", "interrupted")
