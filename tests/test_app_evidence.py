"""The Evidence page with AppTest: it draws a results folder made by `replicate --smoke`, says how to make
results when there are none, and its "Rerun this arm" button queues the arm's runs in the store, whose
results are then drawn over the committed ones."""

import json

import pytest
from support import open_app, shown, write_smoke_results

from stabviz import evidence
from stabviz.evidence import results as ev_results
from stabviz.runs import RunStore
from stabviz.ui.pages import evidence as evidence_page

PAGE = "evidence"
#: the page's charts, in the order it draws them
CHART_ORDER = [stem for *_, stems in (*evidence_page.ARMS, evidence_page.RANKING) for stem in stems]


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    return write_smoke_results(tmp_path_factory.mktemp("evidence"))


@pytest.fixture(autouse=True)
def temp_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    return tmp_path


def _text(at) -> str:
    return "\n".join([*(m.value for m in at.main.markdown), *(c.value for c in at.caption)])


def test_the_page_draws_every_figure_and_every_claims_verdict_and_rule(smoke_results, monkeypatch):
    monkeypatch.setenv(ev_results.RESULTS_ENV, str(smoke_results))
    at = open_app(page=PAGE)
    assert not at.error and at.title[0].value == "Evidence: do the paper's claims hold?"
    charts = at.get("plotly_chart")
    assert len(charts) == len(evidence.figures(evidence.load_results(smoke_results)))
    summary = json.loads((smoke_results / "summary.json").read_text())
    text = shown(_text(at))
    for claim in summary["claims"]:
        assert f"{claim['verdict']}]" in text and claim["rule"][:40] in text
    assert "refuted" in text and ":red-badge[" in text  # a refuted claim is said, in red
    assert "python -m stabviz replicate --smoke" in text and summary["commit"][:12] in text
    assert any("--smoke" in w.value for w in at.warning)  # smoke verdicts mean nothing
    assert len([b for b in at.button if b.label == "Rerun this arm"]) == 5


def test_the_page_says_when_verdicts_were_judged_again_and_shows_each_interval(smoke_results, tmp_path, monkeypatch):
    """(issue 21, item 6) Each claim shows the interval its rule judged, and a re-judged study says so."""
    out = tmp_path / "rejudged"
    summary = ev_results.rejudge(smoke_results, out, command="python -m stabviz replicate --rejudge X", png=False)
    monkeypatch.setenv(ev_results.RESULTS_ENV, str(out))
    at = open_app(page=PAGE)
    assert not at.exception and not at.error
    text = shown(_text(at))
    assert "Verdicts judged again from the stored runs, without training" in text
    assert "replicate --rejudge X" in text and "95% percentile bootstrap interval" in text
    assert f"{summary['budget']} optimiser steps per run" in text
    assert "drop_interval [" in text and "auc_interval" in text
    assert "bootstrap interval over seeds" in text  # the rules' own words
    assert evidence_page.FIGURE_TITLES["collapse_probe"] in text


def test_without_results_the_page_says_so_and_shows_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv(ev_results.RESULTS_ENV, str(tmp_path / "none"))
    at = open_app(page=PAGE)
    assert not at.error and not at.get("plotly_chart")
    assert "No results" in at.info[0].value
    assert [c.value for c in at.main.code] == [ev_results.MAKE_COMMAND]


def test_damaged_results_are_one_line_not_a_traceback(tmp_path, monkeypatch):
    (tmp_path / "summary.json").write_text("{not json")
    monkeypatch.setenv(ev_results.RESULTS_ENV, str(tmp_path))
    at = open_app(page=PAGE)
    assert not at.exception and len(at.error) == 1 and "summary.json in " in shown(at.error[0].value)
    assert [c.value for c in at.main.code] == [ev_results.MAKE_COMMAND]


def test_rerun_button_queues_the_arms_runs_and_the_page_follows_them(smoke_results, monkeypatch, temp_home):
    from stabviz.ui import runlaunch

    monkeypatch.setenv(ev_results.RESULTS_ENV, str(smoke_results))
    at = open_app(page=PAGE)
    results = evidence.load_results(smoke_results)
    want = [c.to_dict() for cell in evidence.rerun_cells(results, "B", 1) for c in cell.configs]
    at.button(key="evidence_rerun_B").click().run()
    try:
        assert not at.exception and not at.error
        runs = RunStore(temp_home / "stabviz.db").list(newest_first=False)
        assert [r["config"] for r in runs] == json.loads(json.dumps(want)) and len(runs) == 2
        assert "2 runs queued" in at.success[0].value
        assert at.get("page_link")[0].proto.page.endswith("runs")
    finally:
        runlaunch.launcher().shutdown(timeout=20)  # no training in the test


def test_finished_reruns_are_drawn_over_the_committed_results(smoke_results, monkeypatch, temp_home):
    monkeypatch.setenv(ev_results.RESULTS_ENV, str(smoke_results))
    results = evidence.load_results(smoke_results)
    cells = evidence.rerun_cells(results, "C", 1)
    store = RunStore(temp_home / "stabviz.db")
    ids = store.create_many([(c, None) for cell in cells for c in cell.configs])
    for run_id in ids:  # as a worker would leave them
        store.set_status(run_id, "running")
        store.set_status(run_id, "finished", summary={"final": {"accuracy": 0.42}, "lif": {"seed": 0, "steps": 16}})
    at = open_app(page=PAGE)
    assert not at.exception
    figure = json.loads(at.get("plotly_chart")[CHART_ORDER.index("rate_digits")].proto.spec)
    rerun = [t for t in figure["data"] if t["name"].endswith("· rerun")]
    assert {t["name"] for t in rerun} == {"sparsity loss off · rerun", "sparsity loss on · rerun"}
    assert all(y == pytest.approx(42.0) for t in rerun for y in t["y"])


def test_a_shared_dashboard_without_a_run_token_offers_no_rerun(smoke_results, monkeypatch):
    monkeypatch.setenv(ev_results.RESULTS_ENV, str(smoke_results))
    monkeypatch.setenv("STABVIZ_SHARED", "1")
    monkeypatch.delenv("STABVIZ_RUN_TOKEN", raising=False)
    at = open_app(page=PAGE)
    assert all(b.disabled for b in at.button if b.label == "Rerun this arm")
    assert "switched off" in _text(at)


def test_an_out_of_range_seeds_per_cell_disables_the_rerun_with_the_reason(smoke_results, monkeypatch):
    """(issue 19, item 7) The field says what is wrong; it used to clamp silently."""
    monkeypatch.setenv(ev_results.RESULTS_ENV, str(smoke_results))
    at = open_app(page=PAGE)
    field = at.number_input(key="evidence_seeds_B")
    field.set_value(99).run()
    assert not at.exception and at.button(key="evidence_rerun_B").disabled
    assert any("seeds = 99 is outside the allowed range [1, " in shown(e.value) for e in at.error)
