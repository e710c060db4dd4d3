"""Sweeps: one base TrainConfig varied along one or two named parameters.

A parameter name is a TrainConfig field (lr, batch, train_steps, ...) or a LIFConfig field (dampening,
sharpness, tail, leak, n_rec, neuron, syn_decay, ...); ``tau`` (membrane time constant, steps) is accepted
for the leak, and the neuron variants' parameters go by their command-line names as well: ``tau_syn``
(α_s = exp(−1/τ_s)), ``tau_adapt`` (ρ_a = exp(−1/τ_a)) and ``beta_a`` (β_a).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from typing import Any

from stabviz.config import LIFConfig, TrainConfig, check_number

# name -> type name as written in config.py ("int", "float", "bool", "str", "float | None").
_LIF_TYPES = {f.name: str(f.type) for f in dataclasses.fields(LIFConfig)}
_TRAIN_TYPES = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig) if f.name != "lif"}
#: the command line's names of LIFConfig fields (--tau-syn, --tau-adapt: time constants in steps; --beta-a)
_ALIASES = {"tau_syn": "syn_decay", "tau_adapt": "adapt_decay", "beta_a": "adapt_strength"}
_TYPES = {**_LIF_TYPES, **_TRAIN_TYPES, "tau": "float", **{name: "float" for name in _ALIASES}}
SWEEPABLE = tuple(sorted(_TYPES))


def _type(name: str) -> str:
    if name not in _TYPES:
        raise ValueError(f"sweep parameter = {name!r} is not one of: {', '.join(SWEEPABLE)}")
    return _TYPES[name]


def parse_value(name: str, text: str) -> Any:
    """Convert one command-line value to the parameter's type (int, float, bool or str)."""
    kind = _type(name)
    text = text.strip()
    try:
        if kind == "bool":
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return text.lower() in ("true", "1", "yes")
        if kind == "int":
            x = float(text)
            if not x.is_integer():
                raise ValueError
            return int(x)
        if "float" in kind:
            return float(text)
    except ValueError:
        raise ValueError(f"{name} = {text!r} is not a valid {kind.split(' ')[0]}") from None
    return text


def parse_values(name: str, text: str) -> list[Any]:
    """``"0.5,1,2"`` -> [0.5, 1.0, 2.0] in the parameter's type."""
    values = [parse_value(name, t) for t in text.split(",") if t.strip()]
    if not values:
        raise ValueError(f"{name} values = {text!r}: give at least one value, comma-separated")
    return values


def apply_point(base: TrainConfig, point: dict[str, Any]) -> TrainConfig:
    """``base`` with the point's parameters replaced (validated: bad values raise ValueError)."""
    train = {k: v for k, v in point.items() if k in _TRAIN_TYPES}
    lif = {k: v for k, v in point.items() if k not in _TRAIN_TYPES}
    for name in lif:
        _type(name)
    lif = dict(_field_value(name, value) for name, value in lif.items())
    cfg = base.replace(**train) if train else base
    return cfg.replace(lif=cfg.lif.replace(**lif)) if lif else cfg


def _field_value(name: str, value: Any) -> tuple[str, Any]:
    """(LIFConfig field, its value) for a swept name: a time constant τ > 0 becomes the decay exp(−1/τ)."""
    if name not in _ALIASES:
        return name, value
    if name.startswith("tau_"):
        tau = check_number(name, value, {name: (0.0, math.inf, False, False)}, integer=False)
        return _ALIASES[name], math.exp(-1.0 / tau)
    return _ALIASES[name], value


def label(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items())


def sweep_points(
    x: str, x_values: Sequence[Any], y: str | None = None, y_values: Sequence[Any] | None = None
) -> list[dict[str, Any]]:
    """The grid's points, x varying fastest: [{x: x0, y: y0}, {x: x1, y: y0}, ...]."""
    _type(x)
    if not x_values:
        raise ValueError(f"{x} values: give at least one value")
    if y is None:
        if y_values:
            raise ValueError("y values were given without a y parameter")
        return [{x: v} for v in x_values]
    _type(y)
    if y == x:
        raise ValueError(f"x and y are both {x!r}: choose two different parameters")
    if not y_values:
        raise ValueError(f"{y} values: give at least one value")
    return [{x: xv, y: yv} for yv, xv in itertools.product(y_values, x_values)]


def sweep_configs(
    base: TrainConfig, x: str, x_values: Sequence[Any], y: str | None = None, y_values: Sequence[Any] | None = None
) -> list[tuple[dict[str, Any], TrainConfig]]:
    """(point, config) for every grid point; every config is validated before any is returned."""
    return [(p, apply_point(base, p)) for p in sweep_points(x, x_values, y, y_values)]
