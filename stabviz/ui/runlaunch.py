"""The dashboard's side of training runs: one store and one launcher per process, submit, read.

The dashboard never trains: it queues runs through the launcher (worker processes started by a
detached dispatcher) and reads the SQLite store. Every launch goes through :func:`submit`, :func:`submit_seeds`,
:func:`submit_many` or :func:`submit_sweep`, which pass through :mod:`stabviz.ui.guard`: in shared mode
(:mod:`stabviz.ui.sharing`) it checks the visitor's run token, the data files and the visitor's own
queued/running runs before anything is queued.
Both objects are shared by every session of the
process (st.cache_resource), keyed by the store's path so a test's temporary STABVIZ_HOME gets its own.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from stabviz.config import LIFConfig, TrainConfig
from stabviz.runs import ACTIVE, RunStore, StoreError, default_path, ensure_dispatcher, get_launcher
from stabviz.runs.confirm import quick_config  # noqa: F401 - the pages' name for it
from stabviz.runs.host import default_workers
from stabviz.runs.outcomes import measured_outcome, outcome_row
from stabviz.runs.status import status_text, steps_done
from stabviz.ui import guard, sharing

#: Fields of a LIFConfig that do not change a training run (only the theory's view of it).
THEORY_ONLY = ("voltage_model", "formula", "tolerance", "steps")
#: Seconds between redraws of a page that follows queued or running runs.
POLL_S = 1.0
#: Seconds between two checks that queued runs have a live dispatcher (the check is one SELECT).
DISPATCH_CHECK_S = 5.0
_last_dispatch_check = [0.0]
#: The dashboard's Seeds input: a confirmation is this many runs (seeds seed ... seed+K−1) by default.
DEFAULT_SEEDS, MAX_SEEDS = 3, 8
#: Session keys: the first run of this session's last launch; the sidebar's run-token field.
LAST_LAUNCH = "_last_launch"
TOKEN = guard.TOKEN


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
        except StoreError:  # a read-only or full store still lists: the page reports writes failing
            pass
    return s


def launcher(name: str = "local") -> Any:
    return _launcher(str(default_path()), name)


def _remember(run_ids: Sequence[str]) -> None:
    if run_ids:
        st.session_state[LAST_LAUNCH] = run_ids[0]


def submit(train: TrainConfig, launcher_name: str = "local") -> str:
    """Queue a run; ValueError (shared-mode refusal, limits, queue full) with its message for the page."""
    run_id = guard.launch(store(), launcher(launcher_name).submit, train, new_runs=1, data_paths=[train.data_path])
    _remember([run_id])
    return run_id


def submit_seeds(train: TrainConfig, k: int, launcher_name: str = "local") -> list[str]:
    """Queue K runs of ``train`` with seeds seed ... seed+K−1, as one seed group when K ≥ 2 (each counts
    against the shared-mode per-visitor limit); returns the run ids. ValueError like :func:`submit`."""
    if k == 1:
        return [submit(train, launcher_name)]
    _, run_ids = guard.launch(
        store(), launcher(launcher_name).submit_seeds, train, k, new_runs=k, data_paths=[train.data_path]
    )
    _remember(run_ids)
    return run_ids


def submit_many(configs: Sequence[TrainConfig], launcher_name: str = "local") -> list[str]:
    """Queue several runs at once, all or none (each counts against the shared-mode per-visitor limit);
    returns the run ids. ValueError like :func:`submit`."""
    run_ids = guard.launch(
        store(),
        launcher(launcher_name).submit_many,
        configs,
        new_runs=len(configs),
        data_paths=sorted({c.data_path for c in configs}),
    )
    _remember(run_ids)
    return run_ids


def seeds_input(where: Any, key: str) -> int | None:
    """The Seeds input (default DEFAULT_SEEDS, at most MAX_SEEDS; on a shared dashboard the default is no
    more than a visitor's run limit). None while it is empty or out of range: the field then says why
    (under the row it sits in), and the caller's button must stay disabled."""
    from stabviz.ui import fields

    default = min(DEFAULT_SEEDS, sharing.max_runs()) if sharing.shared() else DEFAULT_SEEDS
    value, why = fields.number(
        where,
        "Seeds",
        "seeds",
        key,
        default=max(default, 1),
        step=1,
        format="%d",
        ranges={"seeds": (1, MAX_SEEDS, True, True)},
        integer=True,
        say=st,
        help="Runs with seeds seed ... seed+K−1: the verdict is then the mean with its "
        "95% interval over the seeds (two or more), not one seed's value.",
    )
    return None if why else int(value)


def submit_sweep(
    base: TrainConfig, x: str, xs: Sequence[Any], y: str | None, ys: Sequence[Any] | None, launcher_name: str = "local"
) -> tuple[str, list[str]]:
    """Queue a sweep (one run per grid point); ValueError like :func:`submit`."""
    sweep_id, run_ids = guard.launch(
        store(),
        launcher(launcher_name).submit_sweep,
        base,
        x,
        xs,
        y,
        ys,
        new_runs=len(xs) * (len(ys) if y else 1),
        data_paths=[base.data_path],
    )
    _remember(run_ids)
    return sweep_id, run_ids


def error_text(run: Mapping[str, Any]) -> str | None:
    """A run's stored error for display (the host's data paths shortened to file names in shared mode;
    still to be shown with layout.plain: the error may quote what a user typed)."""
    error = run.get("error")
    return None if not error else sharing.redact(str(error))


def run_parser(known: Sequence[str]):
    """``?run=<id or unique prefix>`` -> the full run id; a whole sweep id (a seed group's, say, pasted
    from the Sweep page) -> that sweep's first run. ValueError when the store has neither."""

    def parse(text: str) -> str:
        try:
            return store().resolve(text)
        except KeyError as err:
            try:
                return store().sweep(text)["runs"][0]["id"]
            except (KeyError, IndexError):
                raise ValueError(f"run = {text!r}: {err.args[0]}") from None

    return parse


def sweep_parser(known: Sequence[str]):
    """``?sweep=<id or unique prefix>`` -> the full sweep id among ``known`` (ValueError otherwise)."""

    def parse(text: str) -> str:
        if text in known:
            return text
        hits = [s for s in known if text and s.startswith(text)]
        if len(hits) != 1:
            raise ValueError(
                f"sweep = {text!r}: " + ("no sweep with this id" if not hits else "this sweep id prefix is ambiguous")
            )
        return hits[0]

    return parse


def active_runs() -> list[dict[str, Any]]:
    return store().list(status=ACTIVE, limit=None)


def _comparable(lif: Mapping[str, Any], skip: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in lif.items() if k not in skip and k not in THEORY_ONLY}


def map_markers(cfg: LIFConfig, x: str, y: str, limit: int = 500) -> list[dict[str, Any]]:
    """Finished runs that differ from ``cfg`` only along the map's two axes, as map markers."""
    at = cfg.replace(shape="qpseudospike") if x == "tail" else cfg
    want = _comparable(at.to_record(), (x, y))  # the stored form: a LIF has no variant fields
    out = []
    try:
        runs = store().list(limit=limit)
    except StoreError:  # the map needs no runs: a broken store only loses the markers
        return []
    for run in runs:
        lif = (run.get("config") or {}).get("lif") or {}
        if run.get("status") in ACTIVE or _comparable(lif, (x, y)) != want:
            continue
        xv, yv = lif.get(x), lif.get(y)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (xv, yv)):
            continue
        out.append(
            {"x": xv, "y": yv, "outcome": measured_outcome(run), "label": f"run {run['id'][:8]} ({run['status']})"}
        )
    return out


