"""Measured maps computed in the background: one worker process for the whole server (pure: no streamlit).

A measured map (stabviz.measured) takes seconds of torch work. Run in a Streamlit script thread it would
hold the interpreter and stall every session, so :class:`MapJobs` owns one spawn-context worker process
(torch never loads in the server) and runs one map at a time, server-wide:

- ``submit(owner, key, spec)`` asks for the map ``key``; it answers at once with where the map stands. A
  finished map comes from a bounded LRU of results (and of errors, until :meth:`MapJobs.forget`).
- An owner (a browser session) waits for one map at most: a newer request supersedes its own older one
  that has not started (a running map is finished and cached).
- Progress comes back through three shared integers (job id, cells done, cells total) that the worker
  writes and the server reads: no queue, no lock a dying worker could leave held.
- Nothing runs on its own here: every :meth:`MapJobs.submit` / :meth:`MapJobs.status` call collects a
  finished map and starts the next one. The pages poll while they wait, so a map that nobody polls for
  ``STALE_S`` seconds (its tab was closed) is dropped before it starts.
"""
from __future__ import annotations

import concurrent.futures
import math
import multiprocessing
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

#: Results (and errors) kept, most recently used first.
CACHE_SIZE = 16
#: A waiting map that nobody has asked about for this long is dropped when its turn comes.
STALE_S = 30.0
#: The worker's niceness: the server's script threads come first on a shared CPU.
NICE = 5
#: The worker's torch threads: one core stays free for the server. (On 2 cores busy with other work, a 20 × 20 map
#: of shd-tau20 took 50–70 s with 2 threads, 9–14 s with 1: oversubscribed torch threads wait on each other.)
THREADS = max(1, (os.cpu_count() or 2) - 1)
#: Progress updates a map sends at least (its push-back runs in about this many chunks).
PROGRESS_UPDATES = 10
CRASHED = ("the measuring process stopped unexpectedly (it may have run out of memory); "
           "try again, or measure a smaller layer")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class MapSpec:
    """One measured map: the setting (LIFConfig.to_dict()), its x axis, n × n cells, and the simulation."""
    setting: dict
    x: str
    n: int
    batch: int = 64
    steps: int = 300
    burn_in: int = 100


@dataclass
class Status:
    """Where a map stands: state is "waiting", "running", "done", "error" or "none" (not asked for)."""
    state: str
    done: int = 0
    total: int = 0
    ahead: int = 0                      # maps to finish before this one starts ("waiting")
    result: dict | None = None          # "done": measure()'s numbers
    error: str | None = None            # "error": one line


def measure(spec: MapSpec, progress: Progress) -> dict[str, Any]:
    """The worker's job: stabviz.measured.measure_map at ``spec``, as plain numbers (numpy arrays and
    floats: unpickling them needs no torch in the server)."""
    import torch

    from stabviz import measured
    from stabviz.config import LIFConfig
    torch.set_num_threads(THREADS)
    cfg = LIFConfig.from_dict(spec.setting)
    column = spec.n * spec.batch * cfg.n_rec            # push-back elements of one column of cells
    m = measured.measure_map(cfg, x=spec.x, nx=spec.n, ny=spec.n, batch=spec.batch, steps=spec.steps,
                             burn_in=spec.burn_in, progress=progress,
                             chunk_elements=column * math.ceil(spec.n / PROGRESS_UPDATES))
    out = {k: getattr(m, k) for k in ("x_name", "x", "y", "log_x", "measured_log10_gain", "predicted_log10_gain",
                                      "measured_regime", "predicted_regime", "rho_hat", "tolerance", "seconds")}
    return {**out, "agreement": m.agreement}


# --- inside the worker process -------------------------------------------------------------------
_shared: Any = None


def _start_worker(shared: Any) -> None:
    """The pool's initializer: keep the progress integers; yield the CPU to the server."""
    global _shared
    _shared = shared
    try:
        os.nice(NICE)
    except OSError:             # not allowed here: run at the normal priority
        pass


def _run(worker: Callable[[MapSpec, Progress], Any], job_id: int, spec: MapSpec) -> Any:
    def report(done: int, total: int) -> None:
        _shared[1], _shared[2] = int(done), int(total)
        _shared[0] = job_id                    # last: the server pairs the counts with this id
    return worker(spec, report)


# --- in the server ----------------------------------------------------------------------------------
@dataclass
class _Job:
    id: int
    key: Hashable
    spec: MapSpec
    owners: set = field(default_factory=set)
    seen: float = field(default_factory=time.monotonic)
    future: Any = None


