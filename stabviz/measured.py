"""The measured stability map: the per-step backward gain ρ̂ of `simulate.measure`, over a whole
(x, dampening) grid, beside the theory's prediction on the same grid (docs/theory.md, "where the theory is
known to fail").

Why it is cheap: the surrogate (γ, β, q) does not change the forward pass. A (sharpness or tail) ×
dampening map therefore needs one forward simulation, recorded, and then one push-back per cell, all cells
pushed back together as one batched matmul per step. A leak axis changes the forward pass (and the weights,
through conditions I/II), so it needs one forward simulation per column, its dampening cells batched.

Every cell reproduces `simulate.measure` at that setting with the same seed: the same weights, inputs and
random start vector, the same steps pushed back.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from stabviz import memory, neuron, simulate, theory
from stabviz.config import LIFConfig
from stabviz.jsonsafe import finite_or_none
from stabviz.weights import layer_weights

X_AXES = ("sharpness", "tail", "leak")
#: cells pushed back together at most (bounds memory: a few tensors of cells × batch × n floats)
MAX_CHUNK_ELEMENTS = 24_000_000
#: push-back steps between two progress reports inside one chunk
PUSHBACK_REPORT_EVERY = 10

Progress = Callable[[int, int], None]


@dataclass
class MeasuredMap:
    """Measured and predicted T·log₁₀(per-step gain) on one (x, dampening) grid; arrays are (ny, nx)."""
    x_name: str
    y_name: str
    x: np.ndarray
    y: np.ndarray
    log_x: bool
    measured_log10_gain: np.ndarray
    predicted_log10_gain: np.ndarray
    measured_regime: np.ndarray
    predicted_regime: np.ndarray
    rho_hat: np.ndarray
    tolerance: float
    seconds: float
    device: str

    @property
    def agreement(self) -> float:
        """Fraction of cells whose measured and predicted regimes agree."""
        return float(np.mean(self.measured_regime == self.predicted_regime))

    def to_dict(self) -> dict[str, Any]:
        return finite_or_none({
            "x_name": self.x_name, "y_name": self.y_name, "x": self.x.tolist(), "y": self.y.tolist(),
            "measured_log10_gain": self.measured_log10_gain.tolist(),
            "predicted_log10_gain": self.predicted_log10_gain.tolist(),
            "measured_regime": _regime_names(self.measured_regime),
            "predicted_regime": _regime_names(self.predicted_regime),
            "rho_hat": self.rho_hat.tolist(), "agreement": self.agreement, "tolerance": self.tolerance,
            "seconds": self.seconds, "device": self.device})


def _regime_names(codes: np.ndarray) -> list[list[str]]:
    names = theory.REGIME_NAMES
    return [[names[int(c)] for c in row] for row in codes]


def _check_memory(cfg: LIFConfig, nx: int, ny: int, batch: int, steps: int, burn_in: int,
                  chunk_elements: int = MAX_CHUNK_ELEMENTS) -> None:
    """The forward pass costs what `simulate.measure` costs; the push-back adds about six float32 tensors
    of one chunk of cells (delta, σ', c, r·delta, the product, the norm's input)."""
    chunk = min(chunk_elements, nx * ny * batch * cfg.n_rec)
    need = memory.estimate_simulate_bytes(cfg, batch=batch, steps=steps, burn_in=burn_in) + 6 * 4 * chunk
    memory.check_memory(f"the measured map ({ny} × {nx} cells, n_rec = {cfg.n_rec}, batch {batch})", need)


@dataclass
class _Trace:
    """What the push-back needs of one forward simulation: the states before each of the last T steps."""
    w_rec: torch.Tensor
    y_prev: list[torch.Tensor]
    z_prev: list[torch.Tensor]
    drive: list[torch.Tensor]
    start: torch.Tensor          # the random unit vector the push-back starts from, (batch, n), float64


def measure_map(cfg: LIFConfig, x: str = "sharpness", nx: int = 24, ny: int = 24,
                x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
                batch: int = 64, steps: int = 300, burn_in: int = 100, seed: int | None = None,
                device: str = "cpu", progress: Progress | None = None,
                chunk_elements: int = MAX_CHUNK_ELEMENTS, within_chunks: bool = False) -> MeasuredMap:
    """ρ̂ measured on every cell of the (x, dampening) grid that `theory.region` draws, with the same
    simulation settings as `simulate.measure` (batch, steps, burn_in, seed).

    ``chunk_elements`` bounds the cells pushed back together (cells × batch × n_rec, at least one column);
    ``progress`` is called after each chunk, so a smaller bound reports more often (the dashboard's);
    ``within_chunks`` also every PUSHBACK_REPORT_EVERY steps inside one, counting its cells in proportion
    (the CLI's: a big grid's first chunk can take minutes, and its estimate must not wait for it).
    """
    if x not in X_AXES:
        raise ValueError(f"x = {x!r} is not one of: {', '.join(X_AXES)}")
    if not (1 <= burn_in < steps):
        raise ValueError(f"burn_in = {burn_in} must be in [1, steps = {steps})")
    _check_memory(cfg, nx, ny, batch, steps, burn_in, chunk_elements)
    began = time.perf_counter()
    pred = theory.region(cfg, x=x, y="dampening", nx=nx, ny=ny, x_range=x_range, y_range=y_range)
    seed = cfg.seed if seed is None else seed
    gammas = torch.tensor(pred.y, dtype=torch.float32, device=device)
    rho = np.empty((ny, nx))
    report = progress or (lambda done, total: None)
    if x == "leak":
        for j, leak in enumerate(pred.x):
            col = cfg.replace(leak=float(leak))
            trace = _forward_trace(col, batch, steps, burn_in, seed, device)
            rho[:, j] = _pushback(col, trace, gammas, [(col.sharpness, col.tail)])[:, 0]
            report((j + 1) * ny, nx * ny)
    else:
        report(0, nx * ny)
        trace = _forward_trace(cfg, batch, steps, burn_in, seed, device)
        units = [(float(v), cfg.tail) if x == "sharpness" else (cfg.sharpness, float(v)) for v in pred.x]
        rho[:] = _pushback(cfg, trace, gammas, units, lambda done: report(done, nx * ny), chunk_elements,
                           within_chunks)
    with np.errstate(divide="ignore"):
        measured = np.where(rho > 0, cfg.steps * np.log10(np.where(rho > 0, rho, 1.0)), -np.inf)
    return MeasuredMap(x, "dampening", pred.x, pred.y, pred.log_x, measured, pred.log10_gain,
                       theory.regime_of(measured, cfg.tolerance), pred.regime, rho, cfg.tolerance,
                       time.perf_counter() - began, str(device))


@torch.no_grad()
def _forward_trace(cfg: LIFConfig, batch: int, steps: int, burn_in: int, seed: int, device: str) -> _Trace:
    """The forward pass of `simulate.measure` (same generator draws in the same order), keeping the
    states the last ``cfg.steps`` measured steps start from."""
    gen = torch.Generator().manual_seed(seed)
    w_in, w_rec, bias = layer_weights(cfg, generator=gen)
    inputs = simulate.bernoulli_inputs(cfg, batch, steps, gen)
    w_in, w_rec, bias, inputs = (t.to(device) for t in (w_in, w_rec, bias, inputs))
    current = inputs @ w_in + bias
    y = torch.zeros(batch, w_rec.shape[0], dtype=inputs.dtype, device=device)
    z = torch.zeros_like(y)
    first_kept = max(burn_in, steps - cfg.steps)
    ys, zs, drives = [], [], []
    for t in range(steps):
        drive = current[:, t] + z @ w_rec
        if t >= first_kept:
            ys.append(y), zs.append(z), drives.append(drive)
        y = neuron.integrate(y, z, drive, cfg.leak, cfg.threshold, cfg.reset)
        z = neuron.fire(y, cfg.threshold)
    start = torch.randn(batch, w_rec.shape[0], generator=gen, dtype=torch.float64)
    return _Trace(w_rec, ys, zs, drives, start)


@torch.no_grad()
def _pushback(cfg: LIFConfig, trace: _Trace, gammas: torch.Tensor, units: list[tuple[float, float]],
              done: Callable[[int], None] | None = None, chunk_elements: int = MAX_CHUNK_ELEMENTS,
              within_chunks: bool = False) -> np.ndarray:
    """ρ̂ for every (dampening, unit) pair, shape (len(gammas), len(units)).

    ``units`` are the (sharpness, tail) of each column; a cell's surrogate is γ · σ'₁(v; β, q), so each
    step evaluates σ'₁ once per column and scales it by every γ.
    """
    batch, n = trace.start.shape
    ny, nx = len(gammas), len(units)
    steps = max(len(trace.y_prev), 1)
    per_cell = batch * n
    cols_per_chunk = max(1, min(nx, chunk_elements // max(per_cell * ny, 1)))
    out = np.empty((ny, nx))
    for lo in range(0, nx, cols_per_chunk):
        chunk = units[lo:lo + cols_per_chunk]
        part = _partial(done, ny * lo, ny * len(chunk), steps) if within_chunks else None
        out[:, lo:lo + len(chunk)] = _pushback_chunk(cfg, trace, gammas, chunk, part)
        if done:
            done(ny * (lo + len(chunk)))
    return out


def _partial(done: Callable[[int], None] | None, before: int, cells: int, steps: int) -> Callable[[int], None] | None:
    """Within a chunk of ``cells`` cells, after ``before`` done: its cells counted in proportion to the steps
    pushed back."""
    return None if done is None else lambda step: done(before + cells * step // steps)


def _pushback_chunk(cfg: LIFConfig, trace: _Trace, gammas: torch.Tensor,
                    units: list[tuple[float, float]], step_done: Callable[[int], None] | None = None) -> np.ndarray:
    """The push-back of `simulate._pushback_gain`, for ny × len(units) cells at once; ``step_done(k)``
    after every PUSHBACK_REPORT_EVERY of its steps."""
    ny, k = len(gammas), len(units)
    batch, n = trace.start.shape
    dev, dtype = trace.w_rec.device, trace.w_rec.dtype
    beta = torch.tensor([u[0] for u in units], dtype=dtype, device=dev).view(k, 1, 1)
    tail = torch.tensor([u[1] for u in units], dtype=dtype, device=dev).view(k, 1, 1)
    gam = gammas.to(dtype).view(ny, 1, 1, 1)
    start = trace.start.to(device=dev, dtype=dtype)
    start = start / start.norm(dim=1, keepdim=True)
    delta = start.expand(ny, k, batch, n).contiguous()
    log_growth = torch.zeros(ny, k, batch, dtype=torch.float64, device=dev)
    w_t = trace.w_rec.t()
    for step, (y, z, drive) in enumerate(zip(reversed(trace.y_prev), reversed(trace.z_prev), reversed(trace.drive))):
        if step_done is not None and step and step % PUSHBACK_REPORT_EVERY == 0:
            step_done(step)
        unit = simulate.sg_prime_torch(y - cfg.threshold, cfg.shape, 1.0, beta, tail)    # (k, batch, n)
        s = gam * unit                                                                 # (ny, k, batch, n)
        c, r = simulate.transition_terms(cfg, cfg.leak, cfg.threshold, y, z, s, drive)
        delta = c * delta + s * ((r * delta) @ w_t)
        norm = delta.norm(dim=-1, keepdim=True)
        log_growth += torch.log(norm.squeeze(-1).double().clamp_min(1e-300))
        delta = delta / norm.clamp_min(1e-30)
    if not trace.y_prev:
        return np.full((ny, k), math.nan)
    per_step = log_growth.median(dim=-1).values / len(trace.y_prev)
    return torch.exp(per_step).cpu().numpy()
