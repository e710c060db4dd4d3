"""stabviz dashboard: `streamlit run app.py` (or `stabviz dashboard` from anywhere, once installed).

The router and the pages live in the package: stabviz.ui.app and stabviz.ui.pages.
"""

from stabviz.ui.app import main

# Streamlit runs this file as __main__; the measured map's worker process (stabviz.ui.mapjobs, spawned)
# imports it again as __mp_main__, where it must not start a dashboard.
if __name__ == "__main__":
    main()
