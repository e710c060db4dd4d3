"""Measured maps computed in the background: the server's :class:`stabviz.ui.jobs.Jobs` registry over one
spawned worker process (pure: no streamlit; torch never loads in the server).

A measured map (stabviz.measured) takes seconds of torch work: :class:`MapJobs` runs one map at a time,
server-wide, reports its cells as they are measured and keeps the last ``CACHE_SIZE`` maps (the registry's
cache policy, shared with the verdict's checks). See :mod:`stabviz.ui.jobs` for how requests, supersession
and polling work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from stabviz.ui.jobs import CRASHED, STALE_S, Jobs, ProcessExecutor, Progress, Status  # noqa: F401 - the maps' names

#: Results (and errors) kept, most recently used first.
CACHE_SIZE = 16
#: The worker's torch threads: one core stays free for the server. (On 2 cores busy with other work, a 20 × 20 map
#: of shd-tau20 took 50–70 s with 2 threads, 9–14 s with 1: oversubscribed torch threads wait on each other.)
THREADS = max(1, (os.cpu_count() or 2) - 1)
#: Progress updates a map sends at least (its push-back runs in about this many chunks).
PROGRESS_UPDATES = 10


@dataclass(frozen=True)
class MapSpec:
    """One measured map: the setting (LIFConfig.to_dict()), its x axis, n × n cells, and the simulation."""

    setting: dict
    x: str
    n: int
    batch: int = 64
    steps: int = 300
    burn_in: int = 100


def measure(spec: MapSpec, progress: Progress) -> dict[str, Any]:
    """The worker's job: stabviz.measured.measure_map at ``spec``, as plain numbers (numpy arrays and
    floats: unpickling them needs no torch in the server)."""
    import torch

    from stabviz import measured
    from stabviz.config import LIFConfig

    torch.set_num_threads(THREADS)
    cfg = LIFConfig.from_dict(spec.setting)
    m = measured.measure_map(
        cfg,
        x=spec.x,
        nx=spec.n,
        ny=spec.n,
        batch=spec.batch,
        steps=spec.steps,
        burn_in=spec.burn_in,
        progress=progress,
        chunk_elements=measured.progress_chunk(cfg, spec.n, spec.n, spec.batch, PROGRESS_UPDATES),
    )
    out = {
        k: getattr(m, k)
        for k in (
            "x_name",
            "x",
            "y",
            "log_x",
            "measured_log10_gain",
            "predicted_log10_gain",
            "measured_regime",
            "predicted_regime",
            "rho_hat",
            "tolerance",
            "seconds",
        )
    }
    return {**out, "agreement": m.agreement}


class MapJobs(Jobs):
    """The measured maps' registry: ``measure`` (or a stand-in ``worker``) in one spawned process, a map's
    size its n × n cells."""

    def __init__(self, worker=measure, cache_size: int = CACHE_SIZE, stale_s: float = STALE_S):
        super().__init__(
            worker, cache_size, ProcessExecutor, stale_s, total=lambda spec: spec.n * spec.n, what="measured map"
        )
