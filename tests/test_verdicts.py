"""The verdict messages never contradict each other or the table beside them: every combination of how a run
ended × what each row of its prediction-vs-measurement table says. Plus the sweep heatmap's honest cells
and anchored colours, and the cost estimate's time-limit warning."""

from __future__ import annotations

import itertools

import numpy as np
import plotly.graph_objects as go
import pytest

from stabviz import plots
from stabviz.runs.outcomes import training_outcome
from stabviz.ui import runlive, verdicts

#: how a run ended: (status, final accuracy, steps done, stopped_early)
ENDINGS = {
    "trained": ("finished", 0.87, 100, None),
    "at chance": ("finished", 0.2, 100, None),
    "stopped": ("stopped", 0.3, 77, "time limit"),
    "diverged": ("diverged", 0.2, 12, "non-finite loss"),
    "cancelled": ("cancelled", 0.25, 30, "cancelled"),
    "interrupted": ("interrupted", None, None, None),
    "failed": ("failed", None, None, None),
}
AGREES = (True, False, None)


def make_run(ending: str, regime: bool | None, rho: bool | None, rate: bool | None) -> dict:
    status, acc, steps, early = ENDINGS[ending]
    verdict = {
        "regime": {
            "predicted": "vanishing",
            "measured": "vanishing" if regime is not False else "stable",
            "band": [-50.0, -30.0],
            "agrees": regime,
        },
        "rho": {"predicted": 0.41, "measured": 0.62, "agrees": rho},
        "firing_rate": {"predicted": 0.3, "measured": 0.31, "agrees": rate},
        "rho2": {"predicted": 0.2, "measured": 0.25},
    }
    summary = (
        None
        if steps is None
        else {
            "status": status,
            "stopped_early": early,
            "task": {"n_classes": 5, "test_samples": 200},
            "final": {"accuracy": acc, "steps_done": steps},
            "initial": {"firing_rate": [0.31], "grad_gain": 0.62},
            "lif": {"steps": 100},
            "verdict": verdict,
        }
    )
    return {
        "id": "abcdef123456",
        "status": status,
        "config": {"task": "randman", "classes": 5, "train_steps": 100},
        "summary": summary,
    }


CASES = list(itertools.product(ENDINGS, AGREES, AGREES, AGREES))


@pytest.mark.parametrize("ending, regime, rho, rate", CASES)
def test_no_two_messages_contradict_each_other_or_the_table(ending, regime, rho, rate):
    run = make_run(ending, regime, rho, rate)
    messages = verdicts.run_messages(run, "T = 100")
    outcome = training_outcome([run])
    # 1. the first message is how training went, in its colour; green only for a run that trained
    assert messages[0] == (outcome["tone"], outcome["sentence"])
    assert (outcome["tone"] == "success") == (ending == "trained")
    assert [tone for tone, _ in messages].count("success") <= 1
    # 2. the outcome leads with what happened, never a result for a run that did not finish
    lead = {
        "trained": "Trained: 87%",
        "at chance": "Gradients vanished; accuracy stayed at chance",
        "stopped": "Stopped at 77/100 (time limit)",
        "diverged": "Diverged at 12/100 (non-finite loss)",
        "cancelled": "Cancelled at 30/100",
        "interrupted": "Interrupted",
        "failed": "Failed",
    }[ending]
    if ending == "at chance" and regime is False:
        lead = "Gradients stayed stable; accuracy stayed at chance"
    assert outcome["sentence"].startswith(lead), outcome["sentence"]
    # 3. the prediction's message is neutral and says no more than the table
    said = [text for tone, text in messages[1:]]
    assert all(tone == verdicts.NEUTRAL for tone, _ in messages[1:])
    if run["summary"] is None or regime is None:
        assert said == []
        return
    (text,) = said
    table = {row["quantity"]: row["agrees"] for row in runlive.comparison_rows(run)}
    noes = [q for q, a in table.items() if a == "no"]
    if noes:
        assert "Prediction **confirmed**" not in text
    else:
        assert text.startswith("Prediction **confirmed**")
    if regime is False:
        assert text.startswith("Prediction **refuted**")
    elif rho is False or rate is False:
        assert text.startswith("Prediction **partly confirmed**")
    for key, label in (("rho", "per-step gain"), ("firing_rate", "initial firing rate")):
        flag = {"rho": rho, "firing_rate": rate}[key]
        if flag is False:
            assert f"the {label}" in text and "disagrees" in text


def test_the_reported_contradiction_is_gone():
    # A green "Prediction confirmed" over a table row "per-step gain ... agrees: no", for a run at chance.
    run = make_run("at chance", True, False, True)
    messages = verdicts.run_messages(run, "T = 100")
    assert "success" not in [tone for tone, _ in messages]
    assert messages[0][1].startswith("Gradients vanished; accuracy stayed at chance: 20% (chance 20%)")
    assert messages[1][1].startswith("Prediction **partly confirmed**")
    assert "per-step gain (ρ vs ρ̂) disagrees (predicted 0.41, measured 0.62)" in messages[1][1]


