"""Issue 9, "the dashboard is unsafe to share": shared mode, text that stays text, paths that tell
nothing, and the Sweep page's links.

1. Shared mode (``stabviz dashboard --shared`` / STABVIZ_SHARED=1): launching needs the host's token or is
   off, no path can be typed (only the host's listed files, by name), per-visitor limits, own cancels.
2. Every user-supplied or stored string reaches markdown through layout.plain: URL values, run errors,
   sweep labels, error boundaries.
3. Nothing on the page tells an existing server path from a missing one.
4. The Sweep page draws 1-D sweeps and reads ?sweep= as a sweep id.
"""

import re
from pathlib import Path

import pytest
from support import open_app, shown, switch_page

from stabviz.config import LIFConfig, TrainConfig, preset
from stabviz.ui import sharing
from stabviz.ui.layout import plain

APP = str(Path(__file__).resolve().parents[1] / "app.py")
RUNS, SWEEP, LEARN = "runs", "sweep", "learn"
TOKEN = "s3cret-classroom"
#: What a visitor might slip into a link, a data path or (through it) a run's error text.
PAYLOADS = (
    "![x](http://evil.example/a.png)",
    "[Re-enter your password](http://evil.example)",
    "<img src=x>",
    ":red[big]",
    "$x$",
    ":material/home:",
    "www.evil.example",
    "mail@evil.example",
)
EVIL = " ".join(PAYLOADS)


@pytest.fixture(autouse=True)
def temp_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    for name in (sharing.SHARED_ENV, sharing.TOKEN_ENV, sharing.FILES_ENV, sharing.MAX_RUNS_ENV):
        monkeypatch.delenv(name, raising=False)
    # No training in these tests: runs stay queued (no dispatcher is ever started).
    monkeypatch.setattr("stabviz.runs.local._start_dispatcher", lambda *a, **k: None)
    return tmp_path


@pytest.fixture
def store(temp_home):
    from stabviz.runs import RunStore

    return RunStore(temp_home / "stabviz.db")


def bodies(at) -> list[str]:
    """Every markdown-rendered body on the page (main and sidebar)."""
    out = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "title", "header", "subheader"):
        out += [e.value for e in getattr(at, kind)]
    out += [p.proto.text for p in at.get("progress")]
    return out


def assert_rendered_as_text(body: str) -> None:
    """No link, image, HTML, directive or math markup survives in ``body`` (escaped forms are fine)."""
    for pattern in (
        r"(?<!\\)\]\(",
        r"(?<!\\)<img",
        r"(?<!\\):red\[",
        r"(?<!\\)\$x",
        r"(?<!\\):material/home",
        r"evil\.example",
        r"https?://evil",
        r"(?i)www\\?\.evil",
        r"@evil",
    ):
        assert not re.search(pattern, body), (pattern, body)


def _texts(at) -> list[str]:
    return [shown(b) for b in bodies(at)]


# ---------------------------------------------------------------------------------------------
# 1. Shared mode


def test_shared_mode_settings_are_pure_functions_of_the_environment(tmp_path):
    assert not sharing.shared({}) and sharing.launching({}) == "open"
    env = {"STABVIZ_SHARED": "1"}
    assert sharing.shared(env) and sharing.launching(env) == "off" and not sharing.token_ok("", env)
    env = {**env, "STABVIZ_RUN_TOKEN": TOKEN}
    assert sharing.launching(env) == "token"
    assert sharing.token_ok(TOKEN, env) and not sharing.token_ok(TOKEN + "x", env) and not sharing.token_ok(None, env)
    assert sharing.max_runs(env) == 2 and sharing.max_runs({**env, "STABVIZ_SHARED_MAX_RUNS": "5"}) == 5
    files = f"/srv/a/shd.h5{__import__('os').pathsep}/srv/b/shd.h5{__import__('os').pathsep}/x/mnist.npz"
    env = {**env, "STABVIZ_DATA_FILES": files}
    assert sharing.data_files(env) == {
        "shd.h5": "/srv/a/shd.h5",
        "shd.h5 (2)": "/srv/b/shd.h5",
        "mnist.npz": "/x/mnist.npz",
    }
    assert sharing.redact("could not read /srv/b/shd.h5 as HDF5", env) == "could not read shd.h5 (2) as HDF5"
    # refusals, in order: no token, wrong token, unlisted file, too many runs
    assert "needs the run token" in sharing.refusal(None, 0, 1, env=env)
    assert "not the run token" in sharing.refusal("guess", 0, 1, env=env)
    assert "only the data files" in sharing.refusal(TOKEN, 0, 1, ["/etc/passwd"], env=env)
    assert sharing.refusal(TOKEN, 0, 1, ["/srv/b/shd.h5", ""], env=env) is None
    assert "at most 2 runs" in sharing.refusal(TOKEN, 1, 2, env=env)
    assert "switched off" in sharing.refusal(TOKEN, 0, 1, env={"STABVIZ_SHARED": "1"})
    assert sharing.refusal(None, 99, 99, ["/anything"], env={}) is None  # not shared: the owner's machine


