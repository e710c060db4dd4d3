"""The Python API's validation (stabviz.config's one rule, see its module docstring), by example and by fuzz.

Whatever value a field is given, LIFConfig / preset / TrainConfig either raise ValueError (naming the
field, with the value cut to ~60 characters) or give a config whose every field has its plain type and
range, and that the theory can use: predict and recommend return. The region grid functions accept only
axis names, sizes and ranges inside the same RANGES table.

The fuzz runs derandomized (the same cases on every machine) with fixed example budgets: 1350 cases
(300 + 150 + 300 + 300 + 150 + 150, plus ~250 draws hypothesis filters out) in ~19 s on two shared cores.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from stabviz import theory
from stabviz.config import (
    DEVICES,
    FORMULAS,
    IN_INITS,
    INITS,
    LOSSES,
    NEURONS,
    PRESETS,
    RANGES,
    RESETS,
    SHAPES,
    TASKS,
    TRAIN_RANGES,
    VOLTAGE_MODELS,
    LIFConfig,
    TrainConfig,
    preset,
)


def fuzz(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# The oracle, written apart from stabviz.config's implementation of the rule.
INTEGER_FIELDS = {
    "n_rec",
    "n_in",
    "steps",
    "seed",
    "layers",
    "train_steps",
    "batch",
    "time_steps",
    "classes",
    "samples",
    "manifold_dim",
    "log_every",
}


def as_real(v):
    """The module docstring's rule: the number ``v`` stands for, or None where it is not one."""
    if isinstance(v, (bool, np.bool_, str, bytes, bytearray)):
        return None
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating, Decimal, Fraction)):
        try:
            return float(v)
        except (ArithmeticError, ValueError):
            return None
    return None


def inside(name, v, ranges=RANGES) -> bool:
    """Is ``v`` a number (by the rule) inside ``ranges[name]``?"""
    x = as_real(v)
    lo, hi, lo_in, hi_in = ranges[name]
    return (
        x is not None
        and not (isinstance(x, float) and not math.isfinite(x))
        and (x >= lo if lo_in else x > lo)
        and (x <= hi if hi_in else x < hi)
    )


LIF_CHOICES = {
    "reset": RESETS,
    "init_rec": INITS,
    "init_in": IN_INITS,
    "shape": SHAPES,
    "voltage_model": VOLTAGE_MODELS,
    "formula": FORMULAS,
    "neuron": NEURONS,
}
LIF_FLAGS = ("reset_grad", "adapt_grad")
TRAIN_CHOICES = {"task": TASKS, "loss": LOSSES, "device": DEVICES}
TRAIN_FLAGS = ("use_recommended_setting", "local_losses")

#: a ValueError's message: "<name> = <value cut to ~60 chars> <why and what is allowed>"
MAX_MESSAGE = 60 + 200


def assert_good_error(err: ValueError, names) -> None:
    text = str(err)
    assert any(text.startswith(f"{n} ") for n in names), text  # it names the parameter
    assert len(text) <= MAX_MESSAGE and "\n" not in text, text  # the value is cut


# ---------------------------------------------------------------------------------------------
# Strategies: anything at all, and values that should pass


def _np_scalars():
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(np.float64),
        st.floats(width=32).map(np.float32),
        st.integers(-(2**62), 2**62).map(np.int64),
        st.booleans().map(np.bool_),
    )


ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.integers(-(10**400), 10**400),
    st.just(10**5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.just(Decimal("sNaN")),
    st.fractions(),
    st.just(Fraction(10**400, 3)),
    st.text(max_size=80),
    st.text(min_size=200, max_size=2000),
    st.binary(max_size=40),
    st.lists(st.floats(allow_nan=False), max_size=3),
    st.complex_numbers(max_magnitude=10),
    _np_scalars(),
    st.sampled_from([np.array([1.0, 2.0]), np.array(0.5), {"a": 1}, object(), "0.5", b"1", "nan", "1e3", [0.5]]),
)


def mostly(good: st.SearchStrategy, junk: st.SearchStrategy, tenths: int = 8) -> st.SearchStrategy:
    """``good`` ``tenths``/10 of the time, else ``junk`` (st.one_of would weigh each of ANYTHING's branches)."""
    return st.integers(0, 9).flatmap(lambda k: good if k < tenths else junk)


