"""What a person sees, in Debian's Chromium: every page renders without an exception (screenshots go to
docs/screenshots/), a slider moves the map, a click on the map moves the setting, a bad link warns, and
a tiny training run launched from the page finishes."""

import re
import time

import numpy as np
import pytest
from harness import MESSAGE_TIMES, ROOT, server_ms, slider, wait_checked, wait_idle

from stabviz.config import preset
from stabviz.ui.urlstate import setting_params

SHOTS = ROOT / "docs" / "screenshots"
PAGES = {"explore": "/", "surrogates": "/surrogates", "runs": "/runs", "sweep": "/sweep", "learn": "/learn"}
# The screenshots show the SHD layer with a realistic leak (τ = 20): a setting with a visible stable band.
SHOWCASE = "?" + "&".join(f"{k}={v}" for k, v in setting_params(preset("shd-tau20").to_dict()).items())
pytestmark = pytest.mark.timeout(240)
MAP_FIELD = ".js-plotly-plot .imagelayer image"  # the Explore map's field, drawn as one image


def _assert_no_exception(page):
    assert page.locator("[data-testid='stException']").count() == 0
    assert "Traceback" not in page.inner_text("body")


def _map_state(page):
    """The Explore map as the browser holds it: a digest of its field image and the current point."""
    return page.evaluate("""() => {
        const isMap = im => im.name === 'map';
        const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => ((g.layout || {}).images || []).some(isMap));
        if (!gd) return null;
        const z = gd.layout.images.find(isMap).source;
        const cur = gd.data.find(t => t.name === 'current setting');
        return {z: z.length + ':' + z.slice(0, 64) + z.slice(-64),
                current: cur ? JSON.stringify(cur.x) + JSON.stringify(cur.y) : null};
    }""")