def test_a_group_says_how_its_seeds_trained_first_and_its_interval_verdict_neutrally():
    members = [make_run("at chance", True, True, True) for _ in range(3)]
    group = {
        "verdict": {
            "members": 3,
            "confidence": 0.95,
            "agrees": True,
            "rho": {"agrees": True, "predicted": 0.41, "interval": [0.4, 0.45], "accepts": [0.3, 0.6]},
            "firing_rate": {"agrees": True, "predicted": 0.3, "interval": [0.28, 0.33], "accepts": [0.2, 0.4]},
        },
        "error": None,
    }
    messages = verdicts.group_messages(members, group)
    assert messages[0][0] == "warning"
    assert messages[0][1].startswith("Over 3 seeds: Gradients vanished; mean accuracy stayed at chance")
    assert messages[1][0] == verdicts.NEUTRAL and "the prediction agrees" in messages[1][1]
    running = [*members[:2], {**members[2], "status": "running"}]
    assert [tone for tone, _ in verdicts.group_messages(running, group)] == [verdicts.NEUTRAL]


# -- the sweep heatmap ---------------------------------------------------------------------------------


def test_a_diverged_cell_is_never_coloured_and_accuracy_is_anchored_at_chance():
    # the reported 2 × 2 sweep: every run at chance, the one at β 0.3, γ 3 diverged
    z = np.array([[0.195, 0.197], [0.200, 0.196]])
    marks = np.array([["", ""], ["diverged", ""]], dtype=object)
    fig = plots.sweep_map(
        [0.3, 3.0],
        [0.3, 3.0],
        z,
        x_name="sharpness",
        y_name="dampening",
        metric="final accuracy",
        marks=marks,
        scale=plots.sweep_scale("final accuracy", 0.2),
    )
    measured = next(t for t in fig.data if t.name == "measured")
    bad = next(t for t in fig.data if t.name == plots.NO_RESULT)
    assert np.isnan(np.asarray(measured.z, float)[1, 0])  # not coloured as a result
    assert np.asarray(bad.text)[1, 0].startswith("diverged")
    assert (measured.zmin, measured.zmax) == (0.2, 1.0)  # chance to 1, not 0.195 to 0.200
    assert measured.colorbar.ticktext[0] == "chance 0.2" and measured.colorbar.tickvals[0] == 0.2
    assert isinstance(measured, go.Heatmap)


def test_sweep_scales_centre_gains_where_stable_and_rates_on_zero_to_one():
    assert plots.sweep_scale("measured log₁₀ gain over T (T·log₁₀ ρ̂)") == {"zmid": 0.0}
    assert plots.sweep_scale("measured ρ̂ (per-step gradient gain)") == {"zmid": 1.0}
    assert plots.sweep_scale("initial firing rate (layer 0)") == {"zmin": 0.0, "zmax": 1.0}


def test_the_sweep_grid_colours_only_finished_runs_and_names_the_others():
    from stabviz.ui.pages import sweep

    def r(status, x, y, acc, steps=100, early=None):
        return {
            "status": status,
            "sweep_point": {"sharpness": x, "dampening": y},
            "config": {"train_steps": 100, "lif": {}},
            "summary": {"final": {"accuracy": acc, "steps_done": steps}, "stopped_early": early},
        }

    runs = [
        r("finished", 0.3, 0.3, 0.2),
        r("diverged", 0.3, 3.0, 0.2, 12, "non-finite loss"),
        r("stopped", 3.0, 0.3, 0.5, 77, "time limit"),
        r("running", 3.0, 3.0, None),
    ]
    z, done = sweep.grid(runs, "sharpness", "dampening", [0.3, 3.0], [0.3, 3.0], "final accuracy")
    assert done == 3 and z[0, 0] == 0.2 and np.isnan(z[1, 0]) and np.isnan(z[0, 1]) and np.isnan(z[1, 1])
    names = sweep.marks(runs, "sharpness", "dampening", [0.3, 3.0], [0.3, 3.0])
    assert names.tolist() == [["", "stopped 77/100"], ["diverged", ""]]


def test_a_one_parameter_sweep_draws_runs_without_a_result_as_grey_crosses_not_pending_points():
    from stabviz.ui import figures

    fig = figures.sweep_curve(
        [0.3, 1.0, 3.0], [0.2, np.nan, np.nan], "sharpness", "final accuracy", True, ["", "diverged", ""]
    )
    measured, pending, bad = fig.data
    assert list(measured.x) == [0.3] and list(pending.x) == [3.0]
    assert list(bad.x) == [1.0] and list(bad.text) == ["diverged"] and bad.name == plots.NO_RESULT
