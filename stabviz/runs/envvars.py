"""Numbers read from environment variables, with errors that name the variable.

``float(os.environ[...])`` fails with "could not convert string to float: 'abc'" and takes nan or -1
without a word; here a value that is not a finite number in range is one ValueError line naming the
variable, its value and the allowed range (the CLI reports it with exit status 2).
"""

from __future__ import annotations

import math
import os

#: The longest any of these waits may be set to: a day (a typo of 10^9 s would wait for ever).
MOST_SECONDS = 86_400.0


def env_seconds(name: str, default: float, most: float = MOST_SECONDS, least: float | None = None) -> float:
    """``$name`` as seconds in (0, most] (or [least, most] when ``least`` is given), or ``default`` when it
    is unset or blank."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return float(default)
    try:
        value = float(raw) if raw.isascii() else math.nan
    except ValueError:
        value = math.nan
    inside = least <= value <= most if least is not None else 0 < value <= most
    if not (math.isfinite(value) and inside):
        shown = raw if len(raw) <= 40 else raw[:39] + "…"
        span = f"[{least:g}, {most:g}]" if least is not None else f"(0, {most:g}]"
        raise ValueError(f"{name} = {shown!r} is not a number of seconds in {span}; fix or unset it")
    return value
