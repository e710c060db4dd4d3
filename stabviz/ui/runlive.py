"""Following runs as they train: progress with ETA, live curves, then the verdict.

Shared by the Runs page (one run, chosen in its table) and Explore's confirmation (the runs it has just
queued, shown inline): :func:`follow` is the live view of either, re-drawn every second by a fragment while
a run is queued or running. The verdict pieces (prediction vs measurement, the gradient-flow plot and how
to read it, the seed group's interval verdict) are here too, so both pages say the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from stabviz import plots
from stabviz.runs import ACTIVE
from stabviz.runs.groups import in_seed_group, interval_text, summarize
from stabviz.runs.status import status_text
from stabviz.ui import figures, layout, runlaunch, verdicts

#: Metric charts of the live view: title -> metric name prefix in the store (per layer: "<name>/<k>").
CHARTS = {"loss": "loss", "accuracy": "accuracy", "firing rate": "firing_rate", "‖∇W_rec‖ (grad norm)": "grad_norm"}
THEORY_82 = "docs/theory.md#82-one-step-independent-averages-miss-the-temporal-structure"
#: How to read the gradient-flow plot (plots.gradient_flow): the loss sits at the last step, so the error
#: travels from right to left, and an exploding run's curve falls towards t = T.
FLOW_CAPTION = (
    "‖∂L/∂y_t‖ is the error that the loss at the last step (t = T − 1) sends back to step t, so "
    "read the curve from right to left. **Flat**: stable. **Exploding** (ρ̂ > 1): the error grows on "
    "its way back, so the curve is highest at t = 0 and falls towards t = T. **Vanishing** (ρ̂ < 1): "
    "it shrinks on its way back, so the curve rises towards t = T. ρ̂, the per-step gain the verdict "
    "uses, is fitted to the slope of this curve (log scale)."
)


def setting_label(lif: Mapping[str, Any]) -> str:
    """A one-line description of a run's LIF setting."""
    if not lif:
        return "—"
    sg = f"{lif.get('shape')} γ={lif.get('dampening'):.3g} β={lif.get('sharpness'):.3g}"
    if lif.get("shape") == "qpseudospike":
        sg += f" q={lif.get('tail'):.3g}"
    return f"{sg}, α={lif.get('leak'):.3g}, n={lif.get('n_rec')}"


def run_metrics(run_id: str) -> dict[str, tuple[list, list]]:
    """All metric points of a run, read incrementally: each poll of the live view reads only the points
    logged since its last one (RunStore.metrics_since), the rest is kept in the session."""
    cache = st.session_state.setdefault("_metrics_cache", {})
    cursor, series = cache.get(run_id, (0, {}))
    new, cursor = runlaunch.store().metrics_since(run_id, cursor)
    for name, (steps, values) in new.items():
        old_steps, old_values = series.setdefault(name, ([], []))
        old_steps.extend(steps)
        old_values.extend(values)
    cache[run_id] = (cursor, series)
    return series


def metric_series(run_ids: Sequence[str], prefix: str, label_runs: bool) -> dict[str, tuple[list, list]]:
    """Series of one metric (all layers) for several runs: label -> (steps, values)."""
    out = {}
    for run_id in run_ids:
        for name, (steps, values) in sorted(run_metrics(run_id).items()):
            if name == prefix or name.startswith(prefix + "/"):
                layer = name[len(prefix) + 1 :]
                label = " ".join(
                    p for p in ((run_id[:8] if label_runs else ""), (f"layer {layer}" if layer else "")) if p
                )
                out[label or prefix] = (steps, values)
    return out


def charts(
    run_ids: Sequence[str], key: str, titles: Sequence[str] = tuple(CHARTS), toggles: bool = True, per_row: int = 2
) -> None:
    """The metric charts of some runs (overlaid, one line per run), ``per_row`` a row, with smoothing and
    log-y toggles."""
    smoothing, log_y = 0.0, False
    if toggles:
        c = st.columns([2, 1, 3])
        smoothing = c[0].slider("Smoothing", 0.0, 0.95, 0.0, 0.05, key=f"{key}_smooth")
        log_y = c[1].toggle("log y", key=f"{key}_log")
    cols = st.columns(per_row)
    for i, title in enumerate(titles):
        prefix = CHARTS[title]
        series = metric_series(run_ids, prefix, label_runs=len(run_ids) > 1)
        with cols[i % per_row]:
            if series:
                figures.chart(
                    plots.metric_curves(
                        series, y_label=title, smoothing=smoothing, log_y=log_y and prefix != "accuracy"
                    ),
                    f"{key}_{prefix}",
                )
            else:
                st.caption(f"{title}: nothing logged yet")


