"""Ensembles: E LIF networks stepped together (stabviz.lif) and trained in lockstep (stabviz.train),
equal to E separate layers and runs; the CUDA-graph step's eager fallback; `train --seeds` and
`bench ensemble`."""

import functools
import json

import numpy as np
import pytest
import torch
from test_train import one_thread  # noqa: F401  (autouse: tiny GEMMs run faster on one thread)

from stabviz import lif, memory, train
from stabviz.config import LIFConfig, TrainConfig
from stabviz.lif import (
    CapturedStep,
    EnsembleDynamics,
    LIFEnsemble,
    LIFNetwork,
    group_by_shape,
    recurrent_lif_ensemble,
    recurrent_lif_time_major,
)

RESETS = ["subtract", "mult1", "mult2"]


def member_cfgs(reset: str, reset_grad: bool, shape: str = "fastsigmoid", members: int = 3) -> list[LIFConfig]:
    """Members that differ in every per-member knob (α, θ, γ, β, q) and fire often enough that each
    reset path is exercised."""
    return [
        LIFConfig(
            n_in=5,
            n_rec=6,
            leak=0.7 + 0.05 * k,
            threshold=0.25 + 0.05 * k,
            reset=reset,
            reset_grad=reset_grad,
            shape=shape,
            dampening=0.8 + 0.1 * k,
            sharpness=1.1 + 0.3 * k,
            tail=2.0 + 0.5 * k,
            init_rec="normal",
            rec_std=0.5,
            seed=k,
        )
        for k in range(members)
    ]


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("reset_grad", [False, True])
@pytest.mark.parametrize("shape", ["fastsigmoid", "qpseudospike"])
def test_ensemble_layer_gradients_equal_separate_fast_layers(reset, reset_grad, shape):
    cfgs = member_cfgs(reset, reset_grad, shape)
    gen = torch.Generator().manual_seed(1)
    steps, n, batch = 12, 6, 4
    current = 0.3 + 0.4 * torch.randn(steps, len(cfgs), n, batch, generator=gen, dtype=torch.float64)
    w_rec = 0.5 * torch.randn(len(cfgs), n, n, generator=gen, dtype=torch.float64)
    probe_z = torch.randn(current.shape, generator=gen, dtype=torch.float64)
    probe_y = torch.randn(current.shape, generator=gen, dtype=torch.float64)

    c_e, w_e = current.clone().requires_grad_(), w_rec.clone().requires_grad_()
    z, y = recurrent_lif_ensemble(c_e, w_e, EnsembleDynamics.of(cfgs, torch.float64))
    ((z * probe_z).sum() + (y * probe_y).sum()).backward()
    spiking = float(z.detach().mean())
    assert 0.1 < spiking < 0.9
    for k, cfg in enumerate(cfgs):
        c_k, w_k = current[:, k].clone().requires_grad_(), w_rec[k].clone().requires_grad_()
        z_k, y_k = recurrent_lif_time_major(c_k, w_k, cfg)
        ((z_k * probe_z[:, k]).sum() + (y_k * probe_y[:, k]).sum()).backward()
        assert torch.equal(z[:, k], z_k)
        torch.testing.assert_close(y[:, k], y_k, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(c_e.grad[:, k], c_k.grad, rtol=1e-6, atol=1e-12)
        torch.testing.assert_close(w_e.grad[k], w_k.grad, rtol=1e-6, atol=1e-12)


def test_ensemble_network_equals_its_members_forward_and_backward():
    nets = [LIFNetwork(cfg, n_layers=2, n_out=3, dtype=torch.float64) for cfg in member_cfgs("mult2", True)]
    ens = LIFEnsemble(nets)
    x = torch.rand(len(nets), 4, 10, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    readout, spikes = ens(x)
    (readout.square().sum() + sum((z * z.detach()).sum() for z in spikes)).backward()
    ens_grads = [[p.grad.clone() for p in net.parameters()] for net in nets]
    for k, net in enumerate(nets):
        net.zero_grad(set_to_none=True)
        r_k, z_k = net(x[k])
        torch.testing.assert_close(readout[k], r_k, rtol=1e-12, atol=1e-12)
        assert all(torch.equal(a[k], b) for a, b in zip(spikes, z_k))
        (r_k.square().sum() + sum((z * z.detach()).sum() for z in z_k)).backward()
        for got, want in zip(ens_grads[k], net.parameters()):
            torch.testing.assert_close(got, want.grad, rtol=1e-6, atol=1e-12)


def test_members_of_another_shape_are_refused_and_grouped_apart():
    cfgs = (
        member_cfgs("subtract", False)
        + member_cfgs("mult1", False, members=1)
        + [member_cfgs("subtract", False)[0].replace(n_rec=7)]
    )
    assert group_by_shape(cfgs) == [[0, 1, 2], [3], [4]]
    with pytest.raises(ValueError, match="group_by_shape"):
        LIFEnsemble([LIFNetwork(c) for c in cfgs[2:4]])
    with pytest.raises(ValueError, match="group_by_shape"):
        EnsembleDynamics.of(cfgs[2:4])
    runs = [small(), small(lif={"seed": 3, "leak": 0.5}, lr=3e-3), small(batch=8), small(layers=2), small()]
    assert train.group_configs(runs) == [[0, 1, 4], [2], [3]]
    with pytest.raises(ValueError, match="group_configs"):
        train.run_ensemble([(runs[0], None), (runs[2], None)])


# --------------------------------------------------------------------------------------------- training


def small(**kw) -> TrainConfig:
    lif = LIFConfig(n_rec=24, n_in=30, seed=0)
    if "lif" in kw:
        lif = lif.replace(**kw.pop("lif"))
    base = dict(
        lif=lif, classes=3, samples=120, time_steps=15, train_steps=8, batch=16, lr=1e-2, log_every=4, device="cpu"
    )
    return TrainConfig(**{**base, **kw})


def test_each_member_is_the_run_it_would_be_alone():
    cfgs = [
        small(),
        small(lif={"seed": 1, "leak": 0.9, "dampening": 0.5}),
        small(lif={"seed": 2}, lr=3e-3, weight_decay=0.1),
    ]
    events = []
    together = train.run_ensemble([(c, f"m{k}") for k, c in enumerate(cfgs)], callback=events.append)
    for k, (cfg, got) in enumerate(zip(cfgs, together)):
        alone_events = []
        alone = train.run(cfg, callback=alone_events.append)
        assert set(got) == set(alone) and got["run_id"] == f"m{k}" and got["status"] == "finished"
        for key in ("firing_rate", "rho2", "grad_gain", "grad_flow"):
            np.testing.assert_allclose(got["initial"][key], alone["initial"][key], rtol=1e-5)
        assert got["final"]["steps_done"] == alone["final"]["steps_done"] == 8
        assert got["final"]["loss"] == pytest.approx(alone["final"]["loss"], rel=1e-3)
        mine = [e for e in events if e["run_id"] == f"m{k}"]
        assert [e["step"] for e in mine] == [e["step"] for e in alone_events] == [0, 4, 8, 8]
        assert [set(e["metrics"]) for e in mine] == [set(e["metrics"]) for e in alone_events]
        assert mine[1]["metrics"]["loss"] == pytest.approx(alone_events[1]["metrics"]["loss"], rel=1e-4)
        assert got["execution"] == {"mode": "eager", "note": None, "members": len(cfgs)}
        assert alone["execution"] == {"mode": "eager", "note": None, "members": 1}


def test_a_sweeps_members_generate_their_shared_data_once(monkeypatch):
    # a sweep's members differ in the setting, not the seed: one generation, and the same summaries
    calls = []
    real = train.load_task
    monkeypatch.setattr(train, "load_task", lambda cfg: calls.append(cfg.lif.seed) or real(cfg))
    train._SPLITS.clear()
    cfgs = [small(lif={"dampening": d}, train_steps=2) for d in (0.5, 1.0, 2.0)] + [
        small(lif={"seed": 5}, train_steps=2)
    ]
    got = train.run_ensemble([(c, None) for c in cfgs])
    assert sorted(calls) == [0, 5]
    train._SPLITS.clear()
    for cfg, member in zip(cfgs, got):
        alone = train.run(cfg)
        assert member["task"] == alone["task"]
        np.testing.assert_allclose(member["initial"]["firing_rate"], alone["initial"]["firing_rate"], rtol=1e-5)


def test_a_diverging_member_is_frozen_and_the_others_are_untouched():
    fine, exploding = small(), small(lif={"seed": 1, "dampening": 1000.0})
    got = train.run_ensemble([(fine, "ok"), (exploding, "boom"), (fine.replace(lr=5e-3), "ok2")])
    assert got[1]["status"] == "diverged"
    assert got[1]["stopped_early"] in ("non-finite loss", "non-finite gradient")
    assert got[1]["final"]["steps_done"] == train.run(exploding)["final"]["steps_done"] < 8
    for summary, cfg in ((got[0], fine), (got[2], fine.replace(lr=5e-3))):
        assert summary["status"] == "finished" and summary["final"]["steps_done"] == 8
        assert summary["final"]["loss"] == pytest.approx(train.run(cfg)["final"]["loss"], rel=1e-3)
    json.dumps(got, allow_nan=False)


def test_cancel_and_time_limit_stop_one_member_only():
    asked = {"a": 0}

    def should_stop(run_id):
        asked[run_id] = asked.get(run_id, 0) + 1
        return run_id == "a" and asked["a"] > 3

    got = train.run_ensemble(
        [(small(), "a"), (small(lif={"seed": 1}), "b"), (small(time_limit=1e-6), "c")], should_stop=should_stop
    )
    assert (got[0]["status"], got[0]["final"]["steps_done"]) == ("cancelled", 3)
    assert (got[1]["status"], got[1]["final"]["steps_done"]) == ("finished", 8)
    assert (got[2]["status"], got[2]["stopped_early"], got[2]["final"]["steps_done"]) == ("stopped", "time limit", 0)
    assert asked["b"] == 8


def test_ensemble_size_and_memory_limits_refuse_clearly(monkeypatch):
    monkeypatch.setenv("STABVIZ_MAX_ENSEMBLE", "2")
    with pytest.raises(ValueError, match="ensemble of 3 members is above this machine's limit 2.*STABVIZ_MAX_ENSEMBLE"):
        train.run_ensemble([(small(lif={"seed": k}), None) for k in range(3)])
    monkeypatch.setenv("STABVIZ_MAX_MEMORY_MB", "64")
    with pytest.raises(ValueError, match="an ensemble of 2 .* over the 64 MB limit"):
        train.run_ensemble([(small(lif={"seed": k}), None) for k in range(2)])
    one = memory.estimate_ensemble_bytes([small()])
    assert memory.estimate_ensemble_bytes([small()] * 4) > 3 * (one - memory.TRAIN_OVERHEAD)


# --------------------------------------------------------------------------------------------- CUDA graphs


def test_captured_step_runs_eagerly_with_a_note_off_cuda():
    calls = []
    step = CapturedStep(lambda: calls.append(1) or len(calls), torch.device("cpu"), warmup=1)
    assert [step() for _ in range(4)] == [1, 2, 3, 4]
    assert step.mode == "eager" and step.note == lif.GRAPH_OFF_DEVICE and not step.captured
    quiet = CapturedStep(lambda: 0, torch.device("cpu"), enabled=False)
    quiet()
    assert quiet.mode == "eager" and quiet.note is None


def test_captured_step_warms_up_captures_once_then_replays():
    log = []

    def capture(fn):
        log.append("capture")
        return (lambda: log.append("replay")), "static"

    step = CapturedStep(lambda: log.append("eager") or "fresh", torch.device("cpu"), warmup=2, capture=capture)
    assert [step() for _ in range(4)] == ["fresh", "fresh", "static", "static"]
    assert log == ["eager", "eager", "capture", "replay", "replay"]
    assert step.mode == "cuda-graph" and step.captured and step.note is None


def test_a_failed_capture_falls_back_to_eager_with_a_note():
    def capture(fn):
        raise RuntimeError("operation not permitted when stream is capturing")

    step = CapturedStep(lambda: "eager", torch.device("cpu"), warmup=0, capture=capture)
    assert [step(), step()] == ["eager", "eager"]
    assert step.mode == "eager" and "capture failed (RuntimeError: operation not permitted" in step.note


def test_graph_training_on_a_cpu_runs_eagerly_and_says_so(monkeypatch):
    monkeypatch.setenv("STABVIZ_CUDA_GRAPH", "1")
    summary = train.run(small(train_steps=2))
    assert summary["status"] == "finished" and summary["execution"] == {
        "mode": "eager",
        "note": lif.GRAPH_OFF_DEVICE,
        "members": 1,
    }
    monkeypatch.delenv("STABVIZ_CUDA_GRAPH")
    assert train.run(small(train_steps=2))["execution"] == {"mode": "eager", "note": None, "members": 1}


def test_the_graph_step_trains_the_same_members(monkeypatch):
    # A fake capture whose 'replay' runs the step eagerly into the same static output: the loop's
    # replay path (gradients kept between steps, frozen members skipped) must train as eager does.
    def fake_capture(fn):
        out = torch.empty(0)
        return (lambda: out.set_(fn())), out

    cfgs = [small(), small(lif={"seed": 1, "dampening": 1000.0}), small(lif={"seed": 2}, lr=3e-3)]
    eager = train.run_ensemble([(c, None) for c in cfgs])
    monkeypatch.setattr(train, "CapturedStep", functools.partial(CapturedStep, capture=fake_capture))
    replayed = train.run_ensemble([(c, None) for c in cfgs], cuda_graph=True)
    assert replayed[0]["execution"] == {"mode": "cuda-graph", "note": None, "members": 3}
    assert [s["status"] for s in replayed] == [s["status"] for s in eager] == ["finished", "diverged", "finished"]
    for a, b in zip(replayed, eager):
        assert a["final"]["steps_done"] == b["final"]["steps_done"]
        assert a["final"]["loss"] == pytest.approx(b["final"]["loss"], rel=1e-6)


# --------------------------------------------------------------------------------------------- CLI


def test_cli_train_seeds_prints_one_summary_per_seed(capsys, monkeypatch):
    from stabviz.cli import main

    monkeypatch.setenv("STABVIZ_PROGRESS_AFTER_S", "0")  # progress even for a run of a second
    args = [
        "train",
        "--n-rec",
        "16",
        "--n-in",
        "20",
        "--classes",
        "3",
        "--samples",
        "80",
        "--time-steps",
        "10",
        "--train-steps",
        "3",
        "--batch",
        "8",
        "--log-every",
        "1",
        "--device",
        "cpu",
        "--seed",
        "5",
    ]
    assert main([*args, "--seeds", "2", "--json"]) == 0
    out, err = capsys.readouterr()
    summaries = json.loads(out)
    single = train.run(
        TrainConfig(
            lif=LIFConfig(n_rec=16, n_in=20, seed=5),
            classes=3,
            samples=80,
            time_steps=10,
            train_steps=3,
            batch=8,
            log_every=1,
            device="cpu",
        )
    )
    assert [s["seed"] for s in summaries] == [5, 6]
    assert all(set(s) == set(single) | {"seed"} for s in summaries)
    assert "3/3 steps (100%)" in err
    assert main([*args, "--seeds", "2"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["seed", "run", "status"] and len(table) == 3 and "finished" in table[2]


def test_cli_bench_ensemble_json(capsys):
    from stabviz.cli import main

    assert (
        main(
            [
                "bench",
                "ensemble",
                "--members",
                "2",
                "--n",
                "8",
                "--n-in",
                "10",
                "--batch",
                "4",
                "--steps",
                "5",
                "--train-steps",
                "2",
                "--device",
                "cpu",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert {"ensemble_s", "sequential_s", "speedup"} <= set(result)
    assert result["members"] == 2 and result["n"] == 8 and result["train_steps"] == 2
    assert result["speedup"] == pytest.approx(result["sequential_s"] / result["ensemble_s"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where CUDA is missing")
def test_cli_bench_lif_on_cuda_without_cuda_is_a_one_line_error(capsys):
    from stabviz.cli import main

    assert main(["bench", "lif", "--device", "cuda", "--n", "8", "--reps", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CUDA is not available" in err[0]


def test_an_ensemble_member_stopped_by_its_time_limit_is_stopped_with_its_last_step_logged(monkeypatch):
    from test_train import _Clock

    monkeypatch.setattr(train, "time", _Clock())
    events = []
    # the clock moves once at the start, then once per member per step: member b's limit falls mid-run
    got = train.run_ensemble(
        [
            (small(train_steps=12, log_every=5), "a"),
            (small(lif={"seed": 1}, train_steps=12, log_every=5, time_limit=15.5), "b"),
        ],
        callback=events.append,
    )
    assert got[0]["status"] == "finished" and got[0]["final"]["steps_done"] == 12
    assert got[1]["status"] == "stopped" and got[1]["stopped_early"] == "time limit"
    done = got[1]["final"]["steps_done"]
    assert 0 < done < 12 and done % 5 != 0
    logged = [e["step"] for e in events if e["run_id"] == "b" and "loss" in e["metrics"]]
    assert logged[-1] == done
