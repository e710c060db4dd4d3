"""Voltage models, predictions, recommendations and region grids (docs/theory.md#3-conditions-i-to-iv and
docs/theory.md#4-the-voltage-models).

numpy/scipy only: importing this module never imports torch (the ``measured`` voltage model imports
:mod:`stabviz.simulate` lazily, only when asked for, or by ``predict_shown`` for a multiplicative reset).

Everything here is written to broadcast: the leak α, the recurrent mean and the surrogate parameters
may be numpy arrays, so a whole region map is one pass of closed forms (no loop per cell).
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy import special  # not scipy.optimize: ~140 ms of start-up for one scalar root (see _root)

from stabviz import calibration, surrogates

# conditions I-IV live one layer down (weights.py samples their recurrent law)
from stabviz.conditions import (
    condition_i,
    condition_ii,
    condition_iii,
    drive_sums,
    gain_coefficients,
    gamma_iv,
    recurrent_law,
    rho2_along,
    sharpness_star,
    tail_star,
    variant_condition_iii,
    worst_gain_factor,
    worst_threshold,
)
from stabviz.config import (  # cache keys
    DISPLAY_FIELDS,
    RANGES,
    SURROGATE_FIELDS,
    Keyed,
    LIFConfig,
    Surrogate,
    WeightLaw,
    check_choice,
    check_flag,
    check_number,
    check_values,
    fields_except,
    show,
    tau_to_leak,
)
from stabviz.jsonsafe import finite_or_none
from stabviz.laws import input_drive, input_law  # noqa: F401  (theory.input_law: the tests' and UI's name)

REGIMES = ("vanishing", "stable", "exploding")
#: the calibrated label of a prediction: a regime, or "uncertain" where the band crosses a regime edge
VERDICTS = REGIMES + ("uncertain",)
REGIME_CODES = {"vanishing": -1, "stable": 0, "exploding": 1, "undefined": -2}
REGIME_NAMES = {code: name for name, code in REGIME_CODES.items()}
FIRING_LABELS = ("silent", "sparse", "dense", "saturated")
#: firing-rate bounds between the labels above: silent < 1% <= sparse < 20% <= dense < 90% <= saturated
FIRING_BOUNDS = (0.01, 0.2, 0.9)

#: region axes: name -> (default low, default high, log axis by default). The defaults span the dashboard's
#: sliders (stabviz/ui/sliders.py), so the current setting's marker stays on the map at either end. A log
#: leak axis is spaced in log τ (τ = −1/ln α, from 0.1 to 5000 steps), not in α: linear in α, every
#: τ ≥ 10 crowds into the last 10% of the axis.
AXES: dict[str, tuple[float, float, bool]] = {
    "dampening": (1e-3, 100.0, True),
    "sharpness": (0.01, 1000.0, True),
    "tail": (1.01, 100.0, True),
    "leak": (tau_to_leak(0.1), tau_to_leak(5000.0), True),
}


def _multiplicative(cfg: LIFConfig) -> bool:
    return cfg.reset in ("mult1", "mult2")


# ---------------------------------------------------------------------------------------------
# Voltage models (docs/theory.md#4-the-voltage-models)


@dataclass
class VoltageState:
    """What a voltage model says about y: firing rate p, mean and std of y, and how to take E[σ'^m].

    Arrays broadcast (one entry per leak value of a region map, for instance).
    """

    model: str
    firing_rate: Any
    mean: Any
    std: Any
    threshold: float
    low: Any = None  # uniform: y_min
    high: Any = None  # uniform: y_max
    samples: Any = None  # measured: voltage samples (1-D)
    measurement: Any = None  # measured: the simulate.Measurement

    def moments(self, sg: Surrogate) -> tuple[Any, Any]:
        """(E[σ'(y − θ)], E[σ'(y − θ)²]) under this model; broadcasts over the state and the record's
        array fields."""
        if self.model == "uniform":
            a, c = self.low - self.threshold, self.high - self.threshold
            degenerate = np.asarray(c - a) <= 0
            if np.any(degenerate):  # zero weights: y is one value, the mean
                c = np.where(degenerate, a + 1e-12, c)
            return tuple(surrogates.uniform_moment(m, sg, a, c) for m in (1, 2))
        if self.model == "gaussian":
            return surrogates.gaussian_moments(sg, self.mean - self.threshold, self.std)
        v = np.asarray(self.samples, float) - self.threshold
        v = v.reshape((1,) * np.ndim(np.broadcast(sg.dampening, sg.sharpness, sg.tail)) + (-1,))
        per_sample = sg.replace(**{f: np.expand_dims(getattr(sg, f), -1) for f in SURROGATE_FIELDS[1:]})
        sp = surrogates.sg_prime(v, per_sample)
        return sp.mean(-1), np.square(sp).mean(-1)


def uniform_voltage(cfg: LIFConfig, leak: Any = None, rec: WeightLaw | None = None) -> VoltageState:
    """The paper's model: y ~ U[y_min, y_max] over the extreme voltages the weights allow."""
    a = cfg.leak if leak is None else np.asarray(leak, float)
    s = drive_sums(cfg, a, rec)
    reset_floor = 0.0 if _multiplicative(cfg) else cfg.threshold
    hi = (s["S+"] + s["S+in"] + max(cfg.bias, 0.0)) / (1 - a)
    lo = (s["S-"] + s["S-in"] + min(cfg.bias, 0.0) - reset_floor) / (1 - a)
    width = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(width > 0, (hi - cfg.threshold) / width, (hi > cfg.threshold) * 1.0)
    return VoltageState(
        "uniform", np.clip(p, 0.0, 1.0), (hi + lo) / 2, width / np.sqrt(12.0), cfg.threshold, low=lo, high=hi
    )


def _gaussian_moments_of_y(cfg: LIFConfig, p: Any, a: Any, rec: WeightLaw) -> tuple[Any, Any]:
    """Mean-field μ_y and s_y of the stationary voltage at firing rate p
    (docs/theory.md#42-gaussian-mean-field-stabvizs-extension)."""
    d, v_in = input_drive(cfg)
    n1, th = cfg.n_rec - 1, cfg.threshold
    m_rec = n1 * rec.mean * p
    v_rec = n1 * (np.square(rec.std) * p + np.square(rec.mean) * p * (1 - p))
    if cfg.reset == "subtract":
        mu = (d + m_rec - th * p) / (1 - a)
        var = (v_in + v_rec + th * th * p * (1 - p)) / (1 - a * a)
    elif cfg.reset == "mult2":
        mu = (d + m_rec) / (1 - a * (1 - p))
        var = (v_in + v_rec) / (1 - a * a * (1 - p))
    else:
        mu = (1 - p) * (d + m_rec) / (1 - a * (1 - p))
        var = (1 - p) * (v_in + v_rec) / (1 - a * a * (1 - p))
    return mu, np.sqrt(np.maximum(var, 0.0))


def gaussian_voltage(
    cfg: LIFConfig, leak: Any = None, rec: WeightLaw | None = None, iterations: int = 48
) -> VoltageState:
    """Mean-field fixed point p = 1 − Φ((θ − μ_y(p))/s_y(p)), by vectorised bisection on [0, 1] (Brent for one
    setting).

    f(p) = 1 − Φ(...) − p is ≥ 0 at p = 0 and ≤ 0 at p = 1, so a root always exists; 48 halvings give
    p to ~4e-15. Where several roots exist (bistable settings) one of them is returned.
    """
    a = cfg.leak if leak is None else np.asarray(leak, float)
    rec = recurrent_law(cfg, a) if rec is None else rec
    shape = np.broadcast(a, rec.mean, rec.std).shape
    lo, hi = np.zeros(shape), np.ones(shape)

    def excess(p):
        mu, sd = _gaussian_moments_of_y(cfg, p, a, rec)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sd > 0, (cfg.threshold - mu) / sd, np.where(mu > cfg.threshold, -np.inf, np.inf))
        return special.ndtr(-z) - p

    if shape == () and excess(0.0) > 0 > excess(1.0):
        # one setting: Brent's method needs a handful of evaluations instead of 48 halvings
        p = np.float64(_root(lambda q: float(excess(q)), 0.0, 1.0))
    else:
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            up = excess(mid) > 0
            lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
        p = 0.5 * (lo + hi)
    mu, sd = _gaussian_moments_of_y(cfg, p, a, rec)
    return VoltageState("gaussian", p, mu, sd, cfg.threshold)


