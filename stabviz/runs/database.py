"""The run store's file: its schema and migrations, the statuses a run moves through, connections and
transactions, and the one-line errors (:class:`StoreError`) every failure of the database becomes.

Location: ``$STABVIZ_HOME/stabviz.db`` (default ``~/.stabviz/stabviz.db``). WAL journal so readers never
block the writer; every write is one short ``BEGIN IMMEDIATE`` transaction (taking the write lock up front
avoids the deadlock-prone upgrade of a read transaction); a busy timeout absorbs the brief waits. Each
thread of each process gets its own connection, so one store object may be shared by threads and
pickled into other processes (only its path travels).

A new store is made only where no file is (built under a temporary name, then linked into place): an
empty, cut or foreign file at the path is reported as damaged, with the ``mv`` that moves it aside, and
never rebuilt in place. Reads never write, so a full or read-only disk can still be listed (read-only
mode, chosen automatically when the file or its folder is not writable).

Times are Unix epoch seconds (float). Multi-host Ray clusters need the database on a filesystem shared by
every node *with working POSIX locks*; WAL needs shared memory between processes, which network
filesystems do not give across hosts, so there set ``STABVIZ_SQLITE_JOURNAL=delete`` before the database
is first created.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import shlex
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from stabviz.runs.envvars import env_seconds

STATUSES = ("queued", "running", "finished", "stopped", "failed", "diverged", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
TERMINAL = tuple(s for s in STATUSES if s not in ACTIVE)
#: status -> the statuses it may be reached from (checked inside the UPDATE). queued -> failed is
#: a run that could not be started; a terminal status is never left.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "queued": (),
    "running": ("queued",),
    "finished": ("running",),
    "stopped": ("running",),  # its time limit ended it early (status.STOPPED)
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
SCHEMA_VERSION = 6
#: Columns added after version 1, with their SQL type: an older store gets them by ALTER TABLE on opening
#: (version 3: tags, deleted; version 4: owner; version 6 adds the dispatcher table). A store that cannot be
#: upgraded (read-only, full disk) still lists its runs.
ADDED_COLUMNS = {"tags": "TEXT", "deleted": "REAL", "owner": "TEXT"}
#: Version 5: runs their time limit stopped were recorded "finished" before; they become "stopped" (once,
#: when a store older than STOPPED_SINCE is opened).
STOPPED_SINCE = 5
_STOPPED_ROWS = (
    "UPDATE runs SET status='stopped' WHERE status='finished' "
    "AND CASE WHEN json_valid(summary) THEN json_extract(summary, '$.stopped_early') END = 'time limit'"
)

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
    if (
        "readonly" in text
        or "read-only" in text
        or code in (errno.EROFS, errno.EACCES, errno.EPERM)
        or isinstance(exc, PermissionError)
    ):
        return StoreError(
            f"the run store {path} is read-only here (no permission to write); it can still be read", "read-only"
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return damaged(path, "not a readable SQLite database")
    if "locked" in text or "busy" in text:
        return StoreError(
            f"the run store {path} is busy: another process held its lock for more than {BUSY_TIMEOUT_S:g} s", "busy"
        )
    if "unable to open" in text:
        return StoreError(f"the run store {path} cannot be opened (missing folder or no permission)", "read-only")
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
    return StoreError(
        f"the run store {path} is damaged ({why}); move it aside to start a new one: " + " && ".join(moves), "corrupt"
    )


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
            return  # unreadable: opening it reports that
    if size == 0:
        raise damaged(path, "it is empty, 0 bytes")
    if len(head) < 100 or not head.startswith(b"SQLite format 3\0"):
        raise damaged(path, f"not a SQLite database: {size} bytes without its header")
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(head[28:32], "big")
    counted_valid = head[92:96] == head[24:28]  # the header's page count is up to date
    if counted_valid and pages * page > size and before and quiet():
        raise damaged(path, f"truncated: {size} bytes, its header counts {pages} pages of {page} bytes")


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


class Database:
    """One store file: opening (creating or upgrading it), one connection per thread and process, and
    the write transaction. :class:`stabviz.runs.store.RunStore` adds the runs, the queue and the exports."""

    def __init__(
        self, path: str | os.PathLike | None = None, stale_after: float | None = None, read_only: bool | None = None
    ):
        """``read_only``: open for reading only (nothing is ever written, not even the journal
        mode); None (default) chooses it when the database file or its folder cannot be written."""
        self.path = Path(path).expanduser() if path else default_path()
        self.stale_after = float(
            stale_after if stale_after is not None else env_seconds("STABVIZ_STALE_AFTER_S", DEFAULT_STALE_AFTER_S)
        )
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
                    raise StoreError(
                        f"no run store at {self.path} (and it cannot be created here: read-only)", "missing"
                    )
                check_file(self.path)
                self._conn().execute("SELECT 1 FROM runs LIMIT 1").fetchall()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if not self.path.exists():
                    self._create()
                check_file(self.path)  # an empty or cut file is reported, never rebuilt in place
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
        if conn is None or self._local.pid != os.getpid():  # a forked child must not reuse it
            # isolation_level=None: we issue BEGIN ourselves, so reads outside a transaction
            # see the latest commit and hold no lock.
            _opening(self.path)
            if self.read_only:
                conn = self._connect_read_only()
            else:
                # mode=rw: never create the file here (a store moved aside while open must not come
                # back empty); only _create makes a new store.
                conn = sqlite3.connect(
                    "file:" + quote(os.path.abspath(self.path)) + "?mode=rw",
                    uri=True,
                    timeout=BUSY_TIMEOUT_S,
                    isolation_level=None,
                )
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
            conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
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
            raise StoreError(f"the run store {self.path} was opened read-only: cannot write", "read-only")
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
                    pass  # SQLite already rolled back (e.g. after SQLITE_FULL)
            raise

    def _create(self) -> None:
        """Make a new store where no file is: built whole under a temporary name, then linked into
        place (fails if another process got there first: its store is used), so no process ever sees a
        half-made store and an empty file at the path always means damage."""
        for side in ("-wal", "-journal"):
            orphan = Path(str(self.path) + side)
            if orphan.exists() and orphan.stat().st_size > 0:  # SQLite would replay it into the new store
                raise StoreError(
                    f"the run store {self.path} is missing but its journal {orphan} is left; move "
                    f"it aside to start a new one: mv {shlex.quote(str(orphan))} "
                    f"{shlex.quote(str(orphan) + '.orphan')}",
                    "corrupt",
                )
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
            except OSError as exc:  # no hard links on this filesystem: a rename, checked first
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
            return  # already set up: no write lock taken by readers' stores
        if version == 0 and conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != journal:
            _retry_locked(lambda: conn.execute(f"PRAGMA journal_mode = {journal}"))
        # executescript() would COMMIT our transaction first: run the statements one by one.
        statements = [s for s in _SCHEMA.split(";") if s.strip()]
        try:
            with self._write() as c:
                for statement in statements:
                    c.execute(statement)
                have = {row[1] for row in c.execute("PRAGMA table_info(runs)")}
                for name, kind in ADDED_COLUMNS.items():  # an older store: CREATE IF NOT EXISTS kept its table
                    if name not in have:
                        c.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
                if 0 < version < STOPPED_SINCE:
                    c.execute(_STOPPED_ROWS)
                c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except (sqlite3.Error, OSError):
            if version == 0:
                raise
            # An older store on a full disk: it works without the new index; upgrade later.

    def _has_column(self, name: str) -> bool:
        """Whether the runs table has this column (an old store opened read-only may lack the new ones)."""
        cols = getattr(self, "_columns", None)
        if cols is None:
            cols = self._columns = {row[1] for row in self._conn().execute("PRAGMA table_info(runs)")}
        return name in cols

    def _require_columns(self, *names: str) -> None:
        missing = [n for n in names if not self._has_column(n)]
        if missing:
            raise StoreError(
                f"the run store {self.path} is from an older stabviz and could not be upgraded "
                f"here (no {', '.join(missing)} column): open it once where it can be written",
                "read-only",
            )
