"""Memory estimates, checked before anything is allocated.

Every size a visitor can set (in a dashboard link, a form or on the command line) multiplies into
tensors: the measured voltage model simulates ``batch × steps × n_in`` input spikes, a training run
holds its task's ``samples × T × n_in`` data several times over. This module turns a setting into an
estimate of the peak memory the call will need, and :func:`check_memory` refuses a setting whose
estimate is above the machine's limit, with one line saying what to lower.

- :func:`estimate_simulate_bytes` — :func:`stabviz.simulate.measure` (the measured voltage model,
  ``theory.measured_voltage``, the dashboard's quick check, ``stabviz simulate``);
- :func:`estimate_train_bytes` — :func:`stabviz.train.run` (CLI ``stabviz train``, run workers);
- :func:`max_bytes` — the limit: ``STABVIZ_MAX_MEMORY_MB`` (MB = 2**20 bytes) when set to a positive
  number, else 25% of the physical memory, capped at 4096 MB (messages say GB for 2**30 bytes);
- :func:`estimate_ensemble_bytes` — :func:`stabviz.train.run_ensemble`; :func:`max_ensemble` its member
  bound (``STABVIZ_MAX_ENSEMBLE``, default 64);
- :func:`check_memory`, :func:`check_simulate`, :func:`check_train`, :func:`check_ensemble` — raise
  ValueError above the limit;
- :func:`size_limits`, :func:`check_sizes` — plain bounds for the sizes :meth:`TrainConfig.check_limits`
  does not bound (input channels, samples, classes, the Monte-Carlo's batch and steps).

Nothing here imports torch or allocates anything of the sizes it talks about. The estimates count
float32 tensors (4 bytes per entry) as they are laid out in :mod:`stabviz.simulate`, :mod:`stabviz.lif`,
:mod:`stabviz.tasks` and :mod:`stabviz.train`; they are an upper bound of the peak resident memory
(``ru_maxrss``) the call adds to a process that has already imported torch and stabviz, within a
factor 2 (tests/test_memory.py measures both). On CUDA the same tensors are split between host and
device; the estimate is their total.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

MB = 1 << 20
GB = 1 << 30
#: Default limit: this fraction of the physical memory ...
DEFAULT_FRACTION = 0.25
#: ... but at most this many MB (a dashboard serves many visitors; one link must not take the machine).
DEFAULT_CAP_MB = 4096
#: Used when the physical memory cannot be read.
FALLBACK_MB = 4096
ENV = "STABVIZ_MAX_MEMORY_MB"

F32 = 4  # bytes of a float32 entry (every activation, weight and data tensor)
F64 = 8  # float64 / int64 entries (weight sampling, numpy index arrays, randperm)
#: What a call adds beyond its tensors: torch's kernels and thread pools touched for the first time,
#: allocator bookkeeping and fragmentation, small per-step tensors of the time loops.
OVERHEAD = 48 * MB
#: A training run's extra fixed cost: torch.optim's first optimiser imports torch._dynamo (66 MB measured).
TRAIN_OVERHEAD = OVERHEAD + 80 * MB

#: Bytes per kept step, batch row and neuron of simulate.measure_layer's history: 28 counted (see
#: _simulate_parts); 30-38 measured, varying from run to run with how the per-step temporaries freed
#: between the kept tensors fragment the heap; 48 leaves a margin.
HISTORY_BYTES = 48
#: The same for an alif or cuba layer (stabviz.variant_gain.measure_variant_layer): each kept step holds a
#: block of five coefficients (c, r, σ', k, m) and the voltage, then the stacked voltages and randperm:
#: 36 counted; 50 measured (alif with the reset gradient, n = 128, batch 1024, 100 kept steps), above the
#: LIF's 48, so the variants get the LIF's margin over their own count (2×).
VARIANT_HISTORY_BYTES = 72
#: Blocks of T·n·batch·4 bytes a training step of an alif or cuba layer holds beyond the LIF's, per layer:
#: the second state (a or i) saved for the backward pass and its adjoint. Measured (n = 256, batch 512,
#: T = 150, one step): cuba 873 MB and alif 919 MB against the LIF's 709 MB, 2.1 and 2.7 blocks more.
VARIANT_STEP_BLOCKS = {"lif": 0, "cuba": 2, "alif": 3}

# simulate.measure's defaults (kept equal to its signature; tests/test_memory.py checks they agree)
SIM_BATCH, SIM_STEPS, SIM_BURN_IN, SIM_VOLTAGE_SAMPLES = 64, 300, 100, 20000

# train.py / tasks.py constants the estimate needs (tests check they agree with the modules)
PROBE_SAMPLES = 64
TEST_FRACTION = 0.2
RANDMAN_FREQUENCIES = 32  # ceil(precision ** (-1 / alpha)) at the defaults 1e-3, 2.0
RANDMAN_CHUNK_ENTRIES = 8_000_000  # tasks._manifold_values keeps (S, n_in, K) chunks below this
INPUT_STATS_CHUNKED = 50_000_000  # tasks.input_stats squares in chunks above this many entries
INPUT_STATS_CHUNK = 10_000_000
#: tasks.digits: (samples, T, n_in, classes), whatever the config says
DIGITS_SIZES = (1797, 16, 64, 10)


# ---------------------------------------------------------------------------------------------
# The limit


def physical_memory_bytes() -> int | None:
    """Total physical memory of this machine, or None where it cannot be read."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return int(pages) * int(size) if pages > 0 and size > 0 else None