def _root(f: Any, lo: float, hi: float, tol: float = 1e-15) -> float:
    """A root of ``f`` in [lo, hi], where f(lo) > 0 > f(hi), to within ``tol`` (absolute and relative).

    False position with the Illinois modification (superlinear: a dozen evaluations here), and a
    bisection whenever a step fails to halve the bracket, so the bracket always closes. Written out
    rather than taken from scipy.optimize, whose import alone costs every CLI command ~140 ms.
    """
    f_lo, f_hi = f(lo), f(hi)
    side = 0  # which end the last step moved: -1 low, +1 high
    while hi - lo > tol * (1.0 + abs(lo)):
        width = hi - lo
        x = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        if not lo < x < hi:
            x = 0.5 * (lo + hi)
        fx = f(x)
        if fx == 0:
            return x
        if fx > 0:
            lo, f_lo = x, fx
            if side == -1:  # the high end stuck twice: halve its weight (Illinois)
                f_hi *= 0.5
            side = -1
        else:
            hi, f_hi = x, fx
            if side == 1:
                f_lo *= 0.5
            side = 1
        if hi - lo > 0.5 * width:  # a slow step: follow it with a bisection
            mid = 0.5 * (lo + hi)
            fm = f(mid)
            if fm == 0:
                return mid
            if fm > 0:
                lo, f_lo = mid, fm
            else:
                hi, f_hi = mid, fm
            side = 0
    return 0.5 * (lo + hi)


def measured_voltage(cfg: LIFConfig, **simulate_kw: Any) -> VoltageState:
    """Monte-Carlo: simulate the initialised layer (torch) and use its voltage samples."""
    from stabviz import simulate  # torch only when the measured model is asked for

    if "burn_in" not in simulate_kw:  # long enough for the leak (5τ), with the usual 200 measured steps after it
        burn = simulate.stationary_burn_in(cfg)
        simulate_kw = {"burn_in": burn, "steps": burn + 200, **simulate_kw}
    m = simulate.measure(cfg, **simulate_kw)
    return VoltageState(
        "measured", m.firing_rate, m.voltage_mean, m.voltage_std, cfg.threshold, samples=m.voltages, measurement=m
    )


def voltage_state(cfg: LIFConfig, model: str | None = None, leak: Any = None) -> VoltageState:
    """The voltage model's state at ``cfg`` (``leak`` may be an array for leak maps).

    The voltage distribution does not depend on the surrogate, so for one leak value it is cached on the
    forward setting alone: moving the dampening, sharpness or tail never re-solves (or re-simulates) it.
    """
    model = model or cfg.voltage_model
    if leak is not None and np.ndim(leak):
        if model == "measured":
            raise ValueError(
                "the measured voltage model cannot vary the leak along an axis; "
                "use the gaussian or uniform model for leak maps"
            )
        return uniform_voltage(cfg, leak) if model == "uniform" else gaussian_voltage(cfg, leak)
    if leak is not None:
        cfg = cfg.replace(leak=float(leak))
    if cfg.voltage_model != model:
        cfg = cfg.replace(voltage_model=model)
    key = Keyed(cfg, _STATE_FIELDS, digits=None)
    return (_cached_measured if model == "measured" else _cached_state)(key)


# The caches in this module key on exact values (digits=None): a library result never depends on which
# nearby setting was asked for first. The dashboard rounds its own keys (stabviz.ui.compute).
_STATE_FIELDS = fields_except(*SURROGATE_FIELDS, *DISPLAY_FIELDS)


@functools.lru_cache(maxsize=256)
def _cached_state(key: Keyed) -> VoltageState:
    cfg = key.cfg
    return uniform_voltage(cfg) if cfg.voltage_model == "uniform" else gaussian_voltage(cfg)


@functools.lru_cache(maxsize=16)
def _cached_measured(key: Keyed) -> VoltageState:
    return measured_voltage(key.cfg)


#: a variant's measured prediction is the block recursion's gain, which depends on the surrogate too: its
#: cache keys on every field the physics reads (the LIF's reuses the voltages across surrogates instead)
_VARIANT_FIELDS = fields_except(*DISPLAY_FIELDS)


@functools.lru_cache(maxsize=16)
def _cached_variant_measurement(key: Keyed) -> Any:
    return measured_voltage(key.cfg).measurement


# ---------------------------------------------------------------------------------------------
# Gains (docs/theory.md#3-conditions-i-to-iv)


