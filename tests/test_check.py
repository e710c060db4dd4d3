"""stabviz.check on real, seeded networks from each library: rates against a plain forward pass, the gain
against a plain-autograd referee (retain_grad on the membranes), hazards on networks built to have them,
suggestions that move the re-measured network the promised way, the user's model left untouched, bad input."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from stabviz.check import check

snn = pytest.importorskip("snntorch", reason="snnTorch is not installed (requirements-dev.txt)")
from snntorch import surrogate  # noqa: E402

T, B, N_IN = 40, 8, 30


def spikes_in(seed=0, p=0.2, steps=T):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, B, N_IN, generator=g) < p).float()


class LoopNet(nn.Module):
    """snnTorch's tutorial shape: the forward runs the time loop and returns every layer's spikes."""

    def __init__(self, n=48, beta=0.9, threshold=1.0, sg=None, gain=1.0, bias=0.0):
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.fc2 = nn.Linear(N_IN, n), nn.Linear(n, n)
        with torch.no_grad():
            for fc in (self.fc1, self.fc2):
                fc.weight.mul_(gain)
                fc.bias.fill_(bias)
        self.lif1 = snn.Leaky(beta=beta, threshold=threshold, spike_grad=sg)
        self.lif2 = snn.Leaky(beta=beta, threshold=threshold, spike_grad=sg)

    def forward(self, x, keep=None):
        m1, m2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        s1s, s2s = [], []
        for t in range(x.shape[0]):
            s1, m1 = self.lif1(self.fc1(x[t]), m1)
            s2, m2 = self.lif2(self.fc2(s1), m2)
            if keep is not None:
                keep += [m1, m2]
            s1s.append(s1)
            s2s.append(s2)
        return torch.stack(s2s), torch.stack(s1s)


def fit(norms):
    """The documented fit, written again here: slope of log10 G against T − 1 − t, max(2, T/10) from each end."""
    steps = len(norms)
    trim = max(2, steps // 10)
    d = steps - 1 - np.arange(steps)
    keep = (d >= trim) & (d <= steps - 1 - trim)
    return np.polyfit(d[keep], np.log10(norms[keep]), 1)[0]


def test_snntorch_rates_match_a_plain_forward_and_gain_matches_retain_grad():
    net = LoopNet(gain=3.0, sg=surrogate.fast_sigmoid(slope=5))
    x = spikes_in()
    report = check(net, x, seeds=2).as_dict()
    json.dumps(report, allow_nan=False)
    with torch.no_grad():
        s2, s1 = net(x)
    assert [layer["name"] for layer in report["layers"]] == ["lif1", "lif2"]
    assert abs(report["layers"][0]["firing_rate"] - float(s1.mean())) < 1e-6
    assert abs(report["layers"][1]["firing_rate"] - float(s2.mean())) < 1e-6
    assert 0 < report["layers"][0]["firing_rate"] < 1
    # referee: ‖∂L/∂mem_t‖ by retain_grad, L the same seeded projection of the last step's output
    per_seed = []
    for seed in range(2):
        keep = []
        out, _ = net(x, keep)
        for m in keep:
            m.retain_grad()
        r = torch.randn(out[-1].shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        (r.float() * out[-1]).sum().backward()
        g = np.array(
            [
                math.sqrt(
                    float(keep[2 * t].grad.double().norm()) ** 2 + float(keep[2 * t + 1].grad.double().norm()) ** 2
                )
                for t in range(T)
            ]
        )
        per_seed.append(fit(g))
        net.zero_grad()
    measured = report["gain"]["log10_per_step"]
    assert measured == pytest.approx(np.mean(per_seed), rel=0.05)
    assert report["gain"]["over_T"] == pytest.approx(measured * T)
    assert report["predicted"][0]["regime"] in ("vanishing", "stable", "exploding", "uncertain")
    assert report["run"]["mode"] == "loop"


def test_the_model_is_left_exactly_as_it_was():
    net = LoopNet()
    net.fc2.weight.requires_grad_(False)
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict(keep_vars=False).items()}
    flags = [p.requires_grad for p in net.parameters()]
    mem_buffer = net.lif1.mem
    check(net, spikes_in(), seeds=1)
    after = net.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert [p.requires_grad for p in net.parameters()] == flags
    assert not net.training and net.lif1.mem is mem_buffer
    assert all(p.grad is None for p in net.parameters())


def test_a_dead_network_is_flagged_and_the_weight_scale_wakes_it():
    report = check(LoopNet(threshold=60.0), spikes_in(), seeds=2).as_dict()
    kinds = {(h["layer"], h["kind"]) for h in report["hazards"]}
    assert ("lif1", "dead") in kinds
    assert report["layers"][0]["firing_rate"] == 0.0
    scale = [s for s in report["suggestions"] if s["promise"] == "rate_up"]
    assert scale and scale[0]["confirmed"]
    assert scale[0]["measured"]["layers"][0]["firing_rate"] > 0


def test_a_saturated_network_is_flagged_and_the_scale_lowers_its_rate():
    report = check(LoopNet(bias=3.0, gain=0.1), spikes_in(), seeds=1).as_dict()
    assert ("lif1", "saturated") in {(h["layer"], h["kind"]) for h in report["hazards"]}
    down = [s for s in report["suggestions"] if s["promise"] == "rate_down"]
    assert down and all(s["confirmed"] for s in down)


def test_the_nan_prone_sigmoid_slope_is_flagged_and_fast_sigmoid_fixes_it():
    # snnTorch's sigmoid surrogate at slope 25 overflows once the membrane is ~3.5 below threshold
    net = LoopNet(sg=surrogate.sigmoid(slope=25), bias=-6.0)
    report = check(net, spikes_in(), seeds=1).as_dict()
    kinds = {h["kind"] for h in report["hazards"]}
    assert kinds & {"nan_surrogate", "nan_gradient"}
    fix = [s for s in report["suggestions"] if s["promise"] == "no_nan"]
    assert fix and fix[0]["confirmed"] and "fast_sigmoid" in fix[0]["code"]


def test_the_leak_suggestion_raises_the_remeasured_gain():
    report = check(LoopNet(beta=0.8), spikes_in(), seeds=2).as_dict()
    assert report["verdict"]["regime"] == "vanishing"
    up = [s for s in report["suggestions"] if s["promise"] == "gain_up"]
    assert up and all(s["confirmed"] for s in up)
    for s in up:
        assert s["measured"]["gain"]["log10_per_step"] > report["gain"]["log10_per_step"]


def test_a_vanishing_feedforward_leaky_layer_decays_at_its_leak():
    # dead layer, detached reset: ∂mem_t/∂mem_{t−1} = β exactly, so the gain is log10 β per step
    net = nn.Sequential(nn.Linear(N_IN, 16), snn.Leaky(beta=0.7, threshold=100.0, init_hidden=True, output=True))
    report = check(net, spikes_in(), seeds=1).as_dict()
    assert report["run"]["mode"] == "step"
    assert report["gain"]["log10_per_step"] == pytest.approx(math.log10(0.7), rel=1e-3)


@pytest.mark.parametrize("kind", ["RLeaky", "Synaptic", "RSynaptic"])
def test_the_other_snntorch_neurons_are_read_and_measured(kind):
    torch.manual_seed(0)
    cell = {
        "RLeaky": lambda: snn.RLeaky(beta=0.9, linear_features=24, init_hidden=True),
        "Synaptic": lambda: snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True),
        "RSynaptic": lambda: snn.RSynaptic(alpha=0.8, beta=0.9, linear_features=24, init_hidden=True),
    }[kind]()
    net = nn.Sequential(nn.Linear(N_IN, 24), cell)
    x = spikes_in(p=0.5)
    report = check(net, x, seeds=1).as_dict()
    layer = report["layers"][0]
    assert layer["kind"] == kind and layer["n"] == 24 and layer["leak"] == pytest.approx(0.9)
    # the plain forward: the same net stepped by hand from a fresh state
    net[1].reset_mem()
    with torch.no_grad():
        rate = float(torch.stack([net(x[t]) for t in range(T)]).mean())
    assert layer["firing_rate"] == pytest.approx(rate, abs=1e-6)
    assert report["gain"]["log10_per_step"] is not None


def test_norse_cells_sequential_state():
    norse = pytest.importorskip("norse.torch", reason="Norse is not installed (requirements-snn.txt)")
    torch.manual_seed(0)
    net = norse.SequentialState(nn.Linear(N_IN, 32), norse.LIFCell(), nn.Linear(32, 16), norse.LIFRecurrentCell(16, 16))
    x = spikes_in(p=0.5) * 50
    report = check(net, x, seeds=2).as_dict()
    assert [layer["kind"] for layer in report["layers"]] == ["LIFCell", "LIFRecurrentCell"]
    assert report["layers"][0]["leak"] == pytest.approx(0.9)
    state, zs = None, []
    with torch.no_grad():
        for t in range(T):
            out, state = net(x[t], state)
            zs.append(out)
    assert report["layers"][1]["firing_rate"] == pytest.approx(float(torch.stack(zs).mean()), abs=1e-6)
    assert report["gain"]["log10_per_step"] is not None


def test_norse_box_cell_is_read():
    norse = pytest.importorskip("norse.torch", reason="Norse is not installed (requirements-snn.txt)")
    torch.manual_seed(0)
    net = norse.SequentialState(nn.Linear(N_IN, 32), norse.LIFBoxCell())
    report = check(net, spikes_in(p=0.5) * 50, seeds=1).as_dict()
    assert report["layers"][0]["kind"] == "LIFBoxCell" and report["layers"][0]["reset_detached"] is False


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_spikingjelly_lif_nodes(step_mode):
    pytest.importorskip("spikingjelly", reason="SpikingJelly is not installed (requirements-snn.txt)")
    from spikingjelly.activation_based import functional, layer, neuron

    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Linear(N_IN, 32, step_mode=step_mode),
        neuron.LIFNode(step_mode=step_mode),
        layer.Linear(32, 16, step_mode=step_mode),
        neuron.ParametricLIFNode(step_mode=step_mode),
    )
    x = spikes_in(p=0.5) * 4
    report = check(net, x, seeds=2).as_dict()
    assert [layer["kind"] for layer in report["layers"]] == ["LIFNode", "ParametricLIFNode"]
    assert report["layers"][0]["leak"] == pytest.approx(0.5)
    functional.reset_net(net)
    with torch.no_grad():
        out = net(x) if step_mode == "m" else torch.stack([net(x[t]) for t in range(T)])
    assert report["layers"][1]["firing_rate"] == pytest.approx(float(out.mean()), abs=1e-6)
    assert report["run"]["mode"] == ("loop" if step_mode == "m" else "step")
    assert report["gain"]["log10_per_step"] is not None


def test_an_undetached_reset_with_a_steep_surrogate_is_flagged():
    pytest.importorskip("spikingjelly", reason="SpikingJelly is not installed (requirements-snn.txt)")
    from spikingjelly.activation_based import neuron
    from spikingjelly.activation_based import surrogate as sj_surrogate

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(N_IN, 32), neuron.LIFNode(surrogate_function=sj_surrogate.Sigmoid(alpha=16.0)))
    report = check(net, spikes_in(p=0.5) * 4, seeds=1).as_dict()
    assert "undetached_reset" in {h["kind"] for h in report["hazards"]}
    fix = [s for s in report["suggestions"] if "detach_reset=True" in s["code"]]
    assert fix


def test_bad_input_is_one_clear_value_error():
    net = LoopNet()
    with pytest.raises(ValueError, match="not a torch.nn.Module"):
        check("net", spikes_in())
    with pytest.raises(ValueError, match="no spiking layer.*found: Linear"):
        check(nn.Linear(3, 3), spikes_in())
    with pytest.raises(ValueError, match="floating-point"):
        check(net, spikes_in().long())
    with pytest.raises(ValueError, match="NaN"):
        check(net, spikes_in() * math.nan)
    with pytest.raises(ValueError, match="inputs shape"):
        check(net, torch.zeros(3))
    with pytest.raises(ValueError, match="seeds = 0"):
        check(net, spikes_in(), seeds=0)
    with pytest.raises(ValueError, match="could not be run"):
        check(net, torch.zeros(T, B, N_IN + 1))


FACTORY = """
import torch, snntorch as snn
from torch import nn
def make():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 16), snn.Leaky(beta=0.9, init_hidden=True, output=True))
    return net, (torch.rand(20, 4, 10) < 0.3).float()
