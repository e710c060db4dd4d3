"""The run store: one SQLite database shared by the dashboard, the CLI and every worker.

Location: ``$STABVIZ_HOME/stabviz.db`` (default ``~/.stabviz/stabviz.db``). WAL journal so readers never
block the writer; every write is one short ``BEGIN IMMEDIATE`` transaction (taking the write lock up front
avoids the deadlock-prone upgrade of a read transaction); a busy timeout absorbs the brief waits. Each
thread of each process gets its own connection, so one ``RunStore`` object may be shared by threads and
pickled into other processes (only its path travels).

Reads never write: ``get``/``list``/``metrics`` take no write lock and change nothing, so a full or
read-only disk can still be listed (``RunStore(read_only=True)``, chosen automatically when the file or
its folder is not writable). Finding dead workers is a separate write, :meth:`RunStore.reap`, done by
the dispatcher and by ``stabviz.runs.ensure_dispatcher``. Status changes are transitions checked in
SQL (:data:`TRANSITIONS`): a terminal status never changes, and a worker whose run was declared dead
has its metrics and heartbeats refused (:class:`RunEnded`). Every failure of the database itself (disk
full, read-only, damaged file, locked too long) raises :class:`StoreError` with a one-line message.

A new store is made only where no file is (built under a temporary name, then linked into place): an
empty, cut or foreign file at the path is reported as damaged, with the ``mv`` that moves it aside, and
never rebuilt in place. The ``dispatcher`` table holds the local dispatcher's lease (token, pid,
heartbeat): see :meth:`RunStore.take_dispatch` and :meth:`RunStore.dispatcher_status`.

Times are Unix epoch seconds (float). Multi-host Ray clusters need the database on a filesystem shared by
every node *with working POSIX locks*; WAL needs shared memory between processes, which network
filesystems do not give across hosts, so there set ``STABVIZ_SQLITE_JOURNAL=delete`` before the database
is first created.
"""
from __future__ import annotations

import csv
import errno
import functools
import io
import json
import math
import os
import platform
import shlex
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import quote

from stabviz.runs.envvars import env_seconds
from stabviz.config import TrainConfig
from stabviz.jsonsafe import finite_or_none
from stabviz.runs.status import status_text, steps_done

STATUSES = ("queued", "running", "finished", "stopped", "failed", "diverged", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
TERMINAL = tuple(s for s in STATUSES if s not in ACTIVE)
#: status -> the statuses it may be reached from (checked inside the UPDATE). queued -> failed is
#: a run that could not be started; a terminal status is never left.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "queued": (),
    "running": ("queued",),
    "finished": ("running",),
    "stopped": ("running",),              # its time limit ended it early (status.STOPPED)
    "diverged": ("running",),
    "interrupted": ("running",),
    "failed": ("queued", "running"),
    "cancelled": ("queued", "running"),
}
LAUNCHERS = ("local", "ray")

