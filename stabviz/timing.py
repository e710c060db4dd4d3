"""Timing one forward+backward pass of a recurrent LIF layer: median timers, the layer step, the GEMM floor;
on CUDA eager against a captured graph; and E training runs as one ensemble against E sequential runs.

Shared by `python -m stabviz bench lif` (:mod:`stabviz.cli.bench`) and ``benchmarks/*.py``, so the
benchmarks need no CLI module. Nothing here imports torch (or :mod:`stabviz.lif`) at module level:
the CLI imports this module at start-up and its other commands must start without torch.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

DEFAULT_BATCH = 32
DEFAULT_REPS = 10
#: progress(done, total) of a benchmark's calls
Progress = Callable[[int, int], None]


def median_ms(fn: Callable[[], Any], reps: int = DEFAULT_REPS, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``reps`` calls, after ``warmup`` calls."""
    return interleaved_median_ms({"fn": fn}, reps, warmup)["fn"]


def interleaved_median_ms(
    fns: dict[str, Callable[[], Any]], reps: int = DEFAULT_REPS, warmup: int = 2, progress: Progress | None = None
) -> dict[str, float]:
    """Median wall time (ms) of each function, timed in turns (one call of each per round) so that
    all of them see the same background load on a shared machine. ``progress(done, total)`` is called
    after every call (warm-up included)."""
    report = progress or (lambda done, total: None)
    total, done = (warmup + reps) * len(fns), 0
    for fn in fns.values():
        for _ in range(warmup):
            fn()
            done += 1
            report(done, total)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
            done += 1
            report(done, total)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def layer_inputs(cfg, batch: int, steps: int, generator=None, dtype=None):
    """(current (batch, T, n) requiring grad, W_rec parameter (n, n), probe (batch, T, n)) for timing
    one layer of ``cfg``: W_rec from the layer's own initialisation and a current N(θ, θ²), which
    makes about half the neurons fire (the dense regime conditions I/II aim for); the loss is
    Σ spikes·probe."""
    import torch

    from stabviz.weights import layer_weights

    dtype = torch.float32 if dtype is None else dtype
    generator = torch.Generator().manual_seed(cfg.seed) if generator is None else generator
    _, w_rec, _ = layer_weights(cfg, generator=generator, dtype=dtype)
    shape = (batch, steps, cfg.n_rec)
    current = cfg.threshold + cfg.threshold * torch.randn(shape, generator=generator, dtype=dtype)
    probe = torch.randn(shape, generator=generator, dtype=dtype)
    return current.requires_grad_(), torch.nn.Parameter(w_rec), probe


#: what ``stabviz_layer_step`` can time: the fast layer as LIFNetwork runs it (time-major (T, n, B)
#: tensors, the layout the network hands from layer to layer), the same layer through the batch-major
#: (B, T, n) functional API (adds two layout copies), and the plain-autograd reference.
VARIANTS = ("fast", "fast-batch-major", "reference")


def stabviz_layer_step(cfg, batch: int, steps: int, variant: str = "fast", bf16_matmul: bool = False):
    """A function running forward+backward of one stabviz recurrent layer of cfg's neuron model (loss
    Σ spikes·probe), gradients for the input current and W_rec."""
    from stabviz import lif

    if variant not in VARIANTS:
        raise ValueError(f"variant = {variant!r} is not one of: {', '.join(VARIANTS)}")
    current, w_rec, probe = layer_inputs(cfg, batch, steps)
    if variant == "fast":
        current = lif.to_time_major(current.detach()).requires_grad_()
        probe = lif.to_time_major(probe)

    layer = _layer_function(cfg, variant, bf16_matmul)

    def step() -> None:
        current.grad = w_rec.grad = None
        spikes = layer(current, w_rec, cfg)[0]
        (spikes * probe).sum().backward()

    return step


def _layer_function(cfg, variant: str, bf16_matmul: bool) -> Callable[..., tuple]:
    """stabviz.lif's function computing ``variant`` of cfg's neuron model: (current, w_rec, cfg) -> (spikes, ...)."""
    from functools import partial

    from stabviz import lif

    if cfg.neuron != "lif":
        if bf16_matmul:
            raise ValueError(f"bf16_matmul = True is for neuron = 'lif' only; got neuron = {cfg.neuron!r}")
        return {
            "fast": lif.recurrent_variant_time_major,
            "fast-batch-major": lif.recurrent_variant,
            "reference": lif.reference_variant,
        }[variant]
    return {
        "fast": partial(lif.recurrent_lif_time_major, bf16_matmul=bf16_matmul),
        "fast-batch-major": partial(lif.recurrent_lif, bf16_matmul=bf16_matmul),
        "reference": lif.reference_recurrent,
    }[variant]


