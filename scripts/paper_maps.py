"""Build stabviz/data/paper_maps.json: the measured stability maps and the paper's demos that the Learn page
shows under "Where the theory holds".

    python scripts/paper_maps.py [--n 24] [--out stabviz/data/paper_maps.json]

For each map in MAPS, `measured.measure_map` (the same numbers as `python -m stabviz measure-map`) gives the
measured and the predicted T·log₁₀ gain on one (x, dampening) grid. For each demo of the Learn page
(`stabviz.paper_demos.DEMOS`), `simulate.measure` gives the measured per-step gain at that setting. Numbers are
rounded to 3 decimals (the file stays small); the provenance records the command, commit and date.
Takes about a minute on two cores.
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

from stabviz import __version__, measured, safeio, simulate, theory  # noqa: E402
from stabviz.config import preset  # noqa: E402
from stabviz.paper_demos import DATA, DEMOS, MAPS, demo_config  # noqa: E402


def _rounded(a) -> list:
    """Lists of floats rounded to 3 decimals; -inf (a gain of exactly zero) becomes None."""
    arr = np.asarray(a, dtype=float)
    out = np.round(arr, 3).astype(object)
    out[~np.isfinite(arr)] = None
    return out.tolist()


def map_entry(spec: dict, n: int) -> dict:
    cfg = preset(spec["preset"], **spec.get("changes", {}))
    m = measured.measure_map(cfg, x=spec["x"], nx=n, ny=n)
    return {
        **spec,
        "x_values": _rounded(m.x),
        "y_values": _rounded(m.y),
        "log_x": m.log_x,
        "measured_log10_gain": _rounded(m.measured_log10_gain),
        "predicted_log10_gain": _rounded(m.predicted_log10_gain),
        "measured_regime": m.to_dict()["measured_regime"],
        "predicted_regime": m.to_dict()["predicted_regime"],
        "agreement": round(m.agreement, 4),
        "tolerance": m.tolerance,
        "steps": cfg.steps,
        "seconds": round(m.seconds, 1),
    }


def demo_entry(demo: dict) -> dict:
    cfg = demo_config(demo)
    m = simulate.measure(cfg)
    log10 = cfg.steps * math.log10(m.rho_hat) if m.rho_hat > 0 else None
    regime = None if log10 is None else theory.REGIMES[int(theory.regime_of(log10, cfg.tolerance)) + 1]
    return {
        "id": demo["id"],
        "measured_log10_gain": None if log10 is None else round(log10, 3),
        "measured_regime": regime,
        "firing_rate": round(m.firing_rate, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=24, help="cells per axis")
    ap.add_argument("--out", type=Path, default=DATA)
    ap.add_argument("--force", action="store_true", help="replace --out if it exists (it does by default)")
    args = ap.parse_args()
    try:
        safeio.check_target(args.out, args.force)  # before minutes of work, not after
    except safeio.UnsafeOutput as e:
        ap.error(f"--out {e}")
    began = time.perf_counter()
    maps = []
    for spec in MAPS:
        maps.append(map_entry(spec, args.n))
        print(f"{spec['id']}: agreement {maps[-1]['agreement']:.0%} in {maps[-1]['seconds']} s", file=sys.stderr)
    demos = [demo_entry(d) for d in DEMOS]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    import torch

    data = {
        "provenance": {
            "script": "scripts/paper_maps.py",
            "command": " ".join(["scripts/paper_maps.py", *sys.argv[1:]]),
            "date": dt.date.today().isoformat(),
            "commit": commit,
            "stabviz": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "seconds": round(time.perf_counter() - began, 1),
            "measurement": "measured.measure_map and simulate.measure defaults: batch 64, "
            "300 steps, burn-in 100, the preset's seed",
        },
        "maps": maps,
        "demos": demos,
    }
    safeio.write_text(args.out, json.dumps(data, separators=(",", ":")) + "\n", force=args.force)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