#: A running run whose heartbeat is older than this (seconds) is reported interrupted.
DEFAULT_STALE_AFTER_S = 30.0
#: Seconds a write waits for another process's lock before giving up (StoreError "busy").
BUSY_TIMEOUT_S = 30.0
#: The dispatcher renews its lease (a heartbeat in the ``dispatcher`` table) this often (seconds)...
DISPATCHER_BEAT_S = 1.0
#: ...and a live holder whose heartbeat is older than this (seconds; STABVIZ_DISPATCHER_TIMEOUT_S) is
#: replaced: a frozen (SIGSTOPped, hung) dispatcher strands the queue at most this long.
DISPATCHER_TIMEOUT_S = 30.0
DISPATCHER_TIMEOUT_RANGE = (2.0, 86400.0)
#: A heartbeat older than this (seconds, or half the timeout if less) is reported as late.
DISPATCHER_LATE_S = 5.0
SCHEMA_VERSION = 6
#: Columns added after version 1, with their SQL type: an older store gets them by ALTER TABLE on opening
#: (version 3: tags, deleted; version 4: owner; version 6 adds the dispatcher table). A store that cannot be
#: upgraded (read-only, full disk) still lists its runs.
ADDED_COLUMNS = {"tags": "TEXT", "deleted": "REAL", "owner": "TEXT"}
#: Version 5: runs their time limit stopped were recorded "finished" before; they become "stopped" (once,
#: when a store older than STOPPED_SINCE is opened).
STOPPED_SINCE = 5
_STOPPED_ROWS = ("UPDATE runs SET status='stopped' WHERE status='finished' "
                 "AND CASE WHEN json_valid(summary) THEN json_extract(summary, '$.stopped_early') END = 'time limit'")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    config TEXT NOT NULL,              -- JSON: TrainConfig.to_dict()
    status TEXT NOT NULL,
    launcher TEXT NOT NULL DEFAULT 'local',
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    heartbeat REAL,
    device TEXT,
    host TEXT,
    pid INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error TEXT,                        -- one line for users
    traceback TEXT,                    -- for debugging only
    versions TEXT,                     -- JSON: python / torch / stabviz
    prediction TEXT,                   -- JSON
    summary TEXT,                      -- JSON: what train.run returned
    sweep_id TEXT,
    sweep_label TEXT,
    sweep_point TEXT,                  -- JSON: {parameter: value}
    tags TEXT,                         -- JSON: [tag, ...] (version 3)
    deleted REAL,                      -- when it was soft-deleted (hidden from lists, undoable), version 3
    owner TEXT                         -- who launched it: a shared dashboard's visitor key, else NULL (version 4)
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs(status, launcher, created);
CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs(sweep_id);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL                         -- NULL stands for NaN (SQLite has no NaN)
);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics(run_id, name, step);
CREATE INDEX IF NOT EXISTS metrics_by_run_rowid ON metrics(run_id);   -- (run_id, rowid): metrics_since
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    spec TEXT NOT NULL                 -- JSON: axes and values
);
CREATE TABLE IF NOT EXISTS dispatcher (  -- the local dispatcher's lease: at most one row (version 6)
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token TEXT NOT NULL,               -- the holder's id: every renewal and worker claim names it
    pid INTEGER,
    host TEXT,
    heartbeat REAL NOT NULL
);
"""
_JSON_COLUMNS = ("config", "versions", "prediction", "summary", "sweep_point", "tags")
#: Longest tag, and most tags on one run: tags are short labels typed by hand.
TAG_CHARS, MAX_TAGS = 40, 20
HOST = socket.gethostname()


class StoreError(RuntimeError):
    """The run store's database failed: ``kind`` is one of full, read-only, corrupt, busy, missing,
    other; ``str()`` is one line for users."""

    def __init__(self, message: str, kind: str = "other"):
        super().__init__(message)
        self.kind = kind


class RunEnded(RuntimeError):
    """A worker wrote to a run that is no longer running (declared dead, cancelled...): it must stop."""

    def __init__(self, run_id: str, status: str | None):
        super().__init__(f"run {run_id} is {status or 'gone'}, not running: its worker must stop")
        self.run_id, self.status = run_id, status


def store_error(exc: BaseException, path: Path | str) -> StoreError:
    """The StoreError (one line) for a sqlite3 or OS error met on the store at ``path``."""
    if isinstance(exc, StoreError):
        return exc
    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if "full" in text or code == errno.ENOSPC or code == errno.EDQUOT:
        return StoreError(f"the run store {path} cannot be written: its disk is full", "full")
    if ("readonly" in text or "read-only" in text or code in (errno.EROFS, errno.EACCES, errno.EPERM)
            or isinstance(exc, PermissionError)):
        return StoreError(f"the run store {path} is read-only here (no permission to write); "
                          "it can still be read", "read-only")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return damaged(path, "not a readable SQLite database")
    if "locked" in text or "busy" in text:
        return StoreError(f"the run store {path} is busy: another process held its lock for more "
                          f"than {BUSY_TIMEOUT_S:g} s", "busy")
    if "unable to open" in text:
        return StoreError(f"the run store {path} cannot be opened (missing folder or no "
                          "permission)", "read-only")
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return StoreError(f"the run store {path} failed: {type(exc).__name__}: {line}")


def damaged(path: Path | str, why: str) -> StoreError:
    """The one-line StoreError for a damaged store file: what is wrong and the command that moves it (and
    its journal, which belongs to it) aside, so that the next use starts a new, empty store."""
    path = Path(path)
    moves = [f"mv {shlex.quote(str(path))} {shlex.quote(str(path) + '.damaged')}"]
    for side in ("-wal", "-journal"):
        if Path(str(path) + side).exists():
            moves.append(f"mv {shlex.quote(str(path) + side)} {shlex.quote(str(path) + '.damaged' + side)}")
    return StoreError(f"the run store {path} is damaged ({why}); move it aside to start a new one: "
                      + " && ".join(moves), "corrupt")


#: Database files this process has opened SQLite connections to. Closing any descriptor of a file drops
#: every POSIX lock the process holds on it, SQLite's included, so check_file never reads those.
_OPENED: set[str] = set()
_OPENED_LOCK = threading.Lock()


def _opening(path: Path) -> None:
    with _OPENED_LOCK:
        _OPENED.add(str(path.resolve()))


def check_file(path: Path) -> None:
    """Raise the ``damaged`` StoreError when the file at ``path`` cannot be a whole SQLite store: empty,
    shorter than its header, a foreign header, or fewer bytes than the pages its header counts (checked
    only while no journal is beside it: a writer may be extending it). Reads 100 bytes, once per
    process (see _OPENED)."""
    def quiet() -> bool:
        return not any(Path(str(path) + side).exists() for side in ("-wal", "-journal"))
    with _OPENED_LOCK:
        if str(path.resolve()) in _OPENED:
            return
        before = quiet()
        try:
            size = path.stat().st_size
            with open(path, "rb") as f:
                head = f.read(100)
        except OSError:
            return                  # unreadable: opening it reports that
    if size == 0:
        raise damaged(path, "it is empty, 0 bytes")
    if len(head) < 100 or not head.startswith(b"SQLite format 3\0"):
        raise damaged(path, f"not a SQLite database: {size} bytes without its header")
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(head[28:32], "big")
    counted_valid = head[92:96] == head[24:28]          # the header's page count is up to date
    if counted_valid and pages * page > size and before and quiet():
        raise damaged(path, f"truncated: {size} bytes, its header counts {pages} pages of {page} bytes")


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
    return (f"{head}; it will be replaced after {status['timeout_s']:g} s "
            "(STABVIZ_DISPATCHER_TIMEOUT_S) if it stays silent")


def _translated(method: Callable) -> Callable:
    """Turn sqlite3 and OS errors raised by a store method into a StoreError."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, OSError) as exc:
            raise store_error(exc, self.path) from exc
    return wrapper


