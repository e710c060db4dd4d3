"""The installed package's Streamlit entry script, ``app.py`` (``stabviz dashboard`` runs it by path).

It sits alone in this folder because Streamlit runs a ``pages/`` folder beside the entry script as a
legacy multipage app (each page alone, without the router) until some session has called
``st.navigation``: stabviz/ui/pages/ must never be its neighbour. tests/test_app.py checks both entry
scripts for such a folder.
"""

from __future__ import annotations

from pathlib import Path

#: The entry script of the installed package (top-level app.py does the same in a checkout).
APP = Path(__file__).resolve().parent / "app.py"
