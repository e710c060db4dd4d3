"""The surrogate-gradient family (THEORY.md section 2): curves, closed-form moments, the torch spike op.

Every shape is parameterised by dampening γ (peak height, σ'(0) = γ), sharpness β (inverse width) and,
for q-PseudoSpike only, tail-fatness q > 1; every shape has area ∫σ'(v) dv = γ/β. The argument is the
distance to threshold v = y − θ, in voltage units; σ' is in spikes per voltage unit.

numpy layer (vectorised; broadcasts over v/u and over every parameter):

- :func:`sg_prime` σ'(v), :func:`sg_primitive` σ(v) = ∫_{−∞}^v σ'.
- :func:`moment_primitive` G_m(u) = ∫_0^u σ'(s)^m ds (closed forms, m = 1, 2), :func:`wide_moment` G_m(∞).
- :func:`uniform_moment` E[σ'(V)^m] for V ~ U[low, high] (THEORY.md section 4, "uniform").
- :func:`gaussian_moments` / :func:`gaussian_moment` E[σ'(V)^m] for V ~ N(mean, std²) (section 4,
  "gaussian mean-field"): closed forms for rectangular, exponential and gaussian; a composite
  Gauss–Legendre rule on breakpoints placed at the integrand's modes for the others.

torch layer (torch is imported on first use only, so the CLI's theory commands never load it):
:func:`sg_prime_torch` and :func:`spike` (Heaviside forward, σ' backward).

Library translations: :data:`LIBRARY_SURROGATES`, :func:`from_library`, :func:`to_library`,
:func:`translation_table` (other libraries' one-knob surrogates expressed as (γ, β, q) and back).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from stabviz.config import RANGES, SHAPES, check_choice, check_range

__all__ = [
    "sg_prime", "sg_primitive", "moment_primitive", "wide_moment", "uniform_moment", "gaussian_moment",
    "gaussian_moments", "sg_prime_torch", "spike", "LIBRARY_SURROGATES", "SGParams", "Translation",
    "from_library", "to_library", "translation_table",
]

_SQRT2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


# ---------------------------------------------------------------------------------------------
# Validation

def _check_values(name: str, value: Any) -> np.ndarray:
    """``value`` as a float array, every element inside ``RANGES[name]`` (else ValueError naming it)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        check_range(name, value)          # raises "... is not a number"
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


def _check_params(shape: str, dampening: Any, sharpness: Any, tail: Any):
    check_choice("shape", shape, SHAPES)
    return (_check_values("dampening", dampening), _check_values("sharpness", sharpness),
            _check_values("tail", tail))


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


# ---------------------------------------------------------------------------------------------
# σ'(v): THEORY.md section 2 table (plus the Cauchy shape behind every library's `atan`)

def _unit_prime(shape: str, a: np.ndarray, b: np.ndarray, q: np.ndarray) -> np.ndarray:
    """σ'/γ at |v| = a ≥ 0 (unit height). Forms chosen so nothing overflows for |v| ≤ 1e6."""
    if shape == "rectangular":
        return (2.0 * b * a < 1.0).astype(float)
    if shape == "triangular":
        return np.maximum(1.0 - b * a, 0.0)
    if shape == "exponential":
        return np.exp(-2.0 * b * a)
    if shape == "gaussian":
        return np.exp(-math.pi * np.square(b * a))
    if shape == "sigmoid":
        e = np.exp(-4.0 * b * a)          # 4 s(x)(1 − s(x)) = 4 e^{−|x|}/(1 + e^{−|x|})², x = 4βv
        return 4.0 * e / np.square(1.0 + e)
    if shape == "fastsigmoid":
        return 1.0 / np.square(1.0 + 2.0 * b * a)
    if shape == "qpseudospike":           # (1 + 2β|v|/(q−1))^(−q) via log1p: safe for q up to 1e4
        return np.exp(-q * np.log1p(2.0 * b * a / (q - 1.0)))
    return 1.0 / (1.0 + np.square(math.pi * b * a))      # cauchy


def sg_prime(v: Any, shape: str = "fastsigmoid", dampening: Any = 1.0, sharpness: Any = 1.0,
             tail: Any = 1.56) -> np.ndarray:
    """σ'(v) (THEORY.md section 2, "SG"): the surrogate derivative at distance v = y − θ to threshold.

    Peak σ'(0) = γ (dampening), area γ/β (β = sharpness), q = tail for qpseudospike. Broadcasts over
    ``v`` and all parameters; returns a float64 array.
    """
    g, b, q = _check_params(shape, dampening, sharpness, tail)
    a = np.abs(_finite("v", v))
    with np.errstate(under="ignore"):
        return g * _unit_prime(shape, a, b, q)


# ---------------------------------------------------------------------------------------------
# G_m(u) = ∫_0^u σ'^m and its tail G_m(∞) − G_m(u), all with γ = 1 (callers multiply by γ^m)

def _unit_primitive(shape: str, m: int, u: np.ndarray, b: np.ndarray, q: np.ndarray) -> np.ndarray:
    """G_m(u)/γ^m for u ≥ 0 (THEORY.md section 2 closed forms, written without cancellation near 0)."""
    if shape == "rectangular":
        return np.minimum(u, 0.5 / b)
    if shape == "triangular":
        x = b * np.minimum(u, 1.0 / b)    # 1 − (1 − x)^{m+1} expanded: exact for small x
        poly = x * (2.0 - x) if m == 1 else x * (3.0 - 3.0 * x + x * x)
        return poly / (b * (m + 1))
    if shape == "exponential":
        return -np.expm1(-2.0 * m * b * u) / (2.0 * m * b)
    if shape == "gaussian":
        return special.erf(b * u * math.sqrt(m * math.pi)) / (2.0 * b * math.sqrt(m))
    if shape == "sigmoid":
        t = np.tanh(2.0 * b * u)          # P − ½ = t/2 with P = s(4βu); the m = 2 form reduces to t(3 − t²)/6
        return t / (2.0 * b) if m == 1 else t * (3.0 - t * t) / (6.0 * b)
    if shape == "fastsigmoid":
        return -np.expm1((1 - 2 * m) * np.log1p(2.0 * b * u)) / (2.0 * b * (2 * m - 1))
    if shape == "qpseudospike":
        k = m * q
        return (q - 1.0) / (2.0 * b * (k - 1.0)) * -np.expm1((1.0 - k) * np.log1p(2.0 * b * u / (q - 1.0)))
    x = math.pi * b * u                   # cauchy
    at = np.arctan(x)
    return at / (math.pi * b) if m == 1 else (x / (1.0 + x * x) + at) / (2.0 * math.pi * b)


