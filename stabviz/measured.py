"""The measured stability map: the per-step backward gain ρ̂ of `simulate.measure`, over a whole
(x, dampening) grid, beside the theory's prediction on the same grid (docs/theory.md, "where the theory is
known to fail").

Why it is cheap: the surrogate (γ, β, q) does not change the forward pass. A (sharpness or tail) ×
dampening map therefore needs one forward simulation, recorded, and then one push-back per cell; the cells
are pushed back in blocks (a column of cells per block at n = 256 on the CPU), each block's cells together as
one matmul per step, through all T steps in a few buffers that stay in cache. A leak axis changes the forward
pass (and the weights, through conditions I/II), so it needs one forward simulation per column, its
dampening cells batched. On a CPU with several torch threads, blocks (or leak columns) run in parallel
threads, each one-threaded. The push-back's matmuls are almost all of the time (docs/performance.md).

Every cell reproduces `simulate.measure` at that setting with the same seed: the same weights, inputs and
random start vector, the same steps pushed back.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stabviz import memory, neuron, simulate, theory, variant_gain
from stabviz.config import LIFConfig
from stabviz.jsonsafe import finite_or_none
from stabviz.weights import layer_weights

X_AXES = ("sharpness", "tail", "leak")
#: cells pushed back together at most (bounds memory: a few tensors of cells × batch × n floats)
MAX_CHUNK_ELEMENTS = 24_000_000
#: push-back steps between two progress reports inside one chunk
PUSHBACK_REPORT_EVERY = 10

Progress = Callable[[int, int], None]


def progress_chunk(cfg: LIFConfig, nx: int, ny: int, batch: int, updates: int) -> int:
    """``chunk_elements`` for :func:`measure_map` that pushes back whole columns of cells in about ``updates``
    chunks (at least one column, at most MAX_CHUNK_ELEMENTS), so that progress and its estimate come early."""
    column = ny * batch * cfg.n_rec  # push-back elements of one column of cells
    return min(MAX_CHUNK_ELEMENTS, column * math.ceil(nx / updates))


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
        return finite_or_none(
            {
                "x_name": self.x_name,
                "y_name": self.y_name,
                "x": self.x.tolist(),
                "y": self.y.tolist(),
                "measured_log10_gain": self.measured_log10_gain.tolist(),
                "predicted_log10_gain": self.predicted_log10_gain.tolist(),
                "measured_regime": _regime_names(self.measured_regime),
                "predicted_regime": _regime_names(self.predicted_regime),
                "rho_hat": self.rho_hat.tolist(),
                "agreement": self.agreement,
                "tolerance": self.tolerance,
                "seconds": self.seconds,
                "device": self.device,
            }
        )


def _regime_names(codes: np.ndarray) -> list[list[str]]:
    names = theory.REGIME_NAMES
    return [[names[int(c)] for c in row] for row in codes]


def _check_memory(
    cfg: LIFConfig, nx: int, ny: int, batch: int, steps: int, burn_in: int, chunk_elements: int = MAX_CHUNK_ELEMENTS
) -> None:
    """The forward pass costs what `simulate.measure` costs; the push-back adds about six float32 tensors
    of one chunk of cells (delta, σ', c, r·delta, the product, the norm's input)."""
    chunk = min(chunk_elements, nx * ny * batch * cfg.n_rec)
    need = memory.estimate_simulate_bytes(cfg, batch=batch, steps=steps, burn_in=burn_in) + 6 * 4 * chunk
    memory.check_memory(f"the measured map ({ny} × {nx} cells, n_rec = {cfg.n_rec}, batch {batch})", need)


@dataclass
class _Trace:
    """What the push-back needs of one forward simulation, for the last T steps in time order, each stacked
    as (T, batch, n): the voltage before the step, and the terms of M_t that do not depend on the surrogate."""

    w_rec: torch.Tensor
    y_prev: torch.Tensor  # y_{t−1}: σ' is evaluated there
    keep: torch.Tensor | None  # r of M_t where it is not 1 (mult1: 1 − z_{t−1})
    c0: torch.Tensor | float  # c = c0 − c1·s: the diagonal term without the surrogate
    c1: torch.Tensor | float | None  # the reset gradient's factor of s (None when the reset gradient is off)
    start: torch.Tensor  # the random unit vector the push-back starts from, (batch, n), float64

    @property
    def steps(self) -> int:
        return self.y_prev.shape[0]


def measure_map(
    cfg: LIFConfig,
    x: str = "sharpness",
    nx: int = 24,
    ny: int = 24,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    batch: int = 64,
    steps: int = 300,
    burn_in: int = 100,
    seed: int | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
    chunk_elements: int = MAX_CHUNK_ELEMENTS,
    within_chunks: bool = False,
) -> MeasuredMap:
    """ρ̂ measured on every cell of the (x, dampening) grid that `theory.region` draws, with the same
    simulation settings as `simulate.measure` (batch, steps, burn_in, seed).

    ``chunk_elements`` bounds the cells pushed back together (cells × batch × n_rec, at least one cell);
    ``progress(done, total)`` is called from this thread after each block of cells, so a smaller bound
    reports more often (the dashboard's); ``within_chunks`` also while a block runs, counting its cells in
    proportion to its steps (the CLI's: a big grid's first block can take minutes, and its estimate must not
    wait for it).

    On the CPU with torch set to several threads, the blocks run in that many threads of one-threaded
    torch operations (torch's thread count is 1 for the call's duration, then restored): a 256-neuron
    block's operations are too small to split well, and on a busy machine threads that split one
    operation wait on each other at every step.
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
    total = nx * ny
    report = (lambda done: progress(done, total)) if progress else (lambda done: None)
    with _one_thread_per_block(device) as workers:
        if cfg.neuron != "lif":
            jobs = _variant_jobs(cfg, x, pred.x, gammas, batch, steps, burn_in, seed, device)
        elif x == "leak":
            jobs = [
                _Job(
                    0,
                    ny,
                    j,
                    1,
                    _leak_column(cfg.replace(leak=float(leak)), gammas, batch, steps, burn_in, seed, device),
                )
                for j, leak in enumerate(pred.x)
            ]
        else:
            report(0)
            trace = _forward_trace(cfg, batch, steps, burn_in, seed, device)
            units = [(float(v), cfg.tail) if x == "sharpness" else (cfg.sharpness, float(v)) for v in pred.x]
            jobs = _block_jobs(cfg, trace, gammas, units, chunk_elements)
        rho = _run_jobs(jobs, ny, nx, workers, report, within_chunks and x != "leak" and cfg.neuron == "lif")
    with np.errstate(divide="ignore"):
        measured = np.where(rho > 0, cfg.steps * np.log10(np.where(rho > 0, rho, 1.0)), -np.inf)
    predicted, predicted_regime = pred.log10_gain, pred.regime
    if cfg.neuron != "lif":  # the region map is the LIF's: the variant's own prediction
        predicted = _variant_prediction(cfg, x, pred.x, pred.y)
        predicted_regime = theory.regime_of(predicted, cfg.tolerance)
    return MeasuredMap(
        x,
        "dampening",
        pred.x,
        pred.y,
        pred.log_x,
        measured,
        predicted,
        theory.regime_of(measured, cfg.tolerance),
        predicted_regime,
        rho,
        cfg.tolerance,
        time.perf_counter() - began,
        str(device),
    )


@contextlib.contextmanager
def _one_thread_per_block(device: str):
    """How many blocks run at once: torch's thread count on the CPU (torch set to one thread meanwhile,
    restored after), one on a GPU."""
    threads = torch.get_num_threads()
    if torch.device(device).type != "cpu" or threads == 1:
        yield 1
        return
    torch.set_num_threads(1)
    try:
        yield threads
    finally:
        torch.set_num_threads(threads)


@dataclass
class _Job:
    """One block of cells: rows [top, top + rows) × columns [left, left + cols) of the map, computed by
    ``run(step_done, stop)`` (step_done(steps done of ``steps``) as its push-back goes; stop: give up early)."""

    top: int
    rows: int
    left: int
    cols: int
    run: Callable[[Callable[[int], None] | None, threading.Event], np.ndarray]
    steps: int = 1


def _run_jobs(
    jobs: list[_Job], ny: int, nx: int, workers: int, report: Callable[[int], None], within: bool
) -> np.ndarray:
    """ρ̂ of every job's cells, as one (ny, nx) array; ``report(cells done)`` from this thread only, after
    each job (and, with ``within``, as the running jobs' push-backs go)."""
    out = np.empty((ny, nx))
    tally, stop = _Tally(report), threading.Event()
    parts = {
        id(job): (lambda step, job=job: tally.part(id(job), job.rows * job.cols * step // job.steps))
        if within
        else None
        for job in jobs
    }
    if workers == 1 or len(jobs) == 1:
        for job in jobs:
            out[job.top : job.top + job.rows, job.left : job.left + job.cols] = job.run(parts[id(job)], stop)
            tally.finish(id(job), job.rows * job.cols)
            tally.emit()
        return out
    pool = concurrent.futures.ThreadPoolExecutor(min(workers, len(jobs)), thread_name_prefix="stabviz-map")
    try:
        pending = {pool.submit(job.run, parts[id(job)], stop): job for job in jobs}
        while pending:
            finished, _ = concurrent.futures.wait(
                pending, timeout=PROGRESS_POLL_S if within else None, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in finished:
                job = pending.pop(future)
                out[job.top : job.top + job.rows, job.left : job.left + job.cols] = future.result()
                tally.finish(id(job), job.rows * job.cols)
            tally.emit()
    finally:
        stop.set()  # an error or Ctrl-C here: the other blocks stop at their next step
        pool.shutdown(wait=True, cancel_futures=True)
    return out


#: seconds between two progress reports while blocks run in threads (with ``within_chunks``)
PROGRESS_POLL_S = 0.25


class _Tally:
    """Cells pushed back so far, finished blocks plus running blocks' parts (written from any thread);
    ``emit`` reports the count when it has grown (from the calling thread)."""

    def __init__(self, report: Callable[[int], None]):
        self._report, self._lock, self._parts, self._done, self._shown = report, threading.Lock(), {}, 0, -1
        self._owner = threading.get_ident()

    def part(self, key: int, cells: int) -> None:
        with self._lock:
            self._parts[key] = cells
        if threading.get_ident() == self._owner:  # run inline: report now; from a block thread: polled
            self.emit()

    def finish(self, key: int, cells: int) -> None:
        with self._lock:
            self._parts.pop(key, None)
            self._done += cells

    def emit(self) -> None:
        with self._lock:
            count = self._done + sum(self._parts.values())
        if count > self._shown:
            self._shown = count
            self._report(count)


def _leak_column(cfg: LIFConfig, gammas: torch.Tensor, batch: int, steps: int, burn_in: int, seed: int, device: str):
    """A leak column's job: its own forward pass (the leak changes it), then its cells' push-back."""

    def run(step_done, stop):
        trace = _forward_trace(cfg, batch, steps, burn_in, seed, device)
        return _pushback_block(trace, gammas, _unit_trace(cfg, trace, [(cfg.sharpness, cfg.tail)]), step_done, stop)

    return run


@torch.no_grad()
def _forward_trace(cfg: LIFConfig, batch: int, steps: int, burn_in: int, seed: int, device: str) -> _Trace:
    """The forward pass of `simulate.measure` (same generator draws in the same order), keeping what the
    push-back through the last ``cfg.steps`` measured steps needs."""
    gen = torch.Generator().manual_seed(seed)
    w_in, w_rec, bias = layer_weights(cfg, generator=gen)
    inputs = simulate.bernoulli_inputs(cfg, batch, steps, gen)
    w_in, w_rec, bias, inputs = (t.to(device) for t in (w_in, w_rec, bias, inputs))
    current = inputs @ w_in + bias
    y = torch.zeros(batch, w_rec.shape[0], dtype=inputs.dtype, device=device)
    z = torch.zeros_like(y)
    first_kept = max(burn_in, steps - cfg.steps)  # burn_in < steps: at least one step is kept
    ys, zs, drives = [], [], []
    for t in range(steps):
        drive = current[:, t] + z @ w_rec
        if t >= first_kept:
            ys.append(y), zs.append(z), drives.append(drive)
        y = neuron.integrate(y, z, drive, cfg.leak, cfg.threshold, cfg.reset)
        z = neuron.fire(y, cfg.threshold)
    start = torch.randn(batch, w_rec.shape[0], generator=gen, dtype=torch.float64)
    y_prev, z_prev, drive = torch.stack(ys), torch.stack(zs), torch.stack(drives)
    return _Trace(w_rec, y_prev, *_transition_factors(cfg, y_prev, z_prev, drive), start)


def _transition_factors(cfg: LIFConfig, y, z, drive):
    """(r, c0, c1) with M_ij = c_i δ_ij + r_i W_ji s_j and c = c0 − c1·s: `simulate.transition_terms`
    taken apart at the surrogate s, so that one forward pass serves every surrogate (r = None: all ones)."""
    alpha, keep = float(cfg.leak), 1 - z
    if cfg.reset == "subtract":
        return None, alpha, (float(cfg.threshold) if cfg.reset_grad else None)
    if cfg.reset == "mult1":
        return keep, alpha * keep, (alpha * y + drive if cfg.reset_grad else None)
    return None, alpha * keep, (alpha * y if cfg.reset_grad else None)


#: cells × batch × n of one CPU block: its few tensors stay in the CPU's cache through all T steps
CACHE_BLOCK_ELEMENTS = 400_000


def _block_jobs(
    cfg: LIFConfig, trace: _Trace, gammas: torch.Tensor, units: list[tuple[float, float]], chunk_elements: int
) -> list[_Job]:
    """The (dampening × unit) cells in blocks, each pushed back through all T steps on its own: on the CPU
    small enough to stay in cache, so the matmul, not memory traffic, sets the pace; on a GPU as large as
    ``chunk_elements`` allows. Blocks run down whole columns where they fit (one σ'₁ per column)."""
    batch, n = trace.start.shape
    ny, nx = len(gammas), len(units)
    on_cpu = trace.w_rec.device.type == "cpu"
    cells = max(1, (min(chunk_elements, CACHE_BLOCK_ELEMENTS) if on_cpu else chunk_elements) // (batch * n))
    rows = min(ny, cells)
    cols = max(1, min(nx, cells // ny)) if rows == ny else 1
    return [
        _Job(
            top,
            min(rows, ny - top),
            left,
            min(cols, nx - left),
            _block(cfg, trace, gammas[top : top + rows], units[left : left + cols]),
            trace.steps,
        )
        for left in range(0, nx, cols)
        for top in range(0, ny, rows)
    ]


def _block(cfg: LIFConfig, trace: _Trace, gammas: torch.Tensor, units: list[tuple[float, float]]):
    """A block's job: σ'₁ of its columns at every kept step, then its cells' push-back."""

    def run(step_done, stop):
        return _pushback_block(trace, gammas, _unit_trace(cfg, trace, units), step_done, stop)

    return run


def _unit_trace(cfg: LIFConfig, trace: _Trace, units: list[tuple[float, float]]) -> torch.Tensor:
    """σ'₁(y_{t−1} − θ; β, q) of every kept step for each (β, q) column: (T, k, batch, n)."""
    dev, dtype = trace.y_prev.device, trace.y_prev.dtype
    beta = torch.tensor([u[0] for u in units], dtype=dtype, device=dev).view(1, -1, 1, 1)
    tail = torch.tensor([u[1] for u in units], dtype=dtype, device=dev).view(1, -1, 1, 1)
    unit = cfg.surrogate.replace(dampening=1.0, sharpness=beta, tail=tail)
    return simulate.sg_prime_torch((trace.y_prev - cfg.threshold).unsqueeze(1), unit)


@torch.no_grad()
def _pushback_block(
    trace: _Trace,
    gammas: torch.Tensor,
    unit: torch.Tensor,
    step_done: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> np.ndarray:
    """`simulate._pushback_gain` for len(gammas) × k cells at once, shape (len(gammas), k):
    δ ← c·δ + s·((r·δ) Wᵀ), renormalised every step, s = γ·unit. ``step_done(steps)`` after every
    PUSHBACK_REPORT_EVERY steps; ``stop`` set: return early (the caller discards the result). All the work
    happens in a few preallocated buffers: a fresh tensor per operation costs more than the operation."""
    ny, k = len(gammas), unit.shape[1]
    steps, batch, n = trace.y_prev.shape
    dtype = trace.w_rec.dtype
    gam = gammas.to(dtype).view(ny, 1, 1, 1)
    start = trace.start.to(device=trace.w_rec.device, dtype=dtype)
    delta = (start / start.norm(dim=1, keepdim=True)).expand(ny, k, batch, n).contiguous()
    prod, s = torch.empty_like(delta), torch.empty_like(delta)
    masked = torch.empty_like(delta) if trace.keep is not None else None
    norm = torch.empty(ny, k, batch, 1, dtype=dtype, device=delta.device)
    log_growth = torch.zeros(ny, k, batch, dtype=torch.float64, device=delta.device)
    w_t, flat = trace.w_rec.t(), (ny * k * batch, n)
    for step in range(steps):
        if stop is not None and stop.is_set():
            break
        if step_done is not None and step and step % PUSHBACK_REPORT_EVERY == 0:
            step_done(step)
        t = steps - 1 - step
        src = delta if masked is None else torch.mul(delta, trace.keep[t], out=masked)
        torch.matmul(src.view(flat), w_t, out=prod.view(flat))  # (r·δ) Wᵀ
        torch.mul(unit[t], gam, out=s)  # s = γ σ'₁
        if isinstance(trace.c1, float):  # c·δ = c0·δ − c1·s·δ
            prod.add_(delta, alpha=-trace.c1)
        elif trace.c1 is not None:
            prod.addcmul_(delta, trace.c1[t], value=-1.0)
        prod.mul_(s)
        if isinstance(trace.c0, float):
            prod.add_(delta, alpha=trace.c0)
        else:
            prod.addcmul_(delta, trace.c0[t])
        torch.linalg.vector_norm(prod, dim=-1, keepdim=True, out=norm)
        log_growth += torch.log(norm.squeeze(-1).double().clamp_min(1e-300))
        torch.div(prod, norm.clamp_min(1e-30), out=delta)
    per_step = log_growth.median(dim=-1).values / steps
    return torch.exp(per_step).cpu().numpy()


# ---------------------------------------------------------------------------------------------
# alif and cuba: the same grid through the 2 × 2 blocks (docs/theory.md#92-the-backward-map-a-2-by-2-block-per-neuron)


@dataclass
class _VariantTrace:
    """A variant layer's forward pass, for the last T measured steps in time order: the state before each
    step and its drive (what variant_gain.block needs), and the push-back's random start."""

    w_rec: torch.Tensor
    states: list
    drives: list
    start: torch.Tensor


@torch.no_grad()
def _variant_trace(cfg: LIFConfig, batch: int, steps: int, burn_in: int, seed: int, device: str) -> _VariantTrace:
    """The forward pass of `simulate.measure` for alif / cuba (variant_gain.measure_variant_layer: the same
    generator draws in the same order), keeping the last ``cfg.steps`` measured steps."""
    from stabviz.lif.dynamics import Dynamics
    from stabviz.lif.variants import STEPS, State, Variant

    gen = torch.Generator().manual_seed(seed)
    w_in, w_rec, bias = layer_weights(cfg, generator=gen)
    inputs = simulate.bernoulli_inputs(cfg, batch, steps, gen)
    w_in, w_rec, bias, inputs = (t.to(device) for t in (w_in, w_rec, bias, inputs))
    dyn, var = Dynamics.of(cfg), Variant.of(cfg)
    current = inputs @ w_in + bias
    state = State.zeros_like(current[:, 0])
    first_kept = max(burn_in, steps - cfg.steps)
    states, drives = [], []
    for t in range(steps):
        new = STEPS[var.neuron](current[:, t], state, w_rec, dyn, var)
        if t >= first_kept:
            states.append(state)
            drives.append(new.i if var.filters else current[:, t] + state.z @ w_rec)
        state = new
    start = torch.randn(batch, w_rec.shape[0], generator=gen, dtype=torch.float64).to(current)
    return _VariantTrace(w_rec, states, drives, start)


def _variant_jobs(
    cfg: LIFConfig,
    x: str,
    xs: np.ndarray,
    gammas: torch.Tensor,
    batch: int,
    steps: int,
    burn_in: int,
    seed: int,
    device: str,
) -> list[_Job]:
    """One job per column: its dampening cells pushed back together through the blocks. A sharpness or tail
    map shares one forward pass (the surrogate does not change it); a leak column runs its own."""
    shared = None if x == "leak" else _variant_trace(cfg, batch, steps, burn_in, seed, device)

    def column(value: float):
        at = cfg.replace(**{x: value})

        def run(step_done, stop):
            trace = shared or _variant_trace(at, batch, steps, burn_in, seed, device)
            return _variant_pushback(at, trace, gammas, stop)[:, None]

        return run

    return [_Job(0, len(gammas), j, 1, column(float(v))) for j, v in enumerate(xs)]


@torch.no_grad()
def _variant_pushback(
    cfg: LIFConfig, trace: _VariantTrace, gammas: torch.Tensor, stop: threading.Event | None = None
) -> np.ndarray:
    """ρ̂ (PB) of the dampening cells of one column, every cell's blocks built as the push-back goes."""
    gam = gammas.to(trace.start.dtype).view(-1, 1, 1)

    def blocks():
        for state, drive in zip(reversed(trace.states), reversed(trace.drives)):
            if stop is not None and stop.is_set():
                return
            yield variant_gain.block(cfg, state, drive, dampening=gam)

    start = trace.start.expand(len(gammas), *trace.start.shape)
    return variant_gain.pushback_gain(cfg, blocks(), trace.w_rec, start, len(trace.states)).cpu().numpy()


def _variant_prediction(cfg: LIFConfig, x: str, xs: np.ndarray, gammas: np.ndarray) -> np.ndarray:
    """T·log₁₀ of the variant's closed-form block gain per cell (subtractive reset: the only reset the variant
    rate theory covers; nan elsewhere, so those cells' predicted regime is "undefined")."""
    out = np.full((len(gammas), len(xs)), np.nan)
    if cfg.reset != "subtract":
        return out
    pop = None if x == "leak" else variant_gain.rate_population(cfg)
    for j, v in enumerate(xs):
        column = cfg.replace(**{x: float(v)})
        column_pop = pop if pop is not None else variant_gain.rate_population(column)
        for i, g in enumerate(gammas):
            gain = variant_gain.gain_with(column, column_pop, "dampening", float(g))
            out[i, j] = cfg.steps * math.log10(gain) if gain > 0 else -math.inf
    return out
