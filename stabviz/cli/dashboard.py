"""Start the dashboard from the installed package, from any directory: ``stabviz dashboard [flags]``.

Runs ``python -m streamlit run <stabviz/ui/launch/app.py> <flags>`` in a child process with the options of
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
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

#: The package's entry script (stabviz/ui/launch/app.py), found by path: the CLI never imports the ui layer.
APP = Path(__file__).resolve().parents[1] / "ui" / "launch" / "app.py"

#: The dashboard's Streamlit options (the same as .streamlit/config.toml; a test keeps them in step).
#: fileWatcherType none: the watcher logs errors when it inspects torch.classes (STREAMLIT_NOTES).
OPTIONS = {
    "server.address": "localhost",  # safe by default: only this machine can connect
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


#: Streamlit's port range, and what an address may hold (a host name, IPv4 or IPv6 literal)
PORTS = (1, 65535)
_ADDRESS = re.compile(r"[A-Za-z0-9._:%\[\]-]{1,253}")
PORT_ENV, ADDRESS_ENV = "STREAMLIT_SERVER_PORT", "STREAMLIT_SERVER_ADDRESS"


class DashboardUsage(ValueError):
    """A bad launcher flag: one line, exit status 2, before Streamlit starts."""


def _flag_values(argv: Sequence[str], name: str) -> list[str]:
    """Every value given to ``--name`` (``--name value`` or ``--name=value``)."""
    values = []
    for i, a in enumerate(argv):
        if a == f"--{name}":
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                raise DashboardUsage(f"--{name} needs a value")
            values.append(argv[i + 1])
        elif a.startswith(f"--{name}="):
            values.append(a.split("=", 1)[1])
    return values


def _check_port(text: str, where: str) -> None:
    if not (text.isascii() and text.strip().isdigit() and PORTS[0] <= int(text) <= PORTS[1]):
        raise DashboardUsage(f"{where} = {text[:40]!r} is not a port: a whole number in [{PORTS[0]}, {PORTS[1]}]")


def _check_address(text: str, where: str) -> None:
    if not _ADDRESS.fullmatch(text):
        raise DashboardUsage(
            f"{where} = {text[:40]!r} is not a host name or IP address "
            "(letters, digits, '.', '-', ':'; e.g. localhost, 0.0.0.0 or ::1)"
        )


def check_flags(argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
    """Streamlit's port and address, from the flags or its environment variables, checked before it starts
    (it would print a traceback for --server.port -1 and a usage dump for abc). DashboardUsage if bad."""
    env = os.environ if env is None else env
    for value in _flag_values(argv, "server.port"):
        _check_port(value, "--server.port")
    for value in _flag_values(argv, "server.address"):
        _check_address(value, "--server.address")
    if env.get(PORT_ENV, "").strip():
        _check_port(env[PORT_ENV].strip(), PORT_ENV)
    if env.get(ADDRESS_ENV, "").strip():
        _check_address(env[ADDRESS_ENV].strip(), ADDRESS_ENV)


def run_dashboard(argv: Sequence[str] = ()) -> int:
    """Serve the dashboard until it is stopped (Ctrl-C, or SIGTERM to this process, which is passed on);
    returns Streamlit's exit status. ``argv``: ``--shared`` (see the module docstring) and extra
    ``streamlit run`` flags, passed through unchanged.
    """
    shared, argv = split_shared(argv)
    check_flags(argv)
    if shared:
        token = (
            "set"
            if os.environ.get("STABVIZ_RUN_TOKEN", "").strip()
            else "not set: launching runs is off (set STABVIZ_RUN_TOKEN to allow it)"
        )
        print(f"stabviz: shared mode: serving on every interface; run token {token}", file=sys.stderr, flush=True)
    proc = subprocess.Popen(command(argv, shared), env=_environment(shared))
    forward = threading.current_thread() is threading.main_thread()  # signal handlers: main thread only
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signum)) if forward else None
    try:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # Ctrl-C reaches the child too (same process group): let it stop;
            return proc.wait()  # a second Ctrl-C ends up below
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
        "dashboard",
        help="start the dashboard (extra flags go to `streamlit run`, e.g. --server.port 8502)",
        description="Start the stabviz dashboard from the installed package, from any directory. It listens on "
        "localhost only; --shared serves a classroom on every interface, where launching runs needs "
        "STABVIZ_RUN_TOKEN, runs read only the files in STABVIZ_DATA_FILES and each visitor may have "
        "STABVIZ_SHARED_MAX_RUNS (default 2) runs at once (counted by address, over all their "
        "tabs); only a run's owner, with the token, may cancel, tag or delete it. Other flags after "
        "the command are passed to `streamlit run`, e.g. --server.port 8502 --server.headless true.",
    )
    p.add_argument(
        "--shared",
        action="store_true",
        help="serve on every interface (0.0.0.0) with the shared mode's rules (STABVIZ_SHARED=1)",
    )
    # stabviz.cli.main hands the flags to run_dashboard before parsing; this parser serves --help
    p.add_argument("streamlit_flags", nargs="*", metavar="STREAMLIT_FLAG", help="flags for streamlit run")