# -- the run tracker's small pieces: status colours, times, cost ----------------------------------------

#: status -> (Streamlit's colour name for the key's :colour-background[...], the table cell's background).
STATUS_COLOURS = {
    "queued": ("gray", "#e6e6ea"),
    "running": ("blue", "#d3e5ff"),
    "finished": ("green", "#d2f1db"),
    "stopped": ("yellow", "#fff1bd"),
    "diverged": ("orange", "#ffe0c2"),
    "failed": ("red", "#ffd3d3"),
    "interrupted": ("violet", "#e9dcff"),
    "cancelled": ("yellow", "#fff1bd"),
}


def status_key() -> str:
    """The runs table's colour key as one markdown line."""
    return "Status: " + " ".join(f":{name}-background[{status}]" for status, (name, _) in STATUS_COLOURS.items())


def status_style(status: Any) -> str:
    """The CSS of a status cell, by its first word ("stopped at 77/100 (time limit)" is a stopped run's;
    empty for an unknown status)."""
    colour = STATUS_COLOURS.get(str(status).split(" ", 1)[0])
    return f"background-color: {colour[1]}; color: #1f1f1f" if colour else ""


def span(seconds: float) -> str:
    """A duration for people: "40 s", "3 min", "1.5 h", "2 d"."""
    s = max(float(seconds), 0.0)
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    if s < 36 * 3600:
        return f"{s / 3600:.1f} h".replace(".0 h", " h")
    return f"{s / 86400:.0f} d"


