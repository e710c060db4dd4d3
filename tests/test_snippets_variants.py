"""The library snippets for the alif and cuba neurons: the PyTorch snippet builds the variant's own step, run
alone it fires as stabviz's variant layer does with the same weights; snnTorch's RSynaptic and Synaptic
snippets and Norse's LIFCell snippet are the same cuba layer with the setting's α_s; a library that cannot
build the variant says so in its first lines and on the page."""

import pytest
from test_snippets_run import BURN_IN, FROM, TO, _installed, _probe

from stabviz import simulate
from stabviz.config import preset
from stabviz.ui import advice, snippets


def _as_set(**kw):
    return advice.setting_of(advice.AS_SET, preset("shd-tau20", n_rec=64, **kw))


@pytest.mark.parametrize("kw", [{"neuron": "cuba"}, {"neuron": "alif"}, {"neuron": "alif", "adapt_grad": False}])
def test_the_pytorch_snippet_is_the_variants_layer(kw, tmp_path):
    import torch

    setting = _as_set(**kw)
    got = _probe("pytorch", setting, tmp_path)
    drawn = torch.load(tmp_path / "drawn.pt")
    cfg = setting.cfg.replace(steps=TO - FROM)
    mine = simulate.measure_layer(
        drawn["w_in"],
        drawn["w_rec"],
        torch.full((cfg.n_rec,), cfg.bias),
        cfg,
        drawn["x"].transpose(0, 1).contiguous(),
        burn_in=BURN_IN,
        generator=torch.Generator().manual_seed(0),
    )
    assert got["rate"] == pytest.approx(mine.firing_rate, abs=0.005), (got, mine.firing_rate)
    lif = _probe("pytorch", _as_set(), tmp_path)
    assert got["rate"] != pytest.approx(lif["rate"], abs=0.005)  # not the LIF's layer


def test_the_snntorch_cuba_snippet_is_rsynaptic_and_equals_the_pytorch_one(tmp_path):
    if not _installed("snntorch"):
        pytest.skip("snntorch is not installed here")
    setting = _as_set(neuron="cuba")
    code = snippets.library_model("snntorch", setting)
    assert "snn.RSynaptic(alpha=alpha_s, beta=alpha" in code and "NOTE" not in code
    assert _probe("snntorch", setting, tmp_path) == pytest.approx(_probe("pytorch", setting, tmp_path), rel=1e-4)


def test_the_snntorch_synaptic_snippet_is_the_same_layer(tmp_path):
    if not _installed("snntorch"):
        pytest.skip("snntorch is not installed here")
    setting = _as_set(neuron="cuba", syn_decay=0.7)
    code = snippets.library_model("snntorch", setting, feed_forward=True)
    assert "snn.Synaptic(alpha=alpha_s, beta=alpha" in code and "alpha_s = 0.7 " in code
    got = snippets_run_probe(code, setting, tmp_path)
    assert got == pytest.approx(_probe("pytorch", setting, tmp_path), rel=1e-4)
    lif = snippets.library_model("snntorch", _as_set(), feed_forward=True)
    assert "snn.Leaky(beta=alpha" in lif and snippets_run_probe(lif, _as_set(), tmp_path) == pytest.approx(
        _probe("pytorch", _as_set(), tmp_path), rel=1e-4
    )


def test_the_norse_cuba_snippet_is_lifcell_with_the_settings_synaptic_decay(tmp_path):
    if not _installed("norse"):
        pytest.skip("norse is not installed here")
    setting = _as_set(neuron="cuba", reset="mult2", reset_grad=True)  # LIFCell's own reset: exact
    code = snippets.library_model("norse", setting)
    assert "norse.LIFCell(params" in code and "tau_syn_inv=torch.tensor(1 - alpha_s)" in code
    assert "NOTE" not in code and "not expressible" not in code
    assert _probe("norse", setting, tmp_path) == pytest.approx(_probe("pytorch", setting, tmp_path), rel=1e-4)
    nearest = snippets.library_model("norse", _as_set(neuron="cuba"))  # (L1): said, not hidden
    assert "reset = subtract, reset_grad = False is not expressible" in nearest


def snippets_run_probe(code, setting, tmp_path):
    from test_snippets_run import PROBE, _run

    return _run(
        "import torch\ntorch.manual_seed(0)\n" + code + PROBE.replace("INPUT_MEAN", repr(setting.cfg.input_mean)),
        tmp_path,
    )


@pytest.mark.parametrize(
    "library,neuron", [("snntorch", "alif"), ("norse", "alif"), ("spikingjelly", "alif"), ("spikingjelly", "cuba")]
)
def test_a_library_without_the_variant_says_its_snippet_is_the_lifs(library, neuron):
    code = snippets.library_model(library, _as_set(neuron=neuron))
    assert f"# NOTE neuron = {neuron}:" in code and "this snippet is the plain LIF layer" in code
    assert snippets.library_model("pytorch", _as_set(neuron=neuron)).count("NOTE") == 0


def test_the_explore_tab_warns_when_the_snippet_is_the_lifs():
    from support import open_app

    at = open_app({"neuron": "alif"})
    at.segmented_control(key="snippet_library").set_value("snntorch").run()
    assert not at.exception
    assert any("this snippet is the plain LIF layer" in w.value for w in at.warning)
    at.segmented_control(key="snippet_library").set_value("pytorch").run()
    assert not any("plain LIF layer" in w.value for w in at.warning)
