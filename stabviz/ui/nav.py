"""The dashboard's seven pages: their table, their ``st.Page`` objects (callables, no page scripts) and the
links between them.

The router (:mod:`stabviz.ui.app`) declares this run's page objects with :func:`declare`; a page links to
another with ``st.page_link(nav.page("runs"), ...)``, through those objects, never by importing the router.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class PageSpec:
    name: str  # the page's module in stabviz.ui.pages, and its key here
    title: str
    icon: str
    url: str  # its URL path ("" for the root)


#: The pages in the navigation's order; the first is the default page.
PAGES = (
    PageSpec("explore", "Explore", ":material/map:", ""),
    PageSpec("surrogates", "Surrogates", ":material/show_chart:", "surrogates"),
    PageSpec("runs", "Runs", ":material/directions_run:", "runs"),
    PageSpec("sweep", "Sweep", ":material/grid_on:", "sweep"),
    PageSpec("evidence", "Evidence", ":material/fact_check:", "evidence"),
    PageSpec("network", "Your network", ":material/hub:", "network"),
    PageSpec("learn", "Learn", ":material/school:", "learn"),
)
URLS = {p.name: p.url for p in PAGES}

# this session's page objects of the current run (Streamlit's session state: one per browser session)
_DECLARED = "_stabviz_pages"


def declare(bodies: Mapping[str, Callable[[], None]]) -> list[st.Page]:
    """This run's page objects, in the navigation's order: page ``name`` runs ``bodies[name]()``."""
    pages = {
        p.name: st.Page(bodies[p.name], title=p.title, icon=p.icon, url_path=p.url, default=i == 0)
        for i, p in enumerate(PAGES)
    }
    st.session_state[_DECLARED] = pages
    return list(pages.values())


def page(name: str) -> st.Page:
    """The page object ``name`` of this run, for st.page_link and st.switch_page."""
    return st.session_state[_DECLARED][name]