def regime_of(log10_gain: Any, tolerance: float) -> Any:
    """Regime code per cell: −1 vanishing, 0 stable, 1 exploding (−2 undefined)."""
    g = np.asarray(log10_gain)
    code = (g > tolerance).astype(np.int8) - (g < -tolerance).astype(np.int8)
    undefined = np.isnan(g)
    if undefined.any():
        code[undefined] = REGIME_CODES["undefined"]
    return code


def firing_label(p: float) -> str:
    for label, bound in zip(FIRING_LABELS, FIRING_BOUNDS):
        if p < bound:
            return label
    return FIRING_LABELS[-1]


# ---------------------------------------------------------------------------------------------
# Predictions at one setting


@dataclass
class Prediction:
    """What the theory predicts at one setting, under one voltage model."""

    voltage_model: str
    firing_rate: float
    voltage_mean: float
    voltage_std: float
    moment1: float  # E[σ']
    moment2: float  # E[σ'²]
    rho2: float  # mean squared one-step gain ρ²
    rho: float
    max_gain: float  # worst-case one-step gain α + γX (condition III sets it to 1)
    gradient_gain: float  # ρ^T
    log10_gain: float  # T·log10 ρ
    regime: str  # vanishing / stable / exploding when the whole band is in it, else uncertain
    firing: str
    notes: list[str] = field(default_factory=list)
    log10_gain_band: tuple[float, float] = (math.nan, math.nan)  # calibrated band of T·log10 ρ
    point_regime: str = ""  # the regime of log10_gain alone (what the region maps colour)

    def to_dict(self) -> dict[str, Any]:
        return finite_or_none(asdict(self))


def _finish(
    cfg: LIFConfig, rho2: Any, max_gain: Any, model: str | None = None, neuron: str = "lif"
) -> tuple[float, float, float, str, tuple[float, float], str]:
    """(ρ, ρ^T, T·log10 ρ, the band's regime, the calibrated band, the point estimate's regime)."""
    rho2 = float(rho2)
    rho = math.sqrt(rho2) if rho2 >= 0 else math.nan
    log10_gain = cfg.steps * 0.5 * math.log10(rho2) if rho2 > 0 else -math.inf
    gain = 10**log10_gain if log10_gain < 308 else math.inf
    point = REGIME_NAMES[int(regime_of(log10_gain, cfg.tolerance))]
    band = calibration.band(log10_gain, cfg.steps, model or cfg.voltage_model, cfg.reset, neuron)
    return rho, gain, log10_gain, calibration.regime_of_band(*band, cfg.tolerance), band, point


#: θ above this fraction of the gaussian model's voltage spread: its firing rate is off (measured, see
#: docs/theory.md#83-the-gaussian-model-is-a-subtractive-reset-small-threshold-model)
THRESHOLD_SPREAD_LIMIT = 0.03
#: fewer recurrent neurons than this: the mean-field average over inputs does not hold
MIN_MEAN_FIELD_NEURONS = 16


def validity_warnings(cfg: LIFConfig, v: VoltageState) -> list[str]:
    """Where the gaussian model is known to be off (each trigger measured against simulate, docs/theory.md
    section 8.3), a sentence that says so and offers the measured voltage model."""
    offer = "; the measured voltage model simulates it instead"
    out = []
    if _multiplicative(cfg):
        out.append(
            f"validity: the gaussian model is a subtractive-reset model; with the {cfg.reset} reset its "
            "rate and ρ² can be far off (measured: rate 0.19 vs 0.50 and ρ² −41% for mult1 at τ = 20)" + offer
        )
    if v.std > 0 and cfg.threshold > THRESHOLD_SPREAD_LIMIT * float(v.std):
        out.append(
            f"validity: θ = {cfg.threshold:g} is not small against the voltage spread σ_y = {float(v.std):.3g} "
            f"(θ/σ_y = {cfg.threshold / float(v.std):.2g} > {THRESHOLD_SPREAD_LIMIT:g}); the predicted firing rate "
            "can be far off (measured: 0.06 vs 0.50 at θ/σ_y = 0.49)" + offer
        )
    if cfg.n_rec < MIN_MEAN_FIELD_NEURONS:
        out.append(
            f"validity: n_rec = {cfg.n_rec} < {MIN_MEAN_FIELD_NEURONS}: too few neurons for the mean-field "
            "average (measured: rate 0.16 vs 0.48 at n_rec = 2)" + offer
        )
    return out


#: what predict_shown says when it measured the voltages in place of the gaussian model (auto_voltage_model)
AUTO_MEASURED_NOTE = (
    "voltage model: measured automatically: the gaussian model misplaces the firing rate with "
    "the {reset} reset (2–3× for mult1; docs/theory.md, section 8.3), so this prediction "
    "simulates the layer instead (once per "
    "forward setting: the surrogate's sliders reuse it)"
)


def auto_voltage_model(cfg: LIFConfig) -> str:
    """The voltage model `predict_shown` uses: the setting's own, except that the gaussian model gives way
    to the measured one for the multiplicative resets, where its firing rate is known to be off
    (docs/theory.md#83-the-gaussian-model-is-a-subtractive-reset-small-threshold-model). A setting too large
    to simulate here (the memory check refuses it) keeps the gaussian model."""
    if cfg.voltage_model != "gaussian" or not _multiplicative(cfg):
        return cfg.voltage_model
    from stabviz import memory, simulate

    burn = simulate.stationary_burn_in(cfg)
    try:
        memory.check_simulate(cfg, burn_in=burn, steps=burn + 200)
    except ValueError:
        return "gaussian"
    return "measured"


def predict_shown(cfg: LIFConfig) -> Prediction:
    """The prediction to show a user for ``cfg``: `predict` under `auto_voltage_model`, its first note
    saying so when that is the measured model in place of the gaussian one. (`predict` itself, which the
    recommendation's solutions must agree with, keeps the setting's model.)"""
    model = auto_voltage_model(cfg)
    pred = predict(cfg, model)
    if model != cfg.voltage_model:
        pred.notes.insert(0, AUTO_MEASURED_NOTE.format(reset=cfg.reset))
    return pred


