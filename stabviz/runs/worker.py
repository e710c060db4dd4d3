"""Worker processes: execute queued runs and write everything to the run store.

Started as ``python -m stabviz.runs.worker --db PATH --workers N`` (by :class:`LocalLauncher`, in its
own session so it outlives whoever submitted). That process is the *dispatcher*: at most one per
database (an ``flock`` on ``<db>.dispatcher.lock``), it keeps up to N worker processes (multiprocessing
``spawn``: CUDA cannot be re-initialised in a forked child) alive while runs are queued, reaps runs whose
worker died, and exits when the queue is empty and its workers have gone idle. Each worker claims queued
runs atomically, one at a time, and calls ``stabviz.train.run``. Nothing here imports streamlit; torch is
imported only inside the workers, by the training code.
"""
from __future__ import annotations

import argparse
import importlib
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable

from stabviz.runs.host import DispatcherLock, default_workers, lock_path, visible_gpus
from stabviz.runs.store import HOST, RunStore, software_versions

#: Seconds between heartbeats written by a busy worker (the store calls a run stale after 30 s).
HEARTBEAT_S = 5.0
#: Seconds between two looks at the cancel flag (should_stop is called every training step).
CANCEL_POLL_S = 0.25
#: Seconds an idle worker waits for new runs before exiting (saves re-importing torch per run).
DEFAULT_IDLE_S = 10.0
DISPATCH_POLL_S = 0.2
TRAIN_ENTRY = "stabviz.train:run"
SUMMARY_STATUSES = ("finished", "diverged", "cancelled")


class WorkerStopped(BaseException):
    """Raised in a worker when it is told to stop (SIGTERM) in the middle of a run."""


def load_train_function(entry: str | None = None) -> Callable[..., dict]:
    """The training entry point ``module:function``: ``STABVIZ_TRAIN_ENTRY`` or stabviz.train:run.
    It is called as ``fn(cfg, callback, should_stop, run_id) -> summary dict``."""
    entry = entry or os.environ.get("STABVIZ_TRAIN_ENTRY") or TRAIN_ENTRY
    module, _, attr = entry.partition(":")
    if not attr:
        raise ValueError(f"STABVIZ_TRAIN_ENTRY = {entry!r} must look like 'package.module:function'")
    return getattr(importlib.import_module(module), attr)


# -- one run ---------------------------------------------------------------------------------------

class _Heartbeat(threading.Thread):
    """Keeps the run's heartbeat fresh while training holds the main thread (long steps, compiles)."""

    def __init__(self, store: RunStore, run_id: str, every: float = HEARTBEAT_S):
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.store, self.run_id, self.every = store, run_id, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.store.heartbeat(self.run_id)
            except Exception:          # a busy database must not kill the run; the next beat retries
                pass
        self.store.close()


def _should_stop_for(store: RunStore, run_id: str) -> Callable[[], bool]:
    last = [0.0, False]

    def should_stop() -> bool:
        now = time.monotonic()
        if not last[1] and now - last[0] >= CANCEL_POLL_S:
            last[0], last[1] = now, store.cancel_requested(run_id)
        return last[1]
    return should_stop


def execute_claimed(store: RunStore, run_id: str, train_fn: Callable[..., dict] | None = None) -> str:
    """Train the run ``run_id`` (already claimed: status running) and record its outcome.
    Returns the final status. Exceptions become status ``failed`` with a one-line message; the
    traceback is kept in the ``traceback`` column."""
    beat = _Heartbeat(store, run_id)
    beat.start()
    try:
        from stabviz.config import TrainConfig
        cfg = TrainConfig.from_dict(store.get(run_id, reap=False)["config"])
        train_fn = train_fn or load_train_function()
        torch = sys.modules.get("torch")
        if torch is not None:
            store.update_versions(run_id, {**software_versions(), "torch": torch.__version__})

        def callback(event: dict[str, Any]) -> None:
            store.log_metrics(run_id, event["step"], event["metrics"])

        summary = train_fn(cfg, callback, _should_stop_for(store, run_id), run_id)
        status = summary.get("status", "finished")
        if status not in SUMMARY_STATUSES:
            raise ValueError(f"training returned status = {status!r}, not one of: "
                             f"{', '.join(SUMMARY_STATUSES)}")
        store.set_status(run_id, status, summary=summary, prediction=summary.get("prediction"),
                         device=summary.get("device"))
        return status
    except WorkerStopped:
        store.set_status(run_id, "interrupted", error="worker was stopped (SIGTERM) during the run")
        raise
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        store.set_status(run_id, "failed", error=message, traceback=traceback.format_exc())
        return "failed"
    finally:
        beat.stopped.set()
        beat.join(timeout=2)


