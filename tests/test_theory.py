"""Conditions I-IV, voltage models, predictions and region grids against their definitions and quadrature."""

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, stats

from stabviz import surrogates, theory
from stabviz.config import LIFConfig, preset

RESETS = ("subtract", "mult1", "mult2")


def _gauss_quad_moment(m, cfg, mean, std):
    """E[σ'(y − θ)^m], y ~ N(mean, std²), by adaptive quadrature (the referee), split at the kink and mean."""
    f = lambda y: surrogates.sg_prime(y - cfg.threshold, cfg.surrogate) ** m * stats.norm.pdf(y, mean, std)
    a, b = sorted((cfg.threshold, mean))
    parts = [(-np.inf, a), (a, b), (b, np.inf)]
    return sum(integrate.quad(f, lo, hi, limit=1000, epsabs=0, epsrel=1e-13)[0] for lo, hi in parts)


@pytest.mark.parametrize("reset", RESETS)
def test_condition_i_and_ii_put_the_gaussian_model_at_half_rate(reset):
    cfg = preset("shd-tau20", reset=reset, init_rec="conditions", bias=0.003)
    v = theory.gaussian_voltage(cfg)
    assert v.firing_rate == pytest.approx(0.5, abs=1e-9)
    assert v.mean == pytest.approx(cfg.threshold, rel=1e-9)
    # condition II: the recurrent current is as variable as the input current at p = 1/2
    law = theory.recurrent_law(cfg)
    _, v_in = theory.input_drive(cfg)
    v_rec = (cfg.n_rec - 1) * (law.std**2 * 0.5 + law.mean**2 * 0.25)
    assert v_rec == pytest.approx(v_in, rel=1e-12)


def test_code_formula_variants_differ_where_theory_says():
    cfg = preset("paper-shd", reset="mult1", init_rec="conditions")
    code = cfg.replace(formula="code")
    assert theory.condition_i(code) == pytest.approx(2 * (1 - cfg.leak) * cfg.threshold / (cfg.n_rec - 1))
    assert theory.condition_i(cfg) != pytest.approx(theory.condition_i(code))
    mu = 0.0
    d2, c2 = theory.condition_ii(cfg, mu), theory.condition_ii(code, mu)
    assert d2 == pytest.approx(2 * c2)


def test_condition_ii_unattainable_is_reported_not_nan():
    cfg = LIFConfig(n_in=1, n_rec=64, input_mean=1e-4, input_var=1e-4, threshold=5.0, init_rec="conditions")
    rec = theory.recommend(cfg.replace(init_rec="glorot-uniform"))
    assert rec.recurrent_var is None
    assert any("condition II is unattainable" in n for n in rec.notes)
    with pytest.raises(ValueError, match="condition II"):
        theory.recurrent_law(cfg)


@pytest.mark.parametrize("reset", RESETS)
def test_worst_case_gain_is_one_at_gamma_iii(reset):
    cfg = preset("shd-tau20", reset=reset)
    g3 = theory.recommend(cfg).dampening
    assert theory.predict(cfg.replace(dampening=g3)).max_gain == pytest.approx(1.0, rel=1e-12)


def test_glorot_uniform_gamma_iii_matches_the_closed_approximation():
    for n in (64, 256, 1024):
        cfg = LIFConfig(n_rec=n, leak=0.9, threshold=1e-6)
        approx = 4 * (1 - cfg.leak) / math.sqrt(3 * n)
        assert theory.condition_iii(cfg) == pytest.approx(approx, rel=2.0 / n)


def _dampening_for_rho2_one(cfg):
    """The γ at which ρ² = 1 at cfg's own sharpness and tail (the γ_IV curve), from the scalar prediction."""
    p = theory.predict(cfg.replace(dampening=1.0))
    A, C, D = theory.gain_coefficients(cfg, p.firing_rate)
    return float(theory.gamma_iv(A, C, D, p.moment1, p.moment2))


@pytest.mark.parametrize("model", ["gaussian", "uniform"])
@pytest.mark.parametrize(
    "reset,reset_grad", [("subtract", False), ("subtract", True), ("mult1", False), ("mult2", False)]
)
def test_sharpness_star_inverts_gamma_iv(model, reset, reset_grad):
    cfg = preset("shd-tau20", reset=reset, reset_grad=reset_grad, voltage_model=model, sharpness=1.7)
    cfg = cfg.replace(dampening=_dampening_for_rho2_one(cfg))
    assert theory.predict(cfg).rho2 == pytest.approx(1.0, abs=1e-9)
    rec = theory.recommend(cfg)
    assert rec.sharpness == pytest.approx(1.7, rel=1e-7)
    assert theory.predict(cfg.replace(sharpness=rec.sharpness)).rho2 == pytest.approx(1.0, abs=1e-9)


