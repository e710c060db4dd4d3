"""The dashboard's pure helpers: URL state, slider stops, advice, snippets, the teaching simulation,
and the cached/prepared paths that must give exactly what the plain functions give."""

import json
import math

import numpy as np
import plotly.io as pio
import pytest

from stabviz import plots, surrogates, theory
from stabviz.config import PRESETS, SHAPES, LIFConfig, preset
from stabviz.ui import advice, sliders, snippets, teach, urlstate

# ---------------------------------------------------------------------------------------------
# URL state


def test_setting_round_trips_through_the_url_exactly():
    cfg = preset("shd-tau20", shape="qpseudospike", dampening=0.123456789, tail=1.6, reset_grad=True)
    params = urlstate.setting_params(cfg.to_dict())
    assert "n_rec" in params and "tail" in params and "seed" not in params  # defaults left out
    values, warnings = urlstate.read_setting(params)
    assert warnings == [] and LIFConfig(**values) == cfg


def test_defaults_give_an_empty_link():
    assert urlstate.setting_params(LIFConfig().to_dict()) == {}


@pytest.mark.parametrize(
    "field,raw,why",
    [
        ("shape", "banana", "not one of"),
        ("dampening", "nan", "outside the allowed range"),
        ("n_rec", "-5", "outside the allowed range"),
        ("n_rec", "1e12", "outside the allowed range"),
        ("leak", "abc", "not a number"),
        ("steps", "2.5", "whole number"),
        ("reset_grad", "maybe", "true or false"),
        ("sharpness", "inf", "outside the allowed range"),
    ],
)
def test_garbage_in_the_url_falls_back_to_the_default_with_a_reason(field, raw, why):
    values, warnings = urlstate.read_setting({field: raw, "dampening" if field != "dampening" else "sharpness": "0.5"})
    assert values[field] == urlstate.DEFAULTS[field]
    assert len(warnings) == 1 and field in warnings[0] and why in warnings[0] and "default" in warnings[0]
    assert values["dampening" if field != "dampening" else "sharpness"] == 0.5  # the good field survives


def test_matching_preset_recognises_every_preset_and_nothing_else():
    for name in PRESETS:
        assert urlstate.matching_preset(preset(name).to_dict(), PRESETS) == name
    assert urlstate.matching_preset(preset("shd-tau20", dampening=0.77).to_dict(), PRESETS) is None


# ---------------------------------------------------------------------------------------------
# Slider stops


@pytest.mark.parametrize("name", sliders.SLIDERS)
def test_slider_stops_include_the_current_value_with_distinct_labels(name):
    current = {"dampening": 0.123456, "sharpness": 1.2345, "tail": 1.5678, "leak": math.exp(-1 / 20.04)}[name]
    opts, labels = sliders.stops(name, current)
    assert current in opts and opts == sorted(opts)
    assert len(set(labels.values())) == len(opts)
    assert all(o in labels for o in opts)


def test_leak_labels_show_the_time_constant():
    _, labels = sliders.stops("leak", math.exp(-1 / 20))
    assert labels[math.exp(-1 / 20)] == "0.9512 (τ = 20)"
    assert labels[0.0] == "0 (no memory)"


# ---------------------------------------------------------------------------------------------
# Advice


def _advice(cfg):
    pred = theory.predict(cfg).to_dict()
    rec = theory.recommend(cfg).to_dict()
    return pred, advice.what_to_change(cfg, pred, rec)


def test_advice_says_nothing_to_change_only_when_the_whole_band_is_stable():
    cfg = preset("shd-tau20", steps=5)  # short T: the calibrated band fits in ±1 decade
    pred, text = _advice(cfg)
    lo, hi = pred["log10_gain_band"]
    assert pred["regime"] == "stable" and -1 <= lo <= hi <= 1 and "Nothing to change" in text


def test_advice_names_only_the_recommendations_whole_options():
    cfg = preset("shd-tau20", dampening=3.0)
    pred, text = _advice(cfg)
    rec = theory.recommend(cfg).to_dict()
    g4 = next(o["dampening"] for o in rec["options"] if o["label"] == "keep β, solve γ")
    assert pred["regime"] in ("exploding", "uncertain") and f"lower the dampening to γ_IV = {g4:.3g}" in text
    # at T = 100 its calibrated band spans 19 decades: named as a candidate to measure, never as a fix
    assert "none of them a fix" in text and "Fixes" not in text
    assert theory.predict(cfg.replace(dampening=g4)).rho2 == pytest.approx(1.0, abs=1e-6)


