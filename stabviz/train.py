"""One short training run that checks the theory's prediction on a real task.

:func:`run` trains a :class:`~stabviz.lif.LIFNetwork` with AdamW on a task of :mod:`stabviz.tasks`,
measures the network at the start and at the end (firing rates, the empirical ρ² of the first layer on
the task's own input, and the gradient-flow probe ‖∂L/∂y_t‖ with its fitted per-step gain ρ̂), and
stores next to them what :func:`stabviz.theory.predict` said for the same setting, computed with the
task's measured input statistics m_x, v_x. Every run therefore answers "was the prediction right?".

Progress goes through ``callback({"step": k, "metrics": {...}})``; nothing here prints, and nothing
here imports streamlit (runs execute in worker processes).
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F

from stabviz import local_losses, memory, theory
from stabviz.config import LIFConfig, TrainConfig
from stabviz.intervals import rate_tolerance
from stabviz.jsonsafe import finite_or_none
from stabviz.lif import (
    CapturedStep,
    LIFEnsemble,
    LIFNetwork,
    fit_gradient_gain,
    group_by_shape,
    probe_gradient_flow,
    resolve_device,
    shape_key,
)
from stabviz.simulate import measure_layer
from stabviz.tasks import TaskData, input_stats, load_task

Callback = Callable[[dict[str, Any]], None]

#: The sparsity switch of docs/theory.md#6-what-the-paper-reports: off for the first fifth of training, a linear ramp to
# 1
#: by three fifths, then on.
SWITCH_START, SWITCH_FULL = 0.2, 0.6
#: Initial-rate adjustment (f0): at most this many bias-only steps ...
RATE_STEPS = 100
#: ... stopped early once every layer's mean rate is this close to f0.
RATE_TOLERANCE = 0.01
#: Bias step of the adjustment, in units of the layer's voltage standard deviation (Adam's step size).
RATE_LR = 0.1
#: Samples of the test split used for the start/end probes (the reference autograd path is slower).
PROBE_SAMPLES = 64

STATUSES = ("finished", "stopped", "diverged", "cancelled")


def sparsity_switch(step: int, total_steps: int) -> float:
    """The sparsity-loss switch at optimiser step ``step`` (0-based) of ``total_steps``
    (docs/theory.md#6-what-the-paper-reports).

    0 while step/total < 1/5, rising linearly to 1 at step/total = 3/5, then 1.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps = {total_steps!r} is outside the allowed range [1, inf)")
    frac = step / total_steps
    return float(min(1.0, max(0.0, (frac - SWITCH_START) / (SWITCH_FULL - SWITCH_START))))


def network_config(cfg: TrainConfig, data: TaskData, input_mean: float, input_var: float) -> LIFConfig:
    """The LIFConfig the run really uses: the task's channels, time steps and input statistics
    (m_x, v_x measured on the training split) replace the config's (``use_recommended_setting`` is applied
    after it: :func:`recommended_setting`)."""
    return cfg.lif.replace(n_in=data.n_in, steps=data.time_steps, input_mean=input_mean, input_var=input_var)


def recommended_setting(lif: LIFConfig, cfg: TrainConfig) -> tuple[LIFConfig, dict[str, Any]]:
    """The outcome model's first recommended option for ``lif`` at the run's budget and depth
    (:func:`stabviz.outcomes.advice.recommended_setting`: γ, β, q and the initialisation, applied as a whole,
    the option with the least expected shortfall that the outcome data do not call harmful). Where every
    option is harmful the setting stays and the notes say why. Returns (the new config, what was applied).
    """
    from stabviz.outcomes.advice import recommended_setting as advised

    return advised(lif, budget=cfg.train_steps, layers=cfg.layers)


def prediction_summary(lif: LIFConfig) -> dict[str, Any]:
    """What the theory predicts for ``lif`` (its voltage model): firing_rate, rho, rho2, regime, ..."""
    p = theory.predict(lif)
    return finite_or_none(
        {
            "voltage_model": p.voltage_model,
            "firing_rate": p.firing_rate,
            "rho": p.rho,
            "rho2": p.rho2,
            "regime": p.regime,
            "point_regime": p.point_regime,
            "log10_gain_band": list(p.log10_gain_band),
            "firing": p.firing,
            "max_gain": p.max_gain,
            "gradient_gain": p.gradient_gain,
            "log10_gain": p.log10_gain,
            "notes": list(p.notes),
        }
    )


# ---------------------------------------------------------------------------------------------
# Measurements at the start and the end


def probe(net: LIFNetwork, lif: LIFConfig, x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    """Firing rate per layer, the first layer's empirical ρ² (simulate.measure_layer on the task
    input), and the gradient-flow probe of layer 0: ‖∂L/∂y_t‖ per step t for the cross-entropy of the
    last step's readout, with its fitted per-step gain ρ̂ (``grad_gain``)."""
    with torch.no_grad():
        _, spikes = net(x)
        m = measure_layer(
            net.w_in[0].detach(),
            net.recurrent_weight(0).detach(),
            net.bias[0].detach(),
            lif,
            x,
            burn_in=max(1, x.shape[1] // 5),
        )
    flow = probe_gradient_flow(net, x, y)[0]
    return finite_or_none(
        {
            "firing_rate": [float(s.mean()) for s in spikes],
            "rho2": m.rho2,
            "rho": math.sqrt(m.rho2) if m.rho2 >= 0 else math.nan,
            "max_gain": m.max_gain,
            "grad_gain": fit_gradient_gain(flow),
            "grad_flow": [float(v) for v in flow],
        }
    )


def verdict(prediction: dict[str, Any], initial: dict[str, Any], lif: LIFConfig) -> dict[str, Any]:
    """Predicted vs measured at initialisation, for one run (one seed).

    firing rate: agrees when |p_pred − p_meas| <= max(0.05, 0.25·p_meas) (layer 0; intervals.rate_tolerance);
    ρ vs ρ̂: agrees when the gains they imply over T steps differ by at most ``lif.tolerance`` decades,
    |T·log10(ρ̂/ρ)| <= tolerance, the same yardstick the theory uses to call a setting 'stable';
    regime: the theory's calibrated label vs the label of T·log10 ρ̂; agrees when T·log10 ρ̂ lies inside
    the prediction's calibrated band (so an 'uncertain' prediction can agree, and a refuted one says so).
    Over K seeds, :func:`stabviz.intervals.group_verdict` applies the same two rules to the 95% interval of
    the mean instead of one value (with K = 1 it is this rule).
    """
    p_pred, p_meas = prediction.get("firing_rate"), (initial.get("firing_rate") or [None])[0]
    rho_pred, rho_meas = prediction.get("rho"), initial.get("grad_gain")
    rate_ok = None if None in (p_pred, p_meas) else abs(p_pred - p_meas) <= rate_tolerance(p_meas)
    decades = None
    if rho_pred and rho_meas and rho_pred > 0 and rho_meas > 0:
        decades = lif.steps * math.log10(rho_meas / rho_pred)
    measured_regime, in_band = None, None
    band = prediction.get("log10_gain_band") or [None, None]
    if rho_meas and rho_meas > 0:
        measured_log10 = lif.steps * math.log10(rho_meas)
        code = int(theory.regime_of(measured_log10, lif.tolerance))
        measured_regime = theory.REGIMES[code + 1]
        if None not in band:
            in_band = band[0] <= measured_log10 <= band[1]
    return {
        "firing_rate": {"predicted": p_pred, "measured": p_meas, "agrees": rate_ok},
        "rho": {
            "predicted": rho_pred,
            "measured": rho_meas,
            "decades_apart": decades,
            "agrees": None if decades is None else abs(decades) <= lif.tolerance,
        },
        "rho2": {"predicted": prediction.get("rho2"), "measured": initial.get("rho2")},
        "regime": {"predicted": prediction.get("regime"), "measured": measured_regime, "band": band, "agrees": in_band},
    }


# ---------------------------------------------------------------------------------------------
# Losses


def task_loss(readout: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Cross-entropy of the readout (batch, T, classes). 'per-step': at every time step, averaged
    (the paper's choice); 'time-mean': of the readout averaged over time; 'last': of the last step's
    readout only (a delayed-answer task such as cues). An ensemble's readout (E, batch, T, classes) with
    targets (E, batch) gives one loss per member, shape (E,)."""
    ensemble = readout.dim() == 4
    classes = readout.shape[-1]
    if kind == "per-step":
        steps = readout.shape[-2]
        logits, labels = readout.reshape(-1, classes), target.repeat_interleave(steps, dim=-1).reshape(-1)
    else:
        logits, labels = class_scores(readout, kind).reshape(-1, classes), target.reshape(-1)
    if not ensemble:
        return F.cross_entropy(logits, labels)
    return F.cross_entropy(logits, labels, reduction="none").view(readout.shape[0], -1).mean(dim=1)


def class_scores(readout: torch.Tensor, kind: str) -> torch.Tensor:
    """The readout a prediction reads: the last step's for the 'last' loss, else the time average."""
    return readout[..., -1, :] if kind == "last" else readout.mean(dim=-2)


def sparsity_loss(spikes: list[torch.Tensor], target: float | torch.Tensor) -> torch.Tensor:
    """Σ_layers (mean z − f_target)² (docs/theory.md#6-what-the-paper-reports, before the switch and the weight).
    An ensemble's spikes (E, batch, T, n) with targets (E,) give one value per member."""
    return sum((_mean_rate(s) - target) ** 2 for s in spikes)


def rate_control_loss(spikes: list[torch.Tensor], f0: float | torch.Tensor) -> torch.Tensor:
    """Σ_layers |mean z − f0|: the paper's firing-rate control term before its weight λ (mean over neurons,
    time and batch). An ensemble's spikes (E, batch, T, n) with targets (E,) give one value per member."""
    return sum((_mean_rate(s) - f0).abs() for s in spikes)


def rate_control_weight(cfg: TrainConfig, step: int) -> float:
    """λ of ``cfg.rate_control`` while optimiser step ``step`` (0-based) is in its first phase, else 0."""
    if cfg.rate_control is None:
        return 0.0
    _, lam, steps = cfg.rate_control
    return lam if step < steps else 0.0


def _mean_rate(spikes: torch.Tensor) -> torch.Tensor:
    """The mean of (batch, T, n) spikes, or of each member's (E, batch, T, n) spikes."""
    return spikes.mean() if spikes.dim() == 3 else spikes.mean(dim=(1, 2, 3))


def predicted_class(readout: torch.Tensor, kind: str = "per-step") -> torch.Tensor:
    """The class with the largest readout (:func:`class_scores`: the last step's for the 'last' loss, else
    time-averaged); (E, batch) for an ensemble."""
    return class_scores(readout, kind).argmax(dim=-1)


@torch.no_grad()
def evaluate(net: LIFNetwork, x: torch.Tensor, y: torch.Tensor, loss_kind: str, batch: int) -> tuple[float, float]:
    """(loss, accuracy) over all of x, y, in chunks of ``batch``."""
    total_loss, correct = 0.0, 0
    for i in range(0, len(y), batch):
        readout, _ = net(x[i : i + batch])
        total_loss += float(task_loss(readout, y[i : i + batch], loss_kind)) * len(y[i : i + batch])
        correct += int((predicted_class(readout, loss_kind) == y[i : i + batch]).sum())
    return total_loss / len(y), correct / len(y)


# ---------------------------------------------------------------------------------------------
# Initial-rate adjustment


def adjust_initial_rate(net: LIFNetwork, batches: _Batches, f0: float) -> dict[str, Any]:
    """Train only the per-neuron biases toward firing rate ``f0`` (docs/theory.md#6-what-the-paper-reports).

    At most RATE_STEPS Adam steps, stopping once every layer's mean rate is within RATE_TOLERANCE of
    f0. The bias gradient is the rate error r_i − f0 of neuron i (a straight-through estimate: the rate
    grows monotonically with the bias), so neurons a compact surrogate cannot reach still move; the
    step size is RATE_LR voltage standard deviations of the layer.
    """
    xb, _ = batches.next()
    with torch.no_grad():
        _, _, volts = net(xb, return_voltages=True)
    groups = [{"params": [b], "lr": RATE_LR * max(float(v.std()), 1e-6)} for b, v in zip(net.bias, volts)]
    opt = torch.optim.Adam(groups)
    rates = [math.nan] * net.n_layers
    steps = 0
    for steps in range(1, RATE_STEPS + 1):  # noqa: B007  (read after the loop: the steps it took)
        xb, _ = batches.next()
        with torch.no_grad():
            _, spikes = net(xb)
        per_neuron = [s.mean(dim=(0, 1)) for s in spikes]
        rates = [float(r.mean()) for r in per_neuron]
        if all(abs(r - f0) <= RATE_TOLERANCE for r in rates):
            break
        opt.zero_grad(set_to_none=True)
        for b, r in zip(net.bias, per_neuron):
            b.grad = (r - f0).to(b.dtype)
        opt.step()
    return {
        "target": f0,
        "steps": steps,
        "firing_rate": rates,
        "reached": all(abs(r - f0) <= RATE_TOLERANCE for r in rates),
    }


@dataclass
class _Batches:
    """Seeded mini-batches: consecutive slices of a fresh permutation per epoch."""

    x: torch.Tensor
    y: torch.Tensor
    size: int
    generator: torch.Generator
    _order: torch.Tensor | None = None
    _pos: int = 0

    @property
    def batch_size(self) -> int:
        return min(self.size, len(self.y))

    def indices(self) -> torch.Tensor:
        """The next mini-batch's sample indices."""
        n, size = len(self.y), self.batch_size
        if self._order is None or self._pos + size > n:
            self._order = torch.randperm(n, generator=self.generator).to(self.y.device)
            self._pos = 0
        idx = self._order[self._pos : self._pos + size]
        self._pos += size
        return idx

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self.indices()
        return self.x[idx], self.y[idx]


# ---------------------------------------------------------------------------------------------
# The run


def run(
    cfg: TrainConfig,
    callback: Callback | None = None,
    should_stop: Callable[[], bool] | None = None,
    run_id: str | None = None,
    cuda_graph: bool | None = None,
) -> dict[str, Any]:
    """Train once and return the summary (JSON-ready: non-finite numbers become None).

    Status: 'finished', 'stopped' (its time limit ended it before the last step; ``final.steps_done``
    says how many it took, and the last one's metrics are logged even off the ``log_every`` grid),
    'diverged' (a non-finite loss or gradient: a result, not an exception), 'cancelled'
    (``should_stop()`` returned True; it is asked before every optimiser step).
    Metrics every ``cfg.log_every`` steps: loss, accuracy (training batch), firing_rate/k,
    grad_norm/k (‖∂L/∂W_rec‖ of layer k), sparsity_switch, progress (0..1). Step 0 carries the
    initial probe (rho2, grad_gain, firing_rate/k); the last event the final one plus test accuracy.
    A run is an ensemble of one (:func:`run_ensemble`'s loop, stepping its own network: any neuron,
    local losses too). ``cuda_graph`` (default: ``STABVIZ_CUDA_GRAPH=1``) captures its step in a CUDA
    graph; ``execution`` records how it ran. Bad settings raise ValueError before anything is trained.
    """
    stop = should_stop or (lambda: False)
    return _run([(cfg, run_id)], callback, lambda _: stop(), cuda_graph, tag=False)[0]


#: Set to 1, it asks for CUDA-graph steps where the caller does not say (``execution`` in a summary
#: records whether the step ran eagerly or as a graph, why not a graph, and how many runs stepped together).
GRAPH_ENV = "STABVIZ_CUDA_GRAPH"


def cuda_graph_requested(flag: bool | None = None) -> bool:
    """``flag``, or when None the environment: STABVIZ_CUDA_GRAPH=1 asks for CUDA-graph steps."""
    return os.environ.get(GRAPH_ENV, "").strip() == "1" if flag is None else bool(flag)


def _check_run(cfg: TrainConfig) -> None:
    if not isinstance(cfg, TrainConfig):
        raise ValueError(f"cfg = {type(cfg).__name__} must be a TrainConfig")
    cfg.check_limits()
    memory.check_sizes(cfg)


@dataclass
class _Member:
    """One run's data, network and measurements: what :func:`run` and :func:`run_ensemble` share."""

    cfg: TrainConfig
    run_id: str
    emit: Callback
    device: torch.device
    task: dict[str, Any]  # the summary's "task" (the TaskData itself is not kept)
    lif: LIFConfig
    recommended: dict[str, Any] | None
    prediction: dict[str, Any]
    net: LIFNetwork
    batches: _Batches
    test: tuple[torch.Tensor, torch.Tensor]
    initial: dict[str, Any]
    rate_adjustment: dict[str, Any] | None


@dataclass(frozen=True)
class _Splits:
    """A task's train and test tensors, its input statistics and its summary (what a run keeps of it)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    m_x: float
    v_x: float
    data: TaskData  # tensors dropped: only its sizes and names are read


#: The last generated task's splits, shared by the runs that ask for the same data: a sweep's members
#: differ in the setting, not the seed, so an ensemble of 16 generated randman 16 times before.
#: Only generated tasks are kept across runs (a data file could change between them); one entry bounds
#: the memory.
_SPLITS: dict[tuple, _Splits] = {}
_GENERATED = ("randman", "digits", "cues")


def _data_key(cfg: TrainConfig) -> tuple:
    """What :func:`stabviz.tasks.load_task` reads from ``cfg``: equal keys, equal data."""
    return (
        cfg.task,
        cfg.classes,
        cfg.lif.n_in,
        cfg.manifold_dim,
        cfg.samples,
        cfg.time_steps,
        cfg.lif.seed,
        cfg.data_path,
    )


def _load_splits(cfg: TrainConfig) -> _Splits:
    data = load_task(cfg)
    x_train = data.x_train
    m_x, v_x = input_stats(x_train)
    return _Splits(x_train, data.y_train, data.x_test, data.y_test, m_x, v_x, replace(data, x=data.x[:0], y=data.y[:0]))


def _task_splits(cfgs: Sequence[TrainConfig]) -> list[_Splits]:
    """Each config's task splits: each distinct data once, generated tasks reused from the last call, and
    the rest loaded in parallel threads (generation is numpy, which frees the interpreter lock: an
    ensemble of seeds loads its members' data about twice as fast on two cores as one after another)."""
    keys = [_data_key(c) for c in cfgs]
    todo = {k: c for k, c in zip(keys, cfgs) if k not in _SPLITS}
    found = {k: _SPLITS[k] for k in keys if k in _SPLITS}
    if len(todo) > 1:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(len(todo), os.cpu_count() or 1))) as pool:
            found.update(zip(todo, pool.map(_load_splits, todo.values())))
    else:
        found.update({k: _load_splits(c) for k, c in todo.items()})
    _SPLITS.clear()
    last = next((k for k in reversed(keys) if k[0] in _GENERATED), None)
    if last is not None:
        _SPLITS[last] = found[last]
    return [found[k] for k in keys]


def _prepare(
    cfg: TrainConfig, run_id: str, emit: Callback, device: torch.device, splits: _Splits | None = None
) -> _Member:
    """Load the task (or take ``splits``, its data loaded already), build the network from the seed,
    probe it (the step-0 event) and, with ``initial_rate``, adjust the biases: everything before the
    optimiser loop."""
    splits = splits or _task_splits([cfg])[0]
    data, m_x, v_x = splits.data, splits.m_x, splits.v_x
    lif = network_config(cfg, data, m_x, v_x)
    recommended = None
    if cfg.use_recommended_setting:
        lif, recommended = recommended_setting(lif, cfg)
    prediction = prediction_summary(lif)

    generator = torch.Generator().manual_seed(lif.seed)
    net = LIFNetwork(lif, n_layers=cfg.layers, n_out=data.n_classes, generator=generator, device=device)
    # shared, never written: members of one ensemble that asked for the same data hold one copy
    x_train, y_train = splits.x_train.to(device), splits.y_train.to(device)
    x_test, y_test = splits.x_test.to(device), splits.y_test.to(device)
    batches = _Batches(x_train, y_train, cfg.batch, generator)

    initial = probe(net, lif, x_test[:PROBE_SAMPLES], y_test[:PROBE_SAMPLES])
    emit(
        {
            "step": 0,
            "metrics": _numbers(
                {
                    "rho2": initial["rho2"],
                    "grad_gain": initial["grad_gain"],
                    "progress": 0.0,
                    **_per_layer("firing_rate", initial["firing_rate"]),
                }
            ),
        }
    )
    rate_adjustment = None
    if cfg.initial_rate is not None:
        rate_adjustment = adjust_initial_rate(net, batches, cfg.initial_rate)
    # only the splits stay: an ensemble holds every member's data at once
    return _Member(
        cfg,
        run_id,
        emit,
        device,
        _task_summary(data, m_x, v_x),
        lif,
        recommended,
        prediction,
        net,
        batches,
        (x_test, y_test),
        initial,
        rate_adjustment,
    )


def _finish(m: _Member, outcome: dict[str, Any], started: float, execution: dict[str, Any]) -> dict[str, Any]:
    """Test accuracy, the final probe (the last event) and the run's summary."""
    cfg, (x_test, y_test) = m.cfg, m.test
    test_loss, test_acc = evaluate(m.net, x_test, y_test, cfg.loss, max(cfg.batch, 64))
    final = {
        **probe(m.net, m.lif, x_test[:PROBE_SAMPLES], y_test[:PROBE_SAMPLES]),
        "loss": test_loss,
        "accuracy": test_acc,
        "train_loss": outcome["last_loss"],
        "train_accuracy": outcome["last_accuracy"],
        "steps_done": outcome["steps_done"],
    }
    final = finite_or_none(final)
    m.emit(
        {
            "step": outcome["steps_done"],
            "metrics": _numbers(
                {
                    "test_accuracy": test_acc,
                    "test_loss": test_loss,
                    "rho2": final["rho2"],
                    "grad_gain": final["grad_gain"],
                    **_per_layer("firing_rate", final["firing_rate"]),
                }
            ),
        }
    )
    return finite_or_none(
        {
            "run_id": m.run_id,
            "status": outcome["status"],
            "stopped_early": outcome["stopped_early"],
            "device": str(m.device),
            "wall_s": time.monotonic() - started,
            "task": m.task,
            "lif": m.lif.to_dict(),
            "recommended_sg": m.recommended,
            "prediction": m.prediction,
            "initial": m.initial,
            "final": final,
            "rate_adjustment": m.rate_adjustment,
            "verdict": verdict(m.prediction, m.initial, m.lif),
            "execution": dict(execution),
        }
    )


# ---------------------------------------------------------------------------------------------
# An ensemble: many runs of one shape in lockstep


def ensemble_key(cfg: TrainConfig) -> tuple:
    """What runs must share to train as one ensemble: the layer's shape (:func:`stabviz.lif.shape_key`),
    the layers, the task and its sizes, the batch, the optimiser steps, the loss and the device.
    Seeds, α, θ, γ, β, q, the initialisation, lr, weight decay, sparsity, f0 and time limit may differ."""
    key = (
        shape_key(cfg.lif),
        cfg.layers,
        cfg.task,
        cfg.data_path,
        cfg.classes,
        cfg.samples,
        cfg.time_steps,
        cfg.batch,
        cfg.train_steps,
        cfg.loss,
        cfg.device,
    )
    return key + (object(),) if cfg.local_losses else key  # local losses: a run trains alone


def group_configs(configs: Sequence[TrainConfig]) -> list[list[int]]:
    """Indices of ``configs`` split into groups that can train as one ensemble (:func:`ensemble_key`)."""
    return group_by_shape(configs, key=ensemble_key)


def run_ensemble(
    members: Sequence[tuple[TrainConfig, str | None]],
    callback: Callback | None = None,
    should_stop: Callable[[str], bool] | None = None,
    cuda_graph: bool | None = None,
) -> list[dict[str, Any]]:
    """Train every (config, run_id) member as one ensemble (:class:`stabviz.lif.LIFEnsemble`) and
    return their summaries, in order, with :func:`run`'s keys.

    Member k's run is :func:`run` ``(config_k)``: the same data, initial weights, initial probe,
    mini-batch order and AdamW state (its own parameters, learning rate and weight decay), stepped
    in lockstep with the others. Events go to ``callback`` tagged with the member's ``run_id``;
    ``should_stop(run_id)`` is asked for each running member before every step, and a member that
    stops, diverges (non-finite loss or gradient: it is frozen, its parameters no longer change) or
    reaches its time limit leaves the others running. ``cuda_graph`` (default STABVIZ_CUDA_GRAPH=1)
    captures the forward and backward pass in a CUDA graph after warm-up (eager elsewhere, with a
    note in ``execution``). Members must share :func:`ensemble_key` (see :func:`group_configs`);
    their number is bounded by STABVIZ_MAX_ENSEMBLE and the memory estimate.
    """
    return _run(members, callback, should_stop, cuda_graph, tag=True)


def _run(
    members: Sequence[tuple[TrainConfig, str | None]],
    callback: Callback | None,
    should_stop: Callable[[str], bool] | None,
    cuda_graph: bool | None,
    tag: bool,
) -> list[dict[str, Any]]:
    """:func:`run_ensemble` (``tag``: events carry their run_id) and :func:`run` (one member, untagged)."""
    members = [(cfg, run_id or uuid.uuid4().hex[:12]) for cfg, run_id in members]
    if not members:
        raise ValueError("an ensemble needs at least one member")
    lone = len(members) == 1
    if not lone and any(cfg.local_losses for cfg, _ in members):
        raise ValueError(
            "local_losses = True: such runs train one at a time (run), not as an ensemble "
            "(--seeds 1, or STABVIZ_CUDA_GRAPH unset)"
        )
    for cfg, _ in members:
        _check_run(cfg)
    cfgs = [cfg for cfg, _ in members]
    if len(group_configs(cfgs)) > 1:
        raise ValueError(
            "ensemble members must share the layer shape, layers, task and its sizes, batch, "
            "steps, loss and device; split them with train.group_configs"
        )
    # before any allocation: a refused size costs nothing
    memory.check_train(cfgs[0]) if lone else memory.check_ensemble(cfgs)
    started = time.monotonic()
    emit = callback or (lambda event: None)
    stop = should_stop or (lambda run_id: False)
    device = resolve_device(cfgs[0].device)
    states = [
        _prepare(cfg, run_id, _tagged(emit, run_id) if tag else emit, device, splits)
        for (cfg, run_id), splits in zip(members, _task_splits(cfgs))
    ]
    if len({(s.net.n_in, s.net.n_out, s.batches.batch_size) for s in states}) > 1:
        raise ValueError("ensemble members' data differ in channels, classes or batch size; train them apart")
    outcomes, execution = _train(states, stop, started, cuda_graph_requested(cuda_graph))
    return [_finish(state, outcome, started, execution) for state, outcome in zip(states, outcomes)]


def _tagged(emit: Callback, run_id: str) -> Callback:
    return lambda event: emit({**event, "run_id": run_id})


def _train(
    states: list[_Member], stop: Callable[[str], bool], started: float, cuda_graph: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The one optimiser loop, every member in lockstep. Per member: status, stopped_early, steps_done
    and the last batch's loss and accuracy; and the execution record."""
    cfg0, members = states[0].cfg, len(states)
    params = [list(s.net.parameters()) for s in states]
    flat = [p for ps in params for p in ps]
    opt = torch.optim.AdamW(
        [{"params": p, "lr": s.cfg.lr, "weight_decay": s.cfg.weight_decay} for p, s in zip(params, states)]
    )
    device, layers = states[0].device, cfg0.layers
    x0 = states[0].batches.x
    # zeros, not empty: a member stopped before its first step leaves valid (ignored) class labels
    xb = torch.zeros((members, states[0].batches.batch_size, *x0.shape[1:]), dtype=x0.dtype, device=device)
    yb = torch.zeros(xb.shape[:2], dtype=states[0].batches.y.dtype, device=device)
    weight = torch.tensor([s.cfg.sparsity_weight for s in states], device=device)
    target = torch.tensor([s.cfg.sparsity_target for s in states], device=device)
    switch_t = torch.zeros((), device=device)
    sparse = any(s.cfg.sparsity_weight > 0 for s in states)
    # the rate control term: each member's f0 and its λ of this step (0 after its first phase)
    controlled = any(s.cfg.rate_control is not None for s in states)
    rate_f0 = torch.tensor([(s.cfg.rate_control or (0.0,))[0] for s in states], device=device)
    rate_lam = torch.zeros(members, device=device)

    forward = _forward(states, xb, yb)

    def step() -> torch.Tensor:
        """Forward and backward on the static batch; per member [loss, total, accuracy, rates, ‖∂W_rec‖].
        The gradients are assigned, never accumulated: a replayed graph rewrites the same tensors."""
        readout, spikes, losses, objective = forward()
        total = objective + weight * switch_t * sparsity_loss(spikes, target) if sparse else objective
        if controlled:
            total = total + rate_lam * rate_control_loss(spikes, rate_f0)
        for p, g in zip(flat, torch.autograd.grad(total.sum(), flat)):
            p.grad = g
        norms = torch.stack([torch.linalg.vector_norm(w.grad) for s in states for w in s.net.w_rec])
        accuracy = (predicted_class(readout.detach(), cfg0.loss) == yb).to(losses.dtype).mean(dim=1)
        rates = torch.stack([_mean_rate(z.detach()) for z in spikes], dim=1)
        return torch.cat(
            [losses.detach()[:, None], total.detach()[:, None], accuracy[:, None], rates, norms.view(members, layers)],
            dim=1,
        )

    graph = CapturedStep(step, device, enabled=cuda_graph)
    outcomes = [
        {"status": None, "stopped_early": None, "steps_done": 0, "last_loss": math.nan, "last_accuracy": math.nan}
        for _ in states
    ]
    unlogged: list[dict[str, Any] | None] = [None] * members
    for step_no in range(cfg0.train_steps):
        _end_stopped(states, outcomes, unlogged, stop, started)
        active = [k for k, out in enumerate(outcomes) if out["status"] is None]
        if not active:
            break
        for k in active:  # frozen members keep their last batch: their slots are ignored
            idx = states[k].batches.indices()
            torch.index_select(states[k].batches.x, 0, idx, out=xb[k])
            torch.index_select(states[k].batches.y, 0, idx, out=yb[k])
        switch = sparsity_switch(step_no, cfg0.train_steps) if sparse else 0.0
        switch_t.fill_(switch)
        if controlled:  # in place: a captured graph reads the same tensor
            rate_lam.copy_(torch.tensor([rate_control_weight(s.cfg, step_no) for s in states]))
        stats = graph().tolist()
        _mark_diverged(outcomes, active, stats, layers)
        _optimiser_step(opt, params, outcomes)
        for k in active:
            if outcomes[k]["status"] is None:
                unlogged[k] = _record_step(states[k], outcomes[k], stats[k], step_no, switch, layers)
    for out in outcomes:
        out["status"] = out["status"] or "finished"
    return outcomes, {"mode": graph.mode, "note": graph.note, "members": members}


def _end_stopped(
    states: list[_Member],
    outcomes: list[dict[str, Any]],
    unlogged: list[dict[str, Any] | None],
    stop: Callable[[str], bool],
    started: float,
) -> None:
    """Before a step: end each running member that was cancelled or reached its time limit (a stopped one's
    curves end at the last step taken, not the last logged)."""
    for k, (s, out) in enumerate(zip(states, outcomes)):
        if out["status"] is None and stop(s.run_id):
            out["status"], out["stopped_early"] = "cancelled", "cancelled"
        elif out["status"] is None and time.monotonic() - started > s.cfg.time_limit:
            out["status"], out["stopped_early"] = "stopped", "time limit"
            if unlogged[k] is not None:
                s.emit(unlogged[k])


def _mark_diverged(outcomes: list[dict[str, Any]], active: list[int], stats: list[list[float]], layers: int) -> None:
    """After a forward and backward: each active member's last loss, and 'diverged' where its objective or a
    gradient norm is not finite."""
    for k in active:
        loss, total, _, *rest = stats[k]
        outcomes[k]["last_loss"] = loss
        if not math.isfinite(total):
            outcomes[k]["status"], outcomes[k]["stopped_early"] = "diverged", "non-finite loss"
        elif not all(math.isfinite(g) for g in rest[layers:]):
            outcomes[k]["status"], outcomes[k]["stopped_early"] = "diverged", "non-finite gradient"


def _optimiser_step(opt: torch.optim.Optimizer, params: list[list[torch.Tensor]], outcomes: list[dict]) -> None:
    """AdamW's step for the members still running: an ended member's parameters have no gradient during
    the step (AdamW skips them: it stays frozen), and every gradient tensor is put back afterwards (a
    captured step writes into the same tensors again)."""
    grads = [[p.grad for p in ps] for ps in params]
    for ps, out in zip(params, outcomes):
        if out["status"] is not None:
            for p in ps:
                p.grad = None
    opt.step()
    for ps, gs in zip(params, grads):
        for p, g in zip(ps, gs):
            p.grad = g


def _record_step(
    state: _Member, out: dict[str, Any], stats: list[float], step_no: int, switch: float, layers: int
) -> dict[str, Any] | None:
    """A running member's step taken: its steps_done and last accuracy, and its metrics event, emitted on the
    ``log_every`` grid and at the last step; returns the event when it was not emitted (None otherwise)."""
    loss, _, accuracy, *rest = stats
    cfg = state.cfg
    out["steps_done"], out["last_accuracy"] = step_no + 1, accuracy
    event = {
        "step": out["steps_done"],
        "metrics": {
            "loss": loss,
            "accuracy": accuracy,
            "sparsity_switch": switch,
            "progress": out["steps_done"] / cfg.train_steps,
            **_per_layer("firing_rate", rest[:layers]),
            **_per_layer("grad_norm", rest[layers:]),
        },
    }
    if out["steps_done"] % cfg.log_every == 0 or out["steps_done"] == cfg.train_steps:
        state.emit(event)
        return None
    return event


def _forward(
    states: list[_Member], xb: torch.Tensor, yb: torch.Tensor
) -> Callable[[], tuple[torch.Tensor, list[torch.Tensor], torch.Tensor, torch.Tensor]]:
    """The step's forward on the static batch ``xb`` (E, batch, T, n_in), ``yb`` (E, batch): the readout
    (E, batch, T, classes), the spikes (E, batch, T, n) per layer, each member's task loss and the
    objective it trains on, both (E,). A lone member steps its own network (any neuron model, local
    losses too); several step as one :class:`stabviz.lif.LIFEnsemble` (LIF only)."""
    kind = states[0].cfg.loss
    if len(states) > 1:
        ens = LIFEnsemble([s.net for s in states])

        def together():
            readout, spikes = ens(xb)
            losses = task_loss(readout, yb, kind)
            return readout, spikes, losses, losses

        return together
    cfg, net = states[0].cfg, states[0].net
    readouts = local_losses.random_readouts(net, cfg.lif.seed) if cfg.local_losses else None

    def alone():
        x, y = xb[0], yb[0]
        if readouts is None:
            readout, spikes = net(x)
            loss = objective = task_loss(readout, y, kind)
        else:  # the reported loss is the network's; the local ones train the hidden layers
            readout, spikes, local = local_losses.forward(net, x, readouts)
            loss = task_loss(readout, y, kind)
            objective = loss + sum(task_loss(r, y, kind) for r in local)
        return readout[None], [z[None] for z in spikes], loss[None], objective[None]

    return alone


def _per_layer(name: str, values: list[float]) -> dict[str, float]:
    return {f"{name}/{k}": v for k, v in enumerate(values)}


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """Only the finite numbers: a metric stream holds numbers, never None."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}


def _task_summary(data: TaskData, m_x: float, v_x: float) -> dict[str, Any]:
    return {
        "name": data.name,
        "source": data.source,
        "n_in": data.n_in,
        "n_classes": data.n_classes,
        "time_steps": data.time_steps,
        "train_samples": len(data.train_idx),
        "test_samples": len(data.test_idx),
        "input_mean": m_x,
        "input_var": v_x,
    }
