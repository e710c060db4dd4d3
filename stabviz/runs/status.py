"""How a run ended, in words: "finished", "stopped at 77/100 (time limit)", "diverged at 12/100 (non-finite
loss)". One function for every view (runs table, run view, Explore, the CLI and the exports), so a run the
time limit stopped reads the same everywhere and never as finished. Imports nothing of stabviz: the store
uses it for its exports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The status of a run its time limit stopped before its last step (stabviz.train: ``stopped_early``).
STOPPED = "stopped"
TIME_LIMIT = "time limit"


def steps_done(run: Mapping[str, Any]) -> int | None:
    """Optimiser steps the run actually took (its summary's ``final.steps_done``); None before it ended."""
    done = ((run.get("summary") or {}).get("final") or {}).get("steps_done")
    return int(done) if isinstance(done, (int, float)) else None


def steps_planned(run: Mapping[str, Any]) -> int | None:
    """The optimiser steps the run was queued with."""
    total = (run.get("config") or {}).get("train_steps")
    return int(total) if isinstance(total, (int, float)) else None


def ended_as(run: Mapping[str, Any]) -> str | None:
    """The stored status, except that an older store's "finished" run whose summary says the time limit
    stopped it early is "stopped" (stores migrate such rows on opening, schema 5; a summary read apart from its
    store still says so)."""
    status = run.get("status")
    early = (run.get("summary") or {}).get("stopped_early")
    if status == "finished" and early == TIME_LIMIT:
        return STOPPED
    return status


def steps_text(run: Mapping[str, Any]) -> str:
    """ "77/100" (steps done of those asked for), "100/100"; "—/100" before the run has ended."""
    done, total = steps_done(run), steps_planned(run)
    return f"{'—' if done is None else done}/{'—' if total is None else total}"


def status_text(run: Mapping[str, Any]) -> str:
    """The run's status for people: "finished", "stopped at 77/100 (time limit)", "diverged at 12/100
    (non-finite loss)", "cancelled at 30/100"; queued, running, failed and interrupted as they are."""
    status = ended_as(run)
    if status not in (STOPPED, "diverged", "cancelled") or steps_done(run) is None:
        return str(status)
    early = (run.get("summary") or {}).get("stopped_early")
    why = TIME_LIMIT if status == STOPPED else early if status == "diverged" and early else None
    return f"{status} at {steps_text(run)}" + (f" ({why})" if why else "")
