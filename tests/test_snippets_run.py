"""The Explore page's library snippets run as they say: each builds the real recurrent layer (plain PyTorch,
snnTorch's RLeaky, SpikingJelly's LIFNode, Norse's LIFBoxCell) with the recommended weights and a surrogate
that keeps γ, and, run in a fresh Python, fires and passes gradients back as stabviz's simulate.measure
predicts at the same setting. The notebook download runs too."""

import importlib.util
import json
import re
import subprocess
import sys

import pytest

from stabviz import simulate
from stabviz.config import preset
from stabviz.ui import advice, compute, snippets

BATCH, STEPS, BURN_IN, FROM, TO = 32, 260, 100, 110, 230  # the gain: log growth between steps FROM and TO
#: the probe appended to a snippet: the initial firing rate after the burn-in, and the per-step gain of the
#: gradient reaching the input current (a random readout of the last spikes, pushed back from step TO to FROM)
PROBE = f"""
import json
import re
torch.manual_seed(1)
x = torch.bernoulli(torch.full(({STEPS}, {BATCH}, n_in), INPUT_MEAN))
extra = torch.zeros({STEPS}, {BATCH}, n_rec, requires_grad=True)
z, y = run(x, extra)
(z[-1] * torch.randn_like(z[-1])).sum().backward()         # a random readout of the last spikes
g = extra.grad.double().norm(dim=2)
growth = (g[{FROM}].log() - g[{TO}].log()) / ({TO} - {FROM})
torch.save({{"w_in": w_in, "w_rec": w_rec, "x": x}}, "drawn.pt")          # for the same-weights check
print(json.dumps({{"rate": z[{BURN_IN}:].mean().item(), "gain": growth.median().exp().item()}}))
"""


def _installed(module):
    return importlib.util.find_spec(module) is not None


LIBRARY_MODULES = {"pytorch": "torch", "snntorch": "snntorch", "spikingjelly": "spikingjelly", "norse": "norse"}


def _setting(library):
    """The setting each library's neuron expresses exactly: snnTorch's RLeaky and plain PyTorch (L1) with
    a detached reset; SpikingJelly and Norse reset within the step, which is (L3) with the reset detached."""
    cfg = preset("shd-tau20", n_rec=128)
    return cfg if library in ("pytorch", "snntorch") else cfg.replace(reset="mult2")


def _probe(library, setting, tmp_path):
    """The PROBE's numbers for ``library``'s snippet, run alone in a fresh Python (torch seeded as a user would)."""
    code = snippets.library_model(library, setting)
    return _run(
        "import torch\ntorch.manual_seed(0)\n" + code + PROBE.replace("INPUT_MEAN", repr(setting.cfg.input_mean)),
        tmp_path,
    )


def _run(code, tmp_path):
    script = tmp_path / "snippet.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, "-I", str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("library", list(snippets.LIBRARIES))
def test_library_snippet_fires_and_passes_gradients_as_simulate_measures(library, tmp_path):
    if not _installed(LIBRARY_MODULES[library]):
        pytest.skip(f"{library} is not installed here (pip install --no-deps -r requirements-snn.txt)")
    import torch

    cfg = _setting(library)
    # "keep β, solve γ" at conditions I/II weights: γ ≠ 1 (a snippet dropping γ would change the gain) and
    # ρ² = 1 (no underflow)
    option = next(
        s for s in advice.settings(cfg) if s.solved and s.cfg.init_rec == "conditions" and s.cfg.dampening != 1.0
    )
    got = _probe(library, option, tmp_path)
    same = option.cfg.replace(steps=TO - FROM)
    # 1. The snippet's own weights and inputs through simulate's layer: the same layer, so the same rate
    drawn = torch.load(tmp_path / "drawn.pt")
    mine = simulate.measure_layer(
        drawn["w_in"],
        drawn["w_rec"],
        torch.full((cfg.n_rec,), cfg.bias),
        same,
        drawn["x"].transpose(0, 1).contiguous(),
        burn_in=BURN_IN,
        generator=torch.Generator().manual_seed(0),
    )
    assert got["rate"] == pytest.approx(mine.firing_rate, abs=0.005), (got, mine.firing_rate)
    # 2. simulate.measure at the setting (its own draws), over three seeds: the tolerance is 3x the
    # seed-to-seed spread of the gain (measured: 0.988-0.995 for L1, 0.996-1.009 for L3) and at least 0.02;
    # with the snippet's own weights simulate's gain is within 0.01 (measured 1.000 vs 1.006, 1.0075 vs 1.0086)
    ref = [simulate.measure(same, batch=BATCH, steps=STEPS, burn_in=BURN_IN, seed=s).rho_hat for s in (0, 1, 2)]
    assert abs(got["gain"] - sum(ref) / 3) <= max(0.02, 3 * (max(ref) - min(ref))), (got, ref)
    assert abs(got["gain"] - mine.rho_hat) <= 0.01, (got, mine.rho_hat)
    # 3. The library's layer is the plain PyTorch one to float precision: the same spikes and the same
    # gradient under the same probe (a dropped γ moves the gain by 0.01-0.05 per step, a missing transpose the rate)
    if library != "pytorch":
        plain = _probe("pytorch", option, tmp_path)
        assert got == pytest.approx(plain, rel=1e-4), (got, plain)


def test_the_explore_tab_offers_each_library_and_its_notebook():
    from support import open_app

    at = open_app(setting_params_of("shd-tau20"))
    for library in snippets.LIBRARIES:
        at.segmented_control(key="snippet_library").set_value(library).run()
        assert not at.exception
        # the default pick: the recommended whole setting at the sliders' setting, as the page rounds it
        picked = advice.default_choice(compute.settings(compute.config_of(preset("shd-tau20"))))
        assert at.code[0].value == snippets.library_model(library, picked).rstrip()


def setting_params_of(name):
    from stabviz.ui import urlstate

    return urlstate.setting_params(preset(name).to_dict())


def test_the_notebook_download_loads_and_its_cells_run(tmp_path):
    cfg = preset("shd-tau20", n_rec=32)
    text = snippets.notebook(
        snippets.library_model("pytorch", advice.setting_of(advice.AS_SET, cfg)),
        "A stabviz LIF layer",
        cfg.input_mean,
        20,
    )
    nb = json.loads(text)
    assert nb["nbformat"] == 4 and [c["cell_type"] for c in nb["cells"]] == ["markdown", "code", "code"]
    assert all(c["id"] and c["metadata"] == {} for c in nb["cells"])
    code = "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    script = tmp_path / "nb.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, "-I", str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rate = float(re.search(r"initial firing rate: ([0-9.]+)", out.stdout).group(1))
    assert 0 < rate < 1
    import nbformat  # the official schema (requirements-dev)

    nbformat.validate(nbformat.reads(text, as_version=4))