def _wait_map(page, before, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _map_state(page)
        if state and state != before:
            return state
        time.sleep(0.1)
    raise AssertionError(f"the map did not change within {timeout} s")


def _settled_map(page, timeout=30.0):
    """The map once it has stopped changing (the rerun's figure has replaced the browser's preview)."""
    deadline = time.monotonic() + timeout
    last = _map_state(page)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _map_state(page)
        if now == last:
            return now
        last = now
    raise AssertionError(f"the map kept changing for {timeout} s")


# Decodes two images in the browser and returns their sizes and the largest channel difference.
PIXEL_DIFF = """async ([a, b]) => {
  const load = (src) => new Promise((ok, fail) => { const im = new Image(); im.onload = () => ok(im); im.onerror = fail; im.src = src; });
  const pixels = (im) => { const c = document.createElement('canvas'); c.width = im.width; c.height = im.height;
    const g = c.getContext('2d'); g.drawImage(im, 0, 0); return g.getImageData(0, 0, im.width, im.height).data; };
  const [ia, ib] = await Promise.all([load(a), load(b)]);
  const pa = pixels(ia), pb = pixels(ib);
  let worst = 0;
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) worst = Math.max(worst, Math.abs(pa[i] - pb[i]));
  return {a: [ia.width, ia.height], b: [ib.width, ib.height], worst};
}"""


@pytest.mark.parametrize(
    "map_param,label,moved,colour", [("beta", "Leak", "leak", "log10_gain"), ("leak", "Sharpness", "sharpness", "rho2")]
)
def test_the_map_repaints_in_the_browser_before_the_rerun_with_the_servers_numbers(
    page, base_url, map_param, label, moved, colour
):
    from stabviz import plots, theory

    page.add_init_script(MESSAGE_TIMES)
    page.goto(f"{base_url}/{SHOWCASE}&map={map_param}&color={colour}")
    page.wait_for_selector(MAP_FIELD, state="attached")
    wait_idle(page)
    page.evaluate(
        "window.stabvizPreview = null; window.__key = null; document.addEventListener('keydown', "
        "() => { window.__key = performance.now(); window.__wsTimes = []; }, {once: true, capture: true})"
    )
    slider(page, label).focus()
    page.keyboard.press("ArrowRight")  # one stop: a field the page has never drawn
    page.wait_for_function("() => window.stabvizPreview !== null", timeout=30_000)
    preview = page.evaluate("""() => { const p = window.stabvizPreview;
        return {values: p.values, band: p.band, source: p.source, at: p.at, first: window.__wsTimes[0] ?? null}; }""")
    assert preview["first"] is None or preview["at"] < preview["first"]  # drawn before the server answered
    x = {"beta": "sharpness", "leak": "leak"}[map_param]
    cfg = preset("shd-tau20").replace(**{moved: preview["values"][moved]})
    assert preview["values"][moved] != getattr(preset("shd-tau20"), moved)
    want = plots._finite32(theory.region(cfg, x, "dampening").log10_gain, plots.FIELD_LIMIT)
    want = want[:: plots.CONTOUR_STRIDE, :: plots.CONTOUR_STRIDE]
    got = np.array(preview["band"], dtype=float)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)  # the stable band: the server's numbers
    wait_idle(page)
    server = _settled_map(page)
    assert server["current"] is not None
    served = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .find(g => ((g.layout || {}).images || []).some(im => im.name === 'map')).layout.images[0].source""")
    diff = page.evaluate(PIXEL_DIFF, [preview["source"], served])
    assert diff["a"] == diff["b"] == [200, 200] and diff["worst"] <= 2  # and the server's colours
    _assert_no_exception(page)


def test_a_tiny_run_launched_from_the_runs_page_finishes(page, base_url):
    page.goto(base_url + "/runs?n_rec=32")
    wait_idle(page)
    form = page.locator(".st-key-launch")  # the launch box (plain widgets, no st.form)
    if not form.is_visible():  # once runs exist the form is folded in its expander
        page.get_by_text("Launch a run", exact=True).click()
    for label, value in (("Training steps", 20), ("Batch", 8), ("Time steps per sample", 20), ("Seeds", 2)):
        box = form.get_by_label(label, exact=True).and_(form.locator("input"))
        box.fill(str(value))
        box.press("Tab")
    form.get_by_role("button", name="Launch run").click()
    heading = page.locator("h3", has_text=re.compile(r"^Run [0-9a-f]{8}: "))
    heading.first.wait_for(timeout=30_000)
    page.wait_for_url(re.compile(r"run=[0-9a-f]+"))
    deadline = time.monotonic() + 150
    while not heading.first.inner_text().endswith(("finished", "failed", "diverged")):
        assert time.monotonic() < deadline, "the run did not end within 150 s"
        time.sleep(1.0)
    assert heading.first.inner_text().endswith("finished"), heading.first.inner_text()
    page.get_by_text("Prediction vs measurement at initialisation").wait_for(timeout=30_000)
    # two seeds: one group, whose verdict appears in the run view once the second run has ended too
    # (layout.plain puts an invisible word joiner after every ':')
    verdict = page.get_by_text(re.compile("^Over 2 seeds the prediction (agrees|is refuted):\u2060? predicted ρ "))
    verdict.wait_for(timeout=150_000)
    assert re.search(
        r"the 95% interval of ρ̂ \[[-0-9.e]+, [-0-9.e]+\] widened by the calibrated band",
        verdict.inner_text().replace("\u2060", ""),
    )
    intervals = re.compile(
        r"^ρ̂ [-0-9.e]+ \[[-0-9.e]+, [-0-9.e]+\], rate [-0-9.e]+ \[[-0-9.e]+, [-0-9.e]+\] \(2 seeds\)$"
    )
    assert page.locator("[data-testid='stMarkdownContainer']").get_by_text(intervals).count() == 1  # the run view
    page.get_by_text(intervals).nth(1).wait_for(state="attached", timeout=30_000)  # and the table's seed-group column
    # (the table is drawn below the run view, so it may arrive a moment after the verdict)
    assert page.locator(".js-plotly-plot").count() >= 4  # loss, accuracy, firing rate, grad norm, ...
    _assert_no_exception(page)
    assert server_ms(page) > 0


def test_a_small_sweep_fills_its_heatmap_as_runs_finish(page, base_url):
    page.goto(base_url + "/sweep?n_rec=32&leak=0.951229424500714")
    wait_idle(page)
    form = page.locator("[data-testid='stMain']")
    for label, value in (
        ("x values (comma-separated)", "0.5, 2"),
        ("y values (comma-separated)", "0.5, 2"),
        ("Training steps per run", 10),
        ("Batch", 8),
        ("Time steps per sample (T)", 20),
    ):
        box = form.get_by_label(label, exact=True)
        box.fill(str(value))
        box.press("Tab")
        wait_idle(page)
    # the cost before it starts, for the values as typed (an estimate once a run has finished here)
    form.get_by_text(re.compile(r"(Estimated time: about .+|Cost:) ?\(?4 runs × 10 steps")).wait_for(timeout=30_000)
    form.get_by_role("button", name="Start sweep").click()
    progress = page.locator("[data-testid='stProgress']").first
    progress.wait_for(timeout=30_000)
    deadline = time.monotonic() + 150
    while "4 of 4 runs ended" not in page.inner_text("[data-testid='stMain']"):
        assert time.monotonic() < deadline, "the sweep did not end within 150 s"
        time.sleep(1.0)
    # "4 of 4" comes from the polling fragment; the heatmap is redrawn by the full rerun that follows it
    heat_cells = """() => {
        const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => (g.data || []).some(t => t.name === 'measured'));
        return gd ? gd.data.find(t => t.name === 'measured').text.flat() : [];
    }"""
    # a finished cell shows its number (a pending one has no text in the measured trace)
    page.wait_for_function(
        f"() => {{ const c = ({heat_cells})(); return c.length === 4 && c.every(t => t !== ''); }}", timeout=30_000
    )
    cells = page.evaluate(heat_cells)
    assert len(cells) == 4 and all(cells)
    assert page.locator(".js-plotly-plot .contourlayer").count() >= 1  # the predicted band
    _assert_no_exception(page)


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders_without_an_exception(page, base_url, name):
    page.set_viewport_size({"width": 1500, "height": 1250})
    page.goto(base_url + PAGES[name] + SHOWCASE)
    wait_idle(page)
    if name == "explore":
        page.wait_for_selector(MAP_FIELD, state="attached")
    # the shot must show the page, not its loading placeholders: no skeletons, every chart drawn
    page.wait_for_function(
        "() => !document.querySelector('[data-testid^=\"stSkeleton\"]')"
        " && [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
        "    .every(el => el.querySelector('.main-svg'))",
        timeout=60_000,
    )
    time.sleep(1.0)  # let Plotly finish drawing before the shot
    _assert_no_exception(page)
    assert page.locator("h1").first.inner_text()
    assert "leak=0.951" in page.url and "n_rec=256" in page.url, page.url  # the setting stays in the link
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_moving_a_slider_repaints_the_map_and_a_reload_restores_it(page, base_url):
    page.goto(base_url + "/")
    page.wait_for_selector(MAP_FIELD, state="attached")
    wait_checked(page)  # the first view's second pass and the check's rerun would otherwise land mid-test
    before = _map_state(page)
    leak = slider(page, "Leak")
    leak.focus()
    page.keyboard.press("ArrowRight")  # one stop: a new leak, a new grid
    assert _wait_map(page, before)["z"] != before["z"]  # the browser's preview, then the rerun's figure
    page.wait_for_url(re.compile(r"leak="))
    wait_idle(page)
    after = _settled_map(page)
    assert after["z"] != before["z"]
    shown = leak.get_attribute("aria-valuetext")
    page.goto(page.url)  # a reload, or the link in a second tab
    page.wait_for_selector(MAP_FIELD, state="attached")
    wait_idle(page)
    assert slider(page, "Leak").get_attribute("aria-valuetext") == shown
    assert _map_state(page)["z"] == after["z"]
    _assert_no_exception(page)


def test_hovering_shows_the_cells_numbers_and_clicking_moves_there(page, base_url):
    from stabviz import theory

    page.goto(f"{base_url}/{SHOWCASE}")
    page.wait_for_selector(MAP_FIELD, state="attached")
    wait_idle(page)
    time.sleep(1.0)
    before = _map_state(page)
    drag = page.locator(".js-plotly-plot .nsewdrag").first
    drag.scroll_into_view_if_needed()  # below the verdict: the map may start under the fold
    box = drag.bounding_box()
    x, y = box["x"] + 0.25 * box["width"], box["y"] + 0.7 * box["height"]
    page.mouse.move(x, y)
    tip = page.locator("#stabviz-map-tip")
    tip.wait_for(state="visible", timeout=10_000)
    shown = dict(line.split(" = ") for line in tip.inner_text().splitlines() if " = " in line)
    # Every number of the cell under the pointer, as theory.region has it there.
    region = theory.region(preset("shd-tau20"), "sharpness", "dampening")
    k = int(np.argmin(np.abs(region.x - float(shown["sharpness β"]))))
    j = int(np.argmin(np.abs(region.y - float(shown["dampening γ"]))))
    assert float(shown["sharpness β"]) == pytest.approx(region.x[k], rel=1e-3)
    assert float(shown["dampening γ"]) == pytest.approx(region.y[j], rel=1e-3)
    assert float(shown["ρ²"]) == pytest.approx(region.rho2[j, k], rel=1e-3)
    assert float(shown["worst one-step gain"]) == pytest.approx(region.max_gain[j, k], rel=1e-3)
    assert float(shown["log₁₀ gain over T"]) == pytest.approx(region.log10_gain[j, k], rel=1e-2, abs=1e-3)
    assert float(shown["firing rate p"]) == pytest.approx(region.firing_rate[j, k], abs=1e-3)
    page.mouse.click(x, y)
    after = _wait_map(page, before)
    assert after["current"] != before["current"]
    page.wait_for_url(re.compile(r"sharpness=.*dampening=|dampening=.*sharpness="))
    params = dict(p.split("=") for p in page.url.split("?", 1)[1].split("&"))
    assert float(params["sharpness"]) == pytest.approx(region.x[k], rel=1e-3)  # moved to that very cell
    assert float(params["dampening"]) == pytest.approx(region.y[j], rel=1e-3)
    _assert_no_exception(page)


def test_a_bad_link_warns_and_uses_the_defaults(page, base_url):
    page.goto(base_url + "/?shape=banana&n_rec=-4&dampening=nan&sharpness=2.5")
    wait_idle(page)
    warning = page.locator("[data-testid='stAlertContentWarning']").first.inner_text()
    for field in ("shape", "n_rec", "dampening"):
        assert field in warning
    assert slider(page, "Sharpness").get_attribute("aria-valuetext") == "2.5"
    _assert_no_exception(page)


def test_a_jump_beyond_the_shipped_stops_dims_the_map_until_the_rerun_repaints_it(page, base_url):
    page.goto(f"{base_url}/{SHOWCASE}")
    page.wait_for_selector(MAP_FIELD, state="attached")
    wait_idle(page)
    before = _map_state(page)
    page.evaluate("""() => { window.__dimmed = false;
        const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => ((g.layout || {}).images || []).length);
        new MutationObserver(() => { if (gd.style.opacity === '0.45') window.__dimmed = true; })
            .observe(gd, {attributes: true, attributeFilter: ['style']}); }""")
    slider(page, "Leak").focus()
    page.keyboard.press("End")  # the last stop: no preview for it was shipped
    page.wait_for_function("() => window.__dimmed", timeout=30_000)
    wait_idle(page)
    after = _settled_map(page)
    assert after["z"] != before["z"]
    assert (
        page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .find(g => ((g.layout || {}).images || []).length).style.opacity""")
        == ""
    )
    _assert_no_exception(page)


