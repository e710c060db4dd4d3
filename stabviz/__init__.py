"""stabviz: stability of surrogate-gradient training in LIF networks (arXiv 2202.00282), as a package,
a CLI (`python -m stabviz`) and a Streamlit dashboard (`streamlit run app.py`)."""

from stabviz.config import PRESETS, LIFConfig, Surrogate, TrainConfig, preset

__all__ = ["LIFConfig", "TrainConfig", "Surrogate", "PRESETS", "preset", "check", "check_nir"]
__version__ = "0.1.0"


def __getattr__(name: str):
    """``stabviz.check(model, inputs)`` and ``stabviz.check_nir(path)`` (docs/check.md), imported on first use:
    they load torch, which ``import stabviz`` alone never does."""
    if name in ("check", "check_nir"):
        import stabviz.check as package

        return package if name == "check" else package.check_nir
    raise AttributeError(f"module 'stabviz' has no attribute {name!r}")
