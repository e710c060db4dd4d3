"""The advice: a committed verdict and recommended whole settings, read from the outcome model.

:func:`verdict` answers "will this setting train?" from its measured initial gain and rate (the quick
Monte-Carlo check): "expected to train" / "at risk" / "will collapse" with P(collapse). :func:`recommend`
walks the dataset's choices (γ × β × initialisation) in the order of their measured mean shortfall over every
network trained, and keeps the first that are not harmful at the user's network (a network that does not
fire, or P(collapse) above HARMFUL); the theory's ρ² = 1 solutions are scored too and shown as what the
paper proposes, with what the evidence says of them. docs/evidence/outcomes/README.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from stabviz.config import LIFConfig
from stabviz.outcomes import features, model

#: an option the model says will collapse (P(collapse) above model.HIGH) is harmful: never recommended. (At
#: 0.5 the gate also skipped good choices on held-out digits: docs/evidence/outcomes/README.md)
HARMFUL = model.HIGH
#: the label of the first option
RECOMMENDED = "recommended"
#: the optimiser budget a verdict assumes unless told (the dataset's main budget)
DEFAULT_BUDGET = 200

Measure = Callable[[LIFConfig], dict[str, Any]]


def fires(rate: float | None, dead_rate: float = 0.01) -> bool:
    """The network a choice gives fires: its initial rate is at least ``dead_rate``."""
    return rate is not None and rate >= dead_rate


def usable(rate: float | None, p: float, dead_rate: float = 0.01) -> bool:
    """A choice may be recommended: its network fires and the model does not say it will collapse."""
    return fires(rate, dead_rate) and p <= HARMFUL


def first_choice(keys: list[tuple], x: np.ndarray, part: dict[str, Any], order: list[dict[str, Any]]) -> int:
    """The index into ``keys`` (choices (init, γ, β) with feature rows ``x``) that :func:`recommend` picks:
    the first choice of the ranking ``order`` that is :func:`usable`; when the model says every choice will
    collapse, the first whose network fires; else the first ranked."""
    p = model.p_collapse(x, part)
    ranked = [keys.index(k) for k in ((c["init"], c["dampening"], c["sharpness"]) for c in order) if k in keys]
    rates = x[:, features.NAMES.index("rate")]
    return next((i for i in ranked if usable(rates[i], p[i])), next((i for i in ranked if fires(rates[i])), ranked[0]))


def _source_of(source: str) -> Measure:
    if source not in features.SOURCES:
        raise ValueError(f"source = {source!r} is not one of: {', '.join(features.SOURCES)}")
    return features.measure if source == "measured" else features.predict


def _check(budget: int, layers: int) -> None:
    if isinstance(budget, bool) or not isinstance(budget, int) or not 1 <= budget <= 1_000_000:
        raise ValueError(f"budget = {budget!r} is outside the allowed range [1, 1000000] (optimiser steps)")
    if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers <= 3:
        raise ValueError(f"layers = {layers!r} is outside the allowed range [1, 3]")


def verdict(
    lif: LIFConfig,
    budget: int = DEFAULT_BUDGET,
    layers: int = 1,
    source: str = "measured",
    measured: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Will ``lif`` train? The outcome model's P(collapse), expected shortfall and verdict word, from the
    setting's initial gain and rate (``measured``: a result of :func:`stabviz.outcomes.features.measure`
    already at hand; otherwise measured, or predicted with ``source="predicted"``)."""
    _check(budget, layers)
    numbers = measured if measured is not None else _source_of(source)(lif)
    out = model.outcome(
        numbers.get("log10_gain"), numbers.get("firing_rate"), lif.steps, budget, layers, lif.init_rec, source
    )
    return {
        **out,
        "log10_gain": numbers.get("log10_gain"),
        "firing_rate": numbers.get("firing_rate"),
        "budget": budget,
        "layers": layers,
        "caveat": neuron_caveat(lif),
    }


def neuron_caveat(lif: LIFConfig) -> str | None:
    """Why the verdict says less for an alif or a cuba (None for the LIF): every run the outcome model was
    fitted on trained a LIF, so it reads a variant's initial gain and rate as a LIF's would read."""
    if lif.neuron == "lif":
        return None
    return (
        f"neuron = {lif.neuron}: the outcome model was fitted on LIF runs only, so it reads this {lif.neuron}'s "
        "initial gain and firing rate as a LIF's; no run has tested that for this neuron: confirm with a run"
    )


def candidates(lif: LIFConfig) -> list[tuple[LIFConfig, dict[str, Any]]]:
    """The whole settings a recommendation chooses from, in the order of the shipped ranking (the choices' mean
    shortfall over every measured network): each choice (the setting's own initialisation or conditions I + II,
    γ, β) applied to ``lif``, with its ranking entry. Conditions I + II are left out where condition II is
    unattainable."""
    from stabviz.conditions import recurrent_law

    try:
        recurrent_law(lif.replace(init_rec="conditions"))
        conditions = True
    except ValueError:  # condition II unattainable here: no such weights to offer
        conditions = False
    out = []
    for c in model.load()["ranking"]:
        if c["init"] == "conditions" and not conditions:
            continue
        init = "conditions" if c["init"] == "conditions" else lif.init_rec
        if c["init"] == "own" and init == "conditions":  # the setting already uses conditions I + II
            continue
        out.append((lif.replace(dampening=c["dampening"], sharpness=c["sharpness"], init_rec=init), c))
    return out


def describe(cfg: LIFConfig) -> str:
    init = "conditions I + II" if cfg.init_rec == "conditions" else cfg.init_rec
    return f"γ = {cfg.dampening:g}, β = {cfg.sharpness:g}, {init} init"


