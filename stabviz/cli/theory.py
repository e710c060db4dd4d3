"""The theory commands of `python -m stabviz`: recommend, region, simulate, presets, translate.

`recommend`, `region`, `presets` and `translate` never import torch (they answer in well under a
second); `simulate` imports it inside its handler. The library modules are imported inside the
handlers so that `--help` and the run commands start without scipy.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from stabviz import memory
from stabviz.cli.options import (
    BURN_IN,
    MEASURE_GRID,
    REGION_GRID,
    SEEDS,
    SIM_BATCH,
    SIM_STEPS,
    UsageError,
    Whole,
    check_elements,
    lif_config_from_args,
    shown,
)
from stabviz.cli.progress import Progress
from stabviz.config import PRESET_NOTES, PRESETS, preset
from stabviz.jsonsafe import dumps


def _fmt(v: Any) -> str:
    return "—" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v))


#: The knob options of --from: the library function's own knob name (LIBRARY_SURROGATES), or --value.
LIBRARY_KNOBS = ("value", "slope", "alpha", "scale")
#: The options --from replaces: the surrogate comes from the library function instead.
_SURROGATE_OPTIONS = {"sg": "--sg", "dampening": "--dampening", "sharpness": "--sharpness", "tail": "--tail"}


def library_surrogate(args: argparse.Namespace):
    """The (shape, γ, β, q) of ``--from LIB.FUNC`` and its knob (surrogates.from_library, the table of
    `translate`), or None without --from. A knob the function does not have is one clear error."""
    given = {k: getattr(args, f"knob_{k}") for k in LIBRARY_KNOBS if getattr(args, f"knob_{k}", None) is not None}
    if not getattr(args, "source", None):
        if given:
            raise UsageError(
                f"--{next(iter(given))} is a library knob: it needs --from LIB.FUNC "
                "(e.g. --from snntorch.fast_sigmoid --slope 25)"
            )
        return None
    from stabviz import surrogates

    if args.source not in surrogates.LIBRARY_SURROGATES:
        raise UsageError(f"--from {shown(args.source)} is not one of: {', '.join(surrogates.LIBRARY_SURROGATES)}")
    knob = surrogates.LIBRARY_SURROGATES[args.source][0]
    if len(given) > 1:
        raise UsageError(f"--from {args.source} takes one knob ({knob}); got " + ", ".join(f"--{k}" for k in given))
    name, value = next(iter(given.items()), (None, None))
    if name not in (None, "value", knob):
        raise UsageError(f"--{name}: {args.source} has no knob {name}; its knob is {knob} (--{knob} or --value)")
    return surrogates.from_library(args.source, value)


def _with_library_surrogate(args: argparse.Namespace, cfg):
    """``cfg`` with the surrogate of --from (refused beside the options it replaces)."""
    sg = library_surrogate(args)
    if sg is None:
        return cfg
    both = [flag for dest, flag in _SURROGATE_OPTIONS.items() if getattr(args, dest, None) is not None]
    if both:
        raise UsageError(f"--from sets the surrogate; drop {', '.join(both)} (or drop --from)")
    return cfg.replace(surrogate=sg)


def cmd_recommend(args: argparse.Namespace) -> int:
    cfg = _with_library_surrogate(args, lif_config_from_args(args))
    _check_measured_model(cfg)
    from stabviz import theory
    from stabviz.outcomes import advice

    rec = theory.recommend(cfg).to_dict()
    advised = advice.recommend(
        cfg, budget=args.budget, layers=args.layers, source="measured" if args.measure else "predicted"
    )
    if args.json:
        print(dumps({**rec, "p_collapse": advised["p_collapse"], "verdict": advised["verdict"], "advice": advised}))
        return 0
    if args.source:
        print(
            f"{'surrogate (from ' + args.source + ')':<42} {cfg.shape} γ={cfg.dampening:.6g} β={cfg.sharpness:.6g}"
            + (f" q={cfg.tail:.6g}" if cfg.shape == "qpseudospike" else "")
        )
    _print_advice(advised)
    print("\nthe theory at this setting (detail)")
    labels = {
        "recurrent_mean": "condition I   recurrent weight mean",
        "recurrent_var": "condition II  recurrent weight variance",
        "dampening": "condition III dampening γ",
        "sharpness": "condition IV  sharpness β* (at this γ)",
        "tail": "condition IV  tail q* (at this γ, β)",
        "firing_rate": "predicted initial firing rate",
        "rho2": "ρ² (mean squared one-step gain)",
        "max_gain": "worst-case one-step gain",
        "gradient_gain": "gradient gain over T steps",
        "regime": "regime",
        "firing": "firing",
    }
    for key, label in labels.items():
        print(f"{label:<42} {_fmt(rec[key])}")
    for note in rec["notes"]:
        print(f"note: {note}")
    return 0


def _print_advice(advised: dict[str, Any]) -> None:
    """The outcome model's verdict and options, as `recommend` prints them."""
    print(
        f"verdict ({advised['budget']} optimiser steps, {advised['layers']} layer(s), {advised['source']} initial "
        f"gain): {advised['verdict']}, P(collapse) = {advised['p_collapse']:.2f}"
    )
    for o in advised["options"]:
        print(
            f"{o['label']:<15} {o['setting']:<42} P(collapse) {o['p_collapse']:.2f}, "
            f"shortfall {100 * o['shortfall']:.0f}% of the best choice's margin over chance (measured mean)"
        )
    for o in advised["paper"]:
        print(
            f"{o['label']:<15} γ = {o['dampening']:.4g}, β = {o['sharpness']:.4g}: P(collapse) {o['p_collapse']:.2f} "
            f"({o['evidence']})"
        )
    for note in advised["notes"]:
        print(f"note: {note}")


