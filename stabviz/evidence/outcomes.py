"""The training-outcome dataset: what happens in training across the settings a user can pick.

The design (docs/evidence/outcomes/README.md) is *bases × choices*: a base is what a user's network already
is (task, n, τ, θ, reset, shape, layers, its own initialisation), drawn from a seeded sampler over the
dashboard's ranges; a choice is what stabviz advises on (γ, β and the initialisation: the base's own or
conditions I + II). Every base runs every choice, so on a task held out of the fit the recommendation can
be judged against the best and the median choice of the same base (the regret goal of the advice).

Every run keeps the numbers the outcome model reads before training (the theory's predicted T·log₁₀ gain
and rate, the Monte-Carlo measured gain and rate of :func:`stabviz.simulate.measure` on the run's own
setting, the training probe's gain on the task input) and what training did (final accuracy, diverged,
ρ̂ at the end). :func:`generate` runs a size and writes runs.json and summary.json with their provenance.

Importing this module never loads torch (train and simulate load where runs need them).
"""

from __future__ import annotations

import concurrent.futures
import datetime
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stabviz import safeio
from stabviz.config import DEFAULT_SURROGATE, LIFConfig, TrainConfig, tau_to_leak
from stabviz.jsonsafe import dumps, finite_or_none
from stabviz.outcomes.fit import label_rows

#: the dampening and sharpness values every base is trained with (γ × β)
GAMMAS = (0.25, 1.0, 4.0)
BETAS = (0.25, 1.0, 4.0)
#: the initialisations: the base's own, or conditions I + II ("conditions")
BASE_INITS = ("glorot-uniform", "he-normal", "orthogonal")
#: shapes the sampler draws from (every shape of the dashboard)
SAMPLED_SHAPES = (
    "fastsigmoid",
    "exponential",
    "rectangular",
    "triangular",
    "gaussian",
    "sigmoid",
    "cauchy",
    "qpseudospike",
)
#: chance level per task (accuracy in %), and the class count of the generated tasks
CHANCE = {"digits": 10.0, "randman": 20.0, "cues": 50.0}


@dataclass(frozen=True)
class TaskSpec:
    """One task of the dataset: its fixed sizes, the neuron counts its bases draw from, and the loss."""

    name: str
    n_in: int
    time_steps: int
    samples: int
    classes: int
    neurons: tuple[int, ...]
    loss: str = "per-step"


TASKS = {
    "digits": TaskSpec("digits", 64, 16, 1797, 10, (32, 64, 128)),
    "randman": TaskSpec("randman", 50, 50, 500, 5, (32, 64, 128)),
    "cues": TaskSpec("cues", 40, 200, 400, 2, (32, 64), loss="last"),
}


@dataclass(frozen=True)
class Size:
    """How big the dataset is: bases per task, seeds, the main budget, and the long-budget arm (the first
    ``long_bases`` bases of each task in ``long_tasks`` rerun at ``long_budget`` steps, conditions init only)."""

    bases: dict[str, int]
    seeds: int
    budget: int
    long_budget: int
    long_tasks: tuple[str, ...]
    long_bases: int = 1


SIZES = {
    "smoke": Size({"digits": 1, "randman": 1, "cues": 1}, 1, 3, 6, ("digits",)),
    "quick": Size({"digits": 8, "randman": 6, "cues": 3}, 3, 200, 1000, ("digits", "randman")),
    "full": Size({"digits": 12, "randman": 12, "cues": 10}, 3, 200, 1000, ("digits", "randman", "cues"), 3),
}


# ---------------------------------------------------------------------------------------------
# design


