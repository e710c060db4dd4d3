"""`stabviz ...` (or `python -m stabviz ...`): the same functions as the dashboard, for terminals, scripts and CI.

`recommend`, `region`, `presets` and `translate` never import torch (they answer in well under a
second); `simulate`, `train`, `bench` and the run commands import it inside their handlers.
Bad input exits with status 2 and one line naming the parameter and its allowed range; so does a
missing optional dependency (ray, snntorch...), naming the package to install, and a file that cannot
be read or written. Every count and size option is range-checked while it is parsed (:mod:`.options`),
so no value reaches a computation that would overflow or run for ever; numbers must use ASCII digits, text
values must not be empty and an option given twice must agree with itself (:class:`.options.Parser`).
Files named on the command line are written by :mod:`stabviz.safeio`'s rules (no links, FIFOs or devices;
``--force`` to replace a file), and long commands report an estimate and progress on stderr
(:mod:`.progress`). Anything else is a bug: one line and status 1 (STABVIZ_DEBUG=1 shows its traceback).

One module per command group (:mod:`.theory`, :mod:`.train`, :mod:`.runs`, :mod:`.bench`, :mod:`.replicate`,
:mod:`.check`), their
shared options in :mod:`.options`; this module assembles the parser and owns the one error path.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import PureWindowsPath

from stabviz.cli import bench, check, dashboard, outcomes, replicate, runs, theory, train
from stabviz.cli.options import Parser, UsageError, lif_config_from_args, lif_options, shown
from stabviz.runs.store import StoreError

__all__ = ["main", "build_parser", "UsageError", "lif_config_from_args", "lif_options"]


def prog_name(argv0: str | None = None) -> str:
    """The command as the user typed it, for usage lines: ``stabviz`` when run as the console script
    (``stabviz``, ``stabviz.exe``, ``stabviz-script.py``), else ``python -m stabviz`` (``__main__.py``, or
    main() called from other code)."""
    # PureWindowsPath splits at both / and \ (a Windows launcher's path, on any system)
    stem = PureWindowsPath(sys.argv[0] if argv0 is None else argv0 or "").stem.removesuffix("-script")
    return "stabviz" if stem == "stabviz" else "python -m stabviz"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=prog_name(), description="Stability of surrogate-gradient training in LIF networks (arXiv 2202.00282)."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    common = lif_options()
    json_opt = Parser(add_help=False)
    json_opt.add_argument("--json", action="store_true", help="print JSON")
    theory.register(sub, common, json_opt)
    bench.register(sub, [common, json_opt])
    # training commands: --steps counts optimiser steps, so their LIF options leave the theory's T out
    training = lif_options(with_steps=False)
    train.register(sub, [training, json_opt])
    runs.register(sub, [training, json_opt])
    replicate.register(sub, [json_opt])
    outcomes.register(sub, [json_opt])
    check.register(sub, [json_opt])
    dashboard.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status. Bad input of any kind (a value out of range, a path that
    cannot be written, a run store that fails) is one line on stderr and status 2, never a traceback; an
    unexpected exception (a bug) is one line and status 1, its traceback shown with STABVIZ_DEBUG=1."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["dashboard"] and not {"-h", "--help"} & set(argv[1:]):
            # everything after the command belongs to `streamlit run` (argparse cannot pass on --flags untouched)
            return dashboard.run_dashboard(argv[1:])
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("stabviz: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except SystemExit as e:  # --help: argparse prints it and exits 0
        return e.code if isinstance(e.code, int) else (0 if e.code is None else _error(str(e.code)))
    except BAD_INPUT as e:
        return _error(_first_line(e))
    except ModuleNotFoundError as e:
        if not e.name or e.name.split(".")[0] == "stabviz":  # our own module missing: a bug
            return _internal(e)
        package = e.name.split(".")[0]
        return _error(f"{package} is not installed (this command needs it); install it with: pip install {package}")
    except MemoryError:
        return _error("not enough memory for these sizes; choose smaller ones")
    except OSError as e:
        return _error(_os_message(e))
    except Exception as e:  # a bug, not the user's input: one line unless debugging
        return _internal(e)


#: what bad input raises on its way through the library: one line, exit status 2
BAD_INPUT = (UsageError, ValueError, OverflowError, StoreError)

#: how long one error line may grow; longer words (an echoed value) are cut to _WORD characters
_LINE, _WORD = 1000, 200


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _os_message(e: OSError) -> str:
    """'No such file or directory: /x/y' rather than '[Errno 2] ...' (and never a traceback)."""
    if not e.strerror:
        return _first_line(e)
    names = [n for n in (e.filename, e.filename2) if n is not None]
    return e.strerror + (": " + " -> ".join(shown(n, 200) for n in names) if names else "")


def _clip(message: str) -> str:
    """One printable line of bounded length: long words cut, undecodable argv bytes (surrogates) escaped."""
    try:
        message = message.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    message = re.sub(rf"\S{{{_WORD + 1},}}", lambda m: m.group()[: _WORD - 1] + "…", message)
    return message if len(message) <= _LINE else message[: _LINE - 1] + "…"


def _error(message: str) -> int:
    print(f"stabviz: error: {_clip(message)}", file=sys.stderr)
    return 2


def _internal(e: Exception) -> int:
    if os.environ.get("STABVIZ_DEBUG", "") not in ("", "0"):
        raise e
    print(
        f"stabviz: internal error: {type(e).__name__}: {_clip(_first_line(e))} (set STABVIZ_DEBUG=1 for the traceback)",
        file=sys.stderr,
    )
    return 1
