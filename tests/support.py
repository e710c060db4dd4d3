"""Helpers several test modules share (imported as `support`: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from stabviz.ui import nav

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def switch_page(at: AppTest, name: str) -> AppTest:
    """Open page ``name`` (``"runs"``; see stabviz.ui.nav.PAGES) on the next ``at.run()``, as a request for its
    URL would. AppTest.switch_page takes only page files and the pages are callables, so this sets the page's
    hash as Streamlit computes it (of its URL path); after a run, it must be one st.navigation registered."""
    page_hash = calc_hash(nav.URLS[name])
    registered = at._registered_pages  # AppTest has no public switch to a callable page
    assert not registered or page_hash in registered, f"no page {name!r} in the last run: {list(registered)}"
    at._page_hash = page_hash
    return at


def open_app(params=None, page=None) -> AppTest:
    """The dashboard after one run with ``params`` in the link; with ``page`` (a name in nav.PAGES), then that
    page opened with the same link, as a shared link would."""
    at = AppTest.from_file(APP, default_timeout=60)
    if params:
        at.query_params.update(params)
    at.run()
    if page:
        switch_page(at, page)
        at.query_params.update(params or {})
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(markdown: str) -> str:
    """What a reader sees of a markdown body that went through layout.plain: backslash escapes and the
    invisible word joiners removed."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def processes_with_env(key: str, value: str) -> list[int]:
    """Pids of other processes whose environment holds key=value (the workers of one test's store)."""
    needle = f"{key}={value}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def wait_for(predicate, timeout: float = 60.0, what: str = "condition", poll: float = 0.05):
    """predicate()'s first truthy value, polled until ``timeout`` seconds (AssertionError naming ``what``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def metric_points(store, run_id: str) -> int:
    """How many metric points a run has logged."""
    return sum(len(steps) for steps, _ in store.metrics(run_id).values())


def write_smoke_results(out: Path) -> Path:
    """The smoke study's results (summary.json, cells.json, runs.json; no PNGs) written to ``out`` in
    seconds, with one torch thread (tiny networks: a second thread only waits)."""
    import torch

    from stabviz import evidence

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        evidence.replicate("smoke", out, command="python -m stabviz replicate --smoke", png=False)
    finally:
        torch.set_num_threads(before)
    return out
