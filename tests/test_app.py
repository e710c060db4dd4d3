"""Page wiring with Streamlit's AppTest: widgets change predictions, links restore settings, bad links
warn, the run button queues a real run in a temporary store, every page renders without an exception."""

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from support import open_app, shown, switch_page

from stabviz import theory
from stabviz.config import LIFConfig, TrainConfig, preset
from stabviz.ui import sliders, urlstate

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(autouse=True)
def temp_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    return tmp_path


def _metric(at, label_start):
    hits = [m for m in at.metric if m.label.startswith(label_start)]
    assert hits, [m.label for m in at.metric]
    return hits[0].value


def _slider(at, name):
    return at.select_slider(key=f"lif_{name}")


def test_explore_shows_the_theorys_prediction_for_the_default_setting():
    at = open_app()
    p = theory.predict(LIFConfig())
    assert _metric(at, "$\\rho^2$") == f"{p.rho2:.4g}"
    assert _metric(at, "Firing rate") == f"{p.firing_rate:.1%}"
    assert not at.error and not at.warning
    assert dict(at.query_params) == {}  # defaults make an empty link


def test_moving_the_dampening_slider_changes_the_prediction_and_the_link():
    at = open_app()
    before = _metric(at, "$\\rho^2$")
    target = max(g for g in sliders.GRIDS["dampening"] if g < 3.2)
    _slider(at, "dampening").set_value(target).run()
    assert not at.exception
    assert _metric(at, "$\\rho^2$") == f"{theory.predict(LIFConfig(dampening=target)).rho2:.4g}" != before
    assert at.query_params["dampening"] == [repr(target)] or at.query_params["dampening"] == repr(target)


def test_a_link_restores_the_setting_exactly():
    cfg = preset("shd-tau20", shape="qpseudospike", dampening=0.4321, tail=2.5, reset="mult2", n_rec=64)
    from stabviz.ui import urlstate

    at = open_app(urlstate.setting_params(cfg.to_dict()))
    assert _slider(at, "dampening").value == 0.4321 and _slider(at, "tail").value == 2.5
    assert _slider(at, "leak").value == cfg.leak
    assert at.number_input(key="lif_n_rec").value == 64
    assert at.selectbox(key="lif_shape").value == "qpseudospike"
    assert _metric(at, "$\\rho^2$") == f"{theory.predict_shown(cfg).rho2:.4g}"  # measured model: mult2
    assert at.selectbox(key="preset_choice").value == "custom"


def test_garbage_in_the_link_loads_defaults_with_a_visible_warning():
    at = open_app({"shape": "banana", "dampening": "nan", "n_rec": "-3", "steps": "1e12", "sharpness": "2.5"})
    text = shown(" ".join(w.value for w in at.warning))
    for field in ("shape", "dampening", "n_rec", "steps"):
        assert field in text
    assert at.selectbox(key="lif_shape").value == LIFConfig().shape
    assert _slider(at, "dampening").value == LIFConfig().dampening
    assert at.number_input(key="lif_n_rec").value == LIFConfig().n_rec
    assert _slider(at, "sharpness").value == 2.5  # the valid field is kept
    assert not at.exception


def test_an_impossible_setting_is_explained_inline():
    # conditions I + II without any input current: condition II asks for a negative variance
    at = open_app({"init_rec": "conditions", "input_mean": "0", "input_var": "0"})
    assert any("condition II is unattainable" in shown(e.value) for e in at.error), [e.value for e in at.error]
    assert not at.exception


def test_a_preset_fills_every_control_and_reset_restores_the_defaults():
    at = open_app()
    at.selectbox(key="preset_choice").set_value("norse").run()
    norse = preset("norse")
    assert _slider(at, "sharpness").value == norse.sharpness and _slider(at, "leak").value == norse.leak
    assert at.number_input(key="lif_n_rec").value == norse.n_rec
    assert at.selectbox(key="preset_choice").value == "norse"
    at.button[0].click().run() if at.button[0].label == "Reset to defaults" else [
        b for b in at.button if b.label == "Reset to defaults"
    ][0].click().run()
    assert _slider(at, "sharpness").value == LIFConfig().sharpness and dict(at.query_params) == {}


