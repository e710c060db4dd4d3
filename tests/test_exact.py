"""Exact values: every log slider's typed twin (any value in range, kept exactly in the link, a clear
message on bad input), the "From my library" panel (the translate table's knobs -> the setting)."""

import math

import pytest
from support import open_app

from stabviz import surrogates, theory
from stabviz.config import LIFConfig
from stabviz.ui import library, sliders, urlstate


@pytest.fixture(autouse=True)
def temp_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))


def _twin(at, key):
    return at.text_input(key=key)


def test_values_off_the_slider_grid_can_be_typed_and_travel_exactly_in_the_link():
    assert 12.5 not in sliders.GRIDS["sharpness"] and math.exp(-1 / 20) not in sliders.GRIDS["leak"]
    at = open_app()
    _twin(at, "exact_sharpness").input("12.5").run()
    _twin(at, "exact_tau").input("20").run()
    _twin(at, "exact_dampening").input("0.3333").run()
    assert not at.exception and not at.error
    assert at.select_slider(key="lif_sharpness").value == 12.5  # the slider holds it as a stop
    assert at.select_slider(key="lif_leak").value == math.exp(-1 / 20)
    assert _twin(at, "exact_leak").value == repr(math.exp(-1 / 20)) and _twin(at, "exact_tau").value == "20"
    params = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert params == {"sharpness": "12.5", "leak": repr(math.exp(-1 / 20)), "dampening": "0.3333"}
    cfg = LIFConfig(sharpness=12.5, leak=math.exp(-1 / 20), dampening=0.3333)
    assert urlstate.read_setting(params)[0] == cfg.to_dict()  # the link reads back the same floats
    rho2 = [m.value for m in at.metric if m.label.startswith("$\\rho^2$")]
    assert rho2 == [f"{theory.predict(cfg).rho2:.4g}"]  # and the page uses them
    again = open_app(params)
    assert _twin(again, "exact_sharpness").value == "12.5" and _twin(again, "exact_tau").value == "20"


def test_a_bad_typed_value_says_why_and_leaves_the_setting_alone():
    at = open_app()
    for key, text, words in (
        ("exact_sharpness", "5000", "outside the allowed range [0.001, 1000]"),
        ("exact_dampening", "abc", "is not a number"),
        ("exact_tau", "20000", "τ may be at most"),
    ):
        _twin(at, key).input(text).run()
        assert any(words in e.value for e in at.error), [e.value for e in at.error]
        assert _twin(at, key).value == text  # what was typed stays, to be fixed
        assert dict(at.query_params) == {} and not at.exception
    at.select_slider(key="lif_sharpness").set_value(sliders.GRIDS["sharpness"][60]).run()
    assert _twin(at, "exact_sharpness").value == sliders.exact_text(sliders.GRIDS["sharpness"][60])
    assert not any("[0.001, 1000]" in e.value for e in at.error)  # moving the slider clears it


def test_the_twin_follows_a_preset_and_the_tail_twin_is_off_like_its_slider():
    at = open_app()
    assert _twin(at, "exact_tail").proto.disabled
    at.selectbox(key="preset_choice").set_value("shd-tau20").run()
    assert _twin(at, "exact_tau").value == "20" and _twin(at, "exact_sharpness").value == sliders.exact_text(
        at.select_slider(key="lif_sharpness").value
    )


def test_library_translation_uses_the_cli_table():
    # the researcher: snnTorch RLeaky, τ = 20 (beta = e^(−1/20)), θ = 1, fast_sigmoid slope 25
    values = library.translate("snntorch.fast_sigmoid", "25", repr(math.exp(-1 / 20)), "1")
    assert values == {
        "shape": "fastsigmoid",
        "dampening": 1.0,
        "sharpness": 12.5,
        "tail": 1.56,
        "leak": math.exp(-1 / 20),
        "threshold": 1.0,
        "reset": "subtract",
        "reset_grad": False,
    }
    sg = surrogates.from_library("spikingjelly.ATan", 4.0)  # the same table as `translate --from`
    values = library.translate("spikingjelly.ATan", "4", "20", "")
    assert (values["dampening"], values["sharpness"], values["leak"]) == (sg.dampening, sg.sharpness, 0.95)
    assert library.translate("norse.super", "", "0.05", "0.5")["leak"] == pytest.approx(0.95)
    assert library.translate("pytorch.SurrGradSpike", "", "20", "")["leak"] == math.exp(-1 / 20)
    assert set(library.LIBRARY_NAMES) == set(surrogates.LIBRARY_NEURONS)
    assert all(library.surrogate_choices(lib) for lib in library.LIBRARY_NAMES)
    for bad, words in (
        (("snntorch.atan", "x", "", ""), "alpha = 'x' is not a number"),
        (("snntorch.atan", "", "1.5", ""), "outside stabviz's leak range"),
        (("norse.super", "", "", "-1"), "threshold"),
    ):
        with pytest.raises(ValueError, match=words):
            library.translate(*bad)


def test_the_library_panel_applies_its_values_to_the_setting():
    at = open_app()
    at.session_state["library_panel"] = True  # the expander, opened
    at.run()
    at.selectbox(key="lib_library").set_value("snntorch").run()
    at.selectbox(key="lib_surrogate").set_value("snntorch.fast_sigmoid").run()
    at.text_input(key="lib_knob").input("25").run()
    at.text_input(key="lib_leak").input(repr(math.exp(-1 / 20))).run()
    at.text_input(key="lib_threshold").input("1").run()
    assert any("β = 12.5" in m.value and "τ = 20" in m.value for m in at.markdown)
    at.button(key="lib_use").click().run()
    assert not at.exception
    assert at.select_slider(key="lif_sharpness").value == 12.5
    assert _twin(at, "exact_tau").value == "20"
    params = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    # and the library's own initialisation (nn.Linear's), not the preset's Glorot weights
    assert params == {
        "sharpness": "12.5",
        "leak": repr(math.exp(-1 / 20)),
        "threshold": "1",
        "init_in": "pytorch-default",
        "init_rec": "pytorch-default",
    }
    at.text_input(key="lib_leak").input("abc").run()
    assert any("beta = 'abc' is text, not a number" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "lib_use"] and not at.exception  # nothing to apply
