"""`python -m stabviz ...`: the same functions as the dashboard, for terminals, scripts and CI.

`recommend`, `region`, `presets` and `translate` never import torch (they answer in well under a
second); `simulate`, `train`, `bench` and the run commands import it inside their handlers.
Bad input exits with status 2 and one line naming the parameter and its allowed range.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any, Sequence

from stabviz.jsonsafe import dumps
from stabviz.config import (FORMULAS, INITS, IN_INITS, PRESET_NOTES, PRESETS, RESETS, SHAPES,
                            VOLTAGE_MODELS, LIFConfig, preset, tau_to_leak)

#: modules that add their own subcommands through ``register(subparsers, parents)``, and whether they
#: train (then ``--steps`` is theirs: optimiser steps)
SUBCOMMAND_MODULES = {"stabviz.cli_bench": False, "stabviz.cli_train": True, "stabviz.cli_runs": True}


class UsageError(ValueError):
    """A command-line mistake: reported on one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:      # one line, no usage dump
        raise UsageError(message)


# option dest -> LIFConfig field
_LIF_OPTIONS: dict[str, str] = {
    "n_rec": "n_rec", "n_in": "n_in", "threshold": "threshold", "reset": "reset", "init": "init_rec",
    "init_in": "init_in", "rec_mean": "rec_mean", "rec_std": "rec_std", "in_mean": "in_mean",
    "in_std": "in_std", "input_mean": "input_mean", "input_var": "input_var", "bias": "bias",
    "sg": "shape", "dampening": "dampening", "sharpness": "sharpness", "tail": "tail", "steps": "steps",
    "voltage_model": "voltage_model", "formula": "formula", "tolerance": "tolerance", "seed": "seed",
    "leak": "leak",
}


def lif_options(with_steps: bool = True) -> argparse.ArgumentParser:
    """The shared network/SG options, as a parent parser (every default None = take the preset's).

    Training commands leave out ``--steps`` (T of the theory): there T is the task's ``--time-steps``
    and ``--steps`` counts optimiser steps, as users of training scripts expect.
    """
    p = _Parser(add_help=False)
    g = p.add_argument_group("network and surrogate (defaults: the preset's)")
    g.add_argument("--preset", choices=list(PRESETS), default="paper-slmnist", help="starting setting")
    g.add_argument("--n-rec", type=int, help="recurrent neurons n")
    g.add_argument("--n-in", type=int, help="input channels n_in")
    leak = g.add_mutually_exclusive_group()
    leak.add_argument("--tau", type=float, help="membrane time constant in steps (α = exp(−1/τ))")
    leak.add_argument("--leak", type=float, help="leak α in [0, 0.9999]")
    g.add_argument("--threshold", type=float, help="threshold θ")
    g.add_argument("--reset", choices=RESETS, help="reset mode")
    g.add_argument("--reset-grad", action=argparse.BooleanOptionalAction, default=None,
                   help="let the gradient flow through the reset term")
    g.add_argument("--init", choices=INITS, help="W_rec initialisation ('conditions' = conditions I, II)")
    g.add_argument("--init-in", choices=IN_INITS, help="W_in initialisation")
    for name in ("rec-mean", "rec-std", "in-mean", "in-std"):
        g.add_argument(f"--{name}", type=float, help="for init uniform/normal")
    g.add_argument("--input-mean", type=float, help="input spike mean m_x per channel and step")
    g.add_argument("--input-var", type=float, help="input spike variance v_x")
    g.add_argument("--bias", type=float, help="bias current b")
    g.add_argument("--sg", choices=SHAPES, help="surrogate-gradient shape")
    g.add_argument("--dampening", type=float, help="SG peak height γ")
    g.add_argument("--sharpness", type=float, help="SG inverse width β")
    g.add_argument("--tail", type=float, help="SG tail-fatness q (qpseudospike), > 1")
    if with_steps:
        g.add_argument("--steps", type=int, help="time steps T the gradient travels")
    g.add_argument("--voltage-model", choices=VOLTAGE_MODELS, help="voltage distribution model")
    g.add_argument("--formula", choices=FORMULAS, help="'derived' (default) or the reference 'code'")
    g.add_argument("--tolerance", type=float, help="decades of gradient gain over T still 'stable'")
    g.add_argument("--seed", type=int, help="random seed")
    return p


