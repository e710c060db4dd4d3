"""Figure builders: each one checked on the traces a person will see (pure: no streamlit)."""

import base64
import dataclasses
import math
import struct
import zlib

import numpy as np
import plotly.graph_objects as go
import pytest

from stabviz import plots, theory
from stabviz.config import preset


@pytest.fixture(scope="module")
def region():
    # shd-tau20 at γ = β = 1 is stable: the map holds all three regimes and a band between them.
    return theory.region(preset("shd-tau20"), x="sharpness", y="dampening", nx=60, ny=50)


def _by_name(fig, name):
    hits = [t for t in fig.data if t.name == name]
    assert hits, f"no trace named {name!r} in {[t.name for t in fig.data]}"
    return hits[0]


def _field_pixels(fig):
    """The map's field image decoded back to RGBA pixels (rows top to bottom), with its layout entry."""
    image = [im for im in fig.layout.images if im.name == "map"][0]
    png = base64.b64decode(image.source.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    idat = png[png.index(b"IDAT") + 4 : png.index(b"IEND") - 8]
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + 4 * width)
    assert not rows[:, 0].any()  # filter type 0 on every row
    return rows[:, 1:].reshape(height, width, 4), image


def test_region_map_field_is_the_log_gain_centred_on_zero(region):
    fig = plots.region_map(region)
    pixels, image = _field_pixels(fig)
    assert pixels.shape[:2] == region.log10_gain.shape
    tol = region.tolerance
    # bottom row of the image is the first y; compare every pixel with the colour scale at its cell
    expected = plots.colour_field(region.log10_gain, *plots.colour_scale("log10_gain", tol))[::-1]
    np.testing.assert_array_equal(pixels, expected)
    i, j = np.unravel_index(np.argmin(np.abs(region.log10_gain)), region.log10_gain.shape)
    assert tuple(pixels[-1 - i, j, :3]) == pytest.approx((248, 249, 250), abs=12)  # stable: white
    assert pixels[-1 - np.argmin(region.log10_gain[:, j]), j, 2] > 120  # vanishing: blue
    key = _by_name(fig, "map")  # the colour bar: same scale, centred on 0
    assert key.marker.cmid == 0 and key.marker.cmin == -key.marker.cmax == -1 and key.marker.showscale
    ticks = dict(zip(key.marker.colorbar.ticktext, key.marker.colorbar.tickvals))  # in the colour coordinate
    assert ticks["0"] == 0 and ticks["1"] == pytest.approx(2 * plots.colour_t(tol, 100 * tol, tol) - 1)
    # the image sits under the axes, each pixel centred on its cell (log axes in log10 units)
    x, y = np.log10(region.x), np.log10(region.y)
    dx = x[1] - x[0]
    assert image.layer == "below" and (image.xref, image.yref) == ("x", "y")
    assert image.x == pytest.approx(x[0] - dx / 2) and image.sizex == pytest.approx(dx * len(x))
    assert image.y - image.sizey == pytest.approx(y[0] - (y[1] - y[0]) / 2)
    assert fig.layout.xaxis.type == "linear" and "1" in fig.layout.xaxis.ticktext
    ticks = dict(zip(fig.layout.yaxis.ticktext, fig.layout.yaxis.tickvals))
    assert ticks["0.1"] == pytest.approx(-1.0) and ticks["1"] == pytest.approx(0.0)


def test_colour_field_follows_the_scale_and_leaves_nan_transparent():
    rgba = plots.colour_field(np.array([[-1.0, 0.0, 1.0, 5.0, np.nan]]), zlim=1.0, knee=0.5)
    assert tuple(rgba[0, 0]) == (0x1E, 0x3A, 0x8A, 255) and tuple(rgba[0, 1]) == (0xF8, 0xF9, 0xFA, 255)
    assert tuple(rgba[0, 2]) == tuple(rgba[0, 3]) == (0x7F, 0x1D, 0x1D, 255)  # clipped at +zlim
    assert rgba[0, 4, 3] == 0
    with pytest.raises(ValueError, match="rgba shape"):
        plots.png_data_uri(np.zeros((2, 2, 3), np.uint8))


