"""The dashboard's Streamlit scripts: ``app.py``, the entry script ``stabviz dashboard`` runs, and one
two-line ``st.Page`` script per page that calls the page's ``render`` with the router's setting.

They sit here rather than in a ``pages/`` folder beside the entry script: Streamlit runs such a folder as
a legacy multipage app (each page alone, without the router) until some session has called
``st.navigation``.
"""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The entry script of the installed package (top-level app.py does the same in a checkout).
APP = HERE / "app.py"


def script(page: str) -> Path:
    """The st.Page script of a page (``"runs"`` -> .../entry/runs.py), for st.Page and st.page_link."""
    return HERE / f"{page}.py"
