"""Launchers: queue runs and sweeps in the store, then get them executed.

:class:`LocalLauncher` (the default) executes them in worker processes on this machine, managed by a
detached dispatcher (``stabviz.runs.worker``), so ``submit`` returns at once and runs go on after the
caller exits. :class:`stabviz.runs.ray_launcher.RayLauncher` executes the same runs as Ray tasks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stabviz import memory
from stabviz.config import TrainConfig, limits
from stabviz.runs.groups import SEED, seed_values
from stabviz.runs.host import default_workers, dispatcher_pid
from stabviz.runs.store import RunStore, StoreError, dispatcher_timeout, new_id
from stabviz.runs.sweep import label, sweep_configs

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds stabviz/


class LauncherUnavailable(ValueError):
    """A launcher's backend (a Ray cluster) could not be reached; nothing was queued. A ValueError, as the
    address is the caller's input: the CLI prints its one line with status 2 and the pages show it as a
    refused submission."""


class Launcher:
    """What every launcher does: validate, queue in the store, start execution."""

    name = "base"

    def __init__(self, store: RunStore | None = None):
        self.store = store or RunStore()

    def submit(self, cfg: TrainConfig, **owned: Any) -> str:
        """Queue one run and return its id at once. Raises ValueError beyond the machine's limits
        (network size, steps, batch, time steps, queued runs). Every submit method takes ``owner`` and
        ``max_owned`` (:meth:`RunStore.create_many`): who launches, and their limit of active runs."""
        return self._submit([(cfg, None)], **owned)[0]

    def submit_many(self, cfgs: Sequence[TrainConfig], **owned: Any) -> list[str]:
        """Queue several runs at once, all or none (every config validated, the queue limit checked in
        one transaction); returns their ids in order."""
        return self._submit([(cfg, None) for cfg in cfgs], **owned)

    def submit_sweep(
        self,
        base: TrainConfig,
        x: str,
        x_values: Sequence[Any],
        y: str | None = None,
        y_values: Sequence[Any] | None = None,
        **owned: Any,
    ) -> tuple[str, list[str]]:
        """Queue one run per grid point (x varying fastest); returns (sweep id, run ids).
        Every point is validated before anything is queued."""
        points = sweep_configs(base, x, x_values, y, y_values)
        spec = {
            "x": x,
            "x_values": list(x_values),
            "y": y,
            "y_values": list(y_values) if y_values else None,
            "base": base.to_dict(),
            "launcher": self.name,
        }
        sweep_id = new_id()
        ids = self._submit(
            [(cfg, {"id": sweep_id, "label": label(p), "point": p}) for p, cfg in points],
            sweep_spec=(sweep_id, spec),
            **owned,
        )
        return sweep_id, ids

    def submit_seeds(self, base: TrainConfig, k: int, **owned: Any) -> tuple[str, list[str]]:
        """Queue a seed group: K runs of ``base`` with seeds seed ... seed+K−1, recorded as one sweep over the
        seed (stabviz.runs.groups); returns (group id, run ids)."""
        return self.submit_sweep(base, SEED, seed_values(base, k), **owned)

    def cancel(self, run_id: str) -> str:
        """Cancel a queued or running run; returns its status after the request."""
        return self.store.request_cancel(run_id)

    def wait(self, run_ids: Sequence[str], timeout: float | None = None) -> dict[str, str]:
        """Block until the runs end (or ``timeout`` s); returns id -> status."""
        return self.store.wait(run_ids, timeout)

    def _submit(self, items, sweep_spec=None, owner: str | None = None, max_owned: int | None = None) -> list[str]:
        lim = limits()
        for cfg, _ in items:
            cfg.check_limits(lim)
            memory.check_sizes(cfg)
            memory.check_train(cfg)  # refused when queued, not later in the worker
        self._prepare()
        ids = self.store.create_many(
            items, launcher=self.name, max_queued=lim["queued"], sweep_spec=sweep_spec, owner=owner, max_owned=max_owned
        )
        try:
            self._start(ids)
        except Exception as exc:
            # Nothing will ever pick these runs up: say so in the store rather than leave them queued.
            for run_id in ids:
                self.store.set_status(run_id, "failed", error=f"could not start the run: {exc}")
            raise
        return ids

    def _prepare(self) -> None:
        """Called before any run is recorded: a launcher that cannot work raises here, so that no
        queued run is left behind."""

    def _start(self, run_ids: list[str]) -> None:
        raise NotImplementedError


class LocalLauncher(Launcher):
    """Runs on this machine, ``workers`` at a time (default: STABVIZ_WORKERS, else one per GPU,
    else 1), in spawned worker processes under a detached dispatcher."""

    name = "local"

    def __init__(self, store: RunStore | None = None, workers: int | None = None, idle_s: float | None = None):
        super().__init__(store)
        self.workers = workers or default_workers()
        if self.workers < 1:
            raise ValueError(f"workers = {self.workers!r} is outside the allowed range [1, inf)")
        self.idle_s = idle_s
        self._spawned: subprocess.Popen | None = None
        self._spawn_lock = threading.Lock()
        try:
            self.ensure_dispatcher()  # queued runs left by a dead dispatcher start again
        except StoreError:
            pass  # a full or busy store: the next submit or look retries

    def _start(self, run_ids: list[str]) -> None:
        with self._spawn_lock:
            try:
                self._spawned = _start_dispatcher(self.store, self.workers, self.idle_s) or self._spawned
            except StoreError:
                pass  # the lease could not be written (busy, full): the runs stay queued and
                # the next look at the store (CLI, page, wait) starts their dispatcher

    def dispatcher_pid(self) -> int | None:
        """Pid of the live dispatcher serving this store, or None."""
        return dispatcher_pid(self.store.path)

    def ensure_dispatcher(self) -> int | None:
        """Reap dead runs, then start a dispatcher if local runs are queued and no live one holds this
        store's dispatcher lease. Returns the pid of a dispatcher started now, else None."""
        with self._spawn_lock:
            proc = ensure_dispatcher(self.store, self.workers, self.idle_s, _popen=True)
            if proc is not None:
                self._spawned = proc
            return proc.pid if proc is not None else None

    def wait(self, run_ids: Sequence[str], timeout: float | None = None) -> dict[str, str]:
        """Block until the runs end (or ``timeout`` s); returns id -> status. Restarts a dead
        dispatcher meanwhile (about once a second), so a long ``--wait`` cannot wait forever."""
        last = [0.0]

        def look() -> None:
            if time.monotonic() - last[0] >= 1.0:
                last[0] = time.monotonic()
                try:
                    self.ensure_dispatcher()
                except StoreError:
                    pass

        return self.store.wait(run_ids, timeout, on_poll=look)

    def shutdown(self, timeout: float = 15.0) -> bool:
        """Stop the dispatcher and its workers (running runs end ``interrupted``). True when every
        process of its group has exited within ``timeout`` s; stragglers are then SIGKILLed."""
        pid = self.dispatcher_pid() or (self._spawned.pid if self._spawned else None)
        if pid is None:
            return True
        try:
            os.killpg(pid, signal.SIGTERM)  # the dispatcher leads its own process group
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._spawned is not None:
                self._spawned.poll()  # reap our child so it stops counting as alive
            if not _group_alive(pid):
                return True
            time.sleep(0.1)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return False


