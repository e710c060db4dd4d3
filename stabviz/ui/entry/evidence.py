"""Evidence (/evidence): the st.Page script; the page is stabviz.ui.pages.evidence."""
from stabviz.ui import app
from stabviz.ui.pages import evidence

evidence.render(app.setting())
