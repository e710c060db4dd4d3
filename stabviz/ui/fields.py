"""Number fields that never fail silently.

st.number_input's own ``min_value``/``max_value`` fail quietly: a cleared field snaps back to the minimum
(clearing "Neurons n" set n = 2), and a typed value beyond the range only turns the border red while the
old value stays in use. These fields carry no bounds of their own: the page checks the value against the
range of :mod:`stabviz.config` and writes one line beside the field naming it, its value and the allowed
range; the callers keep the last valid value (the sidebar) or disable their button with the reason (Runs,
Sweep).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from stabviz.config import RANGES, TRAIN_RANGES, check_number


def problem(
    label: str, name: str, value: Any, ranges: Mapping[str, tuple] = RANGES, integer: bool | None = None
) -> str | None:
    """Why ``value`` is not a valid ``name`` (one line naming the field ``label`` and the allowed range),
    or None. An empty field (None) is a problem, never a silent default."""
    lo, hi, lo_in, hi_in = ranges[name]
    if value is None:
        allowed = f"{'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"
        return f"{label} is empty: type a number in {allowed}"
    try:
        check_number(name, value, ranges, integer=integer)
    except ValueError as err:
        return f"{label}: {err}"
    return None


def number(
    where: Any,
    label: str,
    name: str,
    key: str,
    *,
    default: Any = None,
    ranges: Mapping[str, tuple] = RANGES,
    integer: bool | None = None,
    note: str = "",
    say: Any = None,
    **kw: Any,
) -> tuple[Any, str | None]:
    """A number field in ``where`` (st or a column) holding ``key`` and its check: (value, problem).
    ``default`` seeds the field on its first run (None: the session already holds it); a problem is
    written in red under the field (or in ``say``: a narrow column's neighbour), followed by ``note``
    (what happens meanwhile)."""
    if default is not None and key not in st.session_state:
        st.session_state[key] = default
    # value=None: a cleared field reads as None (not the minimum); the value itself comes from the key.
    value = where.number_input(label, value=None, key=key, **kw)
    why = problem(label, name, value, ranges, integer)
    if why:
        (say or where).error(why + note, icon=":material/error:")
    return value, why


def train_ranges(lim: Mapping[str, int]) -> dict[str, tuple]:
    """config.TRAIN_RANGES with this machine's limits (config.limits) as the upper ends."""
    return {
        **TRAIN_RANGES,
        **{
            name: (1, lim[name], True, True) for name in ("layers", "train_steps", "batch", "time_steps") if name in lim
        },
    }
