"""Advice that matches its snippet (issue 19, items 3 and 4): every option the Explore page offers is one whole
setting (initialisation included) from which its verdict, its snippet and its Confirm run are all drawn; an
option is a fix only where its whole calibrated band is stable, and the network its snippet builds, simulated
by stabviz's simulate, is then stable. The "From my library" panel asks for the inputs, their rate and the
initialisation (the library's own by default) and judges that network."""

import math

import pytest

from stabviz import simulate, surrogates, theory
from stabviz.config import PRESETS, preset
from stabviz.ui import advice, library, snippets

#: The Monte-Carlo referee of the test: small, so the whole matrix fits in CI (seconds per case).
BATCH, KEPT, SEED = 16, 40, 0
#: The library defaults (each library's default surrogate, neuron and nn.Linear init) on the SHD network.
LIBRARIES = ("snntorch", "spikingjelly", "norse")
CASES = [("preset", n) for n in PRESETS] + [("library", n) for n in LIBRARIES]


def _case(kind, name, steps):
    cfg = preset(name) if kind == "preset" else library.library_default(name, preset("shd-tau20"))
    return cfg.replace(steps=steps)


def snippet_network(setting):
    """Run the setting's PyTorch layer snippet and read back the network it builds: its weights, and a
    setting made of the snippet's own leak, threshold, bias and surrogate."""
    import torch

    torch.manual_seed(SEED)
    scope = {}
    exec(snippets.library_model("pytorch", setting), scope)
    cfg = setting.cfg.replace(
        leak=scope["alpha"],
        threshold=scope["threshold"],
        bias=scope["bias"],
        dampening=scope["gamma"],
        sharpness=scope["beta"],
        tail=scope["q"],
    )
    return scope["w_in"], scope["w_rec"], cfg


def measured_log10_gain(setting):
    """T·log10 ρ̂ of the snippet's network, simulated by stabviz.simulate on Bernoulli input at the setting's rate."""
    import torch

    w_in, w_rec, cfg = snippet_network(setting)
    assert cfg == setting.cfg  # the snippet encodes the record, nothing re-derived
    burn = simulate.stationary_burn_in(cfg)
    gen = torch.Generator().manual_seed(SEED)
    x = simulate.bernoulli_inputs(cfg, BATCH, burn + max(KEPT, cfg.steps), gen)
    m = simulate.measure_layer(w_in, w_rec, torch.full((cfg.n_rec,), cfg.bias), cfg, x, burn_in=burn, generator=gen)
    return m.log10_gain


@pytest.mark.parametrize("steps", [100, 6])
@pytest.mark.parametrize("kind,name", CASES)
def test_every_fix_the_page_offers_builds_a_network_simulate_finds_stable(kind, name, steps):
    """Every preset and every library's defaults, at the default T and at a T short enough for fixes to exist:
    each option offered as a fix is stable when its snippet's network is simulated; an option whose band
    crosses a regime edge, or where the voltage model is known to be off (validity warnings: measured on
    SpikingJelly's defaults, a 'stable' band [-0.4, 0.9] over T = 6 simulated at +3.7), is never offered as one."""
    cfg = _case(kind, name, steps)
    choices = advice.settings(cfg)
    for s in choices:
        assert s.is_fix == (s.label != advice.AS_SET and s.regime == "stable" and not s.warnings)
        assert not (s.is_fix and s.cant_tell) and (s.regime != "uncertain" or s.cant_tell)
        assert s.regime == theory.predict(s.cfg).regime  # the verdict is the whole setting's own
        if s.is_fix:
            g = measured_log10_gain(s)
            assert advice.measured_regime(g, cfg.tolerance) == "stable", (s.label, s.describe(), g)


def test_fixes_exist_somewhere_so_the_regime_test_is_not_empty():
    fixes = [s for kind, name in CASES for s in advice.settings(_case(kind, name, 6)) if s.is_fix]
    assert len(fixes) >= 10 and {s.cfg.init_rec for s in fixes} >= {"glorot-uniform", "conditions"}