def cmd_region(args: argparse.Namespace) -> int:
    if args.csv and args.json:
        raise UsageError("--csv and --json both given: choose one output format")
    cfg = lif_config_from_args(args)
    _check_measured_model(cfg)
    from stabviz import theory

    reg = theory.region(
        cfg,
        args.x,
        args.y,
        args.nx,
        args.ny,
        args.x_range,
        args.y_range,
        True if args.log_x else None,
        True if args.log_y else None,
    )
    if args.csv:
        sys.stdout.write(reg.to_csv())
    elif args.json:
        print(json.dumps(reg.to_dict(), allow_nan=False))
    else:
        stable = float((reg.regime == 0).mean())
        print(f"{reg.y_name} × {reg.x_name}: {len(reg.y)} × {len(reg.x)} grid; stable fraction {stable:.3f}")
        print(
            f"x {reg.x_name} in [{reg.x[0]:.4g}, {reg.x[-1]:.4g}] ({'log' if reg.log_x else 'linear'}); "
            f"y {reg.y_name} in [{reg.y[0]:.4g}, {reg.y[-1]:.4g}] ({'log' if reg.log_y else 'linear'})"
        )
        print(f"current point {reg.current}; optimum {reg.optimum}")
        print("use --json or --csv for the numbers")
    return 0


#: simulate.measure's batch and steps, which the measured voltage model (recommend, region) simulates with
_MEASURED_MODEL_RUN = {"batch": 64, "sim_steps": 300}


def _check_simulation(args: argparse.Namespace, cfg, what: str, min_burn_in: int = 0) -> None:
    """--burn-in below --sim-steps, and the simulation's tensors of a bounded size."""
    if not min_burn_in <= args.burn_in < args.sim_steps:
        raise UsageError(f"--burn-in {args.burn_in} must be in [{min_burn_in}, --sim-steps {args.sim_steps})")
    _check_simulation_sizes(cfg, what, args.batch, args.sim_steps)


def _check_simulation_sizes(cfg, what: str, batch: int, sim_steps: int) -> None:
    """The input spikes (batch × steps × n_in), the currents (batch × steps × n_rec) and W_in (n_in × n_rec)
    of one simulation: each below options.MAX_ELEMENTS numbers, not a swapping machine."""
    check_elements(what, batch=batch, sim_steps=sim_steps, n=max(cfg.n_in, cfg.n_rec))
    check_elements(what, n_in=cfg.n_in, n_rec=cfg.n_rec)


def _check_measured_model(cfg) -> None:
    """The measured voltage model simulates the layer (recommend, region): the same bounds as simulate."""
    if cfg.voltage_model == "measured":
        _check_simulation_sizes(cfg, "--voltage-model measured", **_MEASURED_MODEL_RUN)


