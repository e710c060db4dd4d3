"""One short training run: learning, divergence, cancellation, the metric stream, the sparsity switch,
the initial-rate adjustment, the recommended surrogate and the `train` command."""

import json
import math

import h5py
import numpy as np
import pytest
import torch

from stabviz import theory
from stabviz.config import LIFConfig, TrainConfig, tau_to_leak
from stabviz.train import RATE_TOLERANCE, resolve_device, run, sparsity_switch


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny GEMMs run several times faster on one thread than on two busy cores.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small(**kw) -> TrainConfig:
    lif = LIFConfig(n_rec=64, n_in=100, seed=0)
    if "lif" in kw:
        lif = lif.replace(**kw.pop("lif"))
    base = dict(
        lif=lif, classes=3, samples=300, time_steps=30, train_steps=40, batch=32, lr=1e-2, log_every=10, device="cpu"
    )
    return TrainConfig(**{**base, **kw})


# --------------------------------------------------------------------------------------------- schedule


@pytest.mark.parametrize(
    "step, value", [(0, 0.0), (19, 0.0), (20, 0.0), (30, 0.25), (40, 0.5), (50, 0.75), (60, 1.0), (99, 1.0)]
)
def test_sparsity_switch_is_off_then_ramps_then_on(step, value):
    assert sparsity_switch(step, 100) == pytest.approx(value)


def test_sparsity_switch_rejects_an_empty_schedule():
    with pytest.raises(ValueError, match="total_steps"):
        sparsity_switch(0, 0)


# --------------------------------------------------------------------------------------------- runs


def test_short_run_learns_randman_and_reports_prediction_next_to_measurement():
    events = []
    summary = run(small(train_steps=300), callback=events.append, run_id="abc")
    assert summary["status"] == "finished" and summary["run_id"] == "abc" and summary["device"] == "cpu"
    final = summary["final"]
    assert final["steps_done"] == 300
    assert final["accuracy"] >= 0.8  # chance is 1/3
    assert final["loss"] < math.log(3)  # below the loss of a uniform guess
    # The network really ran on the task's input: its channels, steps and measured statistics.
    lif = summary["lif"]
    assert lif["n_in"] == 100 and lif["steps"] == 30
    assert lif["input_mean"] == pytest.approx(1 / 30) and lif["input_var"] == pytest.approx(1 / 30 * 29 / 30)
    pred = summary["prediction"]
    expected = theory.predict(LIFConfig.from_dict(lif))
    assert pred["firing_rate"] == pytest.approx(expected.firing_rate)
    assert pred["rho"] == pytest.approx(math.sqrt(pred["rho2"]))
    assert pred["regime"] in theory.VERDICTS
    for part in ("initial", "final"):
        m = summary[part]
        assert len(m["firing_rate"]) == 1 and 0 <= m["firing_rate"][0] <= 1
        assert len(m["grad_flow"]) == 30 and m["rho2"] > 0 and m["grad_gain"] > 0
    v = summary["verdict"]
    assert v["firing_rate"]["measured"] == summary["initial"]["firing_rate"][0]
    assert v["rho"]["measured"] == summary["initial"]["grad_gain"]
    assert v["rho"]["agrees"] == (abs(v["rho"]["decades_apart"]) <= lif["tolerance"])
    json.dumps(summary, allow_nan=False)  # the run store keeps it as strict JSON


def test_digits_learns_on_the_default_budget_at_the_recommended_setting():
    # The default budget (200 steps of 64, lr 2e-3) on the real digits, τ = 20, θ = 0.3, the whole setting the
    # outcome model recommends (surrogate and initialisation); about 5 s on 2 cores.
    from stabviz.outcomes.advice import RECOMMENDED

    lif = LIFConfig(leak=tau_to_leak(20.0), threshold=0.3, seed=0)
    summary = run(TrainConfig(task="digits", lif=lif, use_recommended_setting=True))
    assert summary["status"] == "finished" and summary["final"]["steps_done"] == 200
    applied = summary["recommended_sg"]
    assert applied["label"] == RECOMMENDED and summary["lif"]["init_rec"] == applied["init_rec"]
    assert (summary["lif"]["dampening"], summary["lif"]["sharpness"]) == (applied["dampening"], applied["sharpness"])
    assert summary["final"]["accuracy"] >= 0.8  # chance is 0.1
    assert summary["task"]["n_in"] == 64 and summary["task"]["time_steps"] == 16
    assert (summary["task"]["train_samples"], summary["task"]["test_samples"]) == (1438, 359)


