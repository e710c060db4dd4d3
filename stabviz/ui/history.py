"""One browser-history entry per page switch (history.js). Mounted once per run by the router; it draws
nothing, and patches the page's history only once."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

_component = st.components.v2.component(
    "stabviz.history", js=Path(__file__).with_name("history.js").read_text(encoding="utf-8"), isolate_styles=False
)


def mount() -> None:
    _component(key="stabviz_history")
