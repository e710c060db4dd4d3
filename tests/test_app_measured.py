"""Explore's measured layer, wired with AppTest: the toggle (and ?measured=1) starts a background map whose
progress shows, then its agreement, its boundary on the map and how it was made; bad links and refusals
are messages. The map is small here (a few cells, short simulations): the real worker process runs it."""

import json

import pytest
from support import open_app, shown, wait_for

from stabviz.ui import measuredlayer

pytestmark = pytest.mark.timeout(240)
SMALL_LAYER = {"n_rec": "32", "n_in": "40"}


@pytest.fixture(autouse=True)
def small_maps(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path))
    monkeypatch.setattr(measuredlayer, "GRID", 5)
    monkeypatch.setattr(measuredlayer, "SIM", dict(batch=8, steps=120, burn_in=60))
    measuredlayer.registry.clear()
    yield
    measuredlayer.registry().shutdown()
    measuredlayer.registry.clear()


def _progress(at):
    return [p.proto.text for p in at.get("progress")]


def _agreement(at):
    return [shown(m.value) for m in at.markdown if "Regimes agree on" in m.value]


def _until_done(at, timeout=120):
    """Rerun the page (as the fragment's polling would) until the map has finished."""

    def done():
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return _agreement(at) or [e.value for e in at.error]

    return wait_for(done, timeout, "the measured map", poll=0.3)


def _map_traces(at):
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return [t.get("name") for s in specs if s["layout"].get("uirevision", "").startswith("region-") for t in s["data"]]


def test_the_toggle_shows_progress_then_the_agreement_and_the_measured_boundary():
    at = open_app(SMALL_LAYER)
    assert not at.toggle(key="map_measured").value and not _progress(at)
    assert "measured boundary" not in _map_traces(at)
    at.toggle(key="map_measured").set_value(True).run()
    assert not at.exception
    assert _progress(at) and "cells" in _progress(at)[0]  # in the background: the page answered
    assert at.query_params["measured"] in ("1", ["1"])
    text = _until_done(at)[0]
    assert "of the 5 × 5 cells" in text and "%" in text, text
    assert not _progress(at)  # polling stopped
    assert "measured boundary" in _map_traces(at)
    assert any("push-back" in c.value and "docs/theory.md#43-measured-monte-carlo" in c.value for c in at.caption)


def test_a_link_with_measured_and_the_measured_field_draws_the_measured_field():
    at = open_app({**SMALL_LAYER, "measured": "1", "field": "measured", "map": "leak"})
    assert at.toggle(key="map_measured").value and _progress(at)
    _until_done(at)
    assert {"measured boundary", "measured field"} <= set(_map_traces(at))
    assert not at.warning


def test_a_garbage_measured_value_warns_and_leaves_the_layer_off():
    at = open_app({"measured": "yes please", "field": "banana"})
    text = shown(" ".join(w.value for w in at.warning))
    assert "measured = 'yes please' is not one of: 1, 0" in text
    assert not at.toggle(key="map_measured").value and not _progress(at) and not at.exception


def test_a_memory_refusal_is_a_message_not_a_traceback(monkeypatch):
    monkeypatch.setenv("STABVIZ_MAX_MEMORY_MB", "0.01")  # the worker is spawned with this limit
    at = open_app({**SMALL_LAYER, "measured": "1"})
    errors = _until_done(at)
    assert "The measured map failed" in shown(errors[0]) and "over the" in shown(errors[0])
    assert not at.exception
    jobs_before = measuredlayer.registry()._ids
    at.button(key="measured_retry").click().run()
    # measured anew (a new job, not the cached error); the refusal is instant, so it may already show again
    assert measuredlayer.registry()._ids == jobs_before + 1 and not at.exception


def test_a_layer_above_the_neuron_limit_is_refused_on_the_page(monkeypatch):
    monkeypatch.setenv("STABVIZ_MAX_NEURONS", "16")
    at = open_app({**SMALL_LAYER, "measured": "1"})
    assert any("above this machine's limit 16" in shown(w.value) for w in at.warning)
    assert not _progress(at) and not at.exception
