"""Runs (/runs): launch short training runs, follow them live, compare prediction and measurement.

The page's whole glue: the launch form, the runs table, the live view of one run and :func:`render`.
The run store and the launcher the pages share are in :mod:`stabviz.ui.runs`.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any, Mapping, Sequence

import streamlit as st

from stabviz import plots
from stabviz.config import DEVICES, TASKS, TRAIN_RANGES, LIFConfig, TrainConfig, limits
from stabviz.runs import ACTIVE
from stabviz.runs.groups import groups_of, in_seed_group, interval_text, summarize
from stabviz.runs.groups import verdict_sentence as group_sentence
from stabviz.ui import figures, layout, sharing, state
from stabviz.ui import runs as ui_runs

#: Metric charts of the live view: title -> metric name prefix in the store (per layer: "<name>/<k>").
CHARTS = {"loss": "loss", "accuracy": "accuracy", "firing rate": "firing_rate", "‖∇W_rec‖ (grad norm)": "grad_norm"}


def setting_label(lif: Mapping[str, Any]) -> str:
    """A one-line description of a run's LIF setting."""
    if not lif:
        return "—"
    sg = f"{lif.get('shape')} γ={lif.get('dampening'):.3g} β={lif.get('sharpness'):.3g}"
    if lif.get("shape") == "qpseudospike":
        sg += f" q={lif.get('tail'):.3g}"
    return f"{sg}, α={lif.get('leak'):.3g}, n={lif.get('n_rec')}"


def duration(run: Mapping[str, Any]) -> float | None:
    """Seconds from start to end (or to now, while running)."""
    if not run.get("started"):
        return None
    import time
    end = run.get("finished") or (time.time() if run.get("status") in ACTIVE else None)
    return None if end is None else float(end - run["started"])