def predict(cfg: LIFConfig, model: str | None = None) -> Prediction:
    """The theory's prediction at ``cfg`` under its voltage model (or ``model``)."""
    if cfg.neuron != "lif":
        return _predict_variant(cfg, model or cfg.voltage_model)
    v = voltage_state(cfg, model)
    e1, e2 = (float(x) for x in v.moments(cfg.surrogate))
    A, C, D = gain_coefficients(cfg, v.firing_rate)
    rho2 = float(A + C * e2 + D * e1)
    max_gain = float(cfg.leak + cfg.dampening * worst_gain_factor(cfg))
    rho, gain, log10_gain, regime, band, point = _finish(cfg, rho2, max_gain, v.model)
    notes = []
    if _multiplicative(cfg) and cfg.reset_grad:
        notes.append("gradient through a multiplicative reset is not part of the conditions; ignored here")
    if v.model == "gaussian":
        notes += validity_warnings(cfg, v)
    if v.model == "measured" and v.measurement is not None:
        notes += list(v.measurement.notes)
    p = float(v.firing_rate)
    return Prediction(
        v.model,
        p,
        float(v.mean),
        float(v.std),
        e1,
        e2,
        rho2,
        rho,
        max_gain,
        gain,
        log10_gain,
        regime,
        firing_label(p),
        notes,
        band,
        point,
    )


#: what each variant's prediction says about its theory's measured accuracy (docs/theory.md section 9.5; the
#: calibrated band carries the measured spread)
VARIANT_WEAKNESS = {
    "alif": (
        "alif: the gain theory is weakest here: the slow adaptation correlates the errors over τ_a, which "
        "the moment recursion cannot see (measured at shd-tau20, β_a = 1.8: predicted 1.017 against "
        "ρ̂ 1.166 per step, −13%; β_a = 0.02: −2%); the band is calibrated on alif settings"
    ),
    "cuba": (
        "cuba: the gain theory inherits the LIF's one-step error (measured at shd-tau20: −3% to −4% per "
        "step with the subtractive reset); the band is calibrated on cuba settings"
    ),
}


def _simulation_refused(cfg: LIFConfig) -> str | None:
    """Why the measured model may not simulate ``cfg`` here (above the machine's neuron limit, or its
    memory estimate), else None."""
    from stabviz import memory, simulate
    from stabviz.config import limits

    limit = limits()["neurons"]
    if cfg.n_rec > limit:
        return f"n_rec = {cfg.n_rec} is above this machine's limit {limit} (STABVIZ_MAX_NEURONS)"
    burn = simulate.stationary_burn_in(cfg)
    try:
        memory.check_simulate(cfg, burn_in=burn, steps=burn + 200)
    except ValueError as err:
        return str(err)
    return None


def _predict_variant(cfg: LIFConfig, model: str) -> Prediction:
    """alif / cuba (docs/theory.md section 9): the rate from the heterogeneous mean field (MF-het) and the
    gain from the 2×2-block second-moment recursion, its coefficient moments from the gaussian model
    (closed form, subtractive reset) or from the simulated layer (the measured model). The multiplicative
    resets have no variant rate theory: the gaussian and uniform models give way to the measured one."""
    from stabviz import variant_gain

    notes = [VARIANT_WEAKNESS[cfg.neuron]]
    if model != "measured" and cfg.reset != "subtract":
        refused = _simulation_refused(cfg)
        if refused:  # never a silent simulation of a layer this machine refuses: the LIF's, said so
            lif = predict(cfg.replace(neuron="lif"), model)
            lif.notes.insert(
                0,
                f"neuron = {cfg.neuron}: with the {cfg.reset} reset its prediction simulates the "
                f"layer, which is refused here ({refused}); the numbers shown are the plain LIF's",
            )
            return lif
        notes.append(
            f"{cfg.neuron}: no {model} theory for the {cfg.reset} reset (the variant rate theory is the "
            "subtractive reset's): this prediction simulates the layer (the measured voltage model)"
        )
        model = "measured"
    if model == "measured":
        m = _cached_variant_measurement(Keyed(cfg.replace(voltage_model="measured"), _VARIANT_FIELDS, digits=None))
        rate, mean, std, e1, e2, rho = m.firing_rate, m.voltage_mean, m.voltage_std, m.moment1, m.moment2, m.block_rho
        notes += list(m.notes)
    else:
        if model == "uniform":
            notes.append(
                f"{cfg.neuron}: the uniform voltage model has no variant form; the gaussian mean field "
                "(MF-het, docs/theory.md section 9.3) is used"
            )
            model = "gaussian"
        cf = variant_gain.closed_form_gain(cfg)
        rate, mean, std, e1, e2, rho = (
            cf[k] for k in ("rate", "voltage_mean", "voltage_std", "moment1", "moment2", "gain")
        )
    rho2 = float(rho) ** 2
    rho, gain, log10_gain, regime, band, point = _finish(cfg, rho2, math.nan, model, cfg.neuron)
    worst = worst_threshold(cfg)
    if worst is None:
        max_gain = math.nan
        notes.append(f"{cfg.neuron}: the worst-row gain (condition III) has no 2×2-block form: max_gain is not given")
    else:  # the LIF's worst case at the largest threshold its backward map sees
        max_gain = float(cfg.leak + cfg.dampening * worst_gain_factor(cfg, threshold=worst))
    return Prediction(
        model,
        float(rate),
        float(mean),
        float(std),
        float(e1),
        float(e2),
        rho2,
        rho,
        max_gain,
        gain,
        log10_gain,
        regime,
        firing_label(float(rate)),
        notes,
        band,
        point,
    )


def predict_all(cfg: LIFConfig, models: tuple[str, ...] = ("uniform", "gaussian")) -> dict[str, Prediction]:
    """Predictions side by side, one per voltage model (add "measured" for the Monte-Carlo referee)."""
    return {m: predict(cfg, m) for m in models}


# ---------------------------------------------------------------------------------------------
# Recommendation: conditions I-IV at one setting


@dataclass
class Recommendation:
    recurrent_mean: float | None
    recurrent_var: float | None
    dampening: float | None
    sharpness: float | None
    tail: float | None
    firing_rate: float
    rho2: float
    max_gain: float
    gradient_gain: float
    regime: str
    firing: str
    notes: list[str] = field(default_factory=list)
    #: settings the theory itself evaluates to ρ² = 1 (within OPTION_TOLERANCE), each one whole
    options: list[dict[str, Any]] = field(default_factory=list)
    log10_gain_band: tuple[float, float] = (math.nan, math.nan)

    def to_dict(self) -> dict[str, Any]:
        return finite_or_none(asdict(self))


_III_VS_IV = "docs/theory.md#85-conditions-iii-and-iv-cannot-both-hold-under-standard-initialisations"
#: how close to 1 an option's ρ² must be to be offered
OPTION_TOLERANCE = 1e-6


