"""`python -m stabviz ...`: the same functions as the dashboard, for terminals, scripts and CI.

`recommend`, `region`, `presets` and `translate` never import torch (they answer in well under a
second); `simulate`, `train`, `bench` and the run commands import it inside their handlers.
Bad input exits with status 2 and one line naming the parameter and its allowed range; so does a
missing optional dependency (ray, snntorch...), naming the package to install.

One module per command group (:mod:`.theory`, :mod:`.train`, :mod:`.runs`, :mod:`.bench`), their
shared options in :mod:`.options`; this module assembles the parser and owns the one error path.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from stabviz.cli import bench, dashboard, runs, theory, train
from stabviz.runs.store import StoreError
from stabviz.cli.options import Parser, UsageError, lif_config_from_args, lif_options

__all__ = ["main", "build_parser", "UsageError", "lif_config_from_args", "lif_options"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m stabviz",
                    description="Stability of surrogate-gradient training in LIF networks (arXiv 2202.00282).")
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
    dashboard.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["dashboard"] and not {"-h", "--help"} & set(argv[1:]):
        # everything after the command belongs to `streamlit run` (argparse cannot pass on --flags untouched)
        return dashboard.run_dashboard(argv[1:])
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except (UsageError, ValueError, FileNotFoundError, StoreError) as e:
        return _error(str(e).splitlines()[0] if str(e) else type(e).__name__)
    except ModuleNotFoundError as e:
        if not e.name or e.name.split(".")[0] == "stabviz":    # our own module missing: a bug, show it
            raise
        package = e.name.split(".")[0]
        return _error(f"{package} is not installed (this command needs it); install it with: "
                      f"pip install {package}")
    except KeyboardInterrupt:
        print("stabviz: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _error(message: str) -> int:
    print(f"stabviz: error: {message}", file=sys.stderr)
    return 2
