"""The shape table (stabviz/shapes.py): it agrees with config.SHAPES, each record is
self-consistent (σ', G_m, its tail, G_m(∞), numpy and torch), and the dashboard's copyable snippet
computes the same σ' as the library. A new shape's record is checked here without new test code."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from stabviz import surrogates
from stabviz.config import SHAPES, LIFConfig
from stabviz.shapes import SHAPE_TABLE, QuadRule, Shape
from stabviz.surrogates import shape_record
from stabviz.ui import advice, snippets

SETTINGS = [(1.0, 1.0, 1.56), (0.3, 0.02, 1.001), (7.0, 40.0, 3.0), (2.5, 0.001, 50.0), (0.05, 2.5, 1.2)]


def test_table_and_config_name_the_same_shapes_in_the_same_order():
    assert tuple(SHAPE_TABLE) == SHAPES
    assert all(record.name == name for name, record in SHAPE_TABLE.items())
    assert surrogates.SHAPE_TABLE is SHAPE_TABLE


def test_lookup_validates_the_name():
    assert shape_record("cauchy") is SHAPE_TABLE["cauchy"]
    with pytest.raises(ValueError, match="shape"):
        shape_record("heaviside")


def test_a_record_needs_exactly_one_way_to_its_gaussian_moments():
    parts = {
        k: getattr(SHAPE_TABLE["fastsigmoid"], k)
        for k in ("prime", "primitive", "tail", "wide", "torch_prime", "torch_inplace", "snippet")
    }
    with pytest.raises(TypeError, match="exactly one"):
        Shape("neither", **parts)
    with pytest.raises(TypeError, match="exactly one"):
        Shape("both", **parts, gaussian=lambda m, b, mu, s: mu, quad=QuadRule(scale=lambda b, q: 1.0 / b))


@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize("g, b, q", SETTINGS)
def test_record_pieces_agree_with_each_other(name, g, b, q):
    rec = SHAPE_TABLE[name]
    u = np.concatenate([[0.0], np.geomspace(1e-4, 1e2, 60)]) / b
    assert rec.prime(np.zeros(1), b, q)[0] == 1.0  # unit peak
    assert rec.wide(1, b, q) * 2 * b == pytest.approx(1.0, rel=1e-14)  # unit-height area 1/β
    for m in (1, 2):
        np.testing.assert_allclose(rec.primitive(m, u, b, q) + rec.tail(m, u, b, q), rec.wide(m, b, q), rtol=1e-12)
    assert (rec.gaussian is None) != (rec.quad is None)


@pytest.mark.parametrize("name", SHAPES)
def test_record_torch_forms_equal_the_numpy_form(name):
    torch = pytest.importorskip("torch")
    rec = SHAPE_TABLE[name]
    a = torch.cat([torch.zeros(1), torch.logspace(-4, 3, 200)]).double()
    for _, b, q in SETTINGS:
        want = rec.prime(a.numpy(), b, q)
        np.testing.assert_allclose(rec.torch_prime(a, b, q).numpy(), want, rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(rec.torch_inplace(a.clone(), b, q).numpy(), want, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("name", SHAPES)
def test_snippet_backward_equals_the_library_torch_sg_prime(name):
    torch = pytest.importorskip("torch")
    for g, b, q in SETTINGS:
        cfg = LIFConfig(shape=name, n_rec=4, n_in=2, dampening=g, sharpness=b, tail=q)
        scope: dict = {}
        exec(snippets.pytorch_init(advice.setting_of(advice.AS_SET, cfg)), scope)  # a fresh namespace
        assert (scope["gamma"], scope["beta"], scope["q"]) == (g, b, q)
        v = torch.linspace(-60 / b, 60 / b, 2001, dtype=torch.float64).requires_grad_(True)
        scope["spike"](v).sum().backward()
        want = surrogates.sg_prime_torch(v.detach(), surrogates.Surrogate(name, g, b, q))
        # 1 − sigmoid(x) loses its relative precision in the far tail: compare against the peak there
        np.testing.assert_allclose(v.grad.numpy(), want.numpy(), rtol=1e-9, atol=1e-12 * g)


def test_shape_table_and_snippets_do_not_import_torch():
    code = (
        "import sys, numpy as np, stabviz.surrogates as s, stabviz.ui.snippets as sn\n"
        "from stabviz import shapes\n"
        "from stabviz.surrogates import curves, moments, translate, validate\n"
        "[r.prime(np.ones(2), 1.0, 1.5) for r in shapes.SHAPE_TABLE.values()]\n"
        "s.uniform_moment(2, 'cauchy'); assert sn.TORCH_SG\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", [n for n in SHAPES if SHAPE_TABLE[n].special_case])
def test_special_case_is_the_other_shape_at_that_tail(name):
    other, q = SHAPE_TABLE[name].special_case
    v = np.linspace(-20, 20, 801)
    for g, b, _ in SETTINGS:
        np.testing.assert_allclose(
            surrogates.sg_prime(v, surrogates.Surrogate(name, g, b)),
            surrogates.sg_prime(v, surrogates.Surrogate(other, g, b, q)),
            rtol=1e-13,
            atol=0,
        )
