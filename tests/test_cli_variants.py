"""The neuron-variant options of the CLI: `simulate` measures an alif or cuba layer, bad values are one
line naming the option, and measure-map maps the chosen neuron (tests/test_measured_variants.py)."""

import json
import math

import pytest
from test_cli import run


def test_simulate_measures_the_chosen_neuron():
    base = ("simulate", "--preset", "shd-tau20", "--n-rec", "32", "--batch", "4", "--sim-steps", "120", "--json")
    lif = json.loads(run(*base).stdout)
    alif = json.loads(run(*base, "--neuron", "alif", "--beta-a", "0.5", "--tau-adapt", "50", "--no-adapt-grad").stdout)
    assert alif["measured"]["firing_rate"] < lif["measured"]["firing_rate"]  # adaptation fires less
    assert any("alif: per-step gain predicted" in n for n in alif["measured"]["notes"])
    predicted = alif["predicted"]["gaussian"]  # the alif's own theory, with its weakness stated
    assert predicted["notes"][0].startswith("alif: the gain theory")
    assert predicted["firing_rate"] < lif["predicted"]["gaussian"]["firing_rate"]


def test_the_tau_options_set_the_decays():
    from stabviz.cli.options import lif_config_from_args, lif_options

    args = lif_options().parse_args(["--neuron", "cuba", "--tau-syn", "5", "--tau-adapt", "200"])
    cfg = lif_config_from_args(args)
    assert cfg.neuron == "cuba" and cfg.syn_decay == pytest.approx(math.exp(-1 / 5))
    assert cfg.adapt_decay == pytest.approx(math.exp(-1 / 200))


@pytest.mark.parametrize(
    "args, needle",
    [
        (
            ["simulate", "--neuron", "alif", "--tau-adapt", "-3"],
            "tau_adapt = -3.0 is outside the allowed range (0, inf)",
        ),
        (
            ["simulate", "--neuron", "alif", "--beta-a", "-1"],
            "adapt_strength = -1.0 is outside the allowed range [0, 100]",
        ),
        (["simulate", "--neuron", "hh"], "--neuron"),
        (["measure-map", "--neuron", "cuba", "--tau-syn", "0"], "tau_syn = 0.0 is outside the allowed range"),
    ],
)
def test_bad_variant_input_is_one_line_and_status_2(args, needle):
    out = run(*args, check=False)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in out.stderr


VARIANT_ARGS = ["--neuron", "cuba", "--tau-syn", "3", "--beta-a", "0.5", "--tau-adapt", "40", "--no-adapt-grad"]
#: every command that builds a LIF layer (check reads the neuron from the user's own network instead)
LIF_COMMANDS = [
    ["recommend"],
    ["region"],
    ["simulate"],
    ["measure-map"],
    ["translate"],
    ["bench", "lif"],
    ["bench", "ensemble"],
    ["train"],
    ["submit"],
    ["sweep", "--x", "lr", "--x-values", "0.1"],
]


@pytest.mark.parametrize("command", LIF_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_that_builds_a_lif_takes_the_neuron_and_its_parameters(command):
    from stabviz.cli import build_parser
    from stabviz.cli.options import lif_config_from_args

    args = build_parser().parse_args(command + VARIANT_ARGS)
    cfg = lif_config_from_args(args)
    assert (cfg.neuron, cfg.adapt_strength, cfg.adapt_grad) == ("cuba", 0.5, False)
    assert cfg.syn_decay == pytest.approx(math.exp(-1 / 3)) and cfg.adapt_decay == pytest.approx(math.exp(-1 / 40))


def test_a_sweep_goes_over_the_variant_parameters_by_their_option_names():
    from stabviz.config import LIFConfig, TrainConfig
    from stabviz.runs.sweep import apply_point, parse_values, sweep_points

    base = TrainConfig(lif=LIFConfig(neuron="alif"))
    points = sweep_points("tau_syn", parse_values("tau_syn", "2,8"), "beta_a", parse_values("beta_a", "0,1.5"))
    cfgs = [apply_point(base, p).lif for p in points]
    assert [c.syn_decay for c in cfgs] == pytest.approx([math.exp(-1 / 2), math.exp(-1 / 8)] * 2)
    assert [c.adapt_strength for c in cfgs] == [0.0, 0.0, 1.5, 1.5]
    assert apply_point(base, {"tau_adapt": 50.0}).lif.adapt_decay == pytest.approx(math.exp(-1 / 50))
    assert apply_point(base, {"neuron": "cuba"}).lif.neuron == "cuba"
    with pytest.raises(ValueError, match=r"tau_syn = -1.0 is outside the allowed range \(0, inf\)"):
        apply_point(base, {"tau_syn": -1.0})


def test_a_cli_sweep_over_tau_syn_records_cuba_runs(tmp_path, monkeypatch, capsys):
    from stabviz.cli import main
    from stabviz.runs import LocalLauncher, RunStore

    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("STABVIZ_WORKER_IDLE_S", "1")
    monkeypatch.delenv("STABVIZ_WORKERS", raising=False)
    tiny = [
        "--n-rec",
        "16",
        "--n-in",
        "20",
        "--time-steps",
        "10",
        "--train-steps",
        "3",
        "--batch",
        "8",
        "--samples",
        "40",
        "--classes",
        "2",
        "--log-every",
        "1",
        "--device",
        "cpu",
    ]
    try:
        sweep_args = ["sweep", "--x", "tau_syn", "--x-values", "2,8", "--neuron", "cuba", *tiny, "--wait", "--json"]
        assert main(sweep_args) == 0
        sweep = json.loads(capsys.readouterr().out)
        assert [r["status"] for r in sweep["runs"]] == ["finished", "finished"]
        assert [r["sweep_label"] for r in sweep["runs"]] == ["tau_syn=2", "tau_syn=8"]
        assert main(["runs", "show", sweep["runs"][1]["id"], "--json"]) == 0
        lif = json.loads(capsys.readouterr().out)["config"]["lif"]
        assert lif["neuron"] == "cuba" and lif["syn_decay"] == pytest.approx(math.exp(-1 / 8))
    finally:
        LocalLauncher(RunStore(tmp_path / "stabviz.db")).shutdown(timeout=10)


def test_bench_lif_times_the_chosen_neuron_and_translate_names_each_librarys_neuron(capsys):
    import torch

    from stabviz.cli import main

    threads = torch.get_num_threads()
    try:
        assert (
            main(
                [
                    "bench",
                    "lif",
                    "--n",
                    "16",
                    "--batch",
                    "2",
                    "--steps",
                    "5",
                    "--reps",
                    "1",
                    "--threads",
                    "1",
                    "--neuron",
                    "alif",
                    "--json",
                ]
            )
            == 0
        )
    finally:
        torch.set_num_threads(threads)
    assert json.loads(capsys.readouterr().out)["neuron"] == "alif"
    assert main(["translate", "--neuron", "alif", "--json"]) == 0
    neurons = {t["library"]: t for t in json.loads(capsys.readouterr().out)["neuron"]}
    assert neurons["snntorch"]["neuron"] is None and "no adaptive-threshold neuron" in neurons["snntorch"]["note"]
    assert neurons["pytorch"]["neuron"] == "your own loop"
    assert main(["translate", "--neuron", "cuba", "--tau-syn", "4"]) == 0
    assert "LIFCell: α_s = 1 − dt·tau_syn_inv: dt·tau_syn_inv = 0.221199" in capsys.readouterr().out
