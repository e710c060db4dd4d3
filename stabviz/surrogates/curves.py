"""σ'(v), the smooth step σ(v) and G_m(u) = ∫_0^u σ'^m in closed form (docs/theory.md#2-the-surrogate-family), numpy.

Every function validates, then scales the unit-height formula of the shape's record by γ^m.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stabviz.config import DEFAULT_SURROGATE, Surrogate
from stabviz.shapes import SHAPE_TABLE
from stabviz.surrogates.validate import _check_order, _check_params, _finite


def sg_prime(v: Any, sg: Surrogate | str = DEFAULT_SURROGATE) -> np.ndarray:
    """σ'(v) (docs/theory.md#21-shapes-sg): the surrogate derivative at distance v = y − θ to threshold.

    ``sg``: the :class:`~stabviz.config.Surrogate` (or a shape name, at its default γ, β, q). Peak
    σ'(0) = γ (dampening), area γ/β (β = sharpness), q = tail for qpseudospike. Broadcasts over ``v``
    and over the record's fields when they are arrays; returns a float64 array.
    """
    sg, (g, b, q) = _check_params(sg)
    a = np.abs(_finite("v", v))
    with np.errstate(under="ignore"):
        return g * SHAPE_TABLE[sg.shape].prime(a, b, q)


def moment_primitive(u: Any, m: int, sg: Surrogate | str = DEFAULT_SURROGATE) -> np.ndarray:
    """G_m(u) = ∫_0^u σ'(s)^m ds (docs/theory.md#22-moment-primitives-g-and-tails), closed form, m ∈ {1, 2}.

    Defined for u ≥ 0; since σ' is even, negative u gives the odd extension −G_m(|u|) (still ∫_0^u).
    Units: γ^m × voltage.
    """
    m = _check_order(m)
    sg, (g, b, q) = _check_params(sg)
    u = _finite("u", u)
    with np.errstate(under="ignore"):
        return np.sign(u) * g**m * SHAPE_TABLE[sg.shape].primitive(m, np.abs(u), b, q)


def wide_moment(m: int, sg: Surrogate | str = DEFAULT_SURROGATE) -> np.ndarray:
    """G_m(∞) = ∫_0^∞ σ'^m; κ₂ = 2·G_2(∞) is the wide-range constant of docs/theory.md#23-wide-range-constants-k (e.g.
    1/3 for the
    fast sigmoid at γ = β = 1, (q − 1)/(2q − 1) for q-PseudoSpike)."""
    m = _check_order(m)
    sg, (g, b, q) = _check_params(sg)
    return np.asarray(g**m * SHAPE_TABLE[sg.shape].wide(m, b, q))


def sg_primitive(v: Any, sg: Surrogate | str = DEFAULT_SURROGATE) -> np.ndarray:
    """σ(v) = ∫_{−∞}^v σ'(s) ds: the smooth step the surrogate differentiates, from 0 to γ/β."""
    sg, (g, b, q) = _check_params(sg)
    rec = SHAPE_TABLE[sg.shape]
    v = _finite("v", v)
    a = np.abs(v)
    with np.errstate(under="ignore"):
        below = rec.tail(1, a, b, q)  # ∫_{−∞}^{−|v|} σ' (accurate when tiny)
        above = 2.0 * rec.wide(1, b, q) - below
        return g * np.where(v < 0, below, above)
