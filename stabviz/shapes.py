"""The surrogate shapes, one record each: docs/theory.md#2-the-surrogate-family table (plus the Cauchy shape behind
every
library's `atan`).

A :class:`Shape` holds everything stabviz knows about one shape, at unit height (γ = 1; callers multiply
by γ^m), as functions of a = |v| ≥ 0 or u ≥ 0, sharpness β (``b``) and tail q (``q``): σ' in numpy and
torch, G_m(u) = ∫_0^u σ'^m and its tail, G_m(∞), the gaussian moment in closed form or the pieces the
quadrature needs, and the torch expression the dashboard's copyable snippet uses.
:data:`SHAPE_TABLE` (name -> Shape) is the only place a shape's formulas are written, and its keys are
``config.SHAPES``. This module imports nothing of stabviz, so config can read the names from it.

Forms are chosen so nothing overflows for |v| ≤ 1e6 and nothing cancels near 0 or far in the tail.
The torch functions use tensor methods only, so this module never imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Shape", "QuadRule", "SHAPE_TABLE"]

_SQRT2 = math.sqrt(2.0)


def _sp():
    """scipy.special, imported on first use: config reads this module for the shape names, and every
    command's start-up (`stabviz --help` too) should not pay the ~0.25 s scipy takes to import."""
    from scipy import special

    return special


Fn = Callable[..., Any]


@dataclass(frozen=True)
class QuadRule:
    """What the anchored Gauss–Legendre rule (moments.py) needs of a shape with no closed gaussian
    moment, for f = σ'/γ on v ≥ 0. ``power_law`` (b, q) -> (r, c) models f as (1 + r v)^(−c) to place
    the integrand's modes; ``dlog``/``d2log`` (v, m, b) and ``mode`` (m, μ, s, b) replace the power-law
    forms where that model is wrong (sigmoid has none, Cauchy only shares its tail)."""

    scale: Fn  # (b, q) -> distance to f's nearest complex singularity
    power_law: Fn | None = None
    support: Fn = lambda b: np.inf  # b -> where f ends
    dlog: Fn | None = None
    d2log: Fn | None = None
    mode: Fn | None = None


@dataclass(frozen=True)
class Shape:
    """One surrogate shape (docs/theory.md#2-the-surrogate-family), unit height. Signatures:
    prime / torch_prime (a, b, q); torch_inplace (a, b: float, q: float), overwriting the tensor a;
    primitive / tail (m, u, b, q) = G_m(u) and G_m(∞) − G_m(u); wide (m, b, q) = G_m(∞);
    gaussian (m, b, μ, s) = E[f(V)^m], V ~ N(μ, s²), when closed-form, else ``quad``;
    finest (b, q) = the narrowest feature width; snippet = σ' with γ as a torch expression in
    v, gamma, beta, q (``math`` and ``torch`` imported); special_case lets library translations
    (translate.py) match this shape to another one."""

    name: str
    prime: Fn
    primitive: Fn
    tail: Fn
    wide: Fn
    torch_prime: Fn
    torch_inplace: Fn
    snippet: str
    gaussian: Fn | None = None
    quad: QuadRule | None = None
    label: str = ""  # the name the dashboard shows (default: name)
    uses_tail: bool = False  # only q-PseudoSpike reads q
    special_case: tuple[str, float] | None = None  # (shape, q): equal to that shape at tail q, same γ, β
    finest: Fn = lambda b, q: 1.0 / b

    def __post_init__(self) -> None:
        if (self.gaussian is None) == (self.quad is None):
            raise TypeError(f"shape {self.name!r} needs exactly one of gaussian= (closed form) or quad=")


def _wide(half_area: float, half_kappa2: float) -> Fn:
    """G_m(∞) = const/β for shapes whose wide integrals do not involve q (κ_m = 2·const)."""
    consts = (half_area, half_kappa2)
    return lambda m, b, q: consts[m - 1] / b


# ---------------------------------------------------------------------------------------------
# Closed gaussian moments E[f(V)^m], V ~ N(μ, s²); s = 0 gives f(|μ|)^m