def recommendation_options(
    cfg: LIFConfig, v: VoltageState | None = None, solved: dict[str, tuple[float | None, str]] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Whole settings with ρ² = 1 at ``cfg`` (condition IV solved for one knob, the others kept), and a note
    for each option that does not exist here. Never a mixed pair: every option is evaluated as a whole.

    - "keep γ, solve β": β*(γ); - "keep β, solve γ": γ_IV(β); - "keep γ, β, solve q": q* (q-PseudoSpike).
    ``solved``: {"sharpness": (β*, why), "tail": (q*, why)} already solved at ``cfg`` (by `recommend`).
    For alif and cuba: :func:`variant_recommendation_options` (the block gain, not this ρ²).
    """
    if cfg.neuron != "lif":
        return variant_recommendation_options(cfg)
    v = voltage_state(cfg) if v is None else v
    solved = solved or {}
    options: list[dict[str, Any]] = []
    notes: list[str] = []
    beta, why = solved["sharpness"] if "sharpness" in solved else sharpness_star(cfg, v)
    candidates = [("keep γ, solve β", {"sharpness": beta} if beta is not None else None, why)]
    e1, e2 = v.moments(cfg.surrogate.replace(dampening=1.0))
    A, C, D = gain_coefficients(cfg, v.firing_rate)
    g4 = float(gamma_iv(A, C, D, e1, e2))
    lo, hi = RANGES["dampening"][:2]
    g_ok = math.isfinite(g4) and lo < g4 <= hi
    candidates.append(
        (
            "keep β, solve γ",
            {"dampening": g4} if g_ok else None,
            f"no dampening in ({lo:g}, {hi:g}] gives ρ² = 1 at β = {cfg.sharpness:g}",
        )
    )
    if cfg.shape == "qpseudospike":
        q, why_q = solved["tail"] if "tail" in solved else tail_star(cfg, v)
        candidates.append(("keep γ, β, solve q", {"tail": q} if q is not None else None, why_q))
    else:
        notes.append("keep γ, β, solve q: only the qpseudospike shape has a tail-fatness q")
    for label, change, why_not in candidates:
        option = _option(cfg, v, label, change) if change else None
        if option is None:
            notes.append(f"{label}: {why_not or 'the solved setting does not give ρ² = 1'}")
        else:
            options.append(option)
    return options, notes


def _option(cfg: LIFConfig, v: VoltageState, label: str, change: dict[str, float]) -> dict[str, Any] | None:
    """The option as a whole setting, if the theory evaluates it to ρ² = 1."""
    try:
        at = cfg.replace(**change)
    except ValueError:
        return None
    rho2 = float(rho2_along(at, v))
    if not (math.isfinite(rho2) and abs(rho2 - 1) <= OPTION_TOLERANCE):
        return None
    _, _, _, regime, band, _ = _finish(at, rho2, math.nan, v.model)
    return {
        "label": label,
        "dampening": at.dampening,
        "sharpness": at.sharpness,
        "tail": at.tail,
        "rho2": rho2,
        "regime": regime,
        "log10_gain_band": list(band),
    }


_III_UNATTAINABLE = "dampening: condition III is unattainable: the recurrent weights have no negative part"

#: why condition III has no variant form (docs/theory.md#94-conditions-i-to-iv-for-the-variants): the largest row
#: sum of the block map, the LIF's worst-case gain, has a floor no dampening lowers
VARIANT_III_NOTE = {
    "alif": (
        "dampening: condition III has no alif form with the adaptation gradient: a neuron that spiked "
        "carries its error into a through the reset (k = −β_a z), so the block map's largest row sum is at "
        "least ρ_a + β_a for any dampening (above 1 once β_a > 1 − ρ_a); without it (--no-adapt-grad) the "
        "block is the LIF's at θ_t ≤ θ + β_a, and condition III is solved there"
    ),
    "cuba": (
        "dampening: condition III has no cuba form: the current's adjoint keeps α_s of itself and takes "
        "α_s of the voltage's error each step, so the block map's largest row sum is at least 2α_s for any "
        "dampening (above 1 once τ_s > 1.44 steps)"
    ),
}
_VARIANT_KNOBS = {"sharpness": "keep γ, solve β", "dampening": "keep β, solve γ", "tail": "keep γ, β, solve q"}
_NO_TAIL = "tail: only the qpseudospike shape has a tail-fatness q"


def variant_solutions(cfg: LIFConfig) -> dict[str, tuple[float | None, str]]:
    """Condition IV for alif / cuba: {knob: (the value giving block gain 1 with the others kept, why not)}
    for the dampening, the sharpness and (qpseudospike) the tail, from the closed-form block gain (section
    9.4). The multiplicative resets have no closed form: every knob is None, said why."""
    knobs = [k for k in _VARIANT_KNOBS if k != "tail" or cfg.shape == "qpseudospike"]
    if cfg.reset != "subtract":
        why = (
            f"neuron = {cfg.neuron}: condition IV has no closed form for the {cfg.reset} reset (the variant rate "
            "theory is the subtractive reset's, docs/theory.md section 9.3), so nothing is solved"
        )
        return {k: (None, why) for k in knobs}
    from stabviz import variant_gain

    return {k: variant_gain.gain_is_one(cfg, k) for k in knobs}


def variant_recommendation_options(
    cfg: LIFConfig, solved: dict[str, tuple[float | None, str]] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The alif / cuba counterpart of :func:`recommendation_options`: whole settings whose closed-form block
    gain is 1 (each evaluated whole, by :func:`predict` under the gaussian model), in the LIF's order and
    labels, and a note for each that does not exist. ``solved``: :func:`variant_solutions` at ``cfg``."""
    solved = variant_solutions(cfg) if solved is None else solved
    options, notes = [], []
    for knob, label in _VARIANT_KNOBS.items():
        value, why = solved.get(knob, (None, _NO_TAIL))
        option = _variant_option(cfg, label, {knob: value}) if value is not None else None
        if option is None:
            notes.append(f"{label}: {why or 'the solved setting does not give a block gain of 1'}")
        else:
            options.append(option)
    return options, notes


def _variant_option(cfg: LIFConfig, label: str, change: dict[str, float]) -> dict[str, Any] | None:
    try:
        at = cfg.replace(**change)
    except ValueError:
        return None
    pred = predict(at, "gaussian")
    if not (math.isfinite(pred.rho2) and abs(pred.rho2 - 1) <= OPTION_TOLERANCE):
        return None
    return {
        "label": label,
        "dampening": at.dampening,
        "sharpness": at.sharpness,
        "tail": at.tail,
        "rho2": pred.rho2,
        "regime": pred.regime,
        "log10_gain_band": list(pred.log10_gain_band),
    }


def recommend(cfg: LIFConfig) -> Recommendation:
    """Conditions I-IV at ``cfg`` and the predictions at the current setting (CLI `recommend`). For alif and
    cuba, conditions I and II are the variant's (conditions.aimed_threshold) and IV is solved on the block
    gain; III has a form for an alif without the adaptation gradient only
    (docs/theory.md#94-conditions-i-to-iv-for-the-variants)."""
    notes: list[str] = []
    mu = float(condition_i(cfg))
    var = float(condition_ii(cfg, mu))
    if var < 0:
        notes.append(
            f"recurrent_var: condition II is unattainable (σ_rec² = {var:.4g} < 0): the input current "
            "is too weak for the recurrent mean of condition I"
        )
        var_out = None
    else:
        var_out = var
    g3, beta, q, options = (_lif_iii_iv if cfg.neuron == "lif" else _variant_iii_iv)(cfg, notes)
    pred = predict(cfg)
    notes += pred.notes
    return Recommendation(
        mu,
        var_out,
        g3,
        beta,
        q,
        pred.firing_rate,
        pred.rho2,
        pred.max_gain,
        pred.gradient_gain,
        pred.regime,
        pred.firing,
        notes,
        options,
        pred.log10_gain_band,
    )


def _lif_iii_iv(cfg: LIFConfig, notes: list[str]) -> tuple[float | None, float | None, float | None, list]:
    """(γ_III, β*, q*, options) of the LIF, appending what is unattainable and why to ``notes``."""
    g3 = float(condition_iii(cfg))
    if not (math.isfinite(g3) and g3 > 0):
        notes.append(_III_UNATTAINABLE)
        g3 = None
    v = voltage_state(cfg)
    beta, why_b = sharpness_star(cfg, v)
    q, why_q = tail_star(cfg, v)
    options, option_notes = recommendation_options(cfg, v, {"sharpness": (beta, why_b), "tail": (q, why_q)})
    notes += option_notes
    g4 = next((o["dampening"] for o in options if o["label"] == "keep β, solve γ"), None)
    if g3 is not None:
        notes.append(
            f"γ_III = {g3:.4g} bounds the worst-case one-step gain (condition III), a worst case rather "
            "than a target"
            + (
                f"; here it is below γ_IV = {g4:.4g}, so conditions III and IV cannot "
                f"both hold under this initialisation ({_III_VS_IV})"
                if g4 is not None and g3 < g4
                else ""
            )
        )
    return g3, beta, q, options


def _variant_iii_iv(cfg: LIFConfig, notes: list[str]) -> tuple[float | None, float | None, float | None, list]:
    """(γ_III, β*, q*, options) of alif / cuba: γ_III where condition III has a form (an alif without the
    adaptation gradient: conditions.worst_threshold), else None and VARIANT_III_NOTE says why; β* and q*
    from the block gain."""
    g3: float | None = variant_condition_iii(cfg)
    worst = worst_threshold(cfg)
    if worst is None:
        notes.append(VARIANT_III_NOTE[cfg.neuron])
        g3 = None
    elif not (math.isfinite(g3) and g3 > 0):
        notes.append(_III_UNATTAINABLE)
        g3 = None
    else:
        notes.append(
            f"γ_III = {g3:.4g} bounds the worst-case one-step gain (condition III) at the largest threshold "
            f"the {cfg.neuron}'s backward map sees, θ + β_a = {worst:.4g}: a worst case rather "
            "than a target"
        )
    solved = variant_solutions(cfg)
    options, option_notes = variant_recommendation_options(cfg, solved)
    notes += option_notes
    return g3, solved["sharpness"][0], solved.get("tail", (None, ""))[0], options


# ---------------------------------------------------------------------------------------------
# Region grids


@dataclass
class Region:
    """A (x, y) map of the stability measures. Arrays are (ny, nx); axes are ascending."""

    x_name: str
    y_name: str
    x: np.ndarray
    y: np.ndarray
    log_x: bool
    log_y: bool
    rho2: np.ndarray
    max_gain: np.ndarray
    log10_gain: np.ndarray
    regime: np.ndarray
    firing_rate: np.ndarray
    curves: dict[str, tuple[np.ndarray, np.ndarray]]
    optimum: tuple[float, float] | None
    current: tuple[float, float]
    tolerance: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def arr(a):  # JSON has no NaN/inf: undefined cells become null
            a = np.asarray(a, float)
            return np.where(np.isfinite(a), a.astype(object), None).tolist()

        return {
            "x_name": self.x_name,
            "y_name": self.y_name,
            "x": arr(self.x),
            "y": arr(self.y),
            "rho2": arr(self.rho2),
            "max_gain": arr(self.max_gain),
            "log10_gain": arr(self.log10_gain),
            "regime": self.regime.tolist(),
            "firing_rate": arr(self.firing_rate),
            "curves": {k: [arr(a), arr(b)] for k, (a, b) in self.curves.items()},
            "optimum": self.optimum,
            "current": self.current,
            "notes": self.notes,
        }

    def to_csv(self) -> str:
        """One row per cell: x, y, rho2, max_gain, log10_gain, regime, firing_rate."""
        xx, yy = np.meshgrid(self.x, self.y)
        names = REGIME_NAMES
        rows = [f"{self.x_name},{self.y_name},rho2,max_gain,log10_gain,regime,firing_rate"]
        cols = (
            xx.ravel(),
            yy.ravel(),
            self.rho2.ravel(),
            self.max_gain.ravel(),
            self.log10_gain.ravel(),
            self.regime.ravel(),
            self.firing_rate.ravel(),
        )
        for x, y, r, g, lg, reg, p in zip(*cols):
            rows.append(f"{x:.6g},{y:.6g},{r:.6g},{g:.6g},{lg:.6g},{names[int(reg)]},{p:.6g}")
        return "\n".join(rows) + "\n"


def axis_values(
    name: str, n: int, value_range: tuple[float, float] | None = None, log: bool | None = None
) -> tuple[np.ndarray, bool]:
    """``n`` values of the axis ``name`` over ``value_range`` (default: AXES), which must lie inside
    RANGES[name] (a leak range within [0, 0.9999], a dampening range above 0, ...); geometric if ``log``
    (the leak: geometric in τ = −1/ln α, so a log leak axis must lie inside (0, 1))."""
    check_choice("axis", name, tuple(AXES))
    n = _grid_size(n)
    lo, hi, log_default = AXES[name]
    if value_range is not None:
        if (
            isinstance(value_range, (str, bytes))
            or not (isinstance(value_range, (tuple, list)) or getattr(value_range, "ndim", None) == 1)
            or len(value_range) != 2
        ):
            raise ValueError(f"{name} range = {show(value_range)} must be a pair (low, high)")
        lo, hi = (check_number(name, v, integer=False) for v in value_range)
    # By default an axis is log when its parameter's is and the range allows it (a leak range from 0 is linear).
    log = (
        (log_default and lo > 0 and (name != "leak" or hi < 1))
        if log is None
        else check_flag(f"log ({name} axis)", log)
    )
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} range = ({lo}, {hi}) must be finite and increasing")
    if log and lo <= 0:
        raise ValueError(f"{name} range = ({lo}, {hi}) must be positive for a log axis")
    if log and name == "leak":  # log τ: geometric in τ = −1/ln α
        if hi >= 1:
            raise ValueError(f"leak range = ({lo}, {hi}) must stay below 1 for a log-τ axis")
        return tau_to_leak(np.geomspace(-1.0 / math.log(lo), -1.0 / math.log(hi), n), "leak range τ"), True
    vals = np.geomspace(lo, hi, n) if log else np.linspace(lo, hi, n)
    return vals, log


