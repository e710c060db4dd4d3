"""Session and URL state of the dashboard.

The setting lives in three places, and this module keeps them in step:

- the widgets' own keys (``lif_<field>``), which Streamlit deletes when a widget is not drawn;
- ``st.session_state["_setting"]``, our copy, which survives page switches and widget clean-up;
- the URL's query parameters, which survive a reload and travel in a shared link.

A run of the router (stabviz.ui.app.main) calls :func:`begin` first (seed the session from the URL on
a fresh session), draws the widgets, runs the page, then :func:`finish` (write the URL, fill the share
link and the timing footer). Pages add their own query parameters with :func:`keep_param`.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from stabviz.config import LIFConfig
from stabviz.ui import urlstate

SETTING = "_setting"
WARNINGS = "_url_warnings"
PAGE_PARAMS = "_page_params"
RUN_START = "_run_start"
LAST_RUN_MS = "_last_run_ms"
DEBUG = "_debug"
#: ``?debug=1`` (kept in the URL for the session, left out of the share link) or STABVIZ_DEBUG=1 in the
#: server's environment shows developer details (the server rerun's duration) that visitors do not need.
DEBUG_PARAM, DEBUG_ENV = "debug", "STABVIZ_DEBUG"
_TRUE = ("1", "true", "yes", "on")
#: field -> why its widget's value is not used this run (an empty or out-of-range number field)
INVALID = "_invalid_fields"


def widget_key(name: str) -> str:
    return f"lif_{name}"


def begin() -> None:
    """First thing on every run: restore the setting (from the URL on a fresh session)."""
    ss = st.session_state
    ss[RUN_START] = time.perf_counter()
    if str(st.query_params.get(DEBUG_PARAM, "")).strip().lower() in _TRUE:
        ss[DEBUG] = True
    if SETTING not in ss:
        params = link_params()
        values, warnings = urlstate.read_setting(params)
        ss[SETTING] = values
        ss[WARNINGS] = warnings + unknown_params(params)
    for name, value in ss[SETTING].items():
        if widget_key(name) not in ss:  # deleted by Streamlit's widget clean-up, or first run
            ss[widget_key(name)] = value
    ss[PAGE_PARAMS] = {}
    ss[INVALID] = {}


#: The pages' own query parameters (keep_param, seed_widget) and Streamlit's (embed): any other name in a
#: link is reported as unknown. tests/test_app_inputs.py checks that every name the pages use is here.
PAGE_PARAM_NAMES = ("present", "run", "sweep", "color", "map", "measured", "field", "embed", "embed_options")


def link_params() -> dict[str, Any]:
    """The link's query parameters: a name given once -> its text, given several times -> the list of
    its texts (which urlstate.parse_field and page_param reject: no silent pick of the last one)."""
    out: dict[str, Any] = {}
    for name in st.query_params:
        texts = st.query_params.get_all(name)
        out[name] = texts[0] if len(texts) == 1 else list(texts)
    return out


def unknown_params(params: Mapping[str, Any]) -> list[str]:
    """One warning per query parameter no page knows (a typo such as ?dampning=2 would otherwise do
    nothing, without a word)."""
    known = set(urlstate.FIELDS) | set(PAGE_PARAM_NAMES)
    return [
        f"{urlstate.show(name)} is not a parameter of this dashboard; it is ignored (known: "
        f"{', '.join(urlstate.FIELDS)}, {', '.join(PAGE_PARAM_NAMES[:-2])})"
        for name in params
        if name not in known
    ]


def unknown_page(requested: str | None, url_paths: Sequence[str], default_title: str) -> str | None:
    """The warning for a link to a page that does not exist (Streamlit then shows the default page)."""
    if not requested or requested.strip("/") in url_paths:
        return None
    return f"No page named {urlstate.show(requested.strip('/'))}; showing {default_title}"


def apply(values: Mapping[str, Any]) -> None:
    """Set fields of the setting (and their widgets). Call from a widget callback or before the widgets
    are drawn: Streamlit forbids writing a widget's key after the widget exists in the same run."""
    ss = st.session_state
    ss[SETTING] = {**ss[SETTING], **values}
    for name, value in values.items():
        ss[widget_key(name)] = value


def reset_to_defaults() -> None:
    apply(urlstate.DEFAULTS)


def widget_values() -> dict[str, Any]:
    """The setting as the widgets hold it now (after they are drawn), saved as our copy."""
    ss = st.session_state
    bad = ss.get(INVALID, {})
    values = {
        name: ss[SETTING][name] if name in bad else ss.get(widget_key(name), ss[SETTING][name])
        for name in urlstate.FIELDS
    }
    ss[SETTING] = values
    return values


def setting() -> LIFConfig | None:
    """The current setting as a validated LIFConfig, or None when it is impossible (the sidebar shows
    why)."""
    try:
        return LIFConfig(**st.session_state[SETTING])
    except (ValueError, KeyError):
        return None


