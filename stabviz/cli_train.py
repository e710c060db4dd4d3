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
import sys
import time
from typing import Any, TextIO

from stabviz.config import DEVICES, LOSSES, TASKS, TrainConfig
from stabviz.jsonsafe import dumps

_DEFAULTS = TrainConfig()
#: option dest -> TrainConfig field
TRAIN_OPTIONS = {"task": "task", "data_path": "data_path", "classes": "classes", "samples": "samples",
                 "manifold_dim": "manifold_dim", "time_steps": "time_steps", "train_steps": "train_steps",
                 "batch": "batch", "lr": "lr", "weight_decay": "weight_decay", "layers": "layers",
                 "loss": "loss", "recommended_sg": "use_recommended_sg", "sparsity_target": "sparsity_target",
                 "sparsity_weight": "sparsity_weight", "initial_rate": "initial_rate", "device": "device",
                 "time_limit": "time_limit", "log_every": "log_every"}
EXIT_CODES = {"finished": 0, "diverged": 1, "cancelled": 130}


def train_options() -> argparse.ArgumentParser:
    """The training options as a parent parser (shared with `submit` and `sweep`). Every default is
    None, meaning TrainConfig's. ``--steps`` (alias ``--train-steps``) counts optimiser steps; the theory's
    T is the task's ``--time-steps`` (the main CLI leaves its LIF ``--steps`` out of training commands)."""
    d = _DEFAULTS
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("training (defaults: TrainConfig's)")
    g.add_argument("--task", choices=TASKS, help=f"data set (default {d.task}; shd/slmnist need --data-path)")
    g.add_argument("--data-path", help="local SHD .h5 or MNIST idx/.npz file (nothing is downloaded)")
    g.add_argument("--classes", type=int, help=f"randman classes (default {d.classes})")
    g.add_argument("--samples", type=int,
                   help=f"randman: samples generated; shd/slmnist: most samples loaded (default {d.samples})")
    g.add_argument("--manifold-dim", type=int, help=f"randman manifold dimension (default {d.manifold_dim})")
    g.add_argument("--time-steps", type=int, help=f"input time bins T of the task (default {d.time_steps})")
    g.add_argument("--steps", "--train-steps", dest="train_steps", type=int,
                   help=f"optimiser steps (default {d.train_steps})")
    g.add_argument("--batch", type=int, help=f"batch size (default {d.batch})")
    g.add_argument("--lr", type=float, help=f"AdamW learning rate (default {d.lr:g})")
    g.add_argument("--weight-decay", type=float, help=f"AdamW weight decay (default {d.weight_decay:g})")
    g.add_argument("--layers", type=int, help=f"LIF layers, 1-3 (default {d.layers})")
    g.add_argument("--loss", choices=LOSSES, help=f"cross-entropy per step or of the time mean (default {d.loss})")
    g.add_argument("--recommended-sg", action=argparse.BooleanOptionalAction, default=None,
                   help="replace (γ, β, q) by conditions III, IV")
    g.add_argument("--sparsity-target", type=float, help="target firing rate f_target of the sparsity loss")
    g.add_argument("--sparsity-weight", type=float, help="weight of the sparsity loss (0 = off)")
    g.add_argument("--initial-rate", type=float, help="first train only the biases toward this rate f0")
    g.add_argument("--device", choices=DEVICES, help=f"auto = CUDA when available (default {d.device})")
    g.add_argument("--time-limit", type=float, help=f"seconds before the run stops itself (default {d.time_limit:g})")
    g.add_argument("--log-every", type=int, help=f"optimiser steps between metric records (default {d.log_every})")
    return p


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The LIF options' config plus every training option the user gave (validated by TrainConfig)."""
    from stabviz.cli import lif_config_from_args
    changes = {field: getattr(args, dest) for dest, field in TRAIN_OPTIONS.items()
               if getattr(args, dest, None) is not None}
    return TrainConfig(lif=lif_config_from_args(args), **changes)


