"""Runs (/runs): launch short training runs, follow them live, compare prediction and measurement.

The page's whole glue: the launch form, the runs table, the live view of one run and :func:`render`.
The run store and the launcher the pages share are in :mod:`stabviz.ui.runlaunch`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from stabviz.config import DEVICES, RATE_CONTROL_RANGES, TASKS, LIFConfig, TrainConfig, limits
from stabviz.runs import ACTIVE
from stabviz.runs.groups import groups_of, interval_text
from stabviz.runs.status import status_text, steps_text
from stabviz.runs.store import describe_dispatcher
from stabviz.ui import fields, guard, layout, runlaunch, runlive, sharing, state

#: At most this many runs side by side.
COMPARE_MAX = 4
#: Session keys: the ids of the runs deleted last (for Undo); the last launch the Run selector has shown.
DELETED, SHOWN_LAUNCH = "_deleted_runs", "_shown_launch"


def duration(run: Mapping[str, Any]) -> float | None:
    """Seconds from start to end (or to now, while running)."""
    if not run.get("started"):
        return None
    import time

    end = run.get("finished") or (time.time() if run.get("status") in ACTIVE else None)
    return None if end is None else float(end - run["started"])


def _duration_text(run: Mapping[str, Any]) -> str:
    seconds = duration(run)
    return "—" if seconds is None else runlaunch.span(seconds)


def table_rows(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The persisted runs as table rows: status, setting, prediction vs measurement, duration, and for a
    seed group's members the group's 95% intervals (over the members listed, once two have measured)."""
    groups = groups_of(runs)
    rows = []
    for r in runs:
        cfg = r.get("config") or {}
        outcome = runlaunch.outcome_row(r)
        rows.append(
            {
                "run": r["id"][:8],
                "status": status_text(r),
                "created": runlaunch.ago(r["created"]),
                "tags": ", ".join(r.get("tags") or []),
                "setting": runlive.setting_label(cfg.get("lif") or {}),
                "task": cfg.get("task"),
                "steps": steps_text(r),
                "T": runlive.run_steps(r),  # steps done / asked; T of the regimes beside it
                "predicted": outcome["predicted"],
                "measured": outcome["measured"],
                "accuracy": outcome["accuracy"],
                "duration": _duration_text(r),
                "sweep": r.get("sweep_label") or "",
                "seed group (95% interval)": interval_text(groups.get(r.get("sweep_id"))) or "",
            }
        )
    return rows