def test_map_coordinates_round_trip():
    assert plots.map_value(float(plots.map_coord([0.25], log=True)[0]), log=True) == pytest.approx(0.25)
    assert plots.map_value(0.3, log=False) == 0.3
    assert np.isnan(plots.map_coord([0.0], log=True)[0])
    # a log leak axis is spaced in log10 τ, α = exp(−1/τ): τ = 20 sits at log10 20
    alpha = math.exp(-1 / 20)
    assert plots.map_coord([alpha], log=True, name="leak")[0] == pytest.approx(math.log10(20))
    assert plots.map_value(math.log10(20), log=True, name="leak") == pytest.approx(alpha)
    assert np.isnan(plots.map_coord([0.0], log=True, name="leak")[0])


def test_the_leak_map_is_spaced_in_log_tau_with_tau_ticks():
    region = theory.region(preset("shd-tau20"), x="leak", y="dampening", nx=40, ny=30)
    tau = -1 / np.log(region.x)
    assert region.log_x and tau[0] == pytest.approx(0.1) and tau[-1] == pytest.approx(5000)
    np.testing.assert_allclose(np.diff(np.log10(tau)), np.log10(tau[1] / tau[0]))  # even steps in log τ
    fig = plots.region_map(region)
    assert "τ" in fig.layout.xaxis.title.text and "10" in fig.layout.xaxis.ticktext
    ticks = dict(zip(fig.layout.xaxis.ticktext, fig.layout.xaxis.tickvals))
    assert ticks["10"] == pytest.approx(1.0) and ticks["1000"] == pytest.approx(3.0)
    # τ = 10 … 5000 take most of the axis (linear in α, τ ≥ 10 took its last 10%)
    (x0, x1), _ = plots.axis_range(region)
    assert (x1 - 1.0) / (x1 - x0) > 0.5
    # a linear leak axis from 0 is still there, for a range that asks for it
    assert not theory.region(preset("shd-tau20"), x="leak", nx=10, ny=10, x_range=(0.0, 0.99)).log_x


@pytest.mark.parametrize(
    "x,value",
    [
        ("dampening", 1e-3),
        ("dampening", 100.0),
        ("sharpness", 1e-2),
        ("sharpness", 1000.0),
        ("leak", math.exp(-1 / 0.1)),
        ("leak", math.exp(-1 / 5000)),
    ],
)
def test_the_map_axes_cover_the_sliders_so_the_marker_stays_on_the_map(x, value):
    from stabviz.ui import sliders  # pure: the sliders' grids, no streamlit

    assert value in (sliders.GRIDS[x][0], sliders.GRIDS[x][-1]) or (
        x == "leak" and value == pytest.approx(sliders.GRIDS["leak"][1 if value < 0.5 else -1])
    )
    cfg = preset("shd-tau20").replace(**{x: value})
    region = theory.region(cfg, x="sharpness" if x == "dampening" else x, y="dampening", nx=20, ny=20)
    assert not plots.off_map(region, region.current)
    current = _by_name(plots.region_map(region), "current setting")
    assert current.marker.symbol == "circle-open"


def test_a_setting_off_the_map_is_pinned_at_its_edge_and_says_so():
    region = theory.region(preset("shd-tau20").replace(leak=0.0), x="leak", y="dampening", nx=20, ny=20)
    assert plots.off_map(region, region.current)  # α = 0: τ → 0, left of the log-τ axis
    fig = plots.region_map(region)
    pinned = [t for t in fig.data if t.name.startswith("current setting (off the map")][0]
    (x0, _), _ = plots.axis_range(region)
    assert pinned.x[0] == pytest.approx(x0) and pinned.marker.symbol == "x-thin-open" and pinned.cliponaxis is False