def progress(run_id: str) -> float:
    series = run_metrics(run_id).get("progress")
    if not series or not series[1]:
        return 0.0
    p = series[1][-1]
    return 0.0 if p is None or not math.isfinite(p) else min(max(float(p), 0.0), 1.0)


def progress_text(run: Mapping[str, Any], done: float) -> str:
    """ "running: 55% · ETA 40 s (0.31 s per step)", "queued 12 s ago"."""
    if run["status"] == "queued":
        return f"queued {runlaunch.ago(run.get('created'))}, waiting for a worker"
    text = f"{run['status']}: {done:.0%}"
    left = runlaunch.eta(run, done)
    if left is not None and done > 0:
        text += f" · ETA {runlaunch.span(left)} ({runlaunch.seconds_per_step(run, done):.2g} s per step)"
    return text


def comparison_rows(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Prediction vs measurement at initialisation, from the run's verdict."""
    verdict = (run.get("summary") or {}).get("verdict") or {}
    names = {
        "firing_rate": "initial firing rate p",
        "rho": "per-step gain ρ (measured: ρ̂, the verdict's)",
        "rho2": "ρ² (one-step mean squared gain)",
        "regime": f"regime over {run_T(run)}",
    }
    rows = []
    for k, label in names.items():
        v = verdict.get(k) or {}
        rows.append(
            {
                "quantity": label,
                "predicted": _cell(v.get("predicted")),
                "measured": _cell(v.get("measured")),
                "agrees": {True: "yes", False: "no"}.get(v.get("agrees"), "—"),
            }
        )
    return rows


def run_steps(run: Mapping[str, Any]) -> int | None:
    """The T a run's prediction and verdict were made at: its task's sample length, which the summary's
    setting holds; before the summary, the T the run was queued with."""
    cfg = run.get("config") or {}
    steps = (
        ((run.get("summary") or {}).get("lif") or {}).get("steps")
        or cfg.get("time_steps")
        or (cfg.get("lif") or {}).get("steps")
    )
    return int(steps) if steps else None


def run_T(run: Mapping[str, Any]) -> str:
    """'T = N' (:func:`run_steps`), for the text beside a run's regime."""
    steps = run_steps(run)
    return f"T = {steps}" if steps else "T"


def _cell(x: Any) -> str:
    if isinstance(x, float):
        return layout.fmt(x, 4)
    return "—" if x is None else str(x)


def gain_note(run: Mapping[str, Any]) -> str | None:
    """A sentence when the measured ρ² points the other way from the measured regime (ρ² < 1 beside
    'exploding', ρ² > 1 beside 'vanishing'): which of the two the verdict uses, and why they can differ."""
    verdict = (run.get("summary") or {}).get("verdict") or {}
    rho2 = (verdict.get("rho2") or {}).get("measured")
    regime = (verdict.get("regime") or {}).get("measured")
    if not isinstance(rho2, (int, float)) or not (
        (regime == "exploding" and rho2 < 1) or (regime == "vanishing" and rho2 > 1)
    ):
        return None
    side = "below" if rho2 < 1 else "above"
    return (
        f"Why is the measured ρ² = {layout.fmt(rho2, 4)} {side} 1 while the run measured *{regime}*? ρ² is the "
        "one-step mean squared gain of the forward pass, averaged over neurons and steps as if every step "
        "were independent. The verdict uses ρ̂, the per-step gain fitted to the gradient-flow probe (the "
        "plot's slope): the weights are the same at every step and σ′ is correlated over time, so the "
        f"error's actual gain can differ from √ρ² ({THEORY_82})."
    )


def grad_flow_series(run: Mapping[str, Any]) -> dict[str, tuple[list, list]]:
    summary = run.get("summary") or {}
    out = {}
    for when in ("initial", "final"):
        flow = (summary.get(when) or {}).get("grad_flow")
        if flow:
            out[f"{when} (ρ̂ = {layout.fmt((summary[when] or {}).get('grad_gain'), 4)})"] = (
                list(range(len(flow))),
                flow,
            )
    return out


def verdict_box(run: Mapping[str, Any]) -> None:
    """How the run went (coloured by training: green only when it trained), then its prediction's verdict in
    a neutral box that agrees with the table (:mod:`stabviz.ui.verdicts`). A seed group's member is named."""
    who = f"Seed {(run.get('sweep_point') or {}).get('seed')}: " if in_seed_group(run) else ""
    verdicts.show(verdicts.run_messages(run, run_T(run), who))
    note = gain_note(run)
    if note:
        st.info(note, icon=":material/help:")


def details(run: Mapping[str, Any], key: str) -> None:
    """Prediction vs measurement at initialisation and the gradient-flow plot with how to read it."""
    c = st.columns([3, 2])
    with c[0]:
        st.markdown("**Prediction vs measurement at initialisation**")
        st.dataframe(comparison_rows(run), hide_index=True, width="stretch")
    with c[1]:
        flow = grad_flow_series(run)
        if flow:
            figures.chart(plots.gradient_flow(flow), f"{key}_grad_flow")
            st.caption(FLOW_CAPTION)


def group_view(store: Any, run_id: str, key: str) -> None:
    """The run's seed group: its members' 95% intervals and the group verdict (re-drawn every second while
    a member is queued or running; nothing for a run in no group)."""
    run = store.get(run_id)
    if not in_seed_group(run):
        return
    members = lambda: store.list(sweep_id=run["sweep_id"], limit=None)  # noqa: E731
    active = any(r["status"] in ACTIVE for r in members())

    @st.fragment(run_every=runlaunch.POLL_S if active else None)
    def view() -> None:
        now = members()
        if active and not any(r["status"] in ACTIVE for r in now):
            st.rerun()  # the last member has just ended: stop polling
        group = summarize(now)
        st.markdown(
            f"**Seed group** {layout.plain(group['id'][:8])}: {group['size']} runs "
            f"(seeds {group['seeds'][0]}–{group['seeds'][-1]}), {group['measured']} measured"
        )
        if group["error"]:
            st.warning(f"No group verdict: {layout.plain(group['error'])}")
        elif group["verdict"] is None:
            st.caption("The group's 95% interval needs two measured runs.")
        else:
            st.markdown(layout.plain(interval_text(group)))
        # how the seeds trained (coloured by that), then the interval verdict (neutral)
        verdicts.show(verdicts.group_messages(now, group))

    with st.container(key=f"{key}_group"):
        view()


def heading(runs: Sequence[Mapping[str, Any]]) -> str:
    """ "Run 1a2b3c4d: running", "Run 1a2b3c4d: stopped at 77/100 (time limit)", or for several "3 runs:
    1 running, 2 queued" (each run's status as :func:`stabviz.runs.status.status_text` says it)."""
    if len(runs) == 1:
        return f"Run {layout.plain(runs[0]['id'][:8])}: {layout.plain(status_text(runs[0]))}"
    counts: dict[str, int] = {}
    for r in runs:
        counts[status_text(r)] = counts.get(status_text(r), 0) + 1
    return f"{len(runs)} runs: " + ", ".join(f"{n} {layout.plain(s)}" for s, n in counts.items())


def follow(
    store: Any,
    run_ids: Sequence[str],
    key: str,
    *,
    titles: Sequence[str] = tuple(CHARTS),
    per_row: int = 2,
    on_active: Any = None,
) -> None:
    """The live view of runs queued together (one run, or a seed group's members): a heading with their
    status, a progress bar with ETA per active run, the live curves (overlaid), and once a run has ended
    its verdict. Re-drawn every second while a run is queued or running; a full rerun when the last ends.
    ``on_active(run)`` draws extra controls under an active run's bar (the Runs page's Cancel)."""
    first = [store.get(r) for r in run_ids]
    active = any(r["status"] in ACTIVE for r in first)

    @st.fragment(run_every=runlaunch.POLL_S if active else None)
    def view() -> None:
        runs = [store.get(r) for r in run_ids]
        if active and not any(r["status"] in ACTIVE for r in runs):
            st.rerun()  # the last one has just ended: refresh the page and stop polling
        st.subheader(heading(runs))
        for r in runs:
            if r["status"] in ACTIVE:
                done = progress(r["id"])
                st.progress(done, text=(f"{r['id'][:8]} · " if len(runs) > 1 else "") + progress_text(r, done))
                if on_active is not None:
                    on_active(r)
            error = runlaunch.error_text(r)
            if error:
                who = "The run" if len(runs) == 1 else f"Run {layout.plain(r['id'][:8])}"
                st.error(f"{who} failed: {layout.plain(error)}", icon=":material/error:")
        if len(runs) == 1 and runs[0]["status"] not in ACTIVE:
            verdict_box(runs[0])
        charts(run_ids, key, titles, toggles=len(titles) > 2, per_row=per_row)

    with st.container(key=f"{key}_follow"):
        view()