def launch_form(cfg: LIFConfig) -> None:
    """Launch a run from the current setting; on success, show it (the run id goes into the URL).
    On a shared dashboard the data file is one the host lists (by name), and launching may be off."""
    lim = limits()
    shared = sharing.shared()
    if sharing.launching() == "off":
        st.info(
            "Launching runs is switched off on this shared dashboard (the host has set no run token). "
            "The runs below can still be followed and compared.",
            icon=":material/lock:",
        )
        return
    files = sharing.data_files() if shared else {}
    # Plain widgets in a bordered box, not an st.form: every value is checked as it is typed, and the
    # button stays disabled, with the reason, while one is empty or out of range (Enter commits a field only).
    with st.container(border=True, key="launch"):
        st.markdown(f"**Launch a run at the current setting**: {runlive.setting_label(cfg.to_dict())}")
        c = st.columns(4)
        task = c[0].selectbox(
            "Task",
            TASKS,
            help="randman is generated on the fly; digits is scikit-learn's "
            "bundled set (16 steps, 64 channels); shd and slmnist read a "
            "local file you already have (nothing is downloaded).",
        )
        if shared:  # no typed paths on a shared dashboard: only the files the host lists, by name
            data_name = c[1].selectbox(
                "Data file (shd / slmnist)",
                list(files),
                index=None,
                placeholder="none listed by the host" if not files else "choose a file",
                help="The data files the host of this shared dashboard offers.",
            )
            data_path = files.get(data_name, "")
        else:
            data_path = c[1].text_input("Data file (shd / slmnist)", "")
        device = c[2].selectbox("Device", DEVICES, help="auto: CUDA when the worker sees a GPU, else CPU.")
        ranges = fields.train_ranges(lim)
        num = lambda col, label, name, default, **kw: fields.number(
            col,
            label,
            name,
            f"launch_{name}",  # noqa: E731
            default=default,
            ranges=ranges,
            **kw,
        )
        # The defaults are the form's run preset (Explore's confirmation run and a sparsity target): the setting's T.
        quick = runlaunch.quick_config(cfg, preset="form")
        layers, bad_layers = num(c[3], "Layers", "layers", quick.layers, step=1)
        c = st.columns(4)
        steps, bad_steps = num(c[0], "Training steps", "train_steps", quick.train_steps, step=10)
        batch, bad_batch = num(c[1], "Batch", "batch", quick.batch, step=8)
        time_steps, bad_t = num(
            c[2],
            "Time steps per sample",
            "time_steps",
            quick.time_steps,
            step=10,
            help=f"The T the gradients travel; by default the setting's T = {cfg.steps}.",
        )
        lr, bad_lr = num(c[3], "Learning rate", "lr", quick.lr, format="%g", step=1e-3)
        c = st.columns(4)
        sparsity_weight, bad_sw = num(
            c[0],
            "Sparsity loss weight",
            "sparsity_weight",
            quick.sparsity_weight,
            format="%g",
            step=0.1,
            help="0 switches it off; else switch·(mean z − target)² per layer, "
            "the switch ramping from 1/5 to 3/5 of training.",
        )
        sparsity_target, bad_st = num(
            c[1], "Sparsity target rate", "sparsity_target", quick.sparsity_target, format="%g", step=0.01
        )
        recommended = c[2].checkbox(
            "Use the recommended setting",
            help="The outcome model's recommended whole "
            "setting (γ, β, q and the recurrent "
            "initialisation) replaces yours for this run.",
        )
        seeds = runlaunch.seeds_input(c[3], "launch_seeds")
        local, rate_control, bad_rc = _training_method(layers)
        st.caption(
            "Limits on this machine: "
            + ", ".join(f"{k} ≤ {v}" for k, v in lim.items())
            + " (raise with STABVIZ_MAX_<NAME>)."
        )
        problems = [p for p in (bad_layers, bad_steps, bad_batch, bad_t, bad_lr, bad_sw, bad_st, bad_rc) if p]
        if seeds is None:
            problems.append(f"Seeds must be a whole number in [1, {runlaunch.MAX_SEEDS}]")
        problems += list(state.invalid_fields().values())
        if problems:
            st.caption(":material/block: Launch is disabled until every field is valid: " + problems[0] + ".")
        if st.button(
            "Launch run", type="primary", icon=":material/play_arrow:", key="launch_run", disabled=bool(problems)
        ):
            try:
                train = TrainConfig(
                    lif=cfg,
                    task=task,
                    data_path=data_path.strip(),
                    layers=int(layers),
                    train_steps=int(steps),
                    batch=int(batch),
                    time_steps=int(time_steps),
                    lr=float(lr),
                    device=device,
                    sparsity_weight=float(sparsity_weight),
                    sparsity_target=float(sparsity_target),
                    use_recommended_setting=recommended,
                    local_losses=local,
                    rate_control=rate_control,
                )
                run_ids = None if _over_limit(train, seeds) else runlaunch.submit_seeds(train, seeds)
            except ValueError as err:
                st.error(f"The run was not started: {layout.plain(sharing.redact(str(err)))}")
            else:
                if run_ids is None:
                    return
                st.success(
                    f"Run {layout.plain(run_ids[0][:8])} queued."
                    if len(run_ids) == 1
                    else f"{len(run_ids)} runs queued, one per seed (a seed group): "
                    + ", ".join(layout.plain(r[:8]) for r in run_ids)
                    + "."
                )


