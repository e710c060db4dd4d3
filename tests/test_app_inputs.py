"""Input that never fails silently (issue 19, item 7): a bad number is named in writing beside its field,
with the allowed range, and never replaced by a minimum; Launch and Start are disabled with the reason
while a field is invalid or a sweep is over the queue limit; a link's repeated or unknown parameters and
an unknown page are reported; a gain over T too small for a float is still shown."""

import re
from pathlib import Path

import pytest
from support import open_app, shown

from stabviz import plots
from stabviz.config import LIFConfig
from stabviz.ui import state

RUNS, SWEEP = "runs", "sweep"


@pytest.fixture(autouse=True)
def temp_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    return tmp_path


def _errors(at):
    return [shown(e.value) for e in at.error]


def _metric(at, label_start):
    return next(m.value for m in at.metric if m.label.startswith(label_start))


def test_clearing_neurons_n_says_so_and_keeps_the_setting_instead_of_n_2():
    at = open_app({"n_rec": "64"})
    at.number_input(key="lif_n_rec").set_value(None).run()
    assert not at.exception
    assert any("Neurons n is empty" in e and "[2, 8192]" in e and "keeps n_rec = 64" in e for e in _errors(at)), (
        _errors(at)
    )
    assert at.query_params.get("n_rec") in ("64", ["64"])  # the setting (and the link) keep n = 64


@pytest.mark.parametrize("typed", [-5, 99999999])
def test_an_out_of_range_neurons_n_is_named_with_its_range(typed):
    at = open_app()
    before = _metric(at, "$\\rho^2$")
    at.number_input(key="lif_n_rec").set_value(typed).run()
    assert not at.exception
    assert any(f"n_rec = {typed} is outside the allowed range [2, 8192]" in e for e in _errors(at)), _errors(at)
    assert _metric(at, "$\\rho^2$") == before and "n_rec" not in at.query_params


@pytest.mark.parametrize(
    "field,typed,says",
    [
        ("launch_lr", -1.0, "lr = -1.0 is outside the allowed range (0, 10]"),
        ("launch_train_steps", 99999999, "train_steps = 99999999 is outside"),
    ],
)
def test_an_invalid_runs_field_disables_launch_with_the_reason(field, typed, says):
    at = open_app(page=RUNS)
    launch = at.button(key="launch_run")
    assert not launch.disabled
    at.number_input(key=field).set_value(typed).run()
    assert not at.exception
    assert any(says in e for e in _errors(at)), _errors(at)
    assert at.button(key="launch_run").disabled
    assert any("Launch is disabled" in shown(c.value) and says in shown(c.value) for c in at.caption)


def test_a_sweep_over_the_queue_limit_disables_start_with_the_reason():
    at = open_app(page=SWEEP)
    at.text_input(key="sweep_x_values").set_value(", ".join(str(0.1 * k) for k in range(1, 21))).run()
    at.text_input(key="sweep_y_values").set_value(", ".join(str(0.1 * k) for k in range(1, 13))).run()
    assert not at.exception
    start = next(b for b in at.button if b.label == "Start sweep")
    assert start.disabled
    assert any("240 runs" in shown(w.value) and "at most 50" in shown(w.value) for w in at.warning)


def test_a_repeated_link_parameter_is_rejected_with_a_warning():
    at = open_app({"dampening": ["-1", "2"]})
    text = shown(" ".join(w.value for w in at.warning))
    assert "dampening is given 2 times in the link" in text, text
    assert at.select_slider(key="lif_dampening").value == LIFConfig().dampening  # neither value is used


def test_a_repeated_page_parameter_is_rejected_with_a_warning():
    at = open_app({"map": ["leak", "tail"]})
    assert "map is given 2 times in the link" in shown(" ".join(w.value for w in at.warning))


def test_an_unknown_link_parameter_is_reported():
    at = open_app({"dampning": "2"})
    text = shown(" ".join(w.value for w in at.warning))
    assert "'dampning' is not a parameter of this dashboard" in text, text


def test_an_unknown_page_is_reported(monkeypatch):
    from stabviz.ui import app

    monkeypatch.setattr(app, "requested_page", lambda: "nonexistentpage")
    at = open_app()
    assert "No page named 'nonexistentpage'; showing Explore" in shown(" ".join(w.value for w in at.warning))
    assert state.unknown_page("runs", ["", "runs"], "Explore") is None
    assert state.unknown_page("", ["", "runs"], "Explore") is None


def test_every_page_parameter_the_pages_use_is_known():
    """A new page parameter missing from state.PAGE_PARAM_NAMES would be reported as unknown in every link."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in Path(state.__file__).parent.rglob("*.py"))
    used = set(re.findall(r"seed_widget\([^,]+, \"(\w+)\"", source)) | set(re.findall(r"keep_param\(\"(\w+)\"", source))
    assert used and used <= set(state.PAGE_PARAM_NAMES), used - set(state.PAGE_PARAM_NAMES)


def test_the_gain_over_t_reads_at_t_100000():
    at = open_app({"steps": "100000"})
    value = _metric(at, "$\\rho^T$")
    assert value != "0" and re.fullmatch(r"[0-9.]+×10⁻[⁰¹²³⁴⁵⁶⁷⁸⁹]+", value), value


def test_power_text_spells_numbers_beyond_a_float():
    assert plots.power_text(-38484.94) == "1.15×10⁻³⁸⁴⁸⁵"
    assert plots.power_text(-2.5) == "0.00316" and plots.power_text(0.0) == "1"
    assert plots.power_text(float("-inf")) == "0" and plots.power_text(4.0) == "10⁴"


def test_the_confirmation_view_takes_the_pages_full_width(temp_home):
    """(issue 19, item 6) The confirmed runs are followed below the map and the right column, not in it."""
    from stabviz.config import TrainConfig
    from stabviz.runs import RunStore
    from stabviz.ui.pages import explore

    run_id = RunStore(temp_home / "stabviz.db").create(TrainConfig(train_steps=20), launcher="ray")  # never taken
    at = open_app()
    at.session_state[explore.CONFIRMED] = [run_id]
    at.run()
    assert not at.exception
    heading = f"Run {run_id[:8]}: queued"
    assert any(h.value == heading for h in at.main.subheader), [h.value for h in at.main.subheader]
    assert not any(h.value == heading for col in at.main.columns for h in col.subheader)


@pytest.mark.parametrize("typed", [0, 99, None])
def test_an_invalid_seeds_count_disables_confirm_with_the_reason(typed):
    at = open_app()
    at.number_input(key="confirm_seeds").set_value(typed).run()
    assert not at.exception and at.button(key="confirm_run").disabled
    says = "Seeds is empty" if typed is None else f"seeds = {typed} is outside the allowed range [1, 8]"
    assert any(says in e for e in _errors(at)), _errors(at)
