"""Check a user's own spiking network (snnTorch, Norse, SpikingJelly): find its spiking layers, measure firing
rates and the backward gain on a private copy, set the theory's prediction beside the measurement, name the
hazards and re-measure each suggested change (docs/check.md). Never imports streamlit."""
from stabviz.check.core import check, check_nir
from stabviz.check.layers import SUPPORTED, find_layers
from stabviz.check.report import CheckReport

__all__ = ["check", "check_nir", "CheckReport", "SUPPORTED", "find_layers"]