def default_path() -> Path:
    """``$STABVIZ_HOME/stabviz.db``, default ``~/.stabviz/stabviz.db``."""
    return Path(os.environ.get("STABVIZ_HOME") or "~/.stabviz").expanduser() / "stabviz.db"


def new_id() -> str:
    """A short random id (12 hex digits of a uuid4: collisions are negligible for a personal store)."""
    return uuid.uuid4().hex[:12]


def software_versions() -> dict[str, str | None]:
    """python / torch / stabviz versions, read without importing torch."""
    import stabviz
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = None
    return {"python": platform.python_version(), "torch": torch_version,
            "stabviz": getattr(stabviz, "__version__", None)}


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A killed child stays a zombie until its parent waits for it: it is gone all the same.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


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


def _retry_locked(action, budget_s: float | None = None):
    """Run ``action``, retrying while SQLite says the database is locked.

    Switching the journal mode needs an exclusive lock and SQLite may answer SQLITE_BUSY at once, without
    its busy handler, while another process creates the schema: many stores opening together hit this.
    """
    deadline = time.monotonic() + (BUSY_TIMEOUT_S if budget_s is None else budget_s)
    while True:
        try:
            return action()
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class RunStore:
    """Runs, their metrics and sweeps in one SQLite file. See the module docstring for concurrency."""

    def __init__(self, path: str | os.PathLike | None = None, stale_after: float | None = None,
                 read_only: bool | None = None):
        """``read_only``: open for reading only (nothing is ever written, not even the journal
        mode); None (default) chooses it when the database file or its folder cannot be written."""
        self.path = Path(path).expanduser() if path else default_path()
        self.stale_after = float(stale_after if stale_after is not None
                                  else env_seconds("STABVIZ_STALE_AFTER_S", DEFAULT_STALE_AFTER_S))
        if not self.stale_after > 0:
            raise ValueError(f"stale_after = {self.stale_after!r} is outside the allowed range (0, inf)")
        self._local = threading.local()
        self._immutable = False
        if read_only is None:
            read_only = not _writable(self.path)
        self.read_only = bool(read_only)
        try:
            if self.read_only:
                if not self.path.exists():
                    raise StoreError(f"no run store at {self.path} (and it cannot be created "
                                     "here: read-only)", "missing")
                check_file(self.path)
                self._conn().execute("SELECT 1 FROM runs LIMIT 1").fetchall()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if not self.path.exists():
                    self._create()
                check_file(self.path)        # an empty or cut file is reported, never rebuilt in place
                self._init_schema()
        except (sqlite3.Error, OSError) as exc:
            raise store_error(exc, self.path) from exc

    # -- connections and transactions ------------------------------------------------------------

    def __getstate__(self) -> dict:
        return {"path": self.path, "stale_after": self.stale_after, "read_only": self.read_only}

    def __setstate__(self, state: dict) -> None:
        self.path, self.stale_after = state["path"], state["stale_after"]
        self.read_only = state.get("read_only", False)
        self._immutable = False
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():   # a forked child must not reuse it
            # isolation_level=None: we issue BEGIN ourselves, so reads outside a transaction
            # see the latest commit and hold no lock.
            _opening(self.path)
            if self.read_only:
                conn = self._connect_read_only()
            else:
                # mode=rw: never create the file here (a store moved aside while open must not come
                # back empty); only _create makes a new store.
                conn = sqlite3.connect("file:" + quote(os.path.abspath(self.path)) + "?mode=rw", uri=True,
                                       timeout=BUSY_TIMEOUT_S, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if not self.read_only:
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """mode=ro; a WAL database in a folder we cannot write (no -shm to create) is then opened
        ``immutable`` (no locks: fine, as nobody can write there through this path either)."""
        uri = "file:" + quote(str(self.path.resolve()))
        if not self._immutable:
            conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                                   isolation_level=None)
            try:
                conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
                return conn
            except sqlite3.OperationalError as exc:
                conn.close()
                if "unable to open" not in str(exc) and "readonly" not in str(exc):
                    raise
                self._immutable = True
        return sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, isolation_level=None)

    def close(self) -> None:
        """Close this thread's connection (others close when their thread's store is collected)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. Any failure, COMMIT's included (a lock held past the busy
        timeout, a full disk), rolls it back, so the connection stays usable for the next write."""
        if self.read_only:
            raise StoreError(f"the run store {self.path} was opened read-only: cannot write",
                             "read-only")
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass                 # SQLite already rolled back (e.g. after SQLITE_FULL)
            raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot across several SELECTs."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _create(self) -> None:
        """Make a new store where no file is: built whole under a temporary name, then linked into
        place (fails if another process got there first: its store is used), so no process ever sees a
        half-made store and an empty file at the path always means damage."""
        for side in ("-wal", "-journal"):
            orphan = Path(str(self.path) + side)
            if orphan.exists() and orphan.stat().st_size > 0:    # SQLite would replay it into the new store
                raise StoreError(f"the run store {self.path} is missing but its journal {orphan} is left; move "
                                 f"it aside to start a new one: mv {shlex.quote(str(orphan))} "
                                 f"{shlex.quote(str(orphan) + '.orphan')}", "corrupt")
        tmp = self.path.with_name(f".{self.path.name}.new-{os.getpid()}-{new_id()}")
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute(f"PRAGMA journal_mode = {_journal_mode()}")
                conn.execute("BEGIN IMMEDIATE")
                for statement in (s for s in _SCHEMA.split(";") if s.strip()):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            finally:
                conn.close()
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass
            except OSError as exc:       # no hard links on this filesystem: a rename, checked first
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP) or self.path.exists():
                    raise
                os.rename(tmp, self.path)
        finally:
            for leftover in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
                leftover.unlink(missing_ok=True)

    def _init_schema(self) -> None:
        """Upgrade the schema of an older store; an up-to-date store is only read (no lock, no journal
        switch), so opening never fails on a full disk. The journal mode is set at creation."""
        conn = self._conn()
        journal = _journal_mode()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return                   # already set up: no write lock taken by readers' stores
        if version == 0 and conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != journal:
            _retry_locked(lambda: conn.execute(f"PRAGMA journal_mode = {journal}"))
        # executescript() would COMMIT our transaction first: run the statements one by one.
        statements = [s for s in _SCHEMA.split(";") if s.strip()]
        try:
            with self._write() as c:
                for statement in statements:
                    c.execute(statement)
                have = {row[1] for row in c.execute("PRAGMA table_info(runs)")}
                for name, kind in ADDED_COLUMNS.items():      # an older store: CREATE IF NOT EXISTS kept its table
                    if name not in have:
                        c.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
                if 0 < version < STOPPED_SINCE:
                    c.execute(_STOPPED_ROWS)
                c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except (sqlite3.Error, OSError):
            if version == 0:
                raise
            # An older store on a full disk: it works without the new index; upgrade later.

    # -- creating runs ---------------------------------------------------------------------------

    def create(self, cfg: TrainConfig, sweep: Mapping[str, Any] | None = None, *,
               launcher: str = "local", max_queued: int | None = None, owner: str | None = None,
               max_owned: int | None = None) -> str:
        """Queue one run; returns its id. ``sweep``: optional {"id", "label", "point"}."""
        return self.create_many([(cfg, sweep)], launcher=launcher, max_queued=max_queued, owner=owner,
                                max_owned=max_owned)[0]

    @_translated
    def create_many(self, items: Sequence[tuple[TrainConfig, Mapping[str, Any] | None]], *,
                    launcher: str = "local", max_queued: int | None = None,
                    sweep_spec: tuple[str, Mapping[str, Any]] | None = None, owner: str | None = None,
                    max_owned: int | None = None) -> list[str]:
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
            rows.append((new_id(), json.dumps(cfg.to_dict()), launcher, time.time(), versions,
                         sweep.get("id"), sweep.get("label"), _dumps(sweep.get("point")), owner))
        if owner is not None:
            self._require_columns("owner")
        with self._write() as c:
            if max_queued is not None:
                queued = c.execute("SELECT COUNT(*) FROM runs WHERE status='queued'").fetchone()[0]
                if queued + len(rows) > max_queued:
                    raise ValueError(
                        f"queued runs = {queued + len(rows)} would be above this machine's limit "
                        f"{max_queued} ({queued} already waiting; raise it with STABVIZ_MAX_QUEUED)")
            if owner is not None and max_owned is not None:
                mine = self._active_owned(c, owner)
                if mine + len(rows) > max_owned:
                    raise ValueError(f"queued or running runs = {mine + len(rows)} would be above the limit of "
                                     f"{max_owned} per visitor ({mine} already queued or running)")
            if sweep_spec is not None:
                c.execute("INSERT INTO sweeps (id, created, spec) VALUES (?, ?, ?)",
                          (sweep_spec[0], time.time(), json.dumps(sweep_spec[1])))
            columns = "id, config, launcher, created, versions, sweep_id, sweep_label, sweep_point, owner"
            if not self._has_column("owner"):         # an older store that could not be upgraded: owner is None
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
        return {"id": row["id"], "created": row["created"], "spec": json.loads(row["spec"]),
                "runs": runs}

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
        hits = [r[0] for r in conn.execute(
            "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
            (id_or_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",))]
        if len(hits) != 1:
            raise KeyError(f"no run with id {id_or_prefix!r}" if not hits
                           else f"run id prefix {id_or_prefix!r} is ambiguous")
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
    def list(self, status: str | Iterable[str] | None = None, limit: int | None = 200, *,
             sweep_id: str | None = None, newest_first: bool = True,
             reap: bool = False, deleted: bool = False) -> list[dict[str, Any]]:
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

    def _select(self, columns: str, status: str | Iterable[str] | None, limit: int | None,
                sweep_id: str | None = None, newest_first: bool = True, deleted: bool = False) -> list:
        where, args = [], []
        if self._has_column("deleted"):          # a store too old to upgrade (read-only) has no deletions
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

    def _has_column(self, name: str) -> bool:
        """Whether the runs table has this column (an old store opened read-only may lack the new ones)."""
        cols = getattr(self, "_columns", None)
        if cols is None:
            cols = self._columns = {row[1] for row in self._conn().execute("PRAGMA table_info(runs)")}
        return name in cols

    def _require_columns(self, *names: str) -> None:
        missing = [n for n in names if not self._has_column(n)]
        if missing:
            raise StoreError(f"the run store {self.path} is from an older stabviz and could not be upgraded "
                             f"here (no {', '.join(missing)} column): open it once where it can be written",
                             "read-only")

    @_translated
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
                cur = c.execute(f"UPDATE runs SET deleted=? WHERE id=? AND deleted IS NULL AND status IN "
                                f"({','.join('?' * len(TERMINAL))})", (time.time(), run_id, *TERMINAL))
                if cur.rowcount:
                    done.append(run_id)
        return done

    @_translated
    def undelete(self, run_ids: Iterable[str]) -> list[str]:
        """Bring soft-deleted runs back; returns the ids restored."""
        self._require_columns("deleted")
        ids = [self.resolve(r) for r in run_ids]
        with self._write() as c:
            return [r for r in ids
                    if c.execute("UPDATE runs SET deleted=NULL WHERE id=? AND deleted IS NOT NULL", (r,)).rowcount]

    @_translated
    def active_owned(self, owner: str) -> int:
        """How many queued or running runs ``owner`` launched (0 on a store too old to record owners)."""
        return self._active_owned(self._conn(), owner) if self._has_column("owner") else 0

    @staticmethod
    def _active_owned(c: sqlite3.Connection, owner: str) -> int:
        return c.execute(f"SELECT COUNT(*) FROM runs WHERE owner=? AND status IN ({','.join('?' * len(ACTIVE))})",
                         (owner, *ACTIVE)).fetchone()[0]

    @_translated
    def owners(self, run_ids: Iterable[str]) -> dict[str, str | None]:
        """run id -> who launched it (None: not recorded, or no such run), for the ids given."""
        ids = list(run_ids)
        if not self._has_column("owner"):
            return dict.fromkeys(ids)
        conn = self._conn()
        return {r: (row[0] if (row := conn.execute("SELECT owner FROM runs WHERE id=?", (r,)).fetchone()) else None)
                for r in ids}

    @_translated
    def count(self, status: str, launcher: str | None = None) -> int:
        _check_status(status)
        sql, args = "SELECT COUNT(*) FROM runs WHERE status=?", [status]
        if launcher is not None:
            sql += " AND launcher=?"
            args.append(launcher)
        return self._conn().execute(sql, args).fetchone()[0]

    @_translated
    def metrics(self, run_id: str, names: Iterable[str] | None = None,
                after_step: int | None = None) -> dict[str, tuple[list[int], list[float]]]:
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
    def metrics_since(self, run_id: str, cursor: int = 0, names: Iterable[str] | None = None
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
        row = self._conn().execute("SELECT cancel_requested FROM runs WHERE id=?",
                                   (run_id,)).fetchone()
        return bool(row and row[0])

    @_translated
    def status(self, run_id: str) -> str:
        row = self._conn().execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run with id {run_id!r}")
        return row[0]

    def wait(self, run_ids: Sequence[str], timeout: float | None = None,
             poll: float = 0.25, on_poll: Callable[[], Any] | None = None) -> dict[str, str]:
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
                    pass             # a full or busy disk: keep reading, reap at the next poll
            statuses = {i: self.status(i) for i in run_ids}
            if all(s in TERMINAL for s in statuses.values()):
                return statuses
            if deadline is not None and time.monotonic() > deadline:
                return statuses
            time.sleep(poll)

    # -- worker side -----------------------------------------------------------------------------

    @_translated
    def claim_next(self, launcher: str, pid: int, host: str = HOST,
                   max_running: int | None = None, lease: str | None = None) -> str | None:
        """Atomically move the oldest queued run of ``launcher`` to running; None if there is none,
        if ``max_running`` workers already hold running runs of that launcher, or if ``lease`` (the
        token of the worker's dispatcher) is no longer the dispatcher lease's."""
        with self._write() as c:
            if lease is not None and not self._holds(c, lease):
                return None
            if max_running is not None and self._busy_workers(c, launcher) >= max_running:
                return None
            row = c.execute("SELECT id FROM runs WHERE status='queued' AND launcher=? "
                            "ORDER BY created, rowid LIMIT 1", (launcher,)).fetchone()
            if row is None:
                return None
            self._mark_running(c, row[0], pid, host)
            return row[0]

    @_translated
    def claim_group(self, launcher: str, pid: int, host: str = HOST, max_running: int | None = None, *,
                    key: Callable[[dict[str, Any]], Hashable], limit: int, lease: str | None = None) -> list[str]:
        """Atomically move the oldest queued run of ``launcher`` to running, with up to ``limit`` − 1 more
        queued runs whose ``key(config)`` equals its own (runs that can train as one ensemble), oldest
        first. ``max_running`` bounds the *workers* holding running runs of that launcher (an ensemble
        is one worker). A key that raises claims its run alone. [] when nothing is claimed. ``lease``: as
        for :meth:`claim_next`."""
        def key_of(text: str) -> Hashable:
            try:
                return key(json.loads(text))
            except Exception:
                return object()              # unique: never grouped with anything
        with self._write() as c:
            if lease is not None and not self._holds(c, lease):
                return []
            if max_running is not None and self._busy_workers(c, launcher) >= max_running:
                return []
            rows = c.execute("SELECT id, config FROM runs WHERE status='queued' AND launcher=? "
                             "ORDER BY created, rowid", (launcher,)).fetchall()
            if not rows:
                return []
            first = key_of(rows[0][1])
            chosen = [rows[0][0]] + [r[0] for r in rows[1:] if key_of(r[1]) == first][:max(0, limit - 1)]
            return [run_id for run_id in chosen if self._mark_running(c, run_id, pid, host)]

    @staticmethod
    def _busy_workers(c: sqlite3.Connection, launcher: str) -> int:
        """Workers holding running runs of ``launcher`` (an ensemble's members share one worker)."""
        return c.execute("SELECT COUNT(DISTINCT host || ':' || pid) FROM runs WHERE status='running' "
                         "AND launcher=?", (launcher,)).fetchone()[0]

    # -- the dispatcher's lease ------------------------------------------------------------------
    # One local dispatcher per store holds the lease: a row naming its token, pid and last heartbeat.
    # Its workers claim runs only while their dispatcher's token is the lease's, checked inside the
    # claim's transaction, so a replaced dispatcher (frozen past the timeout, then resumed) cannot
    # have anything run, and no run is ever claimed twice.

    @staticmethod
    def _holds(c: sqlite3.Connection, token: str) -> bool:
        return c.execute("SELECT 1 FROM dispatcher WHERE id=1 AND token=?", (token,)).fetchone() is not None

    @staticmethod
    def _lease_free(row: sqlite3.Row | None, timeout: float) -> bool:
        """No holder, a holder whose process is gone (same host), or one silent past ``timeout``."""
        return (row is None or (row["host"] == HOST and not pid_alive(row["pid"]))
                or time.time() - row["heartbeat"] > timeout)

    def _lease_row(self) -> sqlite3.Row | None:
        try:
            return self._conn().execute("SELECT * FROM dispatcher WHERE id=1").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None              # a store too old to upgrade here (read-only): no lease kept
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
            c.execute("INSERT OR REPLACE INTO dispatcher (id, token, pid, host, heartbeat) VALUES (1, ?, ?, ?, ?)",
                      (token, pid, host, time.time()))
            return True

    @_translated
    def renew_dispatch(self, token: str, pid: int | None = None) -> bool:
        """The holder's heartbeat (and its pid, when given): False when the lease is no longer
        ``token``'s (it was replaced): that dispatcher must exit without launching anything."""
        with self._write() as c:
            cur = c.execute("UPDATE dispatcher SET heartbeat=?, pid=COALESCE(?, pid) WHERE id=1 AND token=?",
                            (time.time(), pid, token))
            return cur.rowcount == 1

    @_translated
    def release_dispatch(self, token: str, unless_queued: str | None = None) -> bool:
        """Give the lease up. ``unless_queued`` (a launcher): only if none of its runs is queued, in
        the same transaction, so a run queued just before is never left without a dispatcher (its
        submitter saw the lease held and started none). True when released (or not ours)."""
        with self._write() as c:
            if unless_queued is not None and c.execute(
                    "SELECT 1 FROM runs WHERE status='queued' AND launcher=? LIMIT 1", (unless_queued,)).fetchone():
                return False
            c.execute("DELETE FROM dispatcher WHERE id=1 AND token=?", (token,))
            return True

    @_translated
    def dispatcher_status(self) -> dict[str, Any] | None:
        """The lease holder as {pid, host, age_s (since its last heartbeat), timeout_s, alive, late,
        stale}; None when no dispatcher holds it. ``late``: silent for several heartbeats (frozen or
        hung, see :func:`describe_dispatcher`); ``stale``: past the timeout, so the next
        :func:`stabviz.runs.ensure_dispatcher` with runs queued replaces it. Reads only."""
        timeout = dispatcher_timeout()          # checked even with no dispatcher: a bad setting is said at once
        row = self._lease_row()
        if row is None:
            return None
        age = max(0.0, time.time() - row["heartbeat"])
        alive = not (row["host"] == HOST and not pid_alive(row["pid"]))
        return {"pid": row["pid"], "host": row["host"], "age_s": age, "timeout_s": timeout, "alive": alive,
                "late": alive and age > min(DISPATCHER_LATE_S, timeout / 2), "stale": alive and age > timeout}

    @_translated
    def requeue(self, run_ids: Sequence[str], pid: int) -> None:
        """Give claimed runs that this worker will not train after all (they did not fit one ensemble) back
        to the queue, as if never claimed."""
        with self._write() as c:
            for run_id in run_ids:
                c.execute("UPDATE runs SET status='queued', pid=NULL, host=NULL, started=NULL, heartbeat=NULL "
                          "WHERE id=? AND status='running' AND pid=?", (run_id, pid))

    @_translated
    def cancel_requests(self, run_ids: Sequence[str]) -> set[str]:
        """The runs among ``run_ids`` whose cancellation was asked for (one query for a whole ensemble)."""
        if not run_ids:
            return set()
        marks = ",".join("?" * len(run_ids))
        rows = self._conn().execute(f"SELECT id FROM runs WHERE cancel_requested AND id IN ({marks})",
                                    tuple(run_ids)).fetchall()
        return {r[0] for r in rows}

    @_translated
    def claim(self, run_id: str, pid: int, host: str = HOST) -> bool:
        """Move this queued run to running; False if it is no longer queued (e.g. cancelled)."""
        with self._write() as c:
            return self._mark_running(c, run_id, pid, host)

    @staticmethod
    def _mark_running(c: sqlite3.Connection, run_id: str, pid: int, host: str) -> bool:
        now = time.time()
        cur = c.execute("UPDATE runs SET status='running', pid=?, host=?, started=?, heartbeat=? "
                        "WHERE id=? AND status='queued'", (pid, host, now, now, run_id))
        return cur.rowcount == 1

    @_translated
    def heartbeat(self, run_id: str) -> None:
        """Raises RunEnded when the run is no longer running (its worker must stop)."""
        with self._write() as c:
            self._beat(c, run_id)

    @staticmethod
    def _beat(c: sqlite3.Connection, run_id: str) -> None:
        cur = c.execute("UPDATE runs SET heartbeat=? WHERE id=? AND status='running'",
                        (time.time(), run_id))
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
    def set_status(self, run_id: str, status: str, *, error: str | None = None,
                   traceback: str | None = None, **fields: Any) -> bool:
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
        stamp = ("started=COALESCE(started, ?)" if status == "running"
                 else "finished=?" if status in TERMINAL else None)
        args = list(cols.values()) + ([now] if stamp else [])
        with self._write() as c:
            cur = c.execute(f"UPDATE runs SET {sets}{', ' + stamp if stamp else ''} WHERE id=? "
                            f"AND status IN ({','.join('?' * len(before))})",
                            args + [run_id, *before])
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
            cur = c.execute("UPDATE runs SET error=? || '; marked interrupted meanwhile: ' || COALESCE(error, '?') "
                            "WHERE id=? AND status='interrupted' AND pid=? AND host=? "
                            "AND substr(COALESCE(error, ''), 1, length(?)) <> ?", (cause, run_id, pid, host, cause, cause))
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
            c.execute("UPDATE runs SET status='cancelled', finished=? WHERE id=? AND status='queued'",
                      (time.time(), run_id))
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
        for row in self._conn().execute("SELECT id, pid, host, heartbeat FROM runs "
                                        "WHERE status='running'"):
            if row["host"] == HOST and not pid_alive(row["pid"]):
                dead.append((row["id"], f"worker process {row['pid']} ended without reporting"))
            elif row["heartbeat"] is not None and now - row["heartbeat"] > stale_after:
                dead.append((row["id"], f"no heartbeat for {now - row['heartbeat']:.0f} s "
                                        f"(worker {row['pid']} on {row['host']})"))
        if not dead:
            return []
        marked = []
        with self._write() as c:
            for run_id, why in dead:
                # Re-check inside the write lock: the run may have finished meanwhile.
                cur = c.execute("UPDATE runs SET status='interrupted', finished=?, error=? "
                                "WHERE id=? AND status='running'", (now, why, run_id))
                if cur.rowcount:
                    marked.append(run_id)
        return marked

    # -- exports ---------------------------------------------------------------------------------

    @_translated
    def export(self, run_id: str, fmt: str = "csv") -> str:
        """One run's metrics. csv: one row per step, one column per metric (empty = not logged at
        that step). json: {"run": {...}, "metrics": {name: {"steps": [...], "values": [...]}}},
        NaN/Infinity written as null."""
        _check_format(fmt)
        run = self.get(run_id, reap=False)
        series = self.metrics(run["id"])
        if fmt == "json":
            run.pop("traceback", None)
            run.pop("owner", None)                   # a visitor's key: never handed to other visitors
            run.update(status_text=status_text(run), steps_done=steps_done(run))
            doc = {"run": run, "metrics": {k: {"steps": s, "values": v}
                                           for k, (s, v) in series.items()}}
            return json.dumps(finite_or_none(doc), indent=1)
        names = sorted(series)
        table: dict[int, dict[str, float]] = {}
        for name, (steps, values) in series.items():
            for s, v in zip(steps, values):
                table.setdefault(s, {})[name] = v
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["step", *names])
        for step in sorted(table):
            w.writerow([step, *(_csv_number(table[step].get(n)) for n in names)])
        return buf.getvalue()

    @_translated
    def export_table(self, fmt: str = "csv", runs: Sequence[Mapping[str, Any]] | None = None) -> str:
        """All runs (or ``runs``) as a table: identity, status, timing, flattened config
        (``lif.*`` and train fields), and the summary's initial/final metrics."""
        _check_format(fmt)
        runs = self.list(limit=None) if runs is None else runs
        if fmt == "json":
            docs = [{**{k: v for k, v in r.items() if k not in ("traceback", "owner")},
                     "status_text": status_text(r), "steps_done": steps_done(r)} for r in runs]
            return json.dumps(finite_or_none(docs), indent=1)
        flat = [_flat_run(r) for r in runs]
        columns: list[str] = []
        for f in flat:
            columns += [k for k in f if k not in columns]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", restval="")
        w.writeheader()
        for f in flat:
            w.writerow({k: _csv_number(v) if isinstance(v, float) else v for k, v in f.items()})
        return buf.getvalue()


def _number(value: Any) -> float:
    """A stored metric value as a float (NULL = NaN; something unreadable is NaN too)."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _journal_mode() -> str:
    journal = os.environ.get("STABVIZ_SQLITE_JOURNAL", "wal").lower()
    if journal not in ("wal", "delete"):
        raise ValueError(f"STABVIZ_SQLITE_JOURNAL = {journal!r} is not one of: wal, delete")
    return journal


def _writable(path: Path) -> bool:
    """Whether we may write the database at ``path`` (and its journal beside it); a missing file
    needs a folder we can create it in. os.access sees read-only mounts even for root."""
    if path.exists():
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK | os.X_OK)


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"status = {status!r} is not one of: {', '.join(STATUSES)}")


def _check_format(fmt: str) -> None:
    if fmt not in ("csv", "json"):
        raise ValueError(f"format = {fmt!r} is not one of: csv, json")


def _csv_number(v: float | None) -> str:
    if v is None:
        return ""
    return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))


def _flat_run(run: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: run.get(k) for k in ("id", "status", "launcher", "created", "started", "finished",
                                   "device", "host", "error", "sweep_id", "sweep_label")}
    out["status_text"], out["steps_done"] = status_text(run), steps_done(run)
    out["tags"] = ", ".join(run.get("tags") or [])
    config = dict(run.get("config") or {})
    for k, v in (config.pop("lif", None) or {}).items():
        out[f"lif.{k}"] = v
    out.update(config)
    summary = run.get("summary") or {}
    for part, values in (("initial", summary.get("initial")), ("final", summary.get("final")),
                         ("prediction", run.get("prediction"))):
        if not isinstance(values, Mapping):
            continue
        for k, v in values.items():                 # scalars only: nested data stays in JSON
            if isinstance(v, (bool, str)):
                out[f"{part}.{k}"] = v
            elif isinstance(v, (int, float)):
                out[f"{part}.{k}"] = float(v)
    if "wall_s" in summary:
        out["wall_s"] = summary["wall_s"]
    return out
