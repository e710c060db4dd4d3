"""The dashboard's router: the shared sidebar (the setting, bound to the URL), the top navigation over the
seven pages, then the current page, the link warnings and the footer.

The entry scripts (top-level app.py in a checkout, stabviz/ui/entry/app.py in the installed package) call
:func:`main`. The pages live in :mod:`stabviz.ui.pages`, one module each; their st.Page scripts in
:mod:`stabviz.ui.entry` call the page's ``render`` with :func:`setting`, the setting the sidebar returned
in this run.
"""
from __future__ import annotations

from contextvars import ContextVar

import streamlit as st

from stabviz.config import LIFConfig
from stabviz.ui import entry, firstview, history, layout, sidebar, state

#: (page script in stabviz/ui/entry, title, icon, url path); the first is the default page.
PAGES = (
    ("explore", "Explore", ":material/map:", ""),
    ("surrogates", "Surrogates", ":material/show_chart:", "surrogates"),
    ("runs", "Runs", ":material/directions_run:", "runs"),
    ("sweep", "Sweep", ":material/grid_on:", "sweep"),
    ("evidence", "Evidence", ":material/fact_check:", "evidence"),
    ("network", "Your network", ":material/hub:", "network"),
    ("learn", "Learn", ":material/school:", "learn"),
)

# st.Page runs a script without arguments: main() hands the sidebar's setting to it through this
# variable, set only while the page runs (per script thread, so concurrent sessions never mix).
_SETTING: ContextVar[LIFConfig] = ContextVar("stabviz_page_setting")


def setting() -> LIFConfig:
    """The setting the sidebar returned in this run (valid: main() runs no page without one)."""
    try:
        return _SETTING.get()
    except LookupError:
        raise RuntimeError("a dashboard page runs only inside stabviz.ui.app.main()") from None


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
    st.set_page_config(page_title="stabviz: stable surrogate gradients", page_icon=":material/bolt:",
                       layout="wide", initial_sidebar_state="collapsed" if layout.presenting() else "auto")
    state.begin()
    page = st.navigation([st.Page(entry.script(name), title=title, icon=icon, url_path=url, default=i == 0)
                          for i, (name, title, icon, url) in enumerate(PAGES)], position="top")

    state.warn_once(state.unknown_page(requested_page(), [p[3] for p in PAGES], PAGES[0][1]))
    cfg = sidebar.draw()
    with st.sidebar:
        present = layout.present_toggle()
    layout.page_style(present)
    link_slot = st.sidebar.empty()
    timing_slot = st.sidebar.empty()
    warning_slot = st.container()     # filled after the page: pages may find bad parameters of their own
    layout.setting_error()

    if cfg is not None:               # else setting_error() has said why, and the page draws nothing
        with layout.no_traceback(page.title):
            token = _SETTING.set(cfg)
            try:
                page.run()
            finally:
                _SETTING.reset(token)

    with warning_slot:
        layout.url_warnings()

    first_view = firstview.held()     # the page held its secondary parts back: so does the sidebar
    if not first_view:
        sidebar.draw_share(link_slot)
    with st.sidebar:                  # draws nothing; the sidebar's end keeps it out of the page's layout
        history.mount()
    ms = state.finish()
    # a developer's number (?debug=1 or STABVIZ_DEBUG=1), not every visitor's; drawn with the whole page
    if state.debugging() and not first_view:
        timing_slot.caption(f"Server rerun: {ms:.0f} ms", help="Time this script run took on the server.")