def _unit_wide(shape: str, m: int, b: np.ndarray, q: np.ndarray) -> np.ndarray:
    """G_m(∞)/γ^m: the wide-range integral ∫_0^∞ σ'^m (κ_m = 2 G_m(∞) at γ = β = 1)."""
    if shape == "qpseudospike":
        return (q - 1.0) / (2.0 * b * (m * q - 1.0))
    const = {"rectangular": (0.5, 0.5), "triangular": (0.5, 1.0 / 3.0), "exponential": (0.5, 0.25),
             "gaussian": (0.5, 0.5 / math.sqrt(2.0)), "sigmoid": (0.5, 1.0 / 3.0),
             "fastsigmoid": (0.5, 1.0 / 6.0), "cauchy": (0.5, 0.25)}[shape][m - 1]
    return const / b


def _cauchy_g2_tail(x: np.ndarray) -> np.ndarray:
    """atan(1/x) − x/(1 + x²) = 2πβ (G_2(∞) − G_2(u))/γ² at x = πβu: the m = 2 Cauchy tail. The two
    terms cancel to (2/3)x⁻³ for large x, so x > 4 uses the series Σ (−1)^{k+1} 2k/(2k+1) x^{−(2k+1)}."""
    y = 1.0 / np.maximum(x, 4.0)
    series = np.zeros_like(y)
    y2 = y * y
    for k in range(20, 0, -1):            # Horner in y² = x⁻²; 20 terms reach 1e-25 at y = 1/4
        series = (2.0 * k / (2 * k + 1)) * (-1) ** (k + 1) + y2 * series
    series = series * y * y2
    direct = np.arctan2(1.0, x) - x / (1.0 + x * x)
    return np.where(x > 4.0, series, direct)


