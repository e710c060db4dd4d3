"""Ray launcher: the same runs and sweeps, executed as Ray tasks on a cluster.

Each task receives the store's path and the ids of one ensemble (compatible runs of one submission, see
``stabviz.runs.worker.plan_ensembles``; one id when they cannot share), claims them in the store and
trains them with the same code as a local worker, so the dashboard reads Ray runs exactly like local ones.

Requirements on a real cluster: stabviz installed on every node, and the run store on a filesystem
that every node mounts at the same path with working POSIX locks (NFS with lockd, Lustre, CephFS...);
for a store written from several hosts set ``STABVIZ_SQLITE_JOURNAL=delete`` (SQLite's WAL mode needs
all writers on one host). Connect with ``RAY_ADDRESS`` or ``ray_address``.

Tasks are started by a small detached actor (``stabviz-dispatcher`` in namespace ``stabviz``) so
they keep running after the submitting process (a CLI call, say) exits. Ray is imported only here.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

import ray

from stabviz.config import TrainConfig
from stabviz.runs.envvars import env_seconds
from stabviz.runs.local import Launcher, LauncherUnavailable
from stabviz.runs.store import HOST, RunStore

#: GPU share of one small run (Ray packs several on one GPU); larger runs take a whole GPU.
SMALL_RUN_GPU_SHARE = 0.25
SMALL_RUN_NEURONS = 512  # n_rec × layers at or below this is "small"
ACTOR_NAME, ACTOR_NAMESPACE = "stabviz-dispatcher", "stabviz"
#: Seconds to reach a Ray cluster before giving up (``STABVIZ_RAY_CONNECT_TIMEOUT_S``).
CONNECT_TIMEOUT_S = 15.0
CONNECT_TIMEOUT_ENV = "STABVIZ_RAY_CONNECT_TIMEOUT_S"


class RayConnectError(LauncherUnavailable):
    """Ray could not be reached (one-line message); nothing was queued."""


class _NoThreadNote(logging.Filter):
    """Drops Ray's note that ray.init ran outside the main thread (it does here on purpose, to have a
    deadline), so a failed connect prints one line, not a warning first."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()


logging.getLogger("ray._private.worker").addFilter(_NoThreadNote())


@ray.remote(max_retries=0)
def execute_on_ray(db_path: str, run_ids: list[str]) -> list[str]:
    """Claim and train runs inside a Ray worker: one run, or compatible runs as one ensemble (as a local
    worker would); returns their final statuses."""
    from stabviz.runs.worker import execute_claimed, execute_claimed_ensemble

    store = RunStore(db_path)
    try:
        # a run cancelled while the task waited for resources is no longer queued: left out
        mine = [run_id for run_id in run_ids if store.claim(run_id, os.getpid(), HOST)]
        if len(mine) == 1:
            execute_claimed(store, mine[0])
        elif mine:
            execute_claimed_ensemble(store, mine)
        return [store.status(run_id) for run_id in run_ids]
    finally:
        store.close()


@ray.remote(num_cpus=0)
class _Dispatcher:
    """Owns the tasks so that they outlive the driver that asked for them."""

    def __init__(self):
        self.pending: list[Any] = []

    def launch(self, db_path: str, run_ids: list[str], num_gpus: float) -> None:
        ref = execute_on_ray.options(num_gpus=num_gpus, name=f"stabviz-run-{run_ids[0]}").remote(db_path, run_ids)
        done, self.pending = ray.wait(self.pending, num_returns=len(self.pending), timeout=0)
        self.pending.append(ref)


def gpu_share(cfg: TrainConfig, cluster_gpus: float, members: int = 1) -> float:
    """GPUs one task (one run, or an ensemble of ``members``) asks Ray for: 0 without GPUs or for
    ``device='cpu'``; SMALL_RUN_GPU_SHARE for small networks; 1 otherwise."""
    if cluster_gpus <= 0 or cfg.device == "cpu":
        return 0.0
    return SMALL_RUN_GPU_SHARE if cfg.lif.n_rec * cfg.layers * members <= SMALL_RUN_NEURONS else 1.0


class RayLauncher(Launcher):
    """Executes runs as Ray tasks. ``ray_address``: a cluster address (default ``RAY_ADDRESS``;
    without either, ``ray.init`` starts a local Ray that lives as long as this process).
    ``num_gpus``: GPUs per task (default :func:`gpu_share`)."""

    name = "ray"

    def __init__(self, store: RunStore | None = None, ray_address: str | None = None, num_gpus: float | None = None):
        super().__init__(store)
        if num_gpus is not None and not num_gpus >= 0:
            raise ValueError(f"num_gpus = {num_gpus!r} is outside the allowed range [0, inf)")
        self.ray_address = ray_address or os.environ.get("RAY_ADDRESS") or None
        self.num_gpus = num_gpus

    def _connect(self, timeout: float | None = None) -> None:
        """ray.init with a deadline: an explicit host:port is first probed with a plain TCP
        connect (a refused or unreachable port fails at once), then ray.init runs in a thread that
        must finish within ``timeout`` s (default STABVIZ_RAY_CONNECT_TIMEOUT_S, else 15).
        Raises RayConnectError (one line)."""
        timeout = float(timeout if timeout is not None else env_seconds(CONNECT_TIMEOUT_ENV, CONNECT_TIMEOUT_S))
        if ray.is_initialized():
            return
        where = self.ray_address or "a new local Ray"
        _probe(self.ray_address, timeout)
        failure: list[BaseException] = []

        def init() -> None:
            try:
                ray.init(address=self.ray_address, include_dashboard=False, log_to_driver=False)
            except BaseException as exc:  # handed to the caller below
                failure.append(exc)

        thread = threading.Thread(target=init, name="stabviz-ray-init", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise RayConnectError(
                f"could not connect to Ray at {where} within {timeout:g} s "
                "(set STABVIZ_RAY_CONNECT_TIMEOUT_S to wait longer)"
            )
        if failure:
            line = (str(failure[0]).strip().splitlines() or [type(failure[0]).__name__])[0]
            raise RayConnectError(f"could not connect to Ray at {where}: {line}") from failure[0]

    def _prepare(self) -> None:
        self._connect()  # before any run is recorded: a failure leaves no queued run

    def _dispatcher(self):
        return _Dispatcher.options(
            name=ACTOR_NAME, namespace=ACTOR_NAMESPACE, lifetime="detached", get_if_exists=True
        ).remote()

    def _start(self, run_ids: list[str]) -> None:
        """One Ray task per ensemble: compatible runs (a sweep, a seed group) train together."""
        from stabviz.runs.worker import plan_ensembles

        self._connect()  # done already by _prepare; kept for direct callers
        dispatcher = self._dispatcher()
        gpus = ray.cluster_resources().get("GPU", 0.0)
        configs = {run_id: TrainConfig.from_dict(self.store.get(run_id, reap=False)["config"]) for run_id in run_ids}
        launched = []
        for members in plan_ensembles(configs):
            cfg = configs[members[0]]
            share = self.num_gpus if self.num_gpus is not None else gpu_share(cfg, gpus, len(members))
            launched.append(dispatcher.launch.remote(str(self.store.path), members, share))
        ray.get(launched)  # the actor holds the tasks once these calls return


def _probe(address: str | None, timeout: float) -> None:
    """Fail fast on an explicit ``host:port`` nobody listens on (ray.init would retry for minutes)."""
    if not address or address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=min(timeout, 5.0)):
            pass
    except OSError as exc:
        raise RayConnectError(f"could not connect to Ray at {address}: {exc.strerror or type(exc).__name__}") from None
