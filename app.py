"""stabviz dashboard: `streamlit run app.py` (or `stabviz dashboard` from anywhere, once installed).

The router and the pages live in the package: stabviz.ui.app and stabviz.ui.pages.
"""
from stabviz.ui.app import main

main()