def test_confirm_button_queues_one_run_per_seed_as_one_group(temp_home):
    from stabviz.config import config_key
    from stabviz.outcomes.advice import recommended_setting
    from stabviz.runs import RunStore
    from stabviz.ui import runlaunch

    at = open_app({"dampening": "0.5", "seed": "4"})
    assert at.number_input(key="confirm_seeds").value == 3  # the dashboard's default
    at.button(key="confirm_run").click().run()
    try:
        assert not at.exception and not at.error
        runs = RunStore(temp_home / "stabviz.db").list(newest_first=False)
        assert len(runs) == 3 and len({r["sweep_id"] for r in runs}) == 1
        assert sorted(r["config"]["lif"]["seed"] for r in runs) == [4, 5, 6]
        assert {r["sweep_label"] for r in runs} == {"seed=4", "seed=5", "seed=6"}
        for r in runs:  # Confirm trains the recommended whole setting (surrogate and initialisation)
            seed = r["config"]["lif"]["seed"]
            expected = recommended_setting(LIFConfig(dampening=0.5, seed=seed))[0]
            assert config_key(LIFConfig.from_dict(r["config"]["lif"]), digits=8) == config_key(expected, digits=8)
        # followed inline: one progress bar per queued run, then a link to the Runs page
        bars = [p.proto.text for p in at.get("progress")]
        assert all(any(r["id"][:8] in t and "queued" in t for t in bars) for r in runs), bars
        assert any(h.value.startswith("3 runs: ") for h in at.subheader)
        link = at.get("page_link")[0].proto  # the link to the first run
        assert link.page.endswith("runs") and any(r["id"] in link.query_string for r in runs)
        at.number_input(key="confirm_seeds").set_value(1).run()
        at.button(key="confirm_run").click().run()
        assert len(RunStore(temp_home / "stabviz.db").list()) == 4  # one seed: one run, no group
    finally:
        runlaunch.launcher().shutdown(timeout=20)  # no training in the test


def test_the_setting_follows_the_user_across_pages():
    at = open_app({"dampening": "0.5"})
    switch_page(at, "surrogates").run()
    assert not at.exception and "0.5" in at.main.markdown[0].value + at.main.markdown[1].value
    assert at.query_params["dampening"] in ("0.5", ["0.5"])


def test_surrogates_page_lists_translations_and_warns_about_coupled_knobs():
    at = open_app({"dampening": "0.5", "sharpness": "2"}, page="surrogates")
    table = at.dataframe[0].value
    assert "snntorch.fast_sigmoid" in set(table["library"])
    # snnTorch fixes the height at 1: γ = 0.5 cannot be matched exactly
    assert any("snntorch.fast_sigmoid" in w.value for w in at.warning)


def _table(at, column):
    """The first dataframe on the page with this column."""
    hits = [d.value for d in at.dataframe if column in d.value.columns]
    assert hits, [list(d.value.columns) for d in at.dataframe]
    return hits[0]


def _finished_run(store, cfg: LIFConfig, error: str | None = None) -> str:
    run_id = store.create(TrainConfig(lif=cfg, train_steps=10))
    store.set_status(run_id, "running")
    store.log_metrics(run_id, 5, {"loss": 1.2, "accuracy": 0.4, "progress": 0.5, "firing_rate/0": 0.3})
    store.log_metrics(run_id, 10, {"loss": 0.9, "accuracy": 0.6, "progress": 1.0, "firing_rate/0": 0.25})
    if error:
        store.set_status(run_id, "failed", error=error)
        return run_id
    pred = theory.predict(cfg)
    summary = {
        "initial": {"firing_rate": [0.3], "rho2": 1.0, "grad_gain": 1.001, "grad_flow": [1.0, 0.9, 0.8]},
        "final": {"accuracy": 0.6, "loss": 0.9, "grad_flow": [1.0, 1.0, 1.0], "grad_gain": 1.0},
        "verdict": {
            "regime": {"predicted": pred.regime, "measured": "stable", "agrees": pred.regime == "stable"},
            "firing_rate": {"predicted": pred.firing_rate, "measured": 0.3, "agrees": True},
        },
    }
    store.set_status(run_id, "finished", summary=summary, prediction=pred.to_dict())
    return run_id


def test_runs_page_reattaches_to_the_run_in_the_link_and_compares_prediction_with_measurement(temp_home):
    from stabviz.runs import RunStore

    store = RunStore(temp_home / "stabviz.db")
    first = _finished_run(store, preset("shd-tau20"))
    time.sleep(0.01)
    _finished_run(store, preset("shd-tau20", dampening=3.0))  # newer: the default choice
    at = open_app({"run": first[:8]}, page="runs")
    assert at.selectbox(key="run_choice").value == first
    assert at.query_params["run"] in (first, [first])
    comparison = _table(at, "quantity")
    assert re.fullmatch(r"regime over T = \d+", list(comparison["quantity"])[-1])  # the T it was predicted at
    assert any(re.match(r"Prediction \*\*(confirmed|partly confirmed|refuted)\*\*", m.value) for m in at.info)
    assert len(_table(at, "status")) == 2  # the persisted runs table


