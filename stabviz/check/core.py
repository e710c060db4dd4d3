"""stabviz.check: measure a user's spiking network as it is and say what to change (docs/check.md)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from stabviz.check import hazards as hz
from stabviz.check import suggest
from stabviz.check.equivalent import layer_config, prediction, surrogate_fields
from stabviz.check.layers import Layer, find_layers, module_of, modules_by_name
from stabviz.check.measure import detect_mode, fit_log10_per_step, layer_rates, measure, membrane_range, network_norms
from stabviz.check.report import CheckReport
from stabviz.config import Surrogate, show
from stabviz.intervals import mean_interval

#: decades of gain over T still called stable (LIFConfig.tolerance's default, the dashboard's band edge)
TOLERANCE = 1.0
MIN_STEPS, MAX_SEEDS = 4, 64


def _checked(inputs: Any, time_steps: Any, seeds: Any, loss: Any) -> tuple[torch.Tensor, int, int]:
    if not isinstance(inputs, torch.Tensor):
        raise ValueError(f"inputs = {show(inputs)} must be a torch.Tensor of shape (T, batch, ...) (time first)")
    if not inputs.is_floating_point():
        raise ValueError(f"inputs dtype = {inputs.dtype} must be a floating-point dtype (float32 or float64)")
    if inputs.dim() < 2 or inputs.shape[0] < MIN_STEPS or inputs.shape[1] < 1:
        raise ValueError(
            f"inputs shape = {tuple(inputs.shape)} must be (T, batch, ...) with T >= {MIN_STEPS} and batch >= 1"
        )
    if not bool(torch.isfinite(inputs).all()):
        raise ValueError("inputs contain NaN or infinite values; give finite inputs")
    total = inputs.shape[0]
    if time_steps is None:
        steps = total
    elif isinstance(time_steps, bool) or not isinstance(time_steps, int) or not MIN_STEPS <= time_steps <= total:
        raise ValueError(
            f"time_steps = {show(time_steps)} is outside the allowed range [{MIN_STEPS}, {total}] "
            "(at most the inputs' first dimension)"
        )
    else:
        steps = time_steps
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ValueError(f"seeds = {show(seeds)} is outside the allowed range [1, {MAX_SEEDS}]")
    if loss is not None and not callable(loss):
        raise ValueError(f"loss = {show(loss)} must be a function of the model's output, or None")
    return inputs[:steps], steps, seeds


def check(
    model: Any, inputs: Any, *, time_steps: int | None = None, seeds: int = 3, loss: Callable | None = None
) -> CheckReport:
    """Measure ``model`` on ``inputs`` (time first: (T, batch, ...)) and report its layers, measured gradient
    gain, the theory's prediction per layer, hazards, a verdict and re-measured suggestions.

    ``model`` is never changed: every run uses a deep copy. ``seeds`` random projections of the last step's
    output give the gain's interval; ``loss(output)`` (a scalar) replaces the projection when given.
    """
    layers = find_layers(model)
    x, steps, seeds = _checked(inputs, time_steps, seeds, loss)
    started = time.perf_counter()
    mode = detect_mode(model, layers, x, steps)
    base = _summary(measure(model, layers, x, steps, mode, seeds, loss), layers, steps)
    described = [_describe(model, layer, base, i) for i, layer in enumerate(layers)]
    configs, predicted = _predictions(model, layers, described, base, steps)
    found = [
        h
        for i, d in enumerate(described)
        for h in hz.layer_hazards(d, layers[i].adapter.spike_function(module_of(model, layers[i])), base["ranges"][i])
    ]
    if base["nan_gradient"]:
        found.append(
            {
                "kind": "nan_gradient",
                "layer": "network",
                "text": "the measured gradient already contains "
                "NaN or inf: the first optimiser step would write NaN into the weights",
            }
        )
    regime = _regime(base)
    suggestions = []
    remeasure = lambda s: _remeasure(s, model, layers, x, steps, mode, seeds, loss, base)  # noqa: E731
    for s in suggest.candidates(
        layers, described, configs, base["ranges"], regime, {(h["layer"], h["kind"]) for h in found}
    ):
        between = s.pop("between", None)
        after = remeasure(s)
        suggestions.append(s)
        if between is not None and s["measured"]["regime"] != "stable":
            refined = _bisect(between, remeasure, base["gain"]["log10_per_step"], after["gain"]["log10_per_step"])
            if refined is not None:
                suggestions.append(refined)
    run = {
        "T": steps,
        "batch": int(x.shape[1]),
        "mode": mode,
        "seeds": seeds,
        "loss": "your loss" if loss is not None else "random projection of the last step's output",
        "seconds": time.perf_counter() - started,
        "model_unchanged": True,
    }
    changes = [s.pop("_change") for s in suggestions]
    return CheckReport(
        described,
        base["gain"],
        predicted,
        found,
        _verdict(regime, base, found),
        suggestions,
        run,
        model=model,
        inputs=x,
        changes=changes,
    )


def _remeasure(s: dict, model, layers, x, steps, mode, seeds, loss, base) -> dict[str, Any]:
    """Measure the network with suggestion ``s`` applied; fill in its measured gain, rates and whether it
    moved the way it promised."""
    s["_change"] = s.pop("apply")  # kept for CheckReport.applied, taken out of the public dict
    after = _summary(measure(model, layers, x, steps, mode, seeds, loss, change=s["_change"]), layers, steps)
    s["measured"] = _public(after, layers)
    s["measured"]["regime"] = _regime(after)
    s["confirmed"] = suggest.kept(s["promise"], base, after, s.pop("layer", None))
    return after


#: measured bisection steps between the user's surrogate knob and condition IV's when the latter misses
BISECTION_STEPS = 5


def _bisect(between, remeasure, g0: float | None, g1: float | None) -> dict[str, Any] | None:
    """Where the measured gain crosses 0 between the user's knob (gain g0) and condition IV's (g1), found by
    bisection in log(knob), each point measured; the first point in the stable band, else the last one.
    None when the two measurements lie on the same side of 0 (no crossing to find)."""
    if g0 is None or g1 is None or (g0 < 0) == (g1 < 0):
        return None
    lo, hi, best = 0.0, 1.0, None
    for step in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        best = between(mid)
        after = remeasure(best)
        best["change"] += f" (bisection step {step + 1})"
        g = after["gain"]["log10_per_step"]
        if best["measured"]["regime"] == "stable" or g is None:
            break
        lo, hi = (mid, hi) if (g < 0) == (g0 < 0) else (lo, mid)
    return best


def check_nir(
    path_or_graph: Any,
    inputs: Any = None,
    *,
    dt: float = 1e-4,
    surrogate: Any = None,
    reset_detached: bool = True,
    time_steps: int | None = None,
    seeds: int = 3,
    input_shape: tuple[int, int] = (100, 16),
    input_rate: float = 0.1,
) -> CheckReport:
    """Read a NIR file (or take a NIRGraph), build it with the same weights and LIF parameters
    (:mod:`stabviz.check.nir_graph`) and :func:`check` it. NIR stores no surrogate and no dt: ``surrogate``
    (a :class:`~stabviz.config.Surrogate`, default fast sigmoid γ = β = 1) and ``dt`` are options and the
    report says which were used.
    ``inputs`` None: Bernoulli spikes at ``input_rate`` of shape (T, batch, n_in) = (*input_shape, n_in),
    seeded."""
    from stabviz.check.nir_graph import NIRNetwork, read

    if surrogate is not None and not isinstance(surrogate, Surrogate):
        raise ValueError(f"surrogate = {show(surrogate)} must be a stabviz.config.Surrogate or None")
    if not (isinstance(dt, (int, float)) and not isinstance(dt, bool) and 0 < dt < 1e3):
        raise ValueError(f"dt = {show(dt)} is outside the allowed range (0, 1000)")
    net = NIRNetwork(read(path_or_graph), dt=float(dt), sg=surrogate, reset_detached=bool(reset_detached))
    generated = inputs is None
    if generated:
        steps, batch = input_shape
        n_in = _input_size(net)
        g = torch.Generator().manual_seed(0)
        inputs = (torch.rand(steps, batch, n_in, generator=g) < input_rate).float()
    report = check(net, inputs, time_steps=time_steps, seeds=seeds)
    report.run.update(
        {
            "source": "nir",
            "dt": float(dt),
            "surrogate_option": net.sg.to_dict(),
            "inputs": f"seeded Bernoulli spikes at rate {input_rate:g}" if generated else "given",
        }
    )
    return report


def _input_size(net) -> int:
    """n_in of a built NIR network: the first weight fed by its Input node."""
    start = net.inputs[0]
    for k in net.order:
        if start in net.preds[k] and hasattr(
            net.layers[k.replace(".", "__")] if k.replace(".", "__") in net.layers else None, "in_features"
        ):
            return int(net.layers[k.replace(".", "__")].in_features)
    raise ValueError("the NIR graph's Input does not feed an Affine or Linear node; pass inputs=")


def _summary(meas, layers: list[Layer], steps: int) -> dict[str, Any]:
    """Rates, ranges, gains (network and per layer) and NaN flags of one measurement."""
    per_seed = [fit_log10_per_step(row) for row in network_norms(meas.norms)]
    kept = [v for v in per_seed if v is not None]
    iv = mean_interval(kept) if kept else None
    mean = None if iv is None else iv.mean
    gain = {
        "log10_per_step": mean,
        "over_T": None if mean is None else mean * steps,
        "interval": None if iv is None or iv.lo is None else [iv.lo, iv.hi],
        "over_T_interval": None if iv is None or iv.lo is None else [iv.lo * steps, iv.hi * steps],
        "per_seed": per_seed,
        "T": steps,
        "seeds": len(per_seed),
        "vanished_exactly": mean is None,
        "norms": np.exp(np.log(np.maximum(network_norms(meas.norms), 1e-300)).mean(0)).tolist(),
    }
    rates = [layer_rates(meas.records[layer.name]) for layer in layers]
    ranges = [membrane_range(meas.records[layer.name], layer.info["threshold"]) for layer in layers]
    layer_gain = [
        fit_log10_per_step(np.exp(np.log(np.maximum(meas.norms[:, k], 1e-300)).mean(0))) for k in range(len(layers))
    ]
    nan_hazard = any(
        r is not None and hz.surrogate_nan_at(layer.adapter.spike_function(m), *r) is not None
        for layer, m, r in zip(layers, meas.mods, ranges)
    )
    return {
        "gain": gain,
        "rates_full": rates,
        "rates": {layer.name: r["firing_rate"] for layer, r in zip(layers, rates)},
        "ranges": ranges,
        "layer_gain": layer_gain,
        "weight_grad": meas.weight_grad,
        "nan_gradient": meas.nan_gradient,
        "nan_hazard": nan_hazard,
        "feeders": [meas.records[layer.name].feeder for layer in layers],
        "input_stats": [meas.records[layer.name].input_stats for layer in layers],
    }


def _public(summary: dict, layers: list[Layer]) -> dict[str, Any]:
    g = {k: v for k, v in summary["gain"].items() if k != "norms"}
    return {
        "gain": g,
        "nan_gradient": summary["nan_gradient"],
        "nan_hazard": summary["nan_hazard"],
        "layers": [
            {"name": layer.name, **{k: r[k] for k in ("firing_rate", "dead_fraction", "saturated_fraction")}}
            for layer, r in zip(layers, summary["rates_full"])
        ],
    }


def _describe(model, layer: Layer, base: dict, i: int) -> dict[str, Any]:
    info, r = layer.info, base["rates_full"][i]
    rng = base["ranges"][i]
    return {
        "name": layer.name,
        "library": layer.library,
        "kind": info["kind"],
        "n": r["n"],
        "leak": info["leak"],
        "syn_decay": info.get("syn_decay"),
        "threshold": info["threshold"],
        "reset": info["reset"],
        "reset_detached": info["reset_detached"],
        "surrogate": surrogate_fields(
            info["surrogate_key"], info["knob"], info["surrogate_text"], info.get("stabviz_surrogate")
        ),
        "firing_rate": r["firing_rate"],
        "dead_fraction": r["dead_fraction"],
        "saturated_fraction": r["saturated_fraction"],
        "grad_norm": base["weight_grad"][i],
        "log10_gain_per_step": base["layer_gain"][i],
        "feeder": base["feeders"][i],
        "membrane_range": None if rng is None else list(rng),
        "notes": list(info["notes"]),
        "T": base["gain"]["T"],
        "rate_histogram": np.histogram(r["per_neuron_rate"], bins=10, range=(0.0, 1.0))[0].tolist(),
    }


def _predictions(model, layers, described, base, steps):
    named = modules_by_name(model)
    configs, out = [], []
    for i, (layer, d) in enumerate(zip(layers, described)):
        feed_mod = named.get(d["feeder"]) if d["feeder"] else None
        feed = layer.info.get("input_weights")
        if feed is None and feed_mod is not None:
            feed = getattr(feed_mod, "weight", None)
        bias = getattr(feed_mod, "bias", None) if feed_mod is not None else layer.info.get("bias")
        cfg, why = layer_config(
            d,
            feed,
            bias if isinstance(bias, torch.Tensor) else None,
            layer.info["recurrent_weights"],
            base["input_stats"][i],
            layer.info["input_scale"],
            steps,
        )
        configs.append(cfg)
        out.append(
            {"layer": d["name"], **prediction(cfg)}
            if cfg is not None
            else {"layer": d["name"], "regime": None, "why": why}
        )
    return configs, out


def _regime(base: dict) -> str:
    g = base["gain"]
    if base["nan_gradient"]:
        return "nan"
    if g["over_T"] is None:
        return "vanishing"
    lo, hi = g["over_T_interval"] or (g["over_T"], g["over_T"])
    if hi < -TOLERANCE:
        return "vanishing"
    if lo > TOLERANCE:
        return "exploding"
    if lo >= -TOLERANCE and hi <= TOLERANCE:
        return "stable"
    return "uncertain"


def _verdict(regime: str, base: dict, found: list) -> dict[str, Any]:
    g = base["gain"]
    over = g["over_T"]
    head = {
        "nan": "gradients are NaN already",
        "vanishing": "the gradient vanishes"
        + ("" if over is None else f": it shrinks by {-over:.1f} decades over T = {g['T']} steps"),
        "exploding": f"the gradient explodes: it grows by {over or math.nan:.1f} decades over T = {g['T']} steps",
        "stable": f"the gradient survives: {over or 0:+.1f} decades over T = {g['T']} steps",
        "uncertain": "the gradient's interval crosses a regime edge (±1 decade over T)",
    }[regime]
    tail = f"; {len(found)} hazard(s): " + ", ".join(sorted({h["kind"] for h in found})) if found else "; no hazards"
    return {
        "regime": regime,
        "summary": head + tail,
        "tolerance_decades": TOLERANCE,
        "trainable": regime == "stable" and not found,
    }
