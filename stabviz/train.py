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

import math
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F

from stabviz import memory, theory
from stabviz.config import LIFConfig, TrainConfig
from stabviz.intervals import rate_tolerance
from stabviz.jsonsafe import finite_or_none
from stabviz.lif import LIFNetwork, fit_gradient_gain, probe_gradient_flow
from stabviz.simulate import measure_layer
from stabviz.tasks import TaskData, input_stats, load_task

Callback = Callable[[dict[str, Any]], None]

#: The sparsity switch of docs/theory.md#6-what-the-paper-reports: off for the first fifth of training, a linear ramp to 1
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

STATUSES = ("finished", "diverged", "cancelled")


def sparsity_switch(step: int, total_steps: int) -> float:
    """The sparsity-loss switch at optimiser step ``step`` (0-based) of ``total_steps`` (docs/theory.md#6-what-the-paper-reports).

    0 while step/total < 1/5, rising linearly to 1 at step/total = 3/5, then 1.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps = {total_steps!r} is outside the allowed range [1, inf)")
    frac = step / total_steps
    return float(min(1.0, max(0.0, (frac - SWITCH_START) / (SWITCH_FULL - SWITCH_START))))


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without CUDA is a ValueError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device = 'cuda' but CUDA is not available here; use 'auto' or 'cpu'")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device = {device!r} is not one of: auto, cpu, cuda")
    return torch.device(device)


def network_config(cfg: TrainConfig, data: TaskData, input_mean: float, input_var: float) -> LIFConfig:
    """The LIFConfig the run really uses: the task's channels, time steps and input statistics
    (m_x, v_x measured on the training split) replace the config's; with ``use_recommended_sg``
    the surrogate also takes the first recommendation option (see :func:`recommended_surrogate`)."""
    lif = cfg.lif.replace(n_in=data.n_in, steps=data.time_steps, input_mean=input_mean, input_var=input_var)
    return recommended_surrogate(lif)[0] if cfg.use_recommended_sg else lif


def recommended_surrogate(lif: LIFConfig) -> tuple[LIFConfig, dict[str, Any]]:
    """The first of the theory's recommendation options (:func:`stabviz.theory.recommendation_options`:
    "keep γ, solve β", else "keep β, solve γ", else "keep γ, β, solve q"), applied as a whole: a setting the
    theory evaluates to ρ² = 1, never γ from one condition paired with β solved at another γ. Where no option
    exists the surrogate stays and the notes say why. Returns (the new config, {label, dampening, sharpness,
    tail, notes}).
    """
    options, notes = theory.recommendation_options(lif)
    if not options:
        return lif, {"label": None, "dampening": None, "sharpness": None, "tail": None,
                     "notes": notes + ["no option gives ρ² = 1 here; the surrogate is unchanged"]}
    best = options[0]
    applied = {k: best[k] for k in ("label", "dampening", "sharpness", "tail")} | {"notes": notes}
    return lif.replace(dampening=best["dampening"], sharpness=best["sharpness"], tail=best["tail"]), applied


def prediction_summary(lif: LIFConfig) -> dict[str, Any]:
    """What the theory predicts for ``lif`` (its voltage model): firing_rate, rho, rho2, regime, ..."""
    p = theory.predict(lif)
    return finite_or_none({"voltage_model": p.voltage_model, "firing_rate": p.firing_rate, "rho": p.rho,
                    "rho2": p.rho2, "regime": p.regime, "point_regime": p.point_regime,
                    "log10_gain_band": list(p.log10_gain_band), "firing": p.firing, "max_gain": p.max_gain,
                    "gradient_gain": p.gradient_gain, "log10_gain": p.log10_gain, "notes": list(p.notes)})


# ---------------------------------------------------------------------------------------------
# Measurements at the start and the end


def probe(net: LIFNetwork, lif: LIFConfig, x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    """Firing rate per layer, the first layer's empirical ρ² (simulate.measure_layer on the task
    input), and the gradient-flow probe of layer 0: ‖∂L/∂y_t‖ per step t for the cross-entropy of the
    last step's readout, with its fitted per-step gain ρ̂ (``grad_gain``)."""
    with torch.no_grad():
        _, spikes = net(x)
        m = measure_layer(net.w_in[0].detach(), net.recurrent_weight(0).detach(), net.bias[0].detach(),
                          lif, x, burn_in=max(1, x.shape[1] // 5))
    flow = probe_gradient_flow(net, x, y)[0]
    return finite_or_none({"firing_rate": [float(s.mean()) for s in spikes], "rho2": m.rho2,
                    "rho": math.sqrt(m.rho2) if m.rho2 >= 0 else math.nan, "max_gain": m.max_gain,
                    "grad_gain": fit_gradient_gain(flow), "grad_flow": [float(v) for v in flow]})


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
    rate_ok = None if None in (p_pred, p_meas) else \
        abs(p_pred - p_meas) <= rate_tolerance(p_meas)
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
    return {"firing_rate": {"predicted": p_pred, "measured": p_meas, "agrees": rate_ok},
            "rho": {"predicted": rho_pred, "measured": rho_meas, "decades_apart": decades,
                    "agrees": None if decades is None else abs(decades) <= lif.tolerance},
            "rho2": {"predicted": prediction.get("rho2"), "measured": initial.get("rho2")},
            "regime": {"predicted": prediction.get("regime"), "measured": measured_regime,
                       "band": band, "agrees": in_band}}


# ---------------------------------------------------------------------------------------------
# Losses


def task_loss(readout: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Cross-entropy of the readout (batch, T, classes). 'per-step': at every time step, averaged
    (the paper's choice); 'time-mean': of the readout averaged over time."""
    if kind == "per-step":
        steps = readout.shape[1]
        return F.cross_entropy(readout.reshape(-1, readout.shape[2]), target.repeat_interleave(steps))
    return F.cross_entropy(readout.mean(dim=1), target)


def sparsity_loss(spikes: list[torch.Tensor], target: float) -> torch.Tensor:
    """Σ_layers (mean z − f_target)² (docs/theory.md#6-what-the-paper-reports, before the switch and the weight)."""
    return sum((s.mean() - target) ** 2 for s in spikes)


def predicted_class(readout: torch.Tensor) -> torch.Tensor:
    """The class with the largest time-averaged readout (for either loss)."""
    return readout.mean(dim=1).argmax(dim=-1)


@torch.no_grad()
def evaluate(net: LIFNetwork, x: torch.Tensor, y: torch.Tensor, loss_kind: str, batch: int) -> tuple[float, float]:
    """(loss, accuracy) over all of x, y, in chunks of ``batch``."""
    total_loss, correct = 0.0, 0
    for i in range(0, len(y), batch):
        readout, _ = net(x[i:i + batch])
        total_loss += float(task_loss(readout, y[i:i + batch], loss_kind)) * len(y[i:i + batch])
        correct += int((predicted_class(readout) == y[i:i + batch]).sum())
    return total_loss / len(y), correct / len(y)


# ---------------------------------------------------------------------------------------------
# Initial-rate adjustment


def adjust_initial_rate(net: LIFNetwork, batches: "_Batches", f0: float) -> dict[str, Any]:
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
    for steps in range(1, RATE_STEPS + 1):
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
    return {"target": f0, "steps": steps, "firing_rate": rates,
            "reached": all(abs(r - f0) <= RATE_TOLERANCE for r in rates)}


@dataclass
class _Batches:
    """Seeded mini-batches: consecutive slices of a fresh permutation per epoch."""
    x: torch.Tensor
    y: torch.Tensor
    size: int
    generator: torch.Generator
    _order: torch.Tensor | None = None
    _pos: int = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.y)
        size = min(self.size, n)
        if self._order is None or self._pos + size > n:
            self._order = torch.randperm(n, generator=self.generator).to(self.y.device)
            self._pos = 0
        idx = self._order[self._pos:self._pos + size]
        self._pos += size
        return self.x[idx], self.y[idx]


# ---------------------------------------------------------------------------------------------
# The run


def run(cfg: TrainConfig, callback: Callback | None = None, should_stop: Callable[[], bool] | None = None,
        run_id: str | None = None) -> dict[str, Any]:
    """Train once and return the summary (JSON-ready: non-finite numbers become None).

    Status: 'finished' (also when the time limit ends it early: ``stopped_early`` says so),
    'diverged' (a non-finite loss or gradient: a result, not an exception), 'cancelled'
    (``should_stop()`` returned True; it is asked before every optimiser step).
    Metrics every ``cfg.log_every`` steps: loss, accuracy (training batch), firing_rate/k,
    grad_norm/k (‖∂L/∂W_rec‖ of layer k), sparsity_switch, progress (0..1). Step 0 carries the
    initial probe (rho2, grad_gain, firing_rate/k); the last event the final one plus test accuracy.
    Bad settings raise ValueError before anything is trained.
    """
    if not isinstance(cfg, TrainConfig):
        raise ValueError(f"cfg = {type(cfg).__name__} must be a TrainConfig")
    started = time.monotonic()
    emit = callback or (lambda event: None)
    stop = should_stop or (lambda: False)
    run_id = run_id or uuid.uuid4().hex[:12]
    cfg.check_limits()
    memory.check_sizes(cfg)
    memory.check_train(cfg)          # before any allocation: a refused size costs nothing
    device = resolve_device(cfg.device)

    data = load_task(cfg)
    m_x, v_x = input_stats(data.x_train)
    lif = network_config(cfg, data, m_x, v_x)
    recommended = recommended_surrogate(lif)[1] if cfg.use_recommended_sg else None
    prediction = prediction_summary(lif)

    generator = torch.Generator().manual_seed(lif.seed)
    net = LIFNetwork(lif, n_layers=cfg.layers, n_out=data.n_classes, generator=generator, device=device)
    x_train, y_train = data.x_train.to(device), data.y_train.to(device)
    x_test, y_test = data.x_test.to(device), data.y_test.to(device)
    probe_x, probe_y = x_test[:PROBE_SAMPLES], y_test[:PROBE_SAMPLES]
    batches = _Batches(x_train, y_train, cfg.batch, generator)

    initial = probe(net, lif, probe_x, probe_y)
    emit({"step": 0, "metrics": _numbers({"rho2": initial["rho2"], "grad_gain": initial["grad_gain"],
                                          "progress": 0.0, **_per_layer("firing_rate", initial["firing_rate"])})})
    rate_adjustment = None
    if cfg.initial_rate is not None:
        rate_adjustment = adjust_initial_rate(net, batches, cfg.initial_rate)

    outcome = _train(net, cfg, batches, emit, stop, started)

    test_loss, test_acc = evaluate(net, x_test, y_test, cfg.loss, max(cfg.batch, 64))
    final = {**probe(net, lif, probe_x, probe_y), "loss": test_loss, "accuracy": test_acc,
             "train_loss": outcome["last_loss"], "train_accuracy": outcome["last_accuracy"],
             "steps_done": outcome["steps_done"]}
    final = finite_or_none(final)
    emit({"step": outcome["steps_done"], "metrics": _numbers(
        {"test_accuracy": test_acc, "test_loss": test_loss, "rho2": final["rho2"],
         "grad_gain": final["grad_gain"], **_per_layer("firing_rate", final["firing_rate"])})})
    return finite_or_none({"run_id": run_id, "status": outcome["status"], "stopped_early": outcome["stopped_early"],
            "device": str(device), "wall_s": time.monotonic() - started,
            "task": _task_summary(data, m_x, v_x), "lif": lif.to_dict(), "recommended_sg": recommended,
            "prediction": prediction, "initial": initial, "final": final, "rate_adjustment": rate_adjustment,
            "verdict": verdict(prediction, initial, lif)})


def _train(net: LIFNetwork, cfg: TrainConfig, batches: _Batches, emit: Callback, stop: Callable[[], bool],
           started: float) -> dict[str, Any]:
    """The optimiser loop; returns status, stopped_early, steps_done and the last batch's loss/accuracy."""
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    status, stopped_early, steps_done = "finished", None, 0
    last_loss, last_acc = math.nan, math.nan
    for step in range(cfg.train_steps):
        if stop():
            status, stopped_early = "cancelled", "cancelled"
            break
        if time.monotonic() - started > cfg.time_limit:
            stopped_early = "time limit"
            break
        xb, yb = batches.next()
        readout, spikes = net(xb)
        loss = task_loss(readout, yb, cfg.loss)
        switch = sparsity_switch(step, cfg.train_steps) if cfg.sparsity_weight > 0 else 0.0
        total = loss + cfg.sparsity_weight * switch * sparsity_loss(spikes, cfg.sparsity_target) \
            if switch > 0 else loss
        last_loss = float(loss.detach())
        if not math.isfinite(float(total.detach())):
            status, stopped_early = "diverged", "non-finite loss"
            break
        opt.zero_grad(set_to_none=True)
        total.backward()
        grad_norms = [_norm(w.grad) for w in net.w_rec]
        if not all(math.isfinite(g) for g in grad_norms):
            status, stopped_early = "diverged", "non-finite gradient"
            break
        opt.step()
        steps_done = step + 1
        last_acc = float((predicted_class(readout.detach()) == yb).float().mean())
        if steps_done % cfg.log_every == 0 or steps_done == cfg.train_steps:
            emit({"step": steps_done, "metrics": {
                "loss": last_loss, "accuracy": last_acc, "sparsity_switch": switch,
                "progress": steps_done / cfg.train_steps,
                **_per_layer("firing_rate", [float(s.detach().mean()) for s in spikes]),
                **_per_layer("grad_norm", grad_norms)}})
    return {"status": status, "stopped_early": stopped_early, "steps_done": steps_done,
            "last_loss": last_loss, "last_accuracy": last_acc}


def _norm(grad: torch.Tensor | None) -> float:
    return 0.0 if grad is None else float(torch.linalg.vector_norm(grad))


def _per_layer(name: str, values: list[float]) -> dict[str, float]:
    return {f"{name}/{k}": v for k, v in enumerate(values)}


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """Only the finite numbers: a metric stream holds numbers, never None."""
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and math.isfinite(v)}


def _task_summary(data: TaskData, m_x: float, v_x: float) -> dict[str, Any]:
    return {"name": data.name, "source": data.source, "n_in": data.n_in, "n_classes": data.n_classes,
            "time_steps": data.time_steps, "train_samples": len(data.train_idx),
            "test_samples": len(data.test_idx), "input_mean": m_x, "input_var": v_x}