def test_region_map_colour_by_rho2_is_centred_on_rho2_one(region):
    fig = plots.region_map(region, color_by="rho2")
    pixels, _ = _field_pixels(fig)
    np.testing.assert_array_equal(
        pixels, plots.colour_field(np.log10(region.rho2), *plots.colour_scale("rho2", 1))[::-1]
    )
    key = _by_name(fig, "map")
    assert key.marker.cmid == 0  # log10 ρ² = 0  <=>  ρ² = 1
    assert "1" in list(key.marker.colorbar.ticktext)


def test_the_colour_scale_does_not_saturate_where_the_values_are_interesting():
    # log10 gain over T: 4, 8, 30 and 100 tolerances out are four different colours (the old scale
    # clipped everything beyond ±4), and the band's edge (±1 tolerance) is far from white.
    zlim, knee = plots.colour_scale("log10_gain", 1.0)
    rgba = plots.colour_field(np.array([0.0, 1.0, 4.0, 8.0, 30.0, 100.0, -8.0, -30.0]), zlim, knee).astype(int)
    assert len({tuple(c) for c in rgba}) == len(rgba)
    assert np.abs(rgba[1, :3] - rgba[0, :3]).max() > 25
    assert np.abs(rgba[3, :3] - rgba[2, :3]).max() > 10 and np.abs(rgba[4, :3] - rgba[3, :3]).max() > 10


def test_region_map_outlines_the_stable_band_and_draws_the_condition_curves(region):
    fig = plots.region_map(region)
    band = _by_name(fig, plots.band_name(region.tolerance))
    assert isinstance(band, go.Contour)
    # a filled band between ±tolerance with a thick outline, not a hairline
    assert band.contours.type == "constraint" and band.contours.operation == "]["  # Plotly shades what is left out
    assert list(band.contours.value) == [-region.tolerance, region.tolerance]
    assert band.fillcolor == plots.BAND_FILL and band.line.width >= 3
    for key, (_xs, ys) in region.curves.items():
        curve = _by_name(fig, plots.CURVE_STYLES[key][0])
        np.testing.assert_allclose(curve.y, np.log10(ys))


def test_region_map_marks_the_current_point_and_the_optimum(region):
    assert region.optimum is None  # shd-tau20: condition IV has no β* at γ_III
    assert "optimum (conditions III + IV)" not in [t.name for t in plots.region_map(region).data]
    region = dataclasses.replace(region, optimum=(2.0, 0.5))
    fig = plots.region_map(region)
    current = _by_name(fig, "current setting")
    assert tuple(current.customdata[0]) == region.current
    assert current.x[0] == pytest.approx(np.log10(region.current[0]))
    star = _by_name(fig, "optimum (conditions III + IV)")
    assert tuple(star.customdata[0]) == (2.0, 0.5) and star.y[0] == pytest.approx(np.log10(0.5))
    no_points = plots.region_map(region, show_points=False)
    assert "current setting" not in [t.name for t in no_points.data]


def test_region_map_colours_runs_by_measured_outcome(region):
    runs = [
        {"x": 1.0, "y": 1.0, "outcome": "stable", "label": "a"},
        {"x": 2.0, "y": 3.0, "outcome": "exploding", "label": "b"},
        {"x": 0.5, "y": 0.1, "outcome": "unknown", "label": "c"},
    ]
    fig = plots.region_map(region, runs=runs)
    # one legend entry per outcome, each with its own colour and symbol: the legend is the key
    for name, o in (("run: stable", "stable"), ("run: exploding", "exploding"), ("run: no verdict", "unknown")):
        trace = _by_name(fig, name)
        assert trace.showlegend is not False and trace.marker.color == plots.REGIME_COLORS[o]
        assert trace.marker.symbol == plots.RUN_SYMBOLS[o]
    assert len({plots.RUN_SYMBOLS[o] for o in ("stable", "exploding", "vanishing")}) == 3