def _training_method(layers: Any) -> tuple[bool, tuple[float, float, int] | None, str | None]:
    """DECOLLE-style local losses (2 or 3 layers) and the paper's firing-rate control for a first phase:
    (local_losses, rate_control or None when its weight is 0, the first problem of its fields)."""
    c = st.columns(4)
    deep = isinstance(layers, (int, float)) and layers >= 2
    local = (
        c[0].checkbox(
            "Local losses (DECOLLE)",
            key="launch_local_losses",
            disabled=not deep,
            help="A fixed random readout and loss per hidden layer, the gradient stopped between "
            "layers (needs 2 or 3 layers).",
        )
        and deep
    )
    num = lambda col, label, name, default, **kw: fields.number(
        col,
        label,
        name,
        f"launch_{name}",  # noqa: E731
        default=default,
        ranges=RATE_CONTROL_RANGES,
        **kw,
    )
    f0, bad_f0 = num(
        c[1],
        "Rate control f0",
        "rate_control f0",
        0.158,
        format="%g",
        step=0.01,
        help="λ·|mean rate − f0| per layer is added to the loss for the first steps (the paper's "
        "firing-rate control); weight 0 switches it off.",
    )
    lam, bad_lam = num(c[2], "Rate control weight λ", "rate_control λ", 0.0, format="%g", step=0.1)
    steps, bad_steps = num(c[3], "Rate control steps", "rate_control steps", 20, step=10, integer=True)
    bad = bad_f0 or bad_lam or bad_steps
    return local, None if bad or not lam else (float(f0), float(lam), int(steps)), bad


LIMIT_ACK = "_limit_warned"


def _over_limit(train: TrainConfig, seeds: int) -> bool:
    """Whether to hold this launch back, once: its estimate is over its time limit (runlaunch.limit_warning)
    and it has not been warned of yet. The warning says so; the same launch pressed again starts."""
    why = runlaunch.limit_warning(train, seeds)
    asked = (repr(train.to_dict()), seeds)
    if why is None or st.session_state.get(LIMIT_ACK) == asked:
        return False
    st.session_state[LIMIT_ACK] = asked
    st.warning(f"Not started yet: {why} Press *Launch run* again to start it anyway.", icon=":material/timer_off:")
    return True


def run_choice(runs: Sequence[Mapping[str, Any]]) -> str:
    """The Run selector: the run in the link, else the one this session chose or just launched, else the
    watched run (the newest queued or running one, else the newest)."""
    ids = [r["id"] for r in runs]
    ss = st.session_state
    launched = ss.get(runlaunch.LAST_LAUNCH)
    if launched in ids and launched != ss.get(SHOWN_LAUNCH):
        # a run this session has just launched (here or on Explore) is shown once, at once: the selector's
        # value and the link's, which state.seed_widget would otherwise take back to the run it held before
        ss[SHOWN_LAUNCH] = ss["run_choice"] = launched
        st.query_params["run"] = launched
    state.seed_widget("run_choice", "run", runlaunch.run_parser(ids), runlaunch.watched_run(runs))
    if st.session_state["run_choice"] not in ids:  # a run older than the table's 200, or deleted
        st.session_state["run_choice"] = runlaunch.watched_run(runs)
    labels = {
        r["id"]: f"{r['id'][:8]} · {status_text(r)} · {runlaunch.ago(r['created'])} · "
        f"{runlive.setting_label((r.get('config') or {}).get('lif') or {})}"
        for r in runs
    }
    run_id = st.selectbox("Run", ids, key="run_choice", format_func=labels.get, persist_state="session")
    state.keep_param("run", run_id)
    return run_id


def cancel_button(run: Mapping[str, Any]) -> None:
    why = guard.reason(runlaunch.store(), "cancel", [run["id"]])
    if st.button("Cancel run", icon=":material/stop:", key="cancel_run", disabled=bool(why), help=_sentence(why)):
        _write(guard.cancel, runlaunch.launcher(), run["id"])
    refused_caption(why)


