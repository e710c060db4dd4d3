"""The prepared GPU check (benchmarks/gpu_check.py) runs on a CPU at tiny sizes, so the day a GPU is lent it
runs at once instead of failing on code nobody has executed."""

import json

import pytest
import torch

from benchmarks import gpu_check


def test_every_check_runs_on_a_cpu_and_reports_its_figures(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STABVIZ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OUT", str(tmp_path))
    assert gpu_check.main(["--device", "cpu", "--small"]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert set(report["checks"]) == set(gpu_check.CHECKS)
    assert not [name for name, r in report["checks"].items() if "error" in r]
    assert report["checks"]["members_equal_runs"]["equal"]
    assert report["checks"]["confirmation"]["graph_execution"]["mode"] == "eager"  # no CUDA: eager, with a note
    assert report["checks"]["ensemble"]["members"] == 4 and report["checks"]["ensemble"]["ratio"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is here: the GPU run would start")
def test_without_cuda_the_gpu_run_says_so_in_one_line(capsys):
    assert gpu_check.main([]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_the_report_file_is_checked_before_the_checks_run(tmp_path, monkeypatch, capsys):
    """$OUT/gpu_check.json goes through stabviz.safeio: a link there (a temporary decoy) is refused at once,
    and an existing report is replaced only with --force."""
    monkeypatch.setenv("OUT", str(tmp_path))
    victim = tmp_path / "victim.json"
    victim.write_text("precious")
    (tmp_path / "gpu_check.json").symlink_to(victim)
    monkeypatch.setattr(gpu_check, "run_checks", lambda *a: pytest.fail("the checks ran before the refusal"))
    with pytest.raises(SystemExit) as exit_:
        gpu_check.main(["--device", "cpu", "--small", "--force"])
    assert exit_.value.code == 2 and "symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "precious"
    (tmp_path / "gpu_check.json").unlink()
    (tmp_path / "gpu_check.json").write_text("{}")
    with pytest.raises(SystemExit):
        gpu_check.main(["--device", "cpu", "--small"])
    assert "--force" in capsys.readouterr().err
