"""Streamlit glue for the dashboard: URL state, shared widgets, cached calls into stabviz.

The only part of stabviz that imports streamlit. Pure helpers (URL parsing, snippets, the teaching
simulation) live in modules that do not import it, so they are testable without a running app.
"""