def ago(t: float | None, now: float | None = None) -> str:
    """ "just now", "3 min ago", ... for an epoch time; "—" for none."""
    if t is None:
        return "—"
    elapsed = (time.time() if now is None else now) - float(t)
    return "just now" if elapsed < 5 else f"{span(elapsed)} ago"


def _steps_done(run: Mapping[str, Any], progress: float | None) -> float | None:
    done = steps_done(run)
    if done:
        return float(done)
    total = (run.get("config") or {}).get("train_steps")
    if progress is None and run.get("status") == "finished":
        progress = 1.0  # a summary without steps_done (older runs): it ran them all
    return None if not total or progress is None else float(progress) * float(total)


def seconds_per_step(run: Mapping[str, Any], progress: float | None = None, now: float | None = None) -> float | None:
    """Measured wall seconds per training step: from start to end (or to ``now`` while running, with
    ``progress`` the fraction done). It includes the run's start-up and probes, so it errs long. None
    before a step is done."""
    started = run.get("started")
    if not started:
        return None
    end = run.get("finished") or (time.time() if now is None else now)
    done = _steps_done(run, progress)
    if not done or done <= 0 or end <= started:
        return None
    return (end - started) / done


def member_seconds_per_step(run: Mapping[str, Any]) -> float | None:
    """A finished run's share of the wall time per step: an ensemble's members trained together, so each
    one's wall time is the whole ensemble's (the summary's ``execution.members``; 1 for a lone run)."""
    per = seconds_per_step(run)
    members = ((run.get("summary") or {}).get("execution") or {}).get("members") or 1
    return None if per is None else per / max(int(members), 1)


def eta(run: Mapping[str, Any], progress: float, now: float | None = None) -> float | None:
    """Seconds left for a running run at ``progress`` (0..1), from its measured seconds per step."""
    total = (run.get("config") or {}).get("train_steps")
    per_step = seconds_per_step(run, progress, now)
    if run.get("status") != "running" or per_step is None or not total:
        return None
    return max(1.0 - float(progress), 0.0) * float(total) * per_step


#: What a finished run must share with a planned one for its time per step to predict the plan's.
SAME_SIZE = ("task", "batch", "time_steps", "layers", "device")


def _size(cfg: Mapping[str, Any]) -> tuple:
    """A run config's (a TrainConfig's dict) size: the SAME_SIZE fields and n_rec."""
    return (*(cfg.get(k) for k in SAME_SIZE), (cfg.get("lif") or {}).get("n_rec"))


def cost_estimate(
    base: TrainConfig, n_runs: int, ended: Sequence[Mapping[str, Any]], workers: int | None = None
) -> dict[str, Any] | None:
    """What ``n_runs`` runs of ``base`` will take: runs × steps × measured seconds per run-step, over the
    ``workers`` that run at once. A run-step is one run's share of a step (:func:`member_seconds_per_step`),
    so runs that trained packed into an ensemble count at their packed cost. It is the median over the
    finished runs of the same size (task, batch, T, layers, device and n_rec). None when none has finished
    here: other sizes are not scaled, because a small run's time is mostly start-up and probes, and
    scaling it by the work of a big one was off by orders of magnitude."""
    want = _size(base.to_dict())
    per_steps = [
        per
        for r in ended
        if r.get("status") == "finished" and _size(r.get("config") or {}) == want
        for per in [member_seconds_per_step(r)]
        if per
    ]
    if not per_steps:
        return None
    per_step = statistics.median(per_steps)
    workers = max(int(workers or default_workers()), 1)
    return {
        "seconds": n_runs * base.train_steps * per_step / min(workers, max(n_runs, 1)),
        "per_step": per_step,
        "runs": n_runs,
        "measured_on": len(per_steps),
        "workers": workers,
    }


#: How many of the newest finished runs a cost estimate reads.
COST_BASIS_RUNS = 50


@st.cache_resource(max_entries=8, show_spinner=False)  # shared, never copied: cost_estimate only reads
def _cost_basis(path: str, run_ids: tuple[str, ...]) -> list[dict[str, Any]]:
    """These finished runs, reduced to what :func:`cost_estimate` reads. Keyed by their ids, which is
    exact: an ended run never changes. Explore shows the estimate on every rerun (every slider move), and
    reading and decoding 50 runs' summaries each time cost ~7 ms of a ~50 ms rerun."""
    wanted = set(run_ids)  # a run finished since the key was read belongs to the next key
    runs = [r for r in _store(path).list(status="finished", limit=COST_BASIS_RUNS) if r["id"] in wanted]
    return [
        {
            "status": r["status"],
            "config": r.get("config"),
            "started": r.get("started"),
            "finished": r.get("finished"),
            "summary": {
                "execution": (r.get("summary") or {}).get("execution"),
                "final": {"steps_done": ((r.get("summary") or {}).get("final") or {}).get("steps_done")},
            },
        }
        for r in runs
    ]