def _wait_history_patch(page):
    """Until the run has finished and history.js has loaded: the component's script arrives after the
    page's last element, and a switch made before it would still leave Streamlit's two entries."""
    wait_idle(page)
    page.wait_for_function("() => window.__stabvizHistory !== undefined", timeout=30_000)
    wait_checked(page)  # its rerun would otherwise fall inside a test's window


def test_one_back_press_returns_to_the_previous_page_with_its_setting(page, base_url):
    # Streamlit pushes one history entry for the page and one for the query string the script sets; the
    # dashboard folds them into one, so Back goes to the page before, not to the same page without its link.
    page.goto(base_url + "/?dampening=0.5")
    _wait_history_patch(page)
    for name, path in (("Learn", "/learn"), ("Surrogates", "/surrogates")):
        page.get_by_role("link", name=name).click()
        page.wait_for_url(re.compile(re.escape(path) + r"\?dampening=0\.5$"))
        wait_idle(page)
    page.go_back()
    page.wait_for_url(re.compile(r"/learn\?dampening=0\.5$"), timeout=30_000)
    page.go_back()
    page.wait_for_url(re.compile(r"/\?dampening=0\.5$"), timeout=30_000)
    _assert_no_exception(page)


def test_a_late_query_write_after_a_page_switch_still_makes_one_history_entry(page, base_url):
    # Under load the script's query write can land seconds after Streamlit's page push; it must still
    # finish the same entry. Only a user press (a slider move) starts a new one.
    page.goto(base_url + "/?dampening=0.5")
    _wait_history_patch(page)
    pushed = page.evaluate("""async () => {
        const before = history.length;
        history.pushState({}, '', '/learn');
        await new Promise(done => setTimeout(done, 2500));
        history.pushState({}, '', '/learn?dampening=0.5');
        return history.length - before; }""")
    assert pushed == 1
    page.mouse.click(5, 5)
    assert (
        page.evaluate("""() => { const before = history.length;
        history.pushState({}, '', '/learn?dampening=0.6'); return history.length - before; }""")
        == 1
    )


def test_enter_in_a_form_field_never_submits_the_form(page, base_url, home):
    # Typing the x values + Enter, then the y values + Enter, used to queue a sweep per Enter.
    from stabviz.runs import RunStore

    store = RunStore(home / "stabviz.db")
    before = len(store.list(limit=None))
    page.goto(base_url + "/sweep")
    wait_idle(page)
    for label, text in (("x values (comma-separated)", "0.5, 2"), ("y values (comma-separated)", "0.5, 2")):
        field = page.get_by_label(label)
        field.fill(text)
        field.press("Enter")
        wait_idle(page)
    page.wait_for_timeout(1500)
    assert page.get_by_text("queued:").count() == 0
    assert len(store.list(limit=None)) == before
    _assert_no_exception(page)
