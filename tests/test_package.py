"""The installed package, as a newcomer gets it: build the wheel, install it into a fresh venv, use it
from outside the repository (no checkout on sys.path)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", "build", "dist", "*.egg-info", ".pytest_cache",
                              "screenshots", "node_modules")


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A venv that sees the pinned dependencies of this machine but holds stabviz only from its wheel."""
    root = tmp_path_factory.mktemp("pkg")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=SKIP)          # building never writes into the checkout
    wheels = root / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(src)], check=True, cwd=root)
    env_dir = root / "venv"
    # without a pip of its own, whose old setuptools would shadow the one torch needs
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)],
                   check=True)
    wheel = next(wheels.glob("stabviz-*.whl"))
    # --no-index: the declared dependencies must already be satisfied by the pinned install
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install", "-q",
                    "--no-index", str(wheel)], check=True, cwd=root)
    return env_dir


def _run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_import_from_anywhere_uses_the_installed_copy(venv, tmp_path):
    out = _run(venv, "python", "-c", "import stabviz, pathlib; print(pathlib.Path(stabviz.__file__).parent)",
               cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    installed = Path(out.stdout.strip())
    assert REPO not in installed.parents and installed.is_relative_to(venv)
    # package data the dashboard and the Learn page read at run time
    assert (installed / "ui" / "live_map.js").is_file()
    assert (installed / "data" / "theory.md").read_text() == (REPO / "docs" / "theory.md").read_text()
    assert (installed / "ui" / "entry" / "app.py").is_file()
    # the replication study's committed results (docs/evidence's JSON files), which the Evidence page reads
    for committed in (REPO / "docs" / "evidence").glob("*.json"):
        assert (installed / "data" / "evidence" / committed.name).read_text() == committed.read_text()
    out = _run(venv, "python", "-c", "from stabviz.evidence import results_folder; print(results_folder())", cwd=tmp_path)
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
    assert script.stdout.split("\n", 1)[1] == module.stdout.split("\n", 1)[1]   # same CLI, program name aside


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_starts_from_the_installed_package(venv, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen([str(venv / "bin" / "stabviz"), "dashboard", "--server.headless", "true",
                             "--server.port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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


def test_the_readme_python_example_runs_outside_the_repository(venv, tmp_path):
    text = (REPO / "README.md").read_text()
    block = text.split("## Python API", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "example.py"
    script.write_text(block)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["STABVIZ_HOME"] = str(tmp_path / "home")
    out = subprocess.run([str(venv / "bin" / "python"), str(script)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