def _captured_launch(monkeypatch, argv):
    from stabviz.cli import dashboard

    seen = {}

    class FakeProc:
        def __init__(self, cmd, env):
            seen["cmd"], seen["env"] = cmd, env

        def wait(self, timeout=None):
            return 0

        def poll(self):
            return 0

    monkeypatch.setattr(dashboard.subprocess, "Popen", FakeProc)
    from stabviz.cli import main

    assert main(["dashboard", *argv]) == 0
    cmd = seen["cmd"]
    return cmd, seen["env"], dict(zip(cmd[5::1], cmd[6::1]))


def test_dashboard_shared_flag_serves_every_interface_with_the_shared_rules(monkeypatch):
    cmd, env, _ = _captured_launch(monkeypatch, ["--server.port", "8502"])
    assert cmd[cmd.index("--server.address") + 1] == "localhost" and "STABVIZ_SHARED" not in env
    cmd, env, _ = _captured_launch(monkeypatch, ["--shared", "--server.port", "8502"])
    assert "--shared" not in cmd  # ours, never handed to streamlit run
    assert cmd[cmd.index("--server.address") + 1] == "0.0.0.0" and env["STABVIZ_SHARED"] == "1"
    assert cmd[-2:] == ["--server.port", "8502"]
    cmd, env, _ = _captured_launch(monkeypatch, ["--shared", "--server.address", "10.1.2.3"])
    assert cmd.count("--server.address") == 1 and cmd[-1] == "10.1.2.3"  # the host's address wins


def test_shared_without_a_token_switches_launching_off_and_says_so(monkeypatch, store):
    monkeypatch.setenv("STABVIZ_SHARED", "1")
    at = open_app(page=RUNS)
    assert any("switched off" in t for t in _texts(at))
    assert not [b for b in at.button if b.label == "Launch run"]
    assert not [t for t in at.text_input if t.label == "Run token"]  # no token field (the twins are text)
    at = open_app()
    assert at.button(key="confirm_run").disabled
    at = open_app(page=SWEEP)
    assert any("switched off" in t for t in _texts(at)) and not [b for b in at.button if b.label == "Start sweep"]
    from stabviz.ui import runlaunch

    with pytest.raises(ValueError, match="switched off"):  # the gate holds on the server, not only in the UI
        runlaunch.submit(TrainConfig())
    assert store.list() == []


