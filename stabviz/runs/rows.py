"""The runs themselves: queueing them (one transaction for a whole sweep), reading them back (reads take
no write lock and change nothing), their tags, soft deletion, owners and metrics, and waiting for them
to end. Status changes made by workers are in :mod:`stabviz.runs.claims`.
"""

from __future__ import annotations

import json
import math
import platform
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

from stabviz.config import TrainConfig
from stabviz.runs.database import (
    _JSON_COLUMNS,
    ACTIVE,
    LAUNCHERS,
    STATUSES,
    TERMINAL,
    StoreError,
    _check_status,
    _dumps,
    _translated,
    new_id,
)

#: Longest tag, and most tags on one run: tags are short labels typed by hand.
TAG_CHARS, MAX_TAGS = 40, 20


def software_versions() -> dict[str, str | None]:
    """python / torch / stabviz versions, read without importing torch."""
    import stabviz

    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = None
    return {
        "python": platform.python_version(),
        "torch": torch_version,
        "stabviz": getattr(stabviz, "__version__", None),
    }


def _number(value: Any) -> float:
    """A stored metric value as a float (NULL = NaN; something unreadable is NaN too)."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class Rows:
    """Queueing, reading, tagging and deleting runs (a mixin of RunStore over its Database)."""

    def create(
        self,
        cfg: TrainConfig,
        sweep: Mapping[str, Any] | None = None,
        *,
        launcher: str = "local",
        max_queued: int | None = None,
        owner: str | None = None,
        max_owned: int | None = None,
    ) -> str:
        """Queue one run; returns its id. ``sweep``: optional {"id", "label", "point"}."""
        return self.create_many(
            [(cfg, sweep)], launcher=launcher, max_queued=max_queued, owner=owner, max_owned=max_owned
        )[0]

    @_translated
    def create_many(
        self,
        items: Sequence[tuple[TrainConfig, Mapping[str, Any] | None]],
        *,
        launcher: str = "local",
        max_queued: int | None = None,
        sweep_spec: tuple[str, Mapping[str, Any]] | None = None,
        owner: str | None = None,
        max_owned: int | None = None,
    ) -> list[str]:
        """Queue several runs in one transaction: all are recorded, or none (queue limit exceeded).
        ``sweep_spec``: (sweep id, definition) of a new sweep, recorded in the same transaction.
        ``owner``: who launches them (a shared dashboard's visitor key), recorded with each run; with
        ``max_owned``, refused when that owner would have more queued or running runs, counted in the same
        transaction, so two tabs of one visitor cannot both slip under the limit."""
        if launcher not in LAUNCHERS:
            raise ValueError(f"launcher = {launcher!r} is not one of: {', '.join(LAUNCHERS)}")
        versions = _dumps(software_versions())
        rows = []
        for cfg, sweep in items:
            if not isinstance(cfg, TrainConfig):
                raise TypeError(f"expected a TrainConfig, got {type(cfg).__name__}")
            sweep = sweep or {}
            rows.append(
                (
                    new_id(),
                    json.dumps(cfg.to_dict()),
                    launcher,
                    time.time(),
                    versions,
                    sweep.get("id"),
                    sweep.get("label"),
                    _dumps(sweep.get("point")),
                    owner,
                )
            )
        if owner is not None:
            self._require_columns("owner")
        with self._write() as c:
            if max_queued is not None:
                queued = c.execute("SELECT COUNT(*) FROM runs WHERE status='queued'").fetchone()[0]
                if queued + len(rows) > max_queued:
                    raise ValueError(
                        f"queued runs = {queued + len(rows)} would be above this machine's limit "
                        f"{max_queued} ({queued} already waiting; raise it with STABVIZ_MAX_QUEUED)"
                    )
            if owner is not None and max_owned is not None:
                mine = self._active_owned(c, owner)
                if mine + len(rows) > max_owned:
                    raise ValueError(
                        f"queued or running runs = {mine + len(rows)} would be above the limit of "
                        f"{max_owned} per visitor ({mine} already queued or running)"
                    )
            if sweep_spec is not None:
                c.execute(
                    "INSERT INTO sweeps (id, created, spec) VALUES (?, ?, ?)",
                    (sweep_spec[0], time.time(), json.dumps(sweep_spec[1])),
                )
            columns = "id, config, launcher, created, versions, sweep_id, sweep_label, sweep_point, owner"
            if not self._has_column("owner"):  # an older store that could not be upgraded: owner is None
                columns, rows = columns.removesuffix(", owner"), [r[:-1] for r in rows]
            marks = ", ?" * len(columns.split(","))
            c.executemany(f"INSERT INTO runs (status, {columns}) VALUES ('queued'{marks})", rows)
        return [r[0] for r in rows]

    @_translated
    def sweep(self, sweep_id: str) -> dict[str, Any]:
        """A sweep's spec plus its runs (oldest first)."""
        row = self._conn().execute("SELECT * FROM sweeps WHERE id=?", (sweep_id,)).fetchone()
        if row is None:
            raise KeyError(f"no sweep with id {sweep_id!r}")
        runs = self.list(sweep_id=sweep_id, limit=None, newest_first=False)
        return {"id": row["id"], "created": row["created"], "spec": json.loads(row["spec"]), "runs": runs}

    # -- reading ---------------------------------------------------------------------------------

    @staticmethod
    def _row(row: sqlite3.Row) -> dict[str, Any]:
        """A run as a dict. A column that does not parse (hand-edited, damaged) becomes None and
        the run gets ``row_error`` (one line) instead of breaking the whole listing."""
        out = dict(row)
        bad = []
        for k in _JSON_COLUMNS:
            if out.get(k) is not None:
                try:
                    out[k] = json.loads(out[k])
                except (TypeError, ValueError) as exc:
                    out[k] = None
                    bad.append(f"{k}: {type(exc).__name__}")
        if out.get("status") not in STATUSES:
            bad.append(f"status: {out.get('status')!r}")
        out["cancel_requested"] = bool(out.get("cancel_requested"))
        if bad:
            out["row_error"] = "unreadable " + ", ".join(bad)
        return out

    @_translated
    def resolve(self, id_or_prefix: str) -> str:
        """The full id of a run given its id or a unique prefix of it."""
        conn = self._conn()
        if conn.execute("SELECT 1 FROM runs WHERE id=?", (id_or_prefix,)).fetchone():
            return id_or_prefix
        hits = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
                (id_or_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
            )
        ]
        if len(hits) != 1:
            raise KeyError(
                f"no run with id {id_or_prefix!r}" if not hits else f"run id prefix {id_or_prefix!r} is ambiguous"
            )
        return hits[0]

    @_translated
    def get(self, run_id: str, reap: bool = False) -> dict[str, Any]:
        """One run as a dict (JSON columns parsed). Raises KeyError for an unknown id or prefix.
        Reads only; ``reap=True`` first calls :meth:`reap` (a write) explicitly."""
        if reap:
            self.reap()
        run_id = self.resolve(run_id)
        row = self._conn().execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return self._row(row)

    @_translated
    def list(
        self,
        status: str | Iterable[str] | None = None,
        limit: int | None = 200,
        *,
        sweep_id: str | None = None,
        newest_first: bool = True,
        reap: bool = False,
        deleted: bool = False,
    ) -> list[dict[str, Any]]:
        """Runs, newest first, optionally filtered by status (one or several) and sweep; deleted runs
        (:meth:`delete`) are left out, or with ``deleted=True`` they are the only ones listed. Reads
        only; ``reap=True`` first calls :meth:`reap` (a write) explicitly."""
        if reap:
            self.reap()
        return [self._row(r) for r in self._select("*", status, limit, sweep_id, newest_first, deleted)]

    @_translated
    def list_ids(self, status: str | Iterable[str] | None = None, limit: int | None = 200) -> list[str]:
        """The ids :meth:`list` would return, without reading or decoding the rows: a cheap key for a
        cache of ended runs (they never change)."""
        return [r[0] for r in self._select("id", status, limit)]

    def _select(
        self,
        columns: str,
        status: str | Iterable[str] | None,
        limit: int | None,
        sweep_id: str | None = None,
        newest_first: bool = True,
        deleted: bool = False,
    ) -> list:
        where, args = [], []
        if self._has_column("deleted"):  # a store too old to upgrade (read-only) has no deletions
            where.append("deleted IS NOT NULL" if deleted else "deleted IS NULL")
        elif deleted:
            return []
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            for s in wanted:
                _check_status(s)
            where.append(f"status IN ({','.join('?' * len(wanted))})")
            args += wanted
        if sweep_id is not None:
            where.append("sweep_id = ?")
            args.append(sweep_id)
        sql = f"SELECT {columns} FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += f" ORDER BY created {'DESC' if newest_first else 'ASC'}, rowid"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return self._conn().execute(sql, args).fetchall()

    def set_tags(self, run_id: str, tags: Iterable[str]) -> list[str]:
        """Replace a run's tags (trimmed, empty ones dropped, duplicates folded, in the order given);
        returns them. ValueError for a tag over TAG_CHARS characters or more than MAX_TAGS tags."""
        clean: list[str] = []
        for tag in tags:
            if not isinstance(tag, str):
                raise ValueError(f"tag = {tag!r} is not text")
            tag = " ".join(tag.split())
            if len(tag) > TAG_CHARS:
                raise ValueError(f"tag = {tag[:TAG_CHARS]!r}... is longer than {TAG_CHARS} characters")
            if tag and tag not in clean:
                clean.append(tag)
        if len(clean) > MAX_TAGS:
            raise ValueError(f"tags = {len(clean)} tags, above the limit of {MAX_TAGS} per run")
        self._require_columns("tags")
        run_id = self.resolve(run_id)
        with self._write() as c:
            c.execute("UPDATE runs SET tags=? WHERE id=?", (json.dumps(clean) if clean else None, run_id))
        return clean

    @_translated
    def delete(self, run_ids: Iterable[str]) -> list[str]:
        """Soft-delete ended runs: they leave every list (their metrics stay) until :meth:`undelete`.
        Queued or running runs are skipped (cancel them first); returns the ids deleted."""
        self._require_columns("deleted")
        ids = [self.resolve(r) for r in run_ids]
        done = []
        with self._write() as c:
            for run_id in ids:
                cur = c.execute(
                    f"UPDATE runs SET deleted=? WHERE id=? AND deleted IS NULL AND status IN "
                    f"({','.join('?' * len(TERMINAL))})",
                    (time.time(), run_id, *TERMINAL),
                )
                if cur.rowcount:
                    done.append(run_id)
        return done

    @_translated
    def undelete(self, run_ids: Iterable[str]) -> list[str]:
        """Bring soft-deleted runs back; returns the ids restored."""
        self._require_columns("deleted")
        ids = [self.resolve(r) for r in run_ids]
        with self._write() as c:
            return [
                r
                for r in ids
                if c.execute("UPDATE runs SET deleted=NULL WHERE id=? AND deleted IS NOT NULL", (r,)).rowcount
            ]

    @_translated
    def active_owned(self, owner: str) -> int:
        """How many queued or running runs ``owner`` launched (0 on a store too old to record owners)."""
        return self._active_owned(self._conn(), owner) if self._has_column("owner") else 0

    @staticmethod
    def _active_owned(c: sqlite3.Connection, owner: str) -> int:
        return c.execute(
            f"SELECT COUNT(*) FROM runs WHERE owner=? AND status IN ({','.join('?' * len(ACTIVE))})", (owner, *ACTIVE)
        ).fetchone()[0]

    @_translated
    def owners(self, run_ids: Iterable[str]) -> dict[str, str | None]:
        """run id -> who launched it (None: not recorded, or no such run), for the ids given."""
        ids = list(run_ids)
        if not self._has_column("owner"):
            return dict.fromkeys(ids)
        conn = self._conn()
        return {
            r: (row[0] if (row := conn.execute("SELECT owner FROM runs WHERE id=?", (r,)).fetchone()) else None)
            for r in ids
        }

    @_translated
    def count(self, status: str, launcher: str | None = None) -> int:
        _check_status(status)
        sql, args = "SELECT COUNT(*) FROM runs WHERE status=?", [status]
        if launcher is not None:
            sql += " AND launcher=?"
            args.append(launcher)
        return self._conn().execute(sql, args).fetchone()[0]

    @_translated
    def metrics(
        self, run_id: str, names: Iterable[str] | None = None, after_step: int | None = None
    ) -> dict[str, tuple[list[int], list[float]]]:
        """name -> (steps, values), steps ascending. ``after_step`` returns only newer points
        (for incremental polling). NaN values come back as ``nan``."""
        sql, args = "SELECT name, step, value FROM metrics WHERE run_id=?", [run_id]
        if names is not None:
            names = list(names)
            sql += f" AND name IN ({','.join('?' * len(names))})"
            args += names
        if after_step is not None:
            sql += " AND step > ?"
            args.append(int(after_step))
        out: dict[str, tuple[list[int], list[float]]] = {}
        for name, step, value in self._conn().execute(sql + " ORDER BY name, step, rowid", args):
            steps, values = out.setdefault(name, ([], []))
            steps.append(step)
            values.append(_number(value))
        return out

    @_translated
    def metrics_since(
        self, run_id: str, cursor: int = 0, names: Iterable[str] | None = None
    ) -> tuple[dict[str, tuple[list[int], list[float]]], int]:
        """Only the metric points logged after ``cursor``: returns (name -> (steps, values), new
        cursor). Start with cursor 0 and pass back the cursor it returns: a live view then reads
        each point once instead of the whole history at every poll. The cursor is the metrics
        table's rowid (points are appended under the write lock, so rowids grow in commit order)."""
        sql = "SELECT rowid, name, step, value FROM metrics WHERE run_id=? AND rowid>?"
        args: list[Any] = [run_id, int(cursor)]
        if names is not None:
            names = list(names)
            sql += f" AND name IN ({','.join('?' * len(names))})"
            args += names
        out: dict[str, tuple[list[int], list[float]]] = {}
        last = int(cursor)
        for rowid, name, step, value in self._conn().execute(sql + " ORDER BY rowid", args):
            steps, values = out.setdefault(name, ([], []))
            steps.append(step)
            values.append(_number(value))
            last = rowid
        return out, last

    @_translated
    def cancel_requested(self, run_id: str) -> bool:
        row = self._conn().execute("SELECT cancel_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        return bool(row and row[0])

    @_translated
    def status(self, run_id: str) -> str:
        row = self._conn().execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run with id {run_id!r}")
        return row[0]

    def wait(
        self,
        run_ids: Sequence[str],
        timeout: float | None = None,
        poll: float = 0.25,
        on_poll: Callable[[], Any] | None = None,
    ) -> dict[str, str]:
        """Block until every run has ended (or ``timeout`` seconds); returns id -> status.
        ``on_poll`` runs before each look (default: :meth:`reap`, unless read-only)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if on_poll is not None:
                on_poll()
            elif not self.read_only:
                try:
                    self.reap()
                except StoreError:
                    pass  # a full or busy disk: keep reading, reap at the next poll
            statuses = {i: self.status(i) for i in run_ids}
            if all(s in TERMINAL for s in statuses.values()):
                return statuses
            if deadline is not None and time.monotonic() > deadline:
                return statuses
            time.sleep(poll)
