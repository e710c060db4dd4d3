"""The "Your network" page with AppTest: the snnTorch numbers give a measured report (layers, verdict,
suggestions), "Apply and re-measure" measures the network with the change, a NIR upload is checked, and a
file NIR cannot read or one above the size cap gives one error message, never a traceback."""

import json

import pytest
from support import open_app, shown

from stabviz.ui import network

PAGE = "network"
MEASURE = "FormSubmitter:net_library-Measure"


@pytest.fixture(autouse=True)
def temp_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))


def _measured(at, **numbers):
    for key, value in numbers.items():
        at.number_input(key=f"net_{key}").set_value(value)
    at.button(key=MEASURE).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _text(at) -> str:
    return "\n".join(m.value for m in at.main.markdown)


def test_the_library_numbers_give_a_report_with_layers_verdict_and_suggestions():
    at = _measured(open_app(page=PAGE), n=32, steps=30, beta=0.8)
    assert not at.error
    assert at.title[0].value == "Your network"
    text = _text(at)
    assert "snntorch Leaky, n = 32" in text and "over T = 30" in text
    # β = 0.8 alone loses 30·log10(0.8) ≈ −2.9 decades over T: vanishing, with the slower leak suggested
    assert any("vanishing" in w.value for w in at.warning)
    assert [b.label for b in at.button].count("Apply and re-measure") >= 1
    assert any(c.value.startswith("1: beta=") for c in at.code)  # the fix in snnTorch's own words
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 2  # the stability scale and the layer's histogram
    bars = charts[1]["data"]
    assert sum(sum(t["y"]) for t in bars) == 32  # every neuron in one bin
    assert [b.label for b in at.get("download_button")] == ["Report (JSON)"]  # no fix chosen yet
    links = at.get("page_link")
    assert links and "leak=0.8" in links[0].proto.query_string


def test_apply_and_re_measure_shows_the_changed_network_and_its_fix():
    at = _measured(open_app(page=PAGE), n=32, steps=30, beta=0.8)
    at.button(key="net_apply_0").click().run()
    assert not at.exception and not at.error
    assert any(i.value.startswith("Applied: a slower leak") for i in at.info)
    text = _text(at)
    # the applied network's own report: its layer now has the suggested leak 10^(−1/30) ≈ 0.926
    assert "α = 0.9261" in text
    # one Leaky layer's gain is log10(β) per step exactly: the fixed network loses one decade over T
    assert "Measured gain: **-1.00 decades over T = 30**" in text
    assert [b.label for b in at.get("download_button")] == ["Report (JSON)", "Fix (Python)"]


def test_the_fix_snippet_builds_the_fixed_network():
    from stabviz.check import check

    numbers = network.Numbers(n=16, steps=30, beta=0.8)
    report = check(*network.build(numbers), seeds=1)
    s = report.as_dict()["suggestions"][0]
    fixed = report.applied(0)
    after = check(fixed, report.inputs, seeds=1).as_dict()
    code = network.snippet(numbers, s, after, network.weight_scale(report.model, fixed))
    scope = {}
    exec(compile(code, "stabviz_fix.py", "exec"), scope)  # the downloaded file runs as it is
    assert float(scope["model"][1].beta) == pytest.approx(10 ** (-1 / 30), rel=1e-4)


def test_a_file_nir_cannot_read_gives_one_error():
    at = open_app(page=PAGE)
    at.radio(key="net_source").set_value("nir").run()
    at.file_uploader(key="net_upload").upload("model.nir", b"not an hdf5 file at all").run()
    at.button(key="net_nir_go").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "not an HDF5 file" in at.error[0].value


def test_a_huge_upload_is_refused_before_it_is_read(monkeypatch):
    monkeypatch.setattr(network, "MAX_UPLOAD_MB", 1)  # the same path as 32 MB, without 32 MB of test data
    at = open_app(page=PAGE)
    at.radio(key="net_source").set_value("nir").run()
    at.file_uploader(key="net_upload").upload("big.nir", b"\x89HDF\r\n\x1a\n" + bytes(2**20)).run()
    at.button(key="net_nir_go").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "above the limit" in at.error[0].value


def test_bad_numbers_are_one_message_naming_the_number():
    with pytest.raises(ValueError, match=r"steps = 3 must be a whole number in \[8, 500\]"):
        network.Numbers(steps=3)
    with pytest.raises(ValueError, match="surrogate = 'x'"):
        network.Numbers(surrogate="x")


def test_a_check_above_the_memory_limit_is_one_error_before_it_runs(monkeypatch):
    monkeypatch.setenv("STABVIZ_MAX_MEMORY_MB", "1")  # below the estimate of any check
    at = _measured(open_app(page=PAGE), n=33, steps=20)  # numbers no other test measured (cache)
    assert len(at.error) == 1 and "this check (T = 20" in shown(at.error[0].value)
    assert "over the 1 MB limit (STABVIZ_MAX_MEMORY_MB)" in shown(at.error[0].value)
    assert not at.get("plotly_chart")


def test_the_weight_scale_fix_snippet_gives_the_weights_that_were_measured():
    import torch

    from stabviz.check import check

    numbers = network.Numbers(n=16, steps=20, threshold=50.0)  # no neuron reaches θ: a dead layer
    report = check(*network.build(numbers), seeds=1)
    i = next(i for i, s in enumerate(report.suggestions) if s["promise"] == "rate_up")
    fixed = report.applied(i)
    code = network.snippet(
        numbers,
        report.suggestions[i],
        check(fixed, report.inputs, seeds=1).as_dict(),
        network.weight_scale(report.model, fixed),
    )
    scope = {}
    exec(compile(code, "stabviz_fix.py", "exec"), scope)
    assert torch.allclose(scope["model"][0].weight, fixed[0].weight, rtol=1e-5)
    assert float(scope["model"][1].threshold) == 50.0


def test_the_other_form_does_not_show_the_first_forms_report():
    at = _measured(open_app(page=PAGE), n=32, steps=30, beta=0.8)
    at.radio(key="net_source").set_value("nir").run()
    assert not at.get("plotly_chart") and not at.error
    at.radio(key="net_source").set_value("library").run()
    assert len(at.get("plotly_chart")) == 2  # back: its report again
