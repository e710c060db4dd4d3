"""Typed exact values in Chromium: a value off the slider grid reaches the link, and the map's live preview
(live_map.js, which reads the sidebar's slider thumbs) then draws at that exact value, not a grid stop."""

import math
import re

import pytest
from harness import slider, wait_idle

pytestmark = pytest.mark.timeout(240)
MAP_FIELD = ".js-plotly-plot .imagelayer image"


def _type(page, label, text):
    box = page.locator("[data-testid='stSidebar']").get_by_label(label, exact=True)
    box.fill(text)
    box.press("Enter")
    wait_idle(page)


def test_a_typed_value_reaches_the_link_and_the_live_preview_uses_it(page, base_url):
    page.goto(f"{base_url}/?map=beta")
    page.wait_for_selector(MAP_FIELD, state="attached")
    wait_idle(page)
    _type(page, "β exactly", "12.5")
    page.wait_for_url(re.compile(r"sharpness=12\.5"))
    _type(page, "or τ (steps)", "20")
    page.wait_for_url(re.compile(re.escape(f"leak={math.exp(-1 / 20)!r}")))
    wait_idle(page)
    assert slider(page, "Sharpness").get_attribute("aria-valuetext") == "12.5"
    page.evaluate("window.stabvizPreview = null")
    slider(page, "Dampening").focus()
    page.keyboard.press("ArrowRight")  # a preview drawn in the browser, before the rerun
    page.wait_for_function("() => window.stabvizPreview !== null", timeout=30_000)
    values = page.evaluate("() => window.stabvizPreview.values")
    assert values["sharpness"] == 12.5 and values["leak"] == math.exp(-1 / 20)
    current = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .map(g => (g.data || []).find(t => t.name === 'current setting')).find(Boolean).x[0]""")
    assert current == pytest.approx(math.log10(12.5), abs=1e-12)  # the point sits at β = 12.5 exactly
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
