"""Seeds and intervals: the t interval against scipy and its coverage, and the group verdict of K real runs."""

import math

import numpy as np
import pytest
from scipy import stats

from stabviz import intervals, train
from stabviz.config import LIFConfig, TrainConfig
from stabviz.intervals import group_verdict, mean_interval


def test_the_interval_is_students_t_over_the_finite_values():
    iv = mean_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    # t_{0.975, 4} = 2.776445 (tables); s = sqrt(2.5)
    half = 2.7764451 * math.sqrt(2.5) / math.sqrt(5)
    assert iv.mean == 3.0 and iv.lo == pytest.approx(3 - half, rel=1e-6) and iv.hi == pytest.approx(3 + half, rel=1e-6)
    values = np.random.default_rng(1).normal(0.4, 0.05, size=7)
    ref = stats.t.interval(0.9, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    got = mean_interval([*values, None, math.nan, math.inf], confidence=0.9)
    assert (got.lo, got.hi) == pytest.approx(ref, rel=1e-12) and got.n == 7 and got.left_out == 3
    one = mean_interval([0.3, None])
    assert one.mean == 0.3 and one.lo is None and one.to_dict()["interval"] is None
    assert mean_interval([]).mean is None
    with pytest.raises(ValueError, match="confidence"):
        mean_interval([1.0, 2.0], confidence=1.0)


def test_the_95_percent_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    trials, k, mu = 4000, 4, 0.7
    covered = 0
    for sample in rng.normal(mu, 0.3, size=(trials, k)):
        iv = mean_interval(sample.tolist())
        covered += iv.lo <= mu <= iv.hi
    # binomial standard error sqrt(0.95·0.05/4000) = 0.0034: ±0.015 is more than four of them
    assert abs(covered / trials - 0.95) < 0.015


def _tiny(lif: LIFConfig, seed: int, time_steps: int) -> TrainConfig:
    """The initial probe is all a verdict reads: one optimiser step is enough."""
    return TrainConfig(
        lif=lif.replace(seed=seed),
        time_steps=time_steps,
        train_steps=1,
        batch=8,
        samples=40,
        classes=2,
        log_every=1,
        device="cpu",
    )


#: name -> (setting, time steps); measured with three seeds when this test was written:
#: "default" agrees, "mult1" refutes the rate (0.33 [0.27, 0.39] measured, 0.49 predicted: the gaussian model
#: is a subtractive-reset model), "mult1-conditions" refutes the gain (T·log10 ρ̂ 1.5 [0.9, 2.0], −2.5
#: predicted, band [−3.1, −0.8])
SETTINGS = {
    "default": (LIFConfig(n_rec=16, n_in=20), 10),
    "mult1": (LIFConfig(n_rec=32, n_in=20, reset="mult1"), 50),
    "mult1-conditions": (
        LIFConfig(
            n_rec=32,
            n_in=20,
            leak=0.4908,
            threshold=0.174,
            reset="mult1",
            init_rec="conditions",
            shape="gaussian",
            dampening=3.95,
            sharpness=1.38,
        ),
        20,
    ),
}


@pytest.fixture(scope="module")
def summaries():
    return {name: [train.run(_tiny(lif, seed, t)) for seed in range(3)] for name, (lif, t) in SETTINGS.items()}


def test_group_verdict_agrees_where_the_prediction_lies_in_the_widened_interval(summaries):
    g = group_verdict(summaries["default"])
    assert g["members"] == 3 and g["agrees"] is True and not g["notes"]
    rate, gain, rho = g["firing_rate"], g["log10_gain"], g["rho"]
    rates = [s["initial"]["firing_rate"][0] for s in summaries["default"]]
    assert rate["values"] == rates and rate["mean"] == pytest.approx(np.mean(rates))
    assert rate["interval"][0] < rate["mean"] < rate["interval"][1]
    assert rate["accepts"][0] <= rate["predicted"] <= rate["accepts"][1]
    steps = summaries["default"][0]["lif"]["steps"]
    assert gain["values"] == pytest.approx(
        [steps * math.log10(s["initial"]["grad_gain"]) for s in summaries["default"]]
    )
    # the widened interval is the band's width added around the interval
    lo, hi = gain["interval"]
    assert gain["accepts"] == pytest.approx(
        [lo - (gain["band"][1] - gain["predicted"]), hi + (gain["predicted"] - gain["band"][0])]
    )
    assert rho["accepts"] == pytest.approx([10 ** (a / steps) for a in gain["accepts"]])
    assert rho["agrees"] is gain["agrees"] is True


def test_group_verdict_refutes_the_rate_of_a_multiplicative_reset(summaries):
    g = group_verdict(summaries["mult1"])
    rate = g["firing_rate"]
    assert rate["agrees"] is False and g["agrees"] is False
    assert not rate["accepts"][0] <= rate["predicted"] <= rate["accepts"][1]
    assert rate["accepts"] == pytest.approx(list(intervals.rate_accepts(*rate["interval"])))


def test_group_verdict_refutes_a_gain_outside_the_band(summaries):
    g = group_verdict(summaries["mult1-conditions"])
    gain = g["log10_gain"]
    assert gain["agrees"] is False and g["rho"]["agrees"] is False and g["agrees"] is False
    assert gain["interval"][0] > gain["band"][1]  # the whole interval above the band: no overlap


def test_one_seed_is_the_single_run_rule_and_says_it_has_no_interval(summaries):
    for s in (x for group in summaries.values() for x in group):
        g = group_verdict([s])
        assert g["firing_rate"]["interval"] is None and g["notes"] == [intervals.NO_INTERVAL]
        assert g["firing_rate"]["agrees"] is s["verdict"]["firing_rate"]["agrees"]
        assert g["log10_gain"]["agrees"] is s["verdict"]["regime"]["agrees"]


def test_a_group_is_one_setting(summaries):
    with pytest.raises(ValueError, match="share their setting; these differ: .*reset"):
        group_verdict([summaries["default"][0], summaries["mult1"][0]])
    with pytest.raises(ValueError, match="at least one"):
        group_verdict([])