def test_tail_star_inverts_gamma_iv_for_qpseudospike():
    cfg = preset("shd-tau20", shape="qpseudospike", sharpness=0.5, tail=3.0)
    cfg = cfg.replace(dampening=_dampening_for_rho2_one(cfg))
    q = theory.recommend(cfg).tail
    assert q == pytest.approx(3.0, rel=1e-7)
    assert theory.recommend(cfg.replace(shape="fastsigmoid")).tail is None


def test_unattainable_sharpness_says_which_way_to_move():
    low = theory.recommend(preset("shd-tau20", dampening=1e-4))
    assert low.sharpness is None and any("raise the dampening" in n for n in low.notes)
    high = theory.recommend(preset("shd-tau20", dampening=900.0))
    assert high.sharpness is None and any("lower the dampening" in n for n in high.notes)


def test_prediction_matches_its_definition_under_quadrature():
    cfg = preset("shd-tau20", dampening=0.7, sharpness=2.0)
    p = theory.predict(cfg)
    e2 = _gauss_quad_moment(2, cfg, p.voltage_mean, p.voltage_std)
    assert p.moment2 == pytest.approx(e2, rel=1e-6)
    law = theory.recurrent_law(cfg)
    rho2 = cfg.leak**2 + (cfg.n_rec - 1) * (law.std**2 + law.mean**2) * e2
    assert p.rho2 == pytest.approx(rho2, rel=1e-6)
    assert p.log10_gain == pytest.approx(cfg.steps * math.log10(math.sqrt(rho2)), rel=1e-6)


def test_uniform_model_underestimates_sigma_prime_squared_with_the_paper_defaults():
    cfg = preset("paper-slmnist")
    u, g = theory.predict(cfg, "uniform"), theory.predict(cfg, "gaussian")
    assert (
        u.voltage_std > 10 * g.voltage_std
    )  # docs/theory.md#84-the-uniform-model-with-the-reference-codes-leak: range ±21 vs spread ~0.7
    assert g.moment2 / u.moment2 > 10
    assert 0.3 < g.voltage_std * math.sqrt(1) < 1.2


def test_regime_and_firing_labels():
    assert theory.firing_label(0.0) == "silent" and theory.firing_label(0.05) == "sparse"
    assert theory.firing_label(0.5) == "dense" and theory.firing_label(0.95) == "saturated"
    codes = theory.regime_of(np.array([-3.0, -0.5, 0.0, 0.99, 2.0, np.nan]), 1.0)
    assert codes.tolist() == [-1, 0, 0, 0, 1, -2]
    cfg = preset("shd-tau20")
    assert theory.predict(cfg.replace(dampening=1e-3)).point_regime == "vanishing"
    assert theory.predict(cfg.replace(dampening=50.0)).point_regime == "exploding"
    # the calibrated label calls a regime only when the whole band lies in it
    assert theory.predict(preset("paper-shd")).regime == "vanishing"  # 10^-40 and below
    assert theory.predict(cfg.replace(dampening=50.0)).regime == "exploding"
    near = theory.predict(cfg)  # ρ ≈ 1 at T = 100
    lo, hi = near.log10_gain_band
    assert lo < -1 < 1 < hi and near.regime == "uncertain" and near.point_regime == "stable"


@pytest.mark.parametrize(
    "x,y", [("sharpness", "dampening"), ("tail", "dampening"), ("leak", "dampening"), ("sharpness", "leak")]
)
@pytest.mark.parametrize("model", ["gaussian", "uniform"])
def test_region_cells_equal_the_scalar_prediction(x, y, model):
    cfg = preset("shd-tau20", shape="qpseudospike", voltage_model=model)
    reg = theory.region(cfg, x, y, nx=23, ny=17)
    assert reg.rho2.shape == (17, 23) and reg.regime.dtype == np.int8
    rng = np.random.default_rng(0)
    for _ in range(6):
        i, j = rng.integers(17), rng.integers(23)
        p = theory.predict(cfg.replace(**{x: float(reg.x[j]), y: float(reg.y[i])}))
        assert reg.rho2[i, j] == pytest.approx(p.rho2, rel=1e-9)
        assert reg.max_gain[i, j] == pytest.approx(p.max_gain, rel=1e-9)
        assert reg.firing_rate[i, j] == pytest.approx(p.firing_rate, abs=1e-9)
        assert theory.REGIMES[reg.regime[i, j] + 1] == p.point_regime