def test_the_rate_sentence_says_which_voltage_model_to_believe_only_when_they_disagree():
    agree = theory.predict_all(preset("shd-tau20"))  # 50.0% vs 48.2%
    assert "disagree" not in advice.rate_sentence({m: p.to_dict() for m, p in agree.items()})
    apart = {"uniform": {"firing_rate": 0.487}, "gaussian": {"firing_rate": 0.056}}  # the researcher's case
    text = advice.rate_sentence(apart)
    assert "5.6% – 48.7%" in text and "Prefer the gaussian one" in text and "measured check" in text


@pytest.mark.parametrize("name", list(PRESETS))
def test_no_two_pieces_of_advice_contradict_each_other(name):
    """Every preset: each move the advice names is an option with ρ² = 1, no knob is moved both ways,
    and the γ_III bound is stated as a bound, never as a move."""
    cfg = preset(name)
    pred, text = _advice(cfg)
    rec = theory.recommend(cfg).to_dict()
    for knob in ("dampening", "surrogate"):
        assert not (f"raise the {knob}" in text and f"lower the {knob}" in text)
    assert not ("sharpen the surrogate" in text and "widen the surrogate" in text)
    assert "γ ≤" not in text and "raise γ" not in text
    for option in rec["options"]:
        assert theory.predict(
            cfg.replace(dampening=option["dampening"], sharpness=option["sharpness"], tail=option["tail"])
        ).rho2 == pytest.approx(1.0, abs=1e-6)
    if pred["regime"] == "vanishing":
        assert "not untrainable" in text


@pytest.mark.parametrize("shape", SHAPES)
def test_pytorch_snippet_runs_and_its_backward_is_the_surrogate(shape):
    torch = pytest.importorskip("torch")
    cfg = LIFConfig(shape=shape, n_rec=16, n_in=8)
    scope: dict = {}
    exec(snippets.pytorch_init(advice.setting_of(advice.AS_SET, cfg)), scope)  # self-contained Python
    assert scope["w_rec"].shape == (16, 16) and torch.all(scope["w_rec"].diagonal() == 0)
    v = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    scope["spike"](v).sum().backward()
    sg = surrogates.Surrogate(shape, scope["gamma"], scope["beta"], scope["q"])
    want = surrogates.sg_prime(v.detach().numpy(), sg)
    np.testing.assert_allclose(v.grad.numpy(), want, rtol=1e-6, atol=1e-12)


def test_library_calls_list_only_the_same_shape():
    text = snippets.library_calls(surrogates.translation_table(surrogates.Surrogate("fastsigmoid")))
    assert "snntorch.surrogate.fast_sigmoid(slope=2)  # exact" in text
    assert 'norse.torch.LIFParameters(method="super", alpha=2)' in text
    assert "atan" not in text  # a different shape is not an equivalent call
    assert snippets.library_calls([]).startswith("# no library")


# ---------------------------------------------------------------------------------------------
# Teaching simulation


def test_neuron_without_leak_fires_every_k_steps_under_constant_drive():
    tr = teach.neuron_trace(leak=0.0, threshold=1.0, drive=0.6, noise=0.0, steps=10, reset="mult2")
    # α = 0: y_t = I_t = 0.6 < θ every step: silent.
    assert tr.rate == 0.0
    tr = teach.neuron_trace(leak=1.0 - 1e-4, threshold=1.0, drive=0.3, noise=0.0, steps=40, reset="subtract")
    # integrate 0.3 per step: first crossing at step 4 (y = 1.2 > 1), subtractive reset keeps the rest.
    assert tr.spikes[:4].tolist() == [0, 0, 0, 1] and tr.rate == pytest.approx(0.3, abs=0.05)


def test_network_raster_shape_and_input_dependence():
    quiet = teach.network_spikes(20, 30, leak=0.5, threshold=0.5, reset="subtract", input_rate=0.0, steps=30)
    busy = teach.network_spikes(20, 30, leak=0.5, threshold=0.05, reset="subtract", input_rate=0.5, steps=30)
    assert quiet.shape == (30, 20) and quiet.sum() == 0 and busy.mean() > 0.05
    with pytest.raises(ValueError, match="input_rate"):
        teach.network_spikes(20, 30, 0.5, 0.5, "subtract", 2.0)


