"""Start the dashboard from the installed package, from any directory: ``stabviz dashboard [flags]``.

Runs ``python -m streamlit run <stabviz/ui/entry/app.py> <flags>`` in a child process with the options of
the repository's .streamlit/config.toml given as flags: that file is read only when Streamlit starts in
the repository's root, and an installed package has no repository around it. Flags given by the caller
win over these.

The dashboard listens on localhost only. ``stabviz dashboard --shared`` serves a classroom on purpose: it
listens on every interface (``--server.address 0.0.0.0``, unless the caller names an address) and sets
STABVIZ_SHARED=1 for the dashboard, which then launches runs only with the host's STABVIZ_RUN_TOKEN, reads
only the data files in STABVIZ_DATA_FILES, limits each visitor's runs (a visitor is an address, not a tab)
and lets only a run's owner, with the token, cancel, tag or delete it (stabviz/ui/sharing.py, ui/guard.py).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Sequence

import argparse

#: The package's entry script (stabviz/ui/entry/app.py), found by path: the CLI never imports the ui layer.
APP = Path(__file__).resolve().parents[1] / "ui" / "entry" / "app.py"

#: The dashboard's Streamlit options (the same as .streamlit/config.toml; a test keeps them in step).
#: fileWatcherType none: the watcher logs errors when it inspects torch.classes (STREAMLIT_NOTES).
OPTIONS = {
    "server.address": "localhost",          # safe by default: only this machine can connect
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "server.showEmailPrompt": "false",
    "browser.gatherUsageStats": "false",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "runner.magicEnabled": "false",
    "theme.base": "light",
}


def _given(argv: Sequence[str]) -> set[str]:
    """Option names the caller set, as ``--name value`` or ``--name=value``."""
    return {a[2:].split("=", 1)[0] for a in argv if a.startswith("--")}


#: The launcher's own flag (everything else goes to `streamlit run`), and the address it serves on.
SHARED_FLAG = "--shared"
SHARED_ADDRESS = "0.0.0.0"


def split_shared(argv: Sequence[str]) -> tuple[bool, list[str]]:
    """(whether ``--shared`` was given, the other flags) from the arguments after ``stabviz dashboard``."""
    rest = [a for a in argv if a != SHARED_FLAG]
    return len(rest) != len(argv), rest


def command(argv: Sequence[str] = (), shared: bool = False) -> list[str]:
    """The command line that starts the dashboard: the package's entry script, our options, then ``argv``
    (more Streamlit flags, e.g. ``--server.port 8502 --server.headless true``). ``shared``: listen on
    every interface (unless ``argv`` names an address)."""
    given = _given(argv)
    options = {**OPTIONS, "server.address": SHARED_ADDRESS} if shared else OPTIONS
    flags = [part for name, value in options.items() if name not in given for part in (f"--{name}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(APP), *flags, *argv]


def _environment(shared: bool = False) -> dict[str, str]:
    """The child imports the same stabviz as this process: from a checkout that is not installed, its root
    goes on PYTHONPATH (an installed package is found anyway, and site-packages is left where it is).
    ``shared``: STABVIZ_SHARED=1, so the dashboard applies the shared mode's rules."""
    env = dict(os.environ)
    if shared:
        env["STABVIZ_SHARED"] = "1"
    root = Path(__file__).resolve().parents[2]
    if root.name not in ("site-packages", "dist-packages"):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


def run_dashboard(argv: Sequence[str] = ()) -> int:
    """Serve the dashboard until it is stopped (Ctrl-C, or SIGTERM to this process, which is passed on);
    returns Streamlit's exit status. ``argv``: ``--shared`` (see the module docstring) and extra
    ``streamlit run`` flags, passed through unchanged.
    """
    shared, argv = split_shared(argv)
    if shared:
        token = "set" if os.environ.get("STABVIZ_RUN_TOKEN", "").strip() else \
            "not set: launching runs is off (set STABVIZ_RUN_TOKEN to allow it)"
        print(f"stabviz: shared mode: serving on every interface; run token {token}", file=sys.stderr, flush=True)
    proc = subprocess.Popen(command(argv, shared), env=_environment(shared))
    forward = threading.current_thread() is threading.main_thread()      # signal handlers: main thread only
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signum)) if forward else None
    try:
        try:
            return proc.wait()
        except KeyboardInterrupt:        # Ctrl-C reaches the child too (same process group): let it stop;
            return proc.wait()           # a second Ctrl-C ends up below
    finally:
        if forward:
            signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dashboard", help="start the dashboard (extra flags go to `streamlit run`, e.g. --server.port 8502)",
        description="Start the stabviz dashboard from the installed package, from any directory. It listens on "
                    "localhost only; --shared serves a classroom on every interface, where launching runs needs "
                    "STABVIZ_RUN_TOKEN, runs read only the files in STABVIZ_DATA_FILES and each visitor may have "
                    "STABVIZ_SHARED_MAX_RUNS (default 2) runs at once (counted by address, over all their "
                    "tabs); only a run's owner, with the token, may cancel, tag or delete it. Other flags after "
                    "the command are passed to `streamlit run`, e.g. --server.port 8502 --server.headless true.")
    p.add_argument("--shared", action="store_true",
                   help="serve on every interface (0.0.0.0) with the shared mode's rules (STABVIZ_SHARED=1)")
    # stabviz.cli.main hands the flags to run_dashboard before parsing; this parser serves --help
    p.add_argument("streamlit_flags", nargs="*", metavar="STREAMLIT_FLAG", help="flags for streamlit run")
