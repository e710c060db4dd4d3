"""The Explore map's in-browser preview (live_map.js) redraws only what a slider move changes: the legend,
colour bar and axes are left as drawn (redrawing them was most of the repaint's time), the moved point is
drawn where its new value lies, and a new field's band is drawn from the server's numbers.

The preview is driven the way live_map.js sees a slider move (the thumb's aria-valuetext) without a
keydown, so no rerun replaces the map while the test looks at it."""

import numpy as np
import pytest
from harness import slider, wait_idle

from stabviz import plots, theory
from stabviz.config import preset
from stabviz.ui.urlstate import setting_params

SHOWCASE = "?" + "&".join(f"{k}={v}" for k, v in setting_params(preset("shd-tau20").to_dict()).items())
MAP = (
    "[...document.querySelectorAll('.js-plotly-plot')]"
    ".find(g => ((g.layout || {}).images || []).some(im => im.name === 'map'))"
)
FIXED = [".legend", ".colorbar", ".xaxislayer-above", ".yaxislayer-above"]  # what a slider move never changes
pytestmark = pytest.mark.timeout(240)

# Watches the fixed parts of the figure, then moves the slider `name` one stop up, as its thumb would.
MOVE = (
    """([name, fixed]) => {
  const gd = %s, d = window.stabvizLiveMap.d, s = d.sliders[name];
  window.__mutations = 0;
  const observer = new MutationObserver((records) => { window.__mutations += records.length; });
  const watched = fixed.map((sel) => gd.querySelector(sel));
  for (const node of watched) if (node) observer.observe(node, {subtree: true, childList: true, attributes: true, characterData: true});
  window.__observer = observer;
  const input = [...document.querySelectorAll('[data-testid="stSidebar"] input[type="range"]')]
    .find((i) => i.getAttribute('aria-label') === s.label);
  const k = s.labels.indexOf(input.getAttribute('aria-valuetext'));
  window.stabvizPreview = null;
  input.setAttribute('aria-valuetext', s.labels[k + 1]);
  return {watched: watched.map(Boolean), value: s.values[k + 1]};
}"""
    % MAP
)  # noqa: UP031  (JavaScript: its braces would all need doubling in an f-string)

# The figure as drawn: the current point's data and marker position (pixels), the band's outline.
DRAWN = (
    """() => {
  const gd = %s, i = gd.data.findIndex((t) => t.name === 'current setting');
  const group = [...gd.querySelectorAll('.scatterlayer .trace')].find((g) => g.__data__[0].trace.index === i);
  const m = group.querySelector('path.point').getAttribute('transform').match(/translate\\(([^,]+),([^)]+)\\)/);
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  return {x: gd.data[i].x[0], y: gd.data[i].y[0], px: +m[1], py: +m[2], wantPx: xa.c2p(gd.data[i].x[0]),
          wantPy: ya.c2p(gd.data[i].y[0]), band: [...gd.querySelectorAll('.contourlayer path')].map((p) => p.getAttribute('d')),
          source: gd.layout.images.find((im) => im.name === 'map').source};
}"""
    % MAP
)  # noqa: UP031  (JavaScript: its braces would all need doubling in an f-string)


def _open(page, base_url):
    page.goto(f"{base_url}/{SHOWCASE}&map=beta")
    page.wait_for_selector(".js-plotly-plot .imagelayer image", state="attached")
    wait_idle(page)
    page.wait_for_function("() => window.stabvizLiveMap && window.stabvizLiveMap.d", timeout=30_000)
    slider(page, "Leak")  # the sidebar is drawn


def _move(page, name):
    before = page.evaluate(DRAWN)
    moved = page.evaluate(MOVE, [name, FIXED])
    assert all(moved["watched"]), f"the figure lacks one of {FIXED}"
    page.wait_for_function("() => window.stabvizPreview !== null", timeout=30_000)
    page.evaluate("() => new Promise((ok) => requestAnimationFrame(() => ok()))")  # observer records delivered
    mutations = page.evaluate(
        "() => { const n = window.__mutations + window.__observer.takeRecords().length;"
        " window.__observer.disconnect(); return n; }"
    )
    return before, moved["value"], page.evaluate(DRAWN), mutations


def test_a_dampening_move_moves_only_the_current_point(page, base_url):
    _open(page, base_url)
    before, value, after, mutations = _move(page, "dampening")
    assert mutations == 0  # legend, colour bar and axes untouched
    assert after["y"] == pytest.approx(np.log10(value)) and after["x"] == before["x"]
    assert after["py"] < before["py"]  # up the map: a larger dampening
    assert (after["px"], after["py"]) == pytest.approx((after["wantPx"], after["wantPy"]), abs=0.01)
    assert after["band"] == before["band"] and after["source"] == before["source"]


def test_a_leak_move_redraws_the_field_and_leaves_the_legend_and_axes(page, base_url):
    _open(page, base_url)
    before, value, after, mutations = _move(page, "leak")
    assert mutations == 0
    assert after["source"] != before["source"]  # a new field image
    assert after["band"] != before["band"] and all(after["band"])  # and its band, drawn
    assert (after["px"], after["py"]) == pytest.approx((after["wantPx"], after["wantPy"]), abs=0.01)
    drawn = page.evaluate(f"() => {{ const gd = {MAP}; return gd.data.find((t) => t.type === 'contour').z; }}")
    cfg = preset("shd-tau20").replace(leak=value)
    want = plots._finite32(theory.region(cfg, "sharpness", "dampening").log10_gain, plots.FIELD_LIMIT)
    np.testing.assert_allclose(
        np.array(drawn, float), want[:: plots.CONTOUR_STRIDE, :: plots.CONTOUR_STRIDE], rtol=1e-4, atol=1e-3
    )
