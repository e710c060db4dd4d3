"""The worker side of the queue: claiming queued runs (alone or as one ensemble), heartbeats, metrics,
status transitions (checked in SQL, :data:`TRANSITIONS`: a terminal status never changes, and a worker
whose run was declared dead has its writes refused with :class:`RunEnded`), cancellation, and reaping
runs whose worker is gone.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any

from stabviz.runs.database import (
    _JSON_COLUMNS,
    HOST,
    TERMINAL,
    TRANSITIONS,
    RunEnded,
    _check_status,
    _dumps,
    _translated,
    pid_alive,
)


def _flatten_metrics(metrics: Mapping[str, Any]) -> Iterator[tuple[str, float]]:
    """(name, value) pairs; a sequence value becomes ``name[i]`` entries (e.g. one rate per layer).
    Tensors and numpy values are accepted (through their ``tolist``)."""
    for name, value in metrics.items():
        if hasattr(value, "tolist"):
            value = value.tolist()
        if isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                yield f"{name}[{i}]", float(v)
        else:
            try:
                yield str(name), float(value)
            except (TypeError, ValueError):
                raise TypeError(f"metric {name!r} = {value!r} is not a number") from None


class Claims:
    """What workers and the reaper do to runs (a mixin of RunStore)."""

    def claim_next(
        self, launcher: str, pid: int, host: str = HOST, max_running: int | None = None, lease: str | None = None
    ) -> str | None:
        """Atomically move the oldest queued run of ``launcher`` to running; None if there is none,
        if ``max_running`` workers already hold running runs of that launcher, or if ``lease`` (the
        token of the worker's dispatcher) is no longer the dispatcher lease's."""
        with self._write() as c:
            if lease is not None and not self._holds(c, lease):
                return None
            if max_running is not None and self._busy_workers(c, launcher) >= max_running:
                return None
            row = c.execute(
                "SELECT id FROM runs WHERE status='queued' AND launcher=? ORDER BY created, rowid LIMIT 1", (launcher,)
            ).fetchone()
            if row is None:
                return None
            self._mark_running(c, row[0], pid, host)
            return row[0]

    @_translated
    def claim_group(
        self,
        launcher: str,
        pid: int,
        host: str = HOST,
        max_running: int | None = None,
        *,
        key: Callable[[dict[str, Any]], Hashable],
        limit: int,
        lease: str | None = None,
    ) -> list[str]:
        """Atomically move the oldest queued run of ``launcher`` to running, with up to ``limit`` − 1 more
        queued runs whose ``key(config)`` equals its own (runs that can train as one ensemble), oldest
        first. ``max_running`` bounds the *workers* holding running runs of that launcher (an ensemble
        is one worker). A key that raises claims its run alone. [] when nothing is claimed. ``lease``: as
        for :meth:`claim_next`."""

        def key_of(text: str) -> Hashable:
            try:
                return key(json.loads(text))
            except Exception:
                return object()  # unique: never grouped with anything

        with self._write() as c:
            if lease is not None and not self._holds(c, lease):
                return []
            if max_running is not None and self._busy_workers(c, launcher) >= max_running:
                return []
            rows = c.execute(
                "SELECT id, config FROM runs WHERE status='queued' AND launcher=? ORDER BY created, rowid", (launcher,)
            ).fetchall()
            if not rows:
                return []
            first = key_of(rows[0][1])
            chosen = [rows[0][0]] + [r[0] for r in rows[1:] if key_of(r[1]) == first][: max(0, limit - 1)]
            return [run_id for run_id in chosen if self._mark_running(c, run_id, pid, host)]

    @staticmethod
    def _busy_workers(c: sqlite3.Connection, launcher: str) -> int:
        """Workers holding running runs of ``launcher`` (an ensemble's members share one worker)."""
        return c.execute(
            "SELECT COUNT(DISTINCT host || ':' || pid) FROM runs WHERE status='running' AND launcher=?", (launcher,)
        ).fetchone()[0]

    @_translated
    def requeue(self, run_ids: Sequence[str], pid: int) -> None:
        """Give claimed runs that this worker will not train after all (they did not fit one ensemble) back
        to the queue, as if never claimed."""
        with self._write() as c:
            for run_id in run_ids:
                c.execute(
                    "UPDATE runs SET status='queued', pid=NULL, host=NULL, started=NULL, heartbeat=NULL "
                    "WHERE id=? AND status='running' AND pid=?",
                    (run_id, pid),
                )

    @_translated
    def cancel_requests(self, run_ids: Sequence[str]) -> set[str]:
        """The runs among ``run_ids`` whose cancellation was asked for (one query for a whole ensemble)."""
        if not run_ids:
            return set()
        marks = ",".join("?" * len(run_ids))
        rows = (
            self._conn()
            .execute(f"SELECT id FROM runs WHERE cancel_requested AND id IN ({marks})", tuple(run_ids))
            .fetchall()
        )
        return {r[0] for r in rows}

    @_translated
    def claim(self, run_id: str, pid: int, host: str = HOST) -> bool:
        """Move this queued run to running; False if it is no longer queued (e.g. cancelled)."""
        with self._write() as c:
            return self._mark_running(c, run_id, pid, host)

    @staticmethod
    def _mark_running(c: sqlite3.Connection, run_id: str, pid: int, host: str) -> bool:
        now = time.time()
        cur = c.execute(
            "UPDATE runs SET status='running', pid=?, host=?, started=?, heartbeat=? WHERE id=? AND status='queued'",
            (pid, host, now, now, run_id),
        )
        return cur.rowcount == 1

    @_translated
    def heartbeat(self, run_id: str) -> None:
        """Raises RunEnded when the run is no longer running (its worker must stop)."""
        with self._write() as c:
            self._beat(c, run_id)

    @staticmethod
    def _beat(c: sqlite3.Connection, run_id: str) -> None:
        cur = c.execute("UPDATE runs SET heartbeat=? WHERE id=? AND status='running'", (time.time(), run_id))
        if cur.rowcount == 0:
            row = c.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
            raise RunEnded(run_id, row[0] if row else None)

    @_translated
    def log_metrics(self, run_id: str, step: int, metrics: Mapping[str, Any]) -> None:
        """Append one step's metrics (numbers; a list value is stored as name[0], name[1], ...).
        Also counts as a heartbeat. Refused with RunEnded (nothing written) when the run is no
        longer running, e.g. declared dead while its worker was stopped."""
        rows = [(run_id, int(step), name, value) for name, value in _flatten_metrics(metrics)]
        with self._write() as c:
            self._beat(c, run_id)
            c.executemany("INSERT INTO metrics (run_id, step, name, value) VALUES (?, ?, ?, ?)", rows)

    @_translated
    def set_status(
        self, run_id: str, status: str, *, error: str | None = None, traceback: str | None = None, **fields: Any
    ) -> bool:
        """Move the run to ``status`` (stamping started/finished) and set any of: device, summary,
        prediction, versions, pid, host. Only the transitions of :data:`TRANSITIONS` happen,
        checked in the UPDATE itself: returns False (nothing changed) when the run's current status
        does not lead there (e.g. it was declared interrupted, or already ended). KeyError for an
        unknown run."""
        _check_status(status)
        before = TRANSITIONS[status]
        if not before:
            raise ValueError(f"status = {status!r} cannot be set (a run is queued only when created)")
        allowed = {"device", "summary", "prediction", "versions", "pid", "host"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"set_status got unknown fields {sorted(unknown)}; allowed: {sorted(allowed)}")
        now = time.time()
        cols = {"status": status, "error": error, "traceback": traceback}
        cols.update({k: (_dumps(v) if k in _JSON_COLUMNS else v) for k, v in fields.items()})
        sets = ", ".join(f"{k}=?" for k in cols)
        stamp = "started=COALESCE(started, ?)" if status == "running" else "finished=?" if status in TERMINAL else None
        args = list(cols.values()) + ([now] if stamp else [])
        with self._write() as c:
            cur = c.execute(
                f"UPDATE runs SET {sets}{', ' + stamp if stamp else ''} WHERE id=? "
                f"AND status IN ({','.join('?' * len(before))})",
                args + [run_id, *before],
            )
            if cur.rowcount == 1:
                return True
            if c.execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone() is None:
                raise KeyError(f"no run with id {run_id!r}")
            return False

    @_translated
    def record_cause(self, run_id: str, pid: int, cause: str, host: str = HOST) -> bool:
        """Put the cause a worker could not record in time (the store could not be written) in front of
        the reaper's message on its run, which the reaper marked interrupted meanwhile ("no heartbeat",
        "ended without reporting"). Only that worker's own interrupted run; the status stays. True if done."""
        with self._write() as c:
            cur = c.execute(
                "UPDATE runs SET error=? || '; marked interrupted meanwhile: ' || COALESCE(error, '?') "
                "WHERE id=? AND status='interrupted' AND pid=? AND host=? "
                "AND substr(COALESCE(error, ''), 1, length(?)) <> ?",
                (cause, run_id, pid, host, cause, cause),
            )
            return cur.rowcount == 1

    @_translated
    def update_versions(self, run_id: str, versions: Mapping[str, Any]) -> None:
        with self._write() as c:
            row = c.execute("SELECT versions FROM runs WHERE id=?", (run_id,)).fetchone()
            merged = {**(json.loads(row[0]) if row and row[0] else {}), **versions}
            c.execute("UPDATE runs SET versions=? WHERE id=?", (json.dumps(merged), run_id))

    @_translated
    def request_cancel(self, run_id: str) -> str:
        """Cancel a run: a queued run is cancelled at once; a running one is flagged and its worker
        stops at its next check. Returns the run's status after the request."""
        run_id = self.resolve(run_id)
        with self._write() as c:
            c.execute(
                "UPDATE runs SET status='cancelled', finished=? WHERE id=? AND status='queued'", (time.time(), run_id)
            )
            c.execute("UPDATE runs SET cancel_requested=1 WHERE id=? AND status='running'", (run_id,))
            return c.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()[0]

    @_translated
    def reap(self, stale_after: float | None = None) -> list[str]:
        """Mark running runs ``interrupted`` whose worker is gone: its pid no longer exists (same
        host) or its heartbeat is older than ``stale_after`` seconds. Metrics are kept.
        Returns the ids marked. A write, never done by reads; nothing on a read-only store."""
        if self.read_only:
            return []
        stale_after = self.stale_after if stale_after is None else stale_after
        now = time.time()
        dead: list[tuple[str, str]] = []
        for row in self._conn().execute("SELECT id, pid, host, heartbeat FROM runs WHERE status='running'"):
            if row["host"] == HOST and not pid_alive(row["pid"]):
                dead.append((row["id"], f"worker process {row['pid']} ended without reporting"))
            elif row["heartbeat"] is not None and now - row["heartbeat"] > stale_after:
                dead.append(
                    (
                        row["id"],
                        f"no heartbeat for {now - row['heartbeat']:.0f} s (worker {row['pid']} on {row['host']})",
                    )
                )
        if not dead:
            return []
        marked = []
        with self._write() as c:
            for run_id, why in dead:
                # Re-check inside the write lock: the run may have finished meanwhile.
                cur = c.execute(
                    "UPDATE runs SET status='interrupted', finished=?, error=? WHERE id=? AND status='running'",
                    (now, why, run_id),
                )
                if cur.rowcount:
                    marked.append(run_id)
        return marked
