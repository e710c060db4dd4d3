"""Issue 9 in Chromium: on a shared dashboard, link values and stored run errors are shown as text (no
image or link to a foreign host appears), no path can be typed, and the sweep links work."""

import os
import urllib.parse

import pytest
from harness import dashboard, wait_idle

from stabviz.config import TrainConfig, preset

pytestmark = pytest.mark.timeout(240)
PAYLOADS = (
    "![x](http://evil.example/a.png)",
    "[Re-enter your password](http://evil.example)",
    "<img src=x>",
    ":red[big]",
    "$x$",
    "www.evil.example",
    "mail@evil.example",
)
EVIL = " ".join(PAYLOADS)
SHARED = {"STABVIZ_SHARED": "1", "STABVIZ_RUN_TOKEN": "classroom-token", "STABVIZ_DATA_FILES": "/srv/data/shd_train.h5"}


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory):
    """A shared dashboard of its own, with a stored failed run and a failed 1-D sweep whose texts are EVIL."""
    from stabviz.runs import RunStore, sweep_configs

    home = tmp_path_factory.mktemp("stabviz_shared_home")
    store = RunStore(home / "stabviz.db")
    run_id = store.create(TrainConfig(task="shd", data_path=EVIL))
    store.set_status(run_id, "failed", error=f"data file could not be read: {EVIL}")
    base = TrainConfig(lif=preset("shd-tau20"), train_steps=5)
    spec = {
        "x": "dampening",
        "x_values": [0.5, 2.0],
        "y": None,
        "y_values": None,
        "base": base.to_dict(),
        "launcher": "local",
    }
    ids = store.create_many(
        [
            (cfg, {"id": "sweep1d00001", "label": EVIL, "point": p})
            for p, cfg in sweep_configs(base, "dampening", [0.5, 2.0])
        ],
        sweep_spec=("sweep1d00001", spec),
    )
    for i in ids:
        store.set_status(i, "failed", error=EVIL)  # nothing left queued: no dispatcher starts
    saved = {k: os.environ.get(k) for k in SHARED}
    os.environ.update(SHARED)
    try:
        with dashboard(home) as url:
            yield url, run_id
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _no_foreign_content(page):
    found = page.evaluate("""() => [...document.querySelectorAll('img, a, image, iframe, svg a')]
        .map(e => e.getAttribute('src') || e.getAttribute('href') || e.getAttribute('xlink:href') || '')
        .filter(u => /evil|^x$/.test(u))""")
    assert found == [], found
    assert page.locator("[data-testid='stException']").count() == 0


def _text(page):
    return page.inner_text("[data-testid='stMain']").replace("\u2060", "")


def test_link_values_and_stored_errors_show_as_text_with_no_foreign_image_or_link(page, shared_site):
    url, run_id = shared_site
    query = urllib.parse.urlencode(
        {
            "run": run_id,
            "shape": PAYLOADS[0],
            "reset": PAYLOADS[1],
            "formula": PAYLOADS[2],
            "init_rec": PAYLOADS[3],
            "n_rec": PAYLOADS[4],
            "voltage_model": PAYLOADS[5],
            "seed": PAYLOADS[6],
        }
    )
    page.goto(f"{url}/runs?{query}")
    wait_idle(page)
    text = _text(page)
    for payload in PAYLOADS:
        assert payload in text, payload  # shown literally...
    assert f"The run failed: data file could not be read: {EVIL}" in text
    _no_foreign_content(page)  # ...and never as an image or a link
    page.goto(f"{url}/sweep?" + urllib.parse.urlencode({"sweep": EVIL}))
    wait_idle(page)
    text = _text(page)
    assert f"sweep = '{EVIL}'" in text and EVIL in text
    _no_foreign_content(page)


def test_a_shared_dashboard_takes_a_token_and_offers_only_the_hosts_files(page, shared_site):
    url, _ = shared_site
    page.goto(f"{url}/runs")
    wait_idle(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    assert sidebar.get_by_label("Run token", exact=True).get_attribute("type") == "password"
    form = page.locator(".st-key-launch")  # the launch box (plain widgets, no st.form)
    if not form.first.is_visible():  # folded into an expander once runs exist
        page.get_by_text("Launch a run", exact=True).click()
        form.first.wait_for(state="visible")
    assert form.locator("[data-testid='stTextInput']").filter(has_text="Data file").count() == 0  # no typed path
    form.locator("[data-testid='stSelectbox']").filter(has_text="Data file").click()
    options = page.locator("[role='option']").all_inner_texts()
    assert options == ["shd_train.h5"], options  # the name, never the directory
    assert "/srv/data" not in page.inner_text("body")


def test_a_1d_sweep_link_opens_its_curve(page, shared_site):
    url, _ = shared_site
    page.goto(f"{url}/sweep?sweep=sweep1d")
    wait_idle(page)
    page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg", timeout=60_000)
    assert "2 of 2 runs ended" in _text(page) and "sweep1d00001" in page.url
    _no_foreign_content(page)


def _wait_for_text(page, text, timeout_s=60):
    """Until the main area shows ``text`` (read as a person does: without layout.plain's word joiners)."""
    page.wait_for_function(
        """t => document.querySelector("[data-testid='stMain']").innerText
        .replaceAll('\u2060', '').includes(t)""",
        arg=text,
        timeout=timeout_s * 1e3,
    )


def test_a_visitor_without_the_token_sees_delete_disabled_with_its_reason(page, shared_site):
    """Issue 20: Delete (and the tags) of a run were live for any visitor; now they are drawn disabled, with
    the reason under them, until the run's owner has typed the token."""
    url, run_id = shared_site
    page.goto(f"{url}/runs?run={run_id}")
    wait_idle(page)
    delete = page.get_by_role("button", name="Delete run", exact=True)
    delete.wait_for(state="visible", timeout=60_000)
    assert delete.is_disabled()
    reason = "Only a run's owner can tag or delete it on this shared dashboard: type the run token in the sidebar."
    _wait_for_text(page, reason)
    tags = page.locator("[data-testid='stMultiSelect']").filter(has_text="Tags")
    assert tags.locator("input").is_disabled()
    token = page.locator("[data-testid='stSidebar']").get_by_label("Run token", exact=True)
    token.fill(SHARED["STABVIZ_RUN_TOKEN"])
    token.press("Enter")
    # with the token, still not theirs: this run was stored before any visitor came (it has no owner)
    _wait_for_text(page, "launched by someone else.")
    assert page.get_by_role("button", name="Delete run", exact=True).is_disabled()
    _no_foreign_content(page)