def region(
    cfg: LIFConfig,
    x: str = "sharpness",
    y: str = "dampening",
    nx: int = 200,
    ny: int = 200,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    log_x: bool | None = None,
    log_y: bool | None = None,
) -> Region:
    """ρ², worst-case gain, log10 gradient gain and regime over a grid of two of
    (dampening, sharpness, tail, leak), with the condition curves, the optimum and the current point.

    Vectorised: the voltage model is evaluated once per leak value and E[σ'^m] once per (sharpness,
    tail, leak) value along the axes; dampening enters as γ^m. Those axis terms are cached, so moving
    the dampening (or the current point along an axis) only redoes the per-cell arithmetic.
    """
    check_choice("axis", x, tuple(AXES))
    check_choice("axis", y, tuple(AXES))
    if x == y:
        raise ValueError(f"x and y must differ (both are {x!r})")
    nx, ny = _grid_size(nx), _grid_size(ny)
    xs, log_x = axis_values(x, nx, x_range, log_x)
    ys, log_y = axis_values(y, ny, y_range, log_y)
    key = Keyed(cfg, fields_except("dampening", *DISPLAY_FIELDS, x, y), digits=None)  # axes replace x, y
    t = _region_terms(key, x, y, nx, ny, _as_key(x_range), _as_key(y_range), log_x, log_y)
    g = ys[:, None] if y == "dampening" else (xs[None, :] if x == "dampening" else cfg.dampening)
    rho2 = np.broadcast_to(t.A + t.C * t.e2 * g * g + t.D * t.e1 * g, (ny, nx)).astype(float)
    max_gain = np.broadcast_to(t.leak + g * t.worst, (ny, nx)).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log10_gain = np.where(rho2 > 0, cfg.steps * 0.5 * np.log10(rho2), -np.inf)
    best, opt_notes = optimum(cfg)
    opt = None
    if best[x] is not None and best[y] is not None:
        opt = (float(best[x]), float(best[y]))
    regime = regime_of(log10_gain, cfg.tolerance)  # −inf (ρ² = 0) is vanishing
    variant = (
        []
        if cfg.neuron == "lif"
        else [
            f"neuron = {cfg.neuron}: this map and its condition curves are the plain LIF's (a {cfg.neuron} map is "
            f"not computed); the prediction at the current point is the {cfg.neuron}'s own (theory.predict)"
        ]
    )
    return Region(
        x,
        y,
        xs,
        ys,
        log_x,
        log_y,
        rho2,
        max_gain,
        log10_gain,
        regime,
        np.broadcast_to(t.firing, (ny, nx)).astype(float),
        dict(t.curves),
        opt,
        (float(getattr(cfg, x)), float(getattr(cfg, y))),
        cfg.tolerance,
        variant + list(t.notes) + opt_notes,
    )


