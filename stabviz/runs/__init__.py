"""Training runs: the SQLite run store and the launchers that execute runs in worker processes
(local, the default) or as Ray tasks (clusters). Ray is imported only when its launcher is used.

    from stabviz.runs import RunStore, get_launcher
    run_id = get_launcher().submit(TrainConfig(...))      # returns at once
    RunStore().get(run_id)["status"]
    ensure_dispatcher(RunStore())     # on opening the store: restart a dead dispatcher if runs wait
"""

from __future__ import annotations

from typing import Any

from stabviz.runs.local import Launcher, LauncherUnavailable, LocalLauncher, ensure_dispatcher
from stabviz.runs.store import ACTIVE, STATUSES, TERMINAL, TRANSITIONS, RunEnded, RunStore, StoreError, default_path
from stabviz.runs.sweep import SWEEPABLE, parse_values, sweep_configs, sweep_points

LAUNCHER_NAMES = ("local", "ray")


def get_launcher(name: str = "local", store: RunStore | None = None, **options: Any) -> Launcher:
    """``local`` (options: workers, idle_s) or ``ray`` (options: ray_address, num_gpus)."""
    if name == "local":
        return LocalLauncher(store, **options)
    if name == "ray":
        from stabviz.runs.ray_launcher import RayLauncher

        return RayLauncher(store, **options)
    raise ValueError(f"launcher = {name!r} is not one of: {', '.join(LAUNCHER_NAMES)}")


def __getattr__(name: str):
    if name == "RayLauncher":  # lazy: importing it imports ray
        from stabviz.runs.ray_launcher import RayLauncher

        return RayLauncher
    raise AttributeError(name)


__all__ = [
    "RunStore",
    "Launcher",
    "LauncherUnavailable",
    "LocalLauncher",
    "RayLauncher",
    "get_launcher",
    "STATUSES",
    "ACTIVE",
    "TERMINAL",
    "TRANSITIONS",
    "StoreError",
    "RunEnded",
    "ensure_dispatcher",
    "SWEEPABLE",
    "default_path",
    "parse_values",
    "sweep_configs",
    "sweep_points",
    "LAUNCHER_NAMES",
]