def _estimate(base: TrainConfig, n_runs: int) -> dict[str, Any] | None:
    """:func:`cost_estimate` from this machine's newest finished runs (None without any, or no store)."""
    try:
        path = str(default_path())
        ids = tuple(_store(path).list_ids(status="finished", limit=COST_BASIS_RUNS))
        return cost_estimate(base, n_runs, _cost_basis(path, ids))
    except StoreError:
        return None


def run_seconds(base: TrainConfig, n_runs: int, est: Mapping[str, Any]) -> float:
    """One run's estimated wall time, the time its time limit counts: runs trained together as one ensemble
    (a worker's share of the launch, at most STABVIZ_MAX_ENSEMBLE) each take the ensemble's whole time."""
    from stabviz.memory import max_ensemble
    from stabviz.runs.worker import packs_ensembles

    together = min(math.ceil(n_runs / max(int(est["workers"]), 1)), max_ensemble()) if packs_ensembles() else 1
    return base.train_steps * float(est["per_step"]) * max(together, 1)


def limit_warning(base: TrainConfig, n_runs: int) -> str | None:
    """A sentence when the estimate says the runs would outlast their time limit (None otherwise, or
    without an estimate): said before the launch, with the estimate and the limit."""
    est = _estimate(base, n_runs)
    if est is None:
        return None
    seconds = run_seconds(base, n_runs, est)
    if seconds <= base.time_limit:
        return None
    reach = int(base.train_steps * base.time_limit / seconds)
    return (
        f"Estimated {span(seconds)} per run is over the runs' time limit of {span(base.time_limit)}: they would "
        f"stop at about {reach}/{base.train_steps} steps and be marked stopped (time limit), not finished. "
        "Use fewer steps or seeds, or wait for a quieter machine."
    )


def cost_caption(base: TrainConfig, n_runs: int) -> str:
    """One line for a form: the estimate, or why there is none yet."""
    est = _estimate(base, n_runs)
    size = (
        f"n = {base.lif.n_rec}, batch {base.batch}, T = {base.time_steps}, {base.layers} layer(s), "
        f"{base.task} on {base.device}"
    )
    if est is None:
        return (
            f"Cost: {n_runs} runs × {base.train_steps} steps. No estimate yet: no run of this size ({size}) "
            "has finished on this machine, and times of other sizes do not carry over."
        )
    return (
        f"Estimated time: about {span(est['seconds'])} ({n_runs} runs × {base.train_steps} steps × "
        f"{est['per_step']:.2g} s per run-step, the median of the last {est['measured_on']} finished runs of "
        f"this size, where runs packed into an ensemble share its time; {est['workers']} worker(s) at a time)."
    )


def watched_run(runs: Sequence[Mapping[str, Any]]) -> str | None:
    """The run a person opening the Runs page wants to see: the newest queued or running one, else the
    newest (``runs`` newest first)."""
    active = [r["id"] for r in runs if r.get("status") in ACTIVE]
    return active[0] if active else (runs[0]["id"] if runs else None)


def differing_settings(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The configuration fields (``lif.<name>`` or the training field's name) whose values differ between
    ``runs``: the columns a comparison needs."""
    flat = [_flat_config(r.get("config") or {}) for r in runs]
    names = [k for f in flat for k in f]
    return [k for k in dict.fromkeys(names) if len({repr(f.get(k)) for f in flat}) > 1]


def _flat_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    out = {f"lif.{k}": v for k, v in (cfg.get("lif") or {}).items() if k not in THEORY_ONLY}
    out.update({k: v for k, v in cfg.items() if k != "lif"})
    return out


def comparison_table(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per run: its id, the settings that differ between the runs, and its outcome."""
    fields = differing_settings(runs)
    rows = []
    for r in runs:
        flat = _flat_config(r.get("config") or {})
        outcome = outcome_row(r)
        rows.append(
            {
                "run": r["id"][:8],
                **{k: flat.get(k) for k in fields},
                "status": status_text(r),
                **{k: outcome[k] for k in ("predicted", "measured", "accuracy")},
            }
        )
    return rows
