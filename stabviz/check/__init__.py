"""Check a user's own spiking network (snnTorch, Norse, SpikingJelly, stabviz's LIFNetwork, NIR): find its spiking
layers, measure firing rates and the backward gain on a private copy, set the theory's prediction beside the
measurement, name the hazards and re-measure each suggested change (docs/check.md). Never imports streamlit.

The package is callable: ``stabviz.check(model, inputs)`` is :func:`check` (as the issue and docs write it),
and ``stabviz.check.check_nir``, ``stabviz.check.CheckReport`` are its other names.
"""

import sys
import types

from stabviz.check.core import check, check_nir
from stabviz.check.layers import SUPPORTED, find_layers
from stabviz.check.report import CheckReport

__all__ = ["check", "check_nir", "CheckReport", "SUPPORTED", "find_layers"]


class _CallablePackage(types.ModuleType):
    """``stabviz.check(...)`` runs :func:`check`: the package and the function share one name."""

    def __call__(self, *args, **kwargs):
        return check(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
