"""`python -m stabviz`: real subprocesses, as a user runs them."""

import json
import os
import subprocess
import sys

import pytest

from stabviz import surrogates, theory
from stabviz.config import preset

RECOMMEND_KEYS = {
    "recurrent_mean",
    "recurrent_var",
    "dampening",
    "sharpness",
    "tail",
    "firing_rate",
    "rho2",
    "max_gain",
    "gradient_gain",
    "regime",
    "firing",
    "notes",
    "options",
    "log10_gain_band",
}


def run(*args, check=True):
    out = subprocess.run([sys.executable, "-m", "stabviz", *args], capture_output=True, text=True, timeout=120)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def test_recommend_json_has_the_fixed_keys_and_matches_the_library():
    out = json.loads(run("recommend", "--preset", "shd-tau20", "--dampening", "0.5", "--json").stdout)
    assert set(out) == RECOMMEND_KEYS | {"p_collapse", "verdict", "advice"}
    from stabviz.outcomes import advice

    advised = advice.recommend(preset("shd-tau20", dampening=0.5))
    assert out["p_collapse"] == pytest.approx(advised["p_collapse"]) and out["verdict"] == advised["verdict"]
    assert [o["setting"] for o in out["advice"]["options"]] == [o["setting"] for o in advised["options"]]
    assert all(0 <= o["p_collapse"] <= 1 for o in out["advice"]["options"] + out["advice"]["paper"])
    rec = theory.recommend(preset("shd-tau20", dampening=0.5))
    assert out["sharpness"] == pytest.approx(rec.sharpness)
    assert out["dampening"] == pytest.approx(rec.dampening)
    assert out["tail"] is None and any("qpseudospike" in n for n in out["notes"])


def test_recommend_text_and_tau_option():
    text = run("recommend", "--preset", "paper-shd", "--tau", "20").stdout
    assert "condition III" in text and "regime" in text


def test_region_csv_and_json():
    csv = (
        run("region", "--x", "tail", "--y", "dampening", "--nx", "5", "--ny", "4", "--sg", "qpseudospike", "--csv")
        .stdout.strip()
        .splitlines()
    )
    assert csv[0].startswith("tail,dampening,") and len(csv) == 21
    data = json.loads(run("region", "--x", "leak", "--y", "dampening", "--nx", "6", "--ny", "3", "--json").stdout)
    assert len(data["x"]) == 6 and len(data["rho2"]) == 3 and "gamma_III" in data["curves"]


def test_recommend_and_region_do_not_import_torch():
    code = (
        "import sys; from stabviz.cli import main; "
        "main(['recommend', '--json']); main(['region', '--nx', '4', '--ny', '4', '--json']); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    "args,needle",
    [
        (["recommend", "--sg", "bogus"], "--sg"),
        (["recommend", "--n-rec", "-5"], "--n-rec"),
        (["recommend", "--sg", "qpseudospike", "--tail", "1.0"], "tail"),
        (["recommend", "--dampening", "nan"], "dampening"),
        (["recommend", "--tau", "0"], "tau"),
        (["recommend", "--tau", "-3"], "tau"),
        (["recommend", "--n-rec", "abc"], "--n-rec"),
        (["region", "--x", "leak", "--y", "leak"], "differ"),
        (["translate", "--from", "nolib.nothing"], "nolib.nothing"),
        (["recommend", "--from", "nolib.nothing"], "nolib.nothing"),
        (
            ["recommend", "--from", "snntorch.fast_sigmoid", "--alpha", "3"],
            "its knob is slope",
        ),  # not silently the slope
        (["translate", "--from", "snntorch.atan", "--slope", "3"], "its knob is alpha"),
        (["recommend", "--slope", "25"], "--from"),
        (["recommend", "--from", "norse.super", "--sharpness", "2"], "--sharpness"),
        (["recommend", "--from", "snntorch.atan", "--alpha", "-1"], "alpha"),
    ],
)
def test_bad_input_is_one_line_and_status_2(args, needle):
    out = run(*args, check=False)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in out.stderr


