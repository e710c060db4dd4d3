"""The run store: one SQLite database shared by the dashboard, the CLI and every worker.

:class:`RunStore` is assembled from one part per responsibility, each in its own module:

- :mod:`stabviz.runs.database`: the file (schema, migrations, statuses), connections, transactions and
  the one-line :class:`StoreError`;
- :mod:`stabviz.runs.rows`: queueing runs, reading them back, tags, deletion, owners, metrics, waiting;
- :mod:`stabviz.runs.claims`: the worker side (claims, heartbeats, metrics, status transitions, reaping);
- :mod:`stabviz.runs.lease`: the local dispatcher's lease;
- :mod:`stabviz.runs.export`: CSV and JSON exports.

Callers import from here (or from :mod:`stabviz.runs`): the names below are the store's public API.
Reads never write: ``get``/``list``/``metrics`` take no write lock and change nothing, so a full or
read-only disk can still be listed (``RunStore(read_only=True)``, chosen automatically when the file or
its folder is not writable). Finding dead workers is a separate write, :meth:`RunStore.reap`, done by
the dispatcher and by ``stabviz.runs.ensure_dispatcher``.
"""

from __future__ import annotations

from stabviz.runs.claims import Claims
from stabviz.runs.database import (
    ACTIVE,
    ADDED_COLUMNS,
    BUSY_TIMEOUT_S,
    DEFAULT_STALE_AFTER_S,
    HOST,
    LAUNCHERS,
    SCHEMA_VERSION,
    STATUSES,
    TERMINAL,
    TRANSITIONS,
    Database,
    RunEnded,
    StoreError,
    check_file,
    damaged,
    default_path,
    new_id,
    pid_alive,
    store_error,
)
from stabviz.runs.export import Export
from stabviz.runs.lease import (
    DISPATCHER_BEAT_S,
    DISPATCHER_LATE_S,
    DISPATCHER_TIMEOUT_RANGE,
    DISPATCHER_TIMEOUT_S,
    Lease,
    describe_dispatcher,
    dispatcher_timeout,
)
from stabviz.runs.rows import MAX_TAGS, TAG_CHARS, Rows, software_versions


class RunStore(Rows, Claims, Lease, Export, Database):
    """Runs, their metrics and sweeps in one SQLite file. See :mod:`stabviz.runs.database` for
    concurrency and the modules named above for each part."""


__all__ = [
    "RunStore",
    "StoreError",
    "RunEnded",
    "ACTIVE",
    "ADDED_COLUMNS",
    "BUSY_TIMEOUT_S",
    "DEFAULT_STALE_AFTER_S",
    "HOST",
    "LAUNCHERS",
    "SCHEMA_VERSION",
    "STATUSES",
    "TERMINAL",
    "TRANSITIONS",
    "DISPATCHER_BEAT_S",
    "DISPATCHER_LATE_S",
    "DISPATCHER_TIMEOUT_RANGE",
    "DISPATCHER_TIMEOUT_S",
    "MAX_TAGS",
    "TAG_CHARS",
    "check_file",
    "damaged",
    "default_path",
    "describe_dispatcher",
    "dispatcher_timeout",
    "new_id",
    "pid_alive",
    "software_versions",
    "store_error",
]
