"""The projector, the narrow window and the keyboard, in Debian's Chromium: presentation mode puts the
verdict, the numbers and the whole map on one 1280 × 720 screen in ≥ 16 px figure text with no label cut
short; a window ≤ 900 px starts with the sidebar collapsed and a full-width map; the skip link reaches
the sliders in two key presses. The presentation screenshot goes to docs/screenshots/."""

import time

import pytest
from harness import ROOT, wait_idle

from stabviz.config import preset
from stabviz.ui.urlstate import setting_params

SHOTS = ROOT / "docs" / "screenshots"
SHOWCASE = "?" + "&".join(f"{k}={v}" for k, v in setting_params(preset("shd-tau20").to_dict()).items())
MAP = "[data-testid='stPlotlyChart']:has(.imagelayer image)"
pytestmark = pytest.mark.timeout(180)


def _drawn(page):
    wait_idle(page)
    page.wait_for_selector(".js-plotly-plot .imagelayer image", state="attached", timeout=60_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
        ".every(el => el.querySelector('.main-svg'))",
        timeout=60_000,
    )
    time.sleep(1.0)


@pytest.fixture(autouse=True)
def _forget_the_sidebar(page):
    """These tests collapse the sidebar; the browser is shared with the screenshot tests, which expect it open."""
    yield
    page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")


def _box(page, selector):
    return page.locator(selector).first.bounding_box()


def test_presentation_mode_fits_the_verdict_the_numbers_and_the_map_on_a_projector(page, base_url):
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{base_url}/{SHOWCASE}&present=1")
    _drawn(page)
    assert page.locator("[data-testid='stSidebar']").get_attribute("data-collapsed") == "true"
    badge = page.get_by_text("at T = 100").first.bounding_box()
    chart = _box(page, MAP)
    metrics = [page.locator("[data-testid='stMetric']").nth(i).bounding_box() for i in range(5)]
    for name, box in [("badge", badge), ("map", chart)] + [(f"metric {i}", b) for i, b in enumerate(metrics)]:
        assert box["y"] >= 0 and box["y"] + box["height"] <= 720, (name, box)
    # no metric label cut short, every map tab fully visible (no scroll arrow)
    cut = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMetricLabel"]')]
        .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.innerText)""")
    assert cut == []
    tabs = page.locator("[data-testid='stTabs']").first
    strip = tabs.locator("[role='tablist']").bounding_box()
    for tab in tabs.locator("[role='tab']").all():
        b = tab.bounding_box()
        assert b["x"] >= strip["x"] - 1 and b["x"] + b["width"] <= strip["x"] + strip["width"] + 1, tab.inner_text()
    # the map's text: ticks, legend, colour bar all ≥ 16 px
    sizes = page.evaluate("""() => [...document.querySelectorAll(
        '[data-testid="stPlotlyChart"] .xtick text, [data-testid="stPlotlyChart"] .ytick text, '
        + '[data-testid="stPlotlyChart"] .legendtext, [data-testid="stPlotlyChart"] .cbaxis text')]
        .map(t => parseFloat(getComputedStyle(t).fontSize))""")
    assert sizes and min(sizes) >= 16, sorted(set(sizes))
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "explore_present.png"))


def test_a_narrow_window_starts_with_the_sidebar_collapsed_and_a_usable_map(page, base_url):
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(f"{base_url}/{SHOWCASE}")
    _drawn(page)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stSidebar\"]').getAttribute('data-collapsed') === 'true'",
        timeout=10_000,
    )
    time.sleep(0.5)
    chart = _box(page, MAP)
    assert chart["width"] >= 500, chart  # the map takes the main area's width, not 90 px


def test_the_skip_link_reaches_the_sliders_in_two_key_presses(page, base_url):
    page.set_viewport_size({"width": 800, "height": 900})  # the sidebar starts collapsed: harder
    page.goto(f"{base_url}/{SHOWCASE}")
    _drawn(page)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stSidebar\"]').getAttribute('data-collapsed') === 'true'",
        timeout=10_000,
    )
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.focus(); }")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "stabviz-skip"
    assert page.locator("#stabviz-skip").bounding_box()["y"] >= 0  # visible while focused
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => !!document.activeElement.closest('[data-testid=\"stSidebar\"]')"
        " && document.activeElement.matches('input[type=range], [role=slider]')",
        timeout=10_000,
    )
    before = page.evaluate("() => document.activeElement.getAttribute('aria-valuetext')")
    page.keyboard.press("ArrowRight")  # the third press moves it
    page.wait_for_function(
        f"() => document.activeElement.getAttribute('aria-valuetext') !== {before!r}", timeout=10_000
    )
