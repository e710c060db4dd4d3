"""Small things a visitor meets (issue 19, item 9), with Streamlit's AppTest: the recommendation option
picked travels in the link, the Runs page proposes the setting's T, the server's timing is a developer's
detail, and a started sweep's progress is in sight."""

import pytest
from support import open_app, shown

from stabviz.config import LIFConfig, preset
from stabviz.ui import urlstate

RUNS, SWEEP = "runs", "sweep"


@pytest.fixture(autouse=True)
def temp_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    monkeypatch.delenv("STABVIZ_DEBUG", raising=False)
    return tmp_path


def _param(at, name):
    value = at.query_params.get(name)
    return value[0] if isinstance(value, list) else value


def _setting(cfg):
    return urlstate.setting_params(cfg.to_dict())


def test_the_picked_option_is_in_the_link_and_a_link_restores_it():
    cfg = preset("shd-tau20")
    at = open_app(_setting(cfg))
    picker = at.radio(key="rec_option")
    labels = [o.split(": γ = ")[0] for o in picker.options]  # shown as "label: γ = …, β = …"
    assert len(labels) >= 3 and labels[0].startswith("as set")  # the setting as set comes first ...
    assert picker.value == "recommended"  # ... and the recommended one is picked
    assert _param(at, "option") is None  # the default pick: nothing to say
    picker.set_value(labels[2]).run()
    assert _param(at, "option") == "2"
    assert any("option=2" in c.value for c in at.sidebar.code)  # the share link carries it
    again = open_app({**_setting(cfg), "option": "2"})  # a visitor opening that link
    assert again.radio(key="rec_option").value == labels[2]
    assert any(labels[2] in c.value for c in again.caption)  # the confirmation run uses it


def test_a_bad_option_in_the_link_warns_and_keeps_the_default_pick():
    at = open_app({**_setting(preset("shd-tau20")), "option": "9"})
    assert at.radio(key="rec_option").value == "recommended"
    assert any("option = '9' is not a whole number from 0 to" in shown(w.value) for w in at.warning)


def _number(at, label_start):
    return next(n for n in at.number_input if n.label.startswith(label_start)).value


def test_the_runs_page_proposes_the_settings_T_like_explore_and_sweep():
    from stabviz.ui import runlaunch

    at = open_app(page=RUNS)
    assert _number(at, "Time steps per sample") == LIFConfig().steps == 100
    quick = runlaunch.quick_config(LIFConfig(steps=70))
    at = open_app({"steps": "70"}, page=RUNS)
    assert _number(at, "Time steps per sample") == quick.time_steps == 70
    assert _number(at, "Training steps") == quick.train_steps and _number(at, "Batch") == quick.batch


def _timing(at):
    return [c.value for c in at.sidebar.caption if c.value.startswith("Server rerun")]


def test_the_server_timing_is_shown_only_when_debugging(monkeypatch):
    assert _timing(open_app()) == []
    at = open_app({"debug": "1"})
    assert _timing(at) and _param(at, "debug") == "1"  # kept in the URL for the session...
    assert not any("debug" in c.value for c in at.sidebar.code)  # ...but not put in the share link
    at.run()
    assert _timing(at)
    monkeypatch.setenv("STABVIZ_DEBUG", "1")
    assert _timing(open_app())


def _flat(block):
    """The elements of a block in page order (depth first)."""
    out = []
    for child in block.children.values():
        out += _flat(child) if hasattr(child, "children") and child.type not in ("progress",) else [child]
    return out


def test_a_started_sweeps_progress_is_above_the_form(temp_home):
    from stabviz.runs import RunStore
    from stabviz.ui import runlaunch

    at = open_app(page=SWEEP)
    at.text_input(key="sweep_x_values").set_value("1").run()
    at.text_input(key="sweep_y_values").set_value("1").run()
    at.number_input(key="sweep_steps").set_value(1).run()
    try:
        next(b for b in at.button if b.label == "Start sweep").click().run()
        assert not at.exception and len(RunStore(temp_home / "stabviz.db").list()) == 1
        order = [e.type for e in _flat(at.main)]
        assert "progress" in order
        first_form_field = next(i for i, e in enumerate(_flat(at.main)) if getattr(e, "key", None) == "sweep_x")
        assert order.index("progress") < first_form_field
    finally:
        runlaunch.launcher().shutdown(timeout=20)  # no training in the test


def test_a_browsers_first_view_draws_the_map_first_and_the_rest_on_the_next_run(monkeypatch):
    from stabviz.ui import firstview

    monkeypatch.setattr(firstview, "_browser", lambda: True)  # AppTest sends no request headers
    at = open_app({"debug": "1"})
    tabs = lambda: [t.label for t in at.tabs]
    assert any(
        '"name": "map"' in c.proto.spec or '"name":"map"' in c.proto.spec  # the map is there...
        for c in at.get("plotly_chart")
    )
    assert "Recommended initialisation" not in tabs()  # ...the detail tabs,
    assert not [b for b in at.button if b.key == "confirm_run"]  # the confirmation run,
    assert not at.sidebar.code and not _timing(at)  # the share link and the footer wait
    at.session_state[firstview.DRAWN] = True  # what first_view.js reports
    at.run()
    assert not at.exception and "Recommended initialisation" in tabs()
    assert [b for b in at.button if b.key == "confirm_run"] and at.sidebar.code and _timing(at)
    at.run()  # and from then on, every run is whole
    assert "Recommended initialisation" in tabs() and at.sidebar.code


def _following_radio():
    import streamlit as st

    from stabviz.ui import state

    choices = ("a", "b", "c")
    default = st.session_state.get("default_now", "a")  # stands for the setting's default entry
    state.seed_following("pick", "pick", state.choice_parser("pick", choices), default)
    st.radio("Pick", choices, key="pick", on_change=state.picked, args=("pick",))


def test_a_following_widget_follows_its_default_until_the_user_or_a_link_picks():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_following_radio).run()
    assert at.radio(key="pick").value == "a"
    at.session_state["default_now"] = "b"
    assert at.run().radio(key="pick").value == "b"  # never picked: the default moves it
    at.radio(key="pick").set_value("c").run()
    at.session_state["default_now"] = "a"
    assert at.run().radio(key="pick").value == "c"  # picked: the user's entry stays
    linked = AppTest.from_function(_following_radio)
    linked.query_params["pick"] = "c"
    linked.run()
    linked.session_state["default_now"] = "b"
    assert linked.run().radio(key="pick").value == "c"  # a link's entry stays like a pick
