"""Fuzz the URL layer (stabviz.ui.urlstate): whatever a link carries, reading it never raises; it gives a
valid setting plus one short warning per field it had to drop.

Hypothesis runs derandomized (the same cases on every machine) with a fixed example budget: 800 cases
in ~5 s on two shared cores.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stabviz.config import LIFConfig
from stabviz.ui import urlstate

FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def max_warning(name: str) -> int:
    """A warning is "<name> = <value cut to ~60 chars> <why>. Using the default <name> = <default>.";
    <why> is a range or the field's choice list: 100 characters of slack besides those."""
    choices = ", ".join(urlstate.CHOICES.get(name, ()))
    return 2 * len(name) + 60 + 100 + len(choices) + len(str(urlstate.DEFAULTS[name]))


def _numbers_as_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(min_value=-(10**400), max_value=10**400).map(str),
        st.integers(min_value=1, max_value=600).map(lambda k: "9" * k),  # huge numbers
        st.sampled_from(
            [
                "",
                " ",
                "nan",
                "-inf",
                "Infinity",
                "1e999",
                "1e-999",
                "0x10",
                "1_000",
                "١٢",
                "½",
                "1,5",
                "+",
                "-",
                ".",
                "e5",
                "true",
                "None",
                "\x00",
                "\u202e1",
            ]
        ),
        st.floats(min_value=0.0, max_value=1.0).map(repr),  # often in range
        st.integers(min_value=0, max_value=10_000).map(str),
    )


_TEXT = st.text(st.characters(codec=None), max_size=300)  # any unicode, surrogates included
_VALUE = st.one_of(
    _TEXT,
    _numbers_as_text(),
    st.sampled_from(sorted({c for cs in urlstate.CHOICES.values() for c in cs})),  # a choice, maybe wrong field
    st.sampled_from(["true", "FALSE", "on", "0", "yes please"]),
    st.text(min_size=500, max_size=3000),  # very long values
    st.lists(_TEXT, min_size=0, max_size=3),  # repeated keys
)
_KEYS = st.one_of(st.sampled_from(urlstate.FIELDS), _TEXT)


@FUZZ
@given(st.dictionaries(_KEYS, _VALUE, max_size=8))
def test_any_link_gives_a_valid_setting_and_short_warnings(params):
    values, warnings = urlstate.read_setting(params)
    assert isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)
    known = [k for k in params if k in urlstate.FIELDS]
    assert len(warnings) <= len(known)  # at most one warning per known field
    for w in warnings:
        name = next((k for k in known if w.startswith(f"{k} ")), None)
        assert name is not None, w  # it names the field
        assert len(w) <= max_warning(name), w  # every echoed value is cut
    assert set(values) == set(urlstate.DEFAULTS)  # unknown keys are ignored
    cfg = LIFConfig(**values)  # every kept value is valid
    assert cfg.to_dict() == values
    for name in urlstate.FIELDS:
        if name not in params or any(w.startswith(f"{name} ") for w in warnings):
            assert values[name] == urlstate.DEFAULTS[name]
        if isinstance(values[name], float):
            assert math.isfinite(values[name])


@FUZZ
@given(st.sampled_from(urlstate.FIELDS), st.text(min_size=61, max_size=5000))
def test_a_long_value_is_echoed_cut(name, raw):
    values, warnings = urlstate.read_setting({name: "x" + raw})  # "x...": never valid
    assert values[name] == urlstate.DEFAULTS[name]
    assert len(warnings) == 1 and len(warnings[0]) <= max_warning(name), warnings


def test_a_huge_number_in_a_link_is_refused_briefly():
    for name in ("n_rec", "seed", "dampening", "leak"):
        values, warnings = urlstate.read_setting({name: "9" * 400})
        assert values[name] == urlstate.DEFAULTS[name]
        assert len(warnings) == 1 and "outside the allowed range" in warnings[0] and len(warnings[0]) < 200
