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
    assert alif["measured"]["firing_rate"] < lif["measured"]["firing_rate"]     # adaptation fires less
    assert any("alif: per-step gain predicted" in n for n in alif["measured"]["notes"])
    predicted = alif["predicted"]["gaussian"]              # the alif's own theory, with its weakness stated
    assert predicted["notes"][0].startswith("alif: the gain theory")
    assert predicted["firing_rate"] < lif["predicted"]["gaussian"]["firing_rate"]


def test_the_tau_options_set_the_decays():
    from stabviz.cli.options import lif_config_from_args, lif_options
    args = lif_options().parse_args(["--neuron", "cuba", "--tau-syn", "5", "--tau-adapt", "200"])
    cfg = lif_config_from_args(args)
    assert cfg.neuron == "cuba" and cfg.syn_decay == pytest.approx(math.exp(-1 / 5))
    assert cfg.adapt_decay == pytest.approx(math.exp(-1 / 200))


@pytest.mark.parametrize("args, needle", [
    (["simulate", "--neuron", "alif", "--tau-adapt", "-3"], "tau_adapt = -3.0 is outside the allowed range (0, inf)"),
    (["simulate", "--neuron", "alif", "--beta-a", "-1"], "adapt_strength = -1.0 is outside the allowed range [0, 100]"),
    (["simulate", "--neuron", "hh"], "--neuron"),
    (["measure-map", "--neuron", "cuba", "--tau-syn", "0"], "tau_syn = 0.0 is outside the allowed range"),
])
def test_bad_variant_input_is_one_line_and_status_2(args, needle):
    out = run(*args, check=False)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in out.stderr
