"""What a run's (or a seed group's) verdict says, composed once for the Runs page and Explore's confirmation.

Two messages, always in this order: how training went (:func:`stabviz.runs.outcomes.training_outcome`:
"Gradients vanished; accuracy stayed at chance: 20% (chance 20%).", coloured by that alone: green only for a
run that trained), then what the prediction came to, in a neutral box whose words never claim more than the
prediction-vs-measurement table beside it: a regime inside its band next to a per-step gain outside its
tolerance is "partly confirmed" and names the quantity that disagrees. :func:`run_messages` and
:func:`group_messages` are pure (the tests go through every combination); :func:`show` draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from stabviz.runs import ACTIVE
from stabviz.runs.groups import verdict_sentence as group_sentence
from stabviz.runs.outcomes import training_outcome
from stabviz.ui import layout

#: (tone, markdown): tone is a box kind (success, warning, error, info).
Message = tuple[str, str]
#: The verdict's rows that say agrees yes/no (the prediction-vs-measurement table's), in its words.
ROWS = {"regime": "regime", "rho": "per-step gain (ρ vs ρ̂)", "firing_rate": "initial firing rate"}
#: The neutral tone of every prediction message: its colour never says how training went.
NEUTRAL = "info"


def _agreement(verdict: Mapping[str, Any]) -> dict[str, bool | None]:
    return {k: (verdict.get(k) or {}).get("agrees") for k in ROWS}


def _numbers(verdict: Mapping[str, Any], key: str) -> str:
    row = verdict.get(key) or {}
    return f"predicted {layout.fmt(row.get('predicted'))}, measured {layout.fmt(row.get('measured'))}"


def prediction_message(run: Mapping[str, Any], T: str = "T") -> Message | None:
    """The prediction's verdict for one run, consistent with every row of its table: "confirmed" only when
    no row says no; "partly confirmed" (the regime held, another row did not, named with its numbers);
    "refuted" when the regime fell outside its band. None when the run has no regime verdict."""
    verdict = (run.get("summary") or {}).get("verdict") or {}
    regime = verdict.get("regime") or {}
    agree = _agreement(verdict)
    if agree["regime"] is None:
        return None
    band = regime.get("band") or [None, None]
    said = (
        f"the theory said *{layout.plain(regime.get('predicted'))}* (calibrated band {layout.fmt(band[0])} to "
        f"{layout.fmt(band[1])} decades over {T}); the run measured *{layout.plain(regime.get('measured'))}*, "
        f"{'inside' if agree['regime'] else 'outside'} the band (from the gradient-flow probe's ρ̂)"
    )
    off = [k for k in ROWS if k != "regime" and agree[k] is False]
    if not agree["regime"]:
        word = "refuted"
    elif off:
        word = "partly confirmed"
    else:
        word = "confirmed"
    text = f"Prediction **{word}**: {said}"
    if off:
        text += (
            "; "
            + ("but " if agree["regime"] else "and ")
            + "; ".join(f"the {ROWS[k]} disagrees ({_numbers(verdict, k)})" for k in off)
        )
    held = [ROWS[k] for k in ROWS if k != "regime" and agree[k]]
    if held and not agree["regime"]:
        text += f"; the {' and the '.join(held)} agree{'s' if len(held) == 1 else ''}"
    return NEUTRAL, text + "."


def run_messages(run: Mapping[str, Any], T: str = "T", who: str = "") -> list[Message]:
    """How the run went (coloured by training), then its prediction's verdict (neutral); nothing while it is
    queued or running. ``who``: a prefix naming the run when a page also shows its group ("Seed 1: ")."""
    if run.get("status") in ACTIVE:
        return []
    outcome = training_outcome([run])
    out: list[Message] = [(outcome["tone"], who + outcome["sentence"])]
    prediction = prediction_message(run, T)
    if prediction:
        out.append((prediction[0], who + prediction[1]))
    return out


def group_messages(members: Sequence[Mapping[str, Any]], group: Mapping[str, Any]) -> list[Message]:
    """A seed group's outcome over all its members (coloured by training, once every member has ended), then
    its interval verdict (neutral) once two members have measured."""
    out: list[Message] = []
    if members and not any(r.get("status") in ACTIVE for r in members):
        outcome = training_outcome(members)
        out.append((outcome["tone"], f"Over {len(members)} seeds: {outcome['sentence']}"))
    sentence = group_sentence(group)
    if sentence and not group.get("error"):
        out.append((NEUTRAL, layout.plain(sentence)))
    return out


def show(messages: Sequence[Message]) -> None:
    """Each message in a box of its tone."""
    boxes = {"success": st.success, "warning": st.warning, "error": st.error, "info": st.info}
    for tone, text in messages:
        boxes[tone](text)
