"""Slider release -> repainted Explore map, measured in Debian's Chromium.

Starts the dashboard (``streamlit run app.py`` on a free port, throw-away STABVIZ_HOME), opens the
Explore page at the SHD setting with τ = 20 (preset shd-tau20), and moves a sidebar slider one stop with the
keyboard, ``--repeats`` times per case, always in the same direction (so that a move of the leak
computes a new grid and a new preview row each time, as a person's would). For each move it reports

- repaint: from the keydown to the first animation frame after the 200 × 200 map shows the new
  setting (field image or current point changed), on the browser's own clock (performance.now());
  the map is redrawn in the browser by stabviz/ui/live_map.js, before the rerun;
- page settled: from the keydown to the last message of the rerun that follows (metrics, badges and
  the server's own figure are then in place);
- server rerun: the script run's duration as the dashboard reports it in its sidebar footer.

Cases: on the sharpness × dampening map, the dampening (the current point moves), the sharpness (the
current point moves) and the leak (a new field); on the leak × dampening map, the sharpness (a new
field whose every column differs). Prints medians. Usage:

    python -m benchmarks.bench_repaint [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser")]  # stabviz, and the browser tests' harness
from harness import CHROMIUM, MESSAGE_TIMES, chromium, dashboard, server_ms, slider, wait_idle  # noqa: E402

from stabviz.config import preset  # noqa: E402
from stabviz.ui.urlstate import setting_params  # noqa: E402

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
  window.__key = null;
  const before = signature();
  document.addEventListener('keydown', () => { window.__key = performance.now(); }, {once: true, capture: true});
  const tick = () => {
    const now = signature();
    if (window.__key !== null && now !== null && now !== before) {
      requestAnimationFrame(() => { window.__repaint = performance.now() - window.__key; });
    } else {
      requestAnimationFrame(tick);
    }
  };
  requestAnimationFrame(tick);
}"""

CASES = (
    ("beta", "Dampening", "current point moves"),
    ("beta", "Sharpness", "current point moves"),
    ("beta", "Leak", "new field"),
    ("leak", "Sharpness", "new field, every column"),
)


def measure(page, label: str, repeats: int) -> tuple[list[float], list[float], list[float]]:
    """(repaint ms, settled ms, server ms) for ``repeats`` one-stop moves of the slider ``label``."""
    repaint, settled, server = [], [], []
    for _ in range(repeats):
        page.evaluate(PROBE)
        handle = slider(page, label)
        handle.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => window.__repaint !== null", timeout=30_000)
        repaint.append(page.evaluate("window.__repaint"))
        wait_idle(page)
        time.sleep(0.3)  # the footer is the run's last element
        settled.append(page.evaluate("Math.max(...window.__wsTimes) - window.__key"))
        server.append(server_ms(page))
    return repaint, settled, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="moves per case (default 15)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    query = "&".join(f"{k}={v}" for k, v in setting_params(preset("shd-tau20").to_dict()).items())
    with (
        tempfile.TemporaryDirectory(prefix="stabviz-bench-") as home,
        dashboard(Path(home)) as url,
        sync_playwright() as pw,
        chromium(pw) as ctx,
    ):
        page = ctx.new_page()
        page.add_init_script(MESSAGE_TIMES)
        print(
            f"Explore map 200 × 200 at preset shd-tau20, {args.repeats} one-stop slider moves per case "
            f"(Chromium {CHROMIUM}); medians (min–max)"
        )
        shown = None
        for map_param, label, what in CASES:
            if map_param != shown:
                page.goto(f"{url}/?{query}&map={map_param}")
                page.wait_for_selector(".js-plotly-plot .imagelayer image", timeout=60_000, state="attached")
                wait_idle(page)
                measure(page, label, 2)  # warm-up: imports, first cache entries, Plotly's first draw
                shown = map_param
            repaint, settled, server = measure(page, label, args.repeats)
            print(
                f"map {map_param:<4} {label:<9} ({what}): repaint {statistics.median(repaint):5.1f} ms "
                f"({min(repaint):.0f}–{max(repaint):.0f}); page settled {statistics.median(settled):5.0f} ms; "
                f"server rerun {statistics.median(server):4.1f} ms"
            )


if __name__ == "__main__":
    main()