def refused_caption(why: str | None) -> None:
    """Under a control drawn disabled: why (the visitor sees the reason, not a button that does nothing)."""
    if why:
        st.caption(f":material/lock: {layout.plain(_sentence(why))}")


def _sentence(why: str | None) -> str | None:
    return why and f"{why[0].upper()}{why[1:]}."


def _write(action, *args) -> Any:
    """A write through the guard; a refusal (a crafted rerun clicking a disabled control) is shown."""
    try:
        return action(*args)
    except guard.Refused as err:
        st.error(f"Nothing was changed: {layout.plain(str(err))}")
        return None


def run_view(store: Any, run_id: str) -> None:
    """The chosen run: live status, progress with ETA, curves, then its verdict and details; tags."""
    runlive.follow(store, [run_id], "live", on_active=cancel_button)
    run = store.get(run_id)
    runlive.group_view(store, run_id, "live")
    if run["status"] not in ACTIVE:
        runlive.details(run, "live")
        why = guard.reason(store, "edit", [run_id])
        c = st.columns([4, 1], vertical_alignment="bottom")
        with c[0]:
            tags_input(store, run, why)
        with c[1]:
            delete_button(store, [run_id], "Delete run", "delete_run", why)
        refused_caption(why)
        layout.download_buttons(
            "This run",
            f"stabviz_run_{run_id[:8]}",
            lambda: sharing.redact(store.export(run_id, "csv")),
            lambda: sharing.redact(store.export(run_id, "json")),
            key="dl_run",
        )


def delete_button(store: Any, run_ids: Sequence[str], label: str, key: str, why: str | None) -> None:
    """Soft-delete ended runs (Undo, in :func:`deleted_notice`, brings them back); drawn disabled when the
    guard refuses (``why``), and the click checked by the guard again."""
    if st.button(
        label,
        key=key,
        icon=":material/delete:",
        disabled=bool(why),
        help=_sentence(why)
        or "Hides the run from every list; Undo brings it back. Queued or running "
        "runs are not deleted: cancel them first.",
    ):
        gone = _write(guard.delete, store, run_ids)
        if gone is not None:
            st.session_state[DELETED] = gone
            st.rerun()


def tags_input(store: Any, run: Mapping[str, Any], why: str | None) -> None:
    """The run's tags: pick existing ones or type new ones (saved at once); read-only when the guard
    refuses (``why``)."""
    key = f"tags_{run['id']}"
    current = list(run.get("tags") or [])
    known = sorted({t for r in store.list(limit=None) for t in (r.get("tags") or [])} | set(current))

    def save() -> None:
        try:
            guard.set_tags(store, run["id"], st.session_state[key])
        except guard.Refused as err:
            st.session_state[key] = current  # the field shows the stored tags, not the refused ones
            st.session_state["_tag_error"] = str(err)
        except (ValueError, runlaunch.StoreError) as err:
            st.session_state["_tag_error"] = str(err)

    st.multiselect(
        "Tags",
        known,
        default=current,
        key=key,
        accept_new_options=True,
        on_change=save,
        placeholder="add a tag (type and press Enter)",
        disabled=bool(why),
        help=_sentence(why)
        or "Short labels of your own (e.g. 'baseline', 'lecture'); the table can be filtered by them.",
    )
    error = st.session_state.pop("_tag_error", None)
    if error:
        st.error(f"The tags were not saved: {layout.plain(error)}")


def deleted_notice(store: Any) -> None:
    """After a delete: which runs went, with an Undo button (the runs are only hidden until then)."""
    gone = st.session_state.get(DELETED)
    if not gone:
        return
    c = st.columns([4, 1], vertical_alignment="center")
    c[0].info(
        f"Deleted {len(gone)} run{'s' if len(gone) > 1 else ''}: " + ", ".join(layout.plain(r[:8]) for r in gone) + ".",
        icon=":material/delete:",
    )
    why = guard.reason(store, "undo", gone)
    if c[1].button("Undo", key="undo_delete", icon=":material/undo:", disabled=bool(why), help=_sentence(why)):
        if _write(guard.undelete, store, gone) is not None:
            st.session_state[DELETED] = []
            st.rerun()
    refused_caption(why)


