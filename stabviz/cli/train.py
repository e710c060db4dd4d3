"""`python -m stabviz train`: one short training run in the foreground.

A progress bar goes to stderr; the summary (predicted vs measured at initialisation, final test
accuracy) to stdout, as JSON with ``--json``. Exit status: 0 finished, 1 diverged, 130 cancelled
(Ctrl-C once cancels cleanly and still prints the summary; twice interrupts at once); bad values
raise ValueError, which the main CLI reports on one line with status 2. torch is imported only
inside the handler, so `python -m stabviz --help` stays fast.
"""

from __future__ import annotations

import argparse
import math
import signal
from typing import Any

from stabviz import memory
from stabviz.cli.options import Whole, train_config_from_args, train_options
from stabviz.cli.progress import Progress
from stabviz.jsonsafe import dumps

#: A run its time limit stopped early exits 3: it is not a finished result (2 is bad input).
EXIT_CODES = {"finished": 0, "diverged": 1, "stopped": 3, "cancelled": 130}


class _CancelOnInterrupt:
    """First Ctrl-C asks the run to stop (status cancelled, summary still printed); the second one
    interrupts at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave Ctrl-C as it is
            self._previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False

    def __call__(self) -> bool:
        return self.requested


def cmd_train(args: argparse.Namespace) -> int:
    cfg = train_config_from_args(args)
    seeds = getattr(args, "seeds", None)
    # the memory estimate (and the member bound) before torch is imported: a refused size costs nothing
    if seeds is None:
        memory.check_train(cfg)
    else:
        memory.check_ensemble(member for member, _ in _members(cfg, seeds))
    from stabviz import train

    if seeds is not None:
        return _train_seeds(train, cfg, seeds, getattr(args, "json", False))

    bar = _progress("train", cfg.train_steps)
    try:
        with _CancelOnInterrupt() as cancel:
            summary = train.run(cfg, callback=bar, should_stop=cancel)
    finally:
        bar.close()
    if getattr(args, "json", False):
        print(dumps(summary))
    else:
        print(readable_summary(summary))
    return EXIT_CODES[summary["status"]]


def _progress(what: str, steps: int):
    """A training callback drawing :class:`~stabviz.cli.progress.Progress` over the optimiser steps (the
    estimate and rate-limited lines on stderr, terminal or not; silent for a run of a few seconds)."""
    progress = Progress(what, steps, "steps")

    def callback(event: dict[str, Any]) -> None:
        m = event.get("metrics", {})
        if "progress" in m and "loss" in m:
            progress.note(f"loss {m['loss']:.4g} acc {m.get('accuracy', math.nan):.3f}")
            progress(int(event["step"]))

    callback.close = progress.close  # type: ignore[attr-defined]
    return callback


def _members(cfg, seeds: int) -> list[tuple[Any, None]]:
    """(config, run id None) of seeds seed … seed+K−1, as train.run_ensemble takes them."""
    return [(cfg.replace(lif=cfg.lif.replace(seed=cfg.lif.seed + k)), None) for k in range(seeds)]


def _train_seeds(train, cfg, seeds: int, as_json: bool) -> int:
    """`train --seeds K`: seeds seed … seed+K−1 as one ensemble; a JSON list of the K summaries (each
    with ``seed``) or a table. Exit status: 130 if any was cancelled, else 1 if any diverged, else 0."""
    members = _members(cfg, seeds)
    bar = _progress(f"train --seeds {seeds}", cfg.train_steps)
    shown_id: list[str] = []

    def first_member_progress(event: dict[str, Any]) -> None:
        shown_id[:] = shown_id or [event["run_id"]]  # the bar follows the first member
        if event["run_id"] == shown_id[0]:
            bar(event)

    try:
        with _CancelOnInterrupt() as cancel:
            summaries = train.run_ensemble(members, callback=first_member_progress, should_stop=lambda _: cancel())
    finally:
        bar.close()
    summaries = [{**s, "seed": member.lif.seed} for s, (member, _) in zip(summaries, members)]
    print(dumps(summaries) if as_json else seeds_table(summaries))
    statuses = {s["status"] for s in summaries}
    return next(EXIT_CODES[k] for k in ("cancelled", "diverged", "stopped", "finished") if k in statuses)


def seeds_table(summaries: list[dict[str, Any]]) -> str:
    """One line per seed: outcome, test accuracy, and the prediction next to the measurement."""
    head = (
        f"{'seed':>6} {'run':<12} {'status':<10}{'steps':>6}{'test acc':>10}{'rate pred':>11}{'rate meas':>11}"
        f"{'ρ':>9}{'ρ̂':>9}  regime agrees"
    )
    lines = [head]
    for s in summaries:
        ver = s["verdict"]
        lines.append(
            f"{s['seed']:>6} {s['run_id']:<12} {s['status']:<10}{_f(s['final'].get('steps_done')):>6}"
            f"{_f(s['final'].get('accuracy')):>10}{_f(ver['firing_rate']['predicted']):>11}"
            f"{_f(ver['firing_rate']['measured']):>11}{_f(ver['rho']['predicted']):>9}"
            f"{_f(ver['rho']['measured']):>9}  {_yes(ver['regime'].get('agrees'))}"
        )
    return "\n".join(lines)


def readable_summary(s: dict[str, Any]) -> str:
    """The summary for people: outcome, then the prediction next to the measurement."""
    fin, ini, pred, ver = s["final"], s["initial"], s["prediction"], s["verdict"]
    task = s["task"]
    lines = [
        f"run {s['run_id']}: {s['status']}"
        + (f" ({s['stopped_early']})" if s.get("stopped_early") else "")
        + f" after {fin.get('steps_done')} steps on {s['device']} in {s['wall_s']:.1f} s",
        f"task {task['name']}: {task['n_classes']} classes, {task['n_in']} channels × {task['time_steps']} "
        f"steps, m_x {_f(task['input_mean'])}, v_x {_f(task['input_var'])}",
        f"test accuracy {_f(fin.get('accuracy'))} (chance {1 / task['n_classes']:.3f}), "
        f"test loss {_f(fin.get('loss'))}",
        "",
        f"{'at initialisation':<26}{'predicted':>12}{'measured':>12}  agrees",
    ]
    rows = [
        ("firing rate (layer 0)", "firing_rate"),
        ("ρ vs ρ̂ (per-step gain)", "rho"),
        ("ρ²", "rho2"),
        ("regime", "regime"),
    ]
    for label, key in rows:
        v = ver[key]
        lines.append(f"{label:<26}{_f(v['predicted']):>12}{_f(v['measured']):>12}  {_yes(v.get('agrees'))}")
    lines += [
        "",
        f"{'':<26}{'initial':>12}{'final':>12}",
        # a space before each column: two or three layers' rates are wider than it
        f"{'firing rate per layer':<26}{_list(ini['firing_rate']):>12} {_list(fin['firing_rate']):>11}",
        f"{'measured ρ²':<26}{_f(ini['rho2']):>12}{_f(fin['rho2']):>12}",
        f"{'gradient gain ρ̂':<26}{_f(ini['grad_gain']):>12}{_f(fin['grad_gain']):>12}",
    ]
    if s.get("rate_adjustment"):
        ra = s["rate_adjustment"]
        lines.append(
            f"initial-rate adjustment to {ra['target']:g}: {ra['steps']} bias steps, rates {_list(ra['firing_rate'])}"
        )
    if s.get("recommended_sg"):
        rec = {k: v for k, v in s["recommended_sg"].items() if k != "notes"}
        lines.append("recommended surrogate used: " + ", ".join(f"{k} {_f(v)}" for k, v in rec.items()))
    lines.append(f"prediction: {pred.get('voltage_model')} voltage model; --json for every number")
    return "\n".join(lines)


def _f(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _list(values: list) -> str:
    return " ".join(_f(v) for v in values)


def _yes(agrees: bool | None) -> str:
    return "—" if agrees is None else ("yes" if agrees else "NO")


def register(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add `train` to the main CLI; ``parents`` carry the LIF options and --json."""
    p = subparsers.add_parser(
        "train",
        parents=[*parents, train_options()],
        help="one short training run in the foreground (progress on stderr)",
        description="Train once and compare the theory's prediction with the measurement. "
        "The task sets n_in, T (--time-steps) and the input statistics m_x, v_x "
        "(measured on its data), overriding --n-in (shd/slmnist), --steps and "
        "--input-mean/--input-var. "
        "Exit status 0 finished, 1 diverged, 130 cancelled.",
    )
    p.add_argument(
        "--seeds",
        type=Whole(1, 1024),
        help="train seeds seed … seed+K−1 as one ensemble (in lockstep); prints K summaries",
    )
    p.set_defaults(func=cmd_train)


__all__ = ["register", "cmd_train", "readable_summary", "seeds_table"]
