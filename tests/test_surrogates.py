"""The surrogate family (docs/theory.md#2-the-surrogate-family): closed forms against quadrature, the gaussian/uniform
voltage moments against quadrature at extreme scales, numerical safety, the torch spike op, library
translations, validation, and the promise that importing the module leaves torch unloaded."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import integrate, special

from stabviz import surrogates as S
from stabviz.config import SHAPES

PARAMS = [  # (γ, β, q): a spread over the allowed ranges
    (1.0, 1.0, 1.56),
    (0.3, 0.02, 1.001),
    (7.0, 40.0, 3.0),
    (1e-3, 1e3, 1e4),
    (2.5, 1e-3, 50.0),
]
KAPPA2 = {
    "rectangular": 1.0,
    "triangular": 2 / 3,
    "exponential": 0.5,
    "gaussian": 1 / math.sqrt(2),
    "sigmoid": 2 / 3,
    "fastsigmoid": 1 / 3,
    "cauchy": 0.5,
}


def reference_prime(v, shape, g, b, q):
    """σ'(v) written straight from the table of docs/theory.md#21-shapes-sg (independent of the module's forms)."""
    v = np.asarray(v, float)
    with np.errstate(all="ignore"):
        if shape == "rectangular":
            return g * (np.abs(2 * b * v) < 1)
        if shape == "triangular":
            return g * np.maximum(1 - b * np.abs(v), 0)
        if shape == "exponential":
            return g * np.exp(-2 * b * np.abs(v))
        if shape == "gaussian":
            return g * np.exp(-math.pi * b * b * v * v)
        if shape == "sigmoid":
            return 4 * g * special.expit(4 * b * v) * special.expit(-4 * b * v)
        if shape == "fastsigmoid":
            return g / (1 + 2 * b * np.abs(v)) ** 2
        if shape == "qpseudospike":
            return g * (1 + 2 * b * np.abs(v) / (q - 1)) ** (-q)
        return g / (1 + (math.pi * b * v) ** 2)


def quad(f, a, c, points=()):
    """∫_a^c f by adaptive quadrature, split at ``points`` (the referee for every closed form)."""
    cuts = sorted({a, c, *[p for p in points if a < p < c]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sum(
            integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-13, limit=400)[0] for lo, hi in zip(cuts[:-1], cuts[1:])
        )


def quad_tail(f, x0):
    """∫_{x0}^∞ f with v = x0(1 + u): quad's own map of [x0, ∞) loses heavy tails when x0 is large."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return integrate.quad(lambda u: f(x0 * (1 + u)) * x0, 0, np.inf, epsabs=0, epsrel=1e-13, limit=400)[0]


def half_area(f, shape, b, q):
    """∫_0^∞ f, split geometrically over the SG's width and with the tail mapped."""
    width = 1 / b if shape != "qpseudospike" else (q - 1) / (2 * b)
    return quad(f, 0, 1e4 * width, [width * 2.0**k for k in range(-3, 14)] + kinks(shape, b)) + quad_tail(
        f, 1e4 * width
    )


def kinks(shape, b):
    return {"rectangular": [0.5 / b, -0.5 / b], "triangular": [1 / b, -1 / b]}.get(shape, []) + [0.0]


def relerr(x, ref, floor=1e-280):
    return abs(float(x) - ref) / max(abs(ref), floor)


# ---------------------------------------------------------------------------------------------
# Curves and closed forms


@pytest.mark.parametrize("shape", SHAPES)
def test_sg_prime_matches_theory_table_peak_and_area(shape):
    v = np.linspace(-5, 5, 2001)
    for g, b, q in PARAMS:
        np.testing.assert_allclose(
            S.sg_prime(v, S.Surrogate(shape, g, b, q)), reference_prime(v, shape, g, b, q), rtol=1e-10, atol=1e-300
        )  # q = 1e4 amplifies rounding 1e4-fold
        assert float(S.sg_prime(0.0, S.Surrogate(shape, g, b, q))) == pytest.approx(g, rel=1e-15)
        f = lambda x: float(reference_prime(x, shape, g, b, q))
        area = 2 * half_area(f, shape, b, q)
        assert area == pytest.approx(g / b, rel=1e-8), (g, b, q)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("m", [1, 2])
