"""Runs (/runs): launch short training runs, follow them live, compare prediction and measurement."""
import streamlit as st

from stabviz.runs import ACTIVE
from stabviz.ui import figures, layout, router, state
from stabviz.ui import runs as ui_runs
from stabviz.ui import runs_page as rp
from stabviz import plots

router.ensure()          # a first request straight to this page still goes through app.py

cfg = layout.require_setting()
store = ui_runs.store()
st.title("Training runs")

rp.launch_form(cfg)

runs = store.list(limit=200)
if not runs:
    st.info("No runs yet. Launch one above, or press *Confirm with a short run* on the Explore page.")
    layout.end_page()

st.subheader("All runs")
table = st.dataframe(rp.table_rows(runs), on_select="rerun", selection_mode="multi-row", hide_index=True,
                     key="runs_table", width="stretch")
layout.download_buttons("Runs table", "stabviz_runs", lambda: store.export_table("csv"),
                        lambda: store.export_table("json"), key="dl_table")

ids = [r["id"] for r in runs]
state.seed_widget("run_choice", "run", rp.run_parser(ids), ids[0])
if st.session_state["run_choice"] not in ids:          # a run older than the table's 200, or deleted
    st.session_state["run_choice"] = ids[0]
labels = {r["id"]: f"{r['id'][:8]} · {r['status']} · {rp.setting_label((r.get('config') or {}).get('lif') or {})}"
          for r in runs}
run_id = st.selectbox("Run", ids, key="run_choice", format_func=labels.get, persist_state="session")
state.keep_param("run", run_id)
run = store.get(run_id)
active = run["status"] in ACTIVE


@st.fragment(run_every=rp.POLL_S if active else None)
def live_view() -> None:
    """Re-drawn every second while the run is queued or running; a full rerun when it ends."""
    current = store.get(run_id)
    if current["status"] in ACTIVE:
        st.progress(rp.progress(run_id), text=f"{current['status']}: {rp.progress(run_id):.0%}")
        if st.button("Cancel run", icon=":material/stop:", key="cancel_run"):
            ui_runs.launcher().cancel(run_id)
    elif active:
        st.rerun()                    # it has just ended: refresh the table and stop polling
    rp.charts([run_id], "live")


st.subheader(f"Run {run_id[:8]}: {run['status']}")
if run.get("error"):
    st.error(f"The run failed: {run['error']}", icon=":material/error:")
live_view()

if run["status"] not in ACTIVE:
    c = st.columns([3, 2])
    with c[0]:
        st.markdown("**Prediction vs measurement at initialisation**")
        st.dataframe(rp.comparison_rows(run), hide_index=True, width="stretch")
        sentence = rp.verdict_sentence(run)
        if sentence:
            st.markdown(sentence)
    with c[1]:
        flow = rp.grad_flow_series(run)
        if flow:
            figures.chart(plots.gradient_flow(flow), "grad_flow")
    layout.download_buttons("This run", f"stabviz_run_{run_id[:8]}", lambda: store.export(run_id, "csv"),
                            lambda: store.export(run_id, "json"), key="dl_run")

selected = [ids[i] for i in table.selection.rows] if table and table.selection.rows else []
if len(selected) > 1:
    st.subheader(f"Overlay of {len(selected)} selected runs")
    rp.charts(selected, "overlay")
else:
    st.caption("Select several rows of the table to overlay their curves.")