def max_bytes() -> int:
    """The memory one call may use: ``STABVIZ_MAX_MEMORY_MB`` (MB = 2**20 bytes) when it is a positive
    number; otherwise 25% of the physical memory, at most 4096 MB (4096 MB where it cannot be read).
    Values that are not positive numbers are ignored, like the other STABVIZ_MAX_* limits."""
    raw = os.environ.get(ENV, "").strip()
    try:
        mb = float(raw) if raw else math.nan
    except ValueError:
        mb = math.nan
    if math.isfinite(mb) and mb > 0:
        return int(mb * MB)
    total = physical_memory_bytes()
    default_mb = FALLBACK_MB if total is None else min(DEFAULT_CAP_MB, DEFAULT_FRACTION * total / MB)
    return int(default_mb * MB)


def _gb(nbytes: float) -> str:
    return f"{nbytes / GB:.1f} GB" if nbytes >= 0.1 * GB else f"{nbytes / MB:.0f} MB"


def check_memory(what: str, nbytes: int, limit: int | None = None, *, lower: str = "n_in, n_rec, batch or T") -> None:
    """Raise ValueError (one line) when ``nbytes`` is above ``limit`` (default :func:`max_bytes`).

    ``what`` names the setting, e.g. "the measured voltage model (n_in = 100000 × n_rec = 256, ...)";
    ``lower`` lists the sizes that would bring it down.
    """
    limit = max_bytes() if limit is None else int(limit)
    if nbytes > limit:
        raise ValueError(f"{what} needs about {_gb(nbytes)}, over the {_gb(limit)} limit ({ENV}); lower {lower}")


# ---------------------------------------------------------------------------------------------
# simulate.measure


def _simulate_parts(
    n_in: int,
    n_rec: int,
    batch: int,
    steps: int,
    burn_in: int,
    inputs_given: bool = False,
    history_bytes: int = HISTORY_BYTES,
) -> dict[str, int]:
    """The tensors of simulate.measure / measure_layer, in bytes, grouped by when they are alive."""
    kept = max(steps - burn_in, 0)
    x = batch * steps * n_in * F32  # the input spikes (batch, steps, n_in)
    return {
        # bernoulli_inputs: the float32 rate tensor torch.full(...) and the sampled spikes are both
        # alive until it returns (poisson likewise). Nothing new when the caller passes ``inputs``.
        "inputs": 0 if inputs_given else x,
        "rate": 0 if inputs_given else x,
        # W_in (n_in × n_rec) and W_rec, sampled in float64 then cast: 12 bytes per entry at the cast;
        # then float32 W_in, W_rec and measure_layer's W_rec² and |W_rec|.
        "weights": n_in * n_rec * F32 + 3 * n_rec * n_rec * F32,
        "sampling": n_in * n_rec * F64,
        # current = inputs @ W_in + b: the product and the sum are both alive for a moment
        "current": batch * steps * n_rec * F32,
        # per kept step: c, r, σ' and y are kept in lists (4 floats), then the stacked voltages
        # (4 more) and randperm over all of them (int64, 8): 28 bytes per neuron, batch row and step;
        # HISTORY_BYTES adds the heap fragmentation of the per-step temporaries freed between them
        "history": kept * batch * n_rec * history_bytes,
    }


