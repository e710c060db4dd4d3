"""Surrogates (/surrogates): the st.Page script; the page is stabviz.ui.pages.surrogates."""
from stabviz.ui import app
from stabviz.ui.pages import surrogates

surrogates.render(app.setting())
