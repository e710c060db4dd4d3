"""Every CUDA path of stabviz, checked and timed in one run: what to execute the day a GPU is lent.

    python -m benchmarks.gpu_check                 # on the GPU: the issue's goals, met or not, as JSON
    python -m benchmarks.gpu_check --device cpu --small   # the same code on a CPU, tiny sizes (a test runs it)

Checks, each with its figures and, on CUDA, the goal it is held to:

- ``lif``: one recurrent layer, n = 512, batch 32, T = 100, forward + backward: eager and replayed as a
  captured CUDA graph (goal: graph ≤ 2.5 ms);
- ``confirmation``: the dashboard's default confirmation run (Explore's *Confirm with a short run* at the
  embedded default setting), eager and with the CUDA-graph step (goal: ≤ 2 s);
- ``ensemble``: 64 seeds as one ensemble against one run alone, whole runs (goal: ≤ 2× one);
- ``members_equal_runs``: 3 members' initial firing rate, ρ² and ρ̂ against separate runs on the device;
- ``measure_map``: the measured stability map, 24 × 24 on shd-tau20 (goal: ≤ 1 s).

The JSON goes to stdout, and to ``$OUT/gpu_check.json`` when OUT is set (the device tool's folder).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stabviz import measured, safeio, timing, train  # noqa: E402
from stabviz.config import LIFConfig, TrainConfig, preset  # noqa: E402

#: The issue's GPU goals (issue 11), by check.
GOALS = {
    "lif": ("graph_ms", 2.5),
    "confirmation": ("graph_s", 2.0),
    "ensemble": ("ratio", 2.0),
    "measure_map": ("seconds", 1.0),
}


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def _timed(fn: Callable[[], Any], device: str) -> tuple[float, Any]:
    _sync(device)
    start = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - start, out


def check_lif(device: str, small: bool) -> dict[str, Any]:
    cfg = preset("shd-tau20", n_rec=32 if small else 512)
    batch, steps = (4, 10) if small else (32, 100)
    if device == "cuda":
        return timing.bench_lif_cuda(cfg, batch=batch, steps=steps)
    return timing.bench_lif(cfg, batch=batch, steps=steps, reps=3)


def confirmation_config(device: str, small: bool) -> TrainConfig:
    """The run Explore's confirmation button queues at the embedded default setting."""
    from stabviz.ui.runlaunch import quick_config

    cfg = quick_config(LIFConfig(), device=device)
    return cfg.replace(train_steps=3, samples=40, lif=cfg.lif.replace(n_in=20, n_rec=16)) if small else cfg


def check_confirmation(device: str, small: bool) -> dict[str, Any]:
    cfg = confirmation_config(device, small)
    train.run(cfg.replace(train_steps=2, log_every=1))  # warm-up: first use of the kernels
    eager_s, eager = _timed(lambda: train.run(cfg, cuda_graph=False), device)
    graph_s, graphed = _timed(lambda: train.run(cfg, cuda_graph=True), device)
    return {
        "train_steps": cfg.train_steps,
        "batch": cfg.batch,
        "time_steps": cfg.time_steps,
        "n_rec": cfg.lif.n_rec,
        "eager_s": eager_s,
        "graph_s": graph_s,
        "graph_execution": graphed["execution"],
        "eager_accuracy": eager["final"]["accuracy"],
        "graph_accuracy": graphed["final"]["accuracy"],
    }


def _seeds(cfg: TrainConfig, k: int) -> list[TrainConfig]:
    return [cfg.replace(lif=cfg.lif.replace(seed=cfg.lif.seed + i)) for i in range(k)]


def check_ensemble(device: str, small: bool) -> dict[str, Any]:
    cfg = confirmation_config(device, small).replace(train_steps=3 if small else 50)
    members = 4 if small else 64
    train.run_ensemble([(cfg.replace(train_steps=1), None)])  # warm-up
    one_s, _ = _timed(lambda: train.run_ensemble([(cfg, None)]), device)
    many_s, out = _timed(lambda: train.run_ensemble([(c, None) for c in _seeds(cfg, members)]), device)
    return {
        "members": members,
        "train_steps": cfg.train_steps,
        "one_s": one_s,
        "ensemble_s": many_s,
        "ratio": many_s / one_s,
        "execution": out[0]["execution"],
    }


def check_members_equal_runs(device: str, small: bool) -> dict[str, Any]:
    cfg = confirmation_config(device, small).replace(train_steps=2)
    cfgs = _seeds(cfg, 3)
    together = train.run_ensemble([(c, None) for c in cfgs])
    worst = 0.0
    for c, got in zip(cfgs, together):
        alone = train.run(c)
        for key in ("firing_rate", "rho2", "grad_gain"):
            a, b = np.asarray(got["initial"][key], float), np.asarray(alone["initial"][key], float)
            worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))))
    return {"members": len(cfgs), "worst_relative_difference": worst, "equal": worst <= 1e-4}


def check_measure_map(device: str, small: bool) -> dict[str, Any]:
    cfg = preset("shd-tau20", n_rec=16 if small else 256)
    n, kw = (4, dict(batch=4, steps=20, burn_in=5)) if small else (24, {})
    measured.measure_map(cfg, nx=n, ny=n, device=device, **kw)  # warm-up
    times = [_timed(lambda: measured.measure_map(cfg, nx=n, ny=n, device=device, **kw), device)[0] for _ in range(3)]
    return {"cells": n * n, "seconds": float(np.median(times)), "all_seconds": times}


CHECKS = {
    "lif": check_lif,
    "confirmation": check_confirmation,
    "ensemble": check_ensemble,
    "members_equal_runs": check_members_equal_runs,
    "measure_map": check_measure_map,
}


def run_checks(device: str, small: bool) -> dict[str, Any]:
    """Every check's figures (or its one-line error), with the goal and whether it is met on CUDA."""
    import torch

    report: dict[str, Any] = {
        "device": device,
        "small": small,
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
        "date": time.strftime("%Y-%m-%d"),
        "checks": {},
    }
    for name, check in CHECKS.items():
        try:
            result = check(device, small)
        except Exception as exc:  # one failing path must not hide the others' figures
            result = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
        if name in GOALS and device == "cuda" and not small and "error" not in result:
            key, limit = GOALS[name]
            result["goal"] = f"{key} <= {limit}"
            result["met"] = result[key] <= limit
        report["checks"][name] = result
        print(f"{name}: {json.dumps(result, default=str)}", file=sys.stderr, flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--small", action="store_true", help="tiny sizes: checks the code, not the speed")
    ap.add_argument("--force", action="store_true", help="replace $OUT/gpu_check.json if it exists")
    args = ap.parse_args(argv)
    target = Path(os.environ["OUT"], "gpu_check.json") if os.environ.get("OUT") else None
    if target is not None:
        try:
            safeio.check_target(target, args.force)  # before the checks, not after
        except safeio.UnsafeOutput as e:
            ap.error(f"$OUT: {e}")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("gpu_check: no CUDA device here (use --device cpu --small to check the code)", file=sys.stderr)
            return 2
    report = run_checks(args.device, args.small)
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if target is not None:
        safeio.write_text(target, text, force=args.force)
    return 0 if all("error" not in r for r in report["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
