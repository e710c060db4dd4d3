"""Small shared pieces of page layout: warnings, error boundaries, badges, downloads."""

from __future__ import annotations

import contextlib
import logging
import re
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import streamlit as st

from stabviz.config import LIFConfig
from stabviz.runs import StoreError
from stabviz.ui import state

_LOG = logging.getLogger("stabviz.ui")
REGIME_COLORS = {"stable": "green", "vanishing": "blue", "exploding": "red", "uncertain": "orange", "undefined": "gray"}
REGIME_ICONS = {
    "stable": ":material/check_circle:",
    "vanishing": ":material/trending_down:",
    "exploding": ":material/trending_up:",
    "uncertain": ":material/help:",
    "undefined": ":material/help:",
}


#: Characters CommonMark lets a backslash escape: every ASCII punctuation character.
_ESCAPED = frozenset(string.punctuation)
_AUTOLINK = re.compile(r"(?<=\\:)|(?<=\\@)|(?i:(?<=www)(?=\\\.))")


def plain(text: Any) -> str:
    """``text`` for a markdown-rendering element (st.markdown, st.error, st.caption, ...) that shows it
    literally: no links, images, HTML, emphasis, ``:color[...]`` / ``:material/...:`` directives or ``$``
    math. Every ASCII punctuation character gets a backslash (which CommonMark renders as the character
    itself) and the text is put on one line (a blank line or an indented line would start a new block).
    Every user-supplied or stored string shown on a page goes through here (or st.text / st.code)."""
    one_line = " ".join(str(text).split())
    escaped = "".join("\\" + c if c in _ESCAPED else c for c in one_line)
    # GitHub-flavoured markdown also links bare URLs and e-mail addresses (http://..., www...., a@b.c),
    # backslashes or not: an invisible word joiner after ':' and '@' and before "www"'s dot breaks them.
    return _AUTOLINK.sub("\u2060", escaped)


def url_warnings() -> None:
    """Show what was wrong in the link (each bad field fell back to its default)."""
    warnings = state.url_warnings()
    if not warnings:
        return
    with st.container(border=False):
        st.warning(
            "**Some parts of the link could not be used (invalid values fell back to their defaults):**\n\n"
            + "\n".join(f"- {plain(w)}" for w in warnings),
            icon=":material/link_off:",
        )
        st.button("Dismiss", on_click=state.dismiss_warnings, key="dismiss_url_warnings")


def setting_error() -> None:
    """When the controls form an impossible setting, say why inline (the pages then draw nothing)."""
    if state.setting() is None:
        try:
            LIFConfig(**st.session_state[state.SETTING])
        except (ValueError, TypeError) as err:
            st.error(f"This setting is not possible: {plain(err)}", icon=":material/block:")


@contextlib.contextmanager
def no_traceback(where: str) -> Iterator[None]:
    """Turn an unexpected error into one readable line on the page (the traceback goes to the log).

    Streamlit's own control flow (st.stop, st.rerun, st.switch_page) derives from BaseException and
    passes through untouched.
    """
    try:
        yield
    except StoreError as err:
        st.error(f"The run store cannot be used: {plain(err)}", icon=":material/database:")
    except ValueError as err:
        st.error(plain(err), icon=":material/error:")
    except Exception as err:  # noqa: BLE001 - the boundary of a page: nothing may reach the user raw
        _LOG.exception("error on page %s", where)
        st.error(
            f"Something went wrong on the {plain(where)} page: {type(err).__name__}: {plain(err)}. "
            "The details are in the server log.",
            icon=":material/error:",
        )


def regime_label(regime: str, steps: int | None) -> str:
    """A regime with the T it holds at ("stable at T = 100"): the regime depends on T
    (docs/theory.md#3-conditions-i-to-iv), so no regime is shown without it."""
    return regime if steps is None else f"{regime} at T = {int(steps)}"


def regime_badge(regime: str, steps: int | None, extra: str = "") -> None:
    """The regime's badge, with the T it holds at (None only where no T applies, e.g. an unknown outcome)."""
    st.badge(
        f"{regime_label(regime, steps)}{extra}", icon=REGIME_ICONS.get(regime), color=REGIME_COLORS.get(regime, "gray")
    )


# ---------------------------------------------------------------------------------------------
# Presentation mode, narrow screens and the keyboard (the router calls these on every page)

