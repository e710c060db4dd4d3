"""The student's run flow in Chromium at 1280×720: the run heading follows the run's status live (it used to
say "queued" beside a "running: 55%" bar), and Explore's confirmation shows the run inline, from its progress
to its verdict, without leaving the page."""

import os
import re
import time

import pytest
from harness import wait_idle

from stabviz.config import TrainConfig

pytestmark = pytest.mark.timeout(300)


def _no_exception(page):
    assert page.locator("[data-testid='stException']").count() == 0
    assert "Traceback" not in page.inner_text("body")


def test_the_run_heading_follows_the_status_the_progress_bar_shows(page, base_url, home):
    from stabviz.runs import RunStore

    store = RunStore(home / "stabviz.db")
    run_id = store.create(TrainConfig(train_steps=200), launcher="ray")  # no local worker takes it
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{base_url}/runs?run={run_id}")
    wait_idle(page)
    heading = page.locator("h3", has_text=re.compile(r"^Run [0-9a-f]{8}: ")).first
    assert heading.inner_text() == f"Run {run_id[:8]}: queued"
    store.set_status(run_id, "running", pid=os.getpid())  # a live pid: never reaped as dead
    store.log_metrics(run_id, 110, {"progress": 0.55, "loss": 1.0})
    bar = page.locator("[data-testid='stProgress']").first
    page.wait_for_function("() => /running: 55%/.test(document.body.innerText)", timeout=15_000)
    assert heading.inner_text() == f"Run {run_id[:8]}: running"
    assert re.search(r"running: 55% · ETA \d+ (s|min)", bar.inner_text())
    assert heading.bounding_box()["y"] + 40 < 720 and bar.bounding_box()["y"] + 20 < 720  # above the fold
    store.set_status(run_id, "cancelled")
    _no_exception(page)


def test_confirm_on_explore_shows_the_run_inline_from_progress_to_verdict(page, base_url, tmp_path):
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(base_url + "/?n_rec=32")
    wait_idle(page)
    seeds = page.get_by_label("Seeds", exact=True)
    seeds.fill("1")
    seeds.press("Tab")
    wait_idle(page)
    page.get_by_role("button", name="Confirm with a short run").click()
    heading = page.locator("h3", has_text=re.compile(r"^Run [0-9a-f]{8}: ")).first
    heading.wait_for(timeout=30_000)
    assert page.url.split("?")[0].rstrip("/") == base_url  # still on Explore
    page.get_by_text(re.compile(r"^(queued|running)")).first.wait_for(timeout=30_000)  # its progress bar
    deadline = time.monotonic() + 200
    while not heading.inner_text().endswith(("finished", "failed", "diverged")):
        assert time.monotonic() < deadline, "the run did not end within 200 s"
        time.sleep(1.0)
    assert heading.inner_text().endswith("finished"), heading.inner_text()
    verdict = page.get_by_text(re.compile(r"^Prediction (confirmed|partly confirmed|refuted):"))
    verdict.wait_for(timeout=30_000)
    assert page.url.split("?")[0].rstrip("/") == base_url
    assert page.locator(".js-plotly-plot").filter(has_text="loss").count() >= 1  # its live curves
    verdict.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "confirm_inline.png"))
    _no_exception(page)
