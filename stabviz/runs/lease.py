"""The local dispatcher's lease: one row of the store naming the dispatcher's token, pid and last
heartbeat. Its workers claim runs only while their dispatcher's token is the lease's, checked inside the
claim's transaction, so a replaced dispatcher (frozen past the timeout, then resumed) cannot have anything
run, and no run is ever claimed twice.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from stabviz.runs.database import HOST, _translated, pid_alive
from stabviz.runs.envvars import env_seconds

#: The dispatcher renews its lease (a heartbeat in the ``dispatcher`` table) this often (seconds)...
DISPATCHER_BEAT_S = 1.0
#: ...and a live holder whose heartbeat is older than this (seconds; STABVIZ_DISPATCHER_TIMEOUT_S) is
#: replaced: a frozen (SIGSTOPped, hung) dispatcher strands the queue at most this long.
DISPATCHER_TIMEOUT_S = 30.0
DISPATCHER_TIMEOUT_RANGE = (2.0, 86400.0)
#: A heartbeat older than this (seconds, or half the timeout if less) is reported as late.
DISPATCHER_LATE_S = 5.0


def dispatcher_timeout() -> float:
    """Seconds after which a dispatcher that stopped renewing its lease is replaced:
    STABVIZ_DISPATCHER_TIMEOUT_S, default DISPATCHER_TIMEOUT_S. ValueError naming it when out of range."""
    low, high = DISPATCHER_TIMEOUT_RANGE
    return env_seconds("STABVIZ_DISPATCHER_TIMEOUT_S", DISPATCHER_TIMEOUT_S, most=high, least=low)


def describe_dispatcher(status: Mapping[str, Any] | None) -> str | None:
    """One line for a dispatcher that holds the lease but has stopped renewing it (frozen, hung), from
    :meth:`RunStore.dispatcher_status`; None when there is nothing to say."""
    if not status or not status["late"]:
        return None
    head = f"the dispatcher (pid {status['pid']}) has not responded for {status['age_s']:.0f} s"
    if status["stale"]:
        return f"{head}; past the {status['timeout_s']:g} s limit, it is replaced when runs are queued"
    return (
        f"{head}; it will be replaced after {status['timeout_s']:g} s (STABVIZ_DISPATCHER_TIMEOUT_S) if it stays silent"
    )


class Lease:
    """Taking, renewing and giving up the dispatcher lease (a mixin of RunStore)."""

    @staticmethod
    def _holds(c: sqlite3.Connection, token: str) -> bool:
        return c.execute("SELECT 1 FROM dispatcher WHERE id=1 AND token=?", (token,)).fetchone() is not None

    @staticmethod
    def _lease_free(row: sqlite3.Row | None, timeout: float) -> bool:
        """No holder, a holder whose process is gone (same host), or one silent past ``timeout``."""
        return (
            row is None
            or (row["host"] == HOST and not pid_alive(row["pid"]))
            or time.time() - row["heartbeat"] > timeout
        )

    def _lease_row(self) -> sqlite3.Row | None:
        try:
            return self._conn().execute("SELECT * FROM dispatcher WHERE id=1").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None  # a store too old to upgrade here (read-only): no lease kept
            raise

    @_translated
    def take_dispatch(self, token: str, pid: int, host: str = HOST) -> bool:
        """Take the dispatcher lease for ``token`` if it is free (see :meth:`_lease_free`; the timeout
        is :func:`dispatcher_timeout`); False when a live dispatcher holds it. Reads first, so asking
        while one serves writes nothing."""
        timeout = dispatcher_timeout()
        if not self._lease_free(self._lease_row(), timeout):
            return False
        with self._write() as c:
            if not self._lease_free(c.execute("SELECT * FROM dispatcher WHERE id=1").fetchone(), timeout):
                return False
            c.execute(
                "INSERT OR REPLACE INTO dispatcher (id, token, pid, host, heartbeat) VALUES (1, ?, ?, ?, ?)",
                (token, pid, host, time.time()),
            )
            return True

    @_translated
    def renew_dispatch(self, token: str, pid: int | None = None) -> bool:
        """The holder's heartbeat (and its pid, when given): False when the lease is no longer
        ``token``'s (it was replaced): that dispatcher must exit without launching anything."""
        with self._write() as c:
            cur = c.execute(
                "UPDATE dispatcher SET heartbeat=?, pid=COALESCE(?, pid) WHERE id=1 AND token=?",
                (time.time(), pid, token),
            )
            return cur.rowcount == 1

    @_translated
    def release_dispatch(self, token: str, unless_queued: str | None = None) -> bool:
        """Give the lease up. ``unless_queued`` (a launcher): only if none of its runs is queued, in
        the same transaction, so a run queued just before is never left without a dispatcher (its
        submitter saw the lease held and started none). True when released (or not ours)."""
        with self._write() as c:
            if (
                unless_queued is not None
                and c.execute(
                    "SELECT 1 FROM runs WHERE status='queued' AND launcher=? LIMIT 1", (unless_queued,)
                ).fetchone()
            ):
                return False
            c.execute("DELETE FROM dispatcher WHERE id=1 AND token=?", (token,))
            return True

    @_translated
    def dispatcher_status(self) -> dict[str, Any] | None:
        """The lease holder as {pid, host, age_s (since its last heartbeat), timeout_s, alive, late,
        stale}; None when no dispatcher holds it. ``late``: silent for several heartbeats (frozen or
        hung, see :func:`describe_dispatcher`); ``stale``: past the timeout, so the next
        :func:`stabviz.runs.ensure_dispatcher` with runs queued replaces it. Reads only."""
        timeout = dispatcher_timeout()  # checked even with no dispatcher: a bad setting is said at once
        row = self._lease_row()
        if row is None:
            return None
        age = max(0.0, time.time() - row["heartbeat"])
        alive = not (row["host"] == HOST and not pid_alive(row["pid"]))
        return {
            "pid": row["pid"],
            "host": row["host"],
            "age_s": age,
            "timeout_s": timeout,
            "alive": alive,
            "late": alive and age > min(DISPATCHER_LATE_S, timeout / 2),
            "stale": alive and age > timeout,
        }
