"""Shared mode: the dashboard served to a classroom (pure: no streamlit, every function reads ``env``).

By default the dashboard listens on localhost only and its one user may do anything. ``stabviz dashboard
--shared`` (or ``STABVIZ_SHARED=1 streamlit run app.py --server.address 0.0.0.0`` in a checkout) serves it
on every interface to visitors the host does not know, so then:

- launching runs (the Runs page's form, Explore's "Confirm with a short run", the Sweep and Evidence
  pages) needs the token the host set in ``STABVIZ_RUN_TOKEN``, typed by the visitor in the sidebar;
  without a token set, launching is off;
- runs read only the data files the host lists in ``STABVIZ_DATA_FILES`` (os.pathsep-separated), offered
  by file name, never by directory; no path can be typed;
- each visitor may have at most ``STABVIZ_SHARED_MAX_RUNS`` (default 2) runs queued or running, on top of
  the machine's limits (:func:`stabviz.config.limits`). A visitor is their address as Streamlit reports
  it (``st.context.ip_address``; None, a connection from this machine, is one visitor, "localhost"), not
  their browser tab: the store records each run's owner and counts the owner's active runs
  (:mod:`stabviz.ui.guard`);
- every other write (cancel, delete, undo a delete, tags) needs the token too, and only the run's owner
  may make it: :func:`write_refusal`, called by :func:`stabviz.ui.guard.check`, which every write of
  the dashboard goes through;
- measured maps (Explore's measured layer) run one at a time on one worker process; each session waits for
  one at most, and at most ``STABVIZ_SHARED_MAX_MAPS`` (default 4) wait at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence

SHARED_ENV = "STABVIZ_SHARED"
TOKEN_ENV = "STABVIZ_RUN_TOKEN"
FILES_ENV = "STABVIZ_DATA_FILES"
MAX_RUNS_ENV = "STABVIZ_SHARED_MAX_RUNS"
DEFAULT_MAX_RUNS = 2
MAX_MAPS_ENV = "STABVIZ_SHARED_MAX_MAPS"
DEFAULT_MAX_MAPS = 4
#: The visitor key of a connection from this machine (the host, or a local proxy that sent no address).
LOCAL_VISITOR = "localhost"
_TRUE = ("1", "true", "yes", "on")


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def shared(env: Mapping[str, str] | None = None) -> bool:
    """Whether the dashboard runs in shared mode (STABVIZ_SHARED=1)."""
    return _env(env).get(SHARED_ENV, "").strip().lower() in _TRUE


def run_token(env: Mapping[str, str] | None = None) -> str | None:
    """The host's run token, or None when none is set (blank counts as none)."""
    token = _env(env).get(TOKEN_ENV, "")
    return token if token.strip() else None


def launching(env: Mapping[str, str] | None = None) -> str:
    """How runs may be launched: "open" (not shared), "token" (shared, with a token), "off" (shared, none)."""
    if not shared(env):
        return "open"
    return "token" if run_token(env) is not None else "off"


def token_ok(given: str | None, env: Mapping[str, str] | None = None) -> bool:
    """Whether ``given`` is the host's token (constant-time comparison; False when no token is set)."""
    token = run_token(env)
    if token is None or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass"))


def visitor_key(address: str | None) -> str:
    """Who a visitor is, as the store records a run's owner: a hash of their address (the store and its
    files hold no address in plain), LOCAL_VISITOR for None (a connection from this machine). Not their
    browser session: a new tab, or a new private window, is the same visitor."""
    if not address:
        return LOCAL_VISITOR
    return "ip-" + hashlib.sha256(address.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:16]


def max_runs(env: Mapping[str, str] | None = None) -> int:
    """Runs one visitor (all their tabs) may have queued or running at once in shared mode."""
    return _count(env, MAX_RUNS_ENV, DEFAULT_MAX_RUNS)


def _count(env: Mapping[str, str] | None, name: str, default: int) -> int:
    """A whole number from the environment variable ``name`` (``default`` when unset or not one)."""
    raw = _env(env).get(name, "").strip()
    return int(raw) if raw.isdigit() else default


def max_waiting_maps(env: Mapping[str, str] | None = None) -> int | None:
    """Measured maps that may wait for the worker at once (None: no bound, outside shared mode)."""
    if not shared(env):
        return None
    return _count(env, MAX_MAPS_ENV, DEFAULT_MAX_MAPS)


def data_files(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The host's data files as {name shown to visitors: path}: the file's name without its directory
    (a repeated name gets " (2)", " (3)"...), in the order listed."""
    out: dict[str, str] = {}
    for path in _env(env).get(FILES_ENV, "").split(os.pathsep):
        path = path.strip()
        if not path:
            continue
        name = os.path.basename(path.rstrip("/\\")) or path
        shown, k = name, 2
        while shown in out:
            shown, k = f"{name} ({k})", k + 1
        out[shown] = path
    return out


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with the listed files' full paths replaced by their names (a run's error may quote them)."""
    if not shared(env):
        return text
    for name, path in sorted(data_files(env).items(), key=lambda item: -len(item[1])):
        text = text.replace(path, name)
    return text


def refusal(
    token: str | None,
    active_mine: int,
    new_runs: int,
    data_paths: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> str | None:
    """Why a visitor may not launch ``new_runs`` runs now (None: they may). ``active_mine``: runs this
    visitor launched that are still queued or running; ``data_paths``: the data files the runs read."""
    mode = launching(env)
    if mode == "open":
        return None
    if mode == "off":
        return "launching runs is switched off on this shared dashboard (the host has set no run token)"
    if not token_ok(token, env):
        return (
            "launching runs on this shared dashboard needs the run token from the host: type it in the sidebar"
            if not token
            else "that is not the run token of this dashboard"
        )
    allowed = set(data_files(env).values())
    if any(p and p not in allowed for p in data_paths):
        return "on this shared dashboard, runs read only the data files the host lists"
    limit = max_runs(env)
    if active_mine + new_runs > limit:
        return (
            f"each visitor may have at most {limit} runs queued or running at once on this shared dashboard "
            f"(you have {active_mine}; this would add {new_runs})"
        )
    return None


def write_refusal(
    verb: str, token: str | None, visitor: str, owners: Sequence[str | None], env: Mapping[str, str] | None = None
) -> str | None:
    """Why a visitor may not ``verb`` ("delete", "tag", "cancel", ...) the runs launched by ``owners``
    (None: they may). On a shared dashboard only a run's owner may change it, and only with the run
    token; a run with no recorded owner (launched before, or outside shared mode) is nobody's here."""
    mode = launching(env)
    if mode == "open":
        return None
    them = "it" if len(owners) == 1 else "them"
    if mode == "off":
        return f"you cannot {verb} runs on this shared dashboard: the host has set no run token"
    if not token_ok(token, env):
        return (
            f"only a run's owner can {verb} {them} on this shared dashboard: type the run token in the sidebar"
            if not token
            else "that is not the run token of this dashboard"
        )
    if any(owner != visitor for owner in owners):
        return (
            f"only a run's owner can {verb} {them} on this shared dashboard, and "
            + ("this run was" if len(owners) == 1 else "some of these runs were")
            + " launched by someone else"
        )
    return None
