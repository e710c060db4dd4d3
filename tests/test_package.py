"""The installed package, as a newcomer gets it: build the wheel, install it into a fresh venv, use it
from outside the repository (no checkout on sys.path)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from stabviz.runs import ACTIVE, RunStore

REPO = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(
    ".git", "__pycache__", "*.pyc", "build", "dist", "*.egg-info", ".pytest_cache", "screenshots", "node_modules"
)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A venv that sees the pinned dependencies of this machine but holds stabviz only from its wheel."""
    root = tmp_path_factory.mktemp("pkg")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=SKIP)  # building never writes into the checkout
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(src)],
        check=True,
        cwd=root,
    )
    env_dir = root / "venv"
    # without a pip of its own, whose old setuptools would shadow the one torch needs
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)], check=True)
    wheel = next(wheels.glob("stabviz-*.whl"))
    # --no-index: the declared dependencies must already be satisfied by the pinned install
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env_dir / "bin" / "python"),
            "install",
            "-q",
            "--no-index",
            str(wheel),
        ],
        check=True,
        cwd=root,
    )
    return env_dir


def _run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_import_from_anywhere_uses_the_installed_copy(venv, tmp_path):
    out = _run(
        venv, "python", "-c", "import stabviz, pathlib; print(pathlib.Path(stabviz.__file__).parent)", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    installed = Path(out.stdout.strip())
    assert REPO not in installed.parents and installed.is_relative_to(venv)
    # package data the dashboard and the Learn page read at run time
    assert (installed / "ui" / "live_map.js").is_file()
    assert (installed / "data" / "theory.md").read_text() == (REPO / "docs" / "theory.md").read_text()
    assert (installed / "ui" / "launch" / "app.py").is_file()
    # the replication study's committed results (docs/evidence's JSON files), which the Evidence page reads
    for committed in (REPO / "docs" / "evidence").glob("*.json"):
        assert (installed / "data" / "evidence" / committed.name).read_text() == committed.read_text()
    out = _run(
        venv, "python", "-c", "from stabviz.evidence import results_folder; print(results_folder())", cwd=tmp_path
    )
    assert out.returncode == 0 and Path(out.stdout.strip()) == installed / "data" / "evidence"


def test_console_script_recommend_json(venv, tmp_path):
    out = _run(venv, "stabviz", "recommend", "--preset", "shd-tau20", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout)
    assert rec["dampening"] > 0 and rec["regime"] in {"vanishing", "stable", "exploding", "uncertain"}


def test_console_script_help_matches_module(venv, tmp_path):
    script = _run(venv, "stabviz", "--help", cwd=tmp_path)
    module = _run(venv, "python", "-m", "stabviz", "--help", cwd=tmp_path)
    assert script.returncode == module.returncode == 0
    assert "recommend" in script.stdout and "dashboard" in script.stdout
    assert script.stdout.split("\n", 1)[1] == module.stdout.split("\n", 1)[1]  # same CLI, program name aside


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_starts_from_the_installed_package(venv, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen(
        [str(venv / "bin" / "stabviz"), "dashboard", "--server.headless", "true", "--server.port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline, health = time.monotonic() + 60, ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    health = r.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert health == "ok", f"dashboard did not answer; exit {proc.poll()}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- every README command and code block, as written -----------------------------------------------------


def readme_blocks() -> list[tuple[str, str]]:
    """(language, text) of every fenced code block of the README, in order."""
    return re.findall(r"^```(\w+)\n(.*?)^```", (REPO / "README.md").read_text(), flags=re.S | re.M)


def readme_commands() -> list[str]:
    """Every command of the README's bash blocks, its trailing comment dropped."""
    lines = (
        line.split("  #", 1)[0].strip()
        for lang, text in readme_blocks()
        if lang == "bash"
        for line in text.splitlines()
    )
    return [line for line in lines if line and not line.startswith("#")]


#: Commands that start a server: they must answer on their health endpoint, then they are stopped.
SERVERS = ("streamlit run app.py", "stabviz dashboard")
#: The command that runs this suite (CI runs it; running it here would recurse).
SUITE = "bash .ci/run"


def test_the_readme_lists_the_commands_this_test_runs():
    commands = readme_commands()
    assert commands[:2] == ["pip install -r requirements.txt && streamlit run app.py", SUITE]  # its first two
    assert len(commands) >= 20 and sum(lang == "python" for lang, _ in readme_blocks()) >= 1


@pytest.fixture()
def newcomer(venv, tmp_path):
    """A shell like a newcomer's: the README's folder (a copy of the checkout) as the working directory,
    the installed package's venv first on PATH, an offline `pip` that installs into that venv, a fresh
    run store, and the dashboard on a free port (Streamlit reads STREAMLIT_SERVER_PORT)."""
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "pip").write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -m pip --python "{venv / "bin" / "python"}" '
        '"$@" --no-index --no-build-isolation -q\n'
    )
    (shims / "pip").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        PATH=f"{shims}:{venv / 'bin'}:{env['PATH']}",
        STABVIZ_HOME=str(tmp_path / "home"),
        STREAMLIT_SERVER_PORT=str(_free_port()),
        STREAMLIT_SERVER_HEADLESS="true",
        STABVIZ_RAY_CONNECT_TIMEOUT_S="5",
        RAY_ADDRESS="",
    )
    return {"env": env, "cwd": venv.parent / "src"}


def _serve(command: str, shell: dict) -> None:
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=shell["cwd"],
        env=shell["env"],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    port = shell["env"]["STREAMLIT_SERVER_PORT"]
    try:
        deadline, health = time.monotonic() + 120, ""
        while time.monotonic() < deadline and proc.poll() is None and health != "ok":
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    health = r.read().decode()
            except OSError:
                time.sleep(0.5)
        assert health == "ok", f"{command!r} did not serve; exit {proc.poll()}"
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


def test_every_readme_command_runs_as_written(newcomer):
    """Each command of the README, in order, as a newcomer's shell runs it (RUN_ID: the first id the
    latest `submit` printed). A command ends with status 0 and no traceback; the Ray example, with no
    cluster here, ends with its documented one-line refusal (status 2)."""
    run_id, ran = None, []
    try:
        for command in readme_commands():
            if command == SUITE:
                assert "pytest" in (newcomer["cwd"] / ".ci" / "run").read_text()  # this very suite: not rerun
                continue
            if any(server in command for server in SERVERS):
                _serve(command, newcomer)
                ran.append(command)
                continue
            line = command.replace("RUN_ID", run_id or "RUN_ID")
            out = subprocess.run(
                ["bash", "-c", line],
                cwd=newcomer["cwd"],
                env=newcomer["env"],
                capture_output=True,
                text=True,
                timeout=400,
            )
            assert "Traceback" not in out.stderr, (line, out.stderr[-2000:])
            if "--launcher ray" in line:
                errors = out.stderr.strip().splitlines()
                assert out.returncode == 2 and len(errors) == 1 and "could not connect to Ray" in errors[0], errors
            else:
                assert out.returncode == 0, (line, out.stdout[-1000:], out.stderr[-2000:])
            if " submit " in f" {line} ":
                run_id = out.stdout.split()[0]
            ran.append(line)
    finally:
        _cancel_active(newcomer)
    assert len(ran) == len(readme_commands()) - 1


def _cancel_active(shell: dict) -> None:
    """Stop what the examples left queued, so no run trains on behind the next tests."""
    store = RunStore(Path(shell["env"]["STABVIZ_HOME"]) / "stabviz.db")
    for run in store.list(status=ACTIVE, limit=None):
        store.request_cancel(run["id"])


def test_every_readme_python_block_runs_outside_the_repository(venv, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["STABVIZ_HOME"] = str(tmp_path / "home")
    blocks = [text for lang, text in readme_blocks() if lang == "python"]
    for k, block in enumerate(blocks):
        script = tmp_path / f"example{k}.py"
        script.write_text(block)
        out = subprocess.run(
            [str(venv / "bin" / "python"), str(script)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=600,
        )
        assert out.returncode == 0, out.stderr[-2000:]