def test_hover_grid_carries_every_number_of_its_cell(region):
    grid = plots.hover_grid(region, points=20)
    ny, nx = region.log10_gain.shape
    kx, ky = math.ceil(nx / 20), math.ceil(ny / 20)
    custom = np.asarray(grid.customdata)
    x, y = np.asarray(grid.x), np.asarray(grid.y)
    assert custom.shape == (len(range(0, ny, ky)) * len(range(0, nx, kx)), 6)
    k = 7  # any marker: find its cell and compare
    i, j = (k // len(range(0, nx, kx))) * ky, (k % len(range(0, nx, kx))) * kx
    assert x[k] == pytest.approx(np.log10(region.x[j]), abs=1e-6)
    assert y[k] == pytest.approx(np.log10(region.y[i]), abs=1e-6)
    np.testing.assert_allclose(
        custom[k],
        [
            region.x[j],
            region.y[i],
            region.rho2[i, j],
            region.max_gain[i, j],
            region.log10_gain[i, j],
            region.firing_rate[i, j],
        ],
        rtol=1e-5,
    )
    assert "ρ²" in grid.hovertemplate and grid.marker.color == "rgba(0,0,0,0)"
    assert grid.marker.maxdisplayed == 1  # hover and clicks use the data; one marker is drawn


def test_region_map_rejects_an_unknown_colouring(region):
    with pytest.raises(ValueError, match="color_by"):
        plots.region_map(region, color_by="accuracy")
    with pytest.raises(ValueError, match="click_points"):
        plots.hover_grid(region, points=1)


def test_round_sig_keeps_three_significant_digits():
    np.testing.assert_allclose(plots.round_sig([0.0012345, 123456.0, 0.0, -2.718]), [0.00123, 123000.0, 0.0, -2.72])


def test_firing_rate_bars_shade_the_spread_across_models():
    fig = plots.firing_rate_bars({"uniform": 0.5, "gaussian": 0.3})
    assert list(fig.data[0].y) == [0.5, 0.3]
    band = fig.layout.shapes[0]
    assert (band.y0, band.y1) == (0.3, 0.5)
    assert len(plots.firing_rate_bars({"gaussian": 0.3}).layout.shapes) == 0


def test_rate_curves_one_line_per_model_and_marks_as_vertical_lines():
    x = np.linspace(0, 1, 5)
    fig = plots.rate_curves(
        x, {"uniform": x, "gaussian": x**2}, x_name="leak", current=0.4, marks={"condition I": 0.2, "missing": None}
    )
    assert [t.name for t in fig.data] == ["uniform", "gaussian"]
    assert [s.x0 for s in fig.layout.shapes] == [0.4, 0.2]
    assert fig.layout.xaxis.title.text == plots.axis_title("leak")


def test_voltage_distributions_histogram_only_with_samples():
    v = np.linspace(-1, 1, 11)
    dens = {"gaussian": np.exp(-(v**2))}
    without = plots.voltage_distributions(v, dens, threshold=0.1)
    assert [type(t) for t in without.data] == [go.Scatter]
    with_samples = plots.voltage_distributions(v, dens, threshold=0.1, samples=np.zeros(50))
    assert isinstance(with_samples.data[0], go.Histogram) and len(with_samples.data[0].x) == 50
    assert with_samples.layout.shapes[0].x0 == 0.1


def test_surrogate_figures():
    v = np.linspace(-2, 2, 9)
    fig = plots.surrogate_curves(v, {"a": v**2, "b": -v}, highlight="b")
    assert fig.data[1].line.width > fig.data[0].line.width
    step = plots.step_and_primitive(v, np.tanh(v), shape="a")
    assert list(step.data[0].y) == list((v > 0).astype(float))
    moments = plots.surrogate_moments({"a": (0.5, 0.25), "b": (0.2, 0.04)}, highlight="a")
    assert [list(t.y) for t in moments.data] == [[0.5, 0.2], [0.25, 0.04]]
    assert moments.layout.yaxis.type == "linear" and moments.layout.yaxis.rangemode == "tozero"


def test_smooth_is_a_bias_corrected_moving_average():
    y = np.array([1.0, 3.0, 3.0, 3.0])
    np.testing.assert_array_equal(plots.smooth(y, 0.0), y)
    out = plots.smooth(y, 0.5)
    assert out[0] == 1.0  # no pull toward zero at the start
    assert out[1] == pytest.approx((0.5 * 1 * 0.5 + 0.5 * 3) / 0.75)
    np.testing.assert_allclose(plots.smooth(np.full(6, 2.0), 0.9), 2.0)
    with pytest.raises(ValueError, match="smoothing"):
        plots.smooth(y, 1.0)


def test_metric_curves_and_gradient_flow():
    fig = plots.metric_curves({"run": ([0, 1, 2], [1.0, 3.0, 3.0])}, y_label="loss", smoothing=0.5, log_y=True)
    np.testing.assert_allclose(fig.data[0].y, plots.smooth([1.0, 3.0, 3.0], 0.5))
    assert fig.layout.yaxis.type == "log"
    flow = plots.gradient_flow({"initial": ([0, 1], [1.0, 0.5])})
    assert flow.layout.yaxis.type == "log" and list(flow.data[0].y) == [1.0, 0.5]


def test_sweep_map_marks_pending_cells_and_draws_the_predicted_band(region):
    z = np.array([[0.5, np.nan], [0.9, 0.7]])
    fig = plots.sweep_map(
        [1.0, 2.0],
        [0.5, 1.0],
        z,
        x_name="sharpness",
        y_name="dampening",
        metric="final accuracy",
        boundary=region,
        log_x=True,
        log_y=True,
    )
    band, pending, measured = fig.data
    # the band is filled and drawn first: the cells (and their numbers) lie over it, never under a line
    assert isinstance(band, go.Contour) and band.name.startswith("predicted stable band")
    assert band.contours.type == "constraint" and band.fillcolor
    assert pending.name == "pending" and np.asarray(pending.text)[0, 1].startswith("pending")
    assert pending.colorscale[0][1] != "#ffffff" and measured.xgap >= 6
    # every cell names the regime the theory predicts there, pending or not
    for i, j in ((0, 0), (0, 1), (1, 1)):
        cell = np.asarray(measured.text if not np.isnan(z[i, j]) else pending.text)[i, j]
        assert "pred. " in cell
    assert np.asarray(measured.text)[0, 0].startswith("0.5")
    assert len(plots.sweep_map([1.0], [1.0], [[0.5]], x_name="lr", y_name="batch", metric="m").data) == 2


def test_teaching_figures():
    t = np.arange(5)
    spikes = np.array([0, 1, 0, 0, 1])
    fig = plots.membrane_trace(t, np.linspace(0, 1, 5), spikes, threshold=0.8)
    marks = _by_name(fig, "spike z_t = 1")
    assert list(marks.x) == [1, 4]
    assert fig.layout.shapes[0].y0 == 0.8
    spikes = np.zeros((5, 3))
    spikes[2, 1] = 1
    raster = plots.spike_raster(spikes)
    z = np.asarray(raster.data[0].z)
    assert z.shape == (3, 5) and z[1, 2] == 1 and z.sum() == 1  # neuron 1 spikes at t = 2


def test_figures_skip_plotlys_default_template():
    # The dashboard's theme styles figures; the default template would cost milliseconds per figure.
    fig = plots.firing_rate_bars({"a": 0.1})
    assert fig.layout.template.layout.hovermode == "closest"
    assert not fig.layout.template.data.scatter


def test_sweep_map_ticks_sit_on_the_swept_values():
    fig = plots.sweep_map(
        [0.3, 1.0],
        [0.1, 3.0],
        [[0.2, 0.3], [0.4, 0.5]],
        x_name="sharpness",
        y_name="dampening",
        metric="final accuracy",
        log_x=True,
        log_y=True,
    )
    assert list(fig.layout.xaxis.tickvals) == [0.3, 1.0] and list(fig.layout.xaxis.ticktext) == ["0.3", "1"]
    assert list(fig.layout.yaxis.ticktext) == ["0.1", "3"] and fig.layout.yaxis.type == "log"


@pytest.mark.parametrize("color_by,tol", [("log10_gain", 1.0), ("log10_gain", 0.5), ("rho2", 1.0)])
def test_the_colour_table_colours_like_the_field(color_by, tol):
    # The browser preview colours a cell with the table entry nearest its colour_t (as live_map.js
    # computes it); that must be the server's colour within one level per channel, or the map would
    # flicker when the rerun lands.
    zlim, knee = plots.colour_scale(color_by, tol)
    lut = plots.colour_lut()
    assert lut.shape == (1024, 4) and lut.dtype == np.uint8
    z = np.concatenate(
        [
            np.random.default_rng(0).uniform(-2 * zlim, 2 * zlim, 5000),
            np.random.default_rng(1).uniform(-3 * knee, 3 * knee, 5000),
            [-zlim, 0.0, zlim, -1e4, 1e4],
        ]
    )
    t = 0.5 + np.arcsinh(np.clip(z, -zlim, zlim) / knee) / (2 * np.arcsinh(zlim / knee))  # live_map.js's formula
    index = np.rint(t * (len(lut) - 1)).astype(int)
    assert np.abs(lut[index].astype(int) - plots.colour_field(z, zlim, knee).astype(int)).max() <= 1
    assert plots.colour_field(np.array([np.nan]), zlim, knee)[0, 3] == 0  # undefined cells stay clear
    assert plots.colour_scale("rho2", 3.0) == (3.0, 0.05) and plots.colour_scale("log10_gain", 0.5) == (50.0, 0.5)
    with pytest.raises(ValueError, match="color_by"):
        plots.colour_scale("bogus", 1.0)


def _fonts(node, path=""):
    """Every font size set anywhere in a figure's dict, with where it is."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("font", "textfont", "tickfont") and isinstance(v, dict) and "size" in v:
                yield f"{path}.{k}", v["size"]
            yield from _fonts(v, f"{path}.{k}")
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _fonts(v, f"{path}[{i}]")


def test_every_figure_reads_at_projector_size(region):
    # ≥ 16 px everywhere: the layout's base font (ticks, legends, colour bars and notes inherit it) and
    # every font set explicitly
    x = np.linspace(0, 1, 5)
    figs = {
        "region": plots.region_map(region, runs=[{"x": 1.0, "y": 1.0, "outcome": "stable"}]),
        "rates": plots.rate_curves(x, {"gaussian": x}, x_name="leak", current=0.5, marks={"I": 0.3}),
        "bars": plots.firing_rate_bars({"uniform": 0.3, "gaussian": 0.4}),
        "moments": plots.surrogate_moments({"a": (0.5, 0.25)}),
        "curves": plots.metric_curves({"r": ([0, 1], [1.0, 2.0])}, y_label="loss"),
        "flow": plots.gradient_flow({"r": ([0, 1], [1.0, 2.0])}),
        "sweep": plots.sweep_map(
            [1.0, 2.0],
            [0.5, 1.0],
            [[0.5, np.nan], [0.9, 0.7]],
            x_name="sharpness",
            y_name="dampening",
            metric="m",
            boundary=region,
            log_x=True,
            log_y=True,
        ),
        "evidence": plots.evidence_curves({"a": ([1, 2], [50, 60], [1, 2])}, x_name="dampening", marks={"γ_III": 1.5}),
    }
    for name, fig in figs.items():
        d = fig.to_dict()
        assert d["layout"]["font"]["size"] >= 16, name
        small = [(where, size) for where, size in _fonts(d) if size < 16]
        assert not small, (name, small)


def test_a_region_map_without_its_click_grid_leaves_clicks_to_the_page(region):
    fig = plots.region_map(region, click_points=None)
    assert "cells" not in [t.name for t in fig.data] and fig.layout.clickmode == "none"
    assert "cells" in [t.name for t in plots.region_map(region).data]


def test_the_measured_layer_draws_its_boundary_over_and_its_field_under_the_map(region):
    rho = np.array([[0.5, 1.0, 1.2], [0.0, 0.99, 1.05]])
    m = {
        "x": np.array([0.1, 1.0, 10.0]),
        "y": np.array([0.5, 2.0]),
        "log_x": True,
        "rho_hat": rho,
        "measured_log10_gain": np.where(rho > 0, 100 * np.log10(np.where(rho > 0, rho, 1)), -np.inf),
        "tolerance": 1.0,
    }
    under, over = plots.measured_layer_specs(m, log_y=True)
    assert under == [] and [t["name"] for t in over] == [plots.MEASURED_BOUNDARY]
    line = over[0]
    assert line["contours"]["start"] == -1.0 and line["contours"]["end"] == 1.0 and line["showlegend"]
    assert line["x"] == pytest.approx([-1.0, 0.0, 1.0]) and line["y"] == pytest.approx(np.log10([0.5, 2.0]))
    assert line["z"][1][0] == -plots.FIELD_LIMIT  # ρ̂ = 0: clipped, not -inf
    under, over = plots.measured_layer_specs(m, log_y=True, color_by="rho2", show_field=True)
    heat = under[0]
    assert heat["name"] == plots.MEASURED_FIELD and heat["zmin"] == -1.0 and heat["zmax"] == 1.0
    # log10 ρ̂², on the colour coordinate the ρ² field is painted in
    assert heat["z"][0][0] == pytest.approx(
        2 * plots.colour_t(2 * np.log10(0.5), *plots.colour_scale("rho2", 1)) - 1, rel=1e-6
    )
    spec = plots.region_map_spec(region, click_points=None)
    go.Figure({"data": [spec["data"][0], *under, *spec["data"][1:], *over], "layout": spec["layout"]})  # valid


# ---------------------------------------------------------------------------------------------
# A user's own network (stabviz.check's report)

CHECK_LAYER = {"name": "1", "n": 10, "dead_fraction": 0.3, "rate_histogram": [5, 1, 0, 0, 0, 0, 0, 0, 0, 4]}


def test_check_gain_puts_each_layers_theory_band_beside_the_measured_gain():
    predicted = [
        {"layer": "1", "over_T": -2.0, "band_over_T": [-5.0, 1.0]},
        {"layer": "3", "why": "conv input"},
    ]  # no prediction: left out
    gain = {"over_T": -1.5, "over_T_interval": [-1.6, -1.4]}
    fig = plots.check_gain([{"name": "1"}, {"name": "3"}], predicted, gain, tolerance=1.0)
    theory_trace = fig.data[0]
    assert list(theory_trace.x) == ["1"] and list(theory_trace.y) == [-2.0]
    assert list(theory_trace.error_y.arrayminus) == [3.0] and list(theory_trace.error_y.array) == [3.0]
    rects = [(s.y0, s.y1) for s in fig.layout.shapes if s.type == "rect"]
    assert (-1.0, 1.0) in rects and (-1.6, -1.4) in rects  # the stable band, the measured interval
    assert any(s.type == "line" and s.y0 == -1.5 for s in fig.layout.shapes)
    lo, hi = fig.layout.yaxis.range
    assert lo <= -5.0 and hi >= 1.0


def test_check_rate_histogram_marks_dead_and_saturated_neurons():
    fig = plots.check_rate_histogram(CHECK_LAYER)
    parts = {t.name: list(t.y) for t in fig.data}
    assert parts["dead (never fire)"][0] == 3 and sum(parts["dead (never fire)"]) == 3
    assert parts["saturated (rate ≥ 0.9)"][-1] == 4 and sum(parts["saturated (rate ≥ 0.9)"]) == 4
    assert parts["firing"][:2] == [2, 1]
    assert sum(sum(y) for y in parts.values()) == CHECK_LAYER["n"]  # every neuron once
    assert fig.layout.barmode == "stack"
