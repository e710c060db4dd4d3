"""The Explore map drawn by a small Streamlit component that redraws in place.

``st.plotly_chart`` gives every figure its own element identity (the spec is part of it), so each slider
release remounts the chart and Plotly plots it from scratch, twice. The component's iframe is kept across
reruns by its ``key``; it receives the figure as JSON and updates the same plot with ``Plotly.react``,
and returns a click as ``{"x", "y", "at"}`` (the clicked point in map coordinates, see
:func:`stabviz.plots.map_coord`; ``at`` is the click's time in ms, so every click is a new value).

The page (``map_component/index.html``) implements the components-v1 messages by hand. Plotly.js is not
kept in the repository: :func:`asset_dir` copies the installed plotly package's ``plotly.min.js`` next to
it in a cache folder. ``STABVIZ_MAP_COMPONENT=0`` draws the maps with ``st.plotly_chart`` instead.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

import orjson

ENV_SWITCH = "STABVIZ_MAP_COMPONENT"
PAGE = Path(__file__).with_name("map_component") / "index.html"
COMPONENT_NAME = "stabviz_map"


def enabled() -> bool:
    """Whether the maps use the component (anything but ``STABVIZ_MAP_COMPONENT=0``)."""
    return os.environ.get(ENV_SWITCH, "1").strip() != "0"


def _plotly_js() -> tuple[Path, str]:
    import plotly
    return Path(plotly.__file__).with_name("package_data") / "plotly.min.js", plotly.__version__


def _copy_if_changed(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` unless an identical copy is there; atomic, as several dashboard processes
    may prepare the same folder at once."""
    data = src.read_bytes()
    if dst.exists() and dst.stat().st_size == len(data) and dst.read_bytes() == data:
        return
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, dst)


def asset_dir(root: Path | None = None) -> Path:
    """The folder the component is served from: ``index.html`` and the installed ``plotly.min.js``,
    under ``root`` (default: the system temp folder) in ``stabviz-map-component-<plotly version>``."""
    js, version = _plotly_js()
    if not js.exists():
        raise FileNotFoundError(f"the plotly package has no {js}: reinstall plotly")
    folder = Path(root or tempfile.gettempdir()) / f"stabviz-map-component-{version}"
    folder.mkdir(parents=True, exist_ok=True)
    _copy_if_changed(js, folder / "plotly.min.js")
    _copy_if_changed(PAGE, folder / "index.html")
    return folder


@functools.lru_cache(maxsize=1)
def _component() -> Callable[..., Any]:
    from streamlit.components import v1 as components
    return components.declare_component(COMPONENT_NAME, path=str(asset_dir()))


def figure_json(spec: Mapping[str, Any]) -> str:
    """A prepared figure dict (``{"data", "layout"}``, arrays as base64 typed arrays) as JSON text."""
    return orjson.dumps({"data": spec["data"], "layout": spec["layout"]},
                        option=orjson.OPT_SERIALIZE_NUMPY).decode()


def draw(spec: Mapping[str, Any], key: str, on_click: Callable[[], None],
         config: Mapping[str, Any] | None = None) -> dict | None:
    """Draw the figure ``spec`` in the map component under ``key``; ``on_click`` runs (as a widget
    callback, before the page) after a click. Returns the last click ``{"x", "y", "at"}`` or None."""
    return _component()(figure=figure_json(spec), config=dict(config or {}), key=key, default=None,
                        on_change=on_click)


def clicked_point(value: Any) -> tuple[float, float] | None:
    """(x, y) map coordinates of a click the component returned, or None for no click."""
    if not isinstance(value, Mapping) or value.get("x") is None or value.get("y") is None:
        return None
    return float(value["x"]), float(value["y"])