def test_runs_page_shows_a_seed_groups_interval_in_the_table_and_its_verdict_in_the_run_view(temp_home):
    from stabviz import train
    from stabviz.intervals import group_verdict
    from stabviz.runs import RunStore, sweep_configs

    store = RunStore(temp_home / "stabviz.db")
    base = TrainConfig(
        lif=LIFConfig(n_rec=16, n_in=20), time_steps=10, train_steps=1, batch=8, samples=40, classes=2, device="cpu"
    )
    points = sweep_configs(base, "seed", [0, 1, 2])
    ids = store.create_many(
        [(cfg, {"id": "group1", "label": f"seed={p['seed']}", "point": p}) for p, cfg in points],
        sweep_spec=("group1", {"x": "seed", "x_values": [0, 1, 2], "y": None, "y_values": None}),
    )
    summaries = [train.run(cfg) for _, cfg in points]
    for run_id, summary in zip(ids, summaries):
        store.set_status(run_id, "running")
        store.set_status(run_id, "finished", summary=summary, prediction=summary["prediction"])
    verdict = group_verdict(summaries)
    lo, hi = verdict["rho"]["interval"]
    at = open_app({"run": ids[1][:8]}, page="runs")
    column = list(_table(at, "seed group (95% interval)")["seed group (95% interval)"])
    assert (
        column
        == [
            f"ρ̂ {verdict['rho']['mean']:.3g} [{lo:.3g}, {hi:.3g}], rate "
            f"{verdict['firing_rate']['mean']:.3g} [{verdict['firing_rate']['interval'][0]:.3g}, "
            f"{verdict['firing_rate']['interval'][1]:.3g}] (3 seeds)"
        ]
        * 3
    )
    said = [shown(b.value) for b in at.info]  # neutral: its colour is how training went
    word = "agrees" if verdict["agrees"] else "is refuted"
    assert any(
        t.startswith(f"Over 3 seeds the prediction {word}: predicted ρ ") and f"interval of ρ̂ [{lo:.3g}, {hi:.3g}]" in t
        for t in said
    ), said


def test_a_failing_run_shows_its_error_and_a_bad_run_id_warns(temp_home):
    from stabviz.runs import RunStore

    store = RunStore(temp_home / "stabviz.db")
    bad = _finished_run(store, LIFConfig(), error="data file not found: /nope.h5")
    at = open_app({"run": "zzzz"}, page="runs")
    assert any("run = 'zzzz'" in shown(w.value) for w in at.warning)
    assert at.selectbox(key="run_choice").value == bad
    assert any("data file not found: /nope.h5" in shown(e.value) for e in at.error)


def test_runs_page_without_runs_invites_a_launch():
    at = open_app(page="runs")
    assert any("No runs yet" in i.value for i in at.info)


def test_sweep_page_shows_a_queued_sweep_as_pending_cells(temp_home):
    from stabviz.runs import RunStore, sweep_configs

    store = RunStore(temp_home / "stabviz.db")
    base = TrainConfig(lif=preset("shd-tau20"), train_steps=5)
    points = sweep_configs(base, "sharpness", [0.5, 2.0], "dampening", [0.5, 2.0])
    spec = {
        "x": "sharpness",
        "x_values": [0.5, 2.0],
        "y": "dampening",
        "y_values": [0.5, 2.0],
        "base": base.to_dict(),
        "launcher": "local",
    }
    store.create_many(
        [(cfg, {"id": "sweep1", "label": "p", "point": p}) for p, cfg in points], sweep_spec=("sweep1", spec)
    )
    at = open_app(page="sweep")
    assert at.selectbox(key="sweep_choice").value == "sweep1"
    progress = at.get("progress")[0].proto
    assert progress.text == "0 of 4 runs ended" and progress.value == 0
    # the sweep's base predicts at its own T (here 100, runs of 50 steps, made before one T): it says so
    assert any(
        c.value.startswith("Predicted regimes and the band are at T = 100 (the runs' samples are 50")
        for c in at.caption
    )