def invalid_fields() -> dict[str, str]:
    """The setting's fields whose widgets hold an empty or out-of-range value this run, with why."""
    return dict(st.session_state.get(INVALID, {}))


def url_warnings() -> list[str]:
    return list(st.session_state.get(WARNINGS, []))


def warn_once(warning: str | None) -> None:
    """Add ``warning`` to the link's warnings, unless it is None or already there."""
    if warning and warning not in st.session_state.get(WARNINGS, []):
        st.session_state[WARNINGS] = [*st.session_state.get(WARNINGS, []), warning]


def dismiss_warnings() -> None:
    st.session_state[WARNINGS] = []


def page_param(name: str, parse: Callable[[str], Any], default: Any = None) -> tuple[Any, str | None]:
    """(value, warning) of a page's own query parameter: ``parse(text)`` may raise ValueError, in which
    case the default is returned with the reason."""
    raw = st.query_params.get(name)
    if raw is None:
        return default, None
    given = len(st.query_params.get_all(name))
    if given > 1:
        return default, f"{name} is given {given} times in the link; expected once. Ignoring {name} in the link."
    try:
        return parse(raw), None
    except ValueError as err:
        return default, f"{err}. Ignoring {name} in the link."


_WRITTEN = "_url_written_"  # + a page parameter: the value this session last put in the URL


def seed_widget(key: str, param: str, parse: Callable[[str], Any], default: Any) -> None:
    """Give a page's widget its value from the link's ``param``: on the first run of the session, and
    whenever the link brings a value the widget has not seen (a page link from another page). Invalid
    values fall back to ``default`` with a warning; later runs keep whatever the user chose."""
    ss = st.session_state
    raw = st.query_params.get(param)
    seen = f"_url_seen_{key}"
    # A value this session wrote itself (keep_param) is not a new link: a widget the page has just moved
    # (a sweep or run launched) keeps its new value instead of going back to the one the URL still holds.
    if key in ss and (raw is None or raw == ss.get(seen) or raw == ss.get(_WRITTEN + param)):
        return
    ss[seen] = raw
    value, warning = page_param(param, parse, default)
    if raw is None and key in ss:
        return
    ss[key] = value
    if warning:
        ss[WARNINGS] = [*ss.get(WARNINGS, []), warning]


_PICKED = "_picked_"  # + a widget's key: the user (or a link) has picked its value


def seed_following(key: str, param: str, parse: Callable[[str], Any], default: Any) -> None:
    """:func:`seed_widget` for a widget whose default follows the setting: until the user picks a value
    (its ``on_change`` calls :func:`picked`) or a link names one, every run sets it to ``default``; from
    then on the pick stays when the setting moves."""
    ss = st.session_state
    if st.query_params.get(param) is not None:
        ss[_PICKED + key] = True  # a link names the value: keep it like a user's pick
    elif not ss.get(_PICKED + key):
        ss[key] = default
    seed_widget(key, param, parse, default)


def picked(key: str) -> None:
    """A following widget's on_change (``on_change=state.picked, args=(key,)``): the user has picked."""
    st.session_state[_PICKED + key] = True


def choice_parser(name: str, choices: tuple[str, ...] | list[str]) -> Callable[[str], str]:
    """A ``parse`` for :func:`page_param`: the text must be one of ``choices``."""

    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"{name} = {text!r} is not one of: {', '.join(map(str, choices))}")
        return text

    return parse


def keep_param(name: str, value: Any, default: Any = None) -> None:
    """Keep a page's query parameter in the URL this run (left out when it equals ``default``)."""
    if value is not None and value != default:
        st.session_state[PAGE_PARAMS][name] = str(value)
        st.session_state[_WRITTEN + name] = str(value)


def query_params() -> dict[str, str]:
    """The query parameters this run should leave in the URL: setting (non-defaults) + page's own."""
    ss = st.session_state
    return {**urlstate.setting_params(ss[SETTING]), **ss.get(PAGE_PARAMS, {})}


def share_link() -> str:
    """The full link of the current view (falls back to a relative one when the URL is unknown)."""
    base = st.context.url or ""
    query = urllib.parse.urlencode(query_params())
    return f"{base}?{query}" if query else (base or "?")


def debugging() -> bool:
    """Whether to show developer details: ``?debug=1`` seen in this session, or STABVIZ_DEBUG=1."""
    return bool(st.session_state.get(DEBUG)) or os.environ.get(DEBUG_ENV, "").strip().lower() in _TRUE


def finish() -> float:
    """Last thing on every run: write the URL when it changed; returns this run's duration in ms."""
    desired = {**query_params(), **({DEBUG_PARAM: "1"} if st.session_state.get(DEBUG) else {})}
    if st.query_params.to_dict() != desired:
        st.query_params.from_dict(desired)
    ms = (time.perf_counter() - st.session_state[RUN_START]) * 1e3
    st.session_state[LAST_RUN_MS] = ms
    return ms