def _researcher():
    """The issue's researcher: snnTorch RLeaky, 256 neurons, beta = 0.95, fast_sigmoid(slope=25), typed into the
    library panel over the default setting (784 inputs), with Glorot weights as the panel used to keep."""
    return library.network(
        preset("paper-slmnist", n_rec=256), "snntorch.fast_sigmoid", "25", "0.95", "", init="glorot-uniform"
    )


def test_each_option_is_solved_at_the_weights_its_snippet_draws():
    """The reported case: "keep β, solve γ" gave γ = 86.94 (solved at Glorot weights) beside a snippet that drew
    conditions I/II weights, where the theory gives γ ≈ 752. Now each option's γ is the one for its own weights."""
    by = {s.label: s for s in advice.settings(_researcher())}
    glorot, cond = by["keep β, solve γ"], by[advice.CONDITIONS + ", keep β, solve γ"]
    assert glorot.cfg.init_rec == "glorot-uniform" and cond.cfg.init_rec == "conditions"
    assert glorot.cfg.dampening == pytest.approx(86.94, rel=1e-3) and cond.cfg.dampening == pytest.approx(752, rel=2e-3)
    for s in (glorot, cond):
        assert theory.predict(s.cfg).rho2 == pytest.approx(1.0, abs=1e-6)
        code = snippets.pytorch_init(s)
        assert f"gamma, beta, q = {s.cfg.dampening!r}" in code
        w_rec = next(line for line in code.splitlines() if line.startswith("# w_rec: "))
        assert w_rec.startswith(
            "# w_rec: conditions (conditions I and II)"
            if s.cfg.init_rec == "conditions"
            else "# w_rec: glorot-uniform (torch.nn.init.xavier_uniform_)"
        ), w_rec
    # a 19-decade band is no fix: the theory can't tell, so the advice says measure it
    assert glorot.regime == "uncertain" and not glorot.is_fix and "measure it" in glorot.describe()


def test_the_advice_names_no_uncertain_option_as_a_fix():
    cfg = _researcher()
    choices = advice.settings(cfg)
    text = advice.what_to_change(cfg, theory.predict(cfg).to_dict(), theory.recommend(cfg).to_dict(), choices)
    assert "For ρ² = 1" not in text and "Fixes" not in text
    assert "none of them a fix" in text and "can't tell here: measure it" in text
    assert (
        "raise the dampening to γ_IV = 86.9" in text
        and "conditions I and II and raise the dampening to γ_IV = 752" in text
    )
    short = cfg.replace(steps=6)  # a T where fixes exist: they are named as such
    text = advice.what_to_change(
        short, theory.predict(short).to_dict(), theory.recommend(short).to_dict(), advice.settings(short)
    )
    assert "Fixes (the whole calibrated band stable)" in text or "Nothing to change" in text


def test_the_snippet_draws_each_initialisation_from_its_law():
    """The weights of the snippet follow the law the verdict assumed, for every initialisation (the He-normal
    input snippet used a linear gain: std 1/√fan_in instead of √(2/fan_in))."""
    import torch

    for init in ("glorot-uniform", "glorot-normal", "he-normal", "orthogonal", "pytorch-default"):
        cfg = preset("shd-tau20", n_rec=64, n_in=300, init_in=init, init_rec=init)
        s = advice.setting_of(advice.AS_SET, cfg)
        torch.manual_seed(0)
        scope = {}
        exec(snippets.pytorch_init(s), scope)
        off = ~torch.eye(64, dtype=torch.bool)
        for w, law in ((scope["w_in"], s.in_law), (scope["w_rec"][off], s.rec_law)):
            assert w.mean().item() == pytest.approx(law.mean, abs=5 * law.std / math.sqrt(w.numel()))
            assert w.std().item() == pytest.approx(law.std, rel=0.05), (init, law)


# ---------------------------------------------------------------------------------------------
# "From my library"


