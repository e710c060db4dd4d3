"""The surrogate-gradient family (docs/theory.md#2-the-surrogate-family): curves, closed-form moments, the torch spike
op.

One :class:`~stabviz.config.Surrogate` record (shape, γ, β, q; :data:`DEFAULT_SURROGATE` holds the
defaults) is what every function here takes.

Every shape is parameterised by dampening γ (peak height, σ'(0) = γ), sharpness β (inverse width) and,
for q-PseudoSpike only, tail-fatness q > 1; every shape has area ∫σ'(v) dv = γ/β. The argument is the
distance to threshold v = y − θ, in voltage units; σ' is in spikes per voltage unit.

numpy layer (vectorised; broadcasts over v/u and over every parameter):

- :func:`sg_prime` σ'(v), :func:`sg_primitive` σ(v) = ∫_{−∞}^v σ'.
- :func:`moment_primitive` G_m(u) = ∫_0^u σ'(s)^m ds (closed forms, m = 1, 2), :func:`wide_moment` G_m(∞).
- :func:`uniform_moment` E[σ'(V)^m] for V ~ U[low, high] (docs/theory.md#41-uniform-the-papers-model).
- :func:`gaussian_moments` / :func:`gaussian_moment` E[σ'(V)^m] for V ~ N(mean, std²) (section 4,
  "gaussian mean-field"): closed forms for rectangular, exponential and gaussian; a composite
  Gauss–Legendre rule on breakpoints placed at the integrand's modes for the others.

torch layer (torch is imported on first use only, so the CLI's theory commands never load it):
:func:`sg_prime_torch` and :func:`spike` (Heaviside forward, σ' backward).

Library translations: :data:`LIBRARY_SURROGATES`, :func:`from_library`, :func:`to_library`,
:func:`translation_table`, :func:`setting_from_library` (other libraries' one-knob surrogates expressed as (γ, β, q) and
back).

Modules: :mod:`stabviz.shapes` (one :class:`Shape` record per shape, :data:`SHAPE_TABLE`: the only place a
shape's formulas are written), :mod:`.curves` (σ', σ, G_m), :mod:`.moments` (uniform and gaussian
voltage moments, the quadrature), :mod:`.torch_op`, :mod:`.translate`, :mod:`.validate`.
"""

from __future__ import annotations

from stabviz.config import DEFAULT_SURROGATE, Surrogate
from stabviz.shapes import SHAPE_TABLE, QuadRule, Shape
from stabviz.surrogates.curves import moment_primitive, sg_prime, sg_primitive, wide_moment
from stabviz.surrogates.moments import gaussian_moment, gaussian_moments, uniform_moment
from stabviz.surrogates.torch_op import sg_prime_torch, spike
from stabviz.surrogates.translate import (
    LIBRARY_NEURONS,
    LIBRARY_SURROGATES,
    Translation,
    from_library,
    leak_from_library,
    library_of,
    setting_from_library,
    to_library,
    translation_table,
)
from stabviz.surrogates.validate import shape_record

__all__ = [
    "sg_prime",
    "sg_primitive",
    "moment_primitive",
    "wide_moment",
    "uniform_moment",
    "gaussian_moment",
    "gaussian_moments",
    "sg_prime_torch",
    "spike",
    "LIBRARY_SURROGATES",
    "Surrogate",
    "DEFAULT_SURROGATE",
    "Translation",
    "from_library",
    "to_library",
    "translation_table",
    "LIBRARY_NEURONS",
    "leak_from_library",
    "library_of",
    "setting_from_library",
    "Shape",
    "QuadRule",
    "SHAPE_TABLE",
    "shape_record",
]
