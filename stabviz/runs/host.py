"""What this machine offers the launchers: visible GPUs, the default worker count, and the
dispatcher lock that keeps one dispatcher per run store. Imports neither torch nor streamlit."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from stabviz.runs.store import pid_alive


def lock_path(db_path: Path) -> Path:
    return Path(str(db_path) + ".dispatcher.lock")


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


class DispatcherLock:
    """Exclusive, non-blocking ``flock`` on ``<db>.dispatcher.lock`` naming the live dispatcher's pid.
    The kernel drops it when every holder has died, so a crashed dispatcher never blocks a new one.
    The submitter takes it *before* starting a dispatcher and hands the descriptor down, so there is
    no moment in which a starting dispatcher looks absent."""

    def __init__(self, path: Path, fd: int | None = None):
        self.path, self.fd = path, fd

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def write_pid(self, pid: int) -> None:
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(pid).encode(), 0)

    def release(self) -> None:
        """Close our descriptor (the lock itself lives on while a child still holds a copy)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def dispatcher_pid(db_path: Path) -> int | None:
    """Pid of the live dispatcher of this database, or None. Reads only: never touches the lock."""
    try:
        pid = int(lock_path(db_path).read_text().strip() or 0)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) and b"stabviz.runs.worker" in cmdline else None
