"""Slider release -> repainted Explore map, measured in Debian's Chromium.

Starts the dashboard (``streamlit run app.py`` on a free port, throw-away STABVIZ_HOME), opens the
Explore page, and moves a sidebar slider one stop with the keyboard, ``--repeats`` times per slider.
For each move it reports

- repaint: from the keydown to the first animation frame after the 200 × 200 map holds the new
  data (the browser's own clock, performance.now());
- server rerun: the script run's duration as the dashboard reports it in its sidebar footer.

Two sliders: dampening (the map's own y axis: the grid comes from the cache, the current point moves)
and leak (a new 200 × 200 grid is computed). Prints the medians. Usage:

    python benchmarks/bench_repaint.py [--repeats 15]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser")]      # stabviz, and the browser tests' harness
from harness import CHROMIUM, chromium, dashboard, server_ms, slider, wait_idle  # noqa: E402

# Resolves with the milliseconds from the next keydown to the frame after the map's data changed.
PROBE = """() => {
  const mapOf = () => [...document.querySelectorAll('.js-plotly-plot')]
      .find(g => ((g.layout || {}).images || []).some(im => im.name === 'map'));
  const signature = () => {
    const gd = mapOf();
    if (!gd || !gd.data) return null;
    const field = gd.layout.images.find(im => im.name === 'map').source;
    const cur = gd.data.find(t => t.name === 'current setting');
    return field + '|' + (cur ? JSON.stringify(cur.x) + JSON.stringify(cur.y) : '');
  };
  window.__repaint = null;
  const before = signature();
  let t0 = null;
  document.addEventListener('keydown', () => { t0 = performance.now(); }, {once: true, capture: true});
  const tick = () => {
    const now = signature();
    if (t0 !== null && now !== null && now !== before) {
      requestAnimationFrame(() => { window.__repaint = performance.now() - t0; });
    } else {
      requestAnimationFrame(tick);
    }
  };
  requestAnimationFrame(tick);
}"""


def measure(page, label: str, repeats: int) -> tuple[list[float], list[float]]:
    """(repaint ms, server ms) for ``repeats`` one-stop moves of the slider ``label``, alternating
    right and left so the setting stays near its start."""
    repaint, server = [], []
    for i in range(repeats):
        page.evaluate(PROBE)
        handle = slider(page, label)
        handle.focus()
        page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
        page.wait_for_function("() => window.__repaint !== null", timeout=30_000)
        repaint.append(page.evaluate("window.__repaint"))
        wait_idle(page)
        time.sleep(0.3)                       # the footer is the run's last element
        server.append(server_ms(page))
    return repaint, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="moves per slider (default 15)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory(prefix="stabviz-bench-") as home, dashboard(Path(home)) as url, \
            sync_playwright() as pw, chromium(pw) as ctx:
        page = ctx.new_page()
        page.goto(url + "/")
        page.wait_for_selector(".js-plotly-plot .imagelayer image", timeout=60_000, state="attached")
        wait_idle(page)
        measure(page, "Leak", 2)              # warm-up: imports, first cache entries, Plotly's first draw
        print(f"Explore map 200 × 200, {args.repeats} slider releases each (Chromium {CHROMIUM})")
        for label, what in (("Dampening", "grid cached, current point moves"), ("Leak", "new grid computed")):
            repaint, server = measure(page, label, args.repeats)
            print(f"{label:<9} ({what}): repaint median {statistics.median(repaint):6.1f} ms "
                  f"(min {min(repaint):.1f}, max {max(repaint):.1f}); server rerun median "
                  f"{statistics.median(server):5.1f} ms")


if __name__ == "__main__":
    main()