def _in_range(name: str, ranges) -> st.SearchStrategy:
    lo, hi, lo_in, hi_in = ranges[name]
    if name in INTEGER_FIELDS:
        ints = st.integers(int(lo), int(hi))
        return st.one_of(ints, ints.map(float), ints.map(np.int64), ints.map(Decimal))
    floats = st.floats(lo, hi, exclude_min=not lo_in, exclude_max=not hi_in)
    return st.one_of(
        floats, floats.map(np.float64), floats.map(lambda v: Decimal(repr(v))), st.just(lo if lo_in else hi)
    )


def _valid(name: str, ranges, choices, flags) -> st.SearchStrategy:
    if name in choices:
        return st.sampled_from(choices[name])
    if name in flags:
        return st.one_of(st.booleans(), st.booleans().map(np.bool_))
    return _in_range(name, ranges)


@st.composite
def field_values(draw, fields, ranges, choices, flags):
    """A dict over a random subset of ``fields``: all valid values half the time, else some anything at all."""
    junk_weight = draw(st.sampled_from([0.0, 0.0, 0.05, 0.3]))
    out = {}
    for name in draw(st.lists(st.sampled_from(fields), unique=True, max_size=len(fields))):
        junk = draw(st.floats(0, 1)) < junk_weight
        out[name] = draw(ANYTHING if junk else _valid(name, ranges, choices, flags))
    return out


LIF_FIELDS = tuple(f.name for f in dataclasses.fields(LIFConfig))
TRAIN_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(TrainConfig)
    if f.name not in ("lif", "data_path", "initial_rate", "rate_control")
)
#: TrainConfig.rate_control: None or (f0, λ, steps) inside config.RATE_CONTROL_RANGES
RATE_CONTROLS = st.one_of(
    st.none(),
    st.tuples(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True), st.floats(0.0, 1e6), st.integers(1, 1_000_000)),
)
lif_values = field_values(LIF_FIELDS, RANGES, LIF_CHOICES, LIF_FLAGS)


def assert_plain_and_in_range(obj, ranges, choices, flags, optional=()) -> None:
    """Every field of a validated config has its plain Python type and lies in its range."""
    for name in ranges:
        v = getattr(obj, name)
        if name in optional and v is None:
            continue
        assert type(v) is (int if name in INTEGER_FIELDS else float), (name, v)
        assert inside(name, v, ranges), (name, v)
    for name in choices:
        assert type(getattr(obj, name)) is str and getattr(obj, name) in choices[name]
    for name in flags:
        assert type(getattr(obj, name)) is bool


def assert_usable(cfg: LIFConfig) -> None:
    """The theory runs on a validated config (the measured model would simulate: the gaussian stands in).

    Three known exceptions, all setting-dependent rather than a field's value: init_rec = "conditions"
    raises ValueError where condition II has no solution (conditions.recurrent_law: it says so and what to do),
    a fluctuation-driven init_in where its target has none or there is no input (laws.fluctuation_law), and a weight std
    below ~1e-154, which laws.positive_part_mean handles without an overflow warning
    (test_a_tiny_weight_std_gives_no_overflow_warning)."""
    if cfg.voltage_model == "measured":
        cfg = cfg.replace(voltage_model="gaussian")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)
        try:
            pred = theory.predict(cfg)
            rec = theory.recommend(cfg)
        except ValueError as err:
            if cfg.init_in.startswith("fluctuation") and str(err).startswith(f"init_in = {cfg.init_in!r}"):
                event("fluctuation target unattainable")
                return
            assert cfg.init_rec == "conditions" and "condition II is unattainable" in str(err), err
            event("condition II unattainable")
            return
    json.dumps(pred.to_dict(), allow_nan=False)
    json.dumps(rec.to_dict(), allow_nan=False)


@pytest.mark.parametrize("init", ["uniform", "normal"])
def test_a_tiny_weight_std_gives_no_overflow_warning(init):
    cfg = preset("shd-tau20", init_in=init, in_mean=1.0, in_std=5e-324)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        pred = theory.predict(cfg)
    assert pred.firing_rate == theory.predict(cfg.replace(in_std=0.0)).firing_rate


# ---------------------------------------------------------------------------------------------
# Issue 9, by example: each of these failed before the one validation path


