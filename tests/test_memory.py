"""stabviz.memory: the estimates against measured peak memory, and the refusals.

Each measurement runs in a fresh process: it records ru_maxrss after importing torch and stabviz, runs
the call, and reports the peak minus that baseline. The estimate must never be below the measurement
and at most twice it. Sizes are chosen so the measured peaks lie between 200 MB and 1.5 GB (the fixed
cost of a first torch call then does not dominate) and each run takes a few CPU seconds.
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from stabviz import memory
from stabviz.config import LIFConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
MB = 1 << 20

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec, so a child of a
# large pytest process would start at the parent's peak; VmHWM belongs to the child's own address space.
CHILD = r"""
import json, sys
import torch
import stabviz.simulate, stabviz.train
from stabviz.config import LIFConfig, TrainConfig

def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

kind, kw = sys.argv[1], json.loads(sys.argv[2])
base = hwm_kib()
if kind == "simulate":
    stabviz.simulate.measure(LIFConfig(**kw.pop("cfg")), **kw)
else:
    stabviz.train.run(TrainConfig(lif=LIFConfig(**kw.pop("lif")), **kw))
print(json.dumps({"kib": hwm_kib() - base}))
"""


def measured_peak_bytes(kind: str, kw: dict) -> int:
    """Peak RSS added by the call (ru_maxrss is in KiB on Linux), in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, json.dumps(kw)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])["kib"] * 1024


# (LIFConfig fields, measure keywords): each setting makes a different moment the peak
SIMULATE_CASES = {
    "input generation": ({"n_in": 5000, "n_rec": 128}, {"batch": 64, "steps": 100, "burn_in": 50}),
    "defaults": ({"n_in": 2000, "n_rec": 256}, {}),
    "kept history": ({"n_in": 50, "n_rec": 128}, {"batch": 1024, "steps": 60, "burn_in": 10}),
    "input projection": ({"n_in": 10, "n_rec": 64}, {"batch": 4096, "steps": 120, "burn_in": 119}),
}

# (LIFConfig fields, TrainConfig fields): randman, one or two optimiser steps
TRAIN_CASES = {
    "task data": ({"n_in": 1000, "n_rec": 64}, {"samples": 300, "time_steps": 50, "batch": 32}),
    "task data, chunked statistics": ({"n_in": 2000, "n_rec": 64}, {"samples": 320, "time_steps": 100, "batch": 32}),
    "activations": ({"n_in": 20, "n_rec": 192}, {"samples": 800, "time_steps": 50, "batch": 512, "train_steps": 2}),
    "weights": ({"n_in": 12000, "n_rec": 512}, {"samples": 40, "time_steps": 10, "batch": 32}),
}


def _check(estimate: int, measured: int) -> None:
    assert 200 * MB <= measured <= 1536 * MB, f"measured {measured / MB:.0f} MB: resize the case"
    assert measured <= estimate <= 2 * measured, f"estimate {estimate / MB:.0f} MB vs measured {measured / MB:.0f} MB"


@pytest.mark.parametrize("name", list(SIMULATE_CASES))
def test_simulate_estimate_bounds_the_measured_peak(name):
    cfg_kw, kw = SIMULATE_CASES[name]
    estimate = memory.estimate_simulate_bytes(LIFConfig(**cfg_kw), **kw)
    _check(estimate, measured_peak_bytes("simulate", {"cfg": cfg_kw, **kw}))


#: alif and cuba hold more per kept step and per training step than the LIF (memory.VARIANT_HISTORY_BYTES,
#: VARIANT_STEP_BLOCKS): the cases where that is most of the peak, for each variant
VARIANT_CASES = {
    "simulate, kept history": (
        "simulate",
        "cfg",
        {"n_in": 50, "n_rec": 128, "reset_grad": True},
        {"batch": 1024, "steps": 110, "burn_in": 10},
    ),
    "train, activations": ("train", "lif", *TRAIN_CASES["activations"]),
}


@pytest.mark.parametrize("neuron", ["alif", "cuba"])
@pytest.mark.parametrize("name", list(VARIANT_CASES))
def test_variant_estimates_bound_the_measured_peak(name, neuron):
    kind, key, cfg_kw, kw = VARIANT_CASES[name]
    cfg_kw = {**cfg_kw, "neuron": neuron}
    estimate = (
        memory.estimate_simulate_bytes(LIFConfig(**cfg_kw), **kw)
        if kind == "simulate"
        else memory.estimate_train_bytes(TrainConfig(lif=LIFConfig(**cfg_kw), **kw))
    )
    _check(estimate, measured_peak_bytes(kind, {key: cfg_kw, **kw}))


@pytest.mark.parametrize("name", list(TRAIN_CASES))
def test_train_estimate_bounds_the_measured_peak(name):
    lif_kw, kw = TRAIN_CASES[name]
    kw = {"train_steps": 1, **kw}
    estimate = memory.estimate_train_bytes(TrainConfig(lif=LIFConfig(**lif_kw), **kw))
    _check(estimate, measured_peak_bytes("train", {"lif": lif_kw, **kw}))


