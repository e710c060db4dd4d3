"""Pieces of the Sweep page: parameters, the measured grid, the predicted boundary."""
from __future__ import annotations

import math
import os
from typing import Any, Mapping, Sequence

import numpy as np

from stabviz.config import LIFConfig
from stabviz.runs import ACTIVE, parse_values

#: Parameters offered on the Sweep page (any LIFConfig or TrainConfig field works from the CLI).
PARAMETERS = ("dampening", "sharpness", "tail", "leak", "n_rec", "threshold", "lr", "batch", "train_steps")
#: Parameters the theory can draw a stable region over.
REGION_AXES = ("dampening", "sharpness", "tail", "leak")
DEFAULT_VALUES = {"dampening": "0.1, 0.3, 1, 3", "sharpness": "0.3, 1, 3, 10", "tail": "1.1, 1.56, 3, 10",
                  "leak": "0, 0.5, 0.9, 0.95", "n_rec": "32, 64, 128", "threshold": "0.01, 0.1, 1",
                  "lr": "0.0005, 0.002, 0.01", "batch": "16, 32, 64", "train_steps": "50, 100, 200"}
LOG_PARAMETERS = ("dampening", "sharpness", "tail", "n_rec", "threshold", "lr", "batch", "train_steps")


def _initial_rate(s: Mapping[str, Any]) -> float | None:
    rates = (s.get("initial") or {}).get("firing_rate") or []
    return rates[0] if rates else None


def _measured_log10_gain(s: Mapping[str, Any], lif: Mapping[str, Any]) -> float | None:
    rho = (s.get("initial") or {}).get("grad_gain")
    if not rho or rho <= 0:
        return None
    return lif.get("steps", 100) * math.log10(rho)


#: Measured outcome -> (label, how to read it from a run's summary and its LIF setting).
METRICS = {
    "final accuracy": lambda s, lif: (s.get("final") or {}).get("accuracy"),
    "measured log₁₀ gain over T (T·log₁₀ ρ̂)": _measured_log10_gain,
    "measured ρ̂ (per-step gradient gain)": lambda s, lif: (s.get("initial") or {}).get("grad_gain"),
    "initial firing rate (layer 0)": lambda s, lif: _initial_rate(s),
}


def launchers_available() -> tuple[str, ...]:
    """local always; ray when a cluster is configured (RAY_ADDRESS)."""
    return ("local", "ray") if os.environ.get("RAY_ADDRESS") else ("local",)


def parse(name: str, text: str) -> list[Any]:
    """Comma-separated values of a sweep parameter (ValueError with the reason)."""
    values = parse_values(name, text)
    if len(set(values)) != len(values):
        raise ValueError(f"{name} values = {text!r} repeat a value")
    return sorted(values)


def grid(runs: Sequence[Mapping[str, Any]], x: str, y: str, xs: Sequence[float], ys: Sequence[float],
         metric: str) -> tuple[np.ndarray, int]:
    """(z of shape (len(ys), len(xs)) with NaN where no finished value yet, number finished)."""
    z = np.full((len(ys), len(xs)), np.nan)
    done = 0
    read = METRICS[metric]
    for r in runs:
        point = r.get("sweep_point") or {}
        if r["status"] in ACTIVE or x not in point or y not in point:
            continue
        done += 1
        lif = (r.get("config") or {}).get("lif") or {}
        value = read(r.get("summary") or {}, lif)
        if value is None:
            continue
        i, j = _index(ys, point[y]), _index(xs, point[x])
        if i is not None and j is not None:
            z[i, j] = value
    return z, done


def _index(values: Sequence[float], v: float) -> int | None:
    for k, w in enumerate(values):
        if w == v or (isinstance(w, float) and math.isclose(w, v, rel_tol=1e-9)):
            return k
    return None


def boundary_config(base: Mapping[str, Any]) -> LIFConfig:
    """The LIF setting the predicted boundary is computed at: the sweep's base."""
    return LIFConfig.from_dict(base.get("lif") or {})


def sweeps_in(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Sweep ids among ``runs``, newest first."""
    seen: list[str] = []
    for r in runs:
        if r.get("sweep_id") and r["sweep_id"] not in seen:
            seen.append(r["sweep_id"])
    return seen
