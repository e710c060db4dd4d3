"""The pages show how runs ended honestly (AppTest): a time-limited run is "stopped at k/N (time limit)" in
the run view and the runs table, the verdict leads with the outcome in a box coloured by training (the
prediction's box is neutral and agrees with the table), a sweep's diverged cell is grey and named, and a
launch whose estimate is over its time limit says so before it starts (Explore, Runs page)."""

from __future__ import annotations

import json
import os
import sqlite3
import time

import pytest
from streamlit.testing.v1 import AppTest
from support import APP, open_app, shown

from stabviz.config import LIFConfig, TrainConfig
from stabviz.runs import RunStore

RUNS_PAGE = "runs"


@pytest.fixture(autouse=True)
def temp_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    return tmp_path


def store_of(home) -> RunStore:
    return RunStore(home / "stabviz.db")


def ended_run(
    store: RunStore,
    status: str,
    *,
    steps: int,
    accuracy: float,
    rho_agrees: bool = True,
    cfg: TrainConfig | None = None,
    early: str | None = None,
    sweep: dict | None = None,
) -> str:
    cfg = cfg or TrainConfig(lif=LIFConfig(n_rec=16, n_in=20), train_steps=100, time_steps=10, classes=5, device="cpu")
    run_id = store.create(cfg, sweep)
    assert store.claim(run_id, os.getpid())
    for k in range(5, steps + 1, 5):
        store.log_metrics(run_id, k, {"loss": 1.8, "accuracy": accuracy, "progress": k / cfg.train_steps})
    verdict = {
        "regime": {"predicted": "vanishing", "measured": "vanishing", "band": [-50.0, -30.0], "agrees": True},
        "rho": {"predicted": 0.41, "measured": 0.62, "agrees": rho_agrees},
        "firing_rate": {"predicted": 0.3, "measured": 0.31, "agrees": True},
        "rho2": {"predicted": 0.2, "measured": 0.25},
    }
    summary = {
        "status": status,
        "stopped_early": early,
        "task": {"n_classes": 5, "test_samples": 200},
        "final": {"accuracy": accuracy, "steps_done": steps, "loss": 1.6},
        "initial": {"firing_rate": [0.31], "grad_gain": 0.62, "rho2": 0.25},
        "lif": {"steps": 10},
        "verdict": verdict,
    }
    assert store.set_status(run_id, status, summary=summary, prediction={"regime": "vanishing"}, device="cpu")
    return run_id


def boxes(at) -> dict[str, list[str]]:
    return {kind: [shown(b.value) for b in getattr(at, kind)] for kind in ("success", "warning", "error", "info")}


def table(at, column: str):
    hits = [d.value for d in at.dataframe if column in d.value.columns]
    assert hits
    return hits[0]


def test_a_time_limited_run_reads_stopped_at_k_of_n_in_the_run_view_and_the_table(temp_home):
    store = store_of(temp_home)
    run_id = ended_run(store, "stopped", steps=77, accuracy=0.2, early="time limit")
    at = open_app({"run": run_id[:8]}, page=RUNS_PAGE)
    assert any(shown(h.value).endswith("stopped at 77/100 (time limit)") for h in at.subheader)
    rows = table(at, "steps")
    # the table's status cell is the text itself; pandas' Styler keeps the data
    data = getattr(rows, "data", rows)
    assert list(data["status"]) == ["stopped at 77/100 (time limit)"] and list(data["steps"]) == ["77/100"]
    said = boxes(at)
    assert any(t.startswith("Stopped at 77/100 (time limit): not a finished result") for t in said["warning"])
    assert not said["success"] and not any("finished" == t for t in said["info"])


def test_the_verdict_leads_with_the_outcome_and_never_contradicts_the_table(temp_home):
    store = store_of(temp_home)
    run_id = ended_run(store, "finished", steps=100, accuracy=0.2, rho_agrees=False)
    at = open_app({"run": run_id[:8]}, page=RUNS_PAGE)
    said = boxes(at)
    assert not said["success"]  # at chance: nothing green
    assert any(t.startswith("Gradients vanished; accuracy stayed at chance: 20% (chance 20%)") for t in said["warning"])
    rows = table(at, "quantity")
    assert "no" in list(rows["agrees"])
    assert not any("Prediction **confirmed**" in b.value for b in (*at.success, *at.info, *at.warning))
    assert any(
        t.startswith("Prediction **partly confirmed**") and "per-step gain (ρ vs ρ̂) disagrees" in t
        for t in said["info"]
    )


def test_a_trained_run_is_green_whatever_its_prediction(temp_home):
    store = store_of(temp_home)
    run_id = ended_run(store, "finished", steps=100, accuracy=0.87, rho_agrees=False)
    said = boxes(open_app({"run": run_id[:8]}, page=RUNS_PAGE))
    assert any(t.startswith("Trained: 87% test accuracy (chance 20%)") for t in said["success"])