def test_the_issue_link_is_refused_before_anything_is_allocated(monkeypatch):
    """/?voltage_model=measured&n_in=100000 (issue 9): ~15 GB of input spikes, refused in microseconds."""
    monkeypatch.setenv(memory.ENV, "4096")
    cfg = LIFConfig(n_in=100_000, voltage_model="measured")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert memory.estimate_simulate_bytes(cfg) > 14 * (1 << 30)
    with pytest.raises(ValueError) as err:
        memory.check_simulate(cfg)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB
    msg = str(err.value)
    assert "\n" not in msg
    assert "n_in = 100000" in msg and "n_rec = 128" in msg and "4.0 GB limit" in msg
    assert memory.ENV in msg and "lower n_in" in msg
    # the paper's settings pass
    memory.check_simulate(LIFConfig())
    memory.check_train(TrainConfig())


def test_the_issue_training_run_is_refused():
    """n_in = 1000, T = 1000 (13 GB measured in issue 9) is over a 4 GB limit."""
    cfg = TrainConfig(lif=LIFConfig(n_in=1000), time_steps=1000)
    assert memory.estimate_train_bytes(cfg) > 10 * (1 << 30)
    with pytest.raises(ValueError, match=r"this training run .* over the 4.0 GB limit"):
        memory.check_train(cfg, limit=4096 * MB)


def test_check_memory_message_and_limit():
    memory.check_memory("x", 100 * MB, limit=100 * MB)
    with pytest.raises(
        ValueError,
        match=r"^x needs about 1.5 GB, over the 1.0 GB limit "
        r"\(STABVIZ_MAX_MEMORY_MB\); lower n_in, n_rec, batch or T$",
    ):
        memory.check_memory("x", int(1.5 * (1 << 30)), limit=1 << 30)


def test_max_bytes_reads_the_environment(monkeypatch):
    monkeypatch.setenv(memory.ENV, "1500")
    assert memory.max_bytes() == 1500 * MB
    for bad in ("", "lots", "-5", "0", "nan"):
        monkeypatch.setenv(memory.ENV, bad)
        total = memory.physical_memory_bytes()
        expected = 4096 * MB if total is None else int(min(4096, 0.25 * total / MB) * MB)
        assert memory.max_bytes() == expected


def test_estimate_takes_simulate_measures_arguments():
    """Same keywords and defaults as simulate.measure, so a caller can pass its kwargs to both."""
    from stabviz import simulate

    ours = inspect.signature(memory.estimate_simulate_bytes).parameters
    theirs = inspect.signature(simulate.measure).parameters
    assert list(ours) == list(theirs)
    assert all(ours[k].default == theirs[k].default for k in theirs)


def test_constants_agree_with_the_modules():
    from stabviz import tasks, train

    assert memory.PROBE_SAMPLES == train.PROBE_SAMPLES
    assert memory.TEST_FRACTION == tasks.TEST_FRACTION
    for n in (2, 3, 10, 1000, 12345):
        n_test = len(tasks._split(n, 0)[1])
        assert memory._split_sizes(n) == (n - n_test, n_test)


def test_estimates_grow_with_every_size():
    base = TrainConfig(lif=LIFConfig(n_in=100, n_rec=64), samples=200, time_steps=50, batch=32)
    e0 = memory.estimate_train_bytes(base)
    for change in (
        {"samples": 2000},
        {"time_steps": 500},
        {"batch": 128},
        {"classes": 100},
        {"layers": 3},
        {"lif": base.lif.replace(n_in=1000)},
        {"lif": base.lif.replace(n_rec=512)},
        {"lif": base.lif.replace(voltage_model="measured")},
    ):
        assert memory.estimate_train_bytes(base.replace(**change)) > e0, change
    cfg = LIFConfig(n_in=100, n_rec=64)
    s0 = memory.estimate_simulate_bytes(cfg)
    for kw in ({"batch": 256}, {"steps": 1000}):
        assert memory.estimate_simulate_bytes(cfg, **kw) > s0
    assert memory.estimate_simulate_bytes(cfg.replace(n_in=1000)) > s0
    assert memory.estimate_simulate_bytes(cfg.replace(n_rec=512)) > s0


def test_check_sizes_bounds_what_check_limits_does_not(monkeypatch):
    memory.check_sizes(TrainConfig(), sim_batch=64, sim_steps=300)
    with pytest.raises(
        ValueError,
        match=r"samples = 200000 is above this machine's limit 100000 "
        r"\(raise it with STABVIZ_MAX_SAMPLES\)",
    ):
        memory.check_sizes(TrainConfig(samples=200_000))
    with pytest.raises(ValueError, match="classes = 500"):
        memory.check_sizes(TrainConfig(classes=500, samples=1000))
    with pytest.raises(ValueError, match="sim_steps"):
        memory.check_sizes(sim_steps=50_000)
    monkeypatch.setenv("STABVIZ_MAX_CLASSES", "1000")
    memory.check_sizes(TrainConfig(classes=500, samples=1000))


BENCH_CHILD = r"""
import json, sys
import torch
import stabviz.timing
from stabviz.config import LIFConfig

def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

kw = json.loads(sys.argv[1])
base = hwm_kib()
stabviz.timing.bench_lif(LIFConfig(n_rec=kw["n"]), batch=kw["batch"], steps=kw["steps"], threads=1, reps=1)
print(json.dumps({"kib": hwm_kib() - base}))
"""


def test_bench_lif_estimate_bounds_the_measured_peak():
    """`bench lif` is refused above the limit before allocating (issue 20): its estimate must hold."""
    kw = {"n": 256, "batch": 64, "steps": 400}
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", BENCH_CHILD, json.dumps(kw)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    measured = json.loads(out.stdout.strip().splitlines()[-1])["kib"] * 1024
    _check(memory.estimate_bench_lif_bytes(**kw), measured)