def test_learn_page_shows_the_papers_findings_and_loads_one():
    at = open_app(page="learn")
    assert not at.exception
    assert any("Dampening too high" in m.value for m in at.markdown)
    at.button(key="demo_high-dampening").click().run()
    assert not at.exception
    assert _slider(at, "dampening").value == 1.5 and _slider(at, "leak").value == preset("paper-slmnist").leak


def test_learn_page_switches_between_the_shipped_measured_maps():
    at = open_app(page="learn")
    at.selectbox(key="learn_map").set_value("tau20-sharpness").run()
    assert not at.exception
    assert any("cells" in m.value and "theory" in m.value for m in at.markdown)


def test_a_link_straight_to_a_page_still_gets_the_sidebar_and_the_setting():
    # The first request of a fresh server may name a page: the router must still run, so the sidebar,
    # the URL state and the page all appear (no pages/ folder beside app.py puts Streamlit in legacy mode).
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"dampening": "0.5"})
    switch_page(at, "surrogates")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Surrogate shapes"
    assert _slider(at, "dampening").value == 0.5
    assert any(c.value.startswith("Link to this exact view") for c in at.sidebar.caption)  # the router's last part


def test_the_measured_voltage_model_adds_a_monte_carlo_prediction():
    at = open_app({"voltage_model": "measured", "n_rec": "32", "n_in": "50"})
    assert not at.error and _metric(at, "Voltage model") == "measured"
    cfg = LIFConfig(voltage_model="measured", n_rec=32, n_in=50)
    assert _metric(at, "$\\rho^2$") == f"{theory.predict_shown(cfg).rho2:.4g}"  # measured model: mult2
    assert any("gaussian voltage model" in c.value for c in at.caption)


def test_the_measured_model_refuses_a_layer_too_large_for_the_dashboard():
    at = open_app({"voltage_model": "measured", "n_rec": "4096"})
    assert any("STABVIZ_MAX_NEURONS" in shown(e.value) for e in at.error) and not at.exception


def test_the_map_tab_and_colouring_are_part_of_the_link():
    at = open_app({"map": "leak", "color": "rho2"})
    assert at.session_state["map_tab"] == "τ × γ (leak)"
    assert at.session_state["map_color"] == "rho2"
    assert at.query_params["map"] in ("leak", ["leak"]) and at.query_params["color"] in ("rho2", ["rho2"])
    bad = open_app({"map": "bogus"})
    assert any("map = 'bogus'" in shown(w.value) for w in bad.warning)
    assert bad.session_state["map_tab"] == "β × γ"


def test_the_quick_measured_check_adds_a_measured_bar():
    import json

    at = open_app({"n_rec": "32", "n_in": "50"})
    at.button(key="measure_rates").click().run()
    assert not at.exception and not at.error
    bars = [
        json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if json.loads(c.proto.spec)["data"][0].get("type") == "bar"
    ][0]
    assert list(bars["data"][0]["x"]) == ["uniform", "gaussian", "measured"]
    assert 0.0 <= bars["data"][0]["y"][2] <= 1.0


# ---------------------------------------------------------------------------------------------
# The installed package's entry script and `stabviz dashboard`


def test_the_package_entry_script_runs_every_page_without_a_checkout_around_it():
    from stabviz.ui import launch

    at = AppTest.from_file(str(launch.APP), default_timeout=60)
    at.query_params.update({"dampening": "0.5"})
    at.run()
    assert not at.exception and at.title[0].value == "Will gradients survive?"
    for name, title in (
        ("surrogates", "Surrogate shapes"),
        ("runs", "Training runs"),
        ("sweep", "Sweep two parameters"),
        ("learn", "Surrogate gradients in five minutes"),
        ("evidence", "Evidence: do the paper's claims hold?"),
        ("network", "Your network"),
    ):
        switch_page(at, name).run()
        assert not at.exception and at.title[0].value == title
        assert _slider(at, "dampening").value == 0.5


def test_no_pages_folder_sits_beside_an_entry_script():
    # Streamlit would run such a folder as a legacy multipage app (each page alone, without the router)
    # until some session had called st.navigation
    from stabviz.ui import launch

    for script in (Path(APP), launch.APP):
        assert script.is_file() and not (script.parent / "pages").exists(), script


def test_the_launch_options_are_the_repositorys_streamlit_config():
    import tomllib

    from stabviz.cli import dashboard as launch

    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    flat = {
        f"{section}.{name}": str(value).lower() if isinstance(value, bool) else str(value)
        for section, options in config.items()
        for name, value in options.items()
    }
    assert flat == launch.OPTIONS
    cmd = launch.command(["--server.headless", "true", "--theme.base=dark"])
    assert cmd[1:4] == ["-m", "streamlit", "run"] and Path(cmd[4]).is_file()
    assert "--server.fileWatcherType" in cmd and "light" not in cmd  # the caller's flag wins
    assert cmd[-3:] == ["--server.headless", "true", "--theme.base=dark"]


