"""A link that cannot be followed as written says so in Chromium (issue 19, item 7): an unknown page (Streamlit
shows the default page and tells the script nothing but the requested path) and a repeated parameter."""

import pytest
from harness import wait_idle

pytestmark = pytest.mark.timeout(180)


def _warning(page):
    return page.locator("[data-testid='stAlert']").filter(has_text="could not be used").first


def test_an_unknown_page_says_which_and_shows_explore(page, base_url):
    page.goto(base_url + "/nonexistentpage")
    wait_idle(page)
    text = _warning(page).inner_text().replace("\u2060", "")
    assert "No page named 'nonexistentpage'; showing Explore" in text, text
    assert page.locator("h1", has_text="Will gradients survive?").count() == 1


def test_a_repeated_parameter_is_rejected_in_writing(page, base_url):
    page.goto(base_url + "/?dampening=-1&dampening=2")
    wait_idle(page)
    text = _warning(page).inner_text().replace("\u2060", "")
    assert "dampening is given 2 times in the link" in text, text


def test_known_pages_opened_by_link_or_by_the_navigation_report_nothing(page, base_url):
    page.goto(base_url + "/runs")
    wait_idle(page)
    page.get_by_role("link", name="Sweep").first.click()
    page.wait_for_url("**/sweep**")
    wait_idle(page)
    page.get_by_role("link", name="Explore").first.click()
    page.locator("h1", has_text="Will gradients survive?").wait_for(timeout=30_000)
    wait_idle(page)
    assert "No page named" not in page.inner_text("body")