class ProgressBar:
    """A one-line bar on ``stream``, redrawn in place on a terminal, one line per update otherwise."""

    def __init__(self, stream: TextIO, total: int, width: int = 28):
        self.stream, self.total, self.width = stream, total, width
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.started = time.monotonic()
        self.drawn = False

    def __call__(self, event: dict[str, Any]) -> None:
        m = event.get("metrics", {})
        if "progress" not in m or "loss" not in m:
            return
        frac = min(max(float(m["progress"]), 0.0), 1.0)
        filled = int(round(frac * self.width))
        line = (f"[{'#' * filled}{'.' * (self.width - filled)}] {frac:4.0%} step {event['step']}/{self.total} "
                f"loss {m['loss']:.4g} acc {m.get('accuracy', math.nan):.3f} "
                f"rate {m.get('firing_rate/0', math.nan):.3f} {time.monotonic() - self.started:.0f}s")
        self.stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn and self.tty:
            self.stream.write("\n")
            self.stream.flush()


class _CancelOnInterrupt:
    """First Ctrl-C asks the run to stop (status cancelled, summary still printed); the second one
    interrupts at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:                  # not the main thread: leave Ctrl-C as it is
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
    from stabviz import train

    bar = ProgressBar(sys.stderr, cfg.train_steps)
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


def readable_summary(s: dict[str, Any]) -> str:
    """The summary for people: outcome, then the prediction next to the measurement."""
    fin, ini, pred, ver = s["final"], s["initial"], s["prediction"], s["verdict"]
    task = s["task"]
    lines = [f"run {s['run_id']}: {s['status']}" + (f" ({s['stopped_early']})" if s.get("stopped_early") else "")
             + f" after {fin.get('steps_done')} steps on {s['device']} in {s['wall_s']:.1f} s",
             f"task {task['name']}: {task['n_classes']} classes, {task['n_in']} channels × {task['time_steps']} "
             f"steps, m_x {_f(task['input_mean'])}, v_x {_f(task['input_var'])}",
             f"test accuracy {_f(fin.get('accuracy'))} (chance {1 / task['n_classes']:.3f}), "
             f"test loss {_f(fin.get('loss'))}", "",
             f"{'at initialisation':<26}{'predicted':>12}{'measured':>12}  agrees"]
    rows = [("firing rate (layer 0)", "firing_rate"), ("ρ vs ρ̂ (per-step gain)", "rho"),
            ("ρ²", "rho2"), ("regime", "regime")]
    for label, key in rows:
        v = ver[key]
        lines.append(f"{label:<26}{_f(v['predicted']):>12}{_f(v['measured']):>12}  {_yes(v.get('agrees'))}")
    lines += ["", f"{'':<26}{'initial':>12}{'final':>12}",
              f"{'firing rate per layer':<26}{_list(ini['firing_rate']):>12}{_list(fin['firing_rate']):>12}",
              f"{'measured ρ²':<26}{_f(ini['rho2']):>12}{_f(fin['rho2']):>12}",
              f"{'gradient gain ρ̂':<26}{_f(ini['grad_gain']):>12}{_f(fin['grad_gain']):>12}"]
    if s.get("rate_adjustment"):
        ra = s["rate_adjustment"]
        lines.append(f"initial-rate adjustment to {ra['target']:g}: {ra['steps']} bias steps, "
                     f"rates {_list(ra['firing_rate'])}")
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
    p = subparsers.add_parser("train", parents=[*parents, train_options()],
                              help="one short training run in the foreground (progress on stderr)",
                              description="Train once and compare the theory's prediction with the measurement. "
                                          "The task sets n_in, T (--time-steps) and the input statistics m_x, v_x "
                                          "(measured on its data), overriding --n-in (shd/slmnist), --steps and "
                                          "--input-mean/--input-var. "
                                          "Exit status 0 finished, 1 diverged, 130 cancelled.")
    p.set_defaults(func=cmd_train)


__all__ = ["register", "train_options", "train_config_from_args", "cmd_train", "readable_summary"]