def _unit_tail(shape: str, m: int, u: np.ndarray, b: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(G_m(∞) − G_m(u))/γ^m for u ≥ 0, accurate in relative terms far in the tail."""
    if shape == "rectangular":
        return np.maximum(0.5 / b - u, 0.0)
    if shape == "triangular":
        return np.maximum(1.0 - b * u, 0.0) ** (m + 1) / (b * (m + 1))
    if shape == "exponential":
        return np.exp(-2.0 * m * b * u) / (2.0 * m * b)
    if shape == "gaussian":
        return special.erfc(b * u * math.sqrt(m * math.pi)) / (2.0 * b * math.sqrt(m))
    if shape == "sigmoid":
        e = np.exp(-4.0 * b * u)
        one_minus_t = 2.0 * e / (1.0 + e)           # 1 − tanh(2βu)
        return one_minus_t / (2.0 * b) if m == 1 else np.square(one_minus_t) * (3.0 - one_minus_t) / (6.0 * b)
    if shape == "fastsigmoid":
        return np.exp((1 - 2 * m) * np.log1p(2.0 * b * u)) / (2.0 * b * (2 * m - 1))
    if shape == "qpseudospike":
        k = m * q
        return (q - 1.0) / (2.0 * b * (k - 1.0)) * np.exp((1.0 - k) * np.log1p(2.0 * b * u / (q - 1.0)))
    x = math.pi * b * u
    return np.arctan2(1.0, x) / (math.pi * b) if m == 1 else _cauchy_g2_tail(x) / (2.0 * math.pi * b)


def moment_primitive(u: Any, m: int, shape: str = "fastsigmoid", dampening: Any = 1.0, sharpness: Any = 1.0,
                     tail: Any = 1.56) -> np.ndarray:
    """G_m(u) = ∫_0^u σ'(s)^m ds (THEORY.md section 2, "G_m"), closed form, m ∈ {1, 2}.

    Defined for u ≥ 0; since σ' is even, negative u gives the odd extension −G_m(|u|) (still ∫_0^u).
    Units: γ^m × voltage.
    """
    m = _check_order(m)
    g, b, q = _check_params(shape, dampening, sharpness, tail)
    u = _finite("u", u)
    with np.errstate(under="ignore"):
        return np.sign(u) * g ** m * _unit_primitive(shape, m, np.abs(u), b, q)


def wide_moment(m: int, shape: str = "fastsigmoid", dampening: Any = 1.0, sharpness: Any = 1.0,
                tail: Any = 1.56) -> np.ndarray:
    """G_m(∞) = ∫_0^∞ σ'^m; κ₂ = 2·G_2(∞) is THEORY.md's wide-range constant (e.g. 1/3 for the
    fast sigmoid at γ = β = 1, (q − 1)/(2q − 1) for q-PseudoSpike)."""
    m = _check_order(m)
    g, b, q = _check_params(shape, dampening, sharpness, tail)
    return np.asarray(g ** m * _unit_wide(shape, m, b, q))


def sg_primitive(v: Any, shape: str = "fastsigmoid", dampening: Any = 1.0, sharpness: Any = 1.0,
                 tail: Any = 1.56) -> np.ndarray:
    """σ(v) = ∫_{−∞}^v σ'(s) ds: the smooth step the surrogate differentiates, from 0 to γ/β."""
    g, b, q = _check_params(shape, dampening, sharpness, tail)
    v = _finite("v", v)
    a = np.abs(v)
    with np.errstate(under="ignore"):
        below = _unit_tail(shape, 1, a, b, q)                     # ∫_{−∞}^{−|v|} σ' (accurate when tiny)
        above = 2.0 * _unit_wide(shape, 1, b, q) - below
        return g * np.where(v < 0, below, above)


def uniform_moment(m: int, shape: str = "fastsigmoid", dampening: Any = 1.0, sharpness: Any = 1.0,
                   tail: Any = 1.56, low: Any = -1.0, high: Any = 1.0) -> np.ndarray:
    """E[σ'(V)^m] for V ~ U[low, high] (THEORY.md section 4, uniform model): the caller passes
    low = y_min − θ and high = y_max − θ. Equals (sgn(c)G_m(|c|) − sgn(a)G_m(|a|))/(c − a); when both
    ends lie on one side of 0 it is computed from the tails G_m(∞) − G_m, which keeps its precision far
    from threshold. Requires low < high elementwise.
    """
    m = _check_order(m)
    g, b, q = _check_params(shape, dampening, sharpness, tail)
    lo, hi = _finite("low", low), _finite("high", high)
    with np.errstate(invalid="ignore"):
        if np.any(~(lo < hi)):
            bad = float(np.broadcast_to(lo, np.broadcast(lo, hi).shape)[~(lo < hi)].flat[0])
            raise ValueError(f"low = {bad!r} must be below high (uniform voltage range)")
    with np.errstate(under="ignore"):
        tail_lo = _unit_tail(shape, m, np.abs(lo), b, q)
        tail_hi = _unit_tail(shape, m, np.abs(hi), b, q)
        right = tail_lo - tail_hi                                   # 0 ≤ lo < hi
        left = tail_hi - tail_lo                                    # lo < hi ≤ 0
        across = _unit_primitive(shape, m, np.abs(lo), b, q) + _unit_primitive(shape, m, np.abs(hi), b, q)
        mass = np.where(lo >= 0, right, np.where(hi <= 0, left, across))
        return g ** m * mass / (hi - lo)


# ---------------------------------------------------------------------------------------------
# Gaussian moments E[σ'(V)^m], V ~ N(μ, s²)
#
# With γ factored out, E = I(μ) + I(−μ) where I(μ) = ∫_0^∞ f(v) φ_s(v − μ) dv and f = σ'/γ on v ≥ 0.
# Rectangular, exponential and gaussian have closed forms. For the others I(μ) is a composite
# Gauss–Legendre sum (16 nodes per panel) whose panels come from geometric grids anchored where the
# integrand f(v)·φ_s(v − μ) has structure: at 0 (the SG's peak and kink; first panel = min(SG scale, s,
# local width)), and at each interior mode v* of the integrand for m = 1 and m = 2 (the gaussian pulled
# toward the SG's peak: v* = μ − s²·|(log f)'(v*)|, which can lie many s away from μ). The grids are
# merged per value, empty panels dropped, and values with similar panel counts evaluated together.
# Measured: worst relative error ~3e-10 against adaptive quadrature over the advertised range; 200
# values (m = 1 and 2 together) in ~1–2.5 ms on a 2-core machine.

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
# Offsets of an anchored grid, in units of its local scale: ×3 near the anchor (an exponential decay
# e^{−x} and a gaussian bump are integrated to ~1e-15 on [0, 3], [3, 9], [9, 27]), then ×8 per panel
# (a power law with its singularity one scale behind the anchor: ~1e-10 per panel).
_OFFSETS = np.concatenate([[3.0, 9.0], 27.0 * 8.0 ** np.arange(0, 40)])
_NEAR = 3             # interior modes get offsets 3, 9, 27 local widths on each side
_Z_END = 8.5          # integrate up to max(μ, 0) + 8.5 s: beyond, the gaussian is < e^{-36} of its peak
_Z_START = 38.5       # and from μ − 38.5 s: below, φ_s underflows (< 1e-322)
_CHUNK = 1024         # values per vectorised batch: temporaries stay below ~10 MB each


def _phi_diff(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Φ(hi) − Φ(lo) for lo ≤ hi without cancellation in either tail."""
    right = 0.5 * (special.erfc(lo / _SQRT2) - special.erfc(hi / _SQRT2))     # both ≥ 0
    left = 0.5 * (special.erfc(-hi / _SQRT2) - special.erfc(-lo / _SQRT2))    # both ≤ 0
    across = 1.0 - 0.5 * special.erfc(-lo / _SQRT2) - 0.5 * special.erfc(hi / _SQRT2)
    return np.where(lo >= 0, right, np.where(hi <= 0, left, across))


def _rect_gaussian(m: int, b, mu, s):
    h = 0.5 / b
    with np.errstate(divide="ignore", invalid="ignore"):
        p = _phi_diff((-h - mu) / s, (h - mu) / s)
    return np.where(s > 0, p, (np.abs(mu) < h) * 1.0)


def _exp_half(a, mu, s):
    """∫_0^∞ e^{−a v} φ_s(v − μ) dv, written so that no factor overflows (erfcx on the far side)."""
    x = a * s - mu / s
    near = 0.5 * special.erfcx(np.maximum(x, 0.0) / _SQRT2) * np.exp(-0.5 * np.square(mu / s))
    far = np.exp(-a * np.maximum(mu - 0.5 * a * s * s, 0.0)) * special.ndtr(np.maximum(-x, 0.0))
    return np.where(x >= 0, near, far)


def _exp_gaussian(m: int, b, mu, s):
    a = 2.0 * m * b
    ss = np.where(s > 0, s, 1.0)
    e = _exp_half(a, mu, ss) + _exp_half(a, -mu, ss)
    return np.where(s > 0, e, np.exp(-a * np.abs(mu)))


def _gauss_gaussian(m: int, b, mu, s):
    k = 2.0 * math.pi * m * b * b          # exp(−πmβ²v²) ⋆ N(μ, s²) is again a gaussian
    d = 1.0 + k * s * s
    return np.exp(-0.5 * k * mu * mu / d) / np.sqrt(d)


class _Quad:
    """Per-shape pieces the quadrature needs, for v ≥ 0 and unit height: f, (log f)', (log f)'',
    the SG's finest length scale, the support end, and the interior modes of f^m·φ_s(· − μ)."""

    def __init__(self, shape: str, b: np.ndarray, q: np.ndarray):
        self.shape = shape
        self.b, self.q = b, q
        # f = (1 + r v)^(−c) covers fast sigmoid (r = 2β, c = 2), q-PseudoSpike (r = 2β/(q−1), c = q),
        # triangular (r = −β, c = −1); Cauchy's tail is modelled by r = πβ, c = 2 to place its mode.
        if shape == "fastsigmoid":
            self.r, self.c = 2.0 * b, 2.0
        elif shape == "qpseudospike":
            self.r, self.c = 2.0 * b / (q - 1.0), q
        elif shape == "triangular":
            self.r, self.c = -b, -1.0
        elif shape == "cauchy":
            self.r, self.c = math.pi * b, 2.0
        else:
            self.r = self.c = None

    def rows(self, idx: np.ndarray) -> "_Quad":
        """The same shape restricted to the values ``idx``."""
        return _Quad(self.shape, self.b[idx], self.q[idx] if np.size(self.q) > 1 else self.q)

    def f(self, v):
        """f at ``v`` whose leading axis runs over the values (extra trailing axes allowed)."""
        pad = (-1,) + (1,) * (np.ndim(v) - 1)
        return _unit_prime(self.shape, v, self.b.reshape(pad), np.reshape(self.q, pad if np.size(self.q) > 1 else ()))

    def scale(self):
        """Distance from 0 to f's nearest complex singularity (or an equivalent feature size)."""
        b = self.b
        return {"sigmoid": 0.25 / b, "fastsigmoid": 0.5 / b, "cauchy": 1.0 / (math.pi * b),
                "qpseudospike": (self.q - 1.0) / (2.0 * b), "triangular": 1.0 / b}[self.shape]

    def support(self):
        return 1.0 / self.b if self.shape == "triangular" else np.inf

    def dlog(self, v, m):
        if self.shape == "sigmoid":
            return -4.0 * m * self.b * np.tanh(2.0 * self.b * v)
        if self.shape == "cauchy":
            p2 = (math.pi * self.b) ** 2
            return -2.0 * m * p2 * v / (1.0 + p2 * v * v)
        with np.errstate(divide="ignore"):
            return -m * self.c * self.r / (1.0 + self.r * v)

    def d2log(self, v, m):
        if self.shape == "sigmoid":
            e = np.exp(-4.0 * self.b * v)           # sech²(2βv) = 4e/(1+e)², e = e^{−4βv}
            return -8.0 * m * self.b ** 2 * 4.0 * e / np.square(1.0 + e)
        if self.shape == "cauchy":
            p2 = (math.pi * self.b) ** 2
            w = p2 * v * v
            return -2.0 * m * p2 * (1.0 - w) / np.square(1.0 + w)
        with np.errstate(divide="ignore"):
            return m * self.c * np.square(self.r / (1.0 + self.r * v))

    def mode(self, m, mu, s, v_end):
        """An interior maximum (or shoulder) of f^m·φ_s(v − μ) in (0, v_end); 0 where there is none."""
        if self.shape == "sigmoid":
            return self._sigmoid_mode(m, mu, s)
        # Critical points of −mc·log(1 + r v) − (v − μ)²/2s²: (μ − v)(1 + r v) = m c r s², a quadratic.
        r, c = self.r, m * self.c
        B = 1.0 - r * mu
        C = c * r * s * s - mu
        disc = B * B - 4.0 * r * C
        root = np.sqrt(np.maximum(disc, 0.0))
        Q = -0.5 * (B + np.where(B >= 0, root, -root))
        with np.errstate(divide="ignore", invalid="ignore"):
            r1, r2 = Q / r, C / Q
            shoulder = -B / (2.0 * r)
            best = np.zeros_like(mu)
            for cand in (r1, r2):
                is_max = (self.d2log(np.abs(cand), m) - 1.0 / (s * s)) < 0
                ok = np.isfinite(cand) & (cand > 0) & (cand < v_end) & is_max & (disc >= 0)
                best = np.where(ok, cand, best)
            best = np.where((disc < 0) & (shoulder > 0) & (shoulder < v_end), shoulder, best)
        return np.nan_to_num(best)

    def _sigmoid_mode(self, m, mu, s):
        # h'(v) = −4βm tanh(2βv) + (μ − v)/s² is decreasing: one root in (0, μ) when μ > 0. Newton on
        # F(v) = v − μ + a s² tanh(2βv) (concave, increasing) from the left converges monotonically.
        a = 4.0 * m * self.b
        k = a * s * s
        mu = np.maximum(mu, 0.0)          # μ ≤ 0: the maximum is at the boundary, F(0) = 0 keeps v = 0
        v = np.maximum(mu - k, 0.0)
        for _ in range(8):
            e = np.exp(-4.0 * self.b * v)
            t = (1.0 - e) / (1.0 + e)
            sech2 = 4.0 * e / np.square(1.0 + e)
            v = v - (v - mu + k * t) / (1.0 + 2.0 * self.b * k * sech2)
        return np.maximum(v, 0.0)

    def local_scale(self, v, m, mu, s):
        """1/√(h'² + max(−h'', 0)) for h = log(f^m φ_s(· − μ)) at v: the width of the integrand there."""
        h1 = self.dlog(v, m) + (mu - v) / (s * s)
        h2 = self.d2log(v, m) - 1.0 / (s * s)
        with np.errstate(divide="ignore"):
            return 1.0 / np.sqrt(h1 * h1 + np.maximum(-h2, 0.0))


def _offset_count(reach: np.ndarray) -> int:
    """How many of _OFFSETS (in local-scale units) are needed to cover ``reach`` for every value."""
    worst = float(np.max(reach, initial=1.0))
    return int(np.searchsorted(_OFFSETS, worst)) + 1


def _breakpoints(model: _Quad, mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Sorted panel ends (values × points) on [lo, v_end] for the half-line integral I(μ).

    lo = max(0, μ − 38.5 s): below it φ_s < 1e-322, so nothing representable is lost. The grid anchored
    at lo covers the SG's structure and the region between modes; each interior mode gets its own fine
    grid out to 27 local widths (beyond which a log-concave bump is below e^{-360}).
    """
    v_end = np.minimum(model.support(), np.maximum(mu, 0.0) + _Z_END * s)
    lo = np.maximum(mu - _Z_START * s, 0.0)
    c0 = np.minimum(np.where(lo > 0, s, np.minimum(model.scale(), s)), v_end - lo)
    for m in (1, 2):
        c0 = np.minimum(c0, model.local_scale(lo, m, mu, s))
    points = [lo[:, None], v_end[:, None]]
    points.append(lo[:, None] + c0[:, None] * _OFFSETS[:_offset_count((v_end - lo) / c0)])
    previous = None
    for m in (1, 2):
        a = model.mode(m, mu, s, v_end)
        c = np.minimum(s, model.local_scale(a, m, mu, s))
        live = a > lo
        if previous is not None:          # the m = 2 mode next to the m = 1 mode adds nothing new
            live &= np.abs(a - previous[0]) > 1.5 * np.maximum(c, previous[1])
        a, c = np.where(live, a, lo), np.where(live, c, 0.0)
        previous = (a, c)
        near = c[:, None] * _OFFSETS[:_NEAR]
        points += [a[:, None] - near, a[:, None] + near]
    return np.sort(np.clip(np.concatenate(points, axis=1), lo[:, None], v_end[:, None]), axis=1)


def _panel_sums(model: _Quad, mu, s, lo, hi):
    """Σ over panels [lo, hi] of n-point Gauss–Legendre sums of f^m φ_s(v − μ), m = 1, 2."""
    half = 0.5 * (hi - lo)
    v = (lo + half)[..., None] + half[..., None] * _GL_NODES            # (values, panels, nodes)
    z = (v - mu[:, None, None]) / s[:, None, None]
    gw = (half[..., None] * _GL_WEIGHTS) * np.exp(-0.5 * z * z)
    f = model.f(v)
    norm = 1.0 / (s * _SQRT_2PI)
    gf = gw * f
    return gf.sum(axis=(1, 2)) * norm, (gf * f).sum(axis=(1, 2)) * norm


def _half_line_moments(model: _Quad, mu: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(∫_0^∞ f φ_s(v − μ) dv, ∫_0^∞ f² φ_s(v − μ) dv) for 1-D arrays; composite Gauss–Legendre."""
    bp = _breakpoints(model, mu, s)
    lo, hi = bp[:, :-1], bp[:, 1:]
    # Drop the empty panels the clipped grids leave, then evaluate rows in buckets of similar panel
    # counts so a few mode-rich rows do not set the work for all.
    live = hi > lo
    order = np.argsort(~live, axis=1, kind="stable")
    lo, hi = np.take_along_axis(lo, order, 1), np.take_along_axis(hi, order, 1)
    count = live.sum(axis=1)
    e1, e2 = np.zeros(mu.shape), np.zeros(mu.shape)
    edges = [0, 8, 16, 24, 32, lo.shape[1]]
    for k0, k1 in zip(edges[:-1], edges[1:]):
        rows = np.flatnonzero((count > k0) & (count <= k1))
        if rows.size:
            k = int(count[rows].max())
            e1[rows], e2[rows] = _panel_sums(model.rows(rows), mu[rows], s[rows], lo[rows, :k], hi[rows, :k])
    return e1, e2


def _quadrature_moments(shape: str, b, q, mu, s):
    """(E[f(V)], E[f(V)²]) with f = σ'/γ, by the anchored composite rule; arrays of one shape."""
    out1, out2 = np.empty(mu.shape), np.empty(mu.shape)
    flat = [x.reshape(-1) for x in (b, q, mu, s, out1, out2)]
    b_, q_, mu_, s_, o1, o2 = flat
    zero = s_ == 0
    s_safe = np.where(zero, 1.0, s_)
    for i in range(0, mu_.size, _CHUNK):
        sl = slice(i, i + _CHUNK)
        model = _Quad(shape, b_[sl], q_[sl])
        # E = I(μ) + I(−μ): both halves in one batch
        m2 = np.concatenate([mu_[sl], -mu_[sl]])
        model2 = _Quad(shape, np.concatenate([b_[sl]] * 2), np.concatenate([q_[sl]] * 2))
        e1, e2 = _half_line_moments(model2, m2, np.concatenate([s_safe[sl]] * 2))
        n = e1.size // 2
        at_mean = model.f(np.abs(mu_[sl]))
        o1[sl] = np.where(zero[sl], at_mean, e1[:n] + e1[n:])
        o2[sl] = np.where(zero[sl], at_mean * at_mean, e2[:n] + e2[n:])
    return out1, out2


def gaussian_moments(shape: str = "fastsigmoid", dampening: Any = 1.0, sharpness: Any = 1.0, tail: Any = 1.56,
                     mean: Any = 0.0, std: Any = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(E[σ'(V)], E[σ'(V)²]) for V ~ N(mean, std²) (THEORY.md section 4, gaussian mean-field model).

    ``mean`` is μ_y − θ (the caller subtracts θ), ``std`` = s_y ≥ 0 (std = 0 gives σ'(mean)^m). Broadcasts
    over every argument; dampening only scales (E_m ∝ γ^m), so it never multiplies the work.
    Accuracy ≤ 1e-7 relative against adaptive quadrature for β ∈ [1e-3, 1e3], q ∈ [1.001, 1e4],
    std ∈ [1e-4, 1e3], |mean| ≤ 1e3 (tests/test_surrogates.py measures it).
    """
    g, b, q = _check_params(shape, dampening, sharpness, tail)
    mu = _finite("mean", mean)
    s = _finite("std", std, minimum=0.0)
    if shape != "qpseudospike":
        q = np.asarray(1.56)          # irrelevant: keep it from widening the batch
    # A std below 1e-12 of the SG's finest width moves E by at most ~1e-12 of the peak (the kink at 0
    # is the worst case): use the std = 0 limit, which also keeps (μ − v)/s² from overflowing.
    finest = np.minimum(1.0, (q - 1.0) / 2.0) / b if shape == "qpseudospike" else 1.0 / b
    s = np.where(s < 1e-12 * finest, 0.0, s)
    b_, q_, mu_, s_ = np.broadcast_arrays(b, q, mu, s)
    with np.errstate(under="ignore"):
        if shape in ("rectangular", "exponential", "gaussian"):
            closed = {"rectangular": _rect_gaussian, "exponential": _exp_gaussian,
                      "gaussian": _gauss_gaussian}[shape]
            e1, e2 = closed(1, b_, mu_, s_), closed(2, b_, mu_, s_)
        else:
            e1, e2 = _quadrature_moments(shape, *(np.array(x, dtype=float) for x in (b_, q_, mu_, s_)))
    return g * e1, g * g * e2


def gaussian_moment(m: int, shape: str = "fastsigmoid", dampening: Any = 1.0, sharpness: Any = 1.0,
                    tail: Any = 1.56, mean: Any = 0.0, std: Any = 1.0) -> np.ndarray:
    """E[σ'(V)^m] for V ~ N(mean, std²), m ∈ {1, 2}; see :func:`gaussian_moments`."""
    m = _check_order(m)
    return gaussian_moments(shape, dampening, sharpness, tail, mean, std)[m - 1]


# ---------------------------------------------------------------------------------------------
# torch: σ' on tensors and the spike op (torch imported on first use only)

def _scalar_or_tensor(name: str, value: Any, like):
    """A validated parameter as a Python float, or as a tensor on ``like``'s device (validated on it)."""
    import torch
    if isinstance(value, torch.Tensor):
        if value.numel() and not torch.compiler.is_compiling():
            lo, hi = float(value.detach().min()), float(value.detach().max())
            check_range(name, lo)
            check_range(name, hi)
        return value.to(device=like.device, dtype=like.dtype)
    _check_values(name, value)
    if np.ndim(value) == 0:
        return float(value)
    return torch.as_tensor(np.asarray(value, dtype=float), device=like.device, dtype=like.dtype)


def sg_prime_torch(v, shape: str = "fastsigmoid", dampening: Any = 1.0, sharpness: Any = 1.0,
                   tail: Any = 1.56):
    """σ'(v) on a tensor (THEORY.md section 2): same dtype and device as ``v``, any shape.

    float16/bfloat16 inputs are evaluated in float32 and rounded once at the end. Parameters are Python
    numbers (validated here) or tensors broadcastable to ``v``.
    """
    import torch
    x = v.float() if v.dtype in (torch.float16, torch.bfloat16) else v
    if _plain_numbers(dampening, sharpness, tail):
        _checked_numbers(shape, dampening, sharpness, tail)
        if not (torch.is_grad_enabled() and x.requires_grad):
            # The hot path of BPTT: one buffer, updated in place (no temporaries to allocate and fault in).
            return _unit_prime_inplace(shape, x.abs(), float(sharpness), float(tail)).mul_(dampening).to(v.dtype)
    check_choice("shape", shape, SHAPES)
    g = _scalar_or_tensor("dampening", dampening, x)
    b = _scalar_or_tensor("sharpness", sharpness, x)
    q = _scalar_or_tensor("tail", tail, x)
    a = x.abs()
    if shape == "rectangular":
        unit = (2.0 * b * a < 1.0).to(x.dtype)
    elif shape == "triangular":
        unit = torch.clamp(1.0 - b * a, min=0.0)
    elif shape == "exponential":
        unit = torch.exp(-2.0 * b * a)
    elif shape == "gaussian":
        unit = torch.exp(-math.pi * torch.square(b * a))
    elif shape == "sigmoid":
        e = torch.exp(-4.0 * b * a)
        unit = 4.0 * e / torch.square(1.0 + e)
    elif shape == "fastsigmoid":
        unit = 1.0 / torch.square(1.0 + 2.0 * b * a)
    elif shape == "qpseudospike":
        unit = torch.exp(-q * torch.log1p(2.0 * b * a / (q - 1.0)))
    else:
        unit = 1.0 / (1.0 + torch.square(math.pi * b * a))
    return (g * unit).to(v.dtype)


def _plain_numbers(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


@functools.lru_cache(maxsize=1024)
def _checked_numbers(shape: str, dampening: float, sharpness: float, tail: float) -> None:
    """Validate Python-number parameters once per distinct value (called every time step in BPTT)."""
    check_choice("shape", shape, SHAPES)
    for name, value in (("dampening", dampening), ("sharpness", sharpness), ("tail", tail)):
        _check_values(name, value)


def _unit_prime_inplace(shape: str, a, b: float, q: float):
    """σ'(v)/γ computed in place on ``a`` = |v| (a fresh buffer the caller owns); same formulas as above."""
    if shape == "rectangular":
        return a.mul_(2.0 * b).lt_(1.0)
    if shape == "triangular":
        return a.mul_(-b).add_(1.0).clamp_(min=0.0)
    if shape == "exponential":
        return a.mul_(-2.0 * b).exp_()
    if shape == "gaussian":
        return a.mul_(b).square_().mul_(-math.pi).exp_()
    if shape == "sigmoid":
        e = a.mul_(-4.0 * b).exp_()
        return e.mul(4.0).div_(e.add(1.0).square_())
    if shape == "fastsigmoid":
        return a.mul_(2.0 * b).add_(1.0).square_().reciprocal_()
    if shape == "qpseudospike":
        return a.mul_(2.0 * b / (q - 1.0)).log1p_().mul_(-q).exp_()
    return a.mul_(math.pi * b).square_().add_(1.0).reciprocal_()


_SPIKE_FUNCTION = None


def _spike_function():
    """The autograd.Function behind :func:`spike`, defined on first use so that torch loads lazily."""
    global _SPIKE_FUNCTION
    if _SPIKE_FUNCTION is None:
        import torch

        class SurrogateSpike(torch.autograd.Function):
            """Forward: Heaviside H(v) = 1[v > 0] (strict). Backward: σ'(v) × incoming gradient."""

            @staticmethod
            def forward(v, shape, dampening, sharpness, tail):
                return (v > 0).to(v.dtype)

            @staticmethod
            def setup_context(ctx, inputs, output):
                v, shape, dampening, sharpness, tail = inputs
                ctx.save_for_backward(v)
                ctx.sg = (shape, dampening, sharpness, tail)

            @staticmethod
            def backward(ctx, grad_out):
                (v,) = ctx.saved_tensors
                grad_v = grad_out * sg_prime_torch(v, *ctx.sg) if ctx.needs_input_grad[0] else None
                return grad_v, None, None, None, None

        _SPIKE_FUNCTION = SurrogateSpike
    return _SPIKE_FUNCTION


def spike(v, shape: str = "fastsigmoid", dampening: Any = 1.0, sharpness: Any = 1.0, tail: Any = 1.56):
    """z = H(v) forward (strict v > 0, in v's dtype), ∂z/∂v := σ'(v) backward (THEORY.md section 1).

    ``v`` = y − θ, any shape, float32/float64/bfloat16/float16, CPU or CUDA. Parameters as in
    :func:`sg_prime`; they are validated now, so a bad value fails before training starts.
    """
    check_choice("shape", shape, SHAPES)
    for name, value in (("dampening", dampening), ("sharpness", sharpness), ("tail", tail)):
        if not hasattr(value, "device"):        # tensors are checked in the backward pass
            _check_values(name, value)
    return _spike_function().apply(v, shape, dampening, sharpness, tail)


# ---------------------------------------------------------------------------------------------
# Other libraries' surrogates (THEORY.md section 2, "Other libraries"), checked against their source:
# snnTorch surrogate.py, SpikingJelly activation_based/surrogate.py, braintools/BrainPy surrogate
# QPseudoSpike, Norse functional/threshold.py and superspike.py. s(x) = 1/(1 + e^{−x}).

#: "library.function" -> (knob, library default, σ'(v) as the library computes it)
LIBRARY_SURROGATES: dict[str, tuple[str, float, str]] = {
    "snntorch.fast_sigmoid": ("slope", 25.0, "1/(1 + slope·|v|)²"),
    "snntorch.atan": ("alpha", 2.0, "(alpha/2)/(1 + (π·alpha·v/2)²)"),
    "snntorch.sigmoid": ("slope", 25.0, "slope·s(slope·v)·(1 − s(slope·v))"),
    "spikingjelly.ATan": ("alpha", 2.0, "(alpha/2)/(1 + (π·alpha·v/2)²)"),
    "spikingjelly.Sigmoid": ("alpha", 4.0, "alpha·s(alpha·v)·(1 − s(alpha·v))"),
    "spikingjelly.QPseudoSpike": ("alpha", 2.0, "(1 + 2|v|/(alpha − 1))^(−alpha)"),
    "braintools.QPseudoSpike": ("alpha", 2.0, "(1 + 2|v|/(alpha + 1))^(−alpha)"),
    "brainpy.QPseudoSpike": ("alpha", 2.0, "(1 + 2|v|/(alpha + 1))^(−alpha)"),
    "norse.super": ("alpha", 100.0, "1/(1 + alpha·|v|)²  (SuperSpike)"),
    "norse.triangle": ("alpha", 0.3, "alpha·max(1 − |v|, 0)"),
}

# name -> (stabviz shape, knob -> (γ, β, q), what the knob sets, β -> knob for width-setting knobs)
_LIBRARY_MAPS = {
    "snntorch.fast_sigmoid": ("fastsigmoid", lambda k: (1.0, k / 2.0, None), "width", lambda b: 2.0 * b),
    "snntorch.atan": ("cauchy", lambda a: (a / 2.0, a / 2.0, None), "coupled", lambda b: 2.0 * b),
    "snntorch.sigmoid": ("sigmoid", lambda k: (k / 4.0, k / 4.0, None), "coupled", lambda b: 4.0 * b),
    "spikingjelly.ATan": ("cauchy", lambda a: (a / 2.0, a / 2.0, None), "coupled", lambda b: 2.0 * b),
    "spikingjelly.Sigmoid": ("sigmoid", lambda a: (a / 4.0, a / 4.0, None), "coupled", lambda b: 4.0 * b),
    "spikingjelly.QPseudoSpike": ("qpseudospike", lambda a: (1.0, 1.0, a), "tail", None),
    "braintools.QPseudoSpike": ("qpseudospike", lambda a: (1.0, (a - 1.0) / (a + 1.0), a), "tail", None),
    "brainpy.QPseudoSpike": ("qpseudospike", lambda a: (1.0, (a - 1.0) / (a + 1.0), a), "tail", None),
    "norse.super": ("fastsigmoid", lambda a: (1.0, a / 2.0, None), "width", lambda b: 2.0 * b),
    "norse.triangle": ("triangular", lambda a: (a, 1.0, None), "height", None),
}


@dataclass(frozen=True)
class SGParams:
    """A surrogate in stabviz's parameters: shape, dampening γ, sharpness β, tail q (validated)."""
    shape: str
    dampening: float
    sharpness: float
    tail: float = 1.56

    def __post_init__(self) -> None:
        check_choice("shape", self.shape, SHAPES)
        for name in ("dampening", "sharpness", "tail"):
            check_range(name, getattr(self, name))
            object.__setattr__(self, name, float(getattr(self, name)))


@dataclass(frozen=True)
class Translation:
    """One library function's knob setting for a stabviz surrogate. ``exact`` is False when the library
    cannot express it; ``note`` then says what differs and what the given knob value matches."""
    name: str
    knob: str
    value: float
    exact: bool
    note: str


def _library_name(name: str) -> str:
    check_choice("library", name, tuple(LIBRARY_SURROGATES))
    return name


def from_library(name: str, value: Any = None) -> SGParams:
    """The (shape, γ, β, q) a library surrogate computes; ``value`` None = the library's default knob.

    e.g. ``from_library("snntorch.sigmoid")`` (slope 25) is ∂sigmoid with γ = β = 6.25 (peak 6.25).
    """
    knob, default, _ = LIBRARY_SURROGATES[_library_name(name)]
    x = default if value is None else value
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{knob} = {value!r} is not a number ({name})") from None
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{knob} = {value!r} is outside the allowed range (0, inf) ({name})")
    shape, to_params, _, _ = _LIBRARY_MAPS[name]
    g, b, q = to_params(x)
    try:
        return SGParams(shape, g, b, 1.56 if q is None else q)
    except ValueError as err:
        raise ValueError(f"{name}({knob}={x:g}) is outside stabviz's ranges: {err}") from None


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)


def _as_library_shape(lib_shape: str, shape: str, g: float, b: float, q: float):
    """(γ, β, q) of the user's surrogate written in ``lib_shape``, or None when the shapes differ
    (the fast sigmoid is q-PseudoSpike with q = 2, in both directions)."""
    if shape == lib_shape:
        return g, b, q
    if lib_shape == "qpseudospike" and shape == "fastsigmoid":
        return g, b, 2.0
    if lib_shape == "fastsigmoid" and shape == "qpseudospike" and _close(q, 2.0):
        return g, b, 2.0
    return None


def to_library(name: str, shape: str, dampening: float, sharpness: float, tail: float = 1.56) -> Translation:
    """The library knob that reproduces (shape, γ, β, q), or the closest one with exact=False.

    Closest means: same sharpness β (the width) for knobs that set width or couple height and width,
    the same tail q for q-PseudoSpike knobs, the same height γ for Norse's triangle; the note says what
    the user gets instead. A different shape gets the knob matching β, or the library default.
    """
    knob, default, formula = LIBRARY_SURROGATES[_library_name(name)]
    SGParams(shape, dampening, sharpness, tail)                     # validates
    g, b, q = float(dampening), float(sharpness), float(tail)
    lib_shape, to_params, controls, knob_of_beta = _LIBRARY_MAPS[name]
    mine = _as_library_shape(lib_shape, shape, g, b, q)
    if mine is None:
        return _other_shape(name, knob, default, lib_shape, shape, g, b)
    g, b, q = mine
    if controls == "width":                     # γ = 1 fixed, β = knob/2
        value = knob_of_beta(b)
        return _verdict(name, knob, value, _close(g, 1.0),
                        f"height fixed at 1 (yours γ={g:g}): {knob}={value:g} matches β={b:g}; "
                        f"multiply the gradient by {g:g} to match the height")
    if controls == "coupled":                   # γ = β = knob/2 (atan) or knob/4 (sigmoid)
        value = knob_of_beta(b)
        return _verdict(name, knob, value, _close(g, b),
                        f"height and width are coupled (γ = β): {knob}={value:g} matches β={b:g}, "
                        f"peak height is {b:g} instead of γ={g:g}")
    if controls == "height":                    # norse triangle: γ = knob, β = 1
        return _verdict(name, knob, g, _close(b, 1.0),
                        f"width fixed (β = 1, support |v| < 1): {knob}={g:g} matches the height, "
                        f"yours has β={b:g}")
    lg, lb, _ = to_params(q)                    # q-PseudoSpike knobs set q; γ and β follow
    return _verdict(name, knob, q, _close(g, lg) and _close(b, lb),
                    f"{knob}={q:g} matches the tail q; the library fixes γ={lg:g}, β={lb:.6g} "
                    f"(yours γ={g:g}, β={b:g})")


def _other_shape(name: str, knob: str, default: float, lib_shape: str, shape: str, g: float,
                 b: float) -> Translation:
    """The closest knob when the library function has another shape than the user's."""
    _, to_params, controls, knob_of_beta = _LIBRARY_MAPS[name]
    head = f"different shape: {name} is {lib_shape}, yours is {shape}; "
    if controls == "tail":
        return Translation(name, knob, float(default), False, head + f"{knob}={default:g} is the library default")
    if controls == "height":
        return Translation(name, knob, g, False, head + f"{knob}={g:g} matches the peak height γ (width β = 1)")
    value = knob_of_beta(b)
    lg, lb, _ = to_params(value)
    return Translation(name, knob, float(value), False,
                       head + f"{knob}={value:g} matches the sharpness β={lb:g}, peak height {lg:g}")


def _verdict(name: str, knob: str, value: float, exact: bool, mismatch: str) -> Translation:
    return Translation(name, knob, float(value), bool(exact), "exact" if exact else mismatch)


def translation_table(shape: str, dampening: float, sharpness: float, tail: float = 1.56) -> list[Translation]:
    """:func:`to_library` for every entry of :data:`LIBRARY_SURROGATES`, in that order."""
    return [to_library(name, shape, dampening, sharpness, tail) for name in LIBRARY_SURROGATES]
