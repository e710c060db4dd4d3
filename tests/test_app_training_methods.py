"""The dashboard reaches every training method and initialisation the CLI has: DECOLLE-style local losses and
the paper's rate control on the Runs page, the fluctuation-driven initialisation in the sidebar."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from support import APP, open_app

from stabviz.runs import ACTIVE, RunStore


@pytest.fixture(autouse=True)
def temp_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    return tmp_path


def _queued_configs(home) -> list[dict]:
    store = RunStore(home / "stabviz.db")
    runs = store.list(limit=None)
    for r in store.list(status=ACTIVE, limit=None):  # nothing trains behind the next tests
        store.request_cancel(r["id"])
    return [store.get(r["id"])["config"] for r in runs]


def test_a_run_launched_with_local_losses_and_rate_control_records_both(temp_home):
    at = open_app(page="runs")
    assert at.checkbox(key="launch_local_losses").disabled  # one layer: no hidden layer to train locally
    at.number_input(key="launch_layers").set_value(2).run()
    at.checkbox(key="launch_local_losses").check()
    at.number_input(key="launch_rate_control λ").set_value(0.5)
    at.number_input(key="launch_rate_control steps").set_value(30)
    at.button(key="launch_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    configs = _queued_configs(temp_home)
    assert configs and all(c["local_losses"] and c["layers"] == 2 for c in configs)
    assert all(tuple(c["rate_control"]) == (0.158, 0.5, 30) for c in configs)


def test_rate_control_is_off_at_weight_zero_and_a_bad_target_blocks_the_launch(temp_home):
    at = open_app(page="runs")
    at.number_input(key="launch_rate_control f0").set_value(1.0).run()
    assert at.button(key="launch_run").disabled
    assert any("Rate control f0" in e.value for e in at.error)
    at.number_input(key="launch_rate_control f0").set_value(0.2).run()
    at.button(key="launch_run").click().run()
    configs = _queued_configs(temp_home)
    assert configs and all("rate_control" not in c and "local_losses" not in c for c in configs)


def test_the_fluctuation_driven_initialisation_is_offered_with_its_recurrent_share():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"init_rec": "fluctuation", "init_in": "fluctuation"})
    at.session_state["advanced"] = True  # the sidebar's advanced section, opened
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    inits = {s.label: s for s in at.selectbox if "initialisation" in s.label}
    assert inits["Recurrent initialisation"].value == "fluctuation"
    assert inits["Input initialisation"].value == "fluctuation"
    assert "fluctuation-driven (mean θ)" in inits["Input initialisation"].options
    share = [n for n in at.number_input if n.label.startswith("Recurrent share")]
    assert share and share[0].value == pytest.approx(0.1)
