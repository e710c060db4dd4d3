"""The paper's firing-rate control term for a first phase, TrainConfig.rate_control = (f0, λ, steps): it pulls the
rates toward f0 in both training loops (a lone run and an ensemble, DECOLLE included), stops after ``steps``,
round-trips through a stored run's JSON and is refused on one line when out of range."""

import json

import pytest
import torch

from stabviz import train
from stabviz.cli import main
from stabviz.cli.options import train_config_from_args
from stabviz.config import LIFConfig, TrainConfig


def small(**kw) -> TrainConfig:
    base = dict(
        lif=LIFConfig(n_rec=24, n_in=30, seed=0),
        classes=3,
        samples=120,
        time_steps=15,
        train_steps=12,
        batch=16,
        lr=2e-2,
        log_every=4,
        device="cpu",
    )
    return TrainConfig(**{**base, **kw})


def rates(summary):
    return summary["final"]["firing_rate"]


def test_the_term_is_the_mean_absolute_rate_error_summed_over_layers():
    spikes = [torch.zeros(2, 5, 4), torch.ones(2, 5, 4)]
    spikes[0][0, :, :2] = 1.0  # layer 0 fires at a quarter of the entries
    assert float(train.rate_control_loss(spikes, 0.5)) == pytest.approx(0.25 + 0.5)
    member = torch.stack([spikes[0], spikes[0]]), torch.stack([spikes[1], spikes[1]])
    per_member = train.rate_control_loss(list(member), torch.tensor([0.5, 0.25]))
    assert per_member.tolist() == pytest.approx([0.75, 0.75 + 0.0])


def test_the_weight_acts_only_in_the_first_phase():
    cfg = small(rate_control=(0.2, 3.0, 5))
    assert [train.rate_control_weight(cfg, k) for k in (0, 4, 5, 11)] == [3.0, 3.0, 0.0, 0.0]
    assert train.rate_control_weight(small(), 0) == 0.0


@pytest.mark.parametrize("target", [0.05, 0.5])
def test_a_lone_run_is_pulled_toward_f0(target):
    free = train.run(small())
    pulled = train.run(small(rate_control=(target, 20.0, 12)))
    before, after = abs(rates(free)[0] - target), abs(rates(pulled)[0] - target)
    assert after < before - 0.02, (free["final"]["firing_rate"], pulled["final"]["firing_rate"])


def test_lambda_zero_changes_nothing_and_the_ensemble_loop_matches_the_lone_one():
    plain, zero = train.run(small()), train.run(small(rate_control=(0.3, 0.0, 12)))
    assert zero["final"]["loss"] == pytest.approx(plain["final"]["loss"], rel=1e-6)
    cfgs = [
        small(rate_control=(0.5, 20.0, 6)),
        small(),
        small(lif=LIFConfig(n_rec=24, n_in=30, seed=1), rate_control=(0.05, 5.0, 12)),
    ]
    together = train.run_ensemble([(c, None) for c in cfgs])
    for cfg, got in zip(cfgs, together):
        alone = train.run(cfg)
        assert got["final"]["loss"] == pytest.approx(alone["final"]["loss"], rel=1e-3)
        assert rates(got) == pytest.approx(rates(alone), abs=2e-3)


def test_decolle_takes_the_term_in_every_layer():
    local = dict(layers=2, local_losses=True, lif=LIFConfig(n_rec=24, n_in=30, seed=0, threshold=0.5))
    free = train.run(small(**local))
    pulled = train.run(small(**local, rate_control=(0.5, 20.0, 12)))
    for layer in (0, 1):
        assert abs(rates(pulled)[layer] - 0.5) < abs(rates(free)[layer] - 0.5) - 0.02, (rates(free), rates(pulled))


def test_the_stored_config_round_trips_and_is_left_out_when_off():
    cfg = small(rate_control=(0.158, 1.0, 50))
    stored = json.loads(json.dumps(cfg.to_dict()))
    assert stored["rate_control"] == [0.158, 1.0, 50]
    assert TrainConfig.from_dict(stored) == cfg and TrainConfig.from_dict(stored).rate_control == (0.158, 1.0, 50)
    assert "rate_control" not in small().to_dict()  # stored runs before it keep their identity


@pytest.mark.parametrize(
    "value, message",
    [
        ((1.0, 1.0, 5), r"rate_control f0 = 1\.0 is outside the allowed range \(0, 1\)"),
        ((0.0, 1.0, 5), r"rate_control f0 = 0\.0 is outside the allowed range \(0, 1\)"),
        ((0.2, -1.0, 5), r"rate_control λ = -1\.0 is outside the allowed range \[0, 1000000\]"),
        ((0.2, 1.0, 0), r"rate_control steps = 0 is outside the allowed range \[1, 1000000\]"),
        ((0.2, 1.0, 2.5), r"rate_control steps = 2\.5 must be a whole number"),
        ((0.2, 1.0), r"rate_control = \(0\.2, 1\.0\) must be three numbers \(f0, λ, steps\)"),
        ("0.2,1,5", r"must be three numbers"),
    ],
)
def test_bad_values_are_one_clear_message(value, message):
    with pytest.raises(ValueError, match=message):
        small(rate_control=value)


@pytest.mark.parametrize("command", ["train", "submit"])
def test_the_cli_option_sets_it_and_refuses_bad_values_on_one_line(command, capsys):
    from stabviz.cli import build_parser

    args = build_parser().parse_args([command, "--rate-control", "0.158,2,40"])
    assert train_config_from_args(args).rate_control == (0.158, 2.0, 40)
    for text, said in [
        ("0.158,2", "has 2 values"),
        ("1.5,1,3", "rate_control f0 = 1.5 is outside"),
        ("0.1,-2,3", "rate_control λ = -2.0 is outside"),
        ("0.1,1,0", "rate_control steps = 0"),
        ("x,1,2", "is not three numbers"),
    ]:
        assert main([command, "--rate-control", text]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--rate-control" in err and said in err, err


def test_cli_train_with_rate_control_and_local_losses_prints_each_layers_rates_apart(capsys):
    args = [
        "train",
        "--n-rec",
        "16",
        "--n-in",
        "20",
        "--classes",
        "3",
        "--samples",
        "60",
        "--time-steps",
        "10",
        "--steps",
        "4",
        "--batch",
        "8",
        "--device",
        "cpu",
        "--layers",
        "2",
        "--local-losses",
        "--rate-control",
        "0.2,5,4",
    ]
    assert main(args) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("firing rate per layer"))
    assert len(line.split()) == 4 + 4, line  # 4 words of label, then 2 layers × (initial, final)
