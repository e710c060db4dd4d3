"""stabviz dashboard, the installed package's entry script (`stabviz dashboard`)."""

from stabviz.ui.app import main

# Streamlit runs this file as __main__; the measured map's worker process (stabviz.ui.mapjobs, spawned)
# imports it again as __mp_main__, where it must not start a dashboard.
if __name__ == "__main__":
    main()