def test_a_sweeps_diverged_cell_is_grey_and_named_and_accuracy_runs_from_chance(temp_home):
    store = store_of(temp_home)
    base = TrainConfig(lif=LIFConfig(n_rec=16, n_in=20), train_steps=100, time_steps=10, classes=5, device="cpu")
    spec = {
        "x": "sharpness",
        "x_values": [0.3, 3.0],
        "y": "dampening",
        "y_values": [0.3, 3.0],
        "base": base.to_dict(),
        "launcher": "local",
    }
    with sqlite3.connect(temp_home / "stabviz.db") as conn:
        conn.execute(
            "INSERT INTO sweeps (id, created, spec) VALUES (?, ?, ?)", ("sweep1", time.time(), json.dumps(spec))
        )
    for (x, y), status, acc in (
        ((0.3, 0.3), "finished", 0.195),
        ((3.0, 0.3), "finished", 0.197),
        ((0.3, 3.0), "diverged", 0.2),
        ((3.0, 3.0), "finished", 0.196),
    ):
        point = {"sharpness": x, "dampening": y}
        ended_run(
            store,
            status,
            steps=100 if status == "finished" else 12,
            accuracy=acc,
            cfg=base.replace(lif=base.lif.replace(sharpness=x, dampening=y)),
            early="non-finite loss" if status == "diverged" else None,
            sweep={"id": "sweep1", "label": f"β={x}, γ={y}", "point": point},
        )
    at = open_app(page="sweep")
    import numpy as np
    import plotly.io as pio

    fig = pio.from_json(at.get("plotly_chart")[0].proto.spec)
    measured = next(t for t in fig.data if t.name == "measured")
    bad = next(t for t in fig.data if t.name == "no result")
    assert np.isnan(_array(measured.z)[1, 0]) and np.asarray(bad.text)[1, 0].startswith("diverged")
    assert (measured.zmin, measured.zmax) == (0.2, 1.0)
    assert measured.colorbar.ticktext[0] == "chance 0.2"


def _array(z):
    """A figure's array as sent to the browser: a list, or Plotly's base64 typed array."""
    import base64

    import numpy as np

    if isinstance(z, dict):
        shape = [int(n) for n in str(z["shape"]).split(",")]
        return np.frombuffer(base64.b64decode(z["bdata"]), np.dtype(z["dtype"])).reshape(shape).astype(float)
    return np.asarray(z, float)


def _slow_history(store: RunStore, cfg: TrainConfig, per_step: float) -> None:
    """A finished run of ``cfg``'s size that took ``per_step`` seconds per step (the estimate's basis)."""
    run_id = ended_run(store, "finished", steps=cfg.train_steps, accuracy=0.2, cfg=cfg)
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE runs SET started = finished - ? WHERE id = ?", (per_step * cfg.train_steps, run_id))


def test_explore_warns_before_a_confirmation_whose_estimate_is_over_its_time_limit(temp_home):
    from stabviz.runs.confirm import quick_config

    store = store_of(temp_home)
    _slow_history(store, quick_config(LIFConfig()), per_step=30.0)  # 40 steps × 30 s: 20 min a run
    at = open_app()
    warned = [shown(w.value) for w in at.warning if "time limit" in w.value]
    assert warned and "over the runs' time limit of 5 min" in warned[0] and "stop at about" in warned[0]


def test_the_runs_page_holds_a_launch_over_its_time_limit_once_and_says_why(temp_home):
    store = store_of(temp_home)
    from stabviz.runs.confirm import quick_config

    base = quick_config(LIFConfig())  # the launch form's defaults are the confirmation's
    _slow_history(store, base, per_step=60.0)
    at = open_app(page=RUNS_PAGE)
    before = len(store.list(limit=None))
    at.button(key="launch_run").click().run()
    assert any("Not started yet" in w.value and "time limit of 10 min" in shown(w.value) for w in at.warning)
    assert len(store.list(limit=None)) == before  # nothing queued yet


def test_explores_inline_confirmation_leads_with_the_groups_outcome_and_its_stopped_runs(temp_home):
    store = store_of(temp_home)
    base = TrainConfig(lif=LIFConfig(n_rec=16, n_in=20), train_steps=100, time_steps=10, classes=5, device="cpu")
    ids = [
        ended_run(
            store,
            "stopped",
            steps=77,
            accuracy=0.2,
            early="time limit",
            cfg=base.replace(lif=base.lif.replace(seed=s)),
            sweep={"id": "group1", "label": f"seed={s}", "point": {"seed": s}},
        )
        for s in range(3)
    ]
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["_confirm_run_ids"] = ids
    at.run()
    assert not at.exception
    assert any(shown(h.value) == "3 runs: 3 stopped at 77/100 (time limit)" for h in at.subheader)
    said = boxes(at)
    assert any(
        t.startswith("Over 3 seeds: All 3 runs stopped at 77/100 (time limit): not a finished result")
        for t in said["warning"]
    ), said
    assert not said["success"]


def test_the_sweep_page_warns_before_a_sweep_whose_estimate_is_over_its_time_limit(temp_home):
    store = store_of(temp_home)
    # the Sweep form's defaults at the default setting: 60 steps, batch 32, T = the setting's
    base = TrainConfig(lif=LIFConfig(), task="randman", train_steps=60, batch=32, time_steps=LIFConfig().steps)
    _slow_history(store, base, per_step=20.0)
    at = open_app(page="sweep")
    assert any("over the runs' time limit of 10 min" in shown(w.value) for w in at.warning)
