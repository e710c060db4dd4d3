"""The confirmation run: the one definition of the short run that checks a setting's prediction.

Explore's *Confirm with a short run*, the Runs page's estimate of it and ``benchmarks/bench_confirm``
all build it here (:func:`quick_config`), so what is measured is what the dashboard launches.
"""

from __future__ import annotations

from typing import Any

from stabviz.config import LIFConfig, TrainConfig, limits, run_preset


# The confirmation's size is config.RUN_PRESETS["quick"] (docs/confirmation.md says why it suffices). Its
# verdict is measured at initialisation, on PROBE_SAMPLES (64) test samples per seed at the setting's own T;
# 400 samples leave 80 for the test split. The 40 AdamW steps of batch 16 only show whether training starts
# (or diverges): the outcome sentence reads their test accuracy against chance. Its time_limit is the store's
# guard, which the cost estimate warns about before a launch.
def quick_config(cfg: LIFConfig, preset: str = "quick", **train: Any) -> TrainConfig:
    """A short confirmation run at ``cfg`` on the generated randman task (no data to download);
    ``preset``: the run preset it starts from (``form``: the Runs page's launch form).

    One T everywhere: its samples are ``cfg.steps`` long (the T the page's verdict is for), unless the
    machine's time-step limit is lower; then the run's own setting takes that T, so its stored
    prediction is made at the T it runs."""
    steps = min(cfg.steps, limits()["time_steps"])
    time_steps = int(train.pop("time_steps", steps))
    return run_preset(preset, lif=cfg.replace(steps=time_steps), time_steps=time_steps, **train)
