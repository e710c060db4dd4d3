"""The dashboard's pages, one module each, every one with ``render(cfg)``: explore (/), surrogates,
runs, sweep and learn. :mod:`stabviz.ui.app` draws the sidebar and hands its setting to the page."""
