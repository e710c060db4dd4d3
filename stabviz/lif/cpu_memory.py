"""glibc malloc tuning for the fast path's large per-pass buffers on CPU."""

from __future__ import annotations

import ctypes
import os
import platform
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameter numbers
_malloc_tuned: bool | None = None


def keep_freed_cpu_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of handing it back to the OS.

    Why: the fast path allocates a few (n, T, batch) buffers per pass (1600 pages of 4 KiB each at
    n = 512, T = 100, batch = 32). glibc returns such blocks to the OS when they are freed, so every
    pass page-faults them in again, which in a virtual machine costs 2-5 µs per page: more than the
    arithmetic. Called once per process by the fast path on CPU; the cost is that the process keeps
    its peak memory. Set STABVIZ_MALLOC_TUNING=0 to leave malloc alone. Returns True when applied.
    """
    global _malloc_tuned
    if _malloc_tuned is None:
        _malloc_tuned = False
        if (
            os.environ.get("STABVIZ_MALLOC_TUNING", "1") != "0"
            and sys.platform.startswith("linux")
            and platform.libc_ver()[0] == "glibc"
        ):
            try:
                libc = ctypes.CDLL(None)
                # blocks up to 32 MiB (glibc's ceiling) come from the heap, and the heap is never trimmed
                _malloc_tuned = bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and bool(
                    libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
                )
            except (OSError, AttributeError):
                _malloc_tuned = False
    return _malloc_tuned