def test_region_curves_lie_on_their_conditions():
    cfg = preset("shd-tau20")
    reg = theory.region(cfg, "sharpness", "dampening", nx=31, ny=5)
    xs, g4 = reg.curves["gamma_IV"]
    for b, g in list(zip(xs, g4))[::6]:
        assert theory.predict(cfg.replace(sharpness=float(b), dampening=float(g))).rho2 == pytest.approx(1, abs=1e-9)
    _, g3 = reg.curves["gamma_III"]
    assert np.allclose(g3, theory.condition_iii(cfg))
    # Glorot weights: at γ_III no sharpness reaches ρ² = 1 (the reference code returns its search bound)
    assert reg.optimum is None and any("optimum" in n for n in reg.notes)
    inhibitory = cfg.replace(init_rec="normal", rec_mean=-0.02, rec_std=0.01)
    g3 = theory.recommend(inhibitory).dampening
    beta_at_g3 = theory.recommend(inhibitory.replace(dampening=g3)).sharpness
    reg = theory.region(inhibitory, "sharpness", "dampening", nx=5, ny=5)
    assert reg.optimum == pytest.approx((beta_at_g3, g3))
    leak_reg = theory.region(cfg, "leak", "dampening", nx=11, ny=5)
    lx, lg3 = leak_reg.curves["gamma_III"]
    assert lg3[0] > lg3[-1]  # more leak memory, less dampening allowed


def test_region_grid_agrees_with_quadrature():
    cfg = preset("shd-tau20", shape="fastsigmoid")
    reg = theory.region(cfg, "sharpness", "dampening", nx=7, ny=3, x_range=(1e-3, 1e3))
    v = theory.gaussian_voltage(cfg)
    law = theory.recurrent_law(cfg)
    C = (cfg.n_rec - 1) * (law.std**2 + law.mean**2)
    for j, beta in enumerate(reg.x):
        e2 = _gauss_quad_moment(2, cfg.replace(sharpness=float(beta), dampening=1.0), v.mean, v.std)
        for i, g in enumerate(reg.y):
            assert reg.rho2[i, j] == pytest.approx(cfg.leak**2 + C * g * g * e2, rel=1e-6)


def test_region_exports_and_errors():
    reg = theory.region(preset("paper-shd"), nx=4, ny=3)
    csv = reg.to_csv().strip().splitlines()
    assert csv[0].startswith("sharpness,dampening,rho2") and len(csv) == 13
    d = reg.to_dict()
    assert len(d["rho2"]) == 3 and len(d["rho2"][0]) == 4
    with pytest.raises(ValueError, match="axis"):
        theory.region(preset("paper-shd"), "bogus", "dampening")
    with pytest.raises(ValueError, match="differ"):
        theory.region(preset("paper-shd"), "leak", "leak")
    with pytest.raises(ValueError, match="log axis"):
        theory.region(preset("paper-shd"), "leak", "dampening", x_range=(0.0, 0.9), log_x=True)


def test_rate_curves_and_densities():
    cfg = preset("shd-tau20")
    leaks = np.linspace(0, 0.99, 9)
    rc = theory.rate_curve(cfg, "leak", leaks)
    assert set(rc) == {"uniform", "gaussian"} and rc["gaussian"].shape == (9,)
    for a, r in zip(leaks[::4], rc["gaussian"][::4]):
        assert theory.predict(cfg.replace(leak=float(a))).firing_rate == pytest.approx(r, abs=1e-9)
    means = np.linspace(-0.01, 0.01, 5)
    rm = theory.rate_curve(cfg, "rec_mean", means)
    assert np.all(np.diff(rm["gaussian"]) > 0)  # more excitation, more firing
    sd = theory.gaussian_voltage(cfg).std
    v = np.linspace(-12 * sd, 12 * sd, 4001)
    dens = theory.voltage_density(cfg, v)
    assert np.trapezoid(dens["gaussian"], v) == pytest.approx(1, abs=1e-3)