def test_recommend_takes_the_surrogate_in_a_librarys_terms():
    """`recommend --from snntorch.fast_sigmoid --slope 25` is the setting `translate` gives for it (fast sigmoid,
    γ = 1, β = 12.5), without copying numbers by hand; each library's knob by its own name."""
    base = ("recommend", "--preset", "shd-tau20", "--n-rec", "256", "--json")
    by_hand = json.loads(run(*base, "--sg", "fastsigmoid", "--dampening", "1", "--sharpness", "12.5").stdout)
    assert json.loads(run(*base, "--from", "snntorch.fast_sigmoid", "--slope", "25").stdout) == by_hand
    assert json.loads(run(*base, "--from", "snntorch.fast_sigmoid", "--value", "25").stdout) == by_hand
    sg = surrogates.from_library("pytorch.SurrGradSpike", 40)
    out = json.loads(run(*base, "--from", "pytorch.SurrGradSpike", "--scale", "40").stdout)
    assert out == json.loads(
        run(*base, "--sg", sg.shape, "--dampening", repr(sg.dampening), "--sharpness", repr(sg.sharpness)).stdout
    )
    text = run("recommend", "--preset", "shd-tau20", "--from", "norse.super").stdout  # the library default
    assert "surrogate (from norse.super)" in text and "fastsigmoid γ=1 β=50" in text


def test_presets_and_translate():
    presets = json.loads(run("presets", "--json").stdout)
    assert {"paper-slmnist", "paper-shd", "shd-tau20", "snntorch", "spikingjelly", "norse"} <= set(presets)
    assert presets["shd-tau20"]["tau"] == pytest.approx(20)
    tr = json.loads(run("translate", "--from", "snntorch.fast_sigmoid", "--slope", "25", "--json").stdout)
    assert tr["stabviz"]["shape"] == "fastsigmoid"
    assert tr["stabviz"]["dampening"] == pytest.approx(1.0) and tr["stabviz"]["sharpness"] == pytest.approx(12.5)
    assert any(t["name"] == "snntorch.fast_sigmoid" and t["exact"] for t in tr["libraries"])


def test_simulate_json_reports_measured_and_models():
    out = json.loads(
        run(
            "simulate",
            "--preset",
            "shd-tau20",
            "--n-rec",
            "32",
            "--batch",
            "4",
            "--sim-steps",
            "60",
            "--burn-in",
            "20",
            "--json",
        ).stdout
    )
    assert set(out["predicted"]) == {"uniform", "gaussian"}
    assert 0 <= out["measured"]["firing_rate"] <= 1 and out["measured"]["rho2"] > 0


def test_simulate_seeds_gives_each_seed_and_the_interval_of_the_mean():
    small = ("--preset", "shd-tau20", "--n-rec", "32", "--batch", "4", "--sim-steps", "60", "--burn-in", "20", "--json")
    out = json.loads(run("simulate", *small, "--seed", "5", "--seeds", "3").stdout)
    assert out["seeds"] == [5, 6, 7] and [m["seed"] for m in out["per_seed"]] == [5, 6, 7]
    alone = json.loads(run("simulate", *small, "--seed", "6").stdout)["measured"]  # the same as seed 6 by itself
    assert out["per_seed"][1]["rho_hat"] == pytest.approx(alone["rho_hat"], rel=1e-6)
    for key in ("firing_rate", "rho_hat", "log10_gain"):
        q = out["intervals"][key]
        assert q["values"] == [m[key] for m in out["per_seed"]] and q["mean"] == pytest.approx(sum(q["values"]) / 3)
        assert q["interval"][0] <= q["mean"] <= q["interval"][1] and q["n"] == 3
    assert set(out["predicted"]) == {"uniform", "gaussian"} and out["confidence"] == 0.95