def broken():
    raise RuntimeError("no data here")
"""


def test_cli_check_prints_json_and_refuses_a_broken_factory(tmp_path):
    (tmp_path / "userfactory.py").write_text(FACTORY)
    run = lambda *a: subprocess.run(
        [sys.executable, "-m", "stabviz", "check", *a],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(__import__("pathlib").Path.cwd())},
    )
    ok = run("--factory", "userfactory:make", "--json", "--seeds", "2")
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["layers"][0]["kind"] == "Leaky" and data["gain"]["T"] == 20
    text = run("--factory", "userfactory.py:make")
    assert text.returncode == 0 and "verdict:" in text.stdout
    bad = run("--factory", "userfactory:broken")
    assert bad.returncode == 2 and "RuntimeError: no data here" in bad.stderr and "Traceback" not in bad.stderr


def recurrent_net(sg, rec_gain):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(N_IN, 64), snn.RLeaky(beta=0.95, linear_features=64, spike_grad=sg, init_hidden=True))
    with torch.no_grad():
        net[1].recurrent.weight.mul_(rec_gain)
    return net


def test_a_tiny_surrogate_vanishes_and_the_measured_knob_search_lands_stable():
    x = spikes_in(p=0.3, steps=60)
    report = check(recurrent_net(surrogate.fast_sigmoid(slope=2000), 1.0), x, seeds=3).as_dict()
    assert report["verdict"]["regime"] == "vanishing"
    knobs = [s for s in report["suggestions"] if "fast_sigmoid" in s["code"]]
    assert knobs and all(s["confirmed"] and s["promise"] == "gain_up" for s in knobs)
    assert all(s["measured"]["gain"]["log10_per_step"] > report["gain"]["log10_per_step"] for s in knobs)
    assert any(s["measured"]["regime"] == "stable" for s in knobs)


def test_a_large_surrogate_with_strong_recurrence_explodes_and_the_knob_lowers_it():
    x = spikes_in(p=0.3, steps=60)
    report = check(recurrent_net(surrogate.atan(alpha=40), 4.0), x, seeds=3).as_dict()
    assert report["verdict"]["regime"] == "exploding"
    down = [s for s in report["suggestions"] if s["promise"] == "gain_down"]
    assert down and all(s["confirmed"] for s in down)
    assert all(s["measured"]["gain"]["log10_per_step"] < report["gain"]["log10_per_step"] for s in down)


def test_stabviz_lif_network_is_read_from_its_config():
    from stabviz.config import preset
    from stabviz.lif import LIFNetwork

    net = LIFNetwork(preset("shd-tau20", n_in=N_IN, n_rec=32, threshold=1.0, sharpness=0.05), n_layers=2, n_out=5)
    x = spikes_in(p=0.3)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    report = check(net, x, seeds=2).as_dict()
    assert [layer["name"] for layer in report["layers"]] == ["layer0", "layer1"]
    assert report["layers"][0]["surrogate"]["sharpness"] == pytest.approx(0.05)
    with torch.no_grad():
        _, spikes = net(x.transpose(0, 1))
    for layer, z in zip(report["layers"], spikes):
        assert layer["firing_rate"] == pytest.approx(float(z.mean()), abs=1e-6)
    assert report["verdict"]["regime"] == "exploding"
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net.dyn.sharpness == pytest.approx(0.05)
    down = [s for s in report["suggestions"] if s["promise"] == "gain_down"]
    assert down and all(s["confirmed"] for s in down)


def exported_nir(tmp_path):
    nir = pytest.importorskip("nir", reason="NIR is not installed (requirements-snn.txt)")
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    # snnTorch exports per-neuron parameters; reset "zero" is NIR's reset to v_reset = 0
    net = nn.Sequential(
        nn.Linear(N_IN, 32),
        snn.Leaky(beta=torch.full((32,), 0.9), threshold=torch.ones(32), reset_mechanism="zero", init_hidden=True),
        nn.Linear(32, 10),
        snn.Leaky(
            beta=torch.full((10,), 0.9), threshold=torch.ones(10), reset_mechanism="zero", init_hidden=True, output=True
        ),
    )
    path = tmp_path / "net.nir"
    nir.write(str(path), export_to_nir(net, spikes_in()[0, 0]))
    return net, path


def test_a_nir_round_trip_from_snntorch_gives_the_same_rates(tmp_path):
    from stabviz.check import check_nir

    net, path = exported_nir(tmp_path)
    x = spikes_in(p=0.3)
    mine = check(net, x, seeds=1).as_dict()
    theirs = check_nir(str(path), x, seeds=1).as_dict()
    assert [layer["library"] for layer in theirs["layers"]] == ["nir", "nir"]
    for a, b in zip(mine["layers"], theirs["layers"]):
        assert b["firing_rate"] == pytest.approx(a["firing_rate"], abs=1e-6)
        assert b["leak"] == pytest.approx(0.9, rel=1e-5)
    assert "NIR carries no surrogate" in theirs["layers"][0]["notes"][0]


def test_hostile_or_broken_nir_files_are_refused(tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py is not installed (NIR needs it)")
    from stabviz.check import check_nir

    _, good = exported_nir(tmp_path)
    truncated = tmp_path / "cut.nir"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ValueError, match="corrupt or truncated|could not read"):
        check_nir(str(truncated))
    with pytest.raises(ValueError, match="not an HDF5 file"):
        (tmp_path / "text.nir").write_text("import os")
        check_nir(str(tmp_path / "text.nir"))
    linked = tmp_path / "linked.nir"
    with h5py.File(linked, "w") as f:
        f["node"] = h5py.ExternalLink("/etc/passwd", "/")
    with pytest.raises(ValueError, match="ExternalLink"):
        check_nir(str(linked))
    huge = tmp_path / "huge.nir"
    with h5py.File(huge, "w") as f:
        f.create_dataset("node/w", shape=(2**20, 2**20), dtype="f4")  # declared, never written
    with pytest.raises(ValueError, match="above the limit|more than"):
        check_nir(str(huge))
    with pytest.raises(ValueError, match="does not exist"):
        check_nir(str(tmp_path / "missing.nir"))


def test_unsupported_nir_nodes_are_named_in_one_line():
    nir = pytest.importorskip("nir", reason="NIR is not installed (requirements-snn.txt)")
    from stabviz.check import check_nir

    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([4])),
            "th": nir.Threshold(threshold=np.ones(4)),
            "output": nir.Output(output_type=np.array([4])),
        },
        edges=[("input", "th"), ("th", "output")],
    )
    with pytest.raises(ValueError, match=r"NIR nodes not supported: th \(Threshold\)"):
        check_nir(graph)


def test_cli_checks_a_nir_file(tmp_path):
    _, path = exported_nir(tmp_path)
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(__import__("pathlib").Path.cwd())}
    out = subprocess.run(
        [sys.executable, "-m", "stabviz", "check", str(path), "--input-shape", "30,4", "--sharpness", "2", "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["run"]["surrogate_option"]["sharpness"] == 2.0 and data["gain"]["T"] == 30
    bad = subprocess.run(
        [sys.executable, "-m", "stabviz", "check", str(tmp_path / "nope.nir")], capture_output=True, text=True, env=env
    )
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_a_check_over_the_memory_limit_is_refused_before_the_measured_run(monkeypatch):
    from stabviz.check import core

    seen = []
    monkeypatch.setattr(core, "measure", lambda *a, **k: seen.append(a))
    monkeypatch.setenv("STABVIZ_MAX_MEMORY_MB", "1")
    with pytest.raises(ValueError, match=r"this check \(T = 40, 2 spiking layers.*over the 1 MB limit"):
        check(LoopNet(), spikes_in())
    assert not seen


def test_norse_whole_sequence_lif_and_its_state_is_untouched():
    norse = pytest.importorskip("norse.torch", reason="Norse is not installed (requirements-snn.txt)")
    torch.manual_seed(0)
    net = norse.SequentialState(nn.Linear(N_IN, 32), norse.LIF())
    x = spikes_in(p=0.5) * 50
    report = check(net, x, seeds=2).as_dict()
    assert report["run"]["mode"] == "loop" and report["layers"][0]["kind"] == "LIF"
    with torch.no_grad():
        out, _ = net(x)
    assert report["layers"][0]["firing_rate"] == pytest.approx(float(out.mean()), abs=1e-6)
    assert report["gain"]["log10_per_step"] is not None


def test_spikingjelly_state_and_modes_are_left_as_they_were():
    pytest.importorskip("spikingjelly", reason="SpikingJelly is not installed (requirements-snn.txt)")
    from spikingjelly.activation_based import neuron

    torch.manual_seed(0)
    node = neuron.LIFNode(step_mode="m")
    net = nn.Sequential(nn.Linear(N_IN, 16), node)
    with torch.no_grad():
        net(spikes_in(p=0.5)[:5] * 4)  # leaves a voltage in the node, as training would
    v = node.v.clone()
    check(net, spikes_in(p=0.5) * 4, seeds=1)
    assert torch.equal(node.v, v) and node.store_v_seq is False and node.step_mode == "m"


def test_stabviz_check_is_callable_as_the_docs_write_it():
    import stabviz

    report = stabviz.check(LoopNet(), spikes_in(), seeds=1)
    assert report.as_dict()["layers"][0]["library"] == "snntorch"
    assert stabviz.check_nir is stabviz.check.check_nir and stabviz.check.CheckReport is type(report)


def test_the_users_own_loss_replaces_the_projection():
    net, x = LoopNet(gain=3.0, sg=surrogate.fast_sigmoid(slope=5)), spikes_in()
    mine = check(net, x, seeds=1, loss=lambda out: out[0][-1].sum() * 0 + out[1][-1, :, 0].sum()).as_dict()
    default = check(net, x, seeds=1).as_dict()
    assert mine["run"]["loss"] == "your loss"
    assert mine["gain"]["log10_per_step"] != pytest.approx(default["gain"]["log10_per_step"], rel=1e-3)
    with pytest.raises(ValueError, match="scalar tensor"):
        check(net, x, seeds=1, loss=lambda out: out[0])


def test_a_convolutional_layer_is_measured_without_a_theory_prediction():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), snn.Leaky(beta=0.9, init_hidden=True, output=True))
    x = (torch.rand(T, B, 2, 15, generator=torch.Generator().manual_seed(0)) < 0.5).float() * 3
    report = check(net, x, seeds=1).as_dict()
    layer = report["layers"][0]
    assert layer["n"] == 4 * 15 and 0 < layer["firing_rate"] < 1
    assert report["predicted"][0]["regime"] is None and "no dense input weight" in report["predicted"][0]["why"]


def test_a_nir_graph_from_norse_gives_the_same_rates_with_norses_time_convention():
    norse = pytest.importorskip("norse.torch", reason="Norse is not installed (requirements-snn.txt)")
    pytest.importorskip("nir", reason="NIR is not installed (requirements-snn.txt)")
    from stabviz.check import check_nir

    torch.manual_seed(0)
    net = norse.SequentialState(nn.Linear(N_IN, 32), norse.LIFBoxCell(), nn.Linear(32, 10), norse.LIFBoxCell())
    x = spikes_in(p=0.5) * 20
    # Norse writes τ = dt/τ_mem⁻¹ with its dt = 1e-3, so α = 1 − dt/τ needs dt = 1e-6 here (docs/check.md)
    graph = norse.to_nir(net, x[0])
    mine, theirs = check(net, x, seeds=1).as_dict(), check_nir(graph, x, dt=1e-6, seeds=1).as_dict()
    assert mine["layers"][0]["firing_rate"] > 0
    for a, b in zip(mine["layers"], theirs["layers"]):
        assert b["firing_rate"] == pytest.approx(a["firing_rate"], abs=1e-6)
        assert b["leak"] == pytest.approx(a["leak"], rel=1e-5)


def test_an_applied_suggestion_measures_as_its_remeasurement_and_leaves_the_model_alone():
    net = LoopNet(threshold=60.0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    report = check(net, spikes_in(), seeds=2)
    i = next(i for i, s in enumerate(report.suggestions) if s["promise"] == "rate_up")
    again = check(report.applied(i), report.inputs, seeds=2).as_dict()
    # the changed copy, checked on its own, gives the rates the suggestion's re-measurement reported
    assert [lay["firing_rate"] for lay in again["layers"]] == pytest.approx(
        [lay["firing_rate"] for lay in report.suggestions[i]["measured"]["layers"]], abs=1e-6
    )
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert "model" not in report.as_dict() and "changes" not in report.as_dict()
    with pytest.raises(ValueError, match="suggestion index = 99 is outside the allowed range"):
        report.applied(99)


@pytest.mark.parametrize("library", ["snntorch", "norse"])
def test_a_synaptic_current_is_checked_as_the_cuba_neuron_with_its_decay(library):
    if library == "norse":
        norse = pytest.importorskip("norse.torch", reason="Norse is not installed (requirements-snn.txt)")
        cell = norse.LIFCell(norse.LIFParameters(tau_syn_inv=torch.tensor(300.0)), dt=0.001)  # α_s = 0.7
    else:
        cell = snn.Synaptic(alpha=0.7, beta=0.9, init_hidden=True)
    torch.manual_seed(0)
    net = (
        nn.Sequential(nn.Linear(N_IN, 24), cell)
        if library == "snntorch"
        else norse.SequentialState(nn.Linear(N_IN, 24), cell)
    )
    report = check(net, spikes_in(p=0.5), seeds=1)
    layer = report.as_dict()["layers"][0]
    assert layer["syn_decay"] == pytest.approx(0.7) and any("cuba" in n for n in layer["notes"])
    setting = report.as_dict()["predicted"][0]["setting"]  # the theory's prediction is the cuba layer's
    assert setting["neuron"] == "cuba" and setting["syn_decay"] == pytest.approx(0.7)