def test_the_library_network_uses_the_inputs_their_rate_and_the_librarys_init():
    base = preset("paper-slmnist", n_rec=256)
    cfg = library.network(base, "snntorch.fast_sigmoid", "25", "0.95", "", n_in="100", rate="0.2")
    assert (cfg.n_in, cfg.input_mean, cfg.input_var) == (100, 0.2, pytest.approx(0.16))
    assert cfg.init_in == cfg.init_rec == "pytorch-default" == library.LIBRARY_INIT
    law = theory.input_law(cfg)  # nn.Linear's own: U(±1/√fan_in)
    assert law.kind == "uniform" and law.half_width == pytest.approx(1 / math.sqrt(100))
    assert library.network(base, "snntorch.fast_sigmoid").n_in == 784  # empty: the sidebar's
    for bad, words in (
        ({"rate": "1.5"}, "input rate = 1.5 is outside"),
        ({"n_in": "2.5"}, "n_in"),
        ({"init": "xavier"}, "initialisation = 'xavier'"),
    ):
        with pytest.raises(ValueError, match=words):
            library.network(base, "snntorch.fast_sigmoid", **bad)
    # the verdict is the one at that whole network
    assert f"**{theory.predict(cfg).regime}**" in library.verdict(cfg) and "100 inputs at p = 0.2" in library.verdict(
        cfg
    )


def test_each_librarys_defaults_are_its_own():
    base = preset("shd-tau20")
    for lib, name in library.DEFAULT_SURROGATE.items():
        cfg = library.library_default(lib, base)
        sg = surrogates.from_library(name)
        assert (cfg.shape, cfg.dampening, cfg.sharpness) == (sg.shape, sg.dampening, sg.sharpness)
        assert cfg.init_rec == "pytorch-default" and cfg.threshold == 1.0


def test_the_library_panel_asks_for_inputs_rate_and_init_and_judges_that_network():
    from support import open_app

    at = open_app()
    at.session_state["library_panel"] = True  # the expander, opened
    at.run()
    at.selectbox(key="lib_library").set_value("snntorch").run()
    assert at.selectbox(key="lib_surrogate").value == "snntorch.atan"  # snnTorch's own default surrogate
    assert at.selectbox(key="lib_init").value == "pytorch-default"  # and its layers' own init
    at.selectbox(key="lib_surrogate").set_value("snntorch.fast_sigmoid").run()
    at.text_input(key="lib_knob").input("25").run()
    at.text_input(key="lib_leak").input("0.95").run()
    at.text_input(key="lib_n_in").input("200").run()
    at.text_input(key="lib_rate").input("0.05").run()
    assert not at.exception
    want = library.network(library.LIFConfig(), "snntorch.fast_sigmoid", "25", "0.95", "", "200", "0.05")
    assert any(m.value == library.verdict(want) for m in at.markdown)
    at.button(key="lib_use").click().run()
    assert not at.exception
    params = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert params["n_in"] == "200" and params["input_mean"] == "0.05" and params["init_rec"] == "pytorch-default"
    at.text_input(key="lib_rate").input("3").run()
    assert any("input rate = 3" in e.value and "[0, 1]" in e.value for e in at.error)


def test_explore_offers_the_uncertain_option_with_the_measure_button_not_as_a_fix():
    from support import open_app

    from stabviz.ui import urlstate

    cfg = _researcher()
    at = open_app(urlstate.setting_params(cfg.to_dict()))
    at.radio(key="rec_option").set_value("keep β, solve γ").run()
    assert any(advice.CANT_TELL in w.value for w in at.warning)
    assert not at.success
    code = "\n".join(c.value for c in at.code)
    assert "# w_rec: glorot-uniform" in code and "conditions I and II" not in code  # the weights it was solved at
    assert any("W_rec glorot-uniform" in c.value and "keep β, solve γ" in c.value for c in at.caption)  # Confirm
    at.button(key="measure_setting").click().run()
    assert not at.exception
    assert any(m.value.startswith("**Measured: ") for m in at.markdown)