def cmd_simulate(args: argparse.Namespace) -> int:
    cfg = lif_config_from_args(args)
    _check_simulation(args, cfg, "simulate")
    seeds = _seeds(cfg.seed, args.seeds)
    # the memory estimate before torch is imported (simulate.measure checks it again)
    memory.check_simulate(cfg, batch=args.batch, steps=args.sim_steps, burn_in=args.burn_in)
    from stabviz import simulate, theory

    runs, steps = [], args.sim_steps
    # on stderr, terminal or not; counted in simulated steps, so one long seed still gives an estimate
    what = "simulate" if len(seeds) == 1 else f"simulate ({len(seeds)} seeds)"
    with Progress(what, len(seeds) * steps, "simulated steps") as progress:
        for s in seeds:
            done = len(runs) * steps
            runs.append(
                simulate.measure(
                    cfg,
                    batch=args.batch,
                    steps=steps,
                    burn_in=args.burn_in,
                    seed=s,
                    device=_device(args.device),
                    progress=lambda t, done=done: progress(done + t),
                )
            )
    pred = {k: v.to_dict() for k, v in theory.predict_all(cfg).items()}
    if len(seeds) > 1:
        return _print_seeds(seeds, runs, pred, args.json)
    out = {"measured": runs[0].to_dict(), "predicted": pred}
    if args.json:
        print(dumps(out))
        return 0
    rows = ("firing_rate", "voltage_mean", "voltage_std", "moment1", "moment2", "rho2", "max_gain", "log10_gain")
    print(f"{'':<14}{'measured':>14}{'gaussian':>14}{'uniform':>14}")
    for r in rows:
        print(
            f"{r:<14}{_fmt(out['measured'][r]):>14}{_fmt(out['predicted']['gaussian'][r]):>14}"
            f"{_fmt(out['predicted']['uniform'][r]):>14}"
        )
    for note in runs[0].notes:
        print(f"note: {note}")
    return 0


#: simulate --seeds K: measured key -> the prediction's key for the same quantity
_SEED_QUANTITIES = {"firing_rate": "firing_rate", "rho_hat": "rho", "log10_gain": "log10_gain"}


def _seeds(first: int, k: int) -> list[int]:
    """seed, seed+1, ..., seed+K−1, every one a valid seed."""
    from stabviz.config import RANGES
    from stabviz.intervals import seed_range

    return seed_range(first, k, int(RANGES["seed"][1]))


def _print_seeds(seeds: list[int], runs, pred: dict, as_json: bool) -> int:
    """simulate --seeds K (K ≥ 2): per-seed values, and the mean with its 95% interval over the seeds."""
    from stabviz import intervals

    per_seed = [{"seed": s, **m.to_dict()} for s, m in zip(seeds, runs)]
    summary = {
        q: {**intervals.mean_interval([r[q] for r in per_seed]).to_dict(), "values": [r[q] for r in per_seed]}
        for q in _SEED_QUANTITIES
    }
    if as_json:
        print(
            dumps(
                {
                    "seeds": seeds,
                    "confidence": intervals.CONFIDENCE,
                    "per_seed": per_seed,
                    "intervals": summary,
                    "predicted": pred,
                }
            )
        )
        return 0
    print(f"{'seed':<14}" + "".join(f"{q:>14}" for q in _SEED_QUANTITIES))
    for r in per_seed:
        print(f"{r['seed']:<14}" + "".join(f"{_fmt(r[q]):>14}" for q in _SEED_QUANTITIES))
    print(f"{'mean':<14}" + "".join(f"{_fmt(summary[q]['mean']):>14}" for q in _SEED_QUANTITIES))
    for end, name in ((0, "95% low"), (1, "95% high")):
        print(
            f"{name:<14}"
            + "".join(f"{_fmt((summary[q]['interval'] or [None, None])[end]):>14}" for q in _SEED_QUANTITIES)
        )
    for model in ("gaussian", "uniform"):
        print(f"{model:<14}" + "".join(f"{_fmt(pred[model][p]):>14}" for p in _SEED_QUANTITIES.values()))
    for note in sorted({n for m in runs for n in m.notes}):
        print(f"note: {note}")
    return 0