PRESENT = "present"
PRESENT_FLAGS = {"1": True, "0": False}


def present_parser(text: str) -> bool:
    """``?present=1|0`` -> presentation mode on or off."""
    if text not in PRESENT_FLAGS:
        raise ValueError(f"present = {text!r} is not one of: 1, 0")
    return PRESENT_FLAGS[text]


def presenting() -> bool:
    """Whether this session is in presentation mode (the router's toggle, seeded from ``?present=1``)."""
    if PRESENT in st.session_state:
        return bool(st.session_state[PRESENT])
    return st.query_params.get(PRESENT) == "1"


def present_toggle() -> bool:
    """The presentation-mode toggle (in the sidebar), kept in the URL as ``?present=1``."""
    state.seed_widget(PRESENT, PRESENT, present_parser, False)
    on = st.toggle(
        "Presentation mode",
        key=PRESENT,
        help="For a projector (1280 × 720): the verdict, the map and the key numbers on one screen, "
        "larger figure text, the sidebar collapsed when the page is opened with ?present=1.",
    )
    state.keep_param(PRESENT, "1" if on else None)
    return on


#: CSS of every page. The page starts just under the top navigation (Streamlit's 6rem padding left ~100 px
#: blank above every title). Narrow windows (≤ 900 px) stack side-by-side columns, so the map keeps the main
#: area's whole width; the skip link (screen.js) shows only while it has the focus.
_CSS = """
[data-testid="stMainBlockContainer"] { padding-top: 4.5rem; }
#stabviz-skip { position: fixed; left: 8px; top: -60px; z-index: 100000; padding: 8px 14px; background: #1971c2;
  color: #fff; font: 600 16px sans-serif; border-radius: 4px; text-decoration: none; }
#stabviz-skip:focus { top: 8px; outline: 3px solid #f59f00; }
@media (max-width: 900px) {
  [data-testid="stMain"] [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
  [data-testid="stMain"] [data-testid="stHorizontalBlock"] > [data-testid="stColumn"] { min-width: 100% !important; }
  [data-testid="stMain"] .js-plotly-plot { min-width: 320px; }
}
"""
#: Presentation mode: less space above the page, headings and metrics sized for a projector.
_PRESENT_CSS = """
[data-testid="stMainBlockContainer"] { padding-top: 3.75rem !important; padding-bottom: 1rem !important; }
[data-testid="stMain"] [data-testid="stVerticalBlock"] { gap: 0.4rem; }
[data-testid="stMain"] h1 { font-size: 1.6rem !important; padding: 0 !important; }
[data-testid="stMetricValue"] { font-size: 1.6rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1rem !important; }
"""

_screen = st.components.v2.component(
    "stabviz.screen", js=Path(__file__).with_name("screen.js").read_text(encoding="utf-8"), isolate_styles=False
)


def page_style(present: bool) -> None:
    """The page's CSS (and presentation mode's) and the keyboard / narrow-screen helpers (screen.js)."""
    st.html(f"<style>{_CSS}{_PRESENT_CSS if present else ''}</style>")
    with st.sidebar:  # draws nothing; the sidebar's end keeps it out of the page's layout
        _screen(key="stabviz_screen")


def download_buttons(
    label: str, stem: str, csv_data: Callable[[], str] | None, json_data: Callable[[], str] | None, key: str
) -> None:
    """CSV and JSON downloads side by side; the text is made only when a button is clicked (a 200 × 200
    map is 40 000 CSV rows: too slow to build on every rerun)."""
    cols = st.columns(2)
    if csv_data is not None:
        cols[0].download_button(
            f"{label} (CSV)",
            csv_data,
            file_name=f"{stem}.csv",
            mime="text/csv",
            key=f"{key}_csv",
            on_click="ignore",
            icon=":material/download:",
        )
    if json_data is not None:
        cols[1].download_button(
            f"{label} (JSON)",
            json_data,
            file_name=f"{stem}.json",
            mime="application/json",
            key=f"{key}_json",
            on_click="ignore",
            icon=":material/download:",
        )


def fmt(x: Any, digits: int = 3) -> str:
    """A number for prose: 3 significant digits, '—' for missing."""
    if x is None:
        return "—"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if v != v:
        return "—"
    return f"{v:.{digits}g}"