def test_run_dashboard_serves_from_any_directory_and_stops_on_sigterm(tmp_path):
    import os
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # As if installed: stabviz importable (PYTHONPATH), started from a directory with no app.py, pages/ or
    # .streamlit/ of ours.
    env = {**os.environ, "PYTHONPATH": str(Path(APP).parent)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from stabviz.cli.dashboard import run_dashboard; sys.exit(run_dashboard(sys.argv[1:]))",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/_stcore/health"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    assert r.status == 200 and r.read().decode().strip() == "ok"
                    break
            except OSError:
                assert time.monotonic() < deadline, "the dashboard never answered its health check"
                time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)  # passed on to Streamlit, which stops
        assert proc.wait(timeout=30) == 0
        with pytest.raises(OSError):  # nothing left serving
            urllib.request.urlopen(url, timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_learn_page_reads_the_theory_document_by_section():
    from stabviz import theory_doc

    at = AppTest.from_file(APP, default_timeout=60).run()
    switch_page(at, "learn").run()
    assert not at.exception
    reader = at.selectbox(key="learn_theory_section")
    reader.set_value("3").run()
    body = theory_doc.section("3")[1]
    assert any(md.value == body for md in at.markdown)


def test_explore_shows_the_calibrated_verdict_and_one_consistent_option():
    at = AppTest.from_file(APP, default_timeout=60)
    cfg = preset("shd-tau20")
    at.query_params.update(urlstate.setting_params(cfg.to_dict()))
    at.run()
    assert not at.exception
    rec = theory.recommend(cfg).to_dict()
    assert any("badge[" in m.value and "uncertain" in m.value for m in at.markdown)  # ρ ≈ 1 at T = 100
    picker = at.radio(key="rec_option")
    keep_beta = next(o for o in rec["options"] if o["label"] == "keep β, solve γ")
    picker.set_value(keep_beta["label"]).run()
    code = "\n".join(c.value for c in at.code)
    gamma = float(re.search(r"gamma, beta, q = ([^,]+),", code).group(1))
    assert gamma == pytest.approx(keep_beta["dampening"], rel=1e-9)  # the option's γ, unrounded
    assert any("keep β, solve γ" in c.value for c in at.caption)  # the confirm run uses it too


def _markdown_text(at):
    return " ".join(m.value for m in at.markdown)


def test_presentation_mode_is_a_link_and_a_toggle_and_drops_the_title():
    at = open_app({"present": "1"})
    assert at.toggle(key="present").value is True
    assert not at.title  # the map moves up: badge, numbers, map
    assert at.query_params["present"] == ["1"] or at.query_params["present"] == "1"
    switch_page(at, "learn").run()  # every page sees it (the router keeps it)
    assert not at.exception and at.toggle(key="present").value is True
    switch_page(at, "explore").run()
    at.toggle(key="present").set_value(False).run()
    assert [t.value for t in at.title] == ["Will gradients survive?"] and "present" not in at.query_params
    bad = open_app({"present": "yes"})
    assert bad.toggle(key="present").value is False and bad.warning


def test_every_regime_label_says_the_T_it_holds_at():
    at = open_app({"steps": "40"})
    assert "at T = 40" in _markdown_text(at)  # the verdict badge
    assert any("T = 40" in m.label for m in at.metric)  # and the gain over T
    learn = open_app(page="learn")
    assert re.search(r"(stable|vanishing|exploding|uncertain) at T = \d+", _markdown_text(learn))


def test_the_confirmation_run_and_the_sweep_use_the_settings_T(temp_home):
    from stabviz.ui import runlaunch

    train = runlaunch.quick_config(LIFConfig(steps=80))
    assert train.time_steps == 80 and train.lif.steps == 80  # the run goes over the T it predicts at
    capped = runlaunch.quick_config(LIFConfig(steps=5000))  # above the machine's time-step limit
    assert capped.time_steps == capped.lif.steps < 5000  # it predicts at the T it runs
    at = open_app({"steps": "70"}, page="sweep")
    boxes = [n for n in at.number_input if n.label.startswith("Time steps per sample")]
    assert boxes and boxes[0].value == 70
    assert any("setting's T is 70" in c.value for c in at.caption)