def ensure_dispatcher(
    store: RunStore | None = None, workers: int | None = None, idle_s: float | None = None, *, _popen: bool = False
):
    """What every process that opens the store to launch or view runs (dashboard, CLI, workers)
    calls: mark runs whose worker died ``interrupted`` (:meth:`RunStore.reap`), then, if local runs
    are queued and no dispatcher holds the store's dispatcher lease (a dead one, or one silent past
    STABVIZ_DISPATCHER_TIMEOUT_S, no longer does), start one under that lease, so queued runs never wait
    for a next submit. Cheap when there is nothing to do (a few SELECTs). Does nothing on a read-only
    store. Returns the pid of a dispatcher started now, else None. Raises StoreError when the store
    cannot be written (full disk...)."""
    store = store if store is not None else RunStore()
    dispatcher_timeout()  # a bad STABVIZ_DISPATCHER_TIMEOUT_S is refused before anything is queued
    if store.read_only:
        return None
    store.reap()
    if store.count("queued", launcher="local") == 0:
        return None
    proc = _start_dispatcher(store, workers or default_workers(), idle_s)
    if _popen:
        return proc
    return proc.pid if proc is not None else None


def _start_dispatcher(store: RunStore, workers: int, idle_s: float | None) -> subprocess.Popen | None:
    """Start a dispatcher unless a live one holds this store's dispatcher lease (None then). The lease
    is taken here, in our name, *before* the dispatcher starts and handed to it by its token, so there
    is no moment in which a starting dispatcher looks absent; if we die first, our pid frees it."""
    token = new_id()
    if not store.take_dispatch(token, os.getpid()):
        return None  # a live dispatcher holds it and will see the queued runs
    try:
        proc = _popen_dispatcher(store, workers, idle_s, token)
    except BaseException:
        with contextlib.suppress(StoreError):
            store.release_dispatch(token)
        raise
    with contextlib.suppress(StoreError):
        store.renew_dispatch(token, proc.pid)  # the dispatcher also names itself when it starts
    return proc


def _popen_dispatcher(store: RunStore, workers: int, idle_s: float | None, token: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "stabviz.runs.worker",
        "--db",
        str(store.path),
        "--workers",
        str(workers),
        "--lease",
        token,
    ]
    if idle_s is not None:
        cmd += ["--idle", str(idle_s)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    log_dir = store.path.parent / "logs"
    log_dir.mkdir(exist_ok=True)
    with open(log_dir / "dispatcher.log", "ab") as log:
        # New session: the dispatcher and its workers survive the submitter (and its Ctrl-C).
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            cwd=str(store.path.parent),
            start_new_session=True,
        )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # Zombies still count for killpg: look for a live member.
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            return True
    return False


__all__ = ["Launcher", "LocalLauncher", "ensure_dispatcher"]
