"""Argument checks shared by the numpy and torch layers: every bad value raises ValueError naming it."""

from __future__ import annotations

from typing import Any

import numpy as np

from stabviz.config import RANGES, SHAPES, Surrogate, check_choice, check_range
from stabviz.shapes import SHAPE_TABLE, Shape


def _check_values(name: str, value: Any) -> np.ndarray:
    """``value`` as a float array, every element inside ``RANGES[name]`` (else ValueError naming it)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        check_range(name, value)  # raises "... is not a number"
        raise
    if arr.ndim == 0:
        check_range(name, value if np.isscalar(value) else float(arr))
        return arr
    lo, hi, lo_in, hi_in = RANGES[name]
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(arr) & (arr >= lo if lo_in else arr > lo) & (arr <= hi if hi_in else arr < hi)
    if not ok.all():
        check_range(name, float(arr[~ok].flat[0]))
    return arr


def _check_params(sg: Surrogate | str):
    """The record (a shape name: that shape at the default γ, β, q) and its γ, β, q as float arrays,
    each checked elementwise (a tensor field too, which the record leaves to its user)."""
    sg = Surrogate.of(sg)
    return sg, tuple(_check_values(name, getattr(sg, name)) for name in ("dampening", "sharpness", "tail"))


def _check_order(m: Any) -> int:
    if isinstance(m, bool) or m not in (1, 2):
        raise ValueError(f"m = {m!r} is not one of: 1, 2 (the moment order)")
    return int(m)


def _finite(name: str, value: Any, minimum: float | None = None) -> np.ndarray:
    """A finite float array (and ≥ ``minimum`` when given), else ValueError naming ``name``."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r} is not a number") from None
    bad = ~np.isfinite(arr)
    if minimum is not None:
        with np.errstate(invalid="ignore"):
            bad |= arr < minimum
    if bad.any():
        where = "" if minimum is None else f" ≥ {minimum:g}"
        raise ValueError(f"{name} = {float(arr[bad].flat[0])!r} is outside the allowed range: finite{where}")
    return arr


def shape_record(name: str) -> Shape:
    """The record of shape ``name`` (ValueError listing the allowed names otherwise)."""
    check_choice("shape", name, SHAPES)
    return SHAPE_TABLE[name]
