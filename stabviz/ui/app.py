"""The dashboard's router: the shared sidebar (the setting, bound to the URL), the top navigation over the
seven pages, then the current page, the link warnings and the footer.

The entry scripts (top-level app.py in a checkout, stabviz/ui/launch/app.py in the installed package) call
:func:`main`. The pages live in :mod:`stabviz.ui.pages`, one module each with a ``render(cfg)``; each is an
``st.Page`` over a callable (declared in :mod:`stabviz.ui.nav`) that hands it the setting the sidebar
returned in this run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import streamlit as st

from stabviz.config import LIFConfig
from stabviz.ui import firstview, history, layout, nav, sidebar, state


def render(name: str, cfg: LIFConfig) -> None:
    """Draw page ``name`` (stabviz.ui.pages.<name>) at ``cfg``. The module is imported when its page is first
    shown, not with the router: importing all seven took twice as long as Explore alone (5.4 s against 2.7 s,
    cold, on a loaded 2-core machine), and the first view would wait for it."""
    importlib.import_module(f"stabviz.ui.pages.{name}").render(cfg)


def requested_page() -> str | None:
    """The page path this run's URL asked for ("" for the root), or None outside a Streamlit run.
    (Streamlit shows its default page for an unknown path; it tells the session nothing else.)"""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    # getattr: Streamlit's page manager is not public API; without it no page is reported, nothing breaks
    return getattr(getattr(get_script_run_ctx(), "pages_manager", None), "intended_page_name", None)


def main() -> None:
    """One run of the dashboard: sidebar, navigation, the current page, warnings, share link, footer."""
    # Presentation mode and narrow windows start with the sidebar collapsed ("auto" collapses it only on
    # phone-sized windows; screen.js collapses it up to 900 px).
    st.set_page_config(
        page_title="stabviz: stable surrogate gradients",
        page_icon=":material/bolt:",
        layout="wide",
        initial_sidebar_state="collapsed" if layout.presenting() else "auto",
    )
    state.begin()
    cfg: LIFConfig | None = None  # the sidebar's setting, drawn below: a page's callable reads it as it runs

    def body(name: str) -> Callable[[], None]:
        return lambda: render(name, cfg)

    page = st.navigation(nav.declare({p.name: body(p.name) for p in nav.PAGES}), position="top")

    state.warn_once(state.unknown_page(requested_page(), list(nav.URLS.values()), nav.PAGES[0].title))
    cfg = sidebar.draw()
    with st.sidebar:
        present = layout.present_toggle()
    layout.page_style(present)
    link_slot = st.sidebar.empty()
    timing_slot = st.sidebar.empty()
    warning_slot = st.container()  # filled after the page: pages may find bad parameters of their own
    layout.setting_error()

    if cfg is not None:  # else setting_error() has said why, and the page draws nothing
        with layout.no_traceback(page.title):
            page.run()

    with warning_slot:
        layout.url_warnings()

    first_view = firstview.held()  # the page held its secondary parts back: so does the sidebar
    if not first_view:
        sidebar.draw_share(link_slot)
    with st.sidebar:  # draws nothing; the sidebar's end keeps it out of the page's layout
        history.mount()
    ms = state.finish()
    # a developer's number (?debug=1 or STABVIZ_DEBUG=1), not every visitor's; drawn with the whole page
    if state.debugging() and not first_view:
        timing_slot.caption(f"Server rerun: {ms:.0f} ms", help="Time this script run took on the server.")