def test_moment_primitive_closed_forms_against_quadrature(shape, m):
    for g, b, q in PARAMS:
        f = lambda x: float(reference_prime(x, shape, g, b, q)) ** m
        for bu in (1e-6, 0.01, 0.3, 0.5, 0.999, 1.0, 3.0, 40.0, 1e4):
            u = bu / b
            ref = quad(f, 0.0, u, kinks(shape, b) + [u * 2.0**-k for k in range(1, 30)])
            got = S.moment_primitive(u, m, S.Surrogate(shape, g, b, q))
            assert relerr(got, ref) < 1e-9, (g, b, q, u)
            assert float(S.moment_primitive(-u, m, S.Surrogate(shape, g, b, q))) == -float(got)  # σ' is even


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("m", [1, 2])
def test_wide_moment_is_the_limit_of_the_primitive(shape, m):
    for g, b, q in PARAMS:
        w = float(S.wide_moment(m, S.Surrogate(shape, g, b, q)))
        f = lambda x: float(reference_prime(x, shape, g, b, q)) ** m
        assert w == pytest.approx(half_area(f, shape, b, q), rel=1e-8)
        if shape != "qpseudospike" or m * q > 1.5:  # q m → 1: G_m(u) approaches G_m(∞) like u^(1 − qm)
            assert float(S.moment_primitive(1e12 / b, m, S.Surrogate(shape, g, b, q))) == pytest.approx(w, rel=1e-6)


def test_kappa2_constants_from_theory():
    for shape, k2 in KAPPA2.items():
        assert 2 * float(S.wide_moment(2, shape)) == pytest.approx(k2, rel=1e-14)
    for q in (1.001, 1.56, 2.0, 1e4):
        kappa2 = 2 * float(S.wide_moment(2, S.Surrogate("qpseudospike", 1.0, 1.0, q)))
        assert kappa2 == pytest.approx((q - 1) / (2 * q - 1), rel=1e-13)
    # q = 2 is the fast sigmoid; large q tends to the exponential (docs/theory.md#2-the-surrogate-family)
    v = np.linspace(-3, 3, 61)
    q_sg = lambda q: S.Surrogate("qpseudospike", 1.0, 1.0, q)
    np.testing.assert_allclose(S.sg_prime(v, q_sg(2.0)), S.sg_prime(v, "fastsigmoid"), rtol=1e-14)
    np.testing.assert_allclose(S.sg_prime(v, q_sg(1e4)), S.sg_prime(v, "exponential"), rtol=2e-3)