class MapJobs:
    """The registry: one worker process, a queue of waiting maps, an LRU of finished ones (thread-safe)."""

    def __init__(self, worker: Callable[[MapSpec, Progress], Any] = measure, cache_size: int = CACHE_SIZE,
                 stale_s: float = STALE_S):
        self._worker, self._cache_size, self._stale_s = worker, cache_size, stale_s
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._shared: Any = None
        self._running: _Job | None = None
        self._waiting: OrderedDict[Hashable, _Job] = OrderedDict()
        self._finished: OrderedDict[Hashable, Status] = OrderedDict()
        self._ids = 0

    def submit(self, owner: str, key: Hashable, spec: MapSpec, max_waiting: int | None = None) -> Status:
        """Ask for map ``key`` (computed from ``spec``) on behalf of ``owner``; where it stands now.
        Asking again is free (the pages ask on every poll). ValueError when ``max_waiting`` maps already
        wait and this one would be one more."""
        with self._lock:
            self._collect()
            if key in self._finished:
                self._finished.move_to_end(key)
                return self._finished[key]
            self._withdraw(owner, keep=key)                  # superseded by this request
            job = self._waiting.get(key)
            if job is None and not (self._running and self._running.key == key):
                if max_waiting is not None and len(self._waiting) >= max_waiting:
                    raise ValueError(f"{len(self._waiting)} measured maps are already waiting on this shared "
                                     "dashboard; try again when one has finished")
                self._ids += 1
                job = self._waiting[key] = _Job(self._ids, key, spec)
            for j in (job, self._running):
                if j is not None and j.key == key:
                    j.owners.add(owner)
                    j.seen = time.monotonic()
            self._start_next()
            return self._status(key)

    def status(self, key: Hashable) -> Status:
        """Where map ``key`` stands (collects a finished map and starts the next first)."""
        with self._lock:
            self._collect()
            self._start_next()
            return self._status(key)

    def withdraw(self, owner: str) -> None:
        """``owner`` no longer waits for any map (a map nobody else waits for leaves the queue)."""
        with self._lock:
            self._withdraw(owner)

    def forget(self, key: Hashable) -> None:
        """Drop a finished map or its error (the next submit computes it again)."""
        with self._lock:
            self._finished.pop(key, None)

    def shutdown(self) -> None:
        """Stop the worker (a running map is abandoned) and drop every waiting map."""
        with self._lock:
            self._waiting.clear()
            self._running = None
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

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
            total = run.spec.n * run.spec.n
            if self._shared[0] == run.id:
                return Status("running", done=int(self._shared[1]), total=int(self._shared[2]) or total)
            return Status("running", done=0, total=total)
        if key in self._waiting:
            ahead = list(self._waiting).index(key) + (run is not None)
            spec = self._waiting[key].spec
            return Status("waiting", total=spec.n * spec.n, ahead=ahead)
        return Status("none")

    def _finish(self, key: Hashable, status: Status) -> None:
        self._finished[key] = status
        self._finished.move_to_end(key)
        while len(self._finished) > self._cache_size:
            self._finished.popitem(last=False)

    def _collect(self) -> None:
        """Store the running map's result or error once its worker is done."""
        run = self._running
        if run is None or not run.future.done():
            return
        self._running = None
        try:
            result = run.future.result()
        except concurrent.futures.process.BrokenProcessPool:
            self._drop_pool()
            self._finish(run.key, Status("error", error=CRASHED))
        except ValueError as err:                # a refusal (memory, sizes): already one line
            self._finish(run.key, Status("error", error=_one_line(err)))
        except Exception as err:                 # anything else: named, on one line, never a traceback
            self._finish(run.key, Status("error", error=f"the measured map failed: {type(err).__name__}: "
                                                        f"{_one_line(err)}"))
        else:
            total = run.spec.n * run.spec.n
            self._finish(run.key, Status("done", done=total, total=total, result=result))

    def _start_next(self) -> None:
        """Start the oldest waiting map that someone still asks about, when the worker is free."""
        now = time.monotonic()
        while self._running is None and self._waiting:
            _, job = self._waiting.popitem(last=False)
            if now - job.seen > self._stale_s:
                continue                         # nobody polls for it any more
            try:
                job.future = self._ensure_pool().submit(_run, self._worker, job.id, job.spec)
            except (RuntimeError, OSError) as err:      # a broken or closed pool, a failed spawn
                self._drop_pool()
                self._finish(job.key, Status("error", error=f"the measuring process could not start: "
                                                            f"{_one_line(err)}"))
                continue
            self._running = job

    def _ensure_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")      # never fork the server's threads (or CUDA)
            # Fresh integers per pool: a worker that died mid-write leaves nothing behind.
            self._shared = ctx.RawArray("q", 3)
            self._pool = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx,
                                                                initializer=_start_worker,
                                                                initargs=(self._shared,))
        return self._pool

    def _drop_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__
