"""Explore's headline: will this setting train? The outcome model's committed verdict, from an initial
gain measured automatically in the background.

Every setting the sliders reach is measured once by the quick Monte-Carlo check
(:func:`stabviz.outcomes.features.measure`, the call the outcome dataset measured its runs with) on one
background thread of the server: a slider move never waits for it. Until the measurement is in, the verdict
is read from the theory's predicted gain and says so; the box then polls and updates itself.
"""
from __future__ import annotations

import collections
import concurrent.futures
import threading
from typing import Any

import streamlit as st

from stabviz.config import LIFConfig
from stabviz.outcomes import advice, model
from stabviz.ui import compute, layout

#: the optimiser budgets a user can plan for (the dataset trained both)
BUDGETS = (200, 1000)
BUDGET_KEY = "plan_budget"
#: seconds between two looks at a measurement still running
POLL_S = 0.5
#: the session entry that marks a poll under way (set by the fragment's first run at a setting)
_POLLED = "_outcome_polled"
#: the verdict's box colour by word
COLOURS = {"expected to train": "green", "at risk": "orange", "will collapse": "red"}


class Checks:
    """Measurements by setting, made one at a time on a background thread; the newest request first (a
    request not yet started is dropped when another arrives: a dragged slider measures where it stops)."""

    def __init__(self, size: int = 256):
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="stabviz-check")
        self._lock = threading.Lock()
        self._done: collections.OrderedDict[Any, dict[str, Any]] = collections.OrderedDict()
        self._pending: dict[Any, concurrent.futures.Future] = {}
        self._size = size

    def get(self, key: Any, cfg: LIFConfig, start: bool = True) -> dict[str, Any] | None:
        """The measurement of ``cfg`` (``{"error": ...}`` when it cannot be measured), or None while it runs
        (it is started if it was not, unless ``start`` is False)."""
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                return self._done[key]
            if start and key not in self._pending:
                for other in self._pending.values():
                    other.cancel()
                self._pending = {k: f for k, f in self._pending.items() if not f.cancelled()}
                self._pending[key] = self._pool.submit(self._run, key, cfg)
        return None

    def _run(self, key: Any, cfg: LIFConfig) -> None:
        from stabviz.outcomes import features
        try:
            result = features.measure(cfg)
        except ValueError as err:       # a setting the check refuses (memory, burn-in): said, never raised
            result = {"error": layout.plain(err)}
        with self._lock:
            self._done[key] = result
            self._pending.pop(key, None)
            while len(self._done) > self._size:
                self._done.popitem(last=False)


@st.cache_resource(show_spinner=False)
def checks() -> Checks:
    """The server's one queue of background checks (shared by every session: a measurement is the same
    for every visitor)."""
    return Checks()


def budget() -> int:
    """The optimiser budget the verdict assumes (the segmented control's, 200 by default)."""
    return int(st.session_state.get(BUDGET_KEY) or BUDGETS[0])


def headline(cfg: LIFConfig, compact: bool = False, more: str = "", start: bool = True) -> None:
    """The committed verdict box (``compact``: one line, its details and ``more`` a hover away, for a
    projector); it polls while the setting's measurement is running. ``start=False`` (a session's first
    view, while the map is drawn) reads the predicted gain and leaves the measurement to the next run: its
    torch import and simulation would compete with the first map for the CPU."""
    pending = checks().get(cfg, cfg, start) is None and start        # the setting is its own key
    st.fragment(_box, run_every=POLL_S if pending else None)(cfg, cfg, pending, compact, more, start)


def _box(cfg: LIFConfig, key: Any, polling: bool, compact: bool = False, more: str = "", start: bool = True) -> None:
    m = checks().get(key, cfg, start)
    if polling and m is not None and st.session_state.get(_POLLED) == key:
        # the measurement came in during a poll: one whole rerun draws the box again without polling
        st.session_state.pop(_POLLED, None)
        st.rerun()
    if polling:
        st.session_state[_POLLED] = key
    layers, steps = 1, budget()
    if m is None or "error" in m:
        v = advice.verdict(cfg, steps, layers, source="predicted")
        how = ("measuring the initial gain in the background…" if m is None and start else
               "the measured check follows once the page is drawn" if m is None else
               f"the quick check could not measure this setting ({m['error']})")
        source = f"from the theory's predicted gain ({how})"
    else:
        v = advice.verdict(cfg, steps, layers, measured=m)
        source = "from the measured initial gain (quick Monte-Carlo check, batch 32)"
    word = f":{COLOURS[v['verdict']]}[{v['verdict'].capitalize()}]: P(collapse) = {v['p_collapse']:.2f}"
    details = (f"Training {steps} optimiser steps, {layers} layer: outcome model {source}, "
               f"T·log₁₀ gain {_gain(v['log10_gain'])}, firing rate {v['firing_rate'] or 0:.0%}. Expected shortfall "
               f"{100 * v['shortfall']:.0f}% of the way from the best accuracy to chance. "
               f"Committed below {model.LOW:g} and above {model.HIGH:g}; how well it holds on tasks it was not "
               "fitted on: the Evidence page.")
    with st.container(border=not compact, key="outcome_verdict"):
        if compact:
            st.markdown(f"**{word}**", help=details + ("\n\n" + more if more else ""))
        else:
            st.markdown(f"### {word}")
            st.caption(details)


def _gain(g: float | None) -> str:
    return "−∞" if g is None else f"{g:+.1f}"


def budget_control() -> None:
    """The budget the verdict and the options assume."""
    st.segmented_control("Training steps you plan", BUDGETS, key=BUDGET_KEY, default=BUDGETS[0], required=True,
                         format_func=lambda b: f"{b} steps",
                         help="The outcome model was fitted on runs of 200 and 1000 AdamW steps.")