def test_text_and_bytes_are_not_numbers():
    for raw in ("0.5", b"0.5", bytearray(b"1")):
        with pytest.raises(ValueError, match=r"dampening = .* is text, not a number; allowed range \(0, 1000\]"):
            preset("shd-tau20", dampening=raw)
    with pytest.raises(ValueError, match="lr = '0.01' is text"):
        TrainConfig(lr="0.01")
    with pytest.raises(ValueError, match="initial_rate = '0.5' is text"):
        TrainConfig(initial_rate="0.5")


def test_decimal_and_fraction_become_plain_floats():
    cfg = preset("shd-tau20", dampening=Decimal("0.5"), sharpness=Fraction(3, 2), n_rec=Decimal(64))
    assert (cfg.dampening, cfg.sharpness, cfg.n_rec) == (0.5, 1.5, 64)
    assert type(cfg.dampening) is float and type(cfg.sharpness) is float and type(cfg.n_rec) is int
    assert cfg == preset("shd-tau20", dampening=0.5, sharpness=1.5, n_rec=64)  # same config, same hash
    assert theory.predict(cfg).regime in theory.VERDICTS
    with pytest.raises(ValueError, match="dampening = Decimal"):
        preset("shd-tau20", dampening=Decimal("NaN"))


def test_numpy_scalars_are_numbers_and_bools_are_not():
    cfg = LIFConfig(n_rec=np.int64(64), steps=np.float64(50.0), dampening=np.float32(0.5), reset_grad=np.bool_(True))
    assert (type(cfg.n_rec), type(cfg.steps), type(cfg.dampening), type(cfg.reset_grad)) == (int, int, float, bool)
    for name, value in (("dampening", True), ("n_rec", True), ("leak", np.bool_(False))):
        with pytest.raises(ValueError, match=f"{name} = .* is a boolean, not a number"):
            LIFConfig(**{name: value})
    with pytest.raises(ValueError, match="lr = True is a boolean"):
        TrainConfig(lr=True)


def test_huge_ints_are_refused_by_the_range_not_by_an_overflow():
    for kw in (dict(n_rec=10**400), dict(leak=10**400), dict(seed=-(10**5000)), dict(leak=Fraction(10**400, 3))):
        with pytest.raises(ValueError, match="outside the allowed range") as err:
            LIFConfig(**kw)
        assert_good_error(err.value, kw)
    with pytest.raises(ValueError, match="batch = <integer of about 401 digits> is outside"):
        TrainConfig(batch=10**400)


def test_integer_fields_must_be_integral():
    assert LIFConfig(n_rec=16.0).n_rec == 16 and type(LIFConfig(n_rec=16.0).n_rec) is int
    with pytest.raises(ValueError, match=r"steps = 2.5 must be a whole number in \[1, 100000\]"):
        LIFConfig(steps=2.5)
    with pytest.raises(ValueError, match="layers = 1.5 must be a whole number"):
        TrainConfig(layers=1.5)
    assert type(TrainConfig(layers=np.int64(2), batch=8.0).batch) is int


def test_values_in_messages_are_cut_to_sixty_characters():
    for kw in (dict(shape="x" * 10_000), dict(dampening="9" * 5000), dict(init_rec=["a" * 500] * 500)):
        with pytest.raises(ValueError) as err:
            LIFConfig(**kw)
        assert_good_error(err.value, kw)
    assert "…" in str(err.value)


def test_tau_is_a_number_like_any_other():
    assert LIFConfig().replace(tau=Decimal(20)).leak == pytest.approx(math.exp(-1 / 20))
    for bad in (True, "20", 0, -1.0, math.inf, None):
        with pytest.raises(ValueError, match="tau = "):
            LIFConfig().replace(tau=bad)


def test_train_config_checks_its_lif_and_every_choice():
    with pytest.raises(ValueError, match="lif = 'x' must be a LIFConfig"):
        TrainConfig(lif="x")
    with pytest.raises(ValueError, match="dampening = '1'"):
        TrainConfig(lif={"dampening": "1"})
    with pytest.raises(ValueError, match="task = \\['randman'\\] is not one of"):
        TrainConfig(task=["randman"])
    with pytest.raises(ValueError, match="use_recommended_setting = 1 must be true or false"):
        TrainConfig(use_recommended_setting=1)
    with pytest.raises(ValueError, match="data_path = 3 must be a file path"):
        TrainConfig(data_path=3)


# ---------------------------------------------------------------------------------------------
# The fuzz


