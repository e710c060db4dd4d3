"""The LIF update rules of docs/theory.md#1-the-model, stated once for every simulation in stabviz.

    (L1) subtract:  y_t = α y_{t−1} + I_t − θ z_{t−1}
    (L2) mult1:     y_t = (α y_{t−1} + I_t)(1 − z_{t−1})
    (L3) mult2:     y_t = α y_{t−1}(1 − z_{t−1}) + I_t
    z_t = H(y_t − θ)   (strict >)

I_t is the total input current (x_t W_in + b + z_{t−1} W_rec). The same functions run on numpy arrays
(the Learn page, which has no torch), on torch tensors under autograd (the reference layer, the
measured check) and, through ``ops``, in place on the fast layer's buffers (stabviz.lif): the arithmetic
is done by a few generic primitives, so each rule is written exactly once. No torch here.
"""

from __future__ import annotations

from typing import Any

from stabviz.config import RESETS


class ArrayOps:
    """The primitives as operator expressions: new numpy arrays or torch tensors (autograd-friendly).
    The operand order is the one the simulations have always used, so their numbers are unchanged."""

    @staticmethod
    def axpy(a: float, x: Any, y: Any) -> Any:
        """a·x + y"""
        return a * x + y

    @staticmethod
    def scale(v: Any, m: Any) -> Any:
        """v·m"""
        return v * m

    @staticmethod
    def axmy(a: float, x: Any, m: Any, y: Any) -> Any:
        """a·x·m + y"""
        return a * x * m + y

    @staticmethod
    def greater(v: Any, c: float) -> Any:
        """1 where v > c else 0, in v's dtype."""
        above = v > c
        return above.to(v.dtype) if hasattr(above, "to") else above.astype(v.dtype)


ARRAYS = ArrayOps()


def integrate(
    y_prev: Any,
    z_prev: Any,
    current: Any,
    leak: float,
    threshold: float,
    reset: str,
    ops: Any = ARRAYS,
    keep: Any = None,
) -> Any:
    """y_t by (L1)-(L3) from y_{t−1}, the reset spikes z_{t−1} and the total current I_t.

    ``keep`` is 1 − z_{t−1} when the caller already has it (the multiplicative resets use it).
    """
    if reset == "subtract":  # (L1)
        return ops.axpy(-threshold, z_prev, ops.axpy(leak, y_prev, current))
    keep = 1 - z_prev if keep is None else keep
    if reset == "mult1":  # (L2)
        return ops.scale(ops.axpy(leak, y_prev, current), keep)
    if reset == "mult2":  # (L3)
        return ops.axmy(leak, y_prev, keep, current)
    raise ValueError(f"reset = {reset!r} is not one of: {', '.join(RESETS)}")


def fire(y: Any, threshold: float, ops: Any = ARRAYS) -> Any:
    """z_t = H(y_t − θ): a spike when the voltage is strictly above the threshold."""
    return ops.greater(y, threshold)


def step(y_prev: Any, z_prev: Any, current: Any, leak: float, threshold: float, reset: str) -> tuple[Any, Any]:
    """One forward step: (y_t, z_t) from (y_{t−1}, z_{t−1}) and I_t (no surrogate: plain Heaviside)."""
    y = integrate(y_prev, z_prev, current, leak, threshold, reset)
    return y, fire(y, threshold)