def test_train_steps_option_counts_optimiser_steps():
    out = json.loads(
        run(
            "train",
            "--steps",
            "4",
            "--n-rec",
            "16",
            "--time-steps",
            "10",
            "--samples",
            "60",
            "--classes",
            "2",
            "--log-every",
            "2",
            "--json",
        ).stdout
    )
    assert out["status"] == "finished" and out["final"]["steps_done"] == 4


def test_missing_optional_dependency_is_one_line_and_status_2(tmp_path):
    # ray is installed here, so hide it: a None entry in sys.modules makes `import ray` fail as if absent
    code = (
        "import runpy, sys; sys.modules['ray'] = None; "
        "sys.argv = ['stabviz', 'sweep', '--x', 'dampening', '--x-values', '0.3,3', '--launcher', 'ray']; "
        "runpy.run_module('stabviz', run_name='__main__')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "STABVIZ_HOME": str(tmp_path)},
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "ray" in lines[0] and "pip install ray" in lines[0], out.stderr
    assert not list(tmp_path.glob("*.db")), "nothing may be queued"


@pytest.mark.parametrize(
    "args,needle",
    [
        (["recommend", "--n-rec", "1" + "0" * 400], "--n-rec"),  # was an OverflowError traceback
        (["bench", "lif", "--reps", "99999999999999999999999"], "--reps"),  # was a hang
        (["simulate", "--batch", "-1"], "--batch"),  # was a torch RuntimeError
        (["runs", "list", "--limit", "1" + "0" * 30], "--limit"),  # was an OverflowError (SQLite)
        (["runs", "show", "x" * 100_000], "run id"),
        (["runs", "export", "abc", "--output", "/"], "no run with id"),
        (["simulate", "--seeds", "0"], "--seeds"),
        (["simulate", "--seeds", "65"], "--seeds"),
        (["simulate", "--seeds", "2", "--seed", "2147483647"], "above the largest seed"),
    ],
)
def test_issue9_findings_exit_2_with_one_line_and_no_traceback(args, needle, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "stabviz", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STABVIZ_HOME": str(tmp_path)},
    )
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert len(lines) == 1 and needle in lines[0], out.stderr


def test_export_to_a_directory_is_one_line(tmp_path):
    env = {**os.environ, "STABVIZ_HOME": str(tmp_path)}
    code = (
        "from stabviz.runs import RunStore; from stabviz.config import TrainConfig; s = RunStore(); "
        "r = s.create(TrainConfig(train_steps=2)); s.request_cancel(r); print(r)"
    )
    run_id = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    out = subprocess.run(
        [sys.executable, "-m", "stabviz", "runs", "export", run_id, "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        f"stabviz: error: --output {str(tmp_path)!r}: cannot write it (Is a directory)"
    ]


# -- issue 20: safe file output ---------------------------------------------------------------------------
# Decoys only in tmp_path (we may run as root): a link to another tmp file, a FIFO made with os.mkfifo.


@pytest.fixture
def exported_run(tmp_path):
    """(environment with a private run store, the id of a cancelled run in it)."""
    env = {**os.environ, "STABVIZ_HOME": str(tmp_path / "home")}
    code = (
        "from stabviz.runs import RunStore; from stabviz.config import TrainConfig; s = RunStore(); "
        "r = s.create(TrainConfig(train_steps=2)); s.request_cancel(r); print(r)"
    )
    run_id = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    return env, run_id


def _stabviz(env, *args, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "stabviz", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def _one_error(out, *needles):
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and "Traceback" not in out.stderr and len(lines) == 1, out.stderr
    assert all(n in lines[0] for n in needles), lines[0]
    return lines[0]


def test_export_never_writes_through_a_symlink(exported_run, tmp_path):
    env, run_id = exported_run
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "out.csv"
    link.symlink_to(victim)
    for force in ([], ["--force"]):  # was: the victim's contents replaced by the export
        _one_error(_stabviz(env, "runs", "export", run_id, "--output", str(link), *force), "--output", "symbolic link")
    assert victim.read_text() == "precious" and link.is_symlink()


def test_export_to_a_fifo_is_refused_at_once(exported_run, tmp_path):
    env, run_id = exported_run
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # was: blocked for ever waiting for a reader
    _one_error(_stabviz(env, "runs", "export", run_id, "-o", str(fifo), "--force", timeout=30), "--output", "FIFO")


def test_export_replaces_an_existing_file_only_with_force(exported_run, tmp_path):
    env, run_id = exported_run
    out = tmp_path / "run.csv"
    out.write_text("mine")
    _one_error(_stabviz(env, "runs", "export", run_id, "-o", str(out)), "--output", "exists", "--force")
    assert out.read_text() == "mine"  # was: replaced silently
    done = _stabviz(env, "runs", "export", run_id, "-o", str(out), "--force")
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("step") and sorted(p.name for p in tmp_path.iterdir()) == ["home", "run.csv"]


@pytest.mark.parametrize("out", ["/", "//"])
def test_replicate_refuses_the_root_folder_before_any_run(out, tmp_path):
    env = {**os.environ, "STABVIZ_HOME": str(tmp_path)}
    _one_error(_stabviz(env, "replicate", "--smoke", "--out", out), "--out", "root")


def test_replicate_refuses_a_linked_folder_and_existing_results_before_any_run(tmp_path):
    env = {**os.environ, "STABVIZ_HOME": str(tmp_path / "home")}
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    _one_error(_stabviz(env, "replicate", "--smoke", "--out", str(tmp_path / "link")), "--out", "symbolic link")
    (real / "summary.json").write_text("{}")
    line = _one_error(_stabviz(env, "replicate", "--smoke", "--no-png", "--out", str(real)), "--out", "--force")
    assert "summary.json" in line and (real / "summary.json").read_text() == "{}"
    assert not (tmp_path / "home").exists() or not list((tmp_path / "home").rglob("*.db")), "no run may start"


# -- issue 20: strict parsing, at the shared parser (every command) ------------------------------------


@pytest.mark.parametrize(
    "args,needles",
    [
        (["recommend", "--threshold", "１２"], ["--threshold", "ASCII"]),  # was: taken as 12.0
        (["recommend", "--n-rec", "٣٢"], ["--n-rec", "ASCII"]),  # was: taken as 32
        (["region", "--nx", "１０", "--ny", "4"], ["--nx", "ASCII"]),
        (["region", "--csv", "--json", "--nx", "4", "--ny", "4"], ["--csv", "--json"]),  # was: CSV, --json ignored
        (["train", "--steps", "5", "--train-steps", "7"], ["--steps/--train-steps", "'5'", "'7'"]),  # was: 7
        (["recommend", "--dampening", "1", "--dampening=2"], ["--dampening", "given twice"]),
        (["recommend", "--reset-grad", "--no-reset-grad"], ["--reset-grad/--no-reset-grad"]),
        (["sweep", "--x", "dampening", "--x-values", "1,,2"], ["--x-values", "value 2 of 3 is empty"]),  # was: 1,2
        (["sweep", "--x", "dampening", "--x-values", "1,2,"], ["--x-values", "empty"]),
        (["sweep", "--x", "dampening", "--x-values", "0.5,１"], ["--x-values", "ASCII"]),  # was: 0.5,1
        (["translate", "--from", ""], ["--from", "empty"]),  # was: exit 0
        (["runs", "list", "--sweep", ""], ["--sweep", "empty"]),  # was: "no runs"
        (["sweep", "--x", "", "--x-values", "1"], ["--x", "empty"]),
        (["runs", "export", "abc", "--json", "--format", "csv"], ["--json", "--format csv"]),
        (["dashboard", "--server.port", "-1"], ["--server.port", "'-1'", "[1, 65535]"]),  # was: a traceback
        (["dashboard", "--server.port", "abc"], ["--server.port", "'abc'"]),  # was: 4 lines
        (["dashboard", "--server.port=70000"], ["--server.port", "70000"]),
        (["dashboard", "--server.address", "a b"], ["--server.address", "'a b'"]),
    ],
)
def test_strict_parsing_is_one_line_and_status_2(args, needles, tmp_path):
    _one_error(_stabviz({**os.environ, "STABVIZ_HOME": str(tmp_path)}, *args, timeout=60), *needles)


def test_the_same_value_twice_is_no_conflict(tmp_path):
    out = _stabviz(
        {**os.environ, "STABVIZ_HOME": str(tmp_path)}, "region", "--nx", "4", "--nx", "4", "--ny", "3", "--json"
    )
    assert out.returncode == 0 and len(json.loads(out.stdout)["x"]) == 4, out.stderr


@pytest.mark.parametrize("value", ["nan", "-1", "abc", "0"])
def test_a_bad_ray_timeout_variable_is_named(value, tmp_path):
    env = {**os.environ, "STABVIZ_HOME": str(tmp_path), "STABVIZ_RAY_CONNECT_TIMEOUT_S": value, "RAY_ADDRESS": ""}
    _one_error(
        _stabviz(env, "sweep", "--x", "dampening", "--x-values", "1", "--launcher", "ray", timeout=120),
        "STABVIZ_RAY_CONNECT_TIMEOUT_S",
        repr(value),
    )
    assert not list(tmp_path.glob("*.db")) or "queued" not in _stabviz(env, "runs", "list").stdout


def test_a_bad_dashboard_port_variable_is_named(tmp_path):
    env = {**os.environ, "STABVIZ_HOME": str(tmp_path), "STREAMLIT_SERVER_PORT": "-5"}
    _one_error(_stabviz(env, "dashboard", "--server.headless", "true"), "STREAMLIT_SERVER_PORT", "'-5'")


# -- issue 20: cost before work ---------------------------------------------------------------------------

import io  # noqa: E402
import time  # noqa: E402

from stabviz.cli.progress import Progress  # noqa: E402


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _lines(stream):
    return [line for line in stream.getvalue().splitlines() if line]


def test_progress_is_silent_for_short_work_and_rate_limited_for_long_work():
    clock, out = _Clock(), io.StringIO()  # StringIO: not a terminal, as under a script or CI
    with Progress("simulate", 3, "seeds", stream=out, quiet_s=3, every_s=5, clock=clock) as p:
        for k in range(1, 4):
            clock.t += 0.2
            p(k)
    assert out.getvalue() == ""  # 0.6 s of work: stderr stays clean
    clock, out = _Clock(), io.StringIO()
    with Progress("measure-map", 1000, "cells", stream=out, quiet_s=3, every_s=5, clock=clock) as p:
        for k in range(1, 1001):
            clock.t += 0.05  # 50 s in all
            p(k)
    lines = _lines(out)
    assert lines[0].startswith("stabviz: measure-map: 1000 cells; estimated 50 s in all"), lines
    assert lines[-1].startswith("stabviz: measure-map: 1000/1000 cells (100%)") and lines[-1].endswith("done")
    assert 10 <= len(lines) <= 1 + 10 + 50 // 5 + 1, lines  # each 10% or every 5 s, not every cell


@pytest.mark.timeout(60, method="thread")
def test_progress_speaks_while_one_long_unit_runs():
    clock, out = _Clock(), io.StringIO()
    p = Progress("simulate", 64, "seeds", stream=out, quiet_s=3, every_s=5, clock=clock)
    try:
        clock.t = 4.0  # the first seed is still running after 4 s
        deadline = time.monotonic() + 30
        while "no estimate yet" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.1)
        clock.t = 12.0
        while "0/64 seeds" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        p.close()
    lines = _lines(out)
    assert lines[0] == "stabviz: simulate: 64 seeds; no estimate yet (the first is still running after 4 s)"
    assert any(line.startswith("stabviz: simulate: 0/64 seeds (0%), 12 s elapsed") for line in lines), lines


SMALL_SIM = ["--preset", "shd-tau20", "--n-rec", "16", "--batch", "4", "--sim-steps", "40", "--burn-in", "10", "--json"]


@pytest.mark.parametrize(
    "args,what",
    [
        (["simulate", *SMALL_SIM, "--seeds", "3"], "simulate (3 seeds): 120 simulated steps"),
        (["measure-map", *SMALL_SIM, "--nx", "3", "--ny", "3"], "measure-map: 9 cells"),
        (
            [
                "train",
                "--steps",
                "4",
                "--n-rec",
                "16",
                "--time-steps",
                "10",
                "--samples",
                "60",
                "--classes",
                "2",
                "--log-every",
                "2",
                "--json",
            ],
            "train: 4 steps",
        ),
        (["bench", "lif", "--n", "16", "--steps", "10", "--batch", "2", "--reps", "2", "--json"], "bench lif: "),
    ],
)
def test_long_commands_print_the_estimate_and_progress_without_a_terminal(args, what, tmp_path):
    # STABVIZ_PROGRESS_AFTER_S=0 treats these small runs as long ones: stderr is a pipe here
    env = {**os.environ, "STABVIZ_HOME": str(tmp_path), "STABVIZ_PROGRESS_AFTER_S": "0"}
    out = _stabviz(env, *args, timeout=300)
    assert out.returncode == 0, out.stderr
    json.loads(out.stdout)  # stdout stays the JSON alone
    lines = out.stderr.strip().splitlines()
    assert lines and all(line.startswith("stabviz: ") for line in lines), out.stderr
    assert what in lines[0] and ("estimated" in lines[0] or "no estimate yet" in lines[0]), lines
    assert "(100%)" in lines[-1] and lines[-1].split(", ")[2].startswith("done"), lines


def test_a_bad_progress_variable_is_named(tmp_path):
    env = {**os.environ, "STABVIZ_HOME": str(tmp_path), "STABVIZ_PROGRESS_AFTER_S": "soon"}
    _one_error(_stabviz(env, "simulate", *SMALL_SIM), "STABVIZ_PROGRESS_AFTER_S", "'soon'")


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--seeds", "64"],
        ["train", "--seeds", "65"],
        ["train", "--n-rec", "4096", "--batch", "1024", "--time-steps", "1000"],
        ["simulate", "--n-in", "500", "--n-rec", "512", "--batch", "1024", "--sim-steps", "400"],
    ],
)
def test_too_large_runs_are_refused_before_torch_loads(argv, tmp_path):
    code = (
        f"import sys; from stabviz.cli import main; rc = main({argv!r}); "
        "assert rc == 2, rc; assert 'torch' not in sys.modules, 'torch imported'"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "STABVIZ_HOME": str(tmp_path), "STABVIZ_MAX_MEMORY_MB": "2048"},
    )
    assert out.returncode == 0, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and ("GB" in out.stderr or "members" in out.stderr)


def test_bench_ensemble_too_large_is_refused_before_torch_loads(tmp_path):
    # was: refused only after 25 s and 677 MB (torch, the warm-up runs), by train.run_ensemble
    code = (
        "import sys, time; from stabviz.cli import main; t = time.monotonic(); "
        "rc = main(['bench', 'ensemble', '--members', '1024']); "
        "assert rc == 2, rc; assert 'torch' not in sys.modules, 'torch imported'"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "STABVIZ_HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and "1024 members" in out.stderr
    code = code.replace("'1024'", "'64'")  # within the member bound, above the memory limit
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "STABVIZ_HOME": str(tmp_path), "STABVIZ_MAX_MEMORY_MB": "64"},
    )
    assert out.returncode == 0, out.stderr
    assert "STABVIZ_MAX_MEMORY_MB" in out.stderr and len(out.stderr.strip().splitlines()) == 1