@pytest.mark.parametrize("shape", SHAPES)
def test_sg_primitive_is_the_smooth_step(shape):
    g, b, q = 1.7, 2.3, 1.8
    v = np.linspace(-4, 4, 801)
    sig = S.sg_primitive(v, S.Surrogate(shape, g, b, q))
    assert np.all(np.diff(sig) >= 0) and sig[0] >= 0 and sig[-1] <= g / b * (1 + 1e-15)
    assert float(S.sg_primitive(0.0, S.Surrogate(shape, g, b, q))) == pytest.approx(g / (2 * b), rel=1e-14)
    f = lambda x: float(reference_prime(x, shape, g, b, q))
    for x in (-3.0, -0.2, 0.1, 2.0):
        ref = quad(f, -np.inf, -50.0) + quad(f, -50.0, x, kinks(shape, b) + [-1.0, -0.1])
        assert float(S.sg_primitive(x, S.Surrogate(shape, g, b, q))) == pytest.approx(ref, rel=1e-9, abs=1e-300)
    # far below threshold the tail keeps full relative precision
    far = {
        "fastsigmoid": g / (2 * b * (1 + 2 * b * 1e5)),
        "cauchy": g * math.atan(1 / (math.pi * b * 1e5)) / (math.pi * b),
    }
    if shape in far:
        assert float(S.sg_primitive(-1e5, S.Surrogate(shape, g, b, q))) == pytest.approx(far[shape], rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Voltage moments


def gaussian_reference(shape, m, g, b, q, mu, s):
    """E[σ'(V)^m], V ~ N(μ, s²), by quad split at the integrand's modes (found by a dense scan)."""
    width = 1 / b if shape != "qpseudospike" else min(1 / b, (q - 1) / (2 * b))
    reach = max(abs(mu) + 14 * s, 50 * width)
    geo = np.geomspace(min(width, s) * 1e-3, reach, 4000)
    grid = np.unique(np.concatenate([geo, -geo, [0.0], mu + s * np.linspace(-13, 13, 3001)]))
    with np.errstate(all="ignore"):
        logg = m * np.log(reference_prime(grid, shape, g, b, q)) - 0.5 * ((grid - mu) / s) ** 2
    peaks = grid[1:-1][(logg[1:-1] >= logg[:-2]) & (logg[1:-1] >= logg[2:]) & np.isfinite(logg[1:-1])]
    pts = {0.0, *(mu + s * np.arange(-13, 14)), *kinks(shape, b)}
    pts.update(p + k * s for p in peaks for k in (-16, -8, -4, -2, -1, -0.5, 0, 0.5, 1, 2, 4, 8, 16))
    pts.update(sg * width * 2.0**k for k in range(-12, 12) for sg in (1, -1))
    pts = sorted(p for p in pts if abs(p) <= reach)

    def f(x):
        z = (x - mu) / s
        return (
            float(reference_prime(x, shape, g, b, q)) ** m * math.exp(-0.5 * z * z) / (s * math.sqrt(2 * math.pi))
            if abs(z) < 40
            else 0.0
        )

    return quad(f, -np.inf, pts[0]) + quad(f, pts[0], pts[-1], pts) + quad(f, pts[-1], np.inf)


HARD_CASES = [  # (β, q, μ, s): scale separation, tilted modes, cutoffs, heavy tails, far tails
    (1e3, 1.001, 0.0, 1e3),
    (1e3, 1.001, 0.3, 1e-4),
    (1e-3, 1e4, 1e3, 1e-4),
    (1e-3, 1.56, -1e3, 1e3),
    (10.0, 1e4, 100.0, 1.0),
    (100.0, 1e3, 50.0, 0.3),
    (1.0, 1.56, 3.0, 1.0),
    (1e3, 2.0, 30.0, 10.0),
    (1.0, 1.001, 0.5, 1e-4),
    (1.0, 1.56, 0.5004, 1e-3),
    (1.0, 1.56, -1.0005, 1e-3),
    (0.05, 20.0, 7.0, 30.0),
    (300.0, 1.2, -0.02, 0.01),
    (3.0, 5.0, 40.0, 2.0),
]


@pytest.mark.parametrize("shape", SHAPES)
def test_gaussian_moments_against_quadrature_at_extreme_scales(shape):
    rng = np.random.default_rng(SHAPES.index(shape))
    cases = list(HARD_CASES)
    for _ in range(6):  # plus random draws over the whole advertised range
        cases.append(
            (
                10 ** rng.uniform(-3, 3),
                1 + 10 ** rng.uniform(-3, 4),
                rng.choice([-1, 1]) * 10 ** rng.uniform(-4, 3),
                10 ** rng.uniform(-4, 3),
            )
        )
    g = 0.8
    for b, q, mu, s in cases:
        e1, e2 = S.gaussian_moments(S.Surrogate(shape, g, b, q), mu, s)
        for m, e in ((1, e1), (2, e2)):
            ref = gaussian_reference(shape, m, g, b, q, mu, s)
            assert relerr(e, ref) <= 1e-7, (shape, m, b, q, mu, s, float(e), ref)


def test_gaussian_moments_broadcast_scale_with_dampening_and_degenerate_std():
    b = np.geomspace(1e-3, 1e3, 200)
    mean = np.array([[-0.3], [0.0], [2.0]])
    e1, e2 = S.gaussian_moments(S.Surrogate("fastsigmoid", 1.0, b, 1.56), mean, 0.5)
    assert e1.shape == e2.shape == (3, 200)
    one = S.gaussian_moments(S.Surrogate("fastsigmoid", 1.0, b[17], 1.56), 2.0, 0.5)
    assert float(one[0]) == pytest.approx(e1[2, 17], rel=1e-14) and float(one[1]) == pytest.approx(e2[2, 17], rel=1e-14)
    for shape in SHAPES:
        d1, d2 = S.gaussian_moments(S.Surrogate(shape, 3.0, 2.0, 1.56), 0.1, 0.2)
        u1, u2 = S.gaussian_moments(S.Surrogate(shape, 1.0, 2.0, 1.56), 0.1, 0.2)
        assert float(d1) == pytest.approx(3 * float(u1), rel=1e-14) and float(d2) == pytest.approx(
            9 * float(u2), rel=1e-14
        )
        assert float(S.gaussian_moment(2, S.Surrogate(shape, 3.0, 2.0, 1.56), 0.1, 0.2)) == float(d2)
        v = np.array([-0.7, 0.0, 0.15])
        z1, z2 = S.gaussian_moments(S.Surrogate(shape, 1.3, 2.0, 1.56), v, 0.0)  # std = 0: σ'(mean)^m
        np.testing.assert_allclose(z1, S.sg_prime(v, S.Surrogate(shape, 1.3, 2.0)), rtol=1e-15)
        np.testing.assert_allclose(z2, S.sg_prime(v, S.Surrogate(shape, 1.3, 2.0)) ** 2, rtol=1e-14)
    # a tail vector (the q-map of the dashboard) equals the scalar calls
    q = np.geomspace(1.001, 1e4, 7)
    vec = S.gaussian_moments(S.Surrogate("qpseudospike", 1.0, 1.0, q), 0.1, 0.7)[1]
    scalar = [float(S.gaussian_moment(2, S.Surrogate("qpseudospike", 1.0, 1.0, x), 0.1, 0.7)) for x in q]
    assert np.allclose(vec, scalar, rtol=1e-14)


@pytest.mark.parametrize("shape", SHAPES)
def test_uniform_moment_against_quadrature(shape):
    g, b, q = 1.4, 3.0, 1.3
    for low, high in [(-21.0, 21.0), (-0.01, 0.7), (0.05, 0.0500001), (2.0, 9.0), (-300.0, -40.0), (-1e3, 1e-3)]:
        for m in (1, 2):
            f = lambda x: float(reference_prime(x, shape, g, b, q)) ** m
            pts = kinks(shape, b) + [sg * 2.0**k for k in range(-8, 10) for sg in (1, -1)]
            ref = quad(f, low, high, pts) / (high - low)
            assert relerr(S.uniform_moment(m, S.Surrogate(shape, g, b, q), low, high), ref) < 1e-9, (low, high, m)
    lo, hi = np.array([-1.0, 0.5]), np.array([[1.0], [2.0]])
    assert S.uniform_moment(2, S.Surrogate(shape, g, b, q), lo, hi).shape == (2, 2)


# ---------------------------------------------------------------------------------------------
# Numerical safety


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("shape", SHAPES)
def test_no_warning_overflow_or_nan_at_extremes(shape):
    v = np.array([-1e6, -1e3, -1.0, -1e-300, 0.0, 1e-300, 1.0, 1e3, 1e6])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        for b in (1e-3, 1.0, 1e3):
            for q in (1.001, 1.56, 1e4):
                sg = S.Surrogate(shape, 1e3, b, q)
                outs = [
                    S.sg_prime(v, sg),
                    S.sg_primitive(v, sg),
                    S.moment_primitive(np.abs(v), 1, sg),
                    S.moment_primitive(np.abs(v), 2, sg),
                    S.wide_moment(2, sg),
                    S.uniform_moment(2, sg, -1e6, 1e6),
                    S.uniform_moment(1, sg, 1e5, 1e6),
                    *S.gaussian_moments(sg, np.array([-1e3, 0.0, 1e3]), np.array([[1e-4], [1e3]])),
                    *S.gaussian_moments(sg, 1e6, 1e-8),
                ]
                odd = S.moment_primitive(v, 1, sg)  # ∫_0^v is odd in v
                assert np.all(np.isfinite(odd)) and np.all(np.sign(odd) == np.sign(v) * (odd != 0))
                for out in outs:
                    assert np.all(np.isfinite(out)) and np.all(np.asarray(out) >= 0)


# ---------------------------------------------------------------------------------------------
# torch


@pytest.mark.parametrize("shape", SHAPES)
def test_spike_backward_equals_numpy_sg_prime_and_forward_is_strict_heaviside(shape):
    torch = pytest.importorskip("torch")
    g, b, q = 0.7, 1.3, 1.8
    v = torch.cat(
        [torch.linspace(-3, 3, 597, dtype=torch.float64), torch.tensor([0.0, 1e-300, -1e-300], dtype=torch.float64)]
    )
    v = v.reshape(3, 4, 50).requires_grad_(True)  # any tensor shape
    z = S.spike(v, S.Surrogate(shape, g, b, q))
    assert z.dtype == torch.float64 and z.shape == v.shape
    assert torch.equal(z, (v.detach() > 0).to(torch.float64))
    upstream = torch.rand_like(v)
    (grad,) = torch.autograd.grad(z, v, upstream)
    want = upstream.numpy() * S.sg_prime(v.detach().numpy(), S.Surrogate(shape, g, b, q))
    np.testing.assert_allclose(grad.numpy(), want, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(
        S.sg_prime_torch(v.detach(), S.Surrogate(shape, g, b, q)).numpy(),
        S.sg_prime(v.detach().numpy(), S.Surrogate(shape, g, b, q)),
        rtol=1e-13,
        atol=0,
    )


@pytest.mark.parametrize("dtype_name", ["float32", "bfloat16", "float16"])
def test_spike_low_precision_dtypes(dtype_name):
    torch = pytest.importorskip("torch")
    dtype = getattr(torch, dtype_name)
    v64 = torch.linspace(-2, 2, 101, dtype=torch.float64)
    v = v64.to(dtype).reshape(1, 101, 1).requires_grad_(True)
    for shape in SHAPES:
        z = S.spike(v, S.Surrogate(shape, 1.0, 2.0, 1.56))
        assert z.dtype == dtype and torch.equal(z, (v.detach() > 0).to(dtype))
        (grad,) = torch.autograd.grad(z.sum(), v)
        assert grad.dtype == dtype
        ref = S.sg_prime(v.detach().double().numpy(), S.Surrogate(shape, 1.0, 2.0, 1.56))
        tol = 1e-6 if dtype_name == "float32" else 1e-2
        np.testing.assert_allclose(grad.double().numpy(), ref, rtol=tol, atol=tol)


def test_spike_accepts_tensor_parameters_and_only_v_gets_a_gradient():
    torch = pytest.importorskip("torch")
    v = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    beta = torch.tensor([0.5, 1.0, 4.0], dtype=torch.float64)
    (grad,) = torch.autograd.grad(S.spike(v, S.Surrogate("fastsigmoid", 1.2, beta)).sum(), v)
    want = S.sg_prime(v.detach().numpy(), S.Surrogate("fastsigmoid", 1.2, beta.numpy()))
    np.testing.assert_allclose(grad.numpy(), want, rtol=1e-14)
    with pytest.raises(ValueError, match="sharpness"):
        S.sg_prime_torch(v.detach(), S.Surrogate("fastsigmoid", 1.0, torch.tensor([1.0, -2.0])))
    with pytest.raises(ValueError, match="tail"):
        S.spike(v, S.Surrogate("qpseudospike", 1.0, 1.0, 1.0))


def test_importing_surrogates_does_not_import_torch():
    code = (
        "import sys, stabviz.surrogates as s; s.gaussian_moments('sigmoid'); "
        "s.translation_table(s.Surrogate('cauchy', 1, 1)); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------
# Library translations

LIBRARY_FORMULAS = {  # σ'(v) as each library's source computes it, for knob value a
    "snntorch.fast_sigmoid": lambda v, a: 1 / (1 + a * np.abs(v)) ** 2,
    "snntorch.atan": lambda v, a: a / 2 / (1 + (math.pi / 2 * a * v) ** 2),
    "snntorch.sigmoid": lambda v, a: a * special.expit(a * v) * special.expit(-a * v),  # 1 − s(x) = s(−x)
    "spikingjelly.ATan": lambda v, a: a / 2 / (1 + (math.pi / 2 * a * v) ** 2),
    "spikingjelly.Sigmoid": lambda v, a: a * special.expit(a * v) * special.expit(-a * v),
    "spikingjelly.QPseudoSpike": lambda v, a: (1 + 2 / (a - 1) * np.abs(v)) ** (-a),
    "braintools.QPseudoSpike": lambda v, a: (1 + 2 / (a + 1) * np.abs(v)) ** (-a),
    "brainpy.QPseudoSpike": lambda v, a: (1 + 2 / (a + 1) * np.abs(v)) ** (-a),
    "norse.super": lambda v, a: 1 / (1 + a * np.abs(v)) ** 2,
    "norse.triangle": lambda v, a: a * np.maximum(1 - np.abs(v), 0),
    "pytorch.SurrGradSpike": lambda v, a: 1 / (a * np.abs(v) + 1) ** 2,  # SpyTorch's SuperSpike
}


def test_every_library_entry_reproduces_the_library_formula_and_round_trips():
    assert set(LIBRARY_FORMULAS) == set(S.LIBRARY_SURROGATES)
    v = np.linspace(-3, 3, 121)
    for name, (knob, default, _formula) in S.LIBRARY_SURROGATES.items():
        for value in (None, default * 1.37, default * 3.1):
            p = S.from_library(name, value)
            a = default if value is None else value
            np.testing.assert_allclose(S.sg_prime(v, p), LIBRARY_FORMULAS[name](v, a), rtol=1e-12, atol=1e-300)
            t = S.to_library(name, p)
            assert (t.name, t.knob, t.exact, t.note) == (name, knob, True, "exact")
            assert t.value == pytest.approx(a, rel=1e-12)


def test_translation_examples_from_theory():
    sig = S.from_library("snntorch.sigmoid")  # default slope 25 -> peak 6.25
    assert (sig.shape, sig.dampening, sig.sharpness) == ("sigmoid", 6.25, 6.25)
    assert float(S.sg_prime(0.0, sig)) == 6.25
    assert S.from_library("snntorch.fast_sigmoid", 25) == S.Surrogate("fastsigmoid", 1.0, 12.5)
    assert S.from_library("snntorch.atan") == S.Surrogate("cauchy", 1.0, 1.0)
    assert S.from_library("spikingjelly.Sigmoid") == S.Surrogate("sigmoid", 1.0, 1.0)
    assert S.from_library("spikingjelly.QPseudoSpike", 1.56) == S.Surrogate("qpseudospike", 1.0, 1.0, 1.56)
    bt = S.from_library("braintools.QPseudoSpike", 3.0)
    assert (bt.tail, bt.sharpness) == (3.0, pytest.approx(0.5))
    assert S.from_library("norse.super") == S.Surrogate("fastsigmoid", 1.0, 50.0)
    assert S.from_library("norse.triangle", 0.3) == S.Surrogate("triangular", 0.3, 1.0)


def test_inexpressible_settings_give_the_closest_knob_and_say_why():
    t = S.to_library("snntorch.fast_sigmoid", S.Surrogate("fastsigmoid", 0.5, 3.0))
    assert not t.exact and t.value == 6.0 and "0.5" in t.note  # width matched, height differs
    t = S.to_library("snntorch.atan", S.Surrogate("cauchy", 2.0, 0.5))
    assert not t.exact and t.value == 1.0 and "peak height is 0.5" in t.note
    t = S.to_library("spikingjelly.QPseudoSpike", S.Surrogate("fastsigmoid"))  # fast sigmoid = q-PseudoSpike q = 2
    assert t.exact and t.value == 2.0
    t = S.to_library("norse.super", S.Surrogate("qpseudospike", 1.0, 4.0, 2.0))
    assert t.exact and t.value == 8.0
    t = S.to_library("snntorch.sigmoid", S.Surrogate("gaussian", 1.0, 2.0))
    assert not t.exact and t.value == 8.0 and "different shape" in t.note
    t = S.to_library("braintools.QPseudoSpike", S.Surrogate("exponential", 1.0, 1.0))
    assert not t.exact and t.value == 2.0 and "default" in t.note
    table = S.translation_table(S.Surrogate("qpseudospike", 1.0, 1 / 3, 2.0))
    assert [x.name for x in table] == list(S.LIBRARY_SURROGATES)
    exact = {x.name for x in table if x.exact}
    assert exact == {
        "braintools.QPseudoSpike",
        "brainpy.QPseudoSpike",
        "snntorch.fast_sigmoid",
        "norse.super",
        "pytorch.SurrGradSpike",
    }


# ---------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: S.sg_prime(0.0, "atan"), "shape"),
        (lambda: S.sg_prime(0.0, S.Surrogate("fastsigmoid", 0.0)), "dampening"),
        (lambda: S.sg_prime(0.0, S.Surrogate("fastsigmoid", np.array([1.0, float("nan")]))), "dampening"),
        (lambda: S.sg_prime(0.0, S.Surrogate("fastsigmoid", 1.0, np.array([[1.0], [2e3]]))), "sharpness"),
        (lambda: S.sg_prime(0.0, S.Surrogate("fastsigmoid", 1.0, "wide")), "sharpness"),
        (lambda: S.sg_prime(0.0, S.Surrogate("qpseudospike", 1.0, 1.0, 1.0)), "tail"),
        (lambda: S.gaussian_moments(S.Surrogate("cauchy", 1.0, 1.0, np.array([2.0, 0.5]))), "tail"),
        (lambda: S.moment_primitive(1.0, 3, "cauchy"), "m"),
        (lambda: S.moment_primitive(float("inf"), 1, "cauchy"), "u"),
        (lambda: S.gaussian_moments(S.Surrogate("sigmoid", 1.0, 1.0, 1.56), 0.0, -1.0), "std"),
        (lambda: S.gaussian_moments(S.Surrogate("sigmoid", 1.0, 1.0, 1.56), float("nan"), 1.0), "mean"),
        (lambda: S.uniform_moment(1, S.Surrogate("sigmoid", 1.0, 1.0, 1.56), 1.0, 1.0), "low"),
        (lambda: S.from_library("snntorch.tanh"), "library"),
        (lambda: S.from_library("snntorch.sigmoid", -2), "slope"),
        (lambda: S.from_library("braintools.QPseudoSpike", 1.0), "sharpness"),
        (lambda: S.to_library("norse.super", S.Surrogate("fastsigmoid", 1.0, 0.0)), "sharpness"),
        (lambda: S.Surrogate("cauchy", 1.0, 1.0, 0.5), "tail"),
    ],
)
def test_bad_values_raise_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call()


def test_library_variants_translate_the_synaptic_decay_both_ways():
    from stabviz.config import LIFConfig
    from stabviz.surrogates.translate import syn_decay_from_library, variant_to_library

    cfg = LIFConfig(neuron="cuba", syn_decay=0.75)
    for library in ("snntorch", "norse", "pytorch"):
        t = variant_to_library(library, cfg)
        assert t.neuron and syn_decay_from_library(library, t.value) == pytest.approx(0.75, rel=1e-12)
    assert variant_to_library("norse", cfg).value == pytest.approx(0.25)  # dt·tau_syn_inv = 1 − α_s
    assert syn_decay_from_library("norse") == pytest.approx(0.8)  # LIFParameters' 200/s at dt = 1 ms


def test_a_library_without_the_neuron_says_so_and_bad_knobs_name_their_range():
    from stabviz.config import LIFConfig
    from stabviz.surrogates.translate import syn_decay_from_library, variant_to_library

    for library in ("snntorch", "spikingjelly", "norse"):
        t = variant_to_library(library, LIFConfig(neuron="alif"))
        assert t.neuron is None and "adaptive-threshold" in t.note
    assert variant_to_library("pytorch", LIFConfig(neuron="alif")).value == pytest.approx(200.0)
    with pytest.raises(ValueError, match="snntorch: alpha has no default"):
        syn_decay_from_library("snntorch")
    with pytest.raises(ValueError, match=r"norse: dt·tau_syn_inv = 2 gives synaptic decay α_s = -1, outside"):
        syn_decay_from_library("norse", 2)
    with pytest.raises(ValueError, match="library"):
        syn_decay_from_library("spikingjelly", 0.5)
