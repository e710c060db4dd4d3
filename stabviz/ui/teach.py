"""Tiny numpy simulations for the Learn page (pure: no streamlit, no torch).

They run the discrete LIF step of docs/theory.md#11-the-layer-equations-l1-to-l3 (stabviz.neuron) for one neuron and for
a small network, small
enough to run on every slider move. The real, tested simulation is :mod:`stabviz.simulate` (torch); this
one exists to draw a membrane trace and a raster plot a student can poke at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from stabviz import neuron
from stabviz.config import RESETS, check_choice, check_range


@dataclass
class Trace:
    """One neuron over time: input current I_t, voltage y_t (after the step), spikes z_t."""

    t: np.ndarray
    drive: np.ndarray
    voltage: np.ndarray
    spikes: np.ndarray

    @property
    def rate(self) -> float:
        return float(self.spikes.mean())


def lif_step(
    y: np.ndarray, z: np.ndarray, current: np.ndarray, leak: float, threshold: float, reset: str
) -> tuple[np.ndarray, np.ndarray]:
    """One step of docs/theory.md#11-the-layer-equations-l1-to-l3 (L1)-(L3): returns (y_t, z_t) from (y_{t−1}, z_{t−1})
    and I_t."""
    return neuron.step(y, z, current, leak, threshold, reset)


def _check(leak: float, threshold: float, reset: str, steps: int) -> None:
    check_range("leak", leak)
    check_range("threshold", threshold)
    check_choice("reset", reset, RESETS)
    if not (isinstance(steps, int) and 1 <= steps <= 10_000):
        raise ValueError(f"steps = {steps!r} is outside the allowed range [1, 10000]")


def neuron_trace(
    leak: float, threshold: float, drive: float, noise: float, steps: int = 200, reset: str = "subtract", seed: int = 0
) -> Trace:
    """One LIF neuron driven by a constant current ``drive`` plus gaussian noise of std ``noise``
    (both in voltage units per step)."""
    _check(leak, threshold, reset, steps)
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise = {noise!r} is outside the allowed range [0, inf)")
    current = drive + noise * np.random.default_rng(seed).standard_normal(steps)
    y, z = np.zeros(1), np.zeros(1)
    ys, zs = np.empty(steps), np.empty(steps)
    for t in range(steps):
        y, z = lif_step(y, z, current[t : t + 1], leak, threshold, reset)
        ys[t], zs[t] = y[0], z[0]
    return Trace(np.arange(steps), current, ys, zs)


def network_spikes(
    n: int,
    n_in: int,
    leak: float,
    threshold: float,
    reset: str,
    input_rate: float,
    rec_scale: float = 1.0,
    in_scale: float = 1.0,
    steps: int = 150,
    seed: int = 0,
) -> np.ndarray:
    """Spikes (steps, n) of a small recurrent layer: Glorot-uniform W_in and W_rec (zero diagonal),
    scaled by ``in_scale`` and ``rec_scale``, driven by Bernoulli(``input_rate``) input spikes."""
    _check(leak, threshold, reset, steps)
    if not (2 <= n <= 2000 and 1 <= n_in <= 5000):
        raise ValueError(f"network size n = {n}, n_in = {n_in} is outside [2, 2000] × [1, 5000]")
    if not 0.0 <= input_rate <= 1.0:
        raise ValueError(f"input_rate = {input_rate!r} is outside the allowed range [0, 1]")
    rng = np.random.default_rng(seed)
    w_in = rng.uniform(-1, 1, (n_in, n)) * math.sqrt(6.0 / (n_in + n)) * in_scale
    w_rec = rng.uniform(-1, 1, (n, n)) * math.sqrt(6.0 / (2 * n)) * rec_scale
    np.fill_diagonal(w_rec, 0.0)
    x = (rng.random((steps, n_in)) < input_rate).astype(float)
    y, z = np.zeros(n), np.zeros(n)
    out = np.empty((steps, n))
    for t in range(steps):
        y, z_new = lif_step(y, z, x[t] @ w_in + z @ w_rec, leak, threshold, reset)
        z = z_new
        out[t] = z
    return out