def gemm_floor_steps(n: int, batch: int, steps: int) -> dict[str, Callable[[], None]]:
    """Functions doing only the unavoidable GEMM work of one forward+backward: 3·T per-step products
    (forward current, backward error, weight gradient), 6·B·n²·T FLOP, in each orientation:
    "row" z (B×n) @ W (n×n), the product as the layer equation writes it, and "col" Wᵀ (n×n) @ zᵀ
    (n×B), the same numbers in the orientation stabviz uses (faster on CPUs). The floor is the faster."""
    import torch

    z = (torch.rand(batch, n) > 0.5).float()
    w = torch.randn(n, n)
    zt, wt = z.t().contiguous(), w.t().contiguous()
    out_row, out_col = torch.empty(batch, n), torch.empty(n, batch)
    row = lambda: torch.mm(z, w, out=out_row)  # noqa: E731
    col = lambda: torch.mm(wt, zt, out=out_col)  # noqa: E731
    return {"row": lambda: _repeat(row, 3 * steps), "col": lambda: _repeat(col, 3 * steps)}


def floor_figures(ms: dict[str, float], n: int, batch: int, steps: int, layer_ms: float) -> dict[str, float]:
    """floor_ms (the faster orientation), floor_row_ms, their efficiencies against ``layer_ms`` and
    the floor's GEMM rate, from the medians of :func:`gemm_floor_steps`' functions."""
    floor = min(ms["row"], ms["col"])
    return {
        "floor_ms": floor,
        "floor_row_ms": ms["row"],
        "efficiency": floor / layer_ms,
        "efficiency_row": ms["row"] / layer_ms,
        "gemm_gflops": 6 * batch * n * n * steps / (floor * 1e-3) / 1e9,
    }


def _repeat(fn: Callable[[], Any], times: int) -> None:
    for _ in range(times):
        fn()


def bench_lif(
    cfg,
    batch: int = DEFAULT_BATCH,
    steps: int | None = None,
    threads: int | None = None,
    reps: int = DEFAULT_REPS,
    bf16_matmul: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Median ms of one forward+backward of ``cfg``'s recurrent layer (cfg.neuron's model, n = cfg.n_rec,
    fast path as LIFNetwork runs it), the fp32 GEMM-only floor (timed in turns with it, see
    :func:`floor_figures`) and the efficiency floor_ms / ms. ``threads`` sets torch's CPU thread count
    for the whole process."""
    import torch

    if threads is not None:
        _check_positive(threads=threads)
        torch.set_num_threads(threads)
    steps = cfg.steps if steps is None else steps
    _check_positive(batch=batch, steps=steps, reps=reps)
    floors = gemm_floor_steps(cfg.n_rec, batch, steps)
    ms = interleaved_median_ms(
        {"fast": stabviz_layer_step(cfg, batch, steps, "fast", bf16_matmul), **floors}, reps=reps, progress=progress
    )
    return {
        "n": cfg.n_rec,
        "batch": batch,
        "steps": steps,
        "threads": torch.get_num_threads(),
        "neuron": cfg.neuron,
        "reset": cfg.reset,
        "shape": cfg.shape,
        "bf16_matmul": bf16_matmul,
        "reps": reps,
        "ms": ms["fast"],
        **floor_figures(ms, cfg.n_rec, batch, steps, ms["fast"]),
    }


def bench_lif_cuda(
    cfg,
    batch: int = DEFAULT_BATCH,
    steps: int | None = None,
    reps: int = DEFAULT_REPS,
    bf16_matmul: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Median ms of one forward+backward of ``cfg``'s layer on CUDA, eagerly (``ms``) and replayed as a
    captured CUDA graph (``graph_ms``; ``graph_mode`` 'eager' and ``graph_note`` say when capturing
    failed). ValueError where CUDA is not available."""
    import torch

    from stabviz import lif

    if not torch.cuda.is_available():
        raise ValueError("bench lif --device cuda: CUDA is not available here (no CUDA device, or a CPU-only torch)")
    if cfg.neuron != "lif":
        raise ValueError(
            f"bench lif --device cuda: neuron = {cfg.neuron!r}; the CUDA-graph timing runs neuron = 'lif' "
            "only (time alif and cuba on the CPU)"
        )
    steps = cfg.steps if steps is None else steps
    _check_positive(batch=batch, steps=steps, reps=reps)
    current, w_rec, probe = (t.detach().cuda() for t in layer_inputs(cfg, batch, steps))
    current = lif.to_time_major(current).requires_grad_()
    w_rec.requires_grad_()
    probe = lif.to_time_major(probe)

    def step():
        spikes, _ = lif.recurrent_lif_time_major(current, w_rec, cfg, bf16_matmul=bf16_matmul)
        return torch.autograd.grad((spikes * probe).sum(), [current, w_rec])

    graphed = lif.CapturedStep(step, torch.device("cuda"))
    for _ in range(graphed.warmup + 2):  # warm-up, capture and a first replay before timing
        graphed()
    synced = lambda fn: lambda: (fn(), torch.cuda.synchronize())  # noqa: E731
    ms = interleaved_median_ms({"eager": synced(step), "graph": synced(graphed)}, reps=reps, progress=progress)
    return {
        "n": cfg.n_rec,
        "batch": batch,
        "steps": steps,
        "device": torch.cuda.get_device_name(),
        "reset": cfg.reset,
        "shape": cfg.shape,
        "bf16_matmul": bf16_matmul,
        "reps": reps,
        "ms": ms["eager"],
        "graph_ms": ms["graph"],
        "graph_mode": graphed.mode,
        "graph_note": graphed.note,
    }


