"""The dashboard's background jobs, server-wide (pure: no streamlit): one registry class for the measured
maps (a spawned worker process, :mod:`stabviz.ui.mapjobs`) and the verdict's quick checks (a thread,
:mod:`stabviz.ui.outcome`), with one cache policy.

Seconds of torch work run in a Streamlit script thread would stall every session, so a :class:`Jobs`
registry runs one job at a time on its own executor:

- ``submit(owner, key, spec)`` asks for job ``key``; it answers at once with where the job stands. A
  finished job comes from a bounded LRU of results and errors (the cache policy: most recently asked
  for last, the oldest dropped beyond ``cache_size``; an error stays until :meth:`Jobs.forget`).
- An owner (a browser session) waits for one job at most: a newer request supersedes its own older one
  that has not started (a running job is finished and cached).
- Progress comes back through three integers (job id, done, total) the worker writes and the server
  reads: no queue, no lock a dying worker could leave held.
- Nothing runs on its own here: every :meth:`Jobs.submit` / :meth:`Jobs.status` call collects a finished
  job and starts the next one. The pages poll while they wait, so a job nobody polls for ``STALE_S``
  seconds (its tab was closed) is dropped before it starts.

Training runs are not jobs of this kind: they outlive the server, in the run store (:mod:`stabviz.runs`).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

#: A waiting job that nobody has asked about for this long is dropped when its turn comes.
STALE_S = 30.0
#: A worker process's niceness: the server's script threads come first on a shared CPU.
NICE = 5
CRASHED = (
    "the measuring process stopped unexpectedly (it may have run out of memory); try again, or measure a smaller layer"
)

Progress = Callable[[int, int], None]
Worker = Callable[[Any, Progress], Any]


@dataclass
class Status:
    """Where a job stands: state is "waiting", "running", "done", "error" or "none" (not asked for)."""

    state: str
    done: int = 0
    total: int = 0
    ahead: int = 0  # jobs to finish before this one starts ("waiting")
    result: Any = None  # "done": the worker's return value
    error: str | None = None  # "error": one line


# --- inside a worker process -----------------------------------------------------------------------
_shared: Any = None


def _start_worker(shared: Any) -> None:
    """The process pool's initializer: keep the progress integers; yield the CPU to the server."""
    global _shared
    _shared = shared
    try:
        os.nice(NICE)
    except OSError:  # not allowed here: run at the normal priority
        pass


def _run(worker: Worker, job_id: int, spec: Any, shared: Any = None) -> Any:
    counts = _shared if shared is None else shared

    def report(done: int, total: int) -> None:
        counts[1], counts[2] = int(done), int(total)
        counts[0] = job_id  # last: the server pairs the counts with this id

    return worker(spec, report)


# --- the executors ---------------------------------------------------------------------------------
class ProcessExecutor:
    """One spawned worker process (no fork of the server's threads, or CUDA), restarted after a crash."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        # Fresh integers per pool: a worker that died mid-write leaves nothing behind.
        self.counts = ctx.RawArray("q", 3)
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=ctx, initializer=_start_worker, initargs=(self.counts,)
        )

    def submit(self, worker: Worker, job_id: int, spec: Any) -> concurrent.futures.Future:
        return self._pool.submit(_run, worker, job_id, spec)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class ThreadExecutor:
    """One thread of the server: for short jobs that need no process of their own."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="stabviz-job")

    def submit(self, worker: Worker, job_id: int, spec: Any) -> concurrent.futures.Future:
        return self._pool.submit(_run, worker, job_id, spec, self.counts)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# --- in the server ----------------------------------------------------------------------------------
@dataclass
class _Job:
    id: int
    key: Hashable
    spec: Any
    owners: set = field(default_factory=set)
    seen: float = field(default_factory=time.monotonic)
    future: Any = None


