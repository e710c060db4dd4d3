"""The "Your network" page in Debian's Chromium: a NIR file exported from a snnTorch model is uploaded and
measured (progress, then the report with its figures), "Apply and re-measure" draws the changed network's
report, and both downloads (the report as JSON, the fix as Python) arrive."""

import json
from pathlib import Path

import pytest
from harness import wait_idle

pytestmark = pytest.mark.timeout(180)
SHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "network.png"
CHARTS_DRAWN = (
    "() => [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
    "    .every(el => el.querySelector('.main-svg'))"
)


def snntorch_nir(path: Path) -> Path:
    """A two-layer snnTorch network written by snnTorch's own NIR export (per-neuron parameters: its export
    infers shapes from them)."""
    nir = pytest.importorskip("nir")
    snn = pytest.importorskip("snntorch")
    import torch
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(20, 32),
        snn.Leaky(beta=torch.full((32,), 0.9), threshold=torch.ones(32), reset_mechanism="zero", init_hidden=True),
        torch.nn.Linear(32, 10),
        snn.Leaky(
            beta=torch.full((10,), 0.9), threshold=torch.ones(10), reset_mechanism="zero", init_hidden=True, output=True
        ),
    )
    nir.write(str(path), export_to_nir(net, torch.zeros(20)))
    return path


def _no_exception(page):
    assert page.locator("[data-testid='stException']").count() == 0


def test_a_nir_upload_is_measured_applied_and_downloaded(page, base_url, tmp_path):
    path = snntorch_nir(tmp_path / "net.nir")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(base_url + "/network")
    wait_idle(page)
    page.get_by_text("A NIR file", exact=True).click()
    wait_idle(page)
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(path))
    page.get_by_text("net.nir").first.wait_for(timeout=30_000)
    steps = page.locator(".st-key-net_nir_steps input")
    steps.fill("40")
    steps.press("Enter")
    wait_idle(page)
    page.locator(".st-key-net_nir_go button").click()
    page.get_by_text("Measured gain:").first.wait_for(timeout=60_000)
    wait_idle(page)
    page.wait_for_function(CHARTS_DRAWN, timeout=30_000)
    _no_exception(page)
    main = page.inner_text("[data-testid='stMain']")
    assert "nir LIF, n = 32" in main and "over T = 40" in main
    assert page.get_by_text("Open Explore at layer").count() >= 1
    # the shot starts at the verdict: the report's first screen (verdict, gain, the layers' figure)
    page.get_by_text("Measured gain:").first.evaluate(
        "el => el.closest('[data-testid=\"stElementContainer\"]')"
        ".previousElementSibling.scrollIntoView({block: 'start'})"
    )
    page.wait_for_timeout(500)
    SHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOT))

    page.locator(".st-key-net_apply_0 button").click()
    page.get_by_text("With the suggestion applied").wait_for(timeout=60_000)
    wait_idle(page)
    _no_exception(page)
    assert page.get_by_text("Measured gain:").count() == 2  # the original and the changed network

    with page.expect_download() as got:
        page.locator(".st-key-net_json button").click()
    report = json.loads(Path(got.value.path()).read_text())
    assert [layer["library"] for layer in report["layers"]] == ["nir", "nir"] and report["suggestions"]
    with page.expect_download() as got:
        page.locator(".st-key-net_snippet button").click()
    fix = Path(got.value.path()).read_text()
    assert fix.startswith("# stabviz suggestion: ") and report["suggestions"][0]["code"] in fix
