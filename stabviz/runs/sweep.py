"""Sweeps: one base TrainConfig varied along one or two named parameters.

A parameter name is a TrainConfig field (lr, batch, train_steps, ...) or a LIFConfig field (dampening,
sharpness, tail, leak, n_rec, ...); ``tau`` (membrane time constant, steps) is accepted for the leak.
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Sequence

from stabviz.config import LIFConfig, TrainConfig

# name -> type name as written in config.py ("int", "float", "bool", "str", "float | None").
_LIF_TYPES = {f.name: str(f.type) for f in dataclasses.fields(LIFConfig)}
_TRAIN_TYPES = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig) if f.name != "lif"}
_TYPES = {**_LIF_TYPES, **_TRAIN_TYPES, "tau": "float"}
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
    cfg = base.replace(**train) if train else base
    return cfg.replace(lif=cfg.lif.replace(**lif)) if lif else cfg


def label(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items())


def sweep_points(x: str, x_values: Sequence[Any], y: str | None = None,
                 y_values: Sequence[Any] | None = None) -> list[dict[str, Any]]:
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


def sweep_configs(base: TrainConfig, x: str, x_values: Sequence[Any], y: str | None = None,
                  y_values: Sequence[Any] | None = None) -> list[tuple[dict[str, Any], TrainConfig]]:
    """(point, config) for every grid point; every config is validated before any is returned."""
    return [(p, apply_point(base, p)) for p in sweep_points(x, x_values, y, y_values)]
