"""Explore (/): the st.Page script; the page is stabviz.ui.pages.explore."""
from stabviz.ui import app
from stabviz.ui.pages import explore

explore.render(app.setting())
