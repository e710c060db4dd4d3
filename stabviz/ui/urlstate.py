"""The setting <-> URL query parameters, with validation (pure: no streamlit).

Every LIFConfig field is one query parameter named like the field; defaults are left out, so a
shared link carries only what differs. Values that cannot be parsed or that fall outside the ranges of
:mod:`stabviz.config` are dropped (their default is used) and reported as warnings, one per field.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from stabviz.config import (
    FORMULAS,
    IN_INITS,
    INITS,
    NEURONS,
    RESETS,
    SHAPES,
    VOLTAGE_MODELS,
    LIFConfig,
    check_choice,
    check_range,
    show,
)

DEFAULTS: dict[str, Any] = dataclasses.asdict(LIFConfig())  # every field (to_dict leaves a LIF's variant fields out)
CHOICES: dict[str, tuple[str, ...]] = {
    "reset": RESETS,
    "init_rec": INITS,
    "init_in": IN_INITS,
    "shape": SHAPES,
    "voltage_model": VOLTAGE_MODELS,
    "formula": FORMULAS,
    "neuron": NEURONS,
}
INTEGERS = ("n_rec", "n_in", "steps", "seed")
BOOLEANS = ("reset_grad", "adapt_grad")
#: Every field of the setting, in LIFConfig order (this is also the URL order).
FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LIFConfig))
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def parse_field(name: str, raw: Any) -> Any:
    """One query-parameter value as the field's Python value; ValueError naming the field otherwise.
    Every echoed value is cut to about 60 characters (:func:`stabviz.config.show`)."""
    if isinstance(raw, (list, tuple)):
        raise ValueError(f"{name} is given {len(raw)} times in the link; expected once")
    text = raw.strip() if isinstance(raw, str) else str(raw).strip()
    if name in CHOICES:
        check_choice(name, text, CHOICES[name])
        return text
    if name in BOOLEANS:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"{name} = {show(text)} is not true or false")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} = {show(text)} is not a number") from None
    check_range(name, value)  # rejects NaN, ±inf and out-of-range values with the allowed range
    if name in INTEGERS:
        if not value.is_integer():
            raise ValueError(f"{name} = {show(text)} must be a whole number")
        return int(value)
    return value


def format_field(name: str, value: Any) -> str:
    """The query-parameter text of one value: exact (shortest round-trip repr for floats)."""
    if name in BOOLEANS:
        return "true" if value else "false"
    if name in INTEGERS:
        return str(int(value))
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def read_setting(params: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """(setting, warnings) from query parameters: ``base`` (the defaults) overridden by every valid field."""
    values = dict(DEFAULTS if base is None else base)
    warnings = []
    for name in FIELDS:
        if name not in params:
            continue
        try:
            values[name] = parse_field(name, params[name])
        except ValueError as err:
            warnings.append(f"{err}. Using the default {name} = {format_field(name, DEFAULTS[name])}.")
    return values, warnings


def setting_params(values: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters for a setting: only the fields that differ from the defaults."""
    return {
        name: format_field(name, values[name])
        for name in FIELDS
        if name in values and not _same(values[name], DEFAULTS[name])
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=0.0, abs_tol=0.0)
        except (TypeError, ValueError):
            return False
    return a == b


def matching_preset(values: Mapping[str, Any], presets: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The name of the preset whose every field equals ``values`` (fields a preset leaves out take
    their defaults), or None."""
    for name, fields in presets.items():
        full = {**DEFAULTS, **fields}
        if all(_same(values.get(k), full[k]) for k in FIELDS):
            return name
    return None
