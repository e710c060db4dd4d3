"""The dashboard's side of training runs: one store and one launcher per process, submit, read.

The dashboard never trains: it queues runs through the launcher (worker processes started by a
detached dispatcher) and reads the SQLite store. Every launch goes through :func:`submit`, :func:`submit_seeds`,
:func:`submit_many` or :func:`submit_sweep`, which in shared mode (:mod:`stabviz.ui.sharing`) check the
visitor's run token, the data files and the visitor's own queued/running runs before anything is queued.
Both objects are shared by every session of the
process (st.cache_resource), keyed by the store's path so a test's temporary STABVIZ_HOME gets its own.
"""
from __future__ import annotations

import math
import time
from typing import Any, Mapping, Sequence

import streamlit as st

from stabviz.config import LIFConfig, TrainConfig, limits
from stabviz.runs import ACTIVE, RunStore, StoreError, default_path, ensure_dispatcher, get_launcher
from stabviz.ui import sharing

#: Fields of a LIFConfig that do not change a training run (only the theory's view of it).
THEORY_ONLY = ("voltage_model", "formula", "tolerance", "steps")
OUTCOMES = ("vanishing", "stable", "exploding")
#: Seconds between redraws of a page that follows queued or running runs.
POLL_S = 1.0
#: Seconds between two checks that queued runs have a live dispatcher (the check is one SELECT).
DISPATCH_CHECK_S = 5.0
_last_dispatch_check = [0.0]
#: The dashboard's Seeds input: a confirmation is this many runs (seeds seed ... seed+K−1) by default.
DEFAULT_SEEDS, MAX_SEEDS = 3, 8
#: Session keys: the ids of the runs this session launched; the sidebar's run-token field.
MINE = "_my_runs"
TOKEN = "run_token"


@st.cache_resource(show_spinner=False)
def _store(path: str) -> RunStore:
    return RunStore(path)


@st.cache_resource(show_spinner=False)
def _launcher(path: str, name: str) -> Any:
    return get_launcher(name, store=_store(path))


def store() -> RunStore:
    """The process's store; every few seconds, also restart a dead dispatcher when runs wait for one."""
    s = _store(str(default_path()))
    now = time.monotonic()
    if now - _last_dispatch_check[0] > DISPATCH_CHECK_S:
        _last_dispatch_check[0] = now
        try:
            ensure_dispatcher(s)
        except StoreError:          # a read-only or full store still lists: the page reports writes failing
            pass
    return s


def launcher(name: str = "local") -> Any:
    return _launcher(str(default_path()), name)


def quick_config(cfg: LIFConfig, **train: Any) -> TrainConfig:
    """A short confirmation run at ``cfg`` on the generated randman task (no data to download).

    One T everywhere: its samples are ``cfg.steps`` long (the T the page's verdict is for), unless the
    machine's time-step limit is lower; then the run's own setting takes that T, so its stored
    prediction is made at the T it runs."""
    steps = min(cfg.steps, limits()["time_steps"])
    base = dict(task="randman", train_steps=100, batch=32, time_steps=steps, log_every=5, time_limit=300.0)
    merged = {**base, **train}
    return TrainConfig(lif=cfg.replace(steps=int(merged["time_steps"])), **merged)


def my_active_runs() -> int:
    """How many of the runs this session launched are still queued or running."""
    mine = set(st.session_state.get(MINE, ()))
    return sum(r["id"] in mine for r in active_runs()) if mine else 0


def refusal(new_runs: int, data_paths: Sequence[str] = ()) -> str | None:
    """Why this session may not launch ``new_runs`` runs now (None: it may); see sharing.refusal."""
    if not sharing.shared():
        return None
    return sharing.refusal(st.session_state.get(TOKEN), my_active_runs(), new_runs, data_paths)


def _remember(run_ids: Sequence[str]) -> None:
    st.session_state[MINE] = [*st.session_state.get(MINE, ()), *run_ids]


def submit(train: TrainConfig, launcher_name: str = "local") -> str:
    """Queue a run; ValueError (shared-mode refusal, limits, queue full) with its message for the page."""
    why = refusal(1, [train.data_path])
    if why:
        raise ValueError(why)
    run_id = launcher(launcher_name).submit(train)
    _remember([run_id])
    return run_id


def submit_seeds(train: TrainConfig, k: int, launcher_name: str = "local") -> list[str]:
    """Queue K runs of ``train`` with seeds seed ... seed+K−1, as one seed group when K ≥ 2 (each counts
    against the shared-mode per-visitor limit); returns the run ids. ValueError like :func:`submit`."""
    if k == 1:
        return [submit(train, launcher_name)]
    why = refusal(k, [train.data_path])
    if why:
        raise ValueError(why)
    _, run_ids = launcher(launcher_name).submit_seeds(train, k)
    _remember(run_ids)
    return run_ids


