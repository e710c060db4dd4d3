"""The training-outcome dataset, the outcome model fitted on it, and the advice read from the model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from stabviz.config import LIFConfig, TrainConfig, preset
from stabviz.evidence import outcomes as dataset
from stabviz.outcomes import advice, features, fit, model
from stabviz.tasks import CUE_GAP, CUE_STEPS, CUES, RECALL_STEPS, cues

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# the dataset's design and its long-horizon task


def test_the_quick_dataset_spans_the_space_a_user_can_pick():
    runs = dataset.design(dataset.SIZES["quick"])
    settings = {dataset._cell_of(r) for r in runs}
    assert len(settings) >= 300 and len(runs) >= 3 * 300
    assert {r.base["task"] for r in runs} == {"digits", "randman", "cues"}
    assert {r.budget for r in runs} == {200, 1000}
    assert {r.base["layers"] for r in runs} == {1, 2}
    assert {r.choice["init"] for r in runs} >= {"glorot-uniform", "he-normal", "orthogonal", "conditions"}
    assert len({r.base["shape"] for r in runs}) >= 5 and len({r.base["reset"] for r in runs}) == 3
    assert min(r.config.time_steps for r in runs if r.base["task"] == "cues") >= 200
    # every base runs every choice: the regret of a recommendation is measured against its own base's grid
    per_base = {}
    for r in runs:
        per_base.setdefault((r.base["base"], r.budget), set()).add(
            (r.choice["init"], r.choice["dampening"], r.choice["sharpness"])
        )
    assert {len(c) for b, c in per_base.items() if b[1] == 200} == {18}


def test_cues_answer_depends_on_input_more_than_100_steps_back():
    data = cues(n_in=40, samples=300, T=200, seed=3)
    x, y = data.x.numpy(), data.y.numpy()
    group = 10
    last_cue_end = CUES * (CUE_STEPS + CUE_GAP) - CUE_GAP
    assert 200 - RECALL_STEPS - last_cue_end >= 100
    left = x[:, :last_cue_end, :group].sum(axis=(1, 2))
    right = x[:, :last_cue_end, group : 2 * group].sum(axis=(1, 2))
    assert np.mean((right > left) == (y == 1)) > 0.9  # the label is the side with more cue spikes
    assert x[:, last_cue_end:, : 2 * group].sum() == 0  # nothing about the answer after the cues
    assert 0.3 < y.mean() < 0.7
    assert torch.equal(cues(samples=50, seed=1).x, cues(samples=50, seed=1).x)
    with pytest.raises(ValueError, match="T = 100 must be a whole number >= 180"):
        cues(T=100)


def test_the_last_loss_reads_only_the_last_step():
    from stabviz.train import predicted_class, task_loss

    readout = torch.randn(4, 10, 3)
    target = torch.tensor([0, 1, 2, 1])
    changed = readout.clone()
    changed[:, :-1] += 5 * torch.randn(4, 9, 3)
    assert task_loss(readout, target, "last") == pytest.approx(float(task_loss(changed, target, "last")))
    assert torch.equal(predicted_class(readout, "last"), predicted_class(changed, "last"))
    ensemble = torch.stack([readout, changed])
    assert torch.allclose(
        task_loss(ensemble, torch.stack([target, target]), "last"), task_loss(readout, target, "last").repeat(2)
    )


def test_a_tiny_dataset_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setitem(dataset.SIZES, "smoke", dataset.Size({"digits": 1}, 1, 2, 3, ("digits",)))
    monkeypatch.setattr(dataset, "GAMMAS", (1.0,))
    monkeypatch.setattr(dataset, "BETAS", (1.0,))
    summary = dataset.generate("smoke", tmp_path, jobs=1, command="test")
    rows = json.loads((tmp_path / "runs.json").read_text())
    assert summary["runs"] == len(rows) == 3 and {r["budget"] for r in rows} == {2, 3}
    for r in rows:
        assert r["status"] in ("finished", "diverged") and r["T"] == 16
        assert isinstance(r["collapsed"], bool) and r["best"] >= r["chance"]
        for key in ("predicted_log10_gain", "measured_log10_gain", "probe_log10_gain", "measured_rate"):
            assert r[key] is None or math.isfinite(r[key])
    with pytest.raises(ValueError, match="jobs = 0 is outside the allowed range"):
        dataset.generate("smoke", tmp_path / "x", jobs=0)


# ---------------------------------------------------------------------------------------------
# the model


def _rows(task: str, n: int, rng: np.random.Generator) -> list[dict]:
    """Synthetic runs whose collapse follows the initial gain (above ~ +3 decades)."""
    out = []
    for k in range(n):
        g = float(rng.uniform(-30, 15))
        collapsed = bool(g + rng.normal(0, 2) > 3)
        out.append(
            {
                "task": task,
                "base": f"{task}-{k // 18}",
                "budget": 200,
                "T": 50,
                "layers": 1,
                "init": "conditions" if k % 2 else "glorot-uniform",
                "dampening": [0.25, 1.0, 4.0][k % 3],
                "sharpness": [0.25, 1.0, 4.0][(k // 3) % 3],
                "status": "finished",
                "chance": 20.0,
                "accuracy": 25.0 if collapsed else 90.0 - abs(g) / 10,
                "collapsed": collapsed,
                "shortfall_fraction": 0.9 if collapsed else 0.05,
                "measured_log10_gain": g,
                "measured_rate": 0.3,
                "predicted_log10_gain": g + 1,
                "predicted_rate": 0.3,
            }
        )
    return out


def test_the_fit_ranks_collapse_on_a_held_out_task():
    rng = np.random.default_rng(0)
    rows = _rows("a", 180, rng) + _rows("b", 180, rng)
    val = fit.validate(rows, "measured")
    for task in ("a", "b"):
        t = val["tasks"][task]
        assert t["auc"] > 0.9
        assert sum(b["n"] for b in t["calibration"]) == 180
        assert all(r["regret"] >= 0 for r in t["bases"])
    part = fit.fit_part(rows, "measured")
    p = model.p_collapse(features.matrix(rows, "measured"), part)
    from sklearn.linear_model import LogisticRegression

    x = features.matrix(rows, "measured")
    z = (x - np.array(part["mean"])) / np.array(part["scale"])
    ref = LogisticRegression(C=fit.C, max_iter=2000).fit(z, [r["collapsed"] for r in rows]).predict_proba(z)[:, 1]
    assert np.allclose(p, ref, atol=1e-9)  # the shipped form reproduces scikit-learn's
    s = model.shortfall(np.array([0.01, 0.99]), part)
    assert s[0] < s[1]  # isotonic: more risk, more shortfall


def test_verdict_words_commit_only_outside_the_middle():
    assert model.verdict_word(0.1) == "expected to train"
    assert model.verdict_word(0.5) == "at risk"
    assert model.verdict_word(0.95) == "will collapse"
    assert model.verdict_word(math.nan) == "at risk"


def test_features_read_a_vanished_gain_as_the_clip():
    assert features.row(None, None, 100, 200, 1, "glorot-uniform")[0] == -features.GAIN_CLIP / 10
    assert features.row(1e9, 0.5, 100, 200, 2, "conditions")[:2] == [4.0, 4.0]
    with pytest.raises(ValueError, match="source = 'x' is not one of"):
        features.matrix([], "x")


# ---------------------------------------------------------------------------------------------
# the shipped model and the advice


def test_the_shipped_model_carries_its_provenance_and_validation():
    m = model.load()
    assert m["provenance"]["command"].startswith("python -m stabviz outcomes")
    assert m["provenance"]["commit"] and m["provenance"]["date"]
    for source in features.SOURCES:
        assert len(m["sources"][source]["coef"]) == len(features.NAMES)
        assert set(m["validation"][source]["tasks"]) == {"digits", "randman", "cues"}


def test_the_shipped_model_is_what_the_script_fits_on_the_shipped_data():
    rows = json.loads((ROOT / "docs/evidence/outcomes/runs.json").read_text())
    shipped = model.load()
    assert shipped["rows"] == len(rows)
    for source in features.SOURCES:
        part = fit.fit_part(rows, source)
        assert np.allclose(part["coef"], shipped["sources"][source]["coef"], atol=1e-6)


def test_recommendations_are_whole_settings_never_harmful():
    cfg = preset("shd-tau20", n_rec=64, steps=50)
    rec = advice.recommend(cfg)
    assert 0 <= rec["p_collapse"] <= 1 and rec["verdict"] in model.VERDICTS
    shortfalls = [o["shortfall"] for o in rec["options"]]
    assert shortfalls == sorted(shortfalls)
    extrapolated = any("extrapolates" in n for n in rec["notes"])
    for o in rec["options"]:
        assert o["firing_rate"] >= 0.01 and (extrapolated or not o["harmful"] and o["p_collapse"] <= advice.HARMFUL)
        assert o["init_rec"] in (cfg.init_rec, "conditions") and o["why"]
    for o in rec["paper"]:
        assert o["evidence"] in (
            "harmful in the outcome data",
            "not harmful in the outcome data",
            "the model extrapolates here",
        )
    applied, what = advice.recommended_setting(cfg)
    if rec["options"]:
        best = rec["options"][0]
        assert (applied.dampening, applied.sharpness, applied.init_rec) == (
            best["dampening"],
            best["sharpness"],
            best["init_rec"],
        )
    else:
        assert applied == cfg and "unchanged" in what["notes"][-1]
    with pytest.raises(ValueError, match="budget = 0 is outside the allowed range"):
        advice.recommend(cfg, budget=0)


def test_when_the_model_calls_every_choice_harmful_the_ranking_decides_and_says_so(monkeypatch):
    monkeypatch.setattr(advice, "HARMFUL", -1.0)
    cfg = LIFConfig(n_rec=16, n_in=10, steps=20)
    rec = advice.recommend(cfg)
    ranked = [(c.dampening, c.sharpness, c.init_rec) for c, _ in advice.candidates(cfg)]
    firing = [(o["dampening"], o["sharpness"], o["init_rec"]) for o in rec["options"]]
    assert firing and firing == [k for k in ranked if k in firing]  # the ranking's order
    assert any("extrapolates" in n for n in rec["notes"])


def test_when_no_choice_fires_the_setting_stays(monkeypatch):
    monkeypatch.setattr(advice, "fires", lambda rate, dead_rate=0.01: False)
    cfg = LIFConfig(n_rec=16, n_in=10, steps=20)
    applied, what = advice.recommended_setting(cfg)
    assert applied == cfg and what["label"] is None
    assert any("harmful" in n for n in what["notes"])


def test_a_recommended_run_trains_the_whole_recommended_setting():
    from stabviz import train

    cfg = TrainConfig(
        task="randman",
        lif=LIFConfig(n_rec=16, n_in=10),
        classes=2,
        samples=60,
        time_steps=10,
        train_steps=2,
        batch=8,
        device="cpu",
        use_recommended_setting=True,
    )
    summary = train.run(cfg)
    applied = summary["recommended_sg"]
    if applied["label"] is not None:
        assert summary["lif"]["init_rec"] == applied["init_rec"]
        assert summary["lif"]["dampening"] == applied["dampening"]
        assert summary["lif"]["sharpness"] == applied["sharpness"]


def test_a_variant_s_verdict_says_the_model_never_saw_its_neuron():
    """Every run of the outcome data trained a LIF (checked here), so an alif's or a cuba's verdict and advice
    carry that caveat; a LIF's carry none."""
    runs = json.loads((Path(__file__).resolve().parent.parent / "docs/evidence/outcomes/runs.json").read_text())
    assert runs and all(r.get("neuron", "lif") == "lif" for r in runs)
    lif = preset("shd-tau20", n_rec=64)
    assert advice.verdict(lif, source="predicted")["caveat"] is None
    assert not any("fitted on LIF runs only" in n for n in advice.recommend(lif)["notes"])
    for neuron in ("alif", "cuba"):
        cfg = lif.replace(neuron=neuron)
        caveat = advice.verdict(cfg, source="predicted")["caveat"]
        assert "fitted on LIF runs only" in caveat and neuron in caveat
        assert advice.recommend(cfg)["notes"][0] == caveat
