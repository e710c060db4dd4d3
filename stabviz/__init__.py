"""stabviz: stability of surrogate-gradient training in LIF networks (arXiv 2202.00282), as a package,
a CLI (`python -m stabviz`) and a Streamlit dashboard (`streamlit run app.py`)."""
from stabviz.config import LIFConfig, TrainConfig, PRESETS, preset

__all__ = ["LIFConfig", "TrainConfig", "PRESETS", "preset"]
__version__ = "0.1.0"
