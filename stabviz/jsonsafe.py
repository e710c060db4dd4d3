"""Strict JSON for every export (CLI, run store, summaries): JSON has no NaN or Infinity."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any


def finite_or_none(obj: Any) -> Any:
    """Recursively: non-finite numbers -> None, numpy scalars -> Python numbers, tuples -> lists."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, Mapping):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    return obj


def dumps(obj: Any, indent: int | None = 2) -> str:
    return json.dumps(finite_or_none(obj), indent=indent, allow_nan=False)
