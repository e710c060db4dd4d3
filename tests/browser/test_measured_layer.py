"""Explore's measured layer in Debian's Chromium: the toggle starts a background map whose progress bar
shows, then its boundary is drawn on the map with the agreement under it; a slider that leaves the setting
hides the boundary until the new setting's map arrives."""

import re

import pytest
from harness import slider, wait_idle

pytestmark = pytest.mark.timeout(300)
MAP_FIELD = ".js-plotly-plot .imagelayer image"
# A small layer: the map's 20 × 20 cells take seconds on a busy CPU.
SMALL = "?n_rec=32&n_in=40"
MAP = "[...document.querySelectorAll('.js-plotly-plot')].find(g => (g.layout || {}).uirevision === 'region-sharpness-dampening')"
MEASURED_VISIBLE = f"() => {{ const gd = {MAP}; return gd ? gd.data.filter(t => t.meta === 'measured').map(t => t.visible ?? true) : []; }}"


def test_the_measured_layer_shows_progress_then_its_boundary_and_hides_it_when_the_setting_moves(page, base_url):
    page.goto(base_url + "/" + SMALL)
    page.wait_for_selector(MAP_FIELD, state="attached")
    wait_idle(page)
    page.locator("[data-testid='stCheckbox']").filter(has_text="Measured layer").locator("label").click()
    progress = page.locator("[data-testid='stProgress']")
    progress.first.wait_for(state="visible", timeout=60_000)
    assert re.search(r"\d+ / 400 cells|waiting", page.locator("[data-testid='stMain']").inner_text())
    page.wait_for_url(re.compile(r"measured=1"))
    # then the boundary on the map and the agreement under it
    page.wait_for_function(
        f"() => {{ const gd = {MAP}; return gd && gd.data.some(t => t.name === 'measured boundary'); }}",
        timeout=240_000,
    )
    agree = page.locator("text=/Regimes agree on \\d+% of the 20 × 20 cells/")
    agree.first.wait_for(state="visible", timeout=30_000)
    assert progress.count() == 0
    assert page.evaluate(MEASURED_VISIBLE) == [True]
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"])
    tip = page.locator("#stabviz-map-tip")
    tip.wait_for(state="visible", timeout=10_000)
    assert re.search(r"measured log₁₀ gain over T = -?[\d.e+-]+ \(20 × 20 grid\)", tip.inner_text()), tip.inner_text()
    # a slider other than the map's axes: the boundary belongs to the old setting and hides at once
    page.evaluate(f"""() => {{ window.__staleSeen = null; let v = false;
        Object.defineProperty(window, 'stabvizMeasuredStale', {{configurable: true, get: () => v,
            set: (x) => {{ v = x; if (x && window.__staleSeen === null) window.__staleSeen = ({MEASURED_VISIBLE})(); }} }}); }}""")
    slider(page, "Leak").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.__staleSeen !== null", timeout=30_000)
    assert page.evaluate("() => window.__staleSeen") == [False]
    progress.first.wait_for(state="visible", timeout=60_000)  # the new setting's map is on its way
    assert page.locator("[data-testid='stException']").count() == 0
    assert "Traceback" not in page.inner_text("body")
