"""Fixtures of the real-browser suite: one dashboard server and one Chromium for the whole session."""

import os
import sys
from pathlib import Path

import pytest
from harness import CHROMIUM, chromium, dashboard

# tests/support.py (helpers the AppTest suite shares) for a browser test run on its own
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pytest_collection_modifyitems(items):
    # On a developer's machine without Chromium the suite skips; in CI (.ci/run installs Chromium) it
    # must run, so there a missing browser fails the tests instead of hiding them.
    if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
        skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install chromium); never downloaded")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("stabviz_home")


@pytest.fixture(scope="session")
def base_url(home):
    with dashboard(home) as url:
        yield url


@pytest.fixture(scope="session")
def browser_context():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, chromium(pw) as ctx:
        yield ctx


@pytest.fixture
def page(browser_context):
    page = browser_context.new_page()
    yield page
    page.close()