def test_theory_does_not_import_torch():
    code = (
        "import sys; from stabviz import theory, config; "
        "theory.region(config.preset('paper-shd'), nx=10, ny=10); theory.recommend(config.preset('paper-shd'));"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


MAP_SLICE_SETTINGS = [
    preset("shd-tau20"),
    preset("shd-tau20", shape="qpseudospike", reset_grad=True),  # D ≠ 0: ρ² has a term in γ
    preset("shd-tau20", init_rec="conditions", reset="mult1", shape="gaussian"),
]


@pytest.mark.parametrize("cfg", MAP_SLICE_SETTINGS, ids=["fastsigmoid", "qps-resetgrad", "conditions-mult1"])
@pytest.mark.parametrize(
    "x,along",
    [
        ("sharpness", "leak"),
        ("sharpness", "tail"),
        ("tail", "sharpness"),
        ("tail", "leak"),
        ("leak", "sharpness"),
        ("leak", "tail"),
    ],
)
def test_map_slices_redraw_the_region_at_each_value(cfg, x, along):
    # The browser preview redraws a map from these rows: each must be the map region() draws there.
    cfg = cfg.replace(shape="qpseudospike") if x == "tail" else cfg
    values = {"leak": [0.0, 0.9, 0.99], "sharpness": [0.05, 1.0, 30.0], "tail": [1.05, 2.0, 40.0]}[along]
    s = theory.map_slices(cfg, x, along, values)
    assert all(a.shape == (3, 200) for a in s.values())
    for i, v in enumerate(values):
        r = theory.region(cfg.replace(**{along: v}), x, "dampening")
        g = r.y[:, None]
        pairs = [
            (s["a0"][i] + s["a1"][i] * g + s["a2"][i] * g * g, r.rho2),
            (s["leak"][i] + g * s["worst"][i], r.max_gain),
            (np.broadcast_to(s["firing"][i], r.firing_rate.shape), r.firing_rate),
            (s["gamma_III"][i], r.curves["gamma_III"][1]),
            (s["gamma_IV"][i], r.curves["gamma_IV"][1]),
        ]
        for got, want in pairs:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, equal_nan=True)


def test_map_slices_refuses_an_axis_as_the_third_parameter():
    with pytest.raises(ValueError, match="third parameter"):
        theory.map_slices(LIFConfig(), "sharpness", "sharpness", [1.0])
    with pytest.raises(ValueError, match="third parameter"):
        theory.map_slices(LIFConfig(), "sharpness", "dampening", [1.0])
    with pytest.raises(ValueError, match="not one of"):
        theory.map_slices(LIFConfig(), "sharpness", "n_rec", [1.0])


def test_region_axis_ranges_lie_inside_the_parameter_ranges():
    # issue 9: the grid functions check axis names, sizes, ranges and values against config.RANGES
    cfg = preset("shd-tau20")
    with pytest.raises(ValueError, match=r"leak = 50 is outside the allowed range \[0, 0.9999\]"):
        theory.region(cfg, x="leak", x_range=(0, 50), nx=3, ny=3)
    with pytest.raises(ValueError, match=r"dampening = -1 is outside the allowed range \(0, 1000\]"):
        theory.region(cfg, y_range=(-1, 2), nx=3, ny=3)
    with pytest.raises(ValueError, match=r"dampening = 0 is outside"):
        theory.region(cfg, y_range=(0, 2), log_y=False, nx=3, ny=3)
    with pytest.raises(ValueError, match=r"tail = 1.0 is outside the allowed range \[1.001, 10000\]"):
        theory.region(cfg, x="tail", x_range=(1.0, 3.0), nx=3, ny=3)
    with pytest.raises(ValueError, match="sharpness = '0.1' is text, not a number"):
        theory.region(cfg, x_range=("0.1", "1"), nx=3, ny=3)
    with pytest.raises(ValueError, match="must be a pair"):
        theory.region(cfg, x_range=(0.1,), nx=3, ny=3)
    with pytest.raises(ValueError, match="grid size = True is a boolean"):
        theory.region(cfg, nx=True, ny=3)
    with pytest.raises(ValueError, match="grid size = 2.5 must be a whole number"):
        theory.region(cfg, nx=2.5, ny=3)
    with pytest.raises(ValueError, match="axis = None is not one of"):
        theory.region(cfg, x=None)
    reg = theory.region(cfg, nx=3.0, ny=np.int64(4), x_range=[np.float64(0.5), 2])
    assert reg.rho2.shape == (4, 3) and reg.x[0] == 0.5


def test_slices_and_rate_curves_take_values_inside_the_parameter_ranges():
    cfg = preset("shd-tau20")
    with pytest.raises(ValueError, match="leak = 1.5 is outside"):
        theory.map_slices(cfg, "sharpness", "leak", [0.5, 1.5], nx=3)
    with pytest.raises(ValueError, match="leak = '0.5' is text"):
        theory.map_slices(cfg, "sharpness", "leak", "0.5", nx=3)
    with pytest.raises(ValueError, match="leak values: 0 given"):
        theory.map_slices(cfg, "sharpness", "leak", [], nx=3)
    with pytest.raises(ValueError, match="leak = 5 is outside"):
        theory.rate_curve(cfg, "leak", [0, 5])
    with pytest.raises(ValueError, match="rec_mean = '0' is text"):
        theory.rate_curve(cfg, "rec_mean", ["0"])
    with pytest.raises(ValueError, match="model = 'measured' is not one of"):
        theory.rate_curve(cfg, "leak", [0.5], models=("measured",))
    assert theory.map_slices(cfg, "sharpness", "leak", np.float64(0.5), nx=3)["a0"].shape == (1, 3)
