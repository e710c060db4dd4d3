"""What this machine offers the launchers: visible GPUs, the default worker count, and the pid of the
dispatcher serving a run store (its lease lives in the store). Imports neither torch nor streamlit."""

from __future__ import annotations

import os
from pathlib import Path

from stabviz.runs.store import RunStore


def visible_gpus() -> list[str]:
    """GPU ids this process may use, found without importing torch: CUDA_VISIBLE_DEVICES when set,
    else the NVIDIA driver's /proc entries; [] without CUDA hardware."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = [g.strip() for g in env.split(",") if g.strip()]
        return [] if ids and ids[0].startswith("-") else ids
    proc = Path("/proc/driver/nvidia/gpus")
    try:
        return [str(i) for i in range(len(list(proc.iterdir())))]
    except OSError:
        return []


def default_workers() -> int:
    """Concurrent local runs: ``STABVIZ_WORKERS`` if set, else one per visible GPU, else 1."""
    raw = os.environ.get("STABVIZ_WORKERS", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"STABVIZ_WORKERS = {raw!r} is outside the allowed range [1, inf)")
        return int(raw)
    return max(1, len(visible_gpus()))


def dispatcher_pid(db_path: Path) -> int | None:
    """Pid of the live dispatcher of this database (the lease holder, see
    :meth:`RunStore.dispatcher_status`), or None. Reads only; no store is created."""
    if not Path(db_path).exists():
        return None
    store = RunStore(db_path)
    try:
        status = store.dispatcher_status()
    finally:
        store.close()
    return status["pid"] if status and status["alive"] else None