# ---------------------------------------------------------------------------------------------
# Cached and prepared paths equal the plain ones


def test_cached_region_equals_theory_region_after_moving_along_its_axes():
    from stabviz.ui import compute

    for x, y in (("sharpness", "dampening"), ("leak", "dampening"), ("tail", "dampening")):
        cfg = preset("shd-tau20", shape="qpseudospike", dampening=0.3, sharpness=2.0, leak=0.9)
        ours, theirs = compute.region(cfg, x, y, n=40), theory.region(cfg, x, y, nx=40, ny=40)
        assert ours.current == theirs.current and ours.optimum == theirs.optimum and ours.notes == theirs.notes
        np.testing.assert_array_equal(ours.log10_gain, theirs.log10_gain)


def test_prepared_region_figure_serialises_like_the_plain_one():
    from stabviz.ui import compute, figures

    cfg = preset("shd-tau20")
    region = compute.region(cfg, "sharpness", "dampening", n=40)
    prepared = figures.region_chart(region, compute.grid_key(cfg, "sharpness", "dampening"), "log10_gain", [])
    plain = plots.region_map(region, click_points=None)  # the page hovers and clicks by live_map.js
    ours = json.loads(pio.to_json(prepared.to_dict(), validate=False))
    theirs = json.loads(pio.to_json(plain, validate=False))
    assert ours["layout"] == theirs["layout"]
    assert sorted(json.dumps(t, sort_keys=True) for t in ours["data"]) == sorted(
        json.dumps(t, sort_keys=True) for t in theirs["data"]
    )


def _decoded(col):
    import base64

    a = np.frombuffer(base64.b64decode(col["b64"]), np.float32)
    return a.reshape(-1, col["cols"])


@pytest.mark.parametrize(
    "x,shape,moving",
    [
        ("sharpness", "fastsigmoid", ["leak"]),
        ("sharpness", "qpseudospike", ["tail", "leak"]),
        ("tail", "qpseudospike", ["sharpness", "leak"]),
        ("leak", "fastsigmoid", ["sharpness"]),
    ],
)
def test_the_map_preview_ships_the_map_at_nearby_slider_stops(x, shape, moving):
    from stabviz.ui import livemap
    from stabviz.ui.sidebar import SLIDER_LABELS

    cfg = preset("shd-tau20", shape=shape)
    region = theory.region(cfg, x, "dampening")
    d = json.loads(json.dumps(livemap.preview_data(cfg, cfg, x, "log10_gain")))  # as the browser gets it
    assert sorted(d["tables"]) == sorted(moving)  # the tail moves nothing unless the shape has one
    assert d["uirevision"] == plots.region_map(region).layout.uirevision  # how the script finds the map
    for name, s in d["sliders"].items():  # the script reads a slider by its label and thumb text
        opts, labels = sliders.stops(name, getattr(cfg, name))
        assert s["label"] == SLIDER_LABELS[name] and s["values"] == opts and s["labels"] == [labels[v] for v in opts]
    for p, table in d["tables"].items():
        stops, opts = table["values"], sliders.stops(p, getattr(cfg, p))[0]
        j = opts.index(getattr(cfg, p))  # WINDOW stops each side of the current one
        assert stops == opts[max(0, j - livemap.WINDOW) : j + livemap.WINDOW + 1]
        i = stops.index(getattr(cfg, p))
        rows = {k: _decoded(c) for k, c in table["rows"].items()}
        g = np.asarray(d["gamma"])[:, None]
        rho2 = rows["a0"][i] + rows["a1"][i] * g + rows["a2"][i] * g * g  # the current stop: the map itself
        np.testing.assert_allclose(rho2, region.rho2, rtol=2e-6)
        far = cfg.replace(**{p: stops[-1]})
        far_region = theory.region(far, x, "dampening")
        rho2 = rows["a0"][-1] + rows["a1"][-1] * g + rows["a2"][-1] * g * g  # the last stop: the map there
        np.testing.assert_allclose(rho2, far_region.rho2, rtol=2e-6)
    assert d["x"] == region.x.tolist() and d["gamma"] == region.y.tolist()
    assert (d["zlim"], d["knee"]) == plots.colour_scale("log10_gain", cfg.tolerance)
