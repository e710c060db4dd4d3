"""Learn (/learn): the st.Page script; the page is stabviz.ui.pages.learn."""
from stabviz.ui import app
from stabviz.ui.pages import learn

learn.render(app.setting())
