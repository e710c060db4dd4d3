"""The setting picked under *Recommended initialisation* travels in the link as ``?option=N``.

N counts the picker's entries from 0, the first being the setting as set (left out of the link); a link
seeds the picker's session entry before anything reads it, and every run keeps the choice in the URL
through :mod:`stabviz.ui.state` (seed_widget / keep_param), so the share link carries it too.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from stabviz.ui import state

PARAM = "option"


def parser(labels: Sequence[str]):
    """``?option=N`` -> the N-th label; ValueError naming the parameter, its value and the allowed range."""

    def parse(text: str) -> str:
        if not text.strip().isdigit() or int(text) >= len(labels):
            raise ValueError(
                f"{PARAM} = {text[:20]!r} is not a whole number from 0 to {len(labels) - 1} "
                "(0: the setting as set; 1 and up: the other entries under Recommended initialisation)"
            )
        return labels[int(text)]

    return parse


def keep(labels: Sequence[str], key: str = "rec_option", default: str | None = None) -> None:
    """Seed the picker's entry ``key`` from the link (else ``default``: the recommended setting, or labels[0],
    the setting as set) and keep the chosen entry's index in the URL. Until the user or a link picks an entry,
    it follows the setting's default (:func:`state.seed_following`). Call every run, before anything reads
    ``key``."""
    default = default if default in labels else labels[0]
    state.seed_following(key, PARAM, parser(labels), default)
    choice = st.session_state.get(key, default)
    state.keep_param(PARAM, list(labels).index(choice) if choice in labels else 0, default=list(labels).index(default))
