"""Runs (/runs): the st.Page script; the page is stabviz.ui.pages.runs."""
from stabviz.ui import app
from stabviz.ui.pages import runs

runs.render(app.setting())
