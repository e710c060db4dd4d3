"""The Evidence page in Debian's Chromium: a results folder made by `replicate --smoke` renders as Plotly
figures with every claim's verdict, and "Rerun this arm" queues the arm's runs, whose results are drawn
over the committed ones as they finish."""

import json

import pytest
from harness import dashboard, wait_idle
from support import write_smoke_results

pytestmark = pytest.mark.timeout(240)
PLOTS = "[...document.querySelectorAll('.js-plotly-plot')]"
RERUN_TRACES = f"() => {PLOTS}.flatMap(g => (g.data || []).map(t => t.name)).filter(n => / · rerun$|^rerun$/.test(n))"


@pytest.fixture(scope="module")
def evidence_site(tmp_path_factory):
    """A dashboard of its own, reading a smoke study's results (STABVIZ_EVIDENCE)."""
    out = write_smoke_results(tmp_path_factory.mktemp("evidence"))
    with dashboard(tmp_path_factory.mktemp("evidence_home"), env={"STABVIZ_EVIDENCE": str(out)}) as url:
        yield url, out


def test_the_page_renders_its_figures_and_every_verdict(page, evidence_site):
    url, out = evidence_site
    page.goto(url + "/evidence")
    wait_idle(page)
    page.wait_for_function(
        f"() => {PLOTS}.length === 8 && {PLOTS}.every(g => (g.data || []).length > 0)", timeout=30_000
    )
    assert page.locator("[data-testid='stException']").count() == 0
    claims = json.loads((out / "summary.json").read_text())["claims"]
    main = page.inner_text("[data-testid='stMain']").replace("\u2060", "")
    for claim in claims:
        assert claim["claim"] in main
    for verdict in {c["verdict"] for c in claims}:
        assert page.get_by_text(verdict, exact=True).count() >= 1
    assert page.evaluate(RERUN_TRACES) == []


def test_rerunning_an_arm_queues_its_runs_and_draws_them_over_the_results(page, evidence_site):
    url, _ = evidence_site
    page.goto(url + "/evidence")
    wait_idle(page)
    page.locator(".st-key-evidence_rerun_B button").click()
    page.get_by_text("2 runs queued").wait_for(timeout=30_000)
    # the two q cells of arm B, one seed each: a few optimiser steps, then the page's poll draws them
    tail = f"() => {PLOTS}.map(g => g.data.find(t => t.name === 'q-PseudoSpike, mult2 · rerun')).filter(Boolean)[0]"
    page.wait_for_function(f"() => (({tail})() || {{x: []}}).x.length === 2", timeout=90_000)
    assert all(0 <= y <= 100 for y in page.evaluate(tail)["y"])
    page.goto(url + "/runs")
    wait_idle(page)
    assert "finished" in page.inner_text("[data-testid='stMain']")
