"""The setting picked under *Recommended initialisation* travels in the link as ``?option=N``.

N counts the picker's entries from 0, the first being the setting as set (left out of the link); a link
seeds the picker's session entry before anything reads it, and every run keeps the choice in the URL
through :mod:`stabviz.ui.state` (seed_widget / keep_param), so the share link carries it too.
"""
from __future__ import annotations

from typing import Sequence

import streamlit as st

from stabviz.ui import state

PARAM = "option"
#: the session entry set once the user (or a link) has picked an entry; until then the default follows the setting
PICKED = "_option_picked"


def picked() -> None:
    """The picker's on_change: from now on the user's entry stays when the setting moves."""
    st.session_state[PICKED] = True


def parser(labels: Sequence[str]):
    """``?option=N`` -> the N-th label; ValueError naming the parameter, its value and the allowed range."""
    def parse(text: str) -> str:
        if not text.strip().isdigit() or int(text) >= len(labels):
            raise ValueError(f"{PARAM} = {text[:20]!r} is not a whole number from 0 to {len(labels) - 1} "
                             "(0: the setting as set; 1 and up: the other entries under Recommended initialisation)")
        return labels[int(text)]
    return parse


def keep(labels: Sequence[str], key: str = "rec_option", default: str | None = None) -> None:
    """Seed the picker's entry ``key`` from the link (else ``default``: the recommended setting, or labels[0],
    the setting as set) and keep the chosen entry's index in the URL. Call every run, before anything reads
    ``key``."""
    default = default if default in labels else labels[0]
    if st.query_params.get(PARAM) is not None:
        st.session_state[PICKED] = True            # a link names the entry: keep it like a user's pick
    elif not st.session_state.get(PICKED):
        st.session_state[key] = default            # never picked: follow the setting's default entry
    state.seed_widget(key, PARAM, parser(labels), default)
    choice = st.session_state.get(key, default)
    state.keep_param(PARAM, list(labels).index(choice) if choice in labels else 0, default=list(labels).index(default))