def _grid_size(n: Any) -> int:
    return check_number("grid size", n, {"grid size": (2, 4000, True, True)}, integer=True)


def _as_key(r: Any) -> tuple[float, float] | None:
    return None if r is None else (float(r[0]), float(r[1]))


@dataclass(frozen=True)
class _RegionTerms:
    """Everything of a region map that does not depend on the dampening, broadcastable to (ny, nx)."""

    e1: Any
    e2: Any
    A: Any
    C: Any
    D: Any
    worst: Any
    leak: Any
    firing: Any
    curves: dict
    notes: tuple


@functools.lru_cache(maxsize=64)
def _region_terms(
    key: Keyed, x: str, y: str, nx: int, ny: int, x_range, y_range, log_x: bool, log_y: bool
) -> _RegionTerms:
    cfg = key.cfg
    xs, _ = axis_values(x, nx, x_range, log_x)
    ys, _ = axis_values(y, ny, y_range, log_y)
    t = _terms_on(cfg, {x: xs[None, :], y: ys[:, None]})
    return replace(
        t, curves=_condition_curves(cfg, x, y, xs, ys, t.e1, t.e2, t.A, t.C, t.D, t.leak if "leak" in (x, y) else None)
    )


def _terms_on(cfg: LIFConfig, grid: dict[str, np.ndarray]) -> _RegionTerms:
    """The dampening-free terms on a broadcastable grid of (sharpness, tail, leak) values; parameters
    not in ``grid`` keep their value in ``cfg``. No curves: they need to know which axis is which."""
    p = {k: grid.get(k, getattr(cfg, k)) for k in AXES}
    leak = p["leak"] if "leak" in grid else None
    notes: list[str] = []
    v = voltage_state(cfg, leak=leak)
    rec = (
        recurrent_law(cfg, leak)
        if cfg.init_rec != "conditions" or leak is None
        else _conditions_law_grid(cfg, leak, notes)
    )
    e1, e2 = v.moments(cfg.surrogate.replace(dampening=1.0, sharpness=p["sharpness"], tail=p["tail"]))
    A, C, D = gain_coefficients(cfg, v.firing_rate, leak, rec)
    return _RegionTerms(
        e1,
        e2,
        A,
        C,
        D,
        worst_gain_factor(cfg, leak),
        cfg.leak if leak is None else leak,
        v.firing_rate,
        {},
        tuple(notes),
    )