# -- worker process --------------------------------------------------------------------------------

def _raise_stopped(signum, frame):
    raise WorkerStopped()


def pin_gpu(slot: int) -> None:
    """Give worker ``slot`` one GPU (round robin) before torch is imported, so workers don't all
    land on cuda:0."""
    gpus = visible_gpus()
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]


def serve(db_path: str, max_running: int, slot: int = 0, idle_s: float = DEFAULT_IDLE_S) -> None:
    """Worker main loop: claim the oldest queued local run, execute it, repeat; exit after
    ``idle_s`` seconds without work."""
    signal.signal(signal.SIGTERM, _raise_stopped)
    pin_gpu(slot)
    store = RunStore(db_path)
    try:
        # Import the training code (torch, scipy: seconds) before claiming, so that a run's
        # 'started' marks the start of its training. A broken import fails each run with its message.
        train_fn = load_train_function()
    except Exception:
        train_fn = None
    idle_since = time.monotonic()
    try:
        while time.monotonic() - idle_since < idle_s:
            run_id = store.claim_next("local", os.getpid(), HOST, max_running)
            if run_id is None:
                time.sleep(DISPATCH_POLL_S)
                continue
            execute_claimed(store, run_id, train_fn)
            idle_since = time.monotonic()
    except WorkerStopped:
        pass
    finally:
        store.close()


# -- dispatcher ------------------------------------------------------------------------------------

def dispatch(db_path: str, workers: int, idle_s: float = DEFAULT_IDLE_S,
             lock_fd: int | None = None) -> int:
    """Dispatcher main loop (see the module docstring). ``lock_fd``: the dispatcher lock, already
    taken by the launcher. Returns 0; at once if another dispatcher already serves this database."""
    store = RunStore(db_path)
    lock = DispatcherLock(lock_path(store.path), lock_fd)
    if lock_fd is None and not lock.acquire():
        return 0
    lock.write_pid(os.getpid())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ctx = mp.get_context("spawn")
    procs: dict[int, mp.process.BaseProcess] = {}
    try:
        while not stop.is_set():
            store.reap()
            procs = {slot: p for slot, p in procs.items() if p.is_alive()}   # is_alive() reaps
            queued = store.count("queued", launcher="local")
            free = [slot for slot in range(workers) if slot not in procs]
            for slot in free[:queued]:
                p = ctx.Process(target=serve, args=(str(store.path), workers, slot, idle_s),
                                name=f"stabviz-worker-{slot}")
                p.start()
                procs[slot] = p
            if not procs and queued == 0 and not _hand_over(lock, store):
                break
            stop.wait(DISPATCH_POLL_S)
    finally:
        for p in procs.values():
            if p.is_alive():
                p.terminate()          # SIGTERM: the worker marks its run interrupted
        for p in procs.values():
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
        store.reap()
        lock.release()
    return 0


def _hand_over(lock: DispatcherLock, store: RunStore) -> bool:
    """Release the lock, then look at the queue once more: a run queued while we held the lock saw
    a live dispatcher and started none, so it is ours. True = keep serving."""
    lock.release()
    if store.count("queued", launcher="local") > 0 and lock.acquire():
        lock.write_pid(os.getpid())
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stabviz.runs.worker",
                                     description="stabviz run dispatcher (started by the launcher)")
    parser.add_argument("--db", required=True, help="path of the run store (SQLite)")
    parser.add_argument("--workers", type=int, default=None, help="concurrent runs (default: GPUs or 1)")
    parser.add_argument("--idle", type=float, default=None,
                        help=f"seconds a worker waits for work before exiting (default {DEFAULT_IDLE_S})")
    parser.add_argument("--lock-fd", type=int, default=None,
                        help="descriptor of the dispatcher lock, taken by the launcher")
    args = parser.parse_args(argv)
    idle = args.idle if args.idle is not None else float(
        os.environ.get("STABVIZ_WORKER_IDLE_S", DEFAULT_IDLE_S))
    return dispatch(args.db, args.workers or default_workers(), idle, args.lock_fd)


if __name__ == "__main__":
    # Run the importable module, not this __main__ copy, so that the spawned workers' target
    # pickles as stabviz.runs.worker.serve.
    sys.exit(importlib.import_module("stabviz.runs.worker").main())
