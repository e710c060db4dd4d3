"""A first visit in Debian's Chromium: the Explore map is drawn before the parts below the fold (the detail
tabs, the confirmation run, the share link), which then follow by themselves. Ordering only, no timing."""

import pytest
from harness import wait_idle
from playwright.sync_api import expect

pytestmark = pytest.mark.timeout(240)

# Stamps when the map's field image and when the detail tabs first appear (performance.now()).
APPEARANCE = """
  window.__seen = {};
  const look = () => {
    const stamp = (name, found) => { if (found && !(name in window.__seen)) window.__seen[name] = performance.now(); };
    stamp('map', document.querySelector('.js-plotly-plot .imagelayer image'));
    const tabs = [...document.querySelectorAll('[role="tab"]')];
    stamp('details', tabs.some(t => /Recommended initialisation/.test(t.innerText)));
    if (Object.keys(window.__seen).length < 2) requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
"""


def test_the_first_map_comes_before_the_details_which_then_follow_unasked(base_url, page):
    # A new page is a new Streamlit session: its first view (the session's, not the browser's).
    page.add_init_script(APPEARANCE)
    page.goto(base_url)
    page.wait_for_function("() => 'map' in window.__seen && 'details' in window.__seen", timeout=120_000)
    seen = page.evaluate("window.__seen")
    assert seen["map"] < seen["details"]
    wait_idle(page)  # the footer comes with the whole page
    # waited for, not read at once: right after a run the page may not have drawn every element yet
    expect(page.locator("[data-testid='stSidebar'] [data-testid='stCode']")).to_have_count(1, timeout=30_000)
    expect(page.get_by_role("button", name="Confirm with a short run")).to_have_count(1, timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