def map_slices(
    cfg: LIFConfig,
    x: str,
    along: str,
    values: Any,
    nx: int = 200,
    x_range: tuple[float, float] | None = None,
    log_x: bool | None = None,
) -> dict[str, np.ndarray]:
    """What an (x, dampening) map becomes when a third parameter ``along`` takes each of ``values``.

    Row i, column j hold, at ``along = values[i]`` and x = the j-th of :func:`axis_values` (x, nx):
    ``a0, a1, a2`` with ρ² = a0 + a1·γ + a2·γ², ``leak`` and ``worst`` with the worst one-step gain
    leak + γ·worst, the ``firing`` rate, and condition curves ``gamma_III`` and ``gamma_IV`` (NaN where
    unattainable). With these a browser redraws the whole map for any γ without asking the server:
    the Explore page's preview while a slider moves. Exactly :func:`region`'s numbers (same code path).
    """
    check_choice("x", x, tuple(AXES))
    check_choice("along", along, tuple(AXES))
    if along in (x, "dampening") or x == "dampening":
        raise ValueError(f"along = {along!r} must be a third parameter besides x = {x!r} and the dampening")
    nx = _grid_size(nx)
    xs, _ = axis_values(x, nx, x_range, log_x)
    vals = np.asarray(check_values(along, values), float).reshape(-1, 1)
    t = _terms_on(cfg, {x: xs[None, :], along: vals})
    leak_grid = t.leak if "leak" in (x, along) else None
    shape = (vals.shape[0], nx)
    out = {
        "a0": t.A,
        "a1": t.D * t.e1,
        "a2": t.C * t.e2,
        "leak": t.leak,
        "worst": t.worst,
        "firing": t.firing,
        "gamma_III": condition_iii(cfg, leak_grid),
        "gamma_IV": gamma_iv(t.A, t.C, t.D, t.e1, t.e2),
    }
    return {k: np.broadcast_to(np.asarray(v, float), shape).copy() for k, v in out.items()}


def optimum(cfg: LIFConfig) -> tuple[dict[str, float | None], list[str]]:
    """The recommended point: γ_III, then β* and q* at that dampening (the current leak is kept).

    It does not depend on the current dampening or sharpness, so it is cached on the rest of the setting:
    moving those sliders never re-solves it.
    """
    # β* replaces the sharpness, except for the q-PseudoSpike shape, whose q* is solved at it
    solved = ("dampening", "sharpness") if cfg.shape != "qpseudospike" else ("dampening",)
    return _optimum_cached(Keyed(cfg, fields_except(*solved), digits=None))


@functools.lru_cache(maxsize=256)
def _optimum_cached(key: Keyed) -> tuple[dict[str, float | None], list[str]]:
    cfg = key.cfg
    notes: list[str] = []
    g3 = float(condition_iii(cfg))
    point: dict[str, float | None] = {"dampening": None, "sharpness": None, "tail": None, "leak": cfg.leak}
    if not (math.isfinite(g3) and g3 > 0):
        return point, ["optimum: condition III is unattainable"]
    at = cfg.replace(dampening=g3)
    if at.voltage_model == "measured":
        at = at.replace(voltage_model="gaussian")  # the optimum marker never waits on a simulation
    v = voltage_state(at)
    beta, why_b = sharpness_star(at, v)
    q, why_q = tail_star(at, v)
    point.update(dampening=g3, sharpness=beta, tail=q)
    notes += [f"optimum: {w}" for w in (why_b,) if w]
    return point, notes


def _conditions_law_grid(cfg: LIFConfig, leak: np.ndarray, notes: list[str]) -> WeightLaw:
    mean = condition_i(cfg, leak)
    var = condition_ii(cfg, mean)
    if np.any(var < 0):
        notes.append("condition II is unattainable for part of the leak axis (σ_rec² < 0 clipped to 0)")
    return WeightLaw("normal", mean, np.sqrt(np.maximum(var, 0.0)))


def _condition_curves(cfg, x, y, xs, ys, e1, e2, A, C, D, leak) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """γ_III and γ_IV along the other axis when one axis is the dampening."""
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if "dampening" not in (x, y):
        return curves
    other, vals = (x, xs) if y == "dampening" else (y, ys)
    along = lambda arr: np.broadcast_to(np.asarray(arr, float).squeeze(), vals.shape).copy()
    g3 = along(condition_iii(cfg, leak))
    g4 = along(gamma_iv(A, C, D, e1, e2))
    for name, gam in (("gamma_III", g3), ("gamma_IV", g4)):
        pts = (vals, gam) if y == "dampening" else (gam, vals)
        curves[name] = pts
    return curves


def rate_curve(
    cfg: LIFConfig, param: str, values: Any, models: tuple[str, ...] = ("uniform", "gaussian")
) -> dict[str, np.ndarray]:
    """Predicted firing rate as ``param`` ("leak" or "rec_mean") sweeps ``values``, per voltage model.

    For "rec_mean" the recurrent weights become normal(values, current std).
    """
    check_choice("param", param, ("leak", "rec_mean"))
    values = np.asarray(check_values(param, values, max_count=100_000), float)
    if not (isinstance(models, (tuple, list)) and models):
        raise ValueError(f"models = {show(models)} must be a non-empty list of: uniform, gaussian")
    for m in models:
        check_choice("model", m, ("uniform", "gaussian"))
    out: dict[str, np.ndarray] = {}
    if param == "leak":
        for m in models:
            out[m] = np.broadcast_to(voltage_state(cfg, m, leak=values).firing_rate, values.shape).copy()
        return out
    if param != "rec_mean":
        raise ValueError(f"param = {param!r} is not one of: leak, rec_mean")
    law = recurrent_law(cfg)
    rec = WeightLaw("normal", values, np.full_like(values, float(law.std)))
    for m in models:
        if m == "gaussian":
            out[m] = gaussian_voltage(cfg, rec=rec).firing_rate
        elif m == "uniform":
            out[m] = uniform_voltage(cfg, rec=rec).firing_rate
    return out


def voltage_density(cfg: LIFConfig, v: Any, models: tuple[str, ...] = ("uniform", "gaussian")) -> dict[str, np.ndarray]:
    """The voltage density each model assumes, evaluated at voltages ``v`` (for the histogram overlay)."""
    v = np.asarray(v, float)
    out = {}
    for m in models:
        s = voltage_state(cfg, m)
        if m == "uniform":
            width = float(s.high - s.low)
            out[m] = np.where((v >= s.low) & (v <= s.high), 1.0 / width if width > 0 else np.inf, 0.0)
        else:
            sd = float(s.std)
            out[m] = np.exp(-0.5 * ((v - float(s.mean)) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
    return out
