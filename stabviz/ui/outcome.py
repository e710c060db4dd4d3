"""Explore's headline: will this setting train? The outcome model's committed verdict, from an initial
gain measured automatically in the background.

Every setting the sliders reach is measured once by the quick Monte-Carlo check
(:func:`stabviz.outcomes.features.measure`, the call the outcome dataset measured its runs with) on one
background thread of the server: a slider move never waits for it. Until the measurement is in, the verdict
is read from the theory's predicted gain and says so; the box then polls and updates itself.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from stabviz.config import LIFConfig
from stabviz.outcomes import advice, model
from stabviz.ui import jobs, layout

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
    """Measurements by setting, one at a time on a background thread of the server: a :class:`jobs.Jobs`
    registry (the measured maps' cache policy) with one owner, so the newest request supersedes any not yet
    started (a dragged slider measures where it stops)."""

    def __init__(self, size: int = 256):
        self._jobs = jobs.Jobs(_measure, size, jobs.ThreadExecutor, what="quick check")

    def get(self, key: Any, cfg: LIFConfig, start: bool = True) -> dict[str, Any] | None:
        """The measurement of ``cfg`` (``{"error": ...}`` when it cannot be measured), or None while it runs
        (it is started if it was not, unless ``start`` is False)."""
        status = self._jobs.submit(_SERVER, key, cfg) if start else self._jobs.status(key)
        if status.state == "error":  # an unexpected failure (a refusal is _measure's result)
            return {"error": layout.plain(status.error)}
        return status.result if status.state == "done" else None


#: the one owner of the checks: every session's request supersedes the last one waiting
_SERVER = "server"


def _measure(cfg: LIFConfig, progress: jobs.Progress) -> dict[str, Any]:  # noqa: ARG001 - no progress to show
    from stabviz.outcomes import features

    try:
        return features.measure(cfg)
    except ValueError as err:  # a setting the check refuses (memory, burn-in): said, never raised
        return {"error": layout.plain(err)}


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
    pending = checks().get(cfg, cfg, start) is None and start  # the setting is its own key
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
        how = (
            "measuring the initial gain in the background…"
            if m is None and start
            else "the measured check follows once the page is drawn"
            if m is None
            else f"the quick check could not measure this setting ({m['error']})"
        )
        source = f"from the theory's predicted gain ({how})"
    else:
        v = advice.verdict(cfg, steps, layers, measured=m)
        source = "from the measured initial gain (quick Monte-Carlo check, batch 32)"
    word = f":{COLOURS[v['verdict']]}[{v['verdict'].capitalize()}]: P(collapse) = {v['p_collapse']:.2f}"
    details = (
        f"Training {steps} optimiser steps, {layers} layer: outcome model {source}, "
        f"T·log₁₀ gain {_gain(v['log10_gain'])}, firing rate {v['firing_rate'] or 0:.0%}. Expected shortfall "
        f"{100 * v['shortfall']:.0f}% of the way from the best accuracy to chance. "
        f"Committed below {model.LOW:g} and above {model.HIGH:g}; how well it holds on tasks it was not "
        "fitted on: the Evidence page."
        + (f" **{v['caveat'][0].upper()}{v['caveat'][1:]}.**" if v.get("caveat") else "")
    )
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
    st.segmented_control(
        "Training steps you plan",
        BUDGETS,
        key=BUDGET_KEY,
        default=BUDGETS[0],
        required=True,
        format_func=lambda b: f"{b} steps",
        help="The outcome model was fitted on runs of 200 and 1000 AdamW steps.",
    )
