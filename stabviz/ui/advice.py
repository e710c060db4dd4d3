"""Plain-language advice from a prediction and a recommendation (pure: no streamlit).

The numbers come from :func:`stabviz.theory.predict` and :func:`stabviz.theory.recommend` (as their
``to_dict()``); this module puts them into sentences a student can act on.

It also holds the one record every piece of advice is drawn from: a :class:`Setting` is a whole network
(the LIFConfig with its initialisation, and the weight laws that initialisation gives) together with the
verdict the theory gives it. The Explore page's options, its snippets, its library calls and its
"Confirm" run are all rendered from the same Setting, so the code a user copies builds the very network
that was judged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from stabviz.config import LIFConfig, WeightLaw, power_of_ten


def _g(x: Any, digits: int = 3) -> str:
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{float(x):.{digits}g}"


def gain_phrase(log10_gain: float | None, steps: int) -> str:
    """'grow by about 10²' / 'shrink by about 10⁴' / 'change by a factor 0.5' over T steps."""
    if log10_gain is None or not math.isfinite(log10_gain):
        return (
            f"vanish completely over T = {steps} steps"
            if log10_gain is None or log10_gain < 0
            else f"explode over T = {steps} steps"
        )
    if abs(log10_gain) < 1:
        return f"change by a factor {10**log10_gain:.2g} over T = {steps} steps"
    verb = "grow" if log10_gain > 0 else "shrink"
    return f"{verb} by about {power_of_ten(abs(log10_gain))} over T = {steps} steps"


def what_to_change(
    cfg: Any, pred: Mapping[str, Any], rec: Mapping[str, Any], settings: Sequence[Setting] | None = None
) -> str:
    """A few sentences: the calibrated verdict, and the whole settings that reach the stable band.

    ``settings`` (from :func:`settings`; default: the recommendation's own options at ``cfg``) are the
    candidates. Only those whose whole calibrated band is stable are offered as fixes; a candidate whose
    band crosses a regime edge is named as something to measure, never as a fix. Every move named is one
    whole setting, so the advice never pairs knobs the theory did not evaluate together.
    """
    if settings is None:
        settings = options_at(cfg, rec)
    regime = pred["regime"]
    band = pred.get("log10_gain_band") or [None, None]
    head = (
        f"Gradients are predicted to {gain_phrase(pred.get('log10_gain'), cfg.steps)} "
        f"(ρ² = {_g(pred.get('rho2'), 4)}; calibrated band {_band(band)} decades over T = {cfg.steps}, "
        f"stable within ±{cfg.tolerance:g})."
    )
    if regime == "stable":
        return head + " Nothing to change: the whole band lies in the stable range."
    if regime == "uncertain":
        head += (
            " The band crosses a regime boundary, so the theory cannot decide here: measure it "
            "(a short run, or `stabviz measure-map` for the whole map)."
        )
    elif regime == "vanishing":
        head += (
            " Vanishing is not untrainable: a loss at every step needs no gradient across all T steps, "
            "so such settings often still train; it is exploding gradients that break training."
        )
    fixes = [_move(cfg, s) for s in settings if s.is_fix]
    unsure = [_move(cfg, s) for s in settings if s.solved and s.cant_tell]
    if not fixes and not unsure:
        return head + " No single knob reaches ρ² = 1 here: " + "; ".join(rec.get("notes") or ["see the notes"])
    text = head
    if fixes:
        text += " Fixes (the whole calibrated band stable): " + "; or ".join(fixes) + "."
    if unsure:
        text += (
            " Candidates with ρ² = 1 in theory, none of them a fix: " + "; ".join(unsure) + ". Their "
            "calibrated bands cross a regime edge (or the voltage model is off there). "
            f"{CANT_TELL} (the measure button is under *Recommended initialisation*)."
        )
    return text


def recommendation_sentence(settings: Sequence[Setting]) -> str:
    """The outcome model's recommended whole setting in one sentence, or why there is none."""
    rec = next((s for s in settings if s.recommended), None)
    if rec is None:
        return (
            "**Recommended:** none. Every choice of the outcome model's grid is harmful here (the network "
            "would not fire, or the model says it will collapse): change the network (τ, θ, size) first."
        )
    c, o = rec.cfg, rec.outcome or {}
    weights = "conditions I + II" if c.init_rec == "conditions" else c.init_rec
    return (
        f"**Recommended (fitted on measured training outcomes):** γ = {c.dampening:.4g}, β = {c.sharpness:.4g}"
        + (f", q = {c.tail:.4g}" if c.shape == "qpseudospike" else "")
        + f", W_rec {weights}: "
        f"P(collapse) {o.get('p_collapse', math.nan):.2f}, expected shortfall {100 * o.get('shortfall', math.nan):.0f}%"
        + (
            " (the outcome model calls every choice at risk here, beyond the tasks it was fitted on, so this follows "
            "the measured ranking alone)"
            if o.get("harmful")
            else ""
        )
        + ". "
        "*Confirm with a short run* trains it; other choices are under *Recommended initialisation*."
    )


def _band(band: Any) -> str:
    lo, hi = band
    return f"[{_g(lo)}, {_g(hi)}]"


def _move(cfg: Any, setting: Setting) -> str:
    """One whole setting as an instruction relative to the current one (its weights first, if they change)."""
    at = setting.cfg
    weights = ""
    if at.init_rec != cfg.init_rec:
        weights = (
            "initialise W_rec by conditions I and II"
            if at.init_rec == "conditions"
            else f"initialise W_rec {at.init_rec}"
        )
    if setting.label.endswith("keep β, solve γ"):
        verb = "lower" if at.dampening < cfg.dampening else "raise"
        move = f"{verb} the dampening to γ_IV = {_g(at.dampening)} (keeping β = {_g(at.sharpness)})"
    elif setting.label.endswith("keep γ, solve β"):
        verb = "sharpen" if at.sharpness > cfg.sharpness else "widen"
        move = f"{verb} the surrogate to β* = {_g(at.sharpness)} (keeping γ = {_g(at.dampening)})"
    elif setting.label.endswith("keep γ, β, solve q"):
        move = f"set the tail-fatness to q* = {_g(at.tail)} (keeping γ and β)"
    else:
        move = ""
    return " and ".join(x for x in (weights, move) if x) or "keep the setting"


def rate_sentence(preds: Mapping[str, Mapping[str, Any]]) -> str:
    """The predicted initial firing rate with its spread across voltage models."""
    rates = {m: p["firing_rate"] for m, p in preds.items() if p.get("firing_rate") is not None}
    if not rates:
        return "No firing-rate prediction."
    lo, hi = min(rates.values()), max(rates.values())
    parts = ", ".join(f"{m} {r:.1%}" for m, r in rates.items())
    text = f"Predicted initial firing rate {lo:.1%} – {hi:.1%} across voltage models ({parts})."
    if hi - lo > RATE_DISAGREEMENT:
        text += (
            " The models disagree. Prefer the gaussian one: on the shipped presets it lands within 0.05 of "
            "the simulated rate, while the uniform one (the paper's) assumes a voltage spread evenly over "
            "a range that can be far wider than the real one. The referee is the quick measured check, or "
            "the measured voltage model."
        )
    return text


#: Rate predictions further apart than this get advice on which voltage model to believe.
RATE_DISAGREEMENT = 0.05


# ---------------------------------------------------------------------------------------------
# The one record of a whole setting: options, snippets, library calls and Confirm read it

#: The label of the setting as the sliders hold it.
AS_SET = "as set (the sliders)"
#: The label of the setting as set but with W_rec drawn by conditions I and II; its options carry it as a prefix.
CONDITIONS = "conditions I/II weights"
#: What the page says of a candidate whose calibrated band crosses a regime edge (never offered as a fix).
CANT_TELL = "The theory can't tell here: measure it"


@dataclass(frozen=True)
class Setting:
    """One whole network and the theory's verdict on it: everything the page shows of an option.

    ``cfg`` holds the layer, both initialisations, the input and the surrogate; ``in_law`` and ``rec_law``
    are the weight laws that initialisation gives (the laws stabviz.simulate samples), so a snippet drawn
    from them builds the network the verdict is about.
    """

    label: str
    cfg: LIFConfig
    in_law: WeightLaw
    rec_law: WeightLaw
    rho2: float
    log10_gain: float
    band: tuple[float, float]
    regime: str  # the calibrated verdict of the band (theory.VERDICTS)
    solved: bool  # an option solved for ρ² = 1 (False: a setting as given)
    #: the prediction's validity warnings (theory.validity_warnings): where the voltage model is known to be
    #: off, its calibrated band is no guarantee either
    warnings: tuple[str, ...] = ()
    #: what the outcome model predicts of training it (stabviz.outcomes.advice: p_collapse, shortfall, verdict,
    #: harmful), read from the theory's predicted initial gain; None where not scored
    outcome: Mapping[str, Any] | None = None

    @property
    def recommended(self) -> bool:
        """One of the outcome model's recommended options (never a setting the outcome data call harmful)."""
        return self.label.startswith(RECOMMENDED)

    @property
    def is_fix(self) -> bool:
        """Offered as a fix: a changed setting whose whole calibrated band lies in the stable range, at a
        setting where the voltage model holds."""
        return self.label != AS_SET and self.regime == "stable" and not self.warnings

    @property
    def cant_tell(self) -> bool:
        """The theory cannot decide this setting: its band crosses a regime edge, or the model is off here."""
        return self.regime == "uncertain" or bool(self.warnings) and self.regime != "undefined"

    def describe(self) -> str:
        """One line: the surrogate, the recurrent weights and the verdict."""
        c = self.cfg
        lo, hi = self.band
        q = f", q = {c.tail:.4g}" if c.shape == "qpseudospike" else ""
        weights = "W_rec by conditions I/II" if c.init_rec == "conditions" else f"W_rec {c.init_rec}"
        band = f"band {lo:+.1f} to {hi:+.1f} decades" if math.isfinite(lo) and math.isfinite(hi) else "no band"
        if self.is_fix:
            verdict = f"a fix: stable ({band})"
        elif self.cant_tell:
            why = band if self.regime == "uncertain" else f"{self.regime}, {band}, but the voltage model is off here"
            verdict = ("ρ² = 1 in theory, but " if self.solved else "") + f"can't tell ({why}): measure it"
        else:
            verdict = f"{self.regime} ({band})"
        if self.outcome is not None:
            o = self.outcome
            verdict = (
                f"P(collapse) {o['p_collapse']:.2f}"
                + (" (harmful)" if o.get("harmful") else "")
                + f" · theory: {verdict}"
            )
        return f"{self.label}: γ = {c.dampening:.4g}, β = {c.sharpness:.4g}{q} · {weights} · {verdict}"


def setting_of(label: str, cfg: LIFConfig, solved: bool = False) -> Setting:
    """The record of ``cfg``: its weight laws and the theory's prediction at it (its own voltage model)."""
    from stabviz import conditions, laws, theory

    p = theory.predict(cfg)
    return Setting(
        label,
        cfg,
        laws.input_law(cfg),
        conditions.recurrent_law(cfg),
        float(p.rho2),
        float(p.log10_gain),
        (float(p.log10_gain_band[0]), float(p.log10_gain_band[1])),
        p.regime,
        solved,
        tuple(n for n in p.notes if n.startswith("validity:")),
    )


def _with_options(label: str, cfg: LIFConfig, options: Sequence[Mapping[str, Any]], prefix: str) -> list[Setting]:
    """The setting ``cfg`` and its options (theory.recommendation_options at ``cfg``, each already evaluated as a
    whole setting: its ρ², band and regime). An option changes only the surrogate, so it shares the weight laws
    and the validity warnings (which read the forward setting alone) of ``cfg``: one prediction serves them all."""
    base = setting_of(label, cfg)
    out = [base]
    for o in options:
        at = cfg.replace(dampening=o["dampening"], sharpness=o["sharpness"], tail=o["tail"])
        rho2 = float(o["rho2"])
        lo, hi = (math.nan if b is None else float(b) for b in o["log10_gain_band"])
        out.append(
            Setting(
                prefix + o["label"],
                at,
                base.in_law,
                base.rec_law,
                rho2,
                at.steps * 0.5 * math.log10(rho2),
                (lo, hi),
                o["regime"],
                True,
                base.warnings,
            )
        )
    return out


def options_at(cfg: LIFConfig, rec: Mapping[str, Any] | None = None) -> list[Setting]:
    """The setting as set and the recommendation's options at its own initialisation (``rec``: the
    recommendation at ``cfg`` as a dict, when the caller has it)."""
    from stabviz import theory

    options = rec["options"] if rec is not None else theory.recommendation_options(cfg)[0]
    return _with_options(AS_SET, cfg, options or [], "")


def settings(cfg: LIFConfig, rec: Mapping[str, Any] | None = None) -> list[Setting]:
    """Every whole setting the Explore page offers: the setting as set and its options, then (unless W_rec
    already follows them, or condition II is unattainable) the same with W_rec drawn by conditions I and II
    and the options solved at those weights. An option is solved at the weights it is offered with."""
    from stabviz import conditions, theory

    out = options_at(cfg, rec)
    if cfg.init_rec == "conditions":
        return out
    at = cfg.replace(init_rec="conditions")
    try:
        conditions.recurrent_law(at)
    except ValueError:  # condition II unattainable: no such weights to offer
        return out
    return out + _with_options(CONDITIONS, at, theory.recommendation_options(at)[0], CONDITIONS + ", ")


def by_label(choices: Sequence[Setting], label: str | None) -> Setting:
    """The setting named ``label``; when there is none, the outcome model's recommended option (the first
    setting, as set, when there is no recommendation)."""
    return next((s for s in choices if s.label == label), default_choice(choices))


def default_choice(choices: Sequence[Setting]) -> Setting:
    """What Confirm trains until the user picks: the recommended whole setting, else the setting as set."""
    return next((s for s in choices if s.recommended), choices[0])


#: the label prefix of the outcome model's options
RECOMMENDED = "recommended"


def recommended_settings(cfg: LIFConfig, budget: int = 200) -> list[Setting]:
    """The outcome model's recommended options at ``cfg`` (stabviz.outcomes.advice.recommend), as Settings:
    whole settings (γ, β and the initialisation), least expected shortfall first, none harmful."""
    from stabviz.outcomes import advice as outcome_advice

    rec = outcome_advice.recommend(cfg, budget=budget)
    out = []
    for k, o in enumerate(rec["options"]):
        at = cfg.replace(dampening=o["dampening"], sharpness=o["sharpness"], tail=o["tail"], init_rec=o["init_rec"])
        label = RECOMMENDED if k == 0 else f"{RECOMMENDED}, alternative {k}"
        out.append(replace(setting_of(label, at), outcome=o))
    return out


def scored(choices: Sequence[Setting], budget: int = 200) -> list[Setting]:
    """``choices`` each with the outcome model's prediction (read from the theory's predicted gain)."""
    from stabviz.outcomes import advice as outcome_advice

    out = []
    for s in choices:
        if s.outcome is None:
            v = outcome_advice.verdict(s.cfg, budget, source="predicted")
            s = replace(s, outcome={**v, "harmful": v["p_collapse"] > outcome_advice.HARMFUL})
        out.append(s)
    return out


def measured_regime(log10_gain: float | None, tolerance: float) -> str:
    """The regime of a measured T·log10 ρ̂ (None or −inf: the gradient vanished completely)."""
    if log10_gain is None or math.isnan(log10_gain):
        return "vanishing" if log10_gain is None else "undefined"
    return "vanishing" if log10_gain < -tolerance else ("exploding" if log10_gain > tolerance else "stable")


def measured_sentence(m: Mapping[str, Any], cfg: LIFConfig) -> str:
    """A simulate.measure result (as a dict) in one sentence: the measured regime and how it was measured."""
    g = m.get("log10_gain")
    gain = "the gradient vanished completely" if g is None else f"T·log₁₀ρ̂ = {g:+.2f} decades"
    return (
        f"**Measured: {measured_regime(g, cfg.tolerance)}** ({gain} over T = {cfg.steps}; "
        f"initial firing rate {m['firing_rate']:.1%}; stabviz's simulate of this whole network: batch 64, "
        f"300 steps, seed {cfg.seed})."
    )