def check_bench_ensemble(train_cfg, members: int) -> list:
    """The members' configs (seeds seed … seed + members − 1), once the ensemble is within this machine's
    member bound and memory limit (:func:`stabviz.memory.check_ensemble`, ValueError otherwise). Builds
    and imports nothing heavy: `bench ensemble --members 1024` is refused at once, not after the warm-up."""
    from stabviz import memory

    _check_positive(members=members)
    cfgs = [train_cfg.replace(lif=train_cfg.lif.replace(seed=train_cfg.lif.seed + k)) for k in range(members)]
    memory.check_ensemble(cfgs)
    return cfgs


def bench_ensemble(train_cfg, members: int, progress: Progress | None = None) -> dict[str, Any]:
    """Wall time of ``members`` runs of ``train_cfg`` (seeds seed … seed + members − 1) trained as one
    ensemble (:func:`stabviz.train.run_ensemble`), then one after another with :func:`stabviz.train.run`
    in this process, and their ratio ``speedup`` = sequential_s / ensemble_s. Both include loading
    each member's task and its start and end probes. ``progress(done, 2·members)``: the ensemble counts
    as ``members`` runs, advanced with its steps."""
    cfgs = check_bench_ensemble(train_cfg, members)  # before torch is imported or anything is built
    import torch

    from stabviz import train

    report = progress or (lambda done, total: None)
    total = 2 * members
    # warm-up: the first run in a process pays one-time costs (torch.optim's imports, kernels' first use)
    warm = train_cfg.replace(train_steps=1, log_every=1)
    train.run_ensemble([(warm, None)])
    train.run(warm)
    start = time.perf_counter()
    steps = max(train_cfg.train_steps, 1)
    ensemble = train.run_ensemble(
        [(cfg, None) for cfg in cfgs],
        callback=lambda event: report(members * min(int(event.get("step", 0)), steps) // steps, total),
    )
    ensemble_s = time.perf_counter() - start
    start = time.perf_counter()
    for k, cfg in enumerate(cfgs):
        train.run(cfg)
        report(members + k + 1, total)
    sequential_s = time.perf_counter() - start
    return {
        "members": members,
        "n": train_cfg.lif.n_rec,
        "n_in": train_cfg.lif.n_in,
        "batch": train_cfg.batch,
        "steps": train_cfg.time_steps,
        "train_steps": train_cfg.train_steps,
        "device": ensemble[0]["device"],
        "threads": torch.get_num_threads(),
        "execution": ensemble[0]["execution"],
        "ensemble_s": ensemble_s,
        "sequential_s": sequential_s,
        "speedup": sequential_s / ensemble_s,
    }


def _check_positive(**values: int) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} = {v!r} must be a whole number in [1, inf)")