def _launch(at, **choose):
    at.number_input(key="launch_seeds").set_value(1)  # one run per launch: the limit counts runs
    for label, value in choose.items():
        [s for s in at.selectbox if s.label.startswith(label)][0].set_value(value)
    [b for b in at.button if b.label == "Launch run"][0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_shared_with_a_token_launches_only_with_it_only_listed_files_and_few_runs(monkeypatch, store, tmp_path):
    import os

    monkeypatch.setenv("STABVIZ_SHARED", "1")
    monkeypatch.setenv("STABVIZ_RUN_TOKEN", TOKEN)
    monkeypatch.setenv("STABVIZ_SHARED_MAX_RUNS", "2")
    monkeypatch.setenv("STABVIZ_DATA_FILES", os.pathsep.join(["/srv/class/shd_train.h5", "/srv/other/shd_train.h5"]))
    at = open_app(page=RUNS)
    # no path can be typed: only the host's files, by name
    assert not [t for t in at.text_input if t.label.startswith("Data file")]
    data = [s for s in at.selectbox if s.label.startswith("Data file")][0]
    assert data.options == ["shd_train.h5", "shd_train.h5 (2)"]
    token = at.sidebar.text_input(key="run_token")
    assert token.proto.type == token.proto.PASSWORD
    assert at.number_input(key="launch_seeds").value == 2  # the Seeds default: no more than the limit

    _launch(at)  # no token typed
    assert any("needs the run token" in t for t in _texts(at)) and store.list() == []
    token.set_value("guess").run()
    _launch(at)
    assert any("not the run token" in t for t in _texts(at)) and store.list() == []

    at.sidebar.text_input(key="run_token").set_value(TOKEN).run()
    at.number_input(key="launch_seeds").set_value(3)
    [b for b in at.button if b.label == "Launch run"][0].click().run()
    assert any("at most 2 runs" in t and "would add 3" in t for t in _texts(at)) and store.list() == []
    _launch(at, **{"Task": "shd", "Data file": "shd_train.h5 (2)"})
    runs = store.list()
    assert len(runs) == 1 and runs[0]["config"]["data_path"] == "/srv/other/shd_train.h5"
    _launch(at)
    assert len(store.list()) == 2
    _launch(at)  # a third while two are queued
    assert any("at most 2 runs" in t for t in _texts(at)) and len(store.list()) == 2
    # the Explore button and the Sweep form pass through the same gate
    switch_page(at, "explore").run()
    at.button(key="confirm_run").click().run()
    assert any("at most 2 runs" in t for t in _texts(at)) and len(store.list()) == 2


def test_a_visitor_cancels_only_their_own_runs_on_a_shared_dashboard(monkeypatch, store):
    run_id = store.create(TrainConfig(lif=LIFConfig(), train_steps=10))  # someone else's queued run
    at = open_app({"run": run_id}, page=RUNS)
    assert not at.button(key="cancel_run").disabled  # own machine: may cancel
    monkeypatch.setenv("STABVIZ_SHARED", "1")
    monkeypatch.setenv("STABVIZ_RUN_TOKEN", TOKEN)
    at = open_app({"run": run_id}, page=RUNS)
    assert at.button(key="cancel_run").disabled  # drawn disabled, with why
    assert any("only a run's owner can cancel it" in t.lower() for t in _texts(at))
    _forge(monkeypatch)
    at.button(key="cancel_run").click().run()  # a forged click
    assert store.get(run_id)["status"] == "queued"
    mine = store.create(TrainConfig(lif=LIFConfig(), train_steps=10), owner=sharing.LOCAL_VISITOR)
    at = open_app({"run": mine}, page=RUNS)
    at.sidebar.text_input(key="run_token").set_value(TOKEN).run()
    at.button(key="cancel_run").click().run()  # the owner, with the token
    assert store.get(mine)["status"] == "cancelled"


# -- every other write: delete, undo, tags (issue 20) ------------------------------------------------

OTHER = sharing.visitor_key("203.0.113.7")  # another visitor's address, as the store records it


def _forge(monkeypatch):
    """Let AppTest send what a browser cannot: a click on a disabled control (a crafted message)."""
    from streamlit.testing.v1.element_tree import Widget

    monkeypatch.setattr(Widget, "_assert_can_interact", lambda self: None)


def _ended(store, owner):
    """A finished run launched by ``owner`` (a visitor key; None: launched outside shared mode)."""
    run_id = store.create(TrainConfig(lif=LIFConfig(), train_steps=10), owner=owner)
    store.set_status(run_id, "running")
    store.set_status(run_id, "finished", summary={"final": {"accuracy": 0.5}})
    return run_id


def _shared(monkeypatch):
    monkeypatch.setenv("STABVIZ_SHARED", "1")
    monkeypatch.setenv("STABVIZ_RUN_TOKEN", TOKEN)


def _tags(at, run_id):
    return [m for m in at.multiselect if m.key == f"tags_{run_id}"][0]


def _try_every_write(monkeypatch, at, run_id):
    """Click Delete and set tags whatever the page shows (forged messages); returns the page."""
    _forge(monkeypatch)
    _tags(at, run_id).set_value(["graffiti"]).run()
    at.button(key="delete_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("token", [None, "guess"])
def test_without_the_token_a_visitor_cannot_delete_or_tag_even_their_own_run(monkeypatch, store, token):
    _shared(monkeypatch)
    run_id = _ended(store, sharing.LOCAL_VISITOR)  # this visitor's run: only the token is missing
    at = open_app({"run": run_id}, page=RUNS)
    if token:
        at.sidebar.text_input(key="run_token").set_value(token).run()
    assert at.button(key="delete_run").disabled and _tags(at, run_id).disabled
    want = (
        "only a run's owner can tag or delete it on this shared dashboard: type the run token in the sidebar"
        if token is None
        else "that is not the run token of this dashboard"
    )
    assert any(want in t.lower() for t in _texts(at)), _texts(at)
    _try_every_write(monkeypatch, at, run_id)
    run = store.get(run_id)
    assert run["deleted"] is None and run["tags"] is None and [r["id"] for r in store.list()] == [run_id]


def test_with_the_token_a_visitor_cannot_delete_or_tag_someone_elses_run(monkeypatch, store):
    _shared(monkeypatch)
    for owner in (OTHER, None):  # another visitor's, and one from before sharing
        run_id = _ended(store, owner)
        at = open_app({"run": run_id}, page=RUNS)
        at.sidebar.text_input(key="run_token").set_value(TOKEN).run()
        assert at.button(key="delete_run").disabled and _tags(at, run_id).disabled
        assert any("launched by someone else" in t for t in _texts(at))
        _try_every_write(monkeypatch, at, run_id)
        run = store.get(run_id)
        assert run["deleted"] is None and run["tags"] is None


def test_undo_brings_back_only_the_visitors_own_runs_and_only_with_the_token(monkeypatch, store):
    _shared(monkeypatch)
    theirs, mine = _ended(store, OTHER), _ended(store, sharing.LOCAL_VISITOR)
    store.delete([theirs, mine])
    _forge(monkeypatch)
    for gone, token in (([theirs], TOKEN), ([mine], None), ([mine], "guess")):
        at = open_app(page=RUNS)
        if token:
            at.sidebar.text_input(key="run_token").set_value(token).run()
        at.session_state["_deleted_runs"] = gone  # Undo offered, as after a delete (or crafted)
        at.run()
        assert at.button(key="undo_delete").disabled
        at.button(key="undo_delete").click().run()
        assert store.list() == [], gone  # still deleted
    at.sidebar.text_input(key="run_token").set_value(TOKEN).run()
    assert not at.button(key="undo_delete").disabled
    at.button(key="undo_delete").click().run()
    assert [r["id"] for r in store.list()] == [mine]


def test_the_owner_with_the_token_deletes_undoes_and_tags(monkeypatch, store):
    _shared(monkeypatch)
    run_id = _ended(store, sharing.LOCAL_VISITOR)
    at = open_app({"run": run_id}, page=RUNS)
    at.sidebar.text_input(key="run_token").set_value(TOKEN).run()
    assert not at.button(key="delete_run").disabled and not _tags(at, run_id).disabled
    _tags(at, run_id).set_value(["baseline"]).run()
    assert store.get(run_id)["tags"] == ["baseline"]
    at.button(key="delete_run").click().run()
    assert store.list() == [] and store.get(run_id)["deleted"] is not None
    at.button(key="undo_delete").click().run()
    assert [r["id"] for r in store.list()] == [run_id]


def test_the_run_limit_holds_across_tabs_of_one_visitor(monkeypatch, store):
    """Two AppTest sessions are two tabs of the same visitor (one address): together they may have
    STABVIZ_SHARED_MAX_RUNS runs queued; a visitor at another address has a limit of their own."""
    _shared(monkeypatch)
    monkeypatch.setenv("STABVIZ_SHARED_MAX_RUNS", "2")
    tabs = [open_app(page=RUNS), open_app(page=RUNS)]
    for tab in tabs:
        tab.sidebar.text_input(key="run_token").set_value(TOKEN).run()
    _launch(tabs[0])
    _launch(tabs[1])
    assert len(store.list()) == 2
    for tab in tabs:  # a third, from either tab
        _launch(tab)
        assert any("at most 2 runs" in t and "you have 2" in t for t in _texts(tab)) and len(store.list()) == 2
    monkeypatch.setattr("stabviz.ui.guard._address", lambda: "203.0.113.7")
    _launch(tabs[1])  # another visitor: their own limit
    assert len(store.list()) == 3 and store.list()[0]["owner"] == OTHER


def test_the_store_counts_a_visitors_active_runs_in_the_transaction_that_queues(store):
    cfg = TrainConfig(lif=LIFConfig(), train_steps=10)
    store.create_many([(cfg, None)] * 2, owner="v1", max_owned=2)
    with pytest.raises(ValueError, match="above the limit of 2 per visitor"):
        store.create(cfg, owner="v1", max_owned=2)
    store.create(cfg, owner="v2", max_owned=2)  # another visitor
    assert store.active_owned("v1") == 2 and store.active_owned("v2") == 1
    ended = store.list(limit=1)[0]["id"]
    store.set_status(ended, "failed", error="x")  # an ended run no longer counts
    assert store.active_owned("v2") == 0
    assert '"owner"' not in store.export_table("json") and '"owner"' not in store.export(ended, "json")


def test_the_guard_refuses_every_write_on_the_server_whatever_the_page_drew(monkeypatch, store):
    """The lowest layer that knows the visitor: stabviz.ui.guard, called outside any page (as a rerun
    that skipped the page's checks would reach it)."""
    import streamlit as st

    from stabviz.ui import guard, runlaunch

    _shared(monkeypatch)
    mine, theirs = _ended(store, sharing.LOCAL_VISITOR), _ended(store, OTHER)
    queued = store.create(TrainConfig(lif=LIFConfig(), train_steps=10), owner=OTHER)
    store.delete([theirs])  # by its owner: nobody else may bring it back
    writes = (
        lambda r: guard.delete(store, [r]),
        lambda r: guard.set_tags(store, r, ["graffiti"]),
        lambda r: guard.undelete(store, [r]),
    )
    try:
        for token, run_id in ((None, mine), ("guess", mine), (TOKEN, theirs)):
            st.session_state[guard.TOKEN] = token
            for write in writes:
                with pytest.raises(guard.Refused, match="type the run token|not the run token|launched by someone"):
                    write(run_id)
            with pytest.raises(guard.Refused):
                guard.cancel(runlaunch.launcher(), queued)
        assert store.get(mine)["deleted"] is None and store.get(theirs)["deleted"] is not None
        assert store.get(mine)["tags"] is None and store.get(theirs)["tags"] is None
        assert store.get(queued)["status"] == "queued"
        st.session_state[guard.TOKEN] = TOKEN  # the owner, with the token
        assert guard.set_tags(store, mine, ["baseline"]) == ["baseline"] and guard.delete(store, [mine]) == [mine]
        assert guard.undelete(store, [mine]) == [mine]
    finally:
        del st.session_state[guard.TOKEN]


def test_no_page_writes_the_store_past_the_guard():
    """Every call of a write method of the run store or of a launcher from stabviz.ui is in
    stabviz/ui/guard.py, so a new control cannot forget the shared mode's checks."""
    import ast
    import inspect

    from stabviz.runs.local import Launcher
    from stabviz.runs.store import RunStore

    writes = {
        name for name, f in inspect.getmembers(RunStore, inspect.isfunction) if "self._write()" in inspect.getsource(f)
    }
    writes |= {name for name in vars(Launcher) if not name.startswith("_") and name != "wait"}
    assert {"delete", "undelete", "set_tags", "request_cancel", "create_many", "cancel", "submit"} <= writes
    # the background jobs (measured maps, the verdict's check: stabviz/ui/jobs.py) have their own submit
    # (a worker process or thread, no run store): not writes of runs
    elsewhere = {("jobs.py", "submit"), ("measuredlayer.py", "submit"), ("outcome.py", "submit")}
    # guard.delete(...) is the gate itself; runlaunch.submit...(...) are stabviz/ui/runlaunch.py's functions, which
    # pass through guard.launch (that file is read here too)
    ui = Path(__file__).resolve().parents[1] / "stabviz" / "ui"
    found = []
    for source in ui.rglob("*.py"):
        if source.name == "guard.py":
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in writes
                and (source.name, node.func.attr) not in elsewhere
                and not (isinstance(node.func.value, ast.Name) and node.func.value.id in ("guard", "runlaunch"))
            ):
                found.append(f"{source.relative_to(ui)}:{node.lineno} calls .{node.func.attr}(")
    assert found == []


# ---------------------------------------------------------------------------------------------
# 2. User-supplied text is shown as text


def test_plain_shows_every_character_literally_and_breaks_every_markup():
    for text in (*PAYLOADS, EVIL, "a\\b *c* _d_ `e` # f | g ~h~ > i", "https://evil.example/x?y=1&z=2"):
        assert shown(plain(text)) == text
        assert_rendered_as_text(plain(text))
    assert shown(plain("two\n\nlines  and\ttabs")) == "two lines and tabs"  # one line: no new blocks


def test_link_values_are_echoed_as_text_in_the_warnings(store):
    params = {
        "shape": PAYLOADS[0],
        "dampening": PAYLOADS[1],
        "reset": PAYLOADS[2],
        "formula": PAYLOADS[3],
        "n_rec": PAYLOADS[4],
        "seed": PAYLOADS[5],
        "init_rec": PAYLOADS[6],
        "voltage_model": PAYLOADS[7],
        "map": EVIL,
        "color": EVIL,
    }
    at = open_app(params)
    warning = " ".join(w.value for w in at.warning)
    for payload in PAYLOADS:
        assert plain(repr(payload)) in warning  # shown, escaped
    for body in bodies(at):
        assert_rendered_as_text(body)
    _sweep(store, "sweep1", "dampening", [0.5, 2.0])  # a run, and a sweep: the pages read the links
    for page, name in ((RUNS, "run"), (SWEEP, "sweep")):
        at = open_app({name: EVIL}, page=page)
        assert any(plain(repr(EVIL)) in w.value for w in at.warning)
        for body in bodies(at):
            assert_rendered_as_text(body)


def test_a_stored_run_error_is_shown_as_text_to_every_viewer(store):
    from stabviz.runs import sweep_configs

    run_id = store.create(TrainConfig(task="shd", data_path=EVIL))
    store.set_status(run_id, "failed", error=f"data file could not be read: {EVIL} is missing")
    base = TrainConfig(lif=preset("shd-tau20"), train_steps=5)
    points = sweep_configs(base, "dampening", [0.5, 2.0])
    spec = {
        "x": "dampening",
        "x_values": [0.5, 2.0],
        "y": None,
        "y_values": None,
        "base": base.to_dict(),
        "launcher": "local",
    }
    ids = store.create_many(
        [(cfg, {"id": "sweepevil", "label": EVIL, "point": p}) for p, cfg in points], sweep_spec=("sweepevil", spec)
    )
    store.set_status(ids[0], "failed", error=EVIL)
    at = open_app({"run": run_id}, page=RUNS)
    errors = [e.value for e in at.error]
    assert any(f"The run failed: {plain('data file could not be read: ' + EVIL)}" in e for e in errors), errors
    for body in bodies(at):
        assert_rendered_as_text(body)
    at = open_app(page=SWEEP)
    assert any(plain(EVIL) in e.value for e in at.error)
    for body in bodies(at):
        assert_rendered_as_text(body)


@pytest.mark.parametrize("error", [ValueError(EVIL), RuntimeError(EVIL)])
def test_the_pages_error_boundary_shows_the_error_as_text(monkeypatch, error):
    from stabviz.ui.pages import learn

    def broken(cfg):
        raise error

    monkeypatch.setattr(learn, "render", broken)
    at = open_app(page=LEARN)
    assert any(plain(EVIL) in e.value for e in at.error), [e.value for e in at.error]
    for body in bodies(at):
        assert_rendered_as_text(body)


# ---------------------------------------------------------------------------------------------
# 3. Server paths: existing and missing look the same


def test_the_runs_page_does_not_tell_an_existing_path_from_a_missing_one(store, tmp_path):
    existing = tmp_path / "secret.h5"
    existing.write_bytes(b"not hdf5 at all")
    missing = tmp_path / "nothere.h5"
    pages = []
    for path in (existing, missing):
        at = open_app(page=RUNS)
        [t for t in at.text_input if t.label.startswith("Data file")][0].set_value(str(path))
        _launch(at, Task="shd")
        ids = [r["id"] for r in store.list()]
        text = [re.sub("|".join(i[:8] for i in ids), "RUN", t) for t in _texts(at)]
        pages.append([t.replace(str(path), "PATH") for t in text if not t.startswith("Server rerun")])
    assert pages[0] == pages[1]
    assert len(store.list()) == 2  # both queued: validation never looks
    from stabviz import tasks  # and the worker's error is one message

    messages = []
    for path in (existing, missing):
        with pytest.raises(ValueError) as err:
            tasks.load_task(TrainConfig(task="shd", data_path=str(path)))
        messages.append(str(err.value).replace(str(path), "PATH"))
    assert messages[0] == messages[1]


def test_a_shared_dashboard_takes_no_path_at_all(monkeypatch, store, tmp_path):
    """A visitor cannot probe the server's files: no path field, and a path sent past the page is refused
    with one message whether it exists or not."""
    from stabviz.ui import runlaunch

    monkeypatch.setenv("STABVIZ_SHARED", "1")
    monkeypatch.setenv("STABVIZ_RUN_TOKEN", TOKEN)
    at = open_app(page=RUNS)
    assert not [t for t in at.text_input if t.label.startswith("Data file")]
    existing = tmp_path / "secret.h5"
    existing.write_bytes(b"x")
    refusals = []
    for path in (existing, tmp_path / "nothere.h5"):
        why = sharing.refusal(TOKEN, 0, 1, [str(path)])
        refusals.append(why)
        with pytest.raises(ValueError):
            runlaunch.submit(TrainConfig(task="shd", data_path=str(path)))  # no session token: refused too
    assert refusals[0] == refusals[1] and "only the data files" in refusals[0]
    assert store.list() == []


def test_the_dashboard_never_checks_whether_a_path_exists():
    ui = Path(__file__).resolve().parents[1] / "stabviz" / "ui"
    for source in ui.rglob("*.py"):
        text = source.read_text()
        for call in (".exists(", "isfile(", "is_file(", "isdir(", "is_dir(", "os.stat(", "os.access(", "lstat("):
            assert call not in text, f"{source.name} calls {call}"


# ---------------------------------------------------------------------------------------------
# 4. The Sweep page: 1-D sweeps and ?sweep= links


def _sweep(store, sweep_id, x, xs, y=None, ys=None):
    from stabviz.runs import sweep_configs

    base = TrainConfig(lif=preset("shd-tau20"), train_steps=5)
    spec = {"x": x, "x_values": xs, "y": y, "y_values": ys, "base": base.to_dict(), "launcher": "local"}
    points = sweep_configs(base, x, xs, y, ys)
    return store.create_many(
        [(cfg, {"id": sweep_id, "label": "p", "point": p}) for p, cfg in points], sweep_spec=(sweep_id, spec)
    )


def test_a_1d_sweep_is_drawn_and_sweep_links_select_their_sweep(store):
    import time

    _sweep(store, "aaaa2d000001", "dampening", [0.3, 1.0, 3.0], "sharpness", [0.5, 2.0])
    time.sleep(0.01)
    ids = _sweep(store, "bbbb1d000002", "dampening", [0.3, 1.0, 3.0])  # newest: the default
    store.set_status(ids[1], "running")
    store.set_status(ids[1], "finished", summary={"final": {"accuracy": 0.7}})
    at = open_app(page=SWEEP)
    assert at.selectbox(key="sweep_choice").value == "bbbb1d000002"
    assert at.get("progress")[0].proto.text == "1 of 3 runs ended"
    assert at.get("plotly_chart")  # the curve
    for link, want in (("aaaa2d000001", "aaaa2d000001"), ("aaaa", "aaaa2d000001"), ("bbbb1d000002", "bbbb1d000002")):
        at = open_app({"sweep": link}, page=SWEEP)
        assert at.selectbox(key="sweep_choice").value == want and not at.warning, [w.value for w in at.warning]
        assert at.query_params["sweep"] in (want, [want])
    at = open_app({"sweep": "nope"}, page=SWEEP)
    assert any("sweep = 'nope'" in shown(w.value) for w in at.warning)
    # a sweep's id in the Runs page's run= (a finished sweep's link, pasted there) opens its first run
    at = open_app({"run": "aaaa2d000001"}, page="runs")
    assert not at.warning and at.selectbox(key="run_choice").value == store.sweep("aaaa2d000001")["runs"][0]["id"]


def test_a_link_asking_for_a_huge_measured_model_is_refused_before_allocating():
    """`/?voltage_model=measured&n_in=100000` made the server allocate about 15 GB; the memory estimate
    now refuses it with the reason on the page, and the process does not grow."""
    import resource

    from streamlit.testing.v1 import AppTest

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    at.query_params.update({"voltage_model": "measured", "n_in": "100000"})
    at.run()
    assert not at.exception
    assert any("STABVIZ\\_MAX\\_MEMORY\\_MB" in e.value and "14\\.4 GB" in e.value for e in at.error)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 500


# -- 5. Safe file output (issue 20): stabviz.safeio, the one writer every command uses ----------------------
# Only temporary decoys: a link in tmp_path to another tmp file, a FIFO made with os.mkfifo in tmp_path.

import os  # noqa: E402
import stat  # noqa: E402

from stabviz import safeio  # noqa: E402


def test_safe_write_refuses_a_symlink_and_leaves_its_target_alone(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "out.csv"
    link.symlink_to(victim)
    for force in (False, True):
        with pytest.raises(safeio.UnsafeOutput, match="symbolic link"):
            safeio.write_text(link, "overwritten", force=force)
    assert victim.read_text() == "precious" and link.is_symlink()
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "not-yet")  # a link to a missing file would create its target
    with pytest.raises(safeio.UnsafeOutput, match="symbolic link"):
        safeio.write_text(dangling, "x")
    assert not (tmp_path / "not-yet").exists()


@pytest.mark.timeout(30, method="thread")
def test_safe_write_refuses_a_fifo_at_once_and_a_directory(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # opening it for writing would block until a reader came
    with pytest.raises(safeio.UnsafeOutput, match="FIFO"):
        safeio.write_text(fifo, "x", force=True)
    with pytest.raises(safeio.UnsafeOutput, match="Is a directory"):
        safeio.write_text(tmp_path, "x", force=True)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_safe_write_replaces_an_existing_file_only_with_force_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "out.json"
    safeio.write_text(out, "one")
    with pytest.raises(safeio.UnsafeOutput, match="--force"):
        safeio.write_text(out, "two")
    assert out.read_text() == "one"
    safeio.write_text(out, "two", force=True)
    assert out.read_text() == "two" and sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # as open() would create it


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with safeio.open_output(out, force=True) as f:
            f.write("half")
            raise RuntimeError("the export failed half way")
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_file_that_appears_while_writing_is_not_replaced_without_force(tmp_path):
    out = tmp_path / "out.txt"
    with pytest.raises(safeio.UnsafeOutput, match="--force"):
        with safeio.open_output(out) as f:
            f.write("mine")
            out.write_text("theirs")  # created meanwhile by someone else
    assert out.read_text() == "theirs"


def test_an_output_folder_is_never_root_nor_a_link_and_keeps_its_results(tmp_path):
    for root in ("/", "//", "/.."):
        with pytest.raises(safeio.UnsafeOutput, match="root"):
            safeio.prepare_dir(root, ["summary.json"])
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    for name in (link, f"{link}/"):
        with pytest.raises(safeio.UnsafeOutput, match="symbolic link"):
            safeio.prepare_dir(name, ["summary.json"], force=True)
    (real / "summary.json").write_text("{}")
    with pytest.raises(safeio.UnsafeOutput, match="summary.json.*--force"):
        safeio.prepare_dir(real, ["summary.json", "runs.json"])
    assert safeio.prepare_dir(real, ["summary.json"], force=True) == real
    fresh = safeio.prepare_dir(tmp_path / "new" / "dir", ["summary.json"])
    assert fresh.is_dir()


def test_a_long_file_name_that_fits_is_written(tmp_path):
    out = tmp_path / ("é" * 120 + ".csv")  # 244 bytes: the longest names still fit beside it
    safeio.write_text(out, "x")
    assert out.read_text() == "x" and len(list(tmp_path.iterdir())) == 1
