"""Explore leads with the committed verdict (AppTest): will this setting train, with its P(collapse), read
first from the theory's predicted gain and then, once the background Monte-Carlo check is in, from the
measured gain; the recommended whole setting is what Confirm trains; the Evidence page shows the outcome
model's leave-one-task-out table."""

from __future__ import annotations

import re
import time

import pytest
from support import open_app, shown

from stabviz.outcomes import model

EVIDENCE = "evidence"
HEADLINE = re.compile(
    r"### :(green|orange|red)\[(Expected to train|At risk|Will collapse)\]: P\(collapse\) = (\d\.\d\d)"
)


@pytest.fixture(autouse=True)
def temp_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))


def verdict_of(at) -> tuple[str, str, float, str]:
    """(colour, word, probability, caption) of the verdict box."""
    heads = [m.value for m in at.markdown if HEADLINE.match(m.value)]
    assert len(heads) == 1, [m.value[:80] for m in at.markdown]
    colour, word, p = HEADLINE.match(heads[0]).groups()
    caption = next(c.value for c in at.caption if c.value.startswith("Training "))
    return colour, word, float(p), caption


def measured_verdict(at, timeout: float = 120.0):
    """Rerun until the background check has measured the setting (it never blocks a run)."""
    deadline = time.monotonic() + timeout
    while True:
        colour, word, p, caption = verdict_of(at)
        if "from the measured initial gain" in caption or time.monotonic() > deadline:
            return colour, word, p, caption
        time.sleep(0.5)
        at.run()


def test_explore_leads_with_a_verdict_measured_in_the_background():
    at = open_app({"preset": "shd-tau20", "n_rec": "64", "steps": "50"})
    colour, word, p, caption = verdict_of(at)
    assert "from the theory's predicted gain" in caption or "from the measured initial gain" in caption
    colour, word, p, caption = measured_verdict(at)
    assert "from the measured initial gain" in caption
    assert (
        word.lower() == model.verdict_word(p)
        and colour == {"expected to train": "green", "at risk": "orange", "will collapse": "red"}[word.lower()]
    )
    assert "Training 200 optimiser steps" in caption and "T·log₁₀ gain" in caption
    at.segmented_control(key="plan_budget").set_value(1000).run()
    assert "Training 1000 optimiser steps" in verdict_of(at)[3]
    assert not at.exception


def test_confirm_trains_the_recommended_whole_setting():
    at = open_app({"preset": "shd-tau20", "n_rec": "64", "steps": "50"})
    said = shown(" ".join(m.value for m in at.markdown))
    confirm = " ".join(c.value for c in at.caption if c.value.startswith("At "))
    if "**Recommended:** none" in said:
        assert "At the current setting" in confirm
    else:
        assert "Recommended (fitted on measured training outcomes)" in said
        assert "At the option “recommended”" in confirm
        radio = at.radio(key="rec_option")
        assert radio.value == "recommended"


def test_the_evidence_page_shows_the_held_out_table():
    at = open_app(page=EVIDENCE)
    text = shown(" ".join(m.value for m in at.markdown))
    assert "the outcome model on held-out tasks" in " ".join(s.value for s in at.subheader)
    for task in ("digits", "randman", "cues"):
        assert f"| {task} |" in text
    assert "measured training outcomes" in text