def sample_bases(task: str, count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` bases of ``task`` from a seeded sampler: n from the task's sizes, τ log-uniform in
    [0.5, 50] (α = exp(−1/τ)), θ log-uniform in [0.01, 0.5], reset, shape (q log-uniform in [1.05, 4] for
    the q-PseudoSpike), 1 or 2 layers, and the base's own initialisation."""
    spec = TASKS[task]
    rng = np.random.default_rng([seed, sum(map(ord, task))])
    out = []
    for k in range(count):
        shape = SAMPLED_SHAPES[int(rng.integers(len(SAMPLED_SHAPES)))]
        out.append(
            {
                "task": task,
                "base": f"{task}-{k}",
                "n_rec": int(spec.neurons[int(rng.integers(len(spec.neurons)))]),
                "tau": float(np.exp(rng.uniform(np.log(0.5), np.log(50.0)))),
                "threshold": float(np.exp(rng.uniform(np.log(0.01), np.log(0.5)))),
                "reset": ("subtract", "mult1", "mult2")[int(rng.integers(3))],
                "shape": shape,
                "tail": (
                    float(np.exp(rng.uniform(np.log(1.05), np.log(4.0))))
                    if shape == "qpseudospike"
                    else DEFAULT_SURROGATE.tail
                ),
                "layers": int(rng.integers(1, 3)),
                "init": BASE_INITS[int(rng.integers(len(BASE_INITS)))],
            }
        )
    return out


def choices(base: dict[str, Any], long: bool = False) -> list[dict[str, Any]]:
    """The choices a base is trained with: γ × β × (its own init, conditions I + II); conditions only in
    the long-budget arm."""
    inits = ("conditions",) if long else (base["init"], "conditions")
    return [{"dampening": g, "sharpness": b, "init": init} for init in inits for g in GAMMAS for b in BETAS]


def config_for(
    base: dict[str, Any], choice: dict[str, Any], seed: int, budget: int, device: str = "cpu"
) -> TrainConfig:
    """The TrainConfig of one run: the base's network with the choice's surrogate and initialisation."""
    spec = TASKS[base["task"]]
    lif = LIFConfig(
        n_rec=base["n_rec"],
        n_in=spec.n_in,
        leak=tau_to_leak(base["tau"]),
        threshold=base["threshold"],
        reset=base["reset"],
        shape=base["shape"],
        tail=base["tail"],
        init_rec=choice["init"],
        dampening=choice["dampening"],
        sharpness=choice["sharpness"],
        steps=spec.time_steps,
        seed=seed,
    )
    return TrainConfig(
        lif=lif,
        layers=base["layers"],
        task=spec.name,
        classes=spec.classes,
        samples=spec.samples,
        time_steps=spec.time_steps,
        train_steps=budget,
        batch=32,
        lr=2e-3,
        loss=spec.loss,
        device=device,
        time_limit=36_000.0,
        log_every=budget,
    )


@dataclass(frozen=True)
class Run:
    """One planned run: its base, choice, seed, budget and config."""

    base: dict[str, Any]
    choice: dict[str, Any]
    seed: int
    budget: int
    config: TrainConfig


def design(size: Size, device: str = "cpu") -> list[Run]:
    """Every run of a size: each base × each choice × each seed at the main budget, then the long arm."""
    runs = []
    for task, count in size.bases.items():
        for i, base in enumerate(sample_bases(task, count)):
            arms = [(size.budget, False)]
            if task in size.long_tasks and i < size.long_bases:
                arms.append((size.long_budget, True))
            for budget, long in arms:
                for choice in choices(base, long):
                    for seed in range(size.seeds):
                        runs.append(Run(base, choice, seed, budget, config_for(base, choice, seed, budget, device)))
    return runs


# ---------------------------------------------------------------------------------------------
# execution: ensembles, spread over worker processes


def _run_group(configs: list[TrainConfig]) -> list[dict[str, Any]]:
    """A worker's job: one ensemble's summaries, and the Monte-Carlo measurement of each member's setting."""
    import torch

    torch.set_num_threads(1)
    from stabviz import train

    summaries = train.run_ensemble([(c, None) for c in configs])
    return [{**s, "simulated": simulated(s)} for s in summaries]


def simulated(summary: dict[str, Any]) -> dict[str, Any]:
    """What the Explore page's automatic check measures for the run's setting (its first layer, Bernoulli
    input at the task's m_x, v_x): :func:`stabviz.outcomes.features.measure` of the summary's ``lif``."""
    from stabviz.outcomes.features import measure

    lif = summary.get("lif")
    return measure(LIFConfig.from_dict(lif)) if lif else {}


def execute(
    configs: Sequence[TrainConfig], jobs: int = 1, progress: Callable[[int, int], None] | None = None
) -> list[dict[str, Any]]:
    """Summaries (with ``simulated``) of ``configs`` in order: configs that can share an ensemble train
    together, the ensembles spread over ``jobs`` worker processes (spawned, one torch thread each)."""
    from stabviz.evidence.study import ensemble_chunks

    report = progress or (lambda done, total: None)
    chunks = ensemble_chunks(configs, most=27)
    # longest first: the cues ensembles set the wall time, so they must not start last
    chunks.sort(key=lambda ks: -configs[ks[0]].time_steps * configs[ks[0]].train_steps * len(ks))
    out: list[dict[str, Any]] = [{}] * len(configs)
    done = 0
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx) as pool:
        futures = {pool.submit(_run_group, [configs[k] for k in ks]): ks for ks in chunks}
        for fut in concurrent.futures.as_completed(futures):
            ks = futures[fut]
            for k, summary in zip(ks, fut.result()):
                out[k] = summary
            done += len(ks)
            report(done, len(configs))
    return out


# ---------------------------------------------------------------------------------------------
# rows


def _over_t(gain: float | None, steps: int) -> float | None:
    return steps * math.log10(gain) if gain and gain > 0 and math.isfinite(gain) else None


def run_row(run: Run, summary: dict[str, Any]) -> dict[str, Any]:
    """One run as the dataset keeps it (accuracy in %, gains as T·log₁₀ over the task's T)."""
    base, choice = run.base, run.choice
    final, initial = summary.get("final") or {}, summary.get("initial") or {}
    pred, sim = summary.get("prediction") or {}, summary.get("simulated") or {}
    T = TASKS[base["task"]].time_steps
    acc = final.get("accuracy")
    rates = initial.get("firing_rate") or [None]
    return finite_or_none(
        {
            **{k: base[k] for k in ("task", "base", "n_rec", "tau", "threshold", "reset", "shape", "tail", "layers")},
            "base_init": base["init"],
            "init": choice["init"],
            "dampening": choice["dampening"],
            "sharpness": choice["sharpness"],
            "seed": run.seed,
            "budget": run.budget,
            "T": T,
            "status": summary.get("status"),
            "error": summary.get("error"),
            "accuracy": None if acc is None else 100.0 * acc,
            "chance": CHANCE[base["task"]],
            "predicted_log10_gain": pred.get("log10_gain"),
            "predicted_rate": pred.get("firing_rate"),
            "measured_log10_gain": sim.get("log10_gain"),
            "measured_rate": sim.get("firing_rate"),
            "probe_log10_gain": _over_t(initial.get("grad_gain"), T),
            "probe_rate": rates[0],
            "final_probe_log10_gain": _over_t(final.get("grad_gain"), T),
            "wall_s": summary.get("wall_s"),
        }
    )


# ---------------------------------------------------------------------------------------------
# the whole dataset and its files

FILES = ("runs.json", "summary.json")


def generate(
    size_name: str,
    out_dir: str | Path,
    jobs: int = 2,
    device: str = "cpu",
    command: str = "",
    progress: Callable[[str], None] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Run the dataset of ``size_name`` and write runs.json and summary.json to ``out_dir`` (checked first
    by :func:`stabviz.safeio.prepare_dir`, so a refusal costs no run); returns the summary."""
    from stabviz.evidence.study import checkout_commit

    if size_name not in SIZES:
        raise ValueError(f"size = {size_name!r} is not one of: {', '.join(SIZES)}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= 64:
        raise ValueError(f"jobs = {jobs!r} is outside the allowed range [1, 64]")
    say = progress or (lambda text: None)
    out = safeio.prepare_dir(out_dir, list(FILES), force)
    began, commit = time.monotonic(), checkout_commit()  # the code that made the data, not the code at the end
    runs = design(SIZES[size_name], device)
    settings = {(_cell_of(r)) for r in runs}
    say(f"{len(settings)} settings, {len(runs)} runs, {jobs} worker process(es)")
    summaries = execute(
        [r.config for r in runs],
        jobs,
        lambda done, total: say(f"runs {done}/{total} ({time.monotonic() - began:.0f} s)"),
    )
    rows = label_rows([run_row(r, s) for r, s in zip(runs, summaries)])  # stabviz.outcomes.fit's labels
    summary = finite_or_none(
        {
            "size": size_name,
            "command": command,
            "commit": commit,
            "jobs": jobs,
            "device": device,
            "cpus": os.cpu_count(),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "runs": len(rows),
            "settings": len(settings),
            "wall_s": time.monotonic() - began,
            "diverged": sum(r["status"] == "diverged" for r in rows),
            "collapsed": sum(r["collapsed"] for r in rows),
            "tasks": {t: {"bases": n, **TASKS[t].__dict__} for t, n in SIZES[size_name].bases.items()},
        }
    )
    safeio.write_text(out / "runs.json", dumps(rows) + "\n", force=force)
    safeio.write_text(out / "summary.json", dumps(summary) + "\n", force=force)
    return summary


def _cell_of(run: Run) -> tuple:
    return (run.base["base"], run.budget, run.choice["init"], run.choice["dampening"], run.choice["sharpness"])