def cmd_measure_map(args: argparse.Namespace) -> int:
    cfg = lif_config_from_args(args)
    _check_simulation(args, cfg, "measure-map", min_burn_in=1)
    device = _device(args.device)
    from stabviz import measured

    # progress (on stderr, terminal or not) about a hundred times
    chunk = measured.progress_chunk(cfg, args.nx, args.ny, args.batch, updates=100)
    with Progress("measure-map", args.nx * args.ny, "cells") as progress:
        m = measured.measure_map(
            cfg,
            x=args.x,
            nx=args.nx,
            ny=args.ny,
            x_range=args.x_range,
            y_range=args.y_range,
            batch=args.batch,
            steps=args.sim_steps,
            burn_in=args.burn_in,
            device=device,
            progress=progress,
            chunk_elements=chunk,
            within_chunks=True,
        )
    d = m.to_dict()
    if args.json:
        print(dumps(d))
        return 0
    print(f"dampening × {m.x_name}: {len(m.y)} × {len(m.x)} cells measured in {m.seconds:.1f} s on {m.device}")
    print(f"regimes agree (measured vs predicted) in {m.agreement:.0%} of the cells")
    for name, codes in (("measured", d["measured_regime"]), ("predicted", d["predicted_regime"])):
        counts = {r: sum(row.count(r) for row in codes) for r in ("vanishing", "stable", "exploding")}
        print(f"{name:<10} " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print("use --json for the numbers")
    return 0


def _device(name: str) -> str:
    """'cpu', or 'cuda' when torch sees a GPU: a clear error instead of a CUDA traceback."""
    if name not in ("cpu", "cuda"):
        raise UsageError(f"--device {shown(name)} must be cpu or cuda")
    if name == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda, but torch sees no CUDA GPU here; use --device cpu")
    return name


def cmd_presets(args: argparse.Namespace) -> int:
    data = {
        name: {**preset(name).to_dict(), "tau": preset(name).tau, "note": PRESET_NOTES.get(name, "")}
        for name in PRESETS
    }
    if args.json:
        print(dumps(data))
        return 0
    for name, d in data.items():
        print(
            f"{name:<15} n_in {d['n_in']:>4}  n_rec {d['n_rec']:>4}  τ {d['tau']:<6.3g} "
            f"{d['shape']} γ={d['dampening']:g} β={d['sharpness']:g}   {d['note']}"
        )
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from stabviz import surrogates

    sg = library_surrogate(args)
    if sg is None:
        sg = lif_config_from_args(args).surrogate
    shape, g, b, q = sg.shape, sg.dampening, sg.sharpness, sg.tail  # for the text below
    table = surrogates.translation_table(sg)
    out = {
        "stabviz": sg.to_dict(),
        "libraries": [t.__dict__ if hasattr(t, "__dict__") else dict(t._asdict()) for t in table],
    }
    neuron = lif_config_from_args(args) if getattr(args, "neuron", None) not in (None, "lif") else None
    if neuron is not None:
        out["neuron"] = _neuron_translations(neuron)
    if args.json:
        print(dumps(out))
        return 0
    print(
        f"stabviz: shape={shape} dampening γ={g:.6g} sharpness β={b:.6g}"
        + (f" tail q={q:.6g}" if shape == "qpseudospike" else "")
    )
    for t in out["libraries"]:
        mark = "exact " if t["exact"] else "approx"
        print(f"  {mark} {t['name']:<28} {t['knob']}={_fmt(t['value'])}  {t['note']}")
    for t in out.get("neuron", []):
        print(
            f"  neuron={t['model']} {t['library']:<13} "
            + (f"{t['neuron']}: {t['note']}" if t["neuron"] else f"none: {t['note']}")
        )
    return 0


def _neuron_translations(cfg) -> list[dict]:
    """How each library builds ``cfg.neuron`` (--neuron alif / cuba), or why it has no such neuron."""
    from dataclasses import asdict

    from stabviz.surrogates.translate import LIBRARY_NEURONS, variant_to_library

    return [asdict(variant_to_library(library, cfg)) for library in LIBRARY_NEURONS]


def _library_options(p: argparse.ArgumentParser, what: str) -> None:
    """--from LIB.FUNC and its knob (--slope, --alpha, --scale as the function names it, or --value)."""
    p.add_argument("--from", dest="source", metavar="LIB.FUNC", help=what)
    for knob in LIBRARY_KNOBS:
        p.add_argument(
            f"--{knob}",
            dest=f"knob_{knob}",
            type=float,
            help="the --from function's knob (default: the library's)"
            if knob == "value"
            else f"the knob of the --from functions that call it {knob}",
        )


def _simulation_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", type=Whole(*SIM_BATCH), default=64, help="simulated sequences")
    p.add_argument("--sim-steps", type=Whole(*SIM_STEPS), default=300, help="simulated steps (including burn-in)")
    p.add_argument("--burn-in", type=Whole(*BURN_IN), default=100, help="steps left out of the measurement")
    p.add_argument("--device", default="cpu", help="cpu or cuda")


def register(subparsers, common: argparse.ArgumentParser, json_opt: argparse.ArgumentParser) -> None:
    """Add the theory commands to the main CLI: ``common`` carries the LIF options, ``json_opt`` --json."""
    p = subparsers.add_parser(
        "recommend",
        parents=[common, json_opt],
        help="will this setting train (P(collapse)), the recommended settings, conditions I-IV",
    )
    p.add_argument("--budget", type=Whole(1, 1_000_000), default=200, help="optimiser steps you plan (default 200)")
    p.add_argument("--layers", type=Whole(1, 3), default=1, help="recurrent layers (default 1)")
    p.add_argument(
        "--measure",
        action="store_true",
        help="score from a quick Monte-Carlo measurement of each setting's initial gain (imports torch; "
        "about 0.1 s per setting) instead of the theory's prediction",
    )
    _library_options(
        p,
        "the surrogate in a library's terms, e.g. --from snntorch.fast_sigmoid --slope 25 "
        "(replaces --sg, --dampening, --sharpness, --tail)",
    )
    p.set_defaults(func=cmd_recommend)

    p = subparsers.add_parser("region", parents=[common, json_opt], help="the stability map over two parameters")
    p.add_argument("--x", default="sharpness", choices=["dampening", "sharpness", "tail", "leak"])
    p.add_argument("--y", default="dampening", choices=["dampening", "sharpness", "tail", "leak"])
    p.add_argument("--nx", type=Whole(*REGION_GRID), default=200, help="grid columns, 2-2000")
    p.add_argument("--ny", type=Whole(*REGION_GRID), default=200, help="grid rows, 2-2000")
    p.add_argument("--x-range", type=float, nargs=2, metavar=("LO", "HI"))
    p.add_argument("--y-range", type=float, nargs=2, metavar=("LO", "HI"))
    p.add_argument("--log-x", action="store_true", help="log x axis (default: by parameter)")
    p.add_argument("--log-y", action="store_true", help="log y axis (default: by parameter)")
    p.add_argument("--csv", action="store_true", help="print one CSV row per cell")
    p.set_defaults(func=cmd_region)

    p = subparsers.add_parser(
        "simulate", parents=[common, json_opt], help="the measured (Monte-Carlo) check vs the models"
    )
    _simulation_options(p)
    p.add_argument(
        "--seeds",
        type=Whole(*SEEDS),
        default=1,
        metavar="K",
        help=f"simulate seeds seed ... seed+K−1 ({SEEDS[0]}-{SEEDS[1]}, default 1). K ≥ 2 prints each "
        "seed's firing rate, ρ̂ and T·log10 ρ̂ with their mean and 95%% Student-t interval; "
        "--json keys: seeds, confidence, per_seed (one measurement per seed, with its seed), "
        "intervals ({firing_rate, rho_hat, log10_gain}: mean, interval [lo, hi], n, left_out, "
        "values) and predicted (as for K = 1)",
    )
    p.set_defaults(func=cmd_simulate)

    p = subparsers.add_parser(
        "measure-map",
        parents=[common, json_opt],
        help="the measured stability map (simulation) beside the theory's, per cell",
    )
    p.add_argument("--x", default="sharpness", choices=["sharpness", "tail", "leak"])
    p.add_argument("--y", default="dampening", choices=["dampening"])
    p.add_argument("--nx", type=Whole(*MEASURE_GRID), default=24, help="grid columns, 2-200 (one simulation per cell)")
    p.add_argument("--ny", type=Whole(*MEASURE_GRID), default=24, help="grid rows, 2-200")
    p.add_argument("--x-range", type=float, nargs=2, metavar=("LO", "HI"))
    p.add_argument("--y-range", type=float, nargs=2, metavar=("LO", "HI"))
    _simulation_options(p)
    p.set_defaults(func=cmd_measure_map)

    p = subparsers.add_parser("presets", parents=[json_opt], help="the named settings")
    p.set_defaults(func=cmd_presets)

    p = subparsers.add_parser(
        "translate", parents=[common, json_opt], help="(γ, β, q) <-> other libraries' surrogate knobs"
    )
    _library_options(p, "e.g. snntorch.fast_sigmoid")
    p.set_defaults(func=cmd_translate)