def _option(
    cfg: LIFConfig,
    numbers: dict[str, Any],
    budget: int,
    layers: int,
    source: str,
    label: str,
    ranked: dict[str, Any] | None = None,
) -> dict:
    """One scored setting: the model's P(collapse) at its initial gain and rate, and (for a ranked choice) the
    mean shortfall that choice had over every network the dataset trained."""
    out = model.outcome(
        numbers.get("log10_gain"), numbers.get("firing_rate"), cfg.steps, budget, layers, cfg.init_rec, source
    )
    if ranked is not None:
        out["shortfall"] = ranked["shortfall"]
    rate = numbers.get("firing_rate")
    return {
        "label": label,
        "setting": describe(cfg),
        "dampening": cfg.dampening,
        "sharpness": cfg.sharpness,
        "tail": cfg.tail,
        "init_rec": cfg.init_rec,
        **out,
        "harmful": not usable(rate, out["p_collapse"], model.load().get("dead_rate", 0.01)),
        "log10_gain": numbers.get("log10_gain"),
        "firing_rate": rate,
        "why": _why(numbers, out, ranked),
    }


def _why(numbers: dict[str, Any], out: dict[str, Any], ranked: dict[str, Any] | None) -> str:
    g = numbers.get("log10_gain")
    gain = "−∞" if g is None else f"{g:+.1f}"
    text = (
        f"initial T·log₁₀ gain {gain} ({out['source']}), firing rate {numbers.get('firing_rate') or 0:.2f}: "
        f"P(collapse) {out['p_collapse']:.2f}"
    )
    if ranked is not None:
        text += (
            f"; this choice fell {100 * ranked['shortfall']:.0f}% of the way from each network's best choice "
            f"to chance on average over {ranked['runs']} measured runs"
        )
    return text


def recommend(
    lif: LIFConfig, budget: int = DEFAULT_BUDGET, layers: int = 1, source: str = "predicted", limit: int = 3
) -> dict[str, Any]:
    """The advice for ``lif``: the current setting's verdict, the first ``limit`` choices of the shipped
    ranking that are not harmful at ``lif`` (whole settings, each with its P(collapse), the shortfall its choice
    had over the dataset, and why), and the paper's ρ² = 1 options scored the same way (``paper``). ``source``:
    the initial gain and rate the options are judged from ("predicted": the theory, instant; "measured": the
    quick Monte-Carlo check of each choice looked at, ~0.1 s each)."""
    from stabviz import theory

    _check(budget, layers)
    numbers_of = _source_of(source)
    current = _option(lif, numbers_of(lif), budget, layers, source, "your setting")
    scored, kept = [], []
    for cfg, ranked in candidates(lif):  # in ranking order; measured only until enough are kept
        o = _option(cfg, numbers_of(cfg), budget, layers, source, "", ranked)
        scored.append(o)
        if not o["harmful"]:
            kept.append(o)
        if len(kept) >= limit:
            break
    extra = []
    if not kept:
        # Each network's best choice trains by the labels' definition, so a model that says every choice will
        # collapse is extrapolating here: fall back to the ranking (the validated policy, fit.regret)
        kept = [o for o in scored if fires(o["firing_rate"], model.load().get("dead_rate", 0.01))][:limit]
        extra = (
            [
                "the outcome model gives every choice P(collapse) above "
                f"{HARMFUL:g} here, which it cannot mean (each network's best choice trains, by the labels' "
                "definition): it extrapolates beyond the tasks it was fitted on, so the options follow the "
                "measured ranking alone; treat them as at risk and confirm with a run"
            ]
            if kept
            else []
        )
    for k, o in enumerate(kept):
        o["label"] = RECOMMENDED if k == 0 else f"alternative {k}"
    paper_options, notes = theory.recommendation_options(lif)
    paper = []
    for p in paper_options:
        cfg = lif.replace(dampening=p["dampening"], sharpness=p["sharpness"], tail=p["tail"])
        o = _option(cfg, numbers_of(cfg), budget, layers, source, f"the paper's ρ² = 1: {p['label']}")
        o["evidence"] = (
            "the model extrapolates here"
            if extra
            else "harmful in the outcome data"
            if o["harmful"]
            else "not harmful in the outcome data"
        )
        paper.append(o)
    return {
        "p_collapse": current["p_collapse"],
        "verdict": current["verdict"],
        "current": current,
        "options": kept,
        "paper": paper,
        "notes": [c for c in (neuron_caveat(lif),) if c]
        + notes
        + extra
        + (
            []
            if kept
            else [
                "every choice of the grid is harmful here (the network would not fire, or will collapse): "
                "change the network (τ, θ, size) first"
            ]
        ),
        "budget": budget,
        "layers": layers,
        "source": source,
    }


def recommended_setting(lif: LIFConfig, budget: int = DEFAULT_BUDGET, layers: int = 1) -> tuple[LIFConfig, dict]:
    """The first recommended option applied to ``lif`` as a whole (γ, β, q and the initialisation), and what
    was applied; ``lif`` unchanged (with a note) when every option is harmful."""
    advice = recommend(lif, budget, layers, limit=1)
    if not advice["options"]:
        return lif, {
            "label": None,
            "dampening": None,
            "sharpness": None,
            "tail": None,
            "init_rec": None,
            "p_collapse": None,
            "notes": advice["notes"] + ["the setting is unchanged"],
        }
    best = advice["options"][0]
    applied = {
        k: best[k]
        for k in ("label", "dampening", "sharpness", "tail", "init_rec", "p_collapse", "shortfall", "setting")
    } | {"notes": advice["notes"]}
    return lif.replace(
        dampening=best["dampening"], sharpness=best["sharpness"], tail=best["tail"], init_rec=best["init_rec"]
    ), applied
