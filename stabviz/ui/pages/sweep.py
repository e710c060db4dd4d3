"""Sweep (/sweep): train over a small grid of two parameters and see where the theory's boundary falls.

The page's whole glue: the sweep parameters, the measured grid, the predicted boundary and :func:`render`.
Sweeps over one parameter (``python -m stabviz sweep --x ... --x-values ...`` without ``--y``) are shown
as a curve.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import streamlit as st

from stabviz import plots
from stabviz.config import RUN_PRESETS, LIFConfig, limits, run_preset
from stabviz.runs import ACTIVE, parse_values
from stabviz.runs.outcomes import chance_level
from stabviz.runs.status import ended_as, steps_text
from stabviz.ui import compute, fields, figures, layout, runlaunch, sharing, state

#: Parameters offered on the Sweep page (any LIFConfig or TrainConfig field works from the CLI).
PARAMETERS = ("dampening", "sharpness", "tail", "leak", "n_rec", "threshold", "lr", "batch", "train_steps")
#: Parameters the theory can draw a stable region over.
REGION_AXES = ("dampening", "sharpness", "tail", "leak")
DEFAULT_VALUES = {
    "dampening": "0.1, 0.3, 1, 3",
    "sharpness": "0.3, 1, 3, 10",
    "tail": "1.1, 1.56, 3, 10",
    "leak": "0, 0.5, 0.9, 0.95",
    "n_rec": "32, 64, 128",
    "threshold": "0.01, 0.1, 1",
    "lr": "0.0005, 0.002, 0.01",
    "batch": "16, 32, 64",
    "train_steps": "50, 100, 200",
}
LOG_PARAMETERS = ("dampening", "sharpness", "tail", "n_rec", "threshold", "lr", "batch", "train_steps")


def _initial_rate(s: Mapping[str, Any]) -> float | None:
    rates = (s.get("initial") or {}).get("firing_rate") or []
    return rates[0] if rates else None


def _measured_log10_gain(s: Mapping[str, Any], lif: Mapping[str, Any]) -> float | None:
    rho = (s.get("initial") or {}).get("grad_gain")
    if not rho or rho <= 0:
        return None
    return lif.get("steps", 100) * math.log10(rho)


#: Measured outcome -> (label, how to read it from a run's summary and its LIF setting).
METRICS = {
    "final accuracy": lambda s, lif: (s.get("final") or {}).get("accuracy"),
    "measured log₁₀ gain over T (T·log₁₀ ρ̂)": _measured_log10_gain,
    "measured ρ̂ (per-step gradient gain)": lambda s, lif: (s.get("initial") or {}).get("grad_gain"),
    "initial firing rate (layer 0)": lambda s, lif: _initial_rate(s),
}


def launchers_available() -> tuple[str, ...]:
    """local always; ray when a cluster is configured (RAY_ADDRESS)."""
    return ("local", "ray") if os.environ.get("RAY_ADDRESS") else ("local",)


def parse(name: str, text: str) -> list[Any]:
    """Comma-separated values of a sweep parameter (ValueError with the reason)."""
    values = parse_values(name, text)
    if len(set(values)) != len(values):
        raise ValueError(f"{name} values = {text!r} repeat a value")
    return sorted(values)


def grid(
    runs: Sequence[Mapping[str, Any]], x: str, y: str, xs: Sequence[float], ys: Sequence[float], metric: str
) -> tuple[np.ndarray, int]:
    """(z of shape (len(ys), len(xs)) with NaN where no finished value yet, number ended).
    A 1-D sweep (``y`` None) gives z of shape (1, len(xs)). Only finished runs give values: a diverged,
    time-limited, cancelled, interrupted or failed run is no result (:func:`marks` names its cell)."""
    z = np.full(_shape(xs, y, ys), np.nan)
    done = 0
    read = METRICS[metric]
    for r, (i, j) in _placed(runs, x, y, xs, ys):
        done += 1
        value = (
            read(r.get("summary") or {}, (r.get("config") or {}).get("lif") or {})
            if ended_as(r) == "finished"
            else None
        )
        if value is not None:
            z[i, j] = value
    return z, done


def marks(
    runs: Sequence[Mapping[str, Any]], x: str, y: str | None, xs: Sequence[float], ys: Sequence[float] | None
) -> np.ndarray:
    """Per cell, how its run ended when that is not a result: "diverged", "stopped 77/100", "cancelled",
    "interrupted", "failed" ("" for finished, queued and running runs)."""
    out = np.full(_shape(xs, y, ys), "", dtype=object)
    for r, (i, j) in _placed(runs, x, y, xs, ys):
        status = ended_as(r)
        if status != "finished":
            out[i, j] = f"{status} {steps_text(r)}" if status == "stopped" else str(status)
    return out


def _shape(xs: Sequence[float], y: str | None, ys: Sequence[float] | None) -> tuple[int, int]:
    """(rows, columns) of a sweep's grid: one row for a sweep over one parameter."""
    return (len(ys) if y is not None and ys else 1), len(xs)