def runs_table(store: Any, runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The colour-keyed runs table (filtered by tag); returns the ids of the selected rows."""
    tags = sorted({t for r in runs for t in (r.get("tags") or [])})
    c = st.columns([3, 2], vertical_alignment="bottom")
    c[0].subheader("All runs")
    wanted = c[1].multiselect("Filter by tag", tags, key="tag_filter", placeholder="all runs") if tags else []
    shown = [r for r in runs if not wanted or set(wanted) & set(r.get("tags") or [])]
    st.markdown(runlaunch.status_key())
    rows = table_rows(shown)
    data = pd.DataFrame(rows).style.map(runlaunch.status_style, subset=["status"]) if rows else rows
    table = st.dataframe(
        data, on_select="rerun", selection_mode="multi-row", hide_index=True, key="runs_table", width="stretch"
    )
    st.caption(
        "steps: the optimiser steps the run took, of those it was queued with (a run its time limit "
        "stopped shows fewer). T: its time steps per sample, the T its predicted and measured regimes are over."
    )
    # sharing.redact: on a shared dashboard the host's data paths leave as file names only
    layout.download_buttons(
        "Runs table",
        "stabviz_runs",
        lambda: sharing.redact(store.export_table("csv")),
        lambda: sharing.redact(store.export_table("json")),
        key="dl_table",
    )
    rows_chosen = table.selection.rows if table and table.selection.rows else []
    return [shown[i]["id"] for i in rows_chosen if i < len(shown)]


def selection_tools(store: Any, selected: Sequence[str]) -> None:
    """Compare 2 to 4 selected runs (the settings that differ, overlaid curves) and delete the selection."""
    if not selected:
        st.caption("Select rows of the table to compare 2 to 4 runs side by side, or to delete them.")
        return
    runs = [store.get(r) for r in selected]
    ended = [r["id"] for r in runs if r["status"] not in ACTIVE]
    if ended:
        why = guard.reason(store, "delete", ended)
        label = f"Delete {len(ended)} selected run{'s' if len(ended) > 1 else ''}"
        delete_button(store, ended, label, "delete_runs", why)
        refused_caption(why)
    if not 2 <= len(runs) <= COMPARE_MAX:
        if len(runs) > COMPARE_MAX:
            st.caption(f"Select at most {COMPARE_MAX} runs to compare them.")
        return
    st.subheader(f"Comparing {len(runs)} runs")
    st.dataframe(runlaunch.comparison_table(runs), hide_index=True, width="stretch")
    st.caption("Columns: the settings that differ between these runs, then each one's outcome.")
    runlive.charts(selected, "overlay")


def render(cfg: LIFConfig) -> None:
    """The Runs page at the sidebar's setting (the setting new runs are launched at): the watched run on
    top, the launch form (collapsed once runs exist), then the colour-keyed table and its tools."""
    store = runlaunch.store()
    st.title("Training runs")
    silent = describe_dispatcher(store.dispatcher_status())  # a frozen dispatcher strands the queue
    if silent:
        st.warning(layout.plain(silent[0].upper() + silent[1:]) + ".", icon=":material/hourglass_disabled:")
    view = st.container()  # filled after the launch form, which may choose a new run
    any_runs = bool(store.list(limit=1))
    with st.expander("Launch a run", expanded=not any_runs, icon=":material/play_arrow:"):
        launch_form(cfg)

    runs = store.list(limit=200)
    with view:
        deleted_notice(store)
        if not runs:
            st.info("No runs yet. Launch one below, or press *Confirm with a short run* on the Explore page.")
            return
        run_view(store, run_choice(runs))
    selection_tools(store, runs_table(store, runs))
