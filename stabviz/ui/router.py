"""Make every page go through app.py, even on a server's very first request.

Streamlit treats a folder named ``pages/`` next to the entry script as its legacy multipage app until
some session has run app.py's ``st.navigation``: a shared link to /runs opened first on a fresh server
would run pages/runs.py alone, without the sidebar, the URL state or the router. Each page therefore
starts with :func:`ensure`, which notices that case and runs app.py in its place.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

ACTIVE = "_router_active"
APP = Path(__file__).resolve().parents[2] / "app.py"


def enter() -> None:
    """app.py, first thing: this run goes through the router."""
    st.session_state[ACTIVE] = True


def leave() -> None:
    """app.py, last thing."""
    st.session_state[ACTIVE] = False


def ensure() -> None:
    """Pages, first thing: when Streamlit ran this page by itself, run app.py instead (which draws the
    sidebar and runs this same page inside it), then end the page's own run."""
    if st.session_state.get(ACTIVE):
        return
    exec(compile(APP.read_text(), str(APP), "exec"), {"__name__": "__main__", "__file__": str(APP)})
    st.stop()