def lif_config_from_args(args: argparse.Namespace) -> LIFConfig:
    """The preset, overridden by every option the user gave (validated: ValueError names the field)."""
    changes: dict[str, Any] = {}
    for dest, fieldname in _LIF_OPTIONS.items():
        value = getattr(args, dest, None)
        if value is not None:
            changes[fieldname] = value
    if getattr(args, "tau", None) is not None:
        changes["leak"] = tau_to_leak(args.tau)
    if getattr(args, "reset_grad", None) is not None:
        changes["reset_grad"] = args.reset_grad
    return preset(getattr(args, "preset", "paper-slmnist") or "paper-slmnist", **changes)


def _fmt(v: Any) -> str:
    return "—" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v))


# ---------------------------------------------------------------------------------------------
# Handlers

def cmd_recommend(args: argparse.Namespace) -> int:
    from stabviz import theory
    rec = theory.recommend(lif_config_from_args(args)).to_dict()
    if args.json:
        print(dumps(rec))
        return 0
    labels = {"recurrent_mean": "condition I   recurrent weight mean", "recurrent_var": "condition II  recurrent weight variance",
              "dampening": "condition III dampening γ", "sharpness": "condition IV  sharpness β* (at this γ)",
              "tail": "condition IV  tail q* (at this γ, β)", "firing_rate": "predicted initial firing rate",
              "rho2": "ρ² (mean squared one-step gain)", "max_gain": "worst-case one-step gain",
              "gradient_gain": "gradient gain over T steps", "regime": "regime", "firing": "firing"}
    for key, label in labels.items():
        print(f"{label:<42} {_fmt(rec[key])}")
    for note in rec["notes"]:
        print(f"note: {note}")
    return 0


def cmd_region(args: argparse.Namespace) -> int:
    from stabviz import theory
    cfg = lif_config_from_args(args)
    reg = theory.region(cfg, args.x, args.y, args.nx, args.ny, args.x_range, args.y_range,
                        True if args.log_x else None, True if args.log_y else None)
    if args.csv:
        sys.stdout.write(reg.to_csv())
    elif args.json:
        print(json.dumps(reg.to_dict(), allow_nan=False))
    else:
        stable = float((reg.regime == 0).mean())
        print(f"{reg.y_name} × {reg.x_name}: {len(reg.y)} × {len(reg.x)} grid; stable fraction {stable:.3f}")
        print(f"x {reg.x_name} in [{reg.x[0]:.4g}, {reg.x[-1]:.4g}] ({'log' if reg.log_x else 'linear'}); "
              f"y {reg.y_name} in [{reg.y[0]:.4g}, {reg.y[-1]:.4g}] ({'log' if reg.log_y else 'linear'})")
        print(f"current point {reg.current}; optimum {reg.optimum}")
        print("use --json or --csv for the numbers")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from stabviz import simulate, theory
    cfg = lif_config_from_args(args)
    m = simulate.measure(cfg, batch=args.batch, steps=args.sim_steps, burn_in=args.burn_in, device=args.device)
    pred = theory.predict_all(cfg)
    out = {"measured": m.to_dict(), "predicted": {k: v.to_dict() for k, v in pred.items()}}
    if args.json:
        print(dumps(out))
        return 0
    rows = ("firing_rate", "voltage_mean", "voltage_std", "moment1", "moment2", "rho2", "max_gain", "log10_gain")
    print(f"{'':<14}{'measured':>14}{'gaussian':>14}{'uniform':>14}")
    for r in rows:
        print(f"{r:<14}{_fmt(out['measured'][r]):>14}{_fmt(out['predicted']['gaussian'][r]):>14}"
              f"{_fmt(out['predicted']['uniform'][r]):>14}")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    data = {name: {**preset(name).to_dict(), "tau": preset(name).tau, "note": PRESET_NOTES.get(name, "")}
            for name in PRESETS}
    if args.json:
        print(dumps(data))
        return 0
    for name, d in data.items():
        print(f"{name:<15} n_in {d['n_in']:>4}  n_rec {d['n_rec']:>4}  τ {d['tau']:<6.3g} "
              f"{d['shape']} γ={d['dampening']:g} β={d['sharpness']:g}   {d['note']}")
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from stabviz import surrogates
    if args.source:
        sg = surrogates.from_library(args.source, args.value)
        shape, g, b, q = sg.shape, sg.dampening, sg.sharpness, sg.tail
    else:
        cfg = lif_config_from_args(args)
        shape, g, b, q = cfg.shape, cfg.dampening, cfg.sharpness, cfg.tail
    table = surrogates.translation_table(shape, g, b, q)
    out = {"stabviz": {"shape": shape, "dampening": g, "sharpness": b, "tail": q},
           "libraries": [t.__dict__ if hasattr(t, "__dict__") else dict(t._asdict()) for t in table]}
    if args.json:
        print(dumps(out))
        return 0
    print(f"stabviz: shape={shape} dampening γ={g:.6g} sharpness β={b:.6g}" + (f" tail q={q:.6g}" if shape == "qpseudospike" else ""))
    for t in out["libraries"]:
        mark = "exact " if t["exact"] else "approx"
        print(f"  {mark} {t['name']:<28} {t['knob']}={_fmt(t['value'])}  {t['note']}")
    return 0


