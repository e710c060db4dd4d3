"""Run commands of `python -m stabviz`: submit, runs (list/show/export/cancel), sweep.

`submit` and `sweep` return as soon as the runs are queued (the run ids are printed); workers carry on
after the command exits. `sweep --wait` blocks until every run has ended, drawing the sweep's progress
on stderr, and ends with an outcome table (setting, predicted and measured regime, accuracy). None of these commands
imports torch: training happens in the worker processes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

# The train options (--task, --steps/--train-steps, --batch, --lr, ...) are defined once, in options;
# the main CLI hands training commands the LIF options without their --steps (T = --time-steps).
from stabviz import safeio
from stabviz.cli.options import (
    LIST_LIMIT,
    RUN_ID_CHARS,
    SEEDS,
    Text,
    UsageError,
    ValueList,
    Whole,
    force_option,
    output_errors,
    path,
    run_id,
    train_config_from_args,
    train_options,
)
from stabviz.cli.progress import ProgressBar
from stabviz.config import limits
from stabviz.jsonsafe import dumps

# the run store and launchers import no torch (and no ray until the ray launcher is asked for)
from stabviz.runs import RunStore, StoreError, ensure_dispatcher, get_launcher, parse_values
from stabviz.runs.groups import group_of, interval_text, seed_values, verdict_sentence
from stabviz.runs.outcomes import outcome_row
from stabviz.runs.status import status_text, steps_done
from stabviz.runs.store import STATUSES, TERMINAL, describe_dispatcher

# -- output helpers ---------------------------------------------------------------------------------


def _print_json(obj: Any) -> None:
    print(dumps(obj))


def _when(t: float | None) -> str:
    return "—" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _num(v: Any) -> str:
    return "—" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def _store(warn: bool = True):
    """The store, after making sure queued runs have a live dispatcher (a no-op on a read-only store).
    ``warn``: say on stderr why that failed (a full disk still lists); a command that writes next leaves
    it out, as its own error (the same cause) is then its one line."""
    store = RunStore()
    try:
        ensure_dispatcher(store)
    except StoreError as e:
        if warn:
            print(f"stabviz: warning: {e}", file=sys.stderr)
    return store


def _launcher(args: argparse.Namespace):
    if getattr(args, "launcher", "local") == "ray":
        return get_launcher("ray", ray_address=args.ray_address)
    return get_launcher("local")


def _resolve(store, run_id: str) -> str:
    try:
        return store.resolve(run_id)
    except KeyError as e:
        raise ValueError(e.args[0]) from None


def _brief(run: dict, group: dict | None = None) -> dict:
    """The columns `runs list` shows (``group``: the run's seed group, see stabviz.runs.groups)."""
    final = (run.get("summary") or {}).get("final") or {}
    return {
        "id": run["id"],
        "status": run["status"],
        "status_text": status_text(run),
        "created": run["created"],
        "launcher": run["launcher"],
        "device": run["device"],
        "sweep_id": run["sweep_id"],
        "sweep_label": run["sweep_label"],
        "final": final,
        "error": run["error"],
        "group": group,
    }


def _groups(store, runs: list[dict]) -> dict[str, dict | None]:
    """run id -> its whole seed group (each group read once), None for runs in none."""
    by_id: dict[str, dict | None] = {}
    out = {}
    for r in runs:
        gid = r.get("sweep_id")
        if gid not in by_id:
            by_id[gid] = group_of(store, r)
        out[r["id"]] = by_id[gid]
    return out


# -- handlers ---------------------------------------------------------------------------------------


def cmd_submit(args: argparse.Namespace) -> int:
    cfg = train_config_from_args(args)
    if args.seeds > 1:
        group_id, ids = _launcher(args).submit_seeds(cfg, args.seeds)
        if args.json:
            _print_json(
                {
                    "group_id": group_id,
                    "ids": ids,
                    "seeds": seed_values(cfg, args.seeds),
                    "status": "queued",
                    "launcher": args.launcher,
                }
            )
        else:
            print("\n".join(ids))
        return 0
    run_id = _launcher(args).submit(cfg)
    if args.json:
        _print_json({"id": run_id, "status": "queued", "launcher": args.launcher})
    else:
        print(run_id)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = _store()
    silent = describe_dispatcher(store.dispatcher_status())  # frozen or hung: the queue waits for it
    if silent:
        print(f"stabviz: warning: {silent}", file=sys.stderr)
    runs = store.list(status=args.status, limit=args.limit, sweep_id=args.sweep)
    groups = _groups(store, runs)
    if args.json:
        _print_json([_brief(r, groups[r["id"]]) for r in runs])
        return 0
    if not runs:
        print("no runs")
        return 0
    width = max(11, *(len(status_text(r)) for r in runs))  # "stopped at 77/100 (time limit)" fits
    print(f"{'id':<12}  {'status':<{width}}  {'created':<19}  {'final loss':>10}  sweep point / error / seed group")
    for r in runs:
        b = _brief(r, groups[r["id"]])
        interval = interval_text(b["group"])
        note = b["error"] or " · ".join(p for p in (b["sweep_label"], interval) if p)
        print(
            f"{b['id']:<12}  {b['status_text']:<{width}}  {_when(b['created']):<19}  "
            f"{_num(b['final'].get('loss')):>10}  {note}"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = _store()
    run = store.get(_resolve(store, args.id))
    run.pop("traceback", None)
    latest = {name: values[-1] for name, (_, values) in store.metrics(run["id"]).items()}
    group = group_of(store, run)
    if args.json:
        _print_json(
            {
                **run,
                "status_text": status_text(run),
                "steps_done": steps_done(run),
                "latest_metrics": latest,
                "group": group,
            }
        )
        return 0
    cfg = run["config"]
    lif = cfg["lif"]
    rows = [
        ("id", run["id"]),
        ("status", status_text(run)),
        ("launcher", run["launcher"]),
        ("created", _when(run["created"])),
        ("started", _when(run["started"])),
        ("finished", _when(run["finished"])),
        ("device", run["device"]),
        (
            "network",
            f"{cfg['layers']} × {lif['n_rec']} LIF, leak {lif['leak']:.4g}, "
            f"{lif['shape']} γ={lif['dampening']:g} β={lif['sharpness']:g} q={lif['tail']:g}",
        ),
        (
            "training",
            f"{cfg['task']}, {cfg['train_steps']} steps, batch {cfg['batch']}, lr {cfg['lr']:g}, T {cfg['time_steps']}",
        ),
        ("sweep", run["sweep_label"]),
        ("error", run["error"]),
    ]
    for key, value in rows:
        if value is not None:
            print(f"{key:<10} {value}")
    for name in sorted(latest):
        print(f"  {name:<20} {_num(latest[name])}")
    if group is not None:
        print(
            f"{'group':<10} {group['id']}: {group['size']} seeds {group['seeds'][0]}-{group['seeds'][-1]}, "
            f"{group['measured']} measured" + ("" if group["verdict"] else " (an interval needs 2)")
        )
        for line in (interval_text(group), verdict_sentence(group), group["error"]):
            if line:
                print(f"{'':<10} {line}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json and --format {args.format} disagree; give one of them")
    store = _store()
    run_id = _resolve(store, args.id)
    if args.output is not None:  # refused before the export is made (safeio: no links, FIFOs, overwrites)
        with output_errors("--output", args.output):
            safeio.check_target(args.output, args.force)
    text = store.export(run_id, "json" if args.json else args.format or "csv")
    if args.output is not None:
        with output_errors("--output", args.output):
            safeio.write_text(args.output, text, force=args.force)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    store = _store(warn=False)
    run_id = _resolve(store, args.id)
    status = store.request_cancel(run_id)
    message = {"cancelled": "cancelled", "running": "cancel requested; the worker stops at its next step"}
    if args.json:
        _print_json({"id": run_id, "status": status, "cancel_requested": status in ("running", "cancelled")})
    else:
        print(f"{run_id}: {message.get(status, f'already {status}')}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    if (args.y is None) != (args.y_values is None):
        raise ValueError("--y and --y-values go together")
    _check_sweep_size(args)
    base = train_config_from_args(args)
    x_values = parse_values(args.x, args.x_values)
    y_values = parse_values(args.y, args.y_values) if args.y else None
    launcher = _launcher(args)
    sweep_id, ids = launcher.submit_sweep(base, args.x, x_values, args.y, y_values)
    statuses = _wait_with_progress(launcher, ids, ProgressBar(sys.stderr, len(ids))) if args.wait else None
    store = launcher.store
    runs = [store.get(i, reap=False) for i in ids]
    if args.json:
        _print_json(
            {
                "sweep_id": sweep_id,
                "launcher": args.launcher,
                "runs": [{**_brief(r), "outcome": outcome_row(r)} for r in runs],
            }
        )
    elif args.wait:
        print(f"sweep {sweep_id}: {len(ids)} runs via {args.launcher}")
        print(outcome_table(runs))
    else:
        print(f"sweep {sweep_id}: {len(ids)} runs via {args.launcher}")
        for r in runs:
            print(f"{r['id']}  {r['status']:<11}  {r['sweep_label']}")
    failed = statuses and any(s in ("failed", "interrupted") for s in statuses.values())
    return 1 if failed else 0


def sweep_progress(store, ids: Sequence[str], statuses: dict[str, str]) -> tuple[float, str]:
    """(fraction done, "3/16 ended, 2 running"): ended runs count whole, running ones by their progress."""
    running = [i for i, s in statuses.items() if s == "running"]
    ended = sum(s in TERMINAL for s in statuses.values())
    partial = 0.0
    for i in running:
        values = store.metrics(i, names=["progress"]).get("progress", ([], []))[1]
        partial += min(max(values[-1], 0.0), 1.0) if values and values[-1] == values[-1] else 0.0
    text = f"{ended}/{len(ids)} runs ended" + (f", {len(running)} running" if running else "")
    return (ended + partial) / max(len(ids), 1), text


def _wait_with_progress(launcher, ids: Sequence[str], bar: ProgressBar, poll: float = 1.0) -> dict[str, str]:
    """launcher.wait, a poll at a time, drawing the sweep's progress on ``bar`` (on a terminal in place;
    otherwise one line each time the runs ended or the percentage changes)."""
    last = None
    try:
        while True:
            statuses = launcher.wait(ids, timeout=poll)
            frac, text = sweep_progress(launcher.store, ids, statuses)
            if bar.tty or (round(frac * 100), text) != last:
                bar.draw(frac, text)
                last = (round(frac * 100), text)
            if all(s in TERMINAL for s in statuses.values()):
                return statuses
    finally:
        bar.close()


def outcome_table(runs: Sequence[dict]) -> str:
    """One line per run: setting, status, predicted regime, measured regime, the calibrated verdict, final
    accuracy; then how many runs confirmed the prediction."""
    rows = [outcome_row(r) for r in runs]
    width = max([len("setting"), *(len(str(r["setting"])) for r in rows)])
    lines = [f"{'setting':<{width}}  {'status':<11}  {'predicted':<10}  {'measured':<10}  {'verdict':<9}  accuracy"]
    for run, row in zip(runs, rows):
        verdict = {True: "confirmed", False: "refuted"}.get(row["agrees"], "—")
        lines.append(
            f"{row['setting']:<{width}}  {status_text(run):<11}  {row['predicted'] or '—':<10}  "
            f"{row['measured'] or '—':<10}  {verdict:<9}  {_num(row['accuracy'])}"
        )
    judged = [r["agrees"] for r in rows if r["agrees"] is not None]
    if judged:
        lines.append(
            f"prediction confirmed for {sum(judged)} of {len(judged)} runs (measured inside the calibrated "
            "band; the verdict of one run: `runs show ID`)"
        )
    return "\n".join(lines)


def _check_sweep_size(args: argparse.Namespace) -> None:
    """At most the machine's queue limit of grid points, counted before any value is parsed."""

    def count(text: str | None) -> int:
        return 1 if text is None else sum(1 for t in text.split(",") if t.strip())

    points, most = count(args.x_values) * count(args.y_values), limits()["queued"]
    if points > most:
        raise UsageError(
            f"--x-values/--y-values: {points} grid points, above this machine's limit of {most} "
            f"queued runs (raise it with STABVIZ_MAX_QUEUED)"
        )


# -- registration -----------------------------------------------------------------------------------


def _json_parents(parents: Sequence[argparse.ArgumentParser]) -> list[argparse.ArgumentParser]:
    """The parents that define --json (the shared one), or our own."""
    found = [p for p in parents if "--json" in p._option_string_actions]
    if found:
        return found
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--json", action="store_true", help="print JSON")
    return [own]


def _launcher_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--launcher",
        choices=("local", "ray"),
        default="local",
        help="local worker processes (default) or Ray tasks (on a cluster, the run store "
        "$STABVIZ_HOME must be on a filesystem every node mounts)",
    )
    p.add_argument("--ray-address", type=Text(1000, "address"), help="Ray cluster address (default: $RAY_ADDRESS)")


def register(subparsers, parents: Sequence[argparse.ArgumentParser]) -> None:
    """Add `submit`, `runs` and `sweep` to the main CLI. ``parents`` carry the shared LIF options
    and --json."""
    parents = list(parents)
    json_only = _json_parents(parents)
    training = train_options()

    p = subparsers.add_parser(
        "submit", parents=[*parents, training], help="queue one training run (or a seed group); prints the ids at once"
    )
    p.add_argument(
        "--seeds",
        type=Whole(*SEEDS),
        default=1,
        metavar="K",
        help=f"queue K runs with seeds seed ... seed+K−1 as one seed group ({SEEDS[0]}-{SEEDS[1]}, "
        "default 1): `runs show`/`runs list` give the group's 95%% interval verdict once two "
        "have finished. Prints one id per line; --json: group_id, ids, seeds, status, launcher",
    )
    _launcher_options(p)
    p.set_defaults(func=cmd_submit)

    runs = subparsers.add_parser("runs", help="list, show, export or cancel runs")
    sub = runs.add_subparsers(dest="runs_command", metavar="ACTION", parser_class=type(runs))
    sub.required = True
    p = sub.add_parser("list", parents=json_only, help="recent runs, newest first")
    p.add_argument("--status", choices=STATUSES, help="only runs with this status")
    p.add_argument("--sweep", type=Text(RUN_ID_CHARS, "sweep id"), help="only the runs of this sweep id")
    p.add_argument("--limit", type=Whole(*LIST_LIMIT), default=50, help="at most this many runs (default 50)")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show", parents=json_only, help="one run: settings, status, latest metrics")
    p.add_argument("id", type=run_id(), help="run id (or a unique prefix)")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("export", parents=json_only, help="one run's metrics as CSV or JSON")
    p.add_argument("id", type=run_id(), help="run id (or a unique prefix)")
    p.add_argument("--format", choices=("csv", "json"), help="csv (the default) or json; --json = --format json")
    p.add_argument(
        "--output",
        "-o",
        type=path(empty=False),
        help="write to this new file instead of standard output (never through a symbolic link)",
    )
    force_option(p)
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("cancel", parents=json_only, help="cancel a queued or running run")
    p.add_argument("id", type=run_id(), help="run id (or a unique prefix)")
    p.set_defaults(func=cmd_cancel)

    p = subparsers.add_parser(
        "sweep", parents=[*parents, training], help="queue one run per grid point of one or two parameters"
    )
    p.add_argument(
        "--x",
        required=True,
        metavar="NAME",
        type=Text(100, "parameter name"),
        help="LIFConfig or TrainConfig field, or tau",
    )
    p.add_argument("--x-values", required=True, metavar="V1,V2,...", type=ValueList())
    p.add_argument("--y", metavar="NAME", type=Text(100, "parameter name"), help="optional second parameter")
    p.add_argument("--y-values", metavar="V1,V2,...", type=ValueList())
    p.add_argument(
        "--wait",
        action="store_true",
        help="block until every run has ended, with a progress bar on stderr, then print an outcome "
        "table (setting, status, predicted regime, measured regime, calibrated verdict, accuracy). With --json, each "
        'run also carries "outcome": {setting, predicted, measured, accuracy, agrees}',
    )
    _launcher_options(p)
    p.set_defaults(func=cmd_sweep)


__all__ = ["register"]
