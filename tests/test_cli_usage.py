"""The usage line names the command as it was run: `stabviz` (the console script) or `python -m stabviz`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stabviz.cli import prog_name

ROOT = Path(__file__).resolve().parents[1]


def _help(cmd, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STABVIZ_HOME": str(tmp_path)}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_python_dash_m_says_python_dash_m(tmp_path):
    assert _help([sys.executable, "-m", "stabviz", "--help"], tmp_path).startswith("usage: python -m stabviz ")


def test_the_console_script_says_stabviz(tmp_path):
    # what pip writes for [project.scripts] stabviz = "stabviz.cli:main": a file named stabviz calling main()
    script = tmp_path / "bin" / "stabviz"
    script.parent.mkdir()
    script.write_text("import sys\nfrom stabviz.cli import main\nsys.exit(main())\n")
    assert _help([sys.executable, str(script), "--help"], tmp_path).startswith("usage: stabviz [-h]")
    assert _help([sys.executable, str(script), "region", "--help"], tmp_path).startswith("usage: stabviz region ")


@pytest.mark.parametrize(
    "argv0,prog",
    [
        ("/usr/local/bin/stabviz", "stabviz"),
        (r"C:\venv\Scripts\stabviz.exe", "stabviz"),
        ("stabviz-script.py", "stabviz"),
        ("/src/stabviz/__main__.py", "python -m stabviz"),
        ("-c", "python -m stabviz"),
        ("", "python -m stabviz"),
        ("/usr/bin/pytest", "python -m stabviz"),
    ],
)
def test_prog_name_from_argv0(argv0, prog):
    assert prog_name(argv0) == prog
