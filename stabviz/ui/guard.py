"""The one gate every write of the dashboard goes through (the rules: :mod:`stabviz.ui.sharing`).

On a shared dashboard a visitor launches runs only with the run token and within their limit of queued or
running runs, and cancels, deletes, brings back or tags only the runs they launched, with the token. Every
page writes the run store through the functions here, and each of them first calls :func:`check`, on the
server: a control drawn disabled (with :func:`reason` as its caption) is a courtesy, and a crafted rerun
that "clicks" it still ends in :func:`check` and is refused. tests/test_security.py fails when another
module of stabviz.ui calls a write of the store or of a launcher itself.

Who a visitor is: their address (:func:`visitor`), not their browser session, so opening a new tab
changes nothing; each run records its owner in the store, which counts the owner's active runs in the
transaction that queues new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from stabviz.ui import sharing

#: Session key of the sidebar's run-token field.
TOKEN = "run_token"
#: What each action is called in a refusal ("only a run's owner can <verb> it").
VERBS = {
    "launch": "launch",
    "cancel": "cancel",
    "delete": "delete",
    "undo": "bring back",
    "tag": "tag",
    "edit": "tag or delete",
}


class Refused(ValueError):
    """A write this visitor may not make; ``str()`` is the reason, one line for the page."""


def _address() -> str | None:
    """The client's address; None for a connection from this machine. Streamlit's server (uvicorn) reads
    X-Forwarded-For only from the proxies in FORWARDED_ALLOW_IPS (default: this machine), so a visitor
    cannot choose it by sending that header."""
    ip = st.context.ip_address
    return ip if isinstance(ip, str) and ip else None  # AppTest has no client (a mock): read as None


def visitor() -> str:
    """This visitor's key (sharing.visitor_key of their address), stored as the owner of the runs they
    launch."""
    return sharing.visitor_key(_address())


def reason(
    store: Any, action: str, run_ids: Sequence[str] = (), *, new_runs: int = 0, data_paths: Sequence[str] = ()
) -> str | None:
    """Why this visitor may not make the write ``action`` (a key of VERBS) on ``run_ids``, or launch
    ``new_runs`` runs reading ``data_paths``; None: they may (always, outside shared mode)."""
    if not sharing.shared():
        return None
    token = st.session_state.get(TOKEN)
    if action == "launch":
        return sharing.refusal(token, store.active_owned(visitor()), new_runs, data_paths)
    owners = store.owners(run_ids)
    return sharing.write_refusal(VERBS[action], token, visitor(), [owners[r] for r in run_ids])


def check(store: Any, action: str, run_ids: Sequence[str] = (), **launching: Any) -> None:
    """The gate: raises :class:`Refused` with :func:`reason` when the visitor may not make this write."""
    why = reason(store, action, run_ids, **launching)
    if why:
        raise Refused(why)


def launch(store: Any, submit: Callable[..., Any], *args: Any, new_runs: int, data_paths: Sequence[str]) -> Any:
    """``submit(*args)`` (a launcher's submit method) once the gate lets ``new_runs`` runs through; in shared
    mode the runs record this visitor as their owner, and the store refuses them, in the transaction
    that queues them, when the visitor would have more than their limit active (two tabs at once)."""
    check(store, "launch", new_runs=new_runs, data_paths=data_paths)
    owned = {"owner": visitor(), "max_owned": sharing.max_runs()} if sharing.shared() else {}
    return submit(*args, **owned)


def cancel(launcher: Any, run_id: str) -> str:
    check(launcher.store, "cancel", [run_id])
    return launcher.cancel(run_id)


def delete(store: Any, run_ids: Sequence[str]) -> list[str]:
    check(store, "delete", run_ids)
    return store.delete(run_ids)


def undelete(store: Any, run_ids: Sequence[str]) -> list[str]:
    check(store, "undo", run_ids)
    return store.undelete(run_ids)


def set_tags(store: Any, run_id: str, tags: Sequence[str]) -> list[str]:
    check(store, "tag", [run_id])
    return store.set_tags(run_id, tags)
