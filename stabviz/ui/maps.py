"""The clickable stable-region maps of the Explore page."""
from __future__ import annotations

from typing import Any, Sequence

import streamlit as st

from stabviz import plots
from stabviz.config import LIFConfig
from stabviz.ui import compute, figures, layout, livemap, state

#: tab label -> (x axis, y axis). The tail map is always drawn for the q-PseudoSpike shape.
MAPS = {
    "Sharpness β × dampening γ": ("sharpness", "dampening"),
    "Tail q × dampening γ (q-PseudoSpike)": ("tail", "dampening"),
    "Leak α × dampening γ": ("leak", "dampening"),
}
#: tab label -> its short name in the URL (?map=...).
MAP_PARAMS = dict(zip(MAPS, ("beta", "tail", "leak")))


def _on_click(click: dict[str, float], x_name: str, y_name: str) -> None:
    """Move the current setting to the clicked cell (a callback: runs before the widgets are drawn).
    live_map.js sends the cell's own values; 4 significant digits keep the link readable and stay
    within the cell (neighbouring cells differ by ≥ 2%)."""
    values = {x_name: float(plots.round_sig(click["x"], 4)), y_name: float(plots.round_sig(click["y"], 4))}
    if x_name == "tail":
        values["shape"] = "qpseudospike"
    state.apply(values)


def map_config(cfg: LIFConfig, x: str) -> LIFConfig:
    """The setting a map is computed at: the tail map always uses the q-PseudoSpike shape."""
    return cfg.replace(shape="qpseudospike") if x == "tail" else cfg


def draw(cfg: LIFConfig, label: str, color_by: str, runs: Sequence[dict[str, Any]] = ()) -> Any:
    """Draw one map (and its downloads); returns the Region."""
    x, y = MAPS[label]
    at = map_config(cfg, x)
    if cfg.voltage_model == "measured":
        # The measured model has one voltage sample per setting: it cannot vary the leak along an axis,
        # and a 200-point sharpness axis would re-evaluate σ' on every sample 200 times. Maps use the
        # gaussian model, which THEORY.md section 4 finds within a few percent of simulation.
        at = at.replace(voltage_model="gaussian")
        st.caption("Maps use the gaussian voltage model (the measured model gives one point, not a map).")
    if x == "tail" and cfg.shape != "qpseudospike":
        st.caption("Drawn for the q-PseudoSpike shape; the current point shows where you would be with it.")
    region = compute.region(at, x, y)
    chart_key = f"map_{x}_{y}"
    fig = figures.region_chart(region, compute.grid_key(at, x, y), color_by, runs)
    # theme=None: Streamlit's theme is merged into the figure in the browser on every remount (~100 ms
    # of the repaint budget); the figure carries its own styling instead.
    st.plotly_chart(fig, key=chart_key, theme=None,
                    config={"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]})
    # Repaints this map in the browser as a slider moves; hover and clicks, exact to the cell.
    livemap.mount(cfg, at, x, color_by, on_click=lambda click: _on_click(click, x, y))
    for note in region.notes:
        st.caption(f":material/info: {note}")
    layout.download_buttons("Map numbers", f"stabviz_{x}_{y}", region.to_csv,
                            lambda: _json(region.to_dict()), key=f"dl_{chart_key}")
    return region


def _json(data: Any) -> str:
    import orjson
    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY).decode()
