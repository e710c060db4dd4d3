"""Figures that repeat across reruns, built once and shared (st.cache_resource, keyed by small strings).

Building a Plotly figure costs milliseconds of validation; a slider release that does not change a
figure's inputs (the dampening does not change a firing-rate curve) must not pay it again. The figures
are never mutated after construction (st.plotly_chart copies them), so sharing them between sessions
is safe.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from _plotly_utils.utils import convert_to_base64

from stabviz import plots
from stabviz.config import LIFConfig
from stabviz.ui import compute

LEAK_AXIS = (0.0, 0.995, 120)


@st.cache_resource(max_entries=128, show_spinner=False)
def rate_bars(rates: tuple[tuple[str, float], ...]) -> go.Figure:
    return plots.firing_rate_bars(dict(rates))


@st.cache_resource(max_entries=64, show_spinner=False, hash_funcs=compute.HASH_FUNCS)
def rate_vs_leak(fkey: LIFConfig, current: float) -> go.Figure:
    lo, hi, n = LEAK_AXIS
    import numpy as np

    return plots.rate_curves(
        np.linspace(lo, hi, n), compute.rate_curves(fkey, "leak", lo, hi, n), x_name="leak", current=current
    )


@st.cache_resource(max_entries=64, show_spinner=False, hash_funcs=compute.HASH_FUNCS)
def rate_vs_mean(
    fkey: LIFConfig, axis: tuple[float, float, int], current: float | None, condition_i: float | None
) -> go.Figure:
    import numpy as np

    return plots.rate_curves(
        np.linspace(*axis),
        compute.rate_curves(fkey, "rec_mean", *axis),
        x_name="rec_mean",
        current=current,
        marks={"condition I (p = ½)": condition_i},
    )


@st.cache_resource(max_entries=32, show_spinner=False, hash_funcs=compute.HASH_FUNCS)
def voltages(
    fkey: LIFConfig, axis: tuple[float, float, int], threshold: float, measured_key: LIFConfig | None
) -> go.Figure:
    import numpy as np

    samples = None if measured_key is None else compute.measurement(measured_key)["voltages"]
    return plots.voltage_distributions(
        np.linspace(*axis), compute.voltage_densities(fkey, *axis), threshold=threshold, samples=samples
    )


class PreparedFigure(go.Figure):
    """A figure whose JSON-ready dict was made once: arrays already base64 typed arrays.

    st.plotly_chart asks a figure for ``to_dict()`` and serialises the answer; a region map answers
    with its prepared dict (plus the two point markers), which skips Plotly's validation, deep copy and
    re-encoding of the 200 × 200 arrays: about 8 ms of the 25 ms rerun budget on a cached grid, and
    another ~4 ms when the grid is new (plots.region_map_spec is never validated here; the tests
    check that it serialises as the validated figure does).
    """

    def __init__(self, spec: dict):
        super().__init__(layout={"height": spec["layout"].get("height"), "template": spec["layout"].get("template")})
        self._prepared = spec

    def to_dict(self) -> dict:
        return self._prepared


@st.cache_resource(max_entries=24, show_spinner=False)
def _region_base(grid_key: str, color_by: str, runs_key: str, height: int, _region: Any, _runs: Sequence[dict]) -> dict:
    """The prepared region map without its optimum and current point (which move with the sliders)."""
    # No hover grid: live_map.js hovers and clicks the map cell by cell.
    spec = plots.region_map_spec(
        _region, color_by=color_by, runs=_runs, show_points=False, click_points=None, height=height
    )
    convert_to_base64(spec)  # in place: numpy arrays become typed arrays once
    return spec


def region_chart(
    region: Any,
    grid_key: str,
    color_by: str,
    runs: Sequence[dict],
    layer: tuple[Sequence[dict], Sequence[dict]] = ((), ()),
    height: int = 460,
) -> PreparedFigure:
    """The region map of ``region`` (grid cached under ``grid_key``), with its current point and optimum.
    ``layer``: traces (under, over) the theory's lines, e.g. plots.measured_layer_specs."""
    base = _region_base(
        f"{grid_key}|{region.x_name}|{region.y_name}|{region.log10_gain.shape}",
        color_by,
        json.dumps(list(runs), sort_keys=True, default=str),
        height,
        region,
        runs,
    )
    under, over = layer
    # The first base trace only carries the colour bar; a measured field goes right above the image.
    data = [base["data"][0], *under, *base["data"][1:], *over, *plots.point_marker_specs(region)]
    return PreparedFigure({"data": data, "layout": base["layout"]})


def chart(fig: Any, key: str, **kw: Any) -> None:
    """st.plotly_chart with the dashboard's defaults: no Plotly logo, and the figure's own styling
    (Streamlit's theme would shrink its 16 px text to 12)."""
    config = {"displaylogo": False, **kw.pop("config", {})}
    st.plotly_chart(fig, key=key, config=config, theme=kw.pop("theme", None), **kw)


def sweep_curve(
    xs: Sequence[float],
    values: Sequence[float],
    x_name: str,
    metric: str,
    log_x: bool,
    marks: Sequence[str] | None = None,
) -> go.Figure:
    """A sweep over one parameter: the measured outcome at each swept value ("pending" until it ends; a run
    that ended without a result, named in ``marks``, is a grey × at the axis, never a point of the curve)."""
    import numpy as np

    y = np.asarray(values, float)
    bad = np.asarray([bool(m) for m in marks], bool) if marks is not None else np.zeros(len(y), bool)
    done = ~np.isnan(y) & ~bad
    x = np.asarray(xs, float)
    waiting = ~done & ~bad
    return go.Figure(
        data=[
            go.Scatter(
                x=x[done],
                y=y[done],
                mode="lines+markers",
                name="measured",
                hovertemplate=f"{plots.axis_title(x_name)} = %{{x:.4g}}<br>{metric} = %{{y:.4g}}<extra></extra>",
            ),
            go.Scatter(
                x=x[waiting],
                y=np.zeros(int(waiting.sum())),
                mode="markers",
                name="pending",
                marker=dict(symbol="circle-open", color="#adb5bd"),
                hoverinfo="skip",
            ),
            go.Scatter(
                x=x[bad],
                y=np.zeros(int(bad.sum())),
                mode="markers+text",
                name=plots.NO_RESULT,
                text=[str(m) for m, b in zip(marks or [], bad) if b],
                textposition="top center",
                marker=dict(symbol="x", color="#868e96", size=10),
                hoverinfo="text",
            ),
        ],
        layout=dict(
            height=360,
            font=dict(size=plots.FONT_SIZE),
            margin=dict(l=55, r=10, t=10, b=40),
            legend=dict(orientation="h", y=1.1, x=0),
            xaxis=dict(
                title=plots.axis_title(x_name),
                type="log" if log_x else "linear",
                tickvals=list(x),
                ticktext=[f"{v:g}" for v in x],
            ),
            yaxis=dict(title=metric),
        ),
    )
