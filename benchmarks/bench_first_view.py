"""Navigation -> the first Explore map drawn, measured in Debian's Chromium.

Starts the dashboard (``streamlit run app.py`` on a free port, throw-away STABVIZ_HOME) and loads the
Explore page once to warm the server (imports, the first cache entries). Then it loads the page
``--loads`` times more, each in a fresh Chromium profile (a first visit: nothing in the browser's cache),
and reports, on the browser's own clock (performance.now(), 0 at the navigation):

- first message: the first websocket message of the script run (the page's shell is loaded);
- first map: the first animation frame after the Explore map's field image is in the page;
- settled: the last websocket message once the whole page is drawn (the first view draws the map first
  and what lies below the fold one rerun later: stabviz/ui/firstview.py);
- server rerun: the last run's duration as the dashboard reports it (``?debug=1`` shows the footer);
- main-thread CPU, renderer CPU: the CPU time the page's main thread and its whole renderer process had
  used when the map was drawn (Chromium's Performance.getMetrics): the browser's share of the wait,
  which other processes on a busy machine stretch in wall time but not in CPU time.

Prints medians (min–max). Usage:

    python -m benchmarks.bench_first_view [--loads 5] [--query 'dampening=0.5&map=leak']
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
from harness import CHROMIUM, MESSAGE_TIMES, chromium, dashboard, server_ms, wait_idle  # noqa: E402

# Stamps window.__firstMap with the frame after the map's field image first appears.
FIRST_MAP = """
  window.__firstMap = null;
  const look = () => {
    if (document.querySelector('.js-plotly-plot .imagelayer image')) {
      requestAnimationFrame(() => { window.__firstMap = performance.now(); });
    } else {
      requestAnimationFrame(look);
    }
  };
  requestAnimationFrame(look);
"""


def load(pw, url: str) -> dict[str, float]:
    """One first visit in a fresh browser profile: its milestones in ms after the navigation."""
    with chromium(pw) as ctx:
        page = ctx.new_page()
        page.add_init_script(MESSAGE_TIMES)
        page.add_init_script(FIRST_MAP)
        cdp = ctx.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.goto(url, wait_until="commit")
        page.wait_for_function("() => window.__firstMap !== null", timeout=120_000, polling=50)
        cpu = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        wait_idle(page, timeout=120)
        time.sleep(0.3)  # the footer is the run's last element
        times = page.evaluate("window.__wsTimes")
        return {
            "first message": min(times),
            "first map": page.evaluate("window.__firstMap"),
            "settled": max(times),
            "server rerun": server_ms(page),
            "main-thread CPU": cpu["ThreadTime"] * 1e3,
            "renderer CPU": cpu["ProcessTime"] * 1e3,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5, help="measured loads (default 5)")
    parser.add_argument("--query", default="", help="the link's query (default: the default setting)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    query = "&".join(q for q in (args.query, "debug=1") if q)
    with (
        tempfile.TemporaryDirectory(prefix="stabviz-bench-") as home,
        dashboard(Path(home)) as url,
        sync_playwright() as pw,
    ):
        load(pw, f"{url}/?{query}")  # warm-up: the server's imports and first cache entries
        runs = [load(pw, f"{url}/?{query}") for _ in range(args.loads)]
    print(
        f"Explore first view ({args.loads} loads, fresh Chromium profile each, server warm; "
        f"Chromium {CHROMIUM}); medians (min–max)"
    )
    for name in runs[0]:
        values = [r[name] for r in runs]
        print(f"{name:>15}: {statistics.median(values):7.0f} ms ({min(values):.0f}–{max(values):.0f})")


if __name__ == "__main__":
    main()
