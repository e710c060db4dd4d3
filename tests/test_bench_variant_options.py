"""benchmarks.bench_variant_options: the figure docs/performance.md quotes for a variant recommendation."""

import json

import pytest

from benchmarks import bench_variant_options


def test_it_times_a_new_setting_of_each_variant_and_prints_json(capsys):
    assert bench_variant_options.main(["--n", "32", "--settings", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"alif", "cuba"}
    for r in out.values():
        assert 0 < r["min_s"] <= r["median_s"] <= r["max_s"] < 60


@pytest.mark.parametrize("args", [["--n", "-3"], ["--settings", "0"]])
def test_bad_arguments_are_one_line(args, capsys):
    with pytest.raises(SystemExit) as exc:
        bench_variant_options.main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "outside the allowed range" in err[-1] and "Traceback" not in "".join(err)
