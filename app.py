"""stabviz dashboard: `streamlit run app.py`.

The router: shared sidebar controls (the setting, bound to the URL), then the current page.
Pages live in pages/ and stay thin: read widgets, call stabviz, draw with stabviz.plots.
"""
import streamlit as st

from stabviz.ui import layout, router, sidebar, state

st.set_page_config(page_title="stabviz: stable surrogate gradients", page_icon=":material/bolt:", layout="wide")
router.enter()
state.begin()

PAGES = [
    st.Page("pages/explore.py", title="Explore", icon=":material/map:", url_path="", default=True),
    st.Page("pages/surrogates.py", title="Surrogates", icon=":material/show_chart:", url_path="surrogates"),
    st.Page("pages/runs.py", title="Runs", icon=":material/directions_run:", url_path="runs"),
    st.Page("pages/sweep.py", title="Sweep", icon=":material/grid_on:", url_path="sweep"),
    st.Page("pages/learn.py", title="Learn", icon=":material/school:", url_path="learn"),
]
page = st.navigation(PAGES, position="top")

sidebar.draw()
link_slot = st.sidebar.empty()
timing_slot = st.sidebar.empty()
warning_slot = st.container()     # filled after the page: pages may find bad parameters of their own
layout.setting_error()

with layout.no_traceback(page.title):
    page.run()

with warning_slot:
    layout.url_warnings()

sidebar.draw_share(link_slot)
timing_slot.caption(f"Server rerun: {state.finish():.0f} ms", help="Time this script run took on the server.")
router.leave()