# ---------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m stabviz",
                     description="Stability of surrogate-gradient training in LIF networks (arXiv 2202.00282).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    common = lif_options()
    json_opt = _Parser(add_help=False)
    json_opt.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("recommend", parents=[common, json_opt], help="conditions I-IV and predictions at one setting")
    p.set_defaults(func=cmd_recommend)

    p = sub.add_parser("region", parents=[common, json_opt], help="the stability map over two parameters")
    p.add_argument("--x", default="sharpness", choices=["dampening", "sharpness", "tail", "leak"])
    p.add_argument("--y", default="dampening", choices=["dampening", "sharpness", "tail", "leak"])
    p.add_argument("--nx", type=int, default=200)
    p.add_argument("--ny", type=int, default=200)
    p.add_argument("--x-range", type=float, nargs=2, metavar=("LO", "HI"))
    p.add_argument("--y-range", type=float, nargs=2, metavar=("LO", "HI"))
    p.add_argument("--log-x", action="store_true", help="log x axis (default: by parameter)")
    p.add_argument("--log-y", action="store_true", help="log y axis (default: by parameter)")
    p.add_argument("--csv", action="store_true", help="print one CSV row per cell")
    p.set_defaults(func=cmd_region)

    p = sub.add_parser("simulate", parents=[common, json_opt], help="the measured (Monte-Carlo) check vs the models")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--sim-steps", type=int, default=300, help="simulated steps (including burn-in)")
    p.add_argument("--burn-in", type=int, default=100)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("presets", parents=[json_opt], help="the named settings")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("translate", parents=[common, json_opt],
                       help="(γ, β, q) <-> other libraries' surrogate knobs")
    p.add_argument("--from", dest="source", metavar="LIB.FUNC", help="e.g. snntorch.fast_sigmoid")
    for knob in ("--value", "--slope", "--alpha"):
        p.add_argument(knob, dest="value", type=float, help="the library's knob (default: its default)")
    p.set_defaults(func=cmd_translate)

    training = lif_options(with_steps=False)
    for name, trains in SUBCOMMAND_MODULES.items():
        _register_optional(name, sub, [training if trains else common, json_opt])
    return parser


def _register_optional(module: str, sub, parents) -> None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        return
    mod.register(sub, parents)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except (UsageError, ValueError, FileNotFoundError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"stabviz: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stabviz: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
