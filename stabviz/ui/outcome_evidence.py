"""The Evidence page's first section: how well the outcome model behind the advice holds on tasks it was
not fitted on (leave-one-task-out), read from the shipped model file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from stabviz.ui import layout


def view() -> None:
    """The leave-one-task-out table (regret, AUC, committed share) and the calibration figure."""
    from stabviz.outcomes import model

    st.subheader("The advice's evidence: the outcome model on held-out tasks", divider="gray")
    try:
        m = model.load()
    except (OSError, ValueError) as err:
        st.error(f"The outcome model could not be read: {layout.plain(err)}", icon=":material/error:")
        return
    prov = m.get("provenance") or {}
    st.markdown(
        "Explore's verdict and recommendation come from a model of **measured training outcomes**: "
        f"{m.get('rows', '?')} runs ({layout.plain(prov.get('command'))}, commit "
        f"{layout.plain(str(prov.get('commit') or 'unknown')[:12])}, {layout.plain(str(prov.get('date'))[:10])}). "
        "Each task below was held out of the fit in turn. *Regret*: the recommended choice's mean accuracy "
        "below the best of the 18 choices its base network was trained with (points); *committed*: the share "
        "of runs given P(collapse) below 0.2 or above 0.8."
    )
    val = m["validation"]["measured"]
    st.markdown(table(val))
    with st.expander("Calibration per decile, and the theory-only model"):
        st.markdown("Observed collapse rate per decile of the predicted P(collapse), the held-out tasks pooled:")
        st.markdown(calibration_table(val["pooled"]["calibration"]))
        st.markdown(
            "Scored from the theory's *predicted* initial gain instead of the measured one (what the "
            "options' P(collapse) read):"
        )
        st.markdown(table(m["validation"]["predicted"]))


def table(val: Mapping[str, Any]) -> str:
    """One validation (a source) as a markdown table, a row per held-out task."""
    lines = [
        "| held-out task | runs | collapse AUC | committed | mean regret | worst regret | below the median |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, t in val["tasks"].items():
        auc = "—" if t.get("auc") is None else f"{t['auc']:.2f}"
        lines.append(
            f"| {task} | {t['runs']} | {auc} | {t['committed']:.0%} | {t['mean_regret']:.1f} | "
            f"{t['max_regret']:.1f} | {t['below_median']} of {t.get('n_bases', '?')} bases |"
        )
    return "\n".join(lines)


def calibration_table(bins: list[Mapping[str, Any]]) -> str:
    """Predicted against observed collapse rate per decile, as a two-row markdown table."""
    head = "| predicted | " + " | ".join(f"{b['predicted']:.2f}" for b in bins) + " |"
    rule = "|---|" + "---|" * len(bins)
    return "\n".join([head, rule, "| observed | " + " | ".join(f"{b['observed']:.2f}" for b in bins) + " |"])
