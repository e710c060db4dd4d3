"""`stabviz check model.nir` and `stabviz check --factory module:function`: check the user's own spiking
network (docs/check.md). A NIR file is read as data (never executed), with the surrogate as options.

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
from stabviz.config import DEFAULT_SURROGATE, SHAPES, Surrogate
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
                sys.path.insert(0, os.getcwd())  # as `python -m` would: the user's own folder
            module = importlib.import_module(target)
    except UsageError:
        raise
    except Exception as err:  # the user's module failing to import: their bug, one line
        raise UsageError(
            f"--factory {shown(spec)}: importing {target} raised {type(err).__name__}: {_line(err)}"
        ) from None
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


def _input_shape(text: str) -> tuple[int, int]:
    """'T,B' (the input's time steps and batch; n_in comes from the graph)."""
    parts = text.split(",")
    try:
        steps, batch = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text)} must be T,B (two whole numbers)") from None
    if not (4 <= steps <= 100_000 and 1 <= batch <= 4096):
        raise argparse.ArgumentTypeError(f"{shown(text)}: T must lie in [4, 100000] and B in [1, 4096]")
    return steps, batch


def cmd_check(args: argparse.Namespace) -> int:
    from stabviz.check import check, check_nir

    if (args.nir is None) == (args.factory is None):
        raise UsageError("give either a NIR file or --factory module:function (exactly one)")
    if args.factory is not None:
        model, inputs = call_factory(args.factory)
        report = check(model, inputs, time_steps=args.time_steps, seeds=args.seeds)
    else:
        sg = Surrogate(args.sg, args.dampening, args.sharpness, args.tail)
        report = check_nir(
            args.nir,
            dt=args.dt,
            surrogate=sg,
            reset_detached=not args.reset_grad,
            time_steps=args.time_steps,
            seeds=args.seeds,
            input_shape=args.input_shape,
        )
    print(dumps(report.as_dict()) if args.json else report.text())
    return 0


def register(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add `check` to the main CLI; ``parents`` carry --json."""
    p = subparsers.add_parser(
        "check",
        parents=parents,
        help="check your own snnTorch / Norse / SpikingJelly network before training",
        description="Check a NIR file (read as data, never executed; NIR stores no "
        "surrogate, so --sg/--dampening/--sharpness/--tail and --dt are options), "
        "or import --factory (module:function or file.py:function: runs your "
        "code) and call it for (model, inputs), inputs time first (T, batch, ...). "
        "Reports the spiking layers, rates, the measured gradient gain beside the "
        "theory's prediction, hazards and re-measured suggestions (docs/check.md).",
    )
    p.add_argument("nir", nargs="?", type=Text(4096, "NIR file"), help="a NIR file (.nir, HDF5); never executed")
    p.add_argument(
        "--factory",
        type=Text(1000, "factory"),
        help="module:function or path/file.py:function returning (model, inputs)",
    )
    p.add_argument(
        "--input-shape",
        type=_input_shape,
        default=(100, 16),
        help="NIR only: T,B of the seeded Bernoulli input spikes (rate 0.1), default 100,16",
    )
    p.add_argument(
        "--sg", choices=SHAPES, default=DEFAULT_SURROGATE.shape, help="NIR only: surrogate shape (NIR has none)"
    )
    p.add_argument(
        "--dampening", type=float, default=DEFAULT_SURROGATE.dampening, help="NIR only: γ, the surrogate's peak height"
    )
    p.add_argument(
        "--sharpness",
        type=float,
        default=DEFAULT_SURROGATE.sharpness,
        help="NIR only: β, the surrogate's inverse width",
    )
    p.add_argument("--tail", type=float, default=DEFAULT_SURROGATE.tail, help="NIR only: q (qpseudospike)")
    p.add_argument(
        "--dt", type=float, default=1e-4, help="NIR only: the time step (NIR stores none; snnTorch exports with 1e-4)"
    )
    p.add_argument("--reset-grad", action="store_true", help="NIR only: let gradient through the reset")
    p.add_argument("--seeds", type=Whole(*SEEDS), default=3, help="random projections for the gain's interval")
    p.add_argument("--time-steps", type=Whole(4, 100_000), help="use the first T steps of the inputs")
    p.set_defaults(func=cmd_check)


__all__ = ["register", "cmd_check", "load_factory"]
