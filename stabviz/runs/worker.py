"""Worker processes: execute queued runs and write everything to the run store.

Started as ``python -m stabviz.runs.worker --db PATH --workers N`` (by :class:`LocalLauncher`, in its
own session so it outlives whoever submitted). That process is the *dispatcher*: at most one per
database (it holds the store's dispatcher lease and renews its heartbeat every second; one that stays
silent past STABVIZ_DISPATCHER_TIMEOUT_S, frozen or hung, is replaced, and exits without launching
anything if it ever resumes: its workers claim runs only under its lease), it keeps up to N worker processes
(multiprocessing
``spawn``: CUDA cannot be re-initialised in a forked child) alive while runs are queued, reaps runs whose
worker died, and exits when the queue is empty and its workers have gone idle. Each worker claims queued
runs atomically and calls ``stabviz.train.run``; with the default training entry it claims the oldest
queued run together with the queued runs that can share an ensemble with it (same layer shape, task,
sizes and steps: ``stabviz.train.ensemble_key``, up to STABVIZ_MAX_ENSEMBLE and the memory estimate) and
trains them in lockstep with ``stabviz.train.run_ensemble``, each member still a normal run in the store. A worker whose
run was declared dead
meanwhile (stopped past the stale limit, say) has its writes refused by the store (``RunEnded``) and
stops that run, leaving its ``interrupted`` status and error as they are; when the store cannot be
written (full disk, read-only) the run ends ``interrupted`` and its worker keeps trying, for up to
STABVIZ_RECORD_RETRY_S, to record that cause in the run's error (in front of the reaper's message if
the run was declared dead meanwhile). A dispatcher
that died is restarted by ``stabviz.runs.ensure_dispatcher`` (launchers, idle workers, the dashboard
and the CLI call it) whenever local runs are queued. Nothing here imports streamlit; torch is
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
from collections.abc import Callable
from typing import Any

from stabviz.runs.envvars import env_seconds
from stabviz.runs.host import default_workers, visible_gpus
from stabviz.runs.store import DISPATCHER_BEAT_S, HOST, RunEnded, RunStore, StoreError, new_id, software_versions

#: Seconds between heartbeats written by a busy worker (the store calls a run stale after 30 s);
#: never more than a quarter of the store's stale limit.
HEARTBEAT_S = 5.0
#: Seconds a worker keeps trying to record a run's outcome when the store refuses writes (full disk,
#: read-only): nothing can run meanwhile anyway, and giving up loses the cause.
RECORD_RETRY_S = 3600.0
#: StoreError kinds a worker waits out; "full" and "read-only" also end the run interrupted (not failed).
RETRY_KINDS = ("full", "busy", "read-only")
#: Seconds between two looks at the cancel flag (should_stop is called every training step).
CANCEL_POLL_S = 0.25
#: Seconds an idle worker waits for new runs before exiting (saves re-importing torch per run).
DEFAULT_IDLE_S = 10.0
DISPATCH_POLL_S = 0.2
DISPATCH_GIVE_UP_S = 60.0
TRAIN_ENTRY = "stabviz.train:run"
SUMMARY_STATUSES = ("finished", "stopped", "diverged", "cancelled")


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
    """Keeps the heartbeats of the runs a worker trains (one, or an ensemble's members) fresh while
    training holds the main thread (long steps, compiles). A run the store no longer lets us write is
    in ``ended_ids`` (training must stop it); ``ended`` is set once every run has ended."""

    def __init__(self, store: RunStore, run_ids: str | list[str], every: float | None = None):
        run_ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
        super().__init__(daemon=True, name=f"heartbeat-{run_ids[0]}")
        self.store, self.run_ids = store, run_ids
        self.every = every if every is not None else min(HEARTBEAT_S, store.stale_after / 4)
        self.stopped = threading.Event()
        self.ended = threading.Event()  # every run is no longer ours: training must stop
        self.ended_ids: set[str] = set()
        self.last_error: str | None = None

    def end(self, run_id: str) -> None:
        self.ended_ids.add(run_id)
        if self.ended_ids >= set(self.run_ids):
            self.ended.set()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            for run_id in self.run_ids:
                if run_id not in self.ended_ids:
                    self._beat(run_id)
            if self.ended.is_set():
                break
        self.store.close()

    def _beat(self, run_id: str) -> None:
        try:
            self.store.heartbeat(run_id)
        except RunEnded:
            self.end(run_id)
        except Exception as exc:  # a busy database must not kill the run; the next beat retries
            self.last_error = f"{type(exc).__name__}: {exc}"
            if self.last_error.count("\n") == 0:
                _say(f"stabviz worker {os.getpid()}: heartbeat of {run_id} failed: {self.last_error}")


def _should_stop_for(store: RunStore, run_id: str, ended: threading.Event | None = None) -> Callable[[], bool]:
    last = [0.0, False]

    def should_stop() -> bool:
        if ended is not None and ended.is_set():
            return True
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

        summary = train_fn(cfg, callback, _should_stop_for(store, run_id, beat.ended), run_id)
        if beat.ended.is_set():
            return store.status(run_id)  # declared dead meanwhile: that verdict stands
        return _record_summary(store, run_id, summary)
    except RunEnded:
        # The store refused our writes: the run was declared dead (e.g. this worker was stopped
        # past the stale limit) or ended otherwise. Its status and error stay as they are.
        return store.status(run_id)
    except WorkerStopped:
        _record(store, run_id, "interrupted", error="worker was stopped (SIGTERM) during the run")
        raise
    except Exception as exc:
        status = _failure_status(exc)
        _record(
            store, run_id, status, error=_one_line(exc), traceback=traceback.format_exc(), amend=status == "interrupted"
        )
        return store.status(run_id)
    finally:
        beat.stopped.set()
        beat.join(timeout=2)


def _failure_status(exc: BaseException) -> str:
    """``interrupted`` when training stopped because the store could not be written (full disk, read-only:
    not the run's fault), else ``failed``."""
    return "interrupted" if _store_kind(exc) in ("full", "read-only") else "failed"


def _store_kind(exc: BaseException) -> str | None:
    """The StoreError kind of a store failure (a StoreError, or a raw OSError / sqlite3 error), else None."""
    if isinstance(exc, StoreError):
        return exc.kind
    if isinstance(exc, OSError) or type(exc).__module__ == "sqlite3":
        from stabviz.runs.store import store_error

        return store_error(exc, "").kind
    return None


def _record_summary(store: RunStore, run_id: str, summary: dict[str, Any]) -> str:
    """Store a finished training's summary as the run's outcome; returns the run's final status."""
    status = summary.get("status", "finished")
    if status not in SUMMARY_STATUSES:
        raise ValueError(f"training returned status = {status!r}, not one of: {', '.join(SUMMARY_STATUSES)}")
    if not _record(
        store, run_id, status, summary=summary, prediction=summary.get("prediction"), device=summary.get("device")
    ):
        return store.status(run_id)  # refused: the run had already ended (interrupted...)
    return status


# -- an ensemble of runs ---------------------------------------------------------------------------


def _ensemble_key(config: dict[str, Any]) -> Any:
    """What queued runs must share to train as one ensemble (stabviz.train.ensemble_key)."""
    from stabviz import train
    from stabviz.config import TrainConfig

    return train.ensemble_key(TrainConfig.from_dict(config))


def packs_ensembles() -> bool:
    """Whether workers train compatible queued runs together: with the default training entry only (a
    custom STABVIZ_TRAIN_ENTRY trains one run per call), and unless STABVIZ_MAX_ENSEMBLE is 1."""
    from stabviz.memory import max_ensemble

    return not os.environ.get("STABVIZ_TRAIN_ENTRY") and max_ensemble() > 1


def claim_work(
    store: RunStore, launcher: str, pid: int, max_running: int | None, lease: str | None = None
) -> list[str]:
    """The runs this worker trains next: one, or the largest group of compatible queued runs that fits
    in one ensemble (STABVIZ_MAX_ENSEMBLE and the memory estimate); the rest go back to the queue.
    ``lease``: the token of this worker's dispatcher; nothing is claimed once it lost the lease."""
    if not packs_ensembles():
        run_id = store.claim_next(launcher, pid, HOST, max_running, lease=lease)
        return [run_id] if run_id else []
    from stabviz.memory import max_ensemble

    ids = store.claim_group(launcher, pid, HOST, max_running, key=_ensemble_key, limit=max_ensemble(), lease=lease)
    fit = _fitting(store, ids)
    store.requeue(ids[fit:], pid)
    return ids[:fit]


def _fitting(store: RunStore, ids: list[str]) -> int:
    """How many of the claimed ``ids`` (a compatible group) fit one ensemble."""
    if len(ids) <= 1:
        return len(ids)
    from stabviz.config import TrainConfig

    return fit_count([TrainConfig.from_dict(store.get(run_id, reap=False)["config"]) for run_id in ids])


def fit_count(cfgs: list[Any]) -> int:
    """The most leading members of ``cfgs`` (compatible TrainConfigs) one ensemble may hold: at most
    STABVIZ_MAX_ENSEMBLE, within the memory estimate; at least 1 (a lone run that does not fit is refused
    by training itself, with its message)."""
    from stabviz import memory

    for count in range(min(len(cfgs), memory.max_ensemble()), 1, -1):
        try:
            memory.check_ensemble(cfgs[:count])
            return count
        except ValueError:
            continue
    return min(1, len(cfgs))


def plan_ensembles(configs: dict[str, Any]) -> list[list[str]]:
    """Run ids (id -> TrainConfig) split into the ensembles they train as (each a list of ids, oldest
    first); one id per list when ensembles are off (:func:`packs_ensembles`). The Ray launcher's plan."""
    ids = list(configs)
    if not packs_ensembles():
        return [[run_id] for run_id in ids]
    from stabviz import train

    plan = []
    for group in train.group_configs([configs[run_id] for run_id in ids]):
        members = [ids[k] for k in group]
        while members:
            n = fit_count([configs[run_id] for run_id in members])
            plan.append(members[:n])
            members = members[n:]
    return plan


class _EnsembleStop:
    """``should_stop(run_id)`` for an ensemble: cancel flags of all members in one query every
    CANCEL_POLL_S, and the members the store no longer lets us write."""

    def __init__(self, store: RunStore, run_ids: list[str], beat: _Heartbeat):
        self.store, self.run_ids, self.beat = store, run_ids, beat
        self.cancelled: set[str] = set()
        self.checked = 0.0

    def __call__(self, run_id: str) -> bool:
        now = time.monotonic()
        if now - self.checked >= CANCEL_POLL_S:
            self.checked = now
            self.cancelled |= self.store.cancel_requests(self.run_ids)
        if run_id in self.cancelled and run_id not in self.beat.ended_ids:
            # Recorded now, not when the whole ensemble ends: the member is cancelled at once in every
            # view. Its metrics stay; the ensemble's final summary of it is not stored.
            _record(self.store, run_id, "cancelled")
            self.beat.end(run_id)
        return run_id in self.cancelled or run_id in self.beat.ended_ids


def execute_claimed_ensemble(
    store: RunStore, run_ids: list[str], ensemble_fn: Callable[..., list[dict]] | None = None
) -> list[str]:
    """Train the claimed runs ``run_ids`` as one ensemble (stabviz.train.run_ensemble) and record each
    member's outcome as a normal run's. A member the store stops accepting (declared dead) is stopped
    alone; an exception fails every member still ours, with its one-line message. Returns the statuses."""
    beat = _Heartbeat(store, run_ids)
    beat.start()
    try:
        from stabviz.config import TrainConfig

        cfgs = [TrainConfig.from_dict(store.get(run_id, reap=False)["config"]) for run_id in run_ids]
        if ensemble_fn is None:
            from stabviz.train import run_ensemble as ensemble_fn
        torch = sys.modules.get("torch")
        for run_id in run_ids:
            store.update_versions(
                run_id,
                {
                    **software_versions(),
                    "ensemble": len(run_ids),
                    **({"torch": torch.__version__} if torch is not None else {}),
                },
            )

        def callback(event: dict[str, Any]) -> None:
            run_id = event["run_id"]
            if run_id in beat.ended_ids:
                return
            try:
                store.log_metrics(run_id, event["step"], event["metrics"])
            except RunEnded:
                beat.end(run_id)  # declared dead: this member stops, the others go on

        summaries = ensemble_fn(list(zip(cfgs, run_ids)), callback, _EnsembleStop(store, run_ids, beat))
        return [
            store.status(run_id) if run_id in beat.ended_ids else _record_summary(store, run_id, summary)
            for run_id, summary in zip(run_ids, summaries)
        ]
    except WorkerStopped:
        for run_id in run_ids:
            if run_id not in beat.ended_ids:
                _record(store, run_id, "interrupted", error="worker was stopped (SIGTERM) during the run")
        raise
    except Exception as exc:
        message, trace, status = _one_line(exc), traceback.format_exc(), _failure_status(exc)
        for run_id in run_ids:
            if run_id not in beat.ended_ids:
                try:
                    _record(store, run_id, status, error=message, traceback=trace, amend=status == "interrupted")
                except RunEnded:
                    pass
        return [store.status(run_id) for run_id in run_ids]
    finally:
        beat.stopped.set()
        beat.join(timeout=2)


def _say(line: str) -> None:
    """One diagnostic line on stderr (the dispatcher's log, beside the store). Never raises: on the full
    disk this reports, the write itself fails, and a worker must not die of it before its run's cause is
    recorded."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, StoreError):
        return str(exc)
    cause = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    kind = _store_kind(exc)
    if kind == "full":
        cause = f"the disk is full ({cause})"
    elif kind == "read-only":
        cause = f"the run store is read-only ({cause})"
    return cause


def _record(store: RunStore, run_id: str, status: str, *, amend: bool = False, **fields: Any) -> bool:
    """set_status, retried while the store cannot be written (full disk, read-only, lock held for
    long), for up to STABVIZ_RECORD_RETRY_S seconds, so the cause of a failure reaches the run's error
    when the disk frees up; then the StoreError propagates. ``amend``: when the run was declared dead
    meanwhile (the reaper's write came first), put ``error`` in front of the reaper's message."""
    budget = env_seconds("STABVIZ_RECORD_RETRY_S", RECORD_RETRY_S)
    deadline, pause = time.monotonic() + budget, 0.1
    while True:
        try:
            done = store.set_status(run_id, status, **fields)
            if not done and amend and fields.get("error"):
                store.record_cause(run_id, os.getpid(), fields["error"])
            return done
        except StoreError as exc:
            if exc.kind not in RETRY_KINDS or time.monotonic() > deadline:
                raise
            _say(f"stabviz worker {os.getpid()}: recording {run_id} as {status} failed ({exc}); retrying")
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


# -- worker process --------------------------------------------------------------------------------


def _raise_stopped(signum, frame):
    raise WorkerStopped()


def pin_gpu(slot: int) -> None:
    """Give worker ``slot`` one GPU (round robin) before torch is imported, so workers don't all
    land on cuda:0."""
    gpus = visible_gpus()
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]


def serve(
    db_path: str, max_running: int, slot: int = 0, idle_s: float = DEFAULT_IDLE_S, lease: str | None = None
) -> None:
    """Worker main loop: claim the oldest queued local run (while ``lease``, its dispatcher's token,
    holds), execute it, repeat; exit after ``idle_s`` seconds without work."""
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
            try:
                run_ids = claim_work(store, "local", os.getpid(), max_running, lease)
            except StoreError as exc:  # full or busy: wait for it to clear, stay idle
                _say(f"stabviz worker {os.getpid()}: {exc}")
                time.sleep(1.0)
                continue
            if not run_ids:
                time.sleep(DISPATCH_POLL_S)
                continue
            try:
                if len(run_ids) == 1:
                    execute_claimed(store, run_ids[0], train_fn)
                else:
                    execute_claimed_ensemble(store, run_ids)
            except StoreError as exc:  # its outcome could not be recorded in time: the reaper's
                _say(f"stabviz worker {os.getpid()}: {exc}")
                break
            idle_since = time.monotonic()
        _restart_dispatcher_if_needed(store)
    except WorkerStopped:
        pass
    finally:
        store.close()


def _restart_dispatcher_if_needed(store: RunStore) -> None:
    """A worker outliving its dispatcher (killed) leaves queued runs it may not claim (max_running)
    to a new dispatcher: start one if none holds the lock."""
    try:
        from stabviz.runs.local import ensure_dispatcher

        ensure_dispatcher(store)
    except Exception as exc:
        _say(f"stabviz worker {os.getpid()}: could not check the dispatcher: {exc}")


# -- dispatcher ------------------------------------------------------------------------------------


class _Lease:
    """The dispatcher lease as its holder sees it: renewed at most every DISPATCHER_BEAT_S (or at once
    with ``now``); ``lost`` once the store says another dispatcher replaced this one."""

    def __init__(self, store: RunStore, token: str):
        self.store, self.token, self.renewed, self.lost = store, token, time.monotonic(), False

    def renew(self, now: bool = False) -> bool:
        """False once lost; a StoreError (full disk...) propagates and changes nothing."""
        if not self.lost and (now or time.monotonic() - self.renewed >= DISPATCHER_BEAT_S):
            self.lost = not self.store.renew_dispatch(self.token, os.getpid())
            self.renewed = time.monotonic()
        return not self.lost


def dispatch(db_path: str, workers: int, idle_s: float = DEFAULT_IDLE_S, lease: str | None = None) -> int:
    """Dispatcher main loop (see the module docstring). ``lease``: the token of the dispatcher lease,
    already taken in our name by the launcher; without it the lease is taken here. Returns 0; at once
    if another dispatcher holds the lease."""
    store = RunStore(db_path)
    token = lease or new_id()
    if not (store.renew_dispatch(token, os.getpid()) if lease else store.take_dispatch(token, os.getpid())):
        return 0
    held = _Lease(store, token)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    procs: dict[int, mp.process.BaseProcess] = {}
    try:
        _serve_queue(store, held, workers, idle_s, stop, procs)
    finally:
        if held.lost:
            # Replaced while frozen: the new dispatcher serves the queue. Our workers finish the runs
            # they hold (claimed once, never again) and claim nothing more: leave them be.
            _say(
                f"stabviz dispatcher {os.getpid()}: replaced by another dispatcher (its lease was "
                "taken over); exiting without launching anything"
            )
        else:
            _stop_workers(procs)
            try:
                store.reap()
                store.release_dispatch(token)
            except StoreError:
                pass
    return 0


def _serve_queue(
    store: RunStore,
    held: _Lease,
    workers: int,
    idle_s: float,
    stop: threading.Event,
    procs: dict[int, mp.process.BaseProcess],
) -> None:
    """Keep up to ``workers`` workers (``procs``, slot -> process, kept up to date for the caller) while
    local runs are queued; return when stopped, idle (lease released) or replaced (``held.lost``)."""
    ctx = mp.get_context("spawn")
    failing_since: float | None = None
    while not stop.is_set():
        for slot in [slot for slot, p in procs.items() if not p.is_alive()]:  # is_alive() reaps
            del procs[slot]
        try:
            if not held.renew():
                return
            store.reap()
            queued = store.count("queued", launcher="local")
            free = [slot for slot in range(workers) if slot not in procs][:queued]
            if free and not held.renew(now=True):  # checked right before launching
                return
            failing_since = None
        except StoreError as exc:
            # Full disk, lock held for long: keep the workers, retry; give up after a minute
            # without workers (the next process that opens the store starts a new dispatcher).
            now = time.monotonic()
            if failing_since is None:
                failing_since = now
                _say(f"stabviz dispatcher {os.getpid()}: {exc}")
            if not procs and now - failing_since > DISPATCH_GIVE_UP_S:
                return
            stop.wait(1.0)
            continue
        for slot in free:
            p = ctx.Process(
                target=serve, args=(str(store.path), workers, slot, idle_s, held.token), name=f"stabviz-worker-{slot}"
            )
            p.start()
            procs[slot] = p
        if not procs and queued == 0 and _release_if_idle(store, held.token):
            return
        stop.wait(DISPATCH_POLL_S)


def _release_if_idle(store: RunStore, token: str) -> bool:
    """Give the lease up unless a run was queued meanwhile (checked in the same transaction: its
    submitter saw our lease and started no dispatcher, so it is ours). True = exit."""
    try:
        return store.release_dispatch(token, unless_queued="local")
    except StoreError:
        return False


def _stop_workers(procs: dict[int, mp.process.BaseProcess]) -> None:
    for p in procs.values():
        if p.is_alive():
            p.terminate()  # SIGTERM: the worker marks its run interrupted
    for p in procs.values():
        p.join(timeout=10)
        if p.is_alive():
            p.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stabviz.runs.worker", description="stabviz run dispatcher (started by the launcher)"
    )
    parser.add_argument("--db", required=True, help="path of the run store (SQLite)")
    parser.add_argument("--workers", type=int, default=None, help="concurrent runs (default: GPUs or 1)")
    parser.add_argument(
        "--idle",
        type=float,
        default=None,
        help=f"seconds a worker waits for work before exiting (default {DEFAULT_IDLE_S})",
    )
    parser.add_argument("--lease", default=None, help="token of the dispatcher lease, taken by the launcher")
    args = parser.parse_args(argv)
    idle = args.idle if args.idle is not None else env_seconds("STABVIZ_WORKER_IDLE_S", DEFAULT_IDLE_S)
    return dispatch(args.db, args.workers or default_workers(), idle, args.lease)


if __name__ == "__main__":
    # Run the importable module, not this __main__ copy, so that the spawned workers' target
    # pickles as stabviz.runs.worker.serve.
    sys.exit(importlib.import_module("stabviz.runs.worker").main())
