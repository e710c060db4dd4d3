"""Start the dashboard and a Debian Chromium for automation (browser tests and benchmarks/bench_repaint.py).

The dashboard runs as a real ``streamlit run app.py`` on a free port with a throw-away STABVIZ_HOME; the
browser is /usr/bin/chromium with a fresh profile. Nothing is downloaded: without Chromium the callers skip.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


#: An init script (``page.add_init_script``) that stamps every websocket message the page receives into
#: ``window.__wsTimes`` (performance.now()): when the rerun's answer arrived, and when it was done.
MESSAGE_TIMES = """
  window.__wsTimes = [];
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new NativeWebSocket(...args);
    ws.addEventListener('message', () => window.__wsTimes.push(performance.now()));
    return ws;
  };
  window.WebSocket.prototype = NativeWebSocket.prototype;
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"the dashboard did not answer at {url} within {timeout:.0f} s")


@contextlib.contextmanager
def dashboard(home: Path, timeout: float = 90.0, env: dict[str, str] | None = None) -> Iterator[str]:
    """``streamlit run app.py`` on a free port with STABVIZ_HOME=``home`` (and ``env`` on top of this
    process's environment); yields its base URL. On exit the server and any run dispatcher it started (a
    separate process group) are stopped. STABVIZ_DEBUG=1 (unless ``env`` says otherwise) shows the sidebar's
    "Server rerun" footer, which :func:`wait_idle` and :func:`server_ms` read."""
    port = free_port()
    env = {**os.environ, "STABVIZ_DEBUG": "1", **(env or {}), "STABVIZ_HOME": str(home), "PYTHONPATH": str(ROOT)}
    log = open(home / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://localhost:{port}"
    try:
        _wait_healthy(url, proc, timeout)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        _stop_dispatcher(home)


def _stop_dispatcher(home: Path) -> None:
    """Runs launched from the dashboard live in a detached dispatcher: stop it with the test's store."""
    db = home / "stabviz.db"
    if db.exists():
        from stabviz.runs import RunStore, get_launcher

        get_launcher("local", store=RunStore(db)).shutdown(timeout=20)


@contextlib.contextmanager
def chromium(playwright, width: int = 1500, height: int = 1100) -> Iterator[object]:
    """A Chromium context with a fresh profile (deleted afterwards)."""
    with tempfile.TemporaryDirectory(prefix="stabviz-chromium-") as profile:
        ctx = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": width, "height": height},
        )
        try:
            yield ctx
        finally:
            ctx.close()


def wait_idle(page, timeout: float = 60.0) -> None:
    """Until the script run has finished: the sidebar's timing footer is drawn last, and the status
    widget says nothing is running."""
    page.wait_for_selector("text=/Server rerun: \\d+ ms/", timeout=timeout * 1e3)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !/Running/.test(document.querySelector('[data-testid=\"stStatusWidget\"]').innerText)",
        timeout=timeout * 1e3,
    )


def wait_checked(page, timeout: float = 120.0) -> None:
    """Until Explore's background check of the shown setting has landed and its rerun is drawn: that rerun
    can land at any moment before, closing an open dropdown or pushing history entries."""
    page.locator(".st-key-outcome_verdict").filter(has_text="from the measured initial gain").first.wait_for(
        timeout=timeout * 1e3
    )
    wait_idle(page)


def server_ms(page) -> float:
    """The last script run's duration as the dashboard reports it in the sidebar footer."""
    text = page.locator("text=/Server rerun: \\d+ ms/").first.inner_text()
    return float(re.search(r"(\d+) ms", text).group(1))


def slider(page, label_start: str):
    """The keyboard-focusable input of a sidebar slider whose label starts with ``label_start``."""
    return (
        page.locator("[data-testid='stSidebar'] [data-testid='stSlider']")
        .filter(has_text=label_start)
        .locator("input[type='range']")
    )
