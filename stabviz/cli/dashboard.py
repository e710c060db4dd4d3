"""Start the dashboard from the installed package, from any directory: ``stabviz dashboard [flags]``.

Runs ``python -m streamlit run <stabviz/ui/entry/app.py> <flags>`` in a child process with the options of
the repository's .streamlit/config.toml given as flags: that file is read only when Streamlit starts in
the repository's root, and an installed package has no repository around it. Flags given by the caller
win over these.
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


def command(argv: Sequence[str] = ()) -> list[str]:
    """The command line that starts the dashboard: the package's entry script, our options, then ``argv``
    (more Streamlit flags, e.g. ``--server.port 8502 --server.headless true``)."""
    given = _given(argv)
    flags = [part for name, value in OPTIONS.items() if name not in given for part in (f"--{name}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(APP), *flags, *argv]


def _environment() -> dict[str, str]:
    """The child imports the same stabviz as this process: from a checkout that is not installed, its root
    goes on PYTHONPATH (an installed package is found anyway, and site-packages is left where it is)."""
    env = dict(os.environ)
    root = Path(__file__).resolve().parents[2]
    if root.name not in ("site-packages", "dist-packages"):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


def run_dashboard(argv: Sequence[str] = ()) -> int:
    """Serve the dashboard until it is stopped (Ctrl-C, or SIGTERM to this process, which is passed on);
    returns Streamlit's exit status. ``argv``: extra ``streamlit run`` flags, passed through unchanged.
    """
    proc = subprocess.Popen(command(list(argv)), env=_environment())
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
        description="Start the stabviz dashboard from the installed package, from any directory. Flags after "
                    "the command are passed to `streamlit run`, e.g. --server.port 8502 --server.headless true.")
    # stabviz.cli.main hands the flags to run_dashboard before parsing; this parser serves --help
    p.add_argument("streamlit_flags", nargs="*", metavar="STREAMLIT_FLAG", help="flags for streamlit run")