def submit_many(configs: Sequence[TrainConfig], launcher_name: str = "local") -> list[str]:
    """Queue several runs at once, all or none (each counts against the shared-mode per-visitor limit);
    returns the run ids. ValueError like :func:`submit`."""
    why = refusal(len(configs), sorted({c.data_path for c in configs}))
    if why:
        raise ValueError(why)
    run_ids = launcher(launcher_name).submit_many(configs)
    _remember(run_ids)
    return run_ids


def seeds_input(where: Any, key: str) -> int:
    """The Seeds input (default DEFAULT_SEEDS, at most MAX_SEEDS; on a shared dashboard the default is no
    more than a visitor's run limit)."""
    default = min(DEFAULT_SEEDS, sharing.max_runs()) if sharing.shared() else DEFAULT_SEEDS
    return int(where.number_input("Seeds", 1, MAX_SEEDS, max(default, 1), key=key,
                                  help="Runs with seeds seed ... seed+K−1: the verdict is then the mean with its "
                                       "95% interval over the seeds (two or more), not one seed's value."))


def submit_sweep(base: TrainConfig, x: str, xs: Sequence[Any], y: str | None, ys: Sequence[Any] | None,
                 launcher_name: str = "local") -> tuple[str, list[str]]:
    """Queue a sweep (one run per grid point); ValueError like :func:`submit`."""
    why = refusal(len(xs) * (len(ys) if y else 1), [base.data_path])
    if why:
        raise ValueError(why)
    sweep_id, run_ids = launcher(launcher_name).submit_sweep(base, x, xs, y, ys)
    _remember(run_ids)
    return sweep_id, run_ids


def may_cancel(run_id: str) -> bool:
    """Anyone may cancel any run on their own machine; on a shared dashboard, only the session that
    launched it."""
    return not sharing.shared() or run_id in st.session_state.get(MINE, ())


def error_text(run: Mapping[str, Any]) -> str | None:
    """A run's stored error for display (the host's data paths shortened to file names in shared mode;
    still to be shown with layout.plain: the error may quote what a user typed)."""
    error = run.get("error")
    return None if not error else sharing.redact(str(error))


def run_parser(known: Sequence[str]):
    """``?run=<id or unique prefix>`` -> the full run id (ValueError when the store has no such run)."""
    def parse(text: str) -> str:
        try:
            return store().resolve(text)
        except KeyError as err:
            raise ValueError(f"run = {text!r}: {err.args[0]}") from None
    return parse


def sweep_parser(known: Sequence[str]):
    """``?sweep=<id or unique prefix>`` -> the full sweep id among ``known`` (ValueError otherwise)."""
    def parse(text: str) -> str:
        if text in known:
            return text
        hits = [s for s in known if text and s.startswith(text)]
        if len(hits) != 1:
            raise ValueError(f"sweep = {text!r}: " + ("no sweep with this id" if not hits
                                                     else "this sweep id prefix is ambiguous"))
        return hits[0]
    return parse


def active_runs() -> list[dict[str, Any]]:
    return store().list(status=ACTIVE, limit=None)


def measured_outcome(run: Mapping[str, Any]) -> str:
    """The regime a run measured at initialisation (vanishing / stable / exploding: the label of
    T·log10 ρ̂ in the run's verdict), "exploding" for a diverged run, else "unknown"."""
    if run.get("status") == "diverged":
        return "exploding"
    verdict = (run.get("summary") or {}).get("verdict") or {}
    measured = (verdict.get("regime") or {}).get("measured")
    return measured if measured in OUTCOMES else "unknown"


def _comparable(lif: Mapping[str, Any], skip: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in lif.items() if k not in skip and k not in THEORY_ONLY}


def map_markers(cfg: LIFConfig, x: str, y: str, limit: int = 500) -> list[dict[str, Any]]:
    """Finished runs that differ from ``cfg`` only along the map's two axes, as map markers."""
    at = cfg.replace(shape="qpseudospike") if x == "tail" else cfg
    want = _comparable(at.to_dict(), (x, y))
    out = []
    try:
        runs = store().list(limit=limit)
    except StoreError:              # the map needs no runs: a broken store only loses the markers
        return []
    for run in runs:
        lif = (run.get("config") or {}).get("lif") or {}
        if run.get("status") in ACTIVE or _comparable(lif, (x, y)) != want:
            continue
        xv, yv = lif.get(x), lif.get(y)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (xv, yv)):
            continue
        out.append({"x": xv, "y": yv, "outcome": measured_outcome(run),
                    "label": f"run {run['id'][:8]} ({run['status']})"})
    return out
