"""Figure layouts that read (issue 19, item 6), checked on the figures' specs; tests/browser/test_figure_layout.py
checks the drawn text boxes in Chromium."""

import re

import numpy as np
import pytest

from stabviz import plots

SI = re.compile(r"^[0-9.]+[yzafpnμmkMGTPEZY]$")


@pytest.mark.parametrize(
    "v,text",
    [
        (1e-24, "10⁻²⁴"),
        (2e-5, "2×10⁻⁵"),
        (0.001, "0.001"),
        (0.05, "0.05"),
        (1, "1"),
        (1000, "1000"),
        (99999, "10⁵"),
        (-3e5, "−3×10⁵"),
        (12345, "1.2×10⁴"),
    ],
)
def test_tick_labels_are_plain_or_powers_of_ten(v, text):
    assert plots.tick_label(v) == text


def test_a_gradient_flow_over_24_decades_has_a_few_power_of_ten_labels():
    flow = [10.0 ** (-24 + 24 * t / 49) for t in range(50)]
    fig = plots.gradient_flow({"initial": (list(range(50)), flow), "final": (list(range(50)), flow[::-1])})
    ax = fig.layout.yaxis
    assert ax.type == "log" and len(ax.ticktext) <= plots.LOG_TICKS
    assert all(t == "1" or t.startswith("10") for t in ax.ticktext), ax.ticktext
    assert not any(SI.match(t) for t in ax.ticktext)
    assert np.all(np.diff(np.log10(ax.tickvals)) == np.diff(np.log10(ax.tickvals))[0])  # evenly spaced
    assert not fig.layout.title.text  # no title at the top


def test_a_short_log_axis_labels_1_2_5():
    ax = plots.metric_curves({"r": ([0, 1], [0.3, 4.0])}, y_label="grad norm", log_y=True).layout.yaxis
    assert list(ax.ticktext) == ["0.2", "0.5", "1", "2", "5"]


def _every_figure(region):
    z = np.array([[0.5, np.nan], [0.9, 0.7]])
    return {
        "flow": plots.gradient_flow({"r": ([0, 1], [1.0, 2.0])}),
        "curves": plots.metric_curves({"r": ([0, 1], [1.0, 2.0])}, y_label="loss"),
        "moments": plots.surrogate_moments({"a": (0.5, 0.25)}),
        "rates": plots.rate_curves([0, 1], {"gaussian": [0.1, 0.2]}, x_name="leak", current=0.5),
        "sweep": plots.sweep_map(
            [1.0, 2.0],
            [0.5, 1.0],
            z,
            x_name="sharpness",
            y_name="dampening",
            metric="final accuracy",
            log_x=True,
            log_y=True,
        ),
        "evidence": plots.evidence_curves(
            {"a": ([0.1, 1.0], [50, 60], [1, 2])}, x_name="dampening", marks={"γ_III": 0.5}, log_x=True
        ),
        "scatter": plots.evidence_scatter([1.0, 2.0], [50, 60], [False, True], x_title="x", auc=0.8),
        "map": plots.region_map(region),
    }


@pytest.fixture(scope="module")
def region():
    from stabviz import theory
    from stabviz.config import LIFConfig

    return theory.region(LIFConfig(), "sharpness", "dampening", nx=20, ny=20)


def test_every_legend_sits_below_the_axes_and_every_figure_keeps_the_toolbar_band(region):
    for name, fig in _every_figure(region).items():
        legend = fig.layout.legend
        assert (legend.yref, legend.y, legend.yanchor, legend.orientation) == ("container", 0, "bottom", "h"), name
        assert fig.layout.margin.t >= plots.MODEBAR_BAND, name
        assert fig.layout.xaxis.automargin and fig.layout.yaxis.automargin, name


def test_the_auc_heads_the_scatters_legend(region):
    fig = _every_figure(region)["scatter"]
    assert fig.layout.legend.title.text == "AUC for collapse: 0.80"
