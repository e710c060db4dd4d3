"""Build stabviz/data/calibration.json: residuals of the measured per-step gain against the theory's.

    python scripts/calibrate.py [--settings 240] [--seed 0] [--out stabviz/data/calibration.json]
    python scripts/calibrate.py --neurons alif,cuba --settings 160 --seed 1 --force


Draws random settings (`sample_settings`), measures each with `simulate.measure` (burn-in at least 5τ),
and stores, per group (voltage model × reset family), the central interval of the per-step residual
log₁₀ρ̂ − log₁₀ρ, with the rows and the provenance. Takes a few minutes on two cores.

With ``--neurons``, it draws alif / cuba settings instead (`sample_variant_settings`) and replaces only
the variant groups ("alif:gaussian/subtract", ...), their rows ("variant_rows") and their provenance
("variant_provenance") in the existing table: the variants' predictions are the 2×2-block recursion with
the gaussian model's moments (subtractive reset) or the simulation's (the measured model, every reset).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stabviz import __version__, safeio, theory  # noqa: E402
from stabviz.calibration import DATA, group_of  # noqa: E402
from stabviz.config import DEFAULT_SURROGATE, INITS, RESETS, SHAPES, LIFConfig, preset  # noqa: E402

MODELS = ("uniform", "gaussian", "measured")
#: the central interval stored per group (a 90% interval: 5% of residuals on each side)
QUANTILES = (0.05, 0.95)


def sample_settings(rng: np.random.Generator, count: int, max_rec: int = 512) -> list[LIFConfig]:
    """Random settings over what users set: size, leak, threshold, reset, initialisation, surrogate."""
    out = []
    for _ in range(count):
        base = rng.choice(["paper-slmnist", "paper-shd"])
        reset = str(rng.choice(RESETS))
        shape = str(rng.choice(SHAPES))
        out.append(
            preset(
                base,
                n_rec=int(np.exp(rng.uniform(np.log(16), np.log(max_rec)))),
                tau=float(np.exp(rng.uniform(np.log(0.1), np.log(50.0)))),
                threshold=float(np.exp(rng.uniform(np.log(0.01), np.log(1.0)))),
                reset=reset,
                reset_grad=bool(rng.random() < 0.5),
                init_rec=str(rng.choice(INITS)),
                shape=shape,
                dampening=float(np.exp(rng.uniform(np.log(0.05), np.log(5.0)))),
                sharpness=float(np.exp(rng.uniform(np.log(0.1), np.log(30.0)))),
                tail=(
                    float(np.exp(rng.uniform(np.log(1.1), np.log(20.0))))
                    if shape == "qpseudospike"
                    else DEFAULT_SURROGATE.tail
                ),
                steps=int(rng.choice([50, 100, 200])),
                seed=int(rng.integers(0, 2**31 - 1)),
            )
        )
    return out


VARIANT_MODELS = ("gaussian", "measured")


def sample_variant_settings(
    rng: np.random.Generator, count: int, neurons: tuple[str, ...] = ("alif", "cuba"), max_rec: int = 256
) -> list[LIFConfig]:
    """`sample_settings`, each turned into one of ``neurons`` with random variant parameters: β_a in
    [0.02, 3], τ_a in [20, 500] steps, the adaptation gradient on or off, τ_s in [1, 20] steps; half of them
    with the subtractive reset (the only one the closed-form gaussian prediction covers)."""
    out = []
    for cfg in sample_settings(rng, count, max_rec):
        neuron = str(rng.choice(neurons))
        reset = "subtract" if rng.random() < 0.5 else str(rng.choice(["mult1", "mult2"]))
        out.append(
            cfg.replace(
                neuron=neuron,
                reset=reset,
                adapt_strength=float(np.exp(rng.uniform(np.log(0.02), np.log(3.0)))),
                adapt_decay=math.exp(-1 / float(np.exp(rng.uniform(np.log(20), np.log(500))))),
                adapt_grad=bool(rng.random() < 0.7),
                syn_decay=math.exp(-1 / float(np.exp(rng.uniform(0, np.log(20))))),
            )
        )
    return out


def measure_variant_row(cfg: LIFConfig) -> dict:
    """One alif / cuba setting: the observed per-step log₁₀ρ̂ and the block recursion's prediction under the
    gaussian model (closed form; None for the multiplicative resets, which it does not cover) and the
    measured one (this very simulation's coefficient moments)."""
    from stabviz import simulate, variant_gain

    burn = burn_in_for(cfg)
    m = simulate.measure(cfg, burn_in=burn, steps=burn + max(200, cfg.steps))
    gaussian = variant_gain.closed_form_gain(cfg)["gain"] if cfg.reset == "subtract" else None
    log = lambda g: math.log10(g) if g is not None and g > 0 else None  # noqa: E731
    return {
        "config": cfg.to_dict(),
        "observed": log(m.rho_hat),
        "gaussian": log(gaussian),
        "measured": log(m.block_rho),
    }


def variant_residual_groups(rows: list[dict]) -> dict[str, dict]:
    """Per variant group (neuron:model/reset family): the central interval of the per-step residuals."""
    res: dict[str, list[float]] = {}
    for row in rows:
        for model in VARIANT_MODELS:
            if row["observed"] is None or row[model] is None:
                continue
            group = group_of(model, row["config"]["reset"], row["config"]["neuron"])
            res.setdefault(group, []).append(row["observed"] - row[model])
    return {
        g: {
            "lo": float(np.quantile(r, QUANTILES[0])),
            "hi": float(np.quantile(r, QUANTILES[1])),
            "median": float(np.median(r)),
            "count": len(r),
        }
        for g, r in sorted(res.items())
    }


def burn_in_for(cfg: LIFConfig) -> int:
    """Long enough for the voltages to forget their zero start (5τ), never below the default 100."""
    return max(100, math.ceil(5 * cfg.tau))


def measure_row(cfg: LIFConfig) -> dict:
    """One setting: the observed per-step log₁₀ρ̂ and the prediction of each voltage model."""
    from stabviz import simulate

    burn = burn_in_for(cfg)
    m = simulate.measure(cfg, burn_in=burn, steps=burn + max(200, cfg.steps))
    row = {"config": cfg.to_dict(), "observed": math.log10(m.rho_hat) if m.rho_hat > 0 else None}
    for model in MODELS:
        # the measured model is this very simulation's voltages: no second run
        v = (
            theory.VoltageState(
                "measured",
                m.firing_rate,
                m.voltage_mean,
                m.voltage_std,
                cfg.threshold,
                samples=m.voltages,
                measurement=m,
            )
            if model == "measured"
            else theory.voltage_state(cfg, model)
        )
        e1, e2 = (float(x) for x in v.moments(cfg.surrogate))
        a, c, d = theory.gain_coefficients(cfg, v.firing_rate)
        rho2 = float(a + c * e2 + d * e1)
        row[model] = 0.5 * math.log10(rho2) if rho2 > 0 else None
    return row


def residual_groups(rows: list[dict]) -> dict[str, dict]:
    """Per group: the central interval of the per-step residuals, their median and count."""
    res: dict[str, list[float]] = {}
    for row in rows:
        for model in MODELS:
            if row["observed"] is None or row[model] is None:
                continue
            res.setdefault(group_of(model, row["config"]["reset"]), []).append(row["observed"] - row[model])
    return {
        g: {
            "lo": float(np.quantile(r, QUANTILES[0])),
            "hi": float(np.quantile(r, QUANTILES[1])),
            "median": float(np.median(r)),
            "count": len(r),
        }
        for g, r in sorted(res.items())
    }


def _with_variants(table: dict, neurons: tuple[str, ...], rows: list[dict], provenance: dict) -> dict:
    """``table`` with the groups, rows and provenance of ``neurons`` replaced (the LIF's kept as they are)."""
    kept = [r for r in table.get("variant_rows", []) if r["config"]["neuron"] not in neurons]
    groups = {g: v for g, v in table["groups"].items() if ":" not in g}
    return {
        **table,
        "groups": {**groups, **variant_residual_groups(kept + rows)},
        "variant_rows": kept + rows,
        "variant_provenance": provenance,
    }


def _commit() -> str:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
            ).stdout.strip()
            or "unknown"
        )
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", type=int, default=240)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DATA)
    ap.add_argument("--force", action="store_true", help="replace --out if it exists (it does by default)")
    ap.add_argument("--neurons", default="", help="comma-separated alif,cuba: refit only these variants' groups")
    args = ap.parse_args(argv)
    neurons = tuple(n for n in args.neurons.split(",") if n)
    if any(n not in ("alif", "cuba") for n in neurons):
        ap.error(f"--neurons {args.neurons!r}: each must be alif or cuba")
    try:
        safeio.check_target(args.out, args.force)  # before minutes of work, not after
    except safeio.UnsafeOutput as e:
        ap.error(f"--out {e}")
    import torch

    torch.set_num_threads(2)
    began = time.perf_counter()
    rows, skipped = [], []
    rng = np.random.default_rng(args.seed)
    settings = sample_variant_settings(rng, args.settings, neurons) if neurons else sample_settings(rng, args.settings)
    for i, cfg in enumerate(settings):
        try:
            rows.append(measure_variant_row(cfg) if neurons else measure_row(cfg))
        except ValueError as e:  # e.g. condition II unattainable for this init: no such layer exists
            skipped.append(str(e))
        print(f"\r{i + 1}/{args.settings} settings measured", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    provenance = {
        "script": "scripts/calibrate.py",
        "command": " ".join(sys.argv),
        "date": dt.date.today().isoformat(),
        "commit": _commit(),
        "stabviz": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "settings": args.settings,
        "skipped": len(skipped),
        "seed": args.seed,
        "quantiles": QUANTILES,
        "seconds": round(time.perf_counter() - began, 1),
        "measurement": "simulate.measure, batch 64, burn-in max(100, 5 tau), then max(200, T) measured steps",
    }
    if neurons:
        out = _with_variants(json.loads(args.out.read_text()), neurons, rows, {**provenance, "neurons": neurons})
    else:
        out = {"provenance": provenance, "groups": residual_groups(rows), "rows": rows}
    safeio.write_text(args.out, json.dumps(out, indent=1) + "\n", force=args.force)
    for g, v in out["groups"].items():
        if neurons and g.split(":")[0] not in neurons:
            continue
        print(
            f"{g:24s} n={v['count']:4d}  per-step residual median {v['median']:+.4f}  "
            f"90% [{v['lo']:+.4f}, {v['hi']:+.4f}]"
        )


if __name__ == "__main__":
    main()
