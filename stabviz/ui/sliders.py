"""Option grids and labels for the decade-spanning sliders (pure: no streamlit).

Dampening γ, sharpness β and tail-fatness q span several decades, and the leak α matters most as
α → 1, so their sliders step through log-spaced grids instead of a linear range. The current value
is always added to its grid: a preset, a clicked map cell or a shared link lands exactly where it says.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from stabviz.config import RANGES, check_range, leak_to_tau, show, tau_to_leak
from stabviz.plots import round_sig

#: name -> ascending grid of slider stops (3 significant digits; leak: τ with 3 significant digits).
GRIDS: dict[str, tuple[float, ...]] = {
    "dampening": tuple(map(float, round_sig(np.geomspace(1e-3, 100.0, 101)))),
    "sharpness": tuple(map(float, round_sig(np.geomspace(1e-2, 1000.0, 101)))),
    # q − 1 is what spans decades (q → 1 is the fat-tail limit), so the grid is log-spaced in q − 1.
    "tail": tuple(map(float, 1.0 + round_sig(np.geomspace(1e-2, 99.0, 81)))),
    "leak": (0.0,) + tuple(map(float, tau_to_leak(round_sig(np.geomspace(0.1, 5000.0, 95))))),
}
SLIDERS = tuple(GRIDS)


def options(name: str, current: float) -> list[float]:
    """The slider stops of ``name`` with ``current`` included."""
    grid = set(GRIDS[name])
    grid.add(float(current))
    return sorted(grid)


def plain(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits and no exponent (0.0000454, 1000, 1.5)."""
    return np.format_float_positional(value, precision=digits, unique=False, fractional=False, trim="-")


def _label(name: str, value: float, digits: int) -> str:
    if name == "leak":
        if value <= 0:
            return "0 (no memory)"
        tau = -1.0 / math.log(value)
        return f"{plain(value, digits + 1)} (τ = {plain(tau, digits)})"
    return plain(value, digits)


def labels(name: str, values: list[float]) -> dict[float, str]:
    """A distinct label per value: 3 significant digits, more only where two stops would read alike."""
    for digits in range(3, 17):
        out = {v: _label(name, v, digits) for v in values}
        if len(set(out.values())) == len(out):
            return out
    return {v: repr(v) for v in values}


@functools.lru_cache(maxsize=256)
def stops(name: str, current: float) -> tuple[list[float], dict[float, str]]:
    """(options, labels) of a slider at ``current``: cached, as every rerun draws every slider."""
    opts = options(name, current)
    return opts, labels(name, opts)


def nearest(name: str, value: float) -> float:
    """The grid stop closest to ``value`` (in log distance for the log-spaced grids)."""
    grid = np.asarray(GRIDS[name])
    if name == "leak":
        return float(grid[np.argmin(np.abs(grid - value))])
    return float(grid[np.argmin(np.abs(np.log(grid) - math.log(max(value, 1e-300))))])


def exact_text(value: float) -> str:
    """A typed twin's text for ``value``: the shortest text that reads back as the same float."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def parse_exact(name: str, text: str) -> float:
    """The value typed into the twin of slider ``name``: any number in the field's range (config.RANGES),
    not only a grid stop; ValueError with the field, the text and the allowed range otherwise."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{name} = {show(text.strip())} is not a number") from None
    check_range(name, value)
    return value


def tau_text(leak: float) -> str:
    """The τ twin's text for a leak α: τ = −1/ln α to 10 significant digits (τ = 20, not 20.000000000000004)."""
    return f"{leak_to_tau(leak):.10g}"


def parse_tau(text: str) -> float:
    """The leak α = exp(−1/τ) of a typed τ (τ = 0: no memory), inside the leak range; ValueError otherwise."""
    try:
        tau = float(text.strip())
    except ValueError:
        raise ValueError(f"τ = {show(text.strip())} is not a number") from None
    if tau == 0:
        return 0.0
    if not (math.isfinite(tau) and tau > 0):
        raise ValueError(f"τ = {show(text.strip())} must be a number in [0, inf) time steps")
    leak = tau_to_leak(tau)
    try:
        check_range("leak", leak)
    except ValueError:
        raise ValueError(
            f"τ = {tau:g} gives leak α = {leak:.6g}, outside the leak range; τ may be at most "
            f"{leak_to_tau(RANGES['leak'][1]):.6g} steps"
        ) from None
    return leak
