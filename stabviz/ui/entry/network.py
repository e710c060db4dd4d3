"""Your network (/network): the st.Page script; the page is stabviz.ui.pages.network."""
from stabviz.ui import app
from stabviz.ui.pages import network

network.render(app.setting())