def _phi_diff(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Φ(hi) − Φ(lo) for lo ≤ hi without cancellation in either tail."""
    right = 0.5 * (_sp().erfc(lo / _SQRT2) - _sp().erfc(hi / _SQRT2))  # both ≥ 0
    left = 0.5 * (_sp().erfc(-hi / _SQRT2) - _sp().erfc(-lo / _SQRT2))  # both ≤ 0
    across = 1.0 - 0.5 * _sp().erfc(-lo / _SQRT2) - 0.5 * _sp().erfc(hi / _SQRT2)
    return np.where(lo >= 0, right, np.where(hi <= 0, left, across))


def _rect_gaussian(m: int, b, mu, s):
    h = 0.5 / b
    with np.errstate(divide="ignore", invalid="ignore"):
        p = _phi_diff((-h - mu) / s, (h - mu) / s)
    return np.where(s > 0, p, (np.abs(mu) < h) * 1.0)


def _exp_half(a, mu, s):
    """∫_0^∞ e^{−a v} φ_s(v − μ) dv, written so that no factor overflows (erfcx on the far side)."""
    x = a * s - mu / s
    near = 0.5 * _sp().erfcx(np.maximum(x, 0.0) / _SQRT2) * np.exp(-0.5 * np.square(mu / s))
    far = np.exp(-a * np.maximum(mu - 0.5 * a * s * s, 0.0)) * _sp().ndtr(np.maximum(-x, 0.0))
    return np.where(x >= 0, near, far)


def _exp_gaussian(m: int, b, mu, s):
    a = 2.0 * m * b
    ss = np.where(s > 0, s, 1.0)
    e = _exp_half(a, mu, ss) + _exp_half(a, -mu, ss)
    return np.where(s > 0, e, np.exp(-a * np.abs(mu)))


def _gauss_gaussian(m: int, b, mu, s):
    k = 2.0 * math.pi * m * b * b  # exp(−πmβ²v²) ⋆ N(μ, s²) is again a gaussian
    d = 1.0 + k * s * s
    return np.exp(-0.5 * k * mu * mu / d) / np.sqrt(d)


# ---------------------------------------------------------------------------------------------
# The shapes. Each block holds the formulas too long for a lambda, then the record.

RECTANGULAR = Shape(
    "rectangular",
    label="rectangular",
    prime=lambda a, b, q: (2.0 * b * a < 1.0).astype(float),
    primitive=lambda m, u, b, q: np.minimum(u, 0.5 / b),
    tail=lambda m, u, b, q: np.maximum(0.5 / b - u, 0.0),
    wide=_wide(0.5, 0.5),
    torch_prime=lambda a, b, q: (2.0 * b * a < 1.0).to(a.dtype),
    torch_inplace=lambda a, b, q: a.mul_(2.0 * b).lt_(1.0),
    snippet="gamma * (torch.abs(2 * beta * v) < 1).to(v.dtype)",
    gaussian=_rect_gaussian,
)


def _triangular_primitive(m, u, b, q):
    x = b * np.minimum(u, 1.0 / b)  # 1 − (1 − x)^{m+1} expanded: exact for small x
    poly = x * (2.0 - x) if m == 1 else x * (3.0 - 3.0 * x + x * x)
    return poly / (b * (m + 1))


TRIANGULAR = Shape(
    "triangular",
    label="triangular",
    prime=lambda a, b, q: np.maximum(1.0 - b * a, 0.0),
    primitive=_triangular_primitive,
    tail=lambda m, u, b, q: np.maximum(1.0 - b * u, 0.0) ** (m + 1) / (b * (m + 1)),
    wide=_wide(0.5, 1.0 / 3.0),
    torch_prime=lambda a, b, q: (1.0 - b * a).clamp(min=0.0),
    torch_inplace=lambda a, b, q: a.mul_(-b).add_(1.0).clamp_(min=0.0),
    snippet="gamma * torch.clamp(1 - beta * torch.abs(v), min=0)",
    quad=QuadRule(scale=lambda b, q: 1.0 / b, power_law=lambda b, q: (-b, -1.0), support=lambda b: 1.0 / b),
)

EXPONENTIAL = Shape(
    "exponential",
    label="exponential",
    prime=lambda a, b, q: np.exp(-2.0 * b * a),
    primitive=lambda m, u, b, q: -np.expm1(-2.0 * m * b * u) / (2.0 * m * b),
    tail=lambda m, u, b, q: np.exp(-2.0 * m * b * u) / (2.0 * m * b),
    wide=_wide(0.5, 0.25),
    torch_prime=lambda a, b, q: (-2.0 * b * a).exp(),
    torch_inplace=lambda a, b, q: a.mul_(-2.0 * b).exp_(),
    snippet="gamma * torch.exp(-2 * beta * torch.abs(v))",
    gaussian=_exp_gaussian,
)

GAUSSIAN = Shape(
    "gaussian",
    label="gaussian",
    prime=lambda a, b, q: np.exp(-math.pi * np.square(b * a)),
    primitive=lambda m, u, b, q: _sp().erf(b * u * math.sqrt(m * math.pi)) / (2.0 * b * math.sqrt(m)),
    tail=lambda m, u, b, q: _sp().erfc(b * u * math.sqrt(m * math.pi)) / (2.0 * b * math.sqrt(m)),
    wide=_wide(0.5, 0.5 / math.sqrt(2.0)),
    torch_prime=lambda a, b, q: (-math.pi * (b * a).square()).exp(),
    torch_inplace=lambda a, b, q: a.mul_(b).square_().mul_(-math.pi).exp_(),
    snippet="gamma * torch.exp(-math.pi * beta ** 2 * v ** 2)",
    gaussian=_gauss_gaussian,
)


def _sigmoid_prime(a, b, q):
    e = np.exp(-4.0 * b * a)  # 4 s(x)(1 − s(x)) = 4 e^{−|x|}/(1 + e^{−|x|})², x = 4βv
    return 4.0 * e / np.square(1.0 + e)


def _sigmoid_primitive(m, u, b, q):
    t = np.tanh(2.0 * b * u)  # P − ½ = t/2 with P = s(4βu); the m = 2 form reduces to t(3 − t²)/6
    return t / (2.0 * b) if m == 1 else t * (3.0 - t * t) / (6.0 * b)


def _sigmoid_tail(m, u, b, q):
    e = np.exp(-4.0 * b * u)
    one_minus_t = 2.0 * e / (1.0 + e)  # 1 − tanh(2βu)
    return one_minus_t / (2.0 * b) if m == 1 else np.square(one_minus_t) * (3.0 - one_minus_t) / (6.0 * b)


def _sigmoid_torch(a, b, q):
    e = (-4.0 * b * a).exp()
    return 4.0 * e / (1.0 + e).square()


def _sigmoid_inplace(a, b, q):
    e = a.mul_(-4.0 * b).exp_()
    return e.mul(4.0).div_(e.add(1.0).square_())


def _sigmoid_d2log(v, m, b):
    e = np.exp(-4.0 * b * v)  # sech²(2βv) = 4e/(1+e)², e = e^{−4βv}
    return -8.0 * m * b**2 * 4.0 * e / np.square(1.0 + e)


def _sigmoid_mode(m, mu, s, b):
    # h'(v) = −4βm tanh(2βv) + (μ − v)/s² is decreasing: one root in (0, μ) when μ > 0. Newton on
    # F(v) = v − μ + a s² tanh(2βv) (concave, increasing) from the left converges monotonically.
    a = 4.0 * m * b
    k = a * s * s
    mu = np.maximum(mu, 0.0)  # μ ≤ 0: the maximum is at the boundary, F(0) = 0 keeps v = 0
    v = np.maximum(mu - k, 0.0)
    for _ in range(8):
        e = np.exp(-4.0 * b * v)
        t = (1.0 - e) / (1.0 + e)
        sech2 = 4.0 * e / np.square(1.0 + e)
        v = v - (v - mu + k * t) / (1.0 + 2.0 * b * k * sech2)
    return np.maximum(v, 0.0)


SIGMOID = Shape(
    "sigmoid",
    label="sigmoid",
    prime=_sigmoid_prime,
    primitive=_sigmoid_primitive,
    tail=_sigmoid_tail,
    wide=_wide(0.5, 1.0 / 3.0),
    torch_prime=_sigmoid_torch,
    torch_inplace=_sigmoid_inplace,
    snippet="4 * gamma * torch.sigmoid(4 * beta * v) * (1 - torch.sigmoid(4 * beta * v))",
    quad=QuadRule(
        scale=lambda b, q: 0.25 / b,
        dlog=lambda v, m, b: -4.0 * m * b * np.tanh(2.0 * b * v),
        d2log=_sigmoid_d2log,
        mode=_sigmoid_mode,
    ),
)

FASTSIGMOID = Shape(
    "fastsigmoid",
    label="fast sigmoid (paper's best)",
    prime=lambda a, b, q: 1.0 / np.square(1.0 + 2.0 * b * a),
    primitive=lambda m, u, b, q: -np.expm1((1 - 2 * m) * np.log1p(2.0 * b * u)) / (2.0 * b * (2 * m - 1)),
    tail=lambda m, u, b, q: np.exp((1 - 2 * m) * np.log1p(2.0 * b * u)) / (2.0 * b * (2 * m - 1)),
    wide=_wide(0.5, 1.0 / 6.0),
    torch_prime=lambda a, b, q: 1.0 / (1.0 + 2.0 * b * a).square(),
    torch_inplace=lambda a, b, q: a.mul_(2.0 * b).add_(1.0).square_().reciprocal_(),
    snippet="gamma / (1 + 2 * beta * torch.abs(v)) ** 2",
    quad=QuadRule(scale=lambda b, q: 0.5 / b, power_law=lambda b, q: (2.0 * b, 2.0)),
    special_case=("qpseudospike", 2.0),
)


def _qpseudo_primitive(m, u, b, q):
    k = m * q
    return (q - 1.0) / (2.0 * b * (k - 1.0)) * -np.expm1((1.0 - k) * np.log1p(2.0 * b * u / (q - 1.0)))


def _qpseudo_tail(m, u, b, q):
    k = m * q
    return (q - 1.0) / (2.0 * b * (k - 1.0)) * np.exp((1.0 - k) * np.log1p(2.0 * b * u / (q - 1.0)))


QPSEUDOSPIKE = Shape(
    "qpseudospike",
    label="q-PseudoSpike",
    # (1 + 2β|v|/(q−1))^(−q) via log1p: safe for q up to 1e4
    prime=lambda a, b, q: np.exp(-q * np.log1p(2.0 * b * a / (q - 1.0))),
    primitive=_qpseudo_primitive,
    tail=_qpseudo_tail,
    wide=lambda m, b, q: (q - 1.0) / (2.0 * b * (m * q - 1.0)),
    torch_prime=lambda a, b, q: (-q * (2.0 * b * a / (q - 1.0)).log1p()).exp(),
    torch_inplace=lambda a, b, q: a.mul_(2.0 * b / (q - 1.0)).log1p_().mul_(-q).exp_(),
    snippet="gamma * (1 + 2 * beta * torch.abs(v) / (q - 1)) ** (-q)",
    quad=QuadRule(scale=lambda b, q: (q - 1.0) / (2.0 * b), power_law=lambda b, q: (2.0 * b / (q - 1.0), q)),
    uses_tail=True,
    finest=lambda b, q: np.minimum(1.0, (q - 1.0) / 2.0) / b,
)


def _cauchy_primitive(m, u, b, q):
    x = math.pi * b * u
    at = np.arctan(x)
    return at / (math.pi * b) if m == 1 else (x / (1.0 + x * x) + at) / (2.0 * math.pi * b)


def _cauchy_g2_tail(x: np.ndarray) -> np.ndarray:
    """atan(1/x) − x/(1 + x²) = 2πβ (G_2(∞) − G_2(u))/γ² at x = πβu: the m = 2 Cauchy tail. The two
    terms cancel to (2/3)x⁻³ for large x, so x > 4 uses the series Σ (−1)^{k+1} 2k/(2k+1) x^{−(2k+1)}."""
    y = 1.0 / np.maximum(x, 4.0)
    series = np.zeros_like(y)
    y2 = y * y
    for k in range(20, 0, -1):  # Horner in y² = x⁻²; 20 terms reach 1e-25 at y = 1/4
        series = (2.0 * k / (2 * k + 1)) * (-1) ** (k + 1) + y2 * series
    series = series * y * y2
    direct = np.arctan2(1.0, x) - x / (1.0 + x * x)
    return np.where(x > 4.0, series, direct)


def _cauchy_tail(m, u, b, q):
    x = math.pi * b * u
    return np.arctan2(1.0, x) / (math.pi * b) if m == 1 else _cauchy_g2_tail(x) / (2.0 * math.pi * b)


def _cauchy_dlog(v, m, b):
    p2 = (math.pi * b) ** 2
    return -2.0 * m * p2 * v / (1.0 + p2 * v * v)


def _cauchy_d2log(v, m, b):
    p2 = (math.pi * b) ** 2
    w = p2 * v * v
    return -2.0 * m * p2 * (1.0 - w) / np.square(1.0 + w)


CAUCHY = Shape(
    "cauchy",
    label="Cauchy (atan)",
    prime=lambda a, b, q: 1.0 / (1.0 + np.square(math.pi * b * a)),
    primitive=_cauchy_primitive,
    tail=_cauchy_tail,
    wide=_wide(0.5, 0.25),
    torch_prime=lambda a, b, q: 1.0 / (1.0 + (math.pi * b * a).square()),
    torch_inplace=lambda a, b, q: a.mul_(math.pi * b).square_().add_(1.0).reciprocal_(),
    snippet="gamma / (1 + (math.pi * beta * v) ** 2)",
    # the tail (1 + r v)^(−2) with r = πβ places the integrand's modes
    quad=QuadRule(
        scale=lambda b, q: 1.0 / (math.pi * b),
        power_law=lambda b, q: (math.pi * b, 2.0),
        dlog=_cauchy_dlog,
        d2log=_cauchy_d2log,
    ),
)

#: name -> Shape, in the dashboard's order. config.SHAPES, the names every layer validates against, is this
#: table's keys: adding a record adds the shape everywhere.
SHAPE_TABLE: dict[str, Shape] = {
    s.name: s for s in (RECTANGULAR, TRIANGULAR, EXPONENTIAL, GAUSSIAN, SIGMOID, FASTSIGMOID, QPSEUDOSPIKE, CAUCHY)
}