def test_callback_gets_every_metric_at_the_logging_steps():
    events = []
    run(small(layers=2, train_steps=25, log_every=10), callback=events.append)
    steps = [e["step"] for e in events]
    assert steps == [0, 10, 20, 25, 25]  # initial probe, logs, last step, final probe
    first, train_events, last = events[0]["metrics"], events[1:-1], events[-1]["metrics"]
    assert {"rho2", "grad_gain", "firing_rate/0", "firing_rate/1"} <= set(first) and first["progress"] == 0
    for e in train_events:
        names = set(e["metrics"])
        assert {"loss", "accuracy", "progress", "firing_rate/0", "firing_rate/1", "grad_norm/0", "grad_norm/1"} <= names
        assert all(isinstance(v, float) and math.isfinite(v) for v in e["metrics"].values())
        assert e["metrics"]["grad_norm/0"] > 0
    assert [e["metrics"]["progress"] for e in train_events] == [0.4, 0.8, 1.0]
    assert 0 <= last["test_accuracy"] <= 1


def test_runs_are_reproducible_from_the_seed():
    a, b = run(small(train_steps=5)), run(small(train_steps=5))
    assert a["final"]["loss"] == b["final"]["loss"] and a["final"]["grad_flow"] == b["final"]["grad_flow"]


def test_exploding_gradients_end_the_run_as_diverged():
    # γ = 1000 makes ρ ≈ 400 per step (the theory says 'exploding'): the first gradient overflows.
    summary = run(small(lif={"dampening": 1000.0}))
    assert summary["status"] == "diverged"
    assert summary["stopped_early"] in ("non-finite loss", "non-finite gradient")
    assert summary["final"]["steps_done"] < 40
    assert summary["prediction"]["regime"] == "exploding"
    json.dumps(summary, allow_nan=False)


def test_should_stop_cancels_the_run():
    asked = []

    def should_stop():
        asked.append(1)
        return len(asked) > 3

    summary = run(small(), should_stop=should_stop)
    assert summary["status"] == "cancelled" and summary["final"]["steps_done"] == 3


def test_time_limit_stops_the_run_and_says_so_never_finished():
    summary = run(small(time_limit=1e-6))
    assert summary["status"] == "stopped" and summary["stopped_early"] == "time limit"
    assert summary["final"]["steps_done"] == 0


