"""Sweep (/sweep): the st.Page script; the page is stabviz.ui.pages.sweep."""
from stabviz.ui import app
from stabviz.ui.pages import sweep

sweep.render(app.setting())
