"""The advice: a committed verdict and recommended whole settings, read from the outcome model.

:func:`verdict` answers "will this setting train?" from its measured initial gain and rate (the quick
Monte-Carlo check): "expected to train" / "at risk" / "will collapse" with P(collapse). :func:`recommend`
scores whole settings (γ × β × initialisation, the grid the dataset trained) and keeps those the model does
not call harmful, best expected shortfall first; the theory's ρ² = 1 solutions are scored too and shown as
what the paper proposes, with what the evidence says of them. docs/evidence/outcomes/README.md.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from stabviz.config import LIFConfig
from stabviz.outcomes import features, model

#: the grid a recommendation picks from: the dataset's choices (what was measured in training)
GAMMAS = (0.25, 1.0, 4.0)
BETAS = (0.25, 1.0, 4.0)
#: an option whose P(collapse) is above this is harmful: never recommended
HARMFUL = 0.5
#: the optimiser budget a verdict assumes unless told (the dataset's main budget)
DEFAULT_BUDGET = 200

Measure = Callable[[LIFConfig], dict[str, Any]]


def pick(x: np.ndarray, part: dict[str, Any]) -> int:
    """The row of feature rows ``x`` with the least expected shortfall (ties: the lower P(collapse))."""
    p = model.p_collapse(x, part)
    s = model.shortfall(p, part)
    return int(np.lexsort((p, np.round(s, 6)))[0])


def _source_of(source: str) -> Measure:
    if source not in features.SOURCES:
        raise ValueError(f"source = {source!r} is not one of: {', '.join(features.SOURCES)}")
    return features.measure if source == "measured" else features.predict


def _check(budget: int, layers: int) -> None:
    if isinstance(budget, bool) or not isinstance(budget, int) or not 1 <= budget <= 1_000_000:
        raise ValueError(f"budget = {budget!r} is outside the allowed range [1, 1000000] (optimiser steps)")
    if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers <= 3:
        raise ValueError(f"layers = {layers!r} is outside the allowed range [1, 3]")


def verdict(lif: LIFConfig, budget: int = DEFAULT_BUDGET, layers: int = 1, source: str = "measured",
            measured: dict[str, Any] | None = None) -> dict[str, Any]:
    """Will ``lif`` train? The outcome model's P(collapse), expected shortfall and verdict word, from the
    setting's initial gain and rate (``measured``: a result of :func:`stabviz.outcomes.features.measure`
    already at hand; otherwise measured, or predicted with ``source="predicted"``)."""
    _check(budget, layers)
    numbers = measured if measured is not None else _source_of(source)(lif)
    out = model.outcome(numbers.get("log10_gain"), numbers.get("firing_rate"), lif.steps, budget, layers,
                        lif.init_rec, source)
    return {**out, "log10_gain": numbers.get("log10_gain"), "firing_rate": numbers.get("firing_rate"),
            "budget": budget, "layers": layers}


def candidates(lif: LIFConfig) -> list[LIFConfig]:
    """The whole settings a recommendation chooses from: the grid γ × β with the setting's own
    initialisation and with conditions I + II, everything else as ``lif``."""
    from stabviz import laws
    inits = list(dict.fromkeys((lif.init_rec, "conditions")))
    try:
        laws.recurrent_law(lif.replace(init_rec="conditions"))
    except ValueError:                     # condition II unattainable here: no such weights to offer
        inits = [lif.init_rec]
    return [lif.replace(dampening=g, sharpness=b, init_rec=init) for init in inits for g in GAMMAS for b in BETAS]


def describe(cfg: LIFConfig) -> str:
    init = "conditions I + II" if cfg.init_rec == "conditions" else cfg.init_rec
    return f"γ = {cfg.dampening:g}, β = {cfg.sharpness:g}, {init} init"


def _option(cfg: LIFConfig, numbers: dict[str, Any], budget: int, layers: int, source: str, label: str) -> dict:
    out = model.outcome(numbers.get("log10_gain"), numbers.get("firing_rate"), cfg.steps, budget, layers,
                        cfg.init_rec, source)
    return {"label": label, "setting": describe(cfg), "dampening": cfg.dampening, "sharpness": cfg.sharpness,
            "tail": cfg.tail, "init_rec": cfg.init_rec, **out, "harmful": out["p_collapse"] > HARMFUL,
            "log10_gain": numbers.get("log10_gain"), "firing_rate": numbers.get("firing_rate"),
            "why": _why(numbers, out)}


def _why(numbers: dict[str, Any], out: dict[str, Any]) -> str:
    g = numbers.get("log10_gain")
    gain = "−∞" if g is None else f"{g:+.1f}"
    return (f"initial T·log₁₀ gain {gain} ({out['source']}), firing rate {numbers.get('firing_rate') or 0:.2f}: "
            f"P(collapse) {out['p_collapse']:.2f}, expected shortfall {100 * out['shortfall']:.0f}% of the "
            "way from the best accuracy to chance")


def recommend(lif: LIFConfig, budget: int = DEFAULT_BUDGET, layers: int = 1, source: str = "predicted",
              limit: int = 3) -> dict[str, Any]:
    """The advice for ``lif``: the current setting's verdict, the best ``limit`` options that are not
    harmful (whole settings, least expected shortfall first, each with its predicted outcome and why), and
    the paper's ρ² = 1 options scored the same way (``paper``). ``source``: the features the options are
    scored from ("predicted": the theory, instant; "measured": a Monte-Carlo check each, ~0.1 s)."""
    from stabviz import theory
    _check(budget, layers)
    numbers_of = _source_of(source)
    current = _option(lif, numbers_of(lif), budget, layers, source, "your setting")
    scored = [_option(c, numbers_of(c), budget, layers, source, "recommended") for c in candidates(lif)]
    scored.sort(key=lambda o: (round(o["shortfall"], 6), o["p_collapse"]))
    kept = [o for o in scored if not o["harmful"]][:limit]
    for k, o in enumerate(kept[1:], 2):
        o["label"] = f"alternative {k - 1}"
    paper_options, notes = theory.recommendation_options(lif)
    paper = []
    for p in paper_options:
        cfg = lif.replace(dampening=p["dampening"], sharpness=p["sharpness"], tail=p["tail"])
        o = _option(cfg, numbers_of(cfg), budget, layers, source, f"the paper's ρ² = 1: {p['label']}")
        o["evidence"] = ("harmful in the outcome data" if o["harmful"] else "not harmful in the outcome data")
        paper.append(o)
    return {"p_collapse": current["p_collapse"], "verdict": current["verdict"], "current": current,
            "options": kept, "paper": paper, "notes": notes + ([] if kept else [
                "every setting of the grid is predicted harmful here: change the network (τ, θ, size) first"]),
            "budget": budget, "layers": layers, "source": source}


def recommended_setting(lif: LIFConfig, budget: int = DEFAULT_BUDGET, layers: int = 1) -> tuple[LIFConfig, dict]:
    """The first recommended option applied to ``lif`` as a whole (γ, β, q and the initialisation), and what
    was applied; ``lif`` unchanged (with a note) when every option is harmful."""
    advice = recommend(lif, budget, layers, limit=1)
    if not advice["options"]:
        return lif, {"label": None, "dampening": None, "sharpness": None, "tail": None, "init_rec": None,
                     "p_collapse": None, "notes": advice["notes"] + ["the setting is unchanged"]}
    best = advice["options"][0]
    applied = {k: best[k] for k in ("label", "dampening", "sharpness", "tail", "init_rec", "p_collapse",
                                    "shortfall", "setting")} | {"notes": advice["notes"]}
    return lif.replace(dampening=best["dampening"], sharpness=best["sharpness"], tail=best["tail"],
                       init_rec=best["init_rec"]), applied
