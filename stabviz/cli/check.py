"""`stabviz check --factory module:function`: check the user's own spiking network (docs/check.md).

The factory is the user's own Python code, imported and called here (the command line only: the dashboard
never executes uploaded code). It returns ``(model, inputs)``; inputs are time first, (T, batch, ...).
Anything the factory raises, and anything it returns that is not a (model, inputs) pair, is one line and
exit status 2. torch and the SNN libraries are imported inside the handler.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from typing import Any

from stabviz.cli.options import SEEDS, Text, UsageError, Whole, shown
from stabviz.jsonsafe import dumps


def load_factory(spec: str):
    """The function named by ``module:function`` or ``path/to/file.py:function``."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name.isidentifier():
        raise UsageError(f"--factory {shown(spec)} must be module:function or file.py:function")
    try:
        if target.endswith(".py"):
            if not os.path.isfile(target):
                raise UsageError(f"--factory: no such file: {shown(target, 200)}")
            loaded = importlib.util.spec_from_file_location("stabviz_user_factory", target)
            module = importlib.util.module_from_spec(loaded)
            loaded.loader.exec_module(module)
        else:
            if "" not in sys.path and os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())        # as `python -m` would: the user's own folder
            module = importlib.import_module(target)
    except UsageError:
        raise
    except Exception as err:                           # the user's module failing to import: their bug, one line
        raise UsageError(f"--factory {shown(spec)}: importing {target} raised {type(err).__name__}: "
                         f"{_line(err)}") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise UsageError(f"--factory {shown(spec)}: {target} has no function {name}")
    return fn


def _line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else "(no message)"


def call_factory(spec: str) -> tuple[Any, Any]:
    fn = load_factory(spec)
    try:
        made = fn()
    except Exception as err:
        raise UsageError(f"--factory {shown(spec)} raised {type(err).__name__}: {_line(err)}") from None
    if not (isinstance(made, tuple) and len(made) == 2):
        raise UsageError(f"--factory {shown(spec)} must return (model, inputs); it returned {shown(made)}")
    return made


def cmd_check(args: argparse.Namespace) -> int:
    from stabviz.check import check
    model, inputs = call_factory(args.factory)
    report = check(model, inputs, time_steps=args.time_steps, seeds=args.seeds)
    print(dumps(report.as_dict()) if args.json else report.text())
    return 0


def register(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add `check` to the main CLI; ``parents`` carry --json."""
    p = subparsers.add_parser("check", parents=parents,
                              help="check your own snnTorch / Norse / SpikingJelly network before training",
                              description="Import --factory (module:function or file.py:function), call it for "
                                          "(model, inputs) with inputs time first (T, batch, ...), and report the "
                                          "spiking layers, rates, the measured gradient gain beside the theory's "
                                          "prediction, hazards and re-measured suggestions. Runs your code.")
    p.add_argument("--factory", required=True, type=Text(1000, "factory"),
                   help="module:function or path/file.py:function returning (model, inputs)")
    p.add_argument("--seeds", type=Whole(*SEEDS), default=3, help="random projections for the gain's interval")
    p.add_argument("--time-steps", type=Whole(4, 100_000), help="use the first T steps of the inputs")
    p.set_defaults(func=cmd_check)


__all__ = ["register", "cmd_check", "load_factory"]