def _placed(runs: Sequence[Mapping[str, Any]], x: str, y: str | None, xs: Sequence[float], ys: Sequence[float] | None):
    """(run, (row, column)) for each ended run of the sweep that sits on the grid."""
    ys = ys if y is not None and ys else [None]
    for r in runs:
        point = r.get("sweep_point") or {}
        if r["status"] in ACTIVE or x not in point or (y is not None and y not in point):
            continue
        i, j = (0 if y is None else _index(ys, point[y])), _index(xs, point[x])
        if i is not None and j is not None:
            yield r, (i, j)


def _index(values: Sequence[float], v: float) -> int | None:
    for k, w in enumerate(values):
        if w == v or (isinstance(w, float) and math.isclose(w, v, rel_tol=1e-9)):
            return k
    return None


def boundary_config(base: Mapping[str, Any]) -> LIFConfig:
    """The LIF setting the predicted boundary is computed at: the sweep's base."""
    return LIFConfig.from_dict(base.get("lif") or {})


def sweep_title(spec: Mapping[str, Any]) -> str:
    """ "x × y", or "x" for a sweep over one parameter."""
    return f"{spec.get('x')} × {spec['y']}" if spec.get("y") else f"{spec.get('x')}"


def sweeps_in(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Sweep ids among ``runs``, newest first."""
    seen: list[str] = []
    for r in runs:
        if r.get("sweep_id") and r["sweep_id"] not in seen:
            seen.append(r["sweep_id"])
    return seen


def render(cfg: LIFConfig) -> None:
    """The Sweep page at the sidebar's setting (the base of a new sweep)."""
    store = runlaunch.store()
    st.title("Sweep two parameters")
    st.markdown(
        "Each grid point is one short training run through the launcher. As runs finish, their measured "
        "outcome fills the heatmap; the green band is where the theory predicts stable gradients, and "
        "each cell names the regime predicted at its own values."
    )

    # Once this session has started a sweep, its progress comes first: the form is taller than a screen,
    # and the view below it was out of sight right after "Start sweep". Filled after the form has run,
    # so a sweep started in this run is already in it.
    top = st.container()
    if sharing.launching() == "off":
        st.info(
            "Starting sweeps is switched off on this shared dashboard (the host has set no run token). "
            "The sweeps below can still be followed.",
            icon=":material/lock:",
        )
    else:
        sweep_form(cfg)
    with top if st.session_state.get(STARTED) else st.container():
        sweeps_view(store, cfg.steps)


#: Session flag: this session has started a sweep (its progress is then drawn above the form).
STARTED = "_sweep_started"


def sweep_form(cfg: LIFConfig) -> None:
    """The controls that queue a new sweep at the sidebar's setting, with its cost before it starts.

    Plain widgets in a bordered box, not an ``st.form``: the cost estimate follows every value as it is
    typed, and Enter in a field only commits that field (nothing but the button starts a sweep)."""
    with st.container(border=True):
        c = st.columns(2)
        x = c[0].selectbox("x parameter", PARAMETERS, index=1, key="sweep_x")
        x_text = c[0].text_input("x values (comma-separated)", DEFAULT_VALUES["sharpness"], key="sweep_x_values")
        y = c[1].selectbox("y parameter", PARAMETERS, index=0, key="sweep_y")
        y_text = c[1].text_input("y values (comma-separated)", DEFAULT_VALUES["dampening"], key="sweep_y_values")
        c = st.columns(4)
        ranges, preset = fields.train_ranges(limits()), RUN_PRESETS["sweep"]
        steps, bad_steps = fields.number(
            c[0],
            "Training steps per run",
            "train_steps",
            "sweep_steps",
            default=preset["train_steps"],
            ranges=ranges,
            step=10,
        )
        batch, bad_batch = fields.number(
            c[1], "Batch", "batch", "sweep_batch", default=preset["batch"], ranges=ranges, step=8
        )
        time_steps, bad_t = fields.number(
            c[2],
            "Time steps per sample (T)",
            "time_steps",
            "sweep_time_steps",
            default=min(cfg.steps, limits()["time_steps"]),
            ranges=ranges,
            step=10,
            help="The T the gradients travel, and the T every prediction of this sweep is "
            f"made at. By default the setting's T = {cfg.steps}.",
        )
        launcher_name = c[3].selectbox(
            "Launcher",
            launchers_available(),
            key="sweep_launcher",
            help="ray appears when a cluster is configured (RAY_ADDRESS).",
        )
        st.caption(
            f"Runs are queued on the randman task at the current setting; at most {limits()['queued']} "
            "may wait at once (STABVIZ_MAX_QUEUED). "
            f"Predictions are made at the sweep's T (time steps per sample); the setting's T is {cfg.steps}."
        )
        problems = [p for p in (bad_steps, bad_batch, bad_t) if p] + list(state.invalid_fields().values())
        if problems:
            st.warning(f"Not a sweep yet: {layout.plain(problems[0])}")
            return
        # One T: the runs' setting takes the sweep's T, so predictions and verdicts are made at it.
        base = run_preset(
            "sweep",
            lif=cfg.replace(steps=int(time_steps)),
            train_steps=int(steps),
            batch=int(batch),
            time_steps=int(time_steps),
        )
        try:
            xs, ys = parse(x, x_text), parse(y, y_text)
        except ValueError as err:
            xs = ys = None
            st.warning(f"Not a sweep yet: {layout.plain(err)}")
        else:
            st.caption(runlaunch.cost_caption(base, len(xs) * len(ys)))
            too_long = runlaunch.limit_warning(base, len(xs) * len(ys))
            if too_long:
                st.warning(too_long, icon=":material/timer_off:")
        too_many = None if xs is None else queue_problem(len(xs) * len(ys), limits()["queued"])
        if too_many:
            st.warning(too_many, icon=":material/block:")
        if st.button("Start sweep", type="primary", icon=":material/grid_on:", disabled=xs is None or bool(too_many)):
            try:
                sweep_id, _ = runlaunch.submit_sweep(base, x, xs, y, ys, launcher_name)
            except ValueError as err:
                st.error(f"The sweep was not started: {layout.plain(err)}")
            else:
                st.session_state["sweep_choice"] = sweep_id
                st.session_state[STARTED] = True
                st.success(f"Sweep {layout.plain(sweep_id[:8])} queued: {len(xs) * len(ys)} runs.")


def queue_problem(runs: int, limit: int, waiting: int | None = None) -> str | None:
    """Why a sweep of ``runs`` runs cannot be queued on this machine (at most ``limit`` may wait at once,
    ``waiting`` of them already do), or None."""
    waiting = runlaunch.store().count("queued") if waiting is None else waiting
    if runs + waiting <= limit:
        return None
    return (
        f"Start is disabled: this sweep has {runs} runs, and at most {limit} may wait in the queue at once "
        f"({waiting} already waiting; STABVIZ_MAX_QUEUED raises the limit). Give fewer values."
    )


def t_note(base: Mapping[str, Any], setting_steps: int) -> str:
    """Which T a sweep's predictions hold at, and whether it is the setting's."""
    steps = int((base.get("lif") or {}).get("steps", 100))
    runs_t = base.get("time_steps")
    note = f"Predicted regimes and the band are at T = {steps}"
    if runs_t is not None and int(runs_t) != steps:
        note += f" (the runs' samples are {int(runs_t)} steps long: this sweep predates one T for both)"
    if steps != setting_steps:
        note += f", not the setting's T = {setting_steps}"
    return note + "."


def sweeps_view(store: Any, cfg_steps: int) -> None:
    """The chosen sweep's measured map (or curve), following its runs live."""
    sweeps = sweeps_in(store.list(limit=None))
    if not sweeps:
        st.info("No sweep yet: choose two parameters and their values above.")
        return

    state.seed_widget("sweep_choice", "sweep", runlaunch.sweep_parser(sweeps), sweeps[0])
    if st.session_state["sweep_choice"] not in sweeps:
        st.session_state["sweep_choice"] = sweeps[0]
    specs = {s: store.sweep(s)["spec"] for s in sweeps}
    sweep_id = st.selectbox(
        "Sweep",
        sweeps,
        key="sweep_choice",
        persist_state="session",
        format_func=lambda s: f"{s[:8]} · {sweep_title(specs[s])}",
    )
    state.keep_param("sweep", sweep_id)
    metric = st.segmented_control(
        "Colour by", list(METRICS), default=list(METRICS)[0], required=True, key="sweep_metric"
    )
    running = any(r["status"] in ACTIVE for r in store.sweep(sweep_id)["runs"])

    @st.fragment(run_every=runlaunch.POLL_S if running else None)
    def sweep_view() -> None:
        """Re-drawn every second while runs of the sweep are queued or running."""
        sweep = store.sweep(sweep_id)
        spec, runs = sweep["spec"], sweep["runs"]
        sx, sy = spec["x"], spec.get("y")
        z, done = grid(runs, sx, sy, spec["x_values"], spec.get("y_values"), metric)
        still = sum(r["status"] in ACTIVE for r in runs)
        st.progress(done / max(len(runs), 1), text=f"{done} of {len(runs)} runs ended")
        if running and not still:
            st.rerun()
        if sy is None:
            figures.chart(
                figures.sweep_curve(
                    spec["x_values"],
                    z[0],
                    sx,
                    metric,
                    sx in LOG_PARAMETERS,
                    list(marks(runs, sx, None, spec["x_values"], None)[0]),
                ),
                "sweep_curve",
            )
            st.caption("A sweep over one parameter: the theory's stable band needs two axes.")
            failures(runs)
            return
        boundary = None
        if sx in REGION_AXES and sy in REGION_AXES:
            boundary = compute.sweep_boundary(
                boundary_config(spec["base"]), sx, sy, tuple(spec["x_values"]), tuple(spec["y_values"])
            )
        chance = next((c for c in map(chance_level, runs) if c is not None), None)
        figures.chart(
            plots.sweep_map(
                spec["x_values"],
                spec["y_values"],
                z,
                x_name=sx,
                y_name=sy,
                metric=metric,
                boundary=boundary,
                log_x=sx in LOG_PARAMETERS,
                log_y=sy in LOG_PARAMETERS,
                marks=marks(runs, sx, sy, spec["x_values"], spec["y_values"]),
                scale=plots.sweep_scale(metric, chance),
            ),
            "sweep_map",
        )
        st.caption(
            "Only finished runs are coloured; a grey cell names a run that ended without a result "
            "(diverged, stopped by its time limit, cancelled, interrupted, failed)."
            + (f" Accuracy is coloured from chance ({chance:.0%}) to 100%." if chance and "accuracy" in metric else "")
        )
        if boundary is None:
            st.caption("The theory draws its stable band over dampening, sharpness, tail and leak only.")
        st.caption(t_note(spec["base"], cfg_steps))
        failures(runs)

    sweep_view()


def failures(runs: Sequence[Mapping[str, Any]]) -> None:
    """The errors of the first three failed runs (stored text: shown literally)."""
    failed = [r for r in runs if r["status"] == "failed"]
    for r in failed[:3]:
        st.error(
            f"Run {layout.plain(r['id'][:8])} ({layout.plain(r.get('sweep_label'))}) failed: "
            f"{layout.plain(runlaunch.error_text(r))}"
        )
