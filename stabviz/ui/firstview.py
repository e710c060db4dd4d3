"""A session's first Explore view: the map first, what lies below the fold one rerun later.

On a first visit the browser, not the server, decides when the map shows: the script run takes tens of
milliseconds, then Chromium's one main thread builds every element of the page before Plotly draws the
map (benchmarks/bench_first_view.py; figures in docs/performance.md). So the first run of a session leaves
out what is out of sight or secondary: the detail tabs (their highlighted code loads a 1.5 MB
highlighter), the confirmation run and the share link. A tiny component (first_view.js) waits until the
map is on screen and then asks for the rerun that draws them. Without a browser (AppTest, a script: no
request headers) nothing is held back.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import streamlit as st

from stabviz.ui import state

#: Session flag: the browser has drawn the first view (or gave up waiting for it).
DRAWN = "_first_view_drawn"
_HELD = "_first_view_held"  # the RUN_START of the run that held parts back
_TOKEN = "_first_view_session"  # tells first_view.js one session from the next in the same page
#: The Explore map's field image: on screen means the map is drawn.
MAP_SELECTOR = ".js-plotly-plot .imagelayer image"
#: The rerun comes after this long even if the map never shows (an error, a very slow machine).
TIMEOUT_MS = 10_000

_component = st.components.v2.component(
    "stabviz.first_view", js=Path(__file__).with_name("first_view.js").read_text(encoding="utf-8"), isolate_styles=False
)


def waiting() -> bool:
    """Whether this session's first view is not drawn yet (a page then leaves its secondary parts out)."""
    return not st.session_state.get(DRAWN) and _browser()


def _browser() -> bool:
    """Whether a browser asked for this run (AppTest and scripts send no request headers)."""
    return bool(st.context.headers)


def hold(selector: str = MAP_SELECTOR) -> None:
    """Ask the browser to rerun once ``selector`` is on screen (draws nothing). A page that left parts out
    because :func:`waiting` calls it once, at its end."""
    ss = st.session_state
    ss[_HELD] = ss.get(state.RUN_START)
    token = ss.setdefault(_TOKEN, uuid.uuid4().hex)
    _component(
        data={"selector": selector, "timeout_ms": TIMEOUT_MS, "session": token},
        key="stabviz_first_view",
        on_drawn_change=_drawn,
    )


def held() -> bool:
    """Whether this run's page has held parts back (the router then leaves the share link out too)."""
    ss = st.session_state
    return ss.get(_HELD) is not None and ss.get(_HELD) == ss.get(state.RUN_START)


def _drawn() -> None:
    st.session_state[DRAWN] = True