@fuzz(300)
@given(lif_values)
def test_fuzz_lif_config(kw):
    try:
        cfg = LIFConfig(**kw)
    except ValueError as err:
        event("refused")
        assert_good_error(err, kw)
        return
    event("valid")
    assert_plain_and_in_range(cfg, RANGES, LIF_CHOICES, LIF_FLAGS)
    assert LIFConfig.from_dict(cfg.to_dict()) == cfg
    assert_usable(cfg)


@fuzz(150)
@given(mostly(st.sampled_from(sorted(PRESETS)), ANYTHING), lif_values)
def test_fuzz_preset(name, kw):
    try:
        cfg = preset(name, **kw)
    except ValueError as err:
        event("refused")
        assert_good_error(err, ["preset", *kw])
        return
    event("valid")
    assert_plain_and_in_range(cfg, RANGES, LIF_CHOICES, LIF_FLAGS)
    assert_usable(cfg)


@fuzz(300)
@given(
    field_values(TRAIN_FIELDS, TRAIN_RANGES, TRAIN_CHOICES, TRAIN_FLAGS),
    mostly(st.one_of(st.just(None), st.just(LIFConfig(n_rec=8)), lif_values), ANYTHING),
    mostly(st.one_of(st.none(), _in_range("initial_rate", TRAIN_RANGES)), ANYTHING),
    mostly(st.sampled_from(["data.h5", ""]), ANYTHING),
    mostly(RATE_CONTROLS, ANYTHING),
)
def test_fuzz_train_config(kw, lif, initial_rate, data_path, rate_control):
    kw = dict(kw, initial_rate=initial_rate, data_path=data_path, rate_control=rate_control)
    if lif is not None:
        kw["lif"] = lif
    try:
        cfg = TrainConfig(**kw)
    except ValueError as err:
        event("refused")
        assert_good_error(err, [*kw, *LIF_FIELDS])
        return
    event("valid")
    assert_plain_and_in_range(cfg, TRAIN_RANGES, TRAIN_CHOICES, TRAIN_FLAGS, optional=("initial_rate",))
    assert isinstance(cfg.lif, LIFConfig) and isinstance(cfg.data_path, str)
    assert cfg.rate_control is None or [type(v) for v in cfg.rate_control] == [float, float, int]
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    try:
        cfg.check_limits({"neurons": 1024, "layers": 3, "train_steps": 5000, "batch": 512, "time_steps": 1000})
    except ValueError as err:
        assert "above this machine's limit" in str(err)


# -- the region grid functions

REGION_CONFIGS = [
    preset("shd-tau20"),
    preset("paper-slmnist", shape="qpseudospike", reset_grad=True),
    preset("shd-tau20", init_rec="conditions", reset="mult1", voltage_model="uniform"),
]
AXIS_NAMES = tuple(theory.AXES)


def _axis_range(name: str) -> st.SearchStrategy:
    """A (low, high) pair inside RANGES[name], low < high."""
    lo, hi, lo_in, hi_in = RANGES[name]
    inside = st.floats(lo, hi, exclude_min=not lo_in, exclude_max=not hi_in)
    return st.tuples(inside, inside).map(sorted).filter(lambda p: p[0] < p[1]).map(tuple)


@st.composite
def region_args(draw):
    def pick(good, junk):
        return draw(mostly(good, junk))

    x = pick(st.sampled_from(AXIS_NAMES), ANYTHING)
    y = pick(st.sampled_from(AXIS_NAMES), ANYTHING)
    kw = {"x": x, "y": y, "nx": pick(st.integers(2, 6), ANYTHING), "ny": pick(st.integers(2, 6), ANYTHING)}
    for axis, key in ((x, "x_range"), (y, "y_range")):
        if draw(st.booleans()):
            good = _axis_range(axis) if axis in AXIS_NAMES else st.just((0.1, 0.2))
            wide = st.tuples(st.floats(), st.floats())  # anything a float can be, in any order
            kw[key] = pick(st.one_of(good, good.map(list), good.map(np.array)), st.one_of(wide, ANYTHING))
    for key in ("log_x", "log_y"):
        if draw(st.booleans()):
            kw[key] = pick(st.booleans(), ANYTHING)
    return kw


