"""Each user layer as the stabviz setting (LIFConfig) that describes it, and the theory's prediction there."""

from __future__ import annotations

import math
from typing import Any

import torch

from stabviz import theory
from stabviz.config import RANGES, LIFConfig, Surrogate
from stabviz.surrogates import from_library


def surrogate_fields(key: str | None, knob: float | None, text: str, own: Surrogate | None = None) -> dict[str, Any]:
    """The surrogate in stabviz's (shape, γ, β, q) plus the library's own spelling; shape None if unknown.
    ``own``: stabviz's own surrogate, whose knob is the sharpness β."""
    if own is not None:
        return {**own.to_dict(), "library_text": text, "library_key": "stabviz", "knob": own.sharpness}
    out = {
        "shape": None,
        "dampening": None,
        "sharpness": None,
        "tail": None,
        "library_text": text,
        "library_key": key,
        "knob": knob,
    }
    if key is not None:
        try:
            sg = from_library(key, knob)
        except ValueError as err:
            out["note"] = str(err)
            return out
        out.update(sg.to_dict())
    return out


def _clip(name: str, value: float) -> float:
    lo, hi = RANGES[name][:2]
    return min(max(value, lo), hi)


def layer_config(
    layer: dict[str, Any],
    feed: torch.Tensor | None,
    bias: torch.Tensor | None,
    recurrent: list,
    input_stats: tuple[float, float] | None,
    scale: float,
    steps: int,
) -> tuple[LIFConfig | None, str]:
    """(the equivalent LIFConfig, '') or (None, why there is none). Weight laws are the measured mean and
    std of the user's matrices (times the library's input scale); input statistics are those measured at
    the feeding module's input; a negative input mean is folded into the weight mean's sign."""
    sg = layer["surrogate"]
    if sg["shape"] is None:
        return None, f"no stabviz equivalent for the surrogate {sg['library_text']}"
    if layer["reset"] == "none":
        return None, "no reset: the theory's layer always resets"
    if feed is None or feed.dim() != 2:
        return None, "no dense input weight found feeding this layer (convolution or direct input)"
    if not RANGES["threshold"][0] <= layer["threshold"] <= RANGES["threshold"][1]:
        return None, f"threshold {layer['threshold']:g} is outside the theory's range"
    n, n_in = layer["n"], feed.shape[1]
    if not 2 <= n <= RANGES["n_rec"][1]:
        return None, f"n = {n} is outside the theory's range of layer sizes"
    w = feed.detach().double() * scale
    m_x, v_x = input_stats if input_stats is not None else (0.0, 0.0)
    sign = -1.0 if m_x < 0 else 1.0
    rec = recurrent[0].detach().double() if recurrent else None
    fields = dict(
        n_rec=n,
        n_in=int(_clip("n_in", n_in)),
        leak=_clip("leak", layer["leak"]),
        threshold=layer["threshold"],
        reset=layer["reset"],
        reset_grad=not layer["reset_detached"],
        init_in="normal",
        in_mean=sign * float(w.mean()),
        in_std=float(w.std()),
        init_rec="normal",
        rec_mean=0.0 if rec is None else float(rec.mean()),
        rec_std=0.0 if rec is None else float(rec.std()),
        input_mean=_clip("input_mean", abs(m_x)),
        input_var=_clip("input_var", v_x),
        bias=_clip("bias", 0.0 if bias is None else float(bias.detach().double().mean()) * scale),
        shape=sg["shape"],
        dampening=sg["dampening"],
        sharpness=sg["sharpness"],
        tail=sg["tail"],
        steps=steps,
    )
    if layer.get("syn_decay") is not None:  # snnTorch Synaptic, Norse LIFCell: a synaptic current
        fields.update(neuron="cuba", syn_decay=_clip("syn_decay", layer["syn_decay"]))
    try:
        return LIFConfig(**fields), ""
    except ValueError as err:
        return None, f"outside the theory's ranges: {err}"


def prediction(cfg: LIFConfig) -> dict[str, Any]:
    """The dashboard's prediction at ``cfg``: regime, calibrated band of T·log₁₀ρ, firing rate."""
    p = theory.predict(cfg)
    per_step = p.log10_gain / cfg.steps if math.isfinite(p.log10_gain) else None
    return {
        "voltage_model": p.voltage_model,
        "firing_rate": p.firing_rate,
        "rho": p.rho,
        "log10_per_step": per_step,
        "over_T": p.log10_gain,
        "band_over_T": list(p.log10_gain_band),
        "regime": p.regime,
        "notes": p.notes,
        "setting": cfg.to_dict(),
    }
