"""Launchers: queue runs and sweeps in the store, then get them executed.

:class:`LocalLauncher` (the default) executes them in worker processes on this machine, managed by a
detached dispatcher (``stabviz.runs.worker``), so ``submit`` returns at once and runs go on after the
caller exits. :class:`stabviz.runs.ray_launcher.RayLauncher` executes the same runs as Ray tasks.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from stabviz.config import TrainConfig, limits
from stabviz.runs.host import DispatcherLock, default_workers, dispatcher_pid, lock_path
from stabviz.runs.store import RunStore, new_id
from stabviz.runs.sweep import label, sweep_configs

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])   # the folder that holds stabviz/


class Launcher:
    """What every launcher does: validate, queue in the store, start execution."""

    name = "base"

    def __init__(self, store: RunStore | None = None):
        self.store = store or RunStore()

    def submit(self, cfg: TrainConfig) -> str:
        """Queue one run and return its id at once. Raises ValueError beyond the machine's limits
        (network size, steps, batch, time steps, queued runs)."""
        return self._submit([(cfg, None)])[0]

    def submit_sweep(self, base: TrainConfig, x: str, x_values: Sequence[Any], y: str | None = None,
                     y_values: Sequence[Any] | None = None) -> tuple[str, list[str]]:
        """Queue one run per grid point (x varying fastest); returns (sweep id, run ids).
        Every point is validated before anything is queued."""
        points = sweep_configs(base, x, x_values, y, y_values)
        spec = {"x": x, "x_values": list(x_values), "y": y,
                "y_values": list(y_values) if y_values else None,
                "base": base.to_dict(), "launcher": self.name}
        sweep_id = new_id()
        ids = self._submit([(cfg, {"id": sweep_id, "label": label(p), "point": p})
                            for p, cfg in points], sweep_spec=(sweep_id, spec))
        return sweep_id, ids

    def cancel(self, run_id: str) -> str:
        """Cancel a queued or running run; returns its status after the request."""
        return self.store.request_cancel(run_id)

    def wait(self, run_ids: Sequence[str], timeout: float | None = None) -> dict[str, str]:
        """Block until the runs end (or ``timeout`` s); returns id -> status."""
        return self.store.wait(run_ids, timeout)

    def _submit(self, items, sweep_spec=None) -> list[str]:
        lim = limits()
        for cfg, _ in items:
            cfg.check_limits(lim)
        ids = self.store.create_many(items, launcher=self.name, max_queued=lim["queued"],
                                     sweep_spec=sweep_spec)
        try:
            self._start(ids)
        except Exception as exc:
            # Nothing will ever pick these runs up: say so in the store rather than leave them queued.
            for run_id in ids:
                self.store.set_status(run_id, "failed", error=f"could not start the run: {exc}")
            raise
        return ids

    def _start(self, run_ids: list[str]) -> None:
        raise NotImplementedError


class LocalLauncher(Launcher):
    """Runs on this machine, ``workers`` at a time (default: STABVIZ_WORKERS, else one per GPU,
    else 1), in spawned worker processes under a detached dispatcher."""

    name = "local"

    def __init__(self, store: RunStore | None = None, workers: int | None = None,
                 idle_s: float | None = None):
        super().__init__(store)
        self.workers = workers or default_workers()
        if self.workers < 1:
            raise ValueError(f"workers = {self.workers!r} is outside the allowed range [1, inf)")
        self.idle_s = idle_s
        self._spawned: subprocess.Popen | None = None
        self._spawn_lock = threading.Lock()

    def _start(self, run_ids: list[str]) -> None:
        self.ensure_dispatcher()

    def dispatcher_pid(self) -> int | None:
        """Pid of the live dispatcher serving this store, or None."""
        return dispatcher_pid(self.store.path)

    def ensure_dispatcher(self) -> None:
        """Start a dispatcher unless one holds this store's dispatcher lock."""
        with self._spawn_lock:
            lock = DispatcherLock(lock_path(self.store.path))
            if not lock.acquire():
                return               # a live dispatcher holds it and will see the new runs
            try:
                self._spawned = self._popen_dispatcher(lock.fd)
                lock.write_pid(self._spawned.pid)
            finally:
                lock.release()       # the dispatcher keeps the lock through its inherited copy

    def _popen_dispatcher(self, lock_fd: int) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "stabviz.runs.worker", "--db", str(self.store.path),
               "--workers", str(self.workers), "--lock-fd", str(lock_fd)]
        if self.idle_s is not None:
            cmd += ["--idle", str(self.idle_s)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        log_dir = self.store.path.parent / "logs"
        log_dir.mkdir(exist_ok=True)
        with open(log_dir / "dispatcher.log", "ab") as log:
            # New session: the dispatcher and its workers survive the submitter (and its Ctrl-C).
            return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                    cwd=str(self.store.path.parent), start_new_session=True,
                                    pass_fds=(lock_fd,))

    def shutdown(self, timeout: float = 15.0) -> bool:
        """Stop the dispatcher and its workers (running runs end ``interrupted``). True when every
        process of its group has exited within ``timeout`` s; stragglers are then SIGKILLed."""
        pid = self.dispatcher_pid() or (self._spawned.pid if self._spawned else None)
        if pid is None:
            return True
        try:
            os.killpg(pid, signal.SIGTERM)   # the dispatcher leads its own process group
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._spawned is not None:
                self._spawned.poll()         # reap our child so it stops counting as alive
            if not _group_alive(pid):
                return True
            time.sleep(0.1)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return False


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


__all__ = ["Launcher", "LocalLauncher"]
