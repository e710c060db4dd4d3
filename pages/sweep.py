"""Sweep (/sweep): train over a small grid of two parameters and see where the theory's boundary falls."""
import streamlit as st

from stabviz import plots
from stabviz.config import TrainConfig, limits
from stabviz.runs import ACTIVE
from stabviz.ui import compute, figures, layout, router, state
from stabviz.ui import runs as ui_runs
from stabviz.ui import runs_page as rp
from stabviz.ui import sweep_page as sw

router.ensure()          # a first request straight to this page still goes through app.py

cfg = layout.require_setting()
store = ui_runs.store()
st.title("Sweep two parameters")
st.markdown("Each grid point is one short training run through the launcher. As runs finish, their measured "
            "outcome fills the heatmap; the dashed line is the stable band the theory predicts.")

with st.form("sweep"):
    c = st.columns(2)
    x = c[0].selectbox("x parameter", sw.PARAMETERS, index=1)
    x_text = c[0].text_input("x values (comma-separated)", sw.DEFAULT_VALUES["sharpness"])
    y = c[1].selectbox("y parameter", sw.PARAMETERS, index=0)
    y_text = c[1].text_input("y values (comma-separated)", sw.DEFAULT_VALUES["dampening"])
    c = st.columns(4)
    steps = c[0].number_input("Training steps per run", 1, limits()["train_steps"], 60, step=10)
    batch = c[1].number_input("Batch", 1, limits()["batch"], 32, step=8)
    time_steps = c[2].number_input("Time steps per sample", 1, limits()["time_steps"], 40, step=10)
    launcher_name = c[3].selectbox("Launcher", sw.launchers_available(),
                                   help="ray appears when a cluster is configured (RAY_ADDRESS).")
    st.caption(f"Runs are queued on the randman task at the current setting; at most {limits()['queued']} "
               "may wait at once (STABVIZ_MAX_QUEUED).")
    if st.form_submit_button("Start sweep", type="primary", icon=":material/grid_on:"):
        try:
            xs, ys = sw.parse(x, x_text), sw.parse(y, y_text)
            base = TrainConfig(lif=cfg, task="randman", train_steps=int(steps), batch=int(batch),
                               time_steps=int(time_steps), log_every=5)
            sweep_id, _ = ui_runs.launcher(launcher_name).submit_sweep(base, x, xs, y, ys)
        except ValueError as err:
            st.error(f"The sweep was not started: {err}")
        else:
            st.session_state["sweep_choice"] = sweep_id
            st.success(f"Sweep {sweep_id[:8]} queued: {len(xs) * len(ys)} runs.")

sweeps = sw.sweeps_in(store.list(limit=None))
if not sweeps:
    st.info("No sweep yet: choose two parameters and their values above.")
    layout.end_page()

state.seed_widget("sweep_choice", "sweep", rp.run_parser(sweeps), sweeps[0])
if st.session_state["sweep_choice"] not in sweeps:
    st.session_state["sweep_choice"] = sweeps[0]
specs = {s: store.sweep(s)["spec"] for s in sweeps}
sweep_id = st.selectbox("Sweep", sweeps, key="sweep_choice", persist_state="session",
                        format_func=lambda s: f"{s[:8]} · {specs[s]['x']} × {specs[s]['y']}")
state.keep_param("sweep", sweep_id)
metric = st.segmented_control("Colour by", list(sw.METRICS), default=list(sw.METRICS)[0], required=True,
                              key="sweep_metric")
running = any(r["status"] in ACTIVE for r in store.sweep(sweep_id)["runs"])


@st.fragment(run_every=rp.POLL_S if running else None)
def sweep_view() -> None:
    """Re-drawn every second while runs of the sweep are queued or running."""
    sweep = store.sweep(sweep_id)
    spec, runs = sweep["spec"], sweep["runs"]
    sx, sy = spec["x"], spec["y"]
    z, done = sw.grid(runs, sx, sy, spec["x_values"], spec["y_values"], metric)
    still = sum(r["status"] in ACTIVE for r in runs)
    st.progress(done / max(len(runs), 1), text=f"{done} of {len(runs)} runs ended")
    if running and not still:
        st.rerun()
    boundary = None
    if sx in sw.REGION_AXES and sy in sw.REGION_AXES:
        boundary = compute.sweep_boundary(compute.key_of(sw.boundary_config(spec["base"])), sx, sy,
                                          tuple(spec["x_values"]), tuple(spec["y_values"]))
    figures.chart(plots.sweep_map(spec["x_values"], spec["y_values"], z, x_name=sx, y_name=sy, metric=metric,
                                  boundary=boundary, log_x=sx in sw.LOG_PARAMETERS,
                                  log_y=sy in sw.LOG_PARAMETERS), "sweep_map")
    if boundary is None:
        st.caption("The theory draws its stable band over dampening, sharpness, tail and leak only.")
    failed = [r for r in runs if r["status"] == "failed"]
    for r in failed[:3]:
        st.error(f"Run {r['id'][:8]} ({r.get('sweep_label')}) failed: {r.get('error')}")


sweep_view()