class _Clock:
    """time.monotonic for stabviz.train that moves one second per call: the time limit falls mid-run."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 1.0
        return self.now


def test_a_run_stopped_by_its_time_limit_logs_its_last_step_off_the_logging_grid(monkeypatch):
    import stabviz.train as train_module

    monkeypatch.setattr(train_module, "time", _Clock())
    events = []
    # started at 1; the loop asks the clock once per step: steps 1..7 run, the 8th sees 9 − 1 > 7.5
    summary = run(small(time_limit=7.5, log_every=5), callback=events.append)
    assert summary["status"] == "stopped" and summary["final"]["steps_done"] == 7
    trained = [e["step"] for e in events if "loss" in e["metrics"]]
    assert trained == [5, 7]  # the curves end at step 7, where the run stopped, not at 5


def test_sparsity_loss_lowers_the_firing_rate():
    plain = run(small(train_steps=60))
    sparse = run(small(train_steps=60, sparsity_weight=10.0, sparsity_target=0.02))
    assert sparse["final"]["firing_rate"][0] < 0.5 * plain["final"]["firing_rate"][0]


@pytest.mark.parametrize("f0", [0.1, 0.8])
def test_initial_rate_adjustment_moves_biases_toward_f0(f0):
    summary = run(small(train_steps=1, initial_rate=f0))
    adj = summary["rate_adjustment"]
    assert adj["target"] == f0 and adj["reached"]
    assert abs(adj["firing_rate"][0] - f0) <= RATE_TOLERANCE
    assert abs(summary["initial"]["firing_rate"][0] - f0) > 0.2  # measured before the adjustment


def test_shd_file_drives_a_700_channel_network(tmp_path):
    path = tmp_path / "shd.h5"
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (20,), dtype=h5py.vlen_dtype(np.float32))
        u = f.create_dataset("spikes/units", (20,), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(20):
            t[i] = rng.uniform(0, 1.0, 50).astype(np.float32)
            u[i] = rng.integers(0, 700, 50).astype(np.uint16)
        f.create_dataset("labels", data=np.arange(20) % 2)
    cfg = TrainConfig(
        lif=LIFConfig(n_rec=16, n_in=5),
        task="shd",
        data_path=str(path),
        time_steps=10,
        train_steps=2,
        batch=8,
        device="cpu",
    )
    summary = run(cfg)
    assert summary["status"] == "finished" and summary["lif"]["n_in"] == 700
    assert summary["task"]["n_classes"] == 2 and summary["task"]["input_mean"] > 0


def test_bad_settings_raise_before_training():
    with pytest.raises(ValueError, match="neurons"):
        run(small(lif={"n_rec": 5000}))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            resolve_device("cuda")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_networks_and_runs_resolve_devices_alike():
    from stabviz import lif

    assert lif.resolve_device is resolve_device  # one resolver, the validating one
    for bad in ("gpu", "meta", "cuda-ish"):
        with pytest.raises(ValueError, match=f"device = '{bad}' is not one of: auto, cpu, cuda"):
            lif.LIFNetwork(LIFConfig(n_rec=8, n_in=4), device=bad)
    assert resolve_device(None) == resolve_device("auto") and resolve_device(torch.device("cpu")).type == "cpu"


# --------------------------------------------------------------------------------------------- CLI

CLI_ARGS = [
    "train",
    "--n-rec",
    "32",
    "--n-in",
    "40",
    "--classes",
    "3",
    "--samples",
    "120",
    "--time-steps",
    "20",
    "--train-steps",
    "6",
    "--batch",
    "16",
    "--log-every",
    "2",
    "--device",
    "cpu",
]


def test_cli_train_prints_json_summary_and_progress(capsys, monkeypatch):
    from stabviz.cli import main

    monkeypatch.setenv("STABVIZ_PROGRESS_AFTER_S", "0")  # progress even for a run of a second
    assert main([*CLI_ARGS, "--json"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["status"] == "finished" and summary["final"]["steps_done"] == 6
    assert "6/6 steps (100%)" in err  # the progress went to stderr


def test_cli_train_readable_summary(capsys):
    from stabviz.cli import main

    assert main(CLI_ARGS) == 0
    out = capsys.readouterr().out
    assert "finished after 6 steps" in out and "firing rate (layer 0)" in out and "test accuracy" in out


def test_cli_train_reports_divergence_in_its_exit_status(capsys):
    from stabviz.cli import main

    assert main([*CLI_ARGS, "--dampening", "1000"]) == 1
    assert "diverged" in capsys.readouterr().out


def test_cli_train_says_stopped_at_its_time_limit_and_exits_3(capsys):
    from stabviz.cli import main

    assert main([*CLI_ARGS, "--time-limit", "1e-6"]) == 3
    assert "stopped (time limit) after 0 steps" in capsys.readouterr().out


def test_cli_train_bad_value_is_a_one_line_error(capsys):
    from stabviz.cli import main

    assert main([*CLI_ARGS, "--lr", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("stabviz: error:") and "lr" in err[-1]


# --------------------------------------------------------------------------------------------- theory vs run


def test_prediction_agrees_with_the_run_in_a_stable_setting_and_rho_hat_grows_with_dampening():
    # A realistic leak (τ = 20) and the dampening on the condition-IV curve for this network: ρ = 1.
    lif = {"n_rec": 128, "leak": tau_to_leak(20.0), "threshold": 0.01}
    probe_only = dict(train_steps=1, time_steps=50, samples=200, log_every=1)
    first = run(small(lif=lif, **probe_only))
    cfg = LIFConfig.from_dict(first["lif"])
    p = theory.predict(cfg.replace(dampening=1.0))
    A, C, D = theory.gain_coefficients(cfg, p.firing_rate)
    gamma = float(theory.gamma_iv(A, C, D, p.moment1, p.moment2))
    stable = run(small(lif={**lif, "dampening": gamma}, **probe_only))
    v = stable["verdict"]
    assert stable["prediction"]["point_regime"] == "stable" and v["regime"]["agrees"] is True
    assert v["firing_rate"]["agrees"], v
    # the per-step gain fitted to the gradient-flow probe, and the empirical ρ², match the theory's
    assert v["rho"]["measured"] == pytest.approx(v["rho"]["predicted"], rel=0.1)
    assert v["rho2"]["measured"] == pytest.approx(v["rho2"]["predicted"], rel=0.25)
    gains = [
        run(small(lif={**lif, "dampening": g}, **probe_only))["initial"]["grad_gain"]
        for g in (gamma / 4, gamma, 4 * gamma)
    ]
    assert gains[0] < gains[1] < gains[2]