def table_rows(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The persisted runs as table rows: status, setting, prediction vs measurement, duration, and for a
    seed group's members the group's 95% intervals (over the members listed, once two have measured)."""
    groups = groups_of(runs)
    rows = []
    for r in runs:
        cfg = r.get("config") or {}
        summary = r.get("summary") or {}
        final = summary.get("final") or {}
        pred = r.get("prediction") or summary.get("prediction") or {}
        rows.append({
            "run": r["id"][:8], "status": r["status"],
            "created": dt.datetime.fromtimestamp(r["created"]).strftime("%Y-%m-%d %H:%M:%S"),
            "setting": setting_label(cfg.get("lif") or {}), "task": cfg.get("task"),
            "steps": cfg.get("train_steps"), "predicted": pred.get("regime"),
            "measured": ui_runs.measured_outcome(r) if r["status"] not in ACTIVE else None,
            "accuracy": final.get("accuracy"), "duration (s)": duration(r), "sweep": r.get("sweep_label") or "",
            "seed group (95% interval)": interval_text(groups.get(r.get("sweep_id"))) or "",
        })
    return rows


def launch_form(cfg: LIFConfig) -> None:
    """Launch a run from the current setting; on success, show it (the run id goes into the URL).
    On a shared dashboard the data file is one the host lists (by name), and launching may be off."""
    lim = limits()
    shared = sharing.shared()
    if sharing.launching() == "off":
        st.info("Launching runs is switched off on this shared dashboard (the host has set no run token). "
                "The runs below can still be followed and compared.", icon=":material/lock:")
        return
    files = sharing.data_files() if shared else {}
    with st.form("launch", border=True, enter_to_submit=False):
        st.markdown(f"**Launch a run at the current setting**: {setting_label(cfg.to_dict())}")
        c = st.columns(4)
        task = c[0].selectbox("Task", TASKS, help="randman is generated on the fly; digits is scikit-learn's "
                                                  "bundled set (16 steps, 64 channels); shd and slmnist read a "
                                                  "local file you already have (nothing is downloaded).")
        if shared:      # no typed paths on a shared dashboard: only the files the host lists, by name
            data_name = c[1].selectbox("Data file (shd / slmnist)", list(files), index=None,
                                       placeholder="none listed by the host" if not files else "choose a file",
                                       help="The data files the host of this shared dashboard offers.")
            data_path = files.get(data_name, "")
        else:
            data_path = c[1].text_input("Data file (shd / slmnist)", "")
        device = c[2].selectbox("Device", DEVICES, help="auto: CUDA when the worker sees a GPU, else CPU.")
        layers = c[3].number_input("Layers", 1, lim["layers"], 1)
        c = st.columns(4)
        steps = c[0].number_input("Training steps", 1, lim["train_steps"], 100, step=10)
        batch = c[1].number_input("Batch", 1, lim["batch"], 32, step=8)
        time_steps = c[2].number_input("Time steps per sample", 1, lim["time_steps"], 50, step=10)
        lr = c[3].number_input("Learning rate", float(TRAIN_RANGES["lr"][0]) + 1e-6, float(TRAIN_RANGES["lr"][1]),
                               2e-3, format="%g", step=1e-3)
        c = st.columns(4)
        sparsity_weight = c[0].number_input("Sparsity loss weight", 0.0, 1e6, 0.0, format="%g",
                                            help="0 switches it off; else switch·(mean z − target)² per layer, "
                                                 "the switch ramping from 1/5 to 3/5 of training.")
        sparsity_target = c[1].number_input("Sparsity target rate", 0.0, 1.0, 0.05, format="%g")
        recommended = c[2].checkbox("Use the recommended γ, β, q", help="The first recommendation option "
                                                                        "(a whole setting with ρ² = 1) replaces "
                                                                        "the surrogate's (γ, β, q) for this run.")
        seeds = ui_runs.seeds_input(c[3], "launch_seeds")
        st.caption("Limits on this machine: " + ", ".join(f"{k} ≤ {v}" for k, v in lim.items())
                   + " (raise with STABVIZ_MAX_<NAME>).")
        if st.form_submit_button("Launch run", type="primary", icon=":material/play_arrow:"):
            try:
                train = TrainConfig(lif=cfg, task=task, data_path=data_path.strip(), layers=int(layers),
                                    train_steps=int(steps), batch=int(batch), time_steps=int(time_steps),
                                    lr=float(lr), device=device, sparsity_weight=float(sparsity_weight),
                                    sparsity_target=float(sparsity_target), use_recommended_sg=recommended)
                run_ids = ui_runs.submit_seeds(train, seeds)
            except ValueError as err:
                st.error(f"The run was not started: {layout.plain(sharing.redact(str(err)))}")
            else:
                st.session_state["run_choice"] = run_ids[0]
                st.success(f"Run {layout.plain(run_ids[0][:8])} queued." if len(run_ids) == 1 else
                           f"{len(run_ids)} runs queued, one per seed (a seed group): "
                           + ", ".join(layout.plain(r[:8]) for r in run_ids) + ".")


def run_metrics(run_id: str) -> dict[str, tuple[list, list]]:
    """All metric points of a run, read incrementally: each poll of the live view reads only the points
    logged since its last one (RunStore.metrics_since), the rest is kept in the session."""
    cache = st.session_state.setdefault("_metrics_cache", {})
    cursor, series = cache.get(run_id, (0, {}))
    new, cursor = ui_runs.store().metrics_since(run_id, cursor)
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
                layer = name[len(prefix) + 1:]
                label = " ".join(p for p in ((run_id[:8] if label_runs else ""), (f"layer {layer}" if layer else "")) if p)
                out[label or prefix] = (steps, values)
    return out


def charts(run_ids: Sequence[str], key: str) -> None:
    """The metric charts of some runs, with smoothing and log-y toggles."""
    c = st.columns([2, 1, 3])
    smoothing = c[0].slider("Smoothing", 0.0, 0.95, 0.0, 0.05, key=f"{key}_smooth")
    log_y = c[1].toggle("log y", key=f"{key}_log")
    cols = st.columns(2)
    for i, (title, prefix) in enumerate(CHARTS.items()):
        series = metric_series(run_ids, prefix, label_runs=len(run_ids) > 1)
        with cols[i % 2]:
            if series:
                figures.chart(plots.metric_curves(series, y_label=title, smoothing=smoothing,
                                                  log_y=log_y and prefix != "accuracy"), f"{key}_{prefix}")
            else:
                st.caption(f"{title}: nothing logged yet")


def comparison_rows(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Prediction vs measurement at initialisation, from the run's verdict."""
    verdict = (run.get("summary") or {}).get("verdict") or {}
    names = {"firing_rate": "initial firing rate p", "rho": "one-step gain ρ (ρ̂ measured)",
             "rho2": "ρ² (mean squared one-step gain)", "regime": "regime over T"}
    rows = []
    for k, label in names.items():
        v = verdict.get(k) or {}
        rows.append({"quantity": label, "predicted": _cell(v.get("predicted")),
                     "measured": _cell(v.get("measured")),
                     "agrees": {True: "yes", False: "no"}.get(v.get("agrees"), "—")})
    return rows


def _cell(x: Any) -> str:
    if isinstance(x, float):
        return layout.fmt(x, 4)
    return "—" if x is None else str(x)


def verdict_sentence(run: Mapping[str, Any]) -> str | None:
    verdict = (run.get("summary") or {}).get("verdict") or {}
    regime = verdict.get("regime") or {}
    if regime.get("agrees") is None:
        return None
    word = "confirmed" if regime["agrees"] else "refuted"
    band = regime.get("band") or [None, None]
    inside = "inside" if regime["agrees"] else "outside"
    return (f"Prediction **{word}**: the theory said *{layout.plain(regime.get('predicted'))}* "
            f"(calibrated band {layout.fmt(band[0])} to {layout.fmt(band[1])} decades over T); the run measured "
            f"*{layout.plain(regime.get('measured'))}*, {inside} the band (from the gradient-flow probe's "
            "per-step gain ρ̂).")


def group_view(store: Any, run_id: str) -> None:
    """The run's seed group: its members' 95% intervals and the group verdict (re-drawn every second while
    a member is queued or running; nothing for a run in no group)."""
    run = store.get(run_id)
    if not in_seed_group(run):
        return
    members = lambda: store.list(sweep_id=run["sweep_id"], limit=None)        # noqa: E731
    active = any(r["status"] in ACTIVE for r in members())

    @st.fragment(run_every=ui_runs.POLL_S if active else None)
    def view() -> None:
        now = members()
        if active and not any(r["status"] in ACTIVE for r in now):
            st.rerun()                     # the last member has just ended: stop polling
        group = summarize(now)
        st.markdown(f"**Seed group** {layout.plain(group['id'][:8])}: {group['size']} runs "
                    f"(seeds {group['seeds'][0]}–{group['seeds'][-1]}), {group['measured']} measured")
        sentence = group_sentence(group)
        if group["error"]:
            st.warning(f"No group verdict: {layout.plain(group['error'])}")
        elif sentence is None:
            st.caption("The group's 95% interval needs two measured runs.")
        else:
            st.markdown(layout.plain(interval_text(group)))
            box = {True: st.success, False: st.warning}.get(group["verdict"]["agrees"], st.info)
            box(layout.plain(sentence))
    view()


def grad_flow_series(run: Mapping[str, Any]) -> dict[str, tuple[list, list]]:
    summary = run.get("summary") or {}
    out = {}
    for when in ("initial", "final"):
        flow = (summary.get(when) or {}).get("grad_flow")
        if flow:
            out[f"{when} (ρ̂ = {layout.fmt((summary[when] or {}).get('grad_gain'), 4)})"] = (list(range(len(flow))), flow)
    return out


def progress(run_id: str) -> float:
    series = run_metrics(run_id).get("progress")
    if not series or not series[1]:
        return 0.0
    p = series[1][-1]
    return 0.0 if p is None or not math.isfinite(p) else min(max(float(p), 0.0), 1.0)


def render(cfg: LIFConfig) -> None:
    """The Runs page at the sidebar's setting (the setting new runs are launched at)."""
    store = ui_runs.store()
    st.title("Training runs")

    launch_form(cfg)

    runs = store.list(limit=200)
    if not runs:
        st.info("No runs yet. Launch one above, or press *Confirm with a short run* on the Explore page.")
        return

    st.subheader("All runs")
    table = st.dataframe(table_rows(runs), on_select="rerun", selection_mode="multi-row", hide_index=True,
                         key="runs_table", width="stretch")
    # sharing.redact: on a shared dashboard the host's data paths leave as file names only
    layout.download_buttons("Runs table", "stabviz_runs", lambda: sharing.redact(store.export_table("csv")),
                            lambda: sharing.redact(store.export_table("json")), key="dl_table")

    ids = [r["id"] for r in runs]
    state.seed_widget("run_choice", "run", ui_runs.run_parser(ids), ids[0])
    if st.session_state["run_choice"] not in ids:          # a run older than the table's 200, or deleted
        st.session_state["run_choice"] = ids[0]
    labels = {r["id"]: f"{r['id'][:8]} · {r['status']} · {setting_label((r.get('config') or {}).get('lif') or {})}"
              for r in runs}
    run_id = st.selectbox("Run", ids, key="run_choice", format_func=labels.get, persist_state="session")
    state.keep_param("run", run_id)
    run = store.get(run_id)
    active = run["status"] in ACTIVE

    @st.fragment(run_every=ui_runs.POLL_S if active else None)
    def live_view() -> None:
        """Re-drawn every second while the run is queued or running; a full rerun when it ends."""
        current = store.get(run_id)
        if current["status"] in ACTIVE:
            st.progress(progress(run_id), text=f"{layout.plain(current['status'])}: {progress(run_id):.0%}")
            if ui_runs.may_cancel(run_id) and st.button("Cancel run", icon=":material/stop:", key="cancel_run"):
                ui_runs.launcher().cancel(run_id)
        elif active:
            st.rerun()                    # it has just ended: refresh the table and stop polling
        charts([run_id], "live")

    st.subheader(f"Run {layout.plain(run_id[:8])}: {layout.plain(run['status'])}")
    error = ui_runs.error_text(run)
    if error:
        st.error(f"The run failed: {layout.plain(error)}", icon=":material/error:")
    live_view()

    if run["status"] not in ACTIVE:
        c = st.columns([3, 2])
        with c[0]:
            st.markdown("**Prediction vs measurement at initialisation**")
            st.dataframe(comparison_rows(run), hide_index=True, width="stretch")
            sentence = verdict_sentence(run)
            if sentence:
                st.markdown(sentence)
            group_view(store, run_id)
        with c[1]:
            flow = grad_flow_series(run)
            if flow:
                figures.chart(plots.gradient_flow(flow), "grad_flow")
        layout.download_buttons("This run", f"stabviz_run_{run_id[:8]}",
                                lambda: sharing.redact(store.export(run_id, "csv")),
                                lambda: sharing.redact(store.export(run_id, "json")), key="dl_run")

    selected = [ids[i] for i in table.selection.rows] if table and table.selection.rows else []
    if len(selected) > 1:
        st.subheader(f"Overlay of {len(selected)} selected runs")
        charts(selected, "overlay")
    else:
        st.caption("Select several rows of the table to overlay their curves.")