def _simulate_peak(p: Mapping[str, int]) -> int:
    """The largest of the moments of simulate.measure at which memory peaks."""
    generating = p["inputs"] + p["rate"] + p["weights"]
    projecting = p["inputs"] + 2 * p["current"] + p["weights"]
    measuring = p["inputs"] + p["current"] + p["history"] + p["weights"]
    sampling = p["weights"] + p["sampling"]
    return max(generating, projecting, measuring, sampling)


def _simulate_sizes(cfg: Any, batch: int, steps: int, burn_in: int, inputs: Any) -> tuple[int, int, bool]:
    if inputs is not None:
        shape = tuple(inputs.shape)
        if len(shape) != 3:
            raise ValueError(f"inputs must have shape (batch, steps, n_in); got {shape}")
        return int(shape[0]), int(shape[1]), True
    for name, value in (("batch", batch), ("steps", steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} = {value!r} must be a whole number in [1, inf)")
    return batch, steps, False


def estimate_simulate_bytes(
    cfg: Any,
    batch: int = SIM_BATCH,
    steps: int = SIM_STEPS,
    burn_in: int = SIM_BURN_IN,
    seed: int | None = None,
    device: str = "cpu",
    inputs: Any = None,
    voltage_samples: int = SIM_VOLTAGE_SAMPLES,
    progress: Any = None,
) -> int:
    """Peak bytes :func:`stabviz.simulate.measure` ``(cfg, batch, steps, burn_in, ...)`` allocates
    (same arguments, same defaults; ``seed``, ``device``, ``voltage_samples`` and ``progress`` do not
    change it).

    Terms (n = n_rec, K = steps − burn_in kept steps), the largest of
      generating the input:  2 · batch·steps·n_in·4   (rate tensor + spikes)   + weights
      projecting it:         batch·steps·n_in·4 + 2 · batch·steps·n·4           + weights
      measuring:             batch·steps·n_in·4 + batch·steps·n·4 + 48 · K·batch·n + weights
    with weights = n_in·n·4 + 3·n²·4, plus OVERHEAD; 72 in place of 48 for an alif or cuba layer. With ``inputs`` given
    its tensor already exists
    and only the rest counts.
    """
    b, s, given = _simulate_sizes(cfg, batch, steps, burn_in, inputs)
    history = HISTORY_BYTES if getattr(cfg, "neuron", "lif") == "lif" else VARIANT_HISTORY_BYTES
    parts = _simulate_parts(cfg.n_in, cfg.n_rec, b, s, min(burn_in, s), given, history)
    return _simulate_peak(parts) + OVERHEAD


def describe_simulate(cfg: Any, batch: int = SIM_BATCH, steps: int = SIM_STEPS) -> str:
    return (
        f"the measured voltage model (n_in = {cfg.n_in} × n_rec = {cfg.n_rec} neurons, "
        f"batch {batch} × {steps} simulated steps)"
    )


def check_simulate(cfg: Any, limit: int | None = None, **measure_kw: Any) -> int:
    """:func:`check_memory` for ``simulate.measure(cfg, **measure_kw)``; returns the estimate."""
    nbytes = estimate_simulate_bytes(cfg, **measure_kw)
    inputs = measure_kw.get("inputs")
    b, s = (
        tuple(inputs.shape[:2])
        if inputs is not None
        else (measure_kw.get("batch", SIM_BATCH), measure_kw.get("steps", SIM_STEPS))
    )
    check_memory(describe_simulate(cfg, b, s), nbytes, limit, lower="n_in, n_rec, batch or steps")
    return nbytes


# ---------------------------------------------------------------------------------------------
# train.run


def _split_sizes(samples: int) -> tuple[int, int]:
    """(train, test) sample counts of tasks._split."""
    n_test = min(max(1, round(TEST_FRACTION * samples)), samples - 1) if samples >= 2 else 0
    return samples - n_test, n_test


def _task_sizes(train_cfg: Any) -> tuple[int, int, int, int]:
    """(samples, T, n_in, classes) of the task's data: randman uses the config's; digits is fixed
    (DIGITS_SIZES); shd and slmnist have 700 and 784 channels (and at most ``samples`` samples, 20 classes at most for
    SHD, 10 for
    sl-MNIST; the config's classes is an upper bound of neither, so the larger is taken)."""
    cfg = train_cfg
    if cfg.task == "digits":
        return DIGITS_SIZES
    n_in = {"shd": 700, "slmnist": 784}.get(cfg.task, cfg.lif.n_in)
    classes = cfg.classes if cfg.task == "randman" else max(cfg.classes, 20)
    return cfg.samples, cfg.time_steps, n_in, classes


def _train_parts(train_cfg: Any) -> dict[str, int]:
    cfg = train_cfg
    samples, T, n_in, C = _task_sizes(cfg)
    n, L = cfg.lif.n_rec, cfg.layers
    n_train, n_test = _split_sizes(samples)
    B = min(cfg.batch, n_train)
    Bp = min(PROBE_SAMPLES, n_test)
    data = samples * T * n_in * F32  # TaskData.x (N, T, n_in) float32
    params = n_in * n + n * n + n + (L - 1) * (2 * n * n + n) + n * C + C
    parts = {"data": data}

    # randman generation (numpy): per class, the manifold values, their rescaled copy, the scaled bins
    # and the int64 bins (float64/int64, 4 × 8 bytes per sample and channel) and the (S, n_in, K)
    # chunks of sin arguments (2 alive); then all classes' bins, the shuffled bins, the spike mask and
    # np.nonzero's two int64 index arrays and the gathered bins: 41 bytes per sample and channel,
    # next to the spike tensor itself.
    if cfg.task == "randman":
        per_class = -(-samples // C)
        chunk = max(1, RANDMAN_CHUNK_ENTRIES // max(1, n_in * RANDMAN_FREQUENCIES))
        sin_chunk = 2 * min(per_class, chunk) * n_in * RANDMAN_FREQUENCIES * F64
        parts["generate"] = max(
            samples * n_in * F64
            + 4 * per_class * n_in * F64
            + sin_chunk
            + 3 * n_in * cfg.manifold_dim * RANDMAN_FREQUENCIES * F64,
            data + samples * n_in * (F64 + F64 + 1 + 2 * F64 + F64),
        )
    else:
        parts["generate"] = 2 * data  # the file's arrays next to the spike tensor (estimate)

    # input_stats(data.x_train): a copy of the training split (0.8 of the data); then its sum with
    # dtype=float64 (torch casts the whole tensor first: 8 bytes per entry), and its float64 copy and
    # float64 square (16 bytes per entry) unless it is squared in chunks of 10M entries
    train_entries = n_train * T * n_in
    square = train_entries if train_entries < INPUT_STATS_CHUNKED else INPUT_STATS_CHUNK
    parts["input_stats"] = data + train_entries * F32 + max(train_entries * F64, square * 2 * F64)

    # after load: TaskData.x, and the x_train / x_test copies train.run makes (together 2 × data)
    parts["resident_data"] = 2 * data
    # parameters (sampled in float64, cast), their gradients, AdamW's two moments and the foreach
    # implementation's temporaries (about 2 more copies): 6 copies; plus the off-diagonal mask n²
    parts["model"] = 6 * params * F32 + n * n * F32 + n_in * n * F64
    # in an ensemble, the stacked copy of every parameter and its gradient
    parts["stacked"] = 2 * params * F32

    # one optimiser step, per (T, n, B) block of 4·T·n·B bytes (x W_in currents, spikes, voltages,
    # features, their gradients, σ', the W_rec-gradient copies): the mini-batch copy x[idx], 3 blocks
    # saved per layer (spikes, voltages, the spikes' feature-major copy), 7 more at the backward's
    # peak (∂L/∂features, its time-major copy, σ' and y − θ, the two copies of the W_rec-gradient GEMM)
    # and one of slack (measured: 9-10 blocks at one layer); readout, its copy for the loss and
    # log-softmax with their gradients (6 × B·T·C); the multiplicative resets keep 1 − z (and u) too
    block = T * n * B * F32
    neuron = getattr(cfg.lif, "neuron", "lif")
    parts["train_step"] = (
        B * T * n_in * F32
        + (3 * L + 8) * block
        + 6 * B * T * C * F32
        + (3 if cfg.lif.reset != "subtract" else 0) * L * block
        + VARIANT_STEP_BLOCKS[neuron] * L * block
    )

    # the start/end probe on min(64, test) samples: the first layer's measure_layer (28 bytes per kept
    # step and neuron, two currents) and the reference autograd path of the gradient-flow probe
    # (about 12 (B, n) tensors per step and layer: the graph's saved ones, the stacks, the gradients)
    pblock = T * n * Bp * F32
    kept = T - max(1, T // 5)
    history = HISTORY_BYTES if neuron == "lif" else VARIANT_HISTORY_BYTES
    parts["probe"] = (kept * Bp * n * history + 2 * pblock) + (12 * L + 2) * pblock + 4 * Bp * T * C * F32

    if getattr(cfg.lif, "voltage_model", "") == "measured":
        # train.prediction_summary runs theory.predict on the task's layer: simulate.measure at the
        # task's n_in with its defaults, while the task's data is resident
        from dataclasses import replace

        lif = cfg.lif if n_in == cfg.lif.n_in else replace(cfg.lif, n_in=n_in)
        parts["measured_model"] = estimate_simulate_bytes(lif) - OVERHEAD
    return parts


def _train_peak(p: Mapping[str, int]) -> int:
    loading = max(p["generate"], p["input_stats"], p["data"] + p.get("measured_model", 0))
    # The probe's and the step's tensors are added, not maxed: the first fast forward pass calls
    # lif.keep_freed_cpu_memory, after which glibc keeps freed blocks below 32 MiB in a heap it does
    # not trim below 1 GiB, so what the probe freed still counts while the step runs (and back).
    training = p["resident_data"] + p["model"] + p["train_step"] + p["probe"]
    return max(loading, training)


def estimate_train_bytes(train_cfg: Any) -> int:
    """Peak bytes :func:`stabviz.train.run` ``(train_cfg)`` allocates (host and device together).

    With D = samples·T·n_in·4 (the task's spike tensor), P the parameter count
    (n_in·n + n² + n + (layers − 1)(2n² + n) + n·classes + classes) and, per mini-batch, a block
    T·n·batch·4, the largest of
      loading the task:   D + 41·samples·n_in + ...        (randman's bins, indices and spike tensor)
      input statistics:   D + 0.8 D + 0.8 D·4 (float64 copy and square; 0.8 D·2 above 50M entries)
      training:           2 D (x, x_train, x_test) + 6 P·4 (params, grads, AdamW, foreach temporaries)
                          + one step: batch·T·n_in·4 + (3 layers + 8) blocks + 6·batch·T·classes·4
                          + the probe on 64 test samples
    plus, with the measured voltage model, D + the Monte-Carlo of :func:`estimate_simulate_bytes`,
    plus TRAIN_OVERHEAD (OVERHEAD and the 66 MB torch._dynamo import of the first optimiser).
    """
    return _train_peak(_train_parts(train_cfg)) + TRAIN_OVERHEAD


def describe_train(train_cfg: Any) -> str:
    cfg = train_cfg
    samples, T, n_in, C = _task_sizes(cfg)
    return (
        f"this training run ({samples} samples × T = {T} × n_in = {n_in}, n_rec = {cfg.lif.n_rec} × "
        f"{cfg.layers} layer{'s' if cfg.layers > 1 else ''}, batch {cfg.batch}, {C} classes)"
    )


def check_train(train_cfg: Any, limit: int | None = None) -> int:
    """:func:`check_memory` for ``train.run(train_cfg)``; returns the estimate."""
    nbytes = estimate_train_bytes(train_cfg)
    check_memory(describe_train(train_cfg), nbytes, limit, lower="samples, n_in, n_rec, batch or time_steps")
    return nbytes


# ---------------------------------------------------------------------------------------------
# train.run_ensemble

ENSEMBLE_ENV = "STABVIZ_MAX_ENSEMBLE"
DEFAULT_MAX_ENSEMBLE = 64


def max_ensemble() -> int:
    """The most members one ensemble may have: ``STABVIZ_MAX_ENSEMBLE`` (a whole number), else 64."""
    raw = os.environ.get(ENSEMBLE_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_ENSEMBLE


def estimate_ensemble_bytes(train_cfgs: Any) -> int:
    """Peak bytes :func:`stabviz.train.run_ensemble` needs for these members (host and device).

    Every member's training and test splits (D each, the task's full tensor is let go) and model stay
    resident while the next one loads; training adds each member's step tensors (the ensemble's
    batched buffers are E members' blocks), the stacked copies of the parameters and their
    gradients, and one probe at a time (members are probed in turn):
      max(Σ (D + model) + the largest loading peak,  Σ (D + model + stacked + step) + the largest probe)
    plus TRAIN_OVERHEAD, with each member's terms those of :func:`estimate_train_bytes`."""
    parts = [_train_parts(cfg) for cfg in train_cfgs]
    if not parts:
        return TRAIN_OVERHEAD
    resident = sum(p["data"] + p["model"] for p in parts)
    loading = resident + max(
        max(p["generate"], p["input_stats"], p["data"] + p.get("measured_model", 0)) for p in parts
    )
    training = sum(p["data"] + p["model"] + p["stacked"] + p["train_step"] for p in parts) + max(
        p["probe"] for p in parts
    )
    return max(loading, training) + TRAIN_OVERHEAD


def check_ensemble(train_cfgs: Any, limit: int | None = None) -> int:
    """Refuse (ValueError, one line) an ensemble with more members than :func:`max_ensemble` or whose
    :func:`estimate_ensemble_bytes` is above the limit; returns the estimate."""
    cfgs = list(train_cfgs)
    most = max_ensemble()
    if len(cfgs) > most:
        raise ValueError(
            f"an ensemble of {len(cfgs)} members is above this machine's limit {most} "
            f"(raise it with {ENSEMBLE_ENV}, or split the runs)"
        )
    nbytes = estimate_ensemble_bytes(cfgs)
    if cfgs:
        check_memory(
            f"an ensemble of {len(cfgs)} of {describe_train(cfgs[0])}",
            nbytes,
            limit,
            lower="the members, samples, n_in, n_rec, batch or time_steps",
        )
    return nbytes


# ---------------------------------------------------------------------------------------------
# Plain bounds for the sizes TrainConfig.check_limits does not bound

#: name -> default; each overridable by STABVIZ_MAX_<NAME> (a whole number), like config.limits().
#: check_limits already bounds n_rec ("neurons"), layers, train_steps, batch and time_steps.
DEFAULT_SIZE_LIMITS = {"inputs": 100_000, "samples": 100_000, "classes": 100, "sim_batch": 1024, "sim_steps": 10_000}


def size_limits() -> dict[str, int]:
    """The bounds of :data:`DEFAULT_SIZE_LIMITS`, each overridable by ``STABVIZ_MAX_<NAME>``."""
    out = {}
    for k, v in DEFAULT_SIZE_LIMITS.items():
        raw = os.environ.get(f"STABVIZ_MAX_{k.upper()}", "").strip()
        out[k] = int(raw) if raw.isdigit() else v
    return out


def check_sizes(
    train_cfg: Any = None,
    *,
    sim_batch: int | None = None,
    sim_steps: int | None = None,
    lim: Mapping[str, int] | None = None,
) -> None:
    """Raise ValueError when a size no other check bounds is above its limit: a training run's
    n_in ("inputs"), samples and classes, and the Monte-Carlo's batch and steps. Pure: nothing is
    allocated, no config is changed."""
    lim = size_limits() if lim is None else lim
    asked: dict[str, int] = {}
    if train_cfg is not None:
        asked.update(inputs=train_cfg.lif.n_in, samples=train_cfg.samples, classes=train_cfg.classes)
    if sim_batch is not None:
        asked["sim_batch"] = sim_batch
    if sim_steps is not None:
        asked["sim_steps"] = sim_steps
    for k, v in asked.items():
        if v > lim[k]:
            raise ValueError(
                f"{k} = {v} is above this machine's limit {lim[k]} (raise it with STABVIZ_MAX_{k.upper()})"
            )


# ---------------------------------------------------------------------------------------------
# `bench lif` (stabviz.timing.bench_lif)

#: float32 tensors of batch × T × n one timed layer step keeps alive at its peak: the current and its
#: gradient, the probe, spikes and voltages kept for the backward pass, the floor GEMMs' operands.
#: Measured (VmHWM, n 256, batch 64; 2026-12-07, 2-core CPU, busy machine): T 100: 94 MB; T 400: 282 to
#: 356 MB over six runs (up to 12.4 such tensors, varying with how the heap fragments); T 800: 482 MB.
#: 14 leaves a margin.
BENCH_LIF_TENSORS = 14


def estimate_bench_lif_bytes(n: int, batch: int, steps: int) -> int:
    """Peak bytes of :func:`stabviz.timing.bench_lif` for a layer of n neurons, batch B and T steps."""
    return BENCH_LIF_TENSORS * F32 * batch * steps * n + 3 * F32 * n * n + OVERHEAD


def check_bench_lif(n: int, batch: int, steps: int, limit: int | None = None) -> int:
    """Refuse (ValueError, one line) a `bench lif` size whose estimate is above the limit; returns it."""
    nbytes = estimate_bench_lif_bytes(n, batch, steps)
    check_memory(f"bench lif (n = {n}, batch {batch}, T = {steps})", nbytes, limit, lower="n, batch or T")
    return nbytes