class Jobs:
    """The registry: one executor, a queue of waiting jobs, an LRU of finished ones (thread-safe).
    ``total(spec)`` is a job's size before its worker reports one."""

    def __init__(
        self,
        worker: Worker,
        cache_size: int,
        executor: type = ProcessExecutor,
        stale_s: float = STALE_S,
        total: Callable[[Any], int] = lambda spec: 0,
        what: str = "job",
    ):
        self._worker, self._cache_size, self._stale_s = worker, cache_size, stale_s
        self._make_executor, self._total, self._what = executor, total, what
        self._lock = threading.Lock()
        self._executor: Any = None
        self._running: _Job | None = None
        self._waiting: OrderedDict[Hashable, _Job] = OrderedDict()
        self._finished: OrderedDict[Hashable, Status] = OrderedDict()
        self._ids = 0

    def submit(self, owner: str, key: Hashable, spec: Any, max_waiting: int | None = None) -> Status:
        """Ask for job ``key`` (computed from ``spec``) on behalf of ``owner``; where it stands now.
        Asking again is free (the pages ask on every poll). ValueError when ``max_waiting`` jobs already
        wait and this one would be one more."""
        with self._lock:
            self._collect()
            if key in self._finished:
                self._finished.move_to_end(key)
                return self._finished[key]
            self._withdraw(owner, keep=key)  # superseded by this request
            job = self._waiting.get(key)
            if job is None and not (self._running and self._running.key == key):
                if max_waiting is not None and len(self._waiting) >= max_waiting:
                    raise ValueError(
                        f"{len(self._waiting)} {self._what}s are already waiting on this shared "
                        "dashboard; try again when one has finished"
                    )
                self._ids += 1
                job = self._waiting[key] = _Job(self._ids, key, spec)
            for j in (job, self._running):
                if j is not None and j.key == key:
                    j.owners.add(owner)
                    j.seen = time.monotonic()
            self._start_next()
            return self._status(key)

    def status(self, key: Hashable) -> Status:
        """Where job ``key`` stands (collects a finished job and starts the next first)."""
        with self._lock:
            self._collect()
            self._start_next()
            return self._status(key)

    def withdraw(self, owner: str) -> None:
        """``owner`` no longer waits for any job (a job nobody else waits for leaves the queue)."""
        with self._lock:
            self._withdraw(owner)

    def forget(self, key: Hashable) -> None:
        """Drop a finished job's result or error (the next submit computes it again)."""
        with self._lock:
            self._finished.pop(key, None)

    def shutdown(self) -> None:
        """Stop the worker (a running job is abandoned) and drop every waiting job."""
        with self._lock:
            self._waiting.clear()
            self._running = None
            self._drop_executor()

    # -- under the lock ---------------------------------------------------------------------------
    def _withdraw(self, owner: str, keep: Hashable | None = None) -> None:
        for job in [j for k, j in self._waiting.items() if k != keep and owner in j.owners]:
            job.owners.discard(owner)
            if not job.owners:
                del self._waiting[job.key]

    def _status(self, key: Hashable) -> Status:
        if key in self._finished:
            return self._finished[key]
        run = self._running
        if run is not None and run.key == key:
            total, counts = self._total(run.spec), self._executor.counts
            if counts[0] == run.id:
                return Status("running", done=int(counts[1]), total=int(counts[2]) or total)
            return Status("running", done=0, total=total)
        if key in self._waiting:
            ahead = list(self._waiting).index(key) + (run is not None)
            return Status("waiting", total=self._total(self._waiting[key].spec), ahead=ahead)
        return Status("none")

    def _finish(self, key: Hashable, status: Status) -> None:
        self._finished[key] = status
        self._finished.move_to_end(key)
        while len(self._finished) > self._cache_size:
            self._finished.popitem(last=False)

    def _collect(self) -> None:
        """Store the running job's result or error once its worker is done."""
        run = self._running
        if run is None or not run.future.done():
            return
        self._running = None
        try:
            result = run.future.result()
        except concurrent.futures.process.BrokenProcessPool:
            self._drop_executor()
            self._finish(run.key, Status("error", error=CRASHED))
        except ValueError as err:  # a refusal (memory, sizes): already one line
            self._finish(run.key, Status("error", error=_one_line(err)))
        except Exception as err:  # anything else: named, on one line, never a traceback
            self._finish(
                run.key, Status("error", error=f"the {self._what} failed: {type(err).__name__}: {_one_line(err)}")
            )
        else:
            total = self._total(run.spec)
            self._finish(run.key, Status("done", done=total, total=total, result=result))

    def _start_next(self) -> None:
        """Start the oldest waiting job that someone still asks about, when the worker is free."""
        now = time.monotonic()
        while self._running is None and self._waiting:
            _, job = self._waiting.popitem(last=False)
            if now - job.seen > self._stale_s:
                continue  # nobody polls for it any more
            try:
                if self._executor is None:
                    self._executor = self._make_executor()
                job.future = self._executor.submit(self._worker, job.id, job.spec)
            except (RuntimeError, OSError) as err:  # a broken or closed pool, a failed spawn
                self._drop_executor()
                self._finish(job.key, Status("error", error=f"the measuring process could not start: {_one_line(err)}"))
                continue
            self._running = job

    def _drop_executor(self) -> None:
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__