def _region_ok(kw) -> bool:
    """The oracle: are these region arguments inside the documented ranges?"""

    def size(n):
        if isinstance(n, (bool, np.bool_)) or not isinstance(
            n, (int, float, np.integer, np.floating, Decimal, Fraction)
        ):
            return False
        if isinstance(n, (int, np.integer)):
            return 2 <= int(n) <= 4000
        try:
            v = float(n)
        except (ValueError, OverflowError):
            return False
        return math.isfinite(v) and 2 <= v <= 4000 and v.is_integer()

    def rng(name, r, log):
        if r is None:
            return not (log and theory.AXES[name][0] <= 0)
        if not (isinstance(r, (tuple, list, np.ndarray)) and len(r) == 2):
            return False
        if not all(inside(name, v) for v in r):
            return False
        lo, hi = (as_real(v) for v in r)
        return lo < hi and not (log and lo <= 0)

    x, y = kw["x"], kw["y"]
    if not (isinstance(x, str) and isinstance(y, str) and x in AXIS_NAMES and y in AXIS_NAMES and x != y):
        return False
    logs = {k: kw.get(k) for k in ("log_x", "log_y")}
    if any(v is not None and not isinstance(v, (bool, np.bool_)) for v in logs.values()):
        return False
    log_x = theory.AXES[x][2] if logs["log_x"] is None else logs["log_x"]
    log_y = theory.AXES[y][2] if logs["log_y"] is None else logs["log_y"]
    return size(kw["nx"]) and size(kw["ny"]) and rng(x, kw.get("x_range"), log_x) and rng(y, kw.get("y_range"), log_y)


@fuzz(300)
@given(st.sampled_from(REGION_CONFIGS), region_args())
def test_fuzz_region(cfg, kw):
    try:
        reg = theory.region(cfg, **kw)
    except ValueError as err:
        event("refused")
        assert not _region_ok(kw), (kw, err)  # valid arguments never fail
        assert len(str(err)) <= MAX_MESSAGE, str(err)
        return
    event("valid")
    assert _region_ok(kw), kw  # invalid arguments never pass
    assert reg.rho2.shape == (int(kw["ny"]), int(kw["nx"])) == reg.regime.shape
    for name, values in ((reg.x_name, reg.x), (reg.y_name, reg.y)):
        assert all(inside(name, v) for v in values)  # every cell is in range
    json.dumps(reg.to_dict(), allow_nan=False)


VALUES = mostly(
    st.lists(st.floats(0, 0.9999), min_size=1, max_size=4).flatmap(
        lambda v: st.sampled_from([v, tuple(v), np.array(v), v[0]])
    ),
    st.one_of(ANYTHING, st.lists(ANYTHING, max_size=3), st.lists(st.floats(), min_size=0, max_size=4)),
    6,
)


@fuzz(150)
@given(
    st.sampled_from(REGION_CONFIGS),
    mostly(st.sampled_from(["sharpness", "tail", "leak"]), ANYTHING),
    mostly(st.sampled_from(AXIS_NAMES), ANYTHING),
    st.data(),
)
def test_fuzz_map_slices(cfg, x, along, data):
    if (
        isinstance(along, str) and along in AXIS_NAMES
    ):  # mostly values inside RANGES[along], as one number, a list, a tuple or an array
        good = st.lists(_in_range(along, RANGES), min_size=1, max_size=4).flatmap(
            lambda v: st.sampled_from([v, tuple(v), np.array(v, float), v[0]])
        )
        values = data.draw(mostly(good, VALUES, 6))
    else:
        values = data.draw(VALUES)
    try:
        out = theory.map_slices(cfg, x, along, values, nx=5)
    except ValueError as err:
        event("refused")
        assert len(str(err)) <= MAX_MESSAGE, str(err)
        return
    event("valid")
    vals = np.atleast_1d(np.asarray(values, float))
    assert all(inside(along, v) for v in vals)
    assert out["a0"].shape == (vals.size, 5)


@fuzz(150)
@given(
    st.sampled_from(REGION_CONFIGS),
    mostly(st.sampled_from(["leak", "rec_mean"]), ANYTHING),
    VALUES,
    mostly(
        st.one_of(
            st.just(("uniform", "gaussian")), st.lists(st.sampled_from(["uniform", "gaussian", "measured"]), max_size=2)
        ),
        ANYTHING,
    ),
)
def test_fuzz_rate_curve(cfg, param, values, models):
    try:
        out = theory.rate_curve(cfg, param, values, models)
    except ValueError as err:
        event("refused")
        assert len(str(err)) <= MAX_MESSAGE, str(err)
        return
    event("valid")
    vals = np.asarray(values, float)
    assert all(inside(param, v) for v in vals.ravel())
    assert set(out) == set(models)
