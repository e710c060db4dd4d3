"""Fuzzing `python -m stabviz` in-process: whatever the argv, the CLI exits 0 or 2, says what was wrong on
one line of stderr and never prints a traceback or hangs (issue 9).

The argv are drawn from the real parser (build_parser()'s subcommands and their options) with values
from huge, negative and boundary integers, NaN/inf/huge floats, empty, long, unicode and path-like
strings. The heavy functions (simulation, maps, benchmark, training, launching, the dashboard) are
replaced by stubs that check the sizes they are handed are inside the CLI's bounds and then run the real
function at a tiny size, or return a canned result: a case costs milliseconds, and any value that slips
past validation fails the stub's check.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stabviz.cli.bench as cli_bench
import stabviz.cli.check as cli_check
import stabviz.cli.dashboard as cli_dashboard
import stabviz.cli.runs as cli_runs
import stabviz.evidence as evidence
import stabviz.evidence.outcomes as outcome_data
from stabviz import measured, memory, safeio, simulate, theory, train
from stabviz.cli import build_parser, main
from stabviz.cli import options as O
from stabviz.config import TrainConfig, limits
from stabviz.runs import RunStore
from stabviz.runs.sweep import sweep_configs

#: seconds one case may take before it counts as a hang (the first torch import is in there)
CASE_SECONDS = 30
#: STABVIZ_FUZZ_EXAMPLES=N: N cases per command, drawn afresh each run (a longer, random hunt); unset: 80,
#: the same cases every run (CI: about 30 s for the whole file on two cores)
EXAMPLES = int(os.environ.get("STABVIZ_FUZZ_EXAMPLES") or 0)
FUZZ = settings(
    max_examples=EXAMPLES or 80,
    deadline=None,
    derandomize=not EXAMPLES,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
CASES = {"tried": 0, "by_status": {}, "tests": set()}


# -- the parser, walked ---------------------------------------------------------------------------------


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) of every runnable command: ("recommend",), ("runs", "show"), ..."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _leaves(sub, path + (name,))
            return
    yield path, parser


LEAVES = dict(_leaves(build_parser()))
ALL_OPTIONS = sorted({s for p in LEAVES.values() for a in p._actions for s in a.option_strings})


# -- values ---------------------------------------------------------------------------------------------

WHOLE = st.one_of(
    st.integers(-5, 3000).map(str),
    st.sampled_from(
        [
            "0",
            "1",
            "2",
            "200",
            "201",
            "2000",
            "2001",
            "4096",
            "4097",
            "8192",
            "8193",
            "100000",
            "100001",
            "2147483647",
            "2147483648",
            "99999999999999999999999",
            "1" + "0" * 400,
            "1" + "0" * 5000,
            "-1" + "0" * 30,
            "1_000",
            "+7",
            " 7 ",
            "٣",
            "1e3",
            "7.0",
            "0x10",
        ]
    ),
    st.integers(10**18, 10**400).map(str),
    st.integers(-(10**30), -1).map(str),
)
REAL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        [
            "nan",
            "-nan",
            "inf",
            "-inf",
            "infinity",
            "1e400",
            "-1e400",
            "1e-320",
            "5e-324",
            "0",
            "-0.0",
            "1e308",
            "0.5",
            "1",
            "20",
            "1.001",
            "1e4",
        ]
    ),
)
PATHS = st.sampled_from(
    [
        "",
        "/",
        ".",
        "..",
        "out.csv",
        "sub/out.csv",
        "/nonexistent/dir/out.csv",
        "a" * 300 + ".csv",
        "x/" * 3000,
        "/proc/stabviz.csv",
        "a\x00b",
        "-",
        "~",
    ]
)
TEXT = st.one_of(
    st.just(""),
    st.text(max_size=12),
    PATHS,
    st.sampled_from(
        [
            "x" * 300,
            "x" * 5000,
            "é" * 100,
            "\u202e",
            "\ud800",
            "--",
            "-5",
            "a,b",
            "0.5,1,2",
            ",,,",
            "1," * 80,
            "dampening",
            "tau",
            "batch",
            "n_rec",
            "snntorch.fast_sigmoid",
            "nolib.nothing",
            "@RUN",
            "@PREFIX",
        ]
    ),
)
ANY = st.one_of(WHOLE, REAL, TEXT)
SEEDED: dict[str, str] = {}  # "@RUN"/"@PREFIX" -> a run in the fuzz's store


PLAUSIBLE_REAL = st.sampled_from(["0.01", "0.5", "1", "1.56", "2", "20", "0.9"])
PLAUSIBLE_TEXT = st.sampled_from(
    ["dampening", "sharpness", "lr", "batch", "0.5,1", "1,2", "out.csv", "snntorch.fast_sigmoid", "@RUN", "@PREFIX"]
)
#: option dest -> plausible values, where the generic ones would hardly ever be right
PLAUSIBLE = {
    "x": st.sampled_from(["dampening", "sharpness", "lr", "batch", "tau"]),
    "y": st.sampled_from(["dampening", "tail", "layers"]),
    "x_values": st.sampled_from(["0.5,1", "1,2", "2", " 3 ,"]),
    "y_values": st.sampled_from(["1", "2,3"]),
    "id": st.sampled_from(["@RUN", "@PREFIX", "0123abcd"]),
    "output": st.sampled_from(["out.csv", "sub/out.csv", "/", "a" * 300]),
}


def _value(action: argparse.Action, sane: bool):
    """A value for ``action``: a plausible one when ``sane`` (so that whole argv get through to the work
    and its stub), else anything, boundary and nonsense values first among equals."""
    if sane and action.dest in PLAUSIBLE:
        return PLAUSIBLE[action.dest]
    if action.choices and not isinstance(action, argparse._SubParsersAction):
        good = st.sampled_from(list(action.choices))
        return good if sane else st.one_of(good, ANY)
    if isinstance(action.type, O.Whole):
        good = st.integers(action.type.lo, min(action.type.hi, action.type.lo + 40)).map(str)
        return good if sane else st.one_of(WHOLE, ANY)
    if action.type is float:
        return PLAUSIBLE_REAL if sane else st.one_of(REAL, ANY)
    return PLAUSIBLE_TEXT if sane else ANY


@st.composite
def argv_for(draw, path: tuple[str, ...]) -> list[str]:
    """argv for the command at ``path``: some of its options in any order, each with a value (half the
    cases plausible values only, and then the required options and positionals too)."""
    parser = LEAVES[path]
    optionals = [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]
    positionals = [a for a in parser._actions if not a.option_strings]
    sane = draw(st.booleans())
    chosen = draw(st.lists(st.sampled_from(optionals), max_size=6)) if optionals else []
    if sane:
        chosen = [a for a in optionals if a.required] + chosen
    elif not draw(st.integers(0, 19)):
        chosen.append(parser._option_string_actions["-h"])
    argv = list(path)
    for action in chosen:
        name = draw(st.sampled_from(action.option_strings))
        n = 0 if action.nargs == 0 else (action.nargs if isinstance(action.nargs, int) else 1)
        values = [draw(_value(action, sane)) for _ in range(n)]
        if n == 1 and name.startswith("--") and draw(st.booleans()):
            argv.append(f"{name}={values[0]}")
        else:
            argv += [name, *values]
    for action in positionals:
        if sane or draw(st.integers(0, 5)):
            argv.append(draw(_value(action, sane)))
    if not sane and not draw(st.integers(0, 9)):
        argv.insert(draw(st.integers(len(path), len(argv))), draw(st.sampled_from(["--bogus", "extra", "-x", "-"])))
    return [SEEDED.get(a, a) for a in argv]


@st.composite
def any_argv(draw) -> list[str]:
    """Token soup: commands, any command's options and values, in any order."""
    words = st.one_of(
        st.sampled_from(sorted({p[0] for p in LEAVES} | {"lif", "list", "show"})), st.sampled_from(ALL_OPTIONS), ANY
    )
    return draw(st.lists(words, max_size=8))


# -- stubs for the heavy work ---------------------------------------------------------------------------

REACHED: dict[str, int] = {}


def _reached(name: str) -> None:
    REACHED[name] = REACHED.get(name, 0) + 1


def _within(name: str, value, bounds) -> None:
    assert isinstance(value, int) and bounds[0] <= value <= bounds[1], f"{name} = {value!r} reached the work"


def _tiny(cfg):
    return cfg.replace(n_in=min(cfg.n_in, 8), n_rec=min(cfg.n_rec, 8))


def _stubs(mp: pytest.MonkeyPatch) -> None:
    real_measure, real_map, real_region = simulate.measure, measured.measure_map, theory.region

    def fake_measure(cfg, batch=64, steps=300, burn_in=100, seed=None, device="cpu", **kw):
        _reached("simulate")
        _within("batch", batch, O.SIM_BATCH)
        _within("sim_steps", steps, O.SIM_STEPS)
        assert 0 <= burn_in < steps and device in ("cpu", "cuda")
        assert batch * steps * max(cfg.n_in, cfg.n_rec) <= O.MAX_ELEMENTS and cfg.n_in * cfg.n_rec <= O.MAX_ELEMENTS
        return real_measure(_tiny(cfg), batch=2, steps=6, burn_in=2, seed=seed, device="cpu")

    def fake_map(
        cfg,
        x="sharpness",
        nx=24,
        ny=24,
        x_range=None,
        y_range=None,
        batch=64,
        steps=300,
        burn_in=100,
        seed=None,
        device="cpu",
        progress=None,
        chunk_elements=measured.MAX_CHUNK_ELEMENTS,
        within_chunks=False,
    ):
        _reached("measure-map")
        assert 1 <= chunk_elements <= measured.MAX_CHUNK_ELEMENTS
        _within("nx", nx, O.MEASURE_GRID)
        _within("ny", ny, O.MEASURE_GRID)
        _within("batch", batch, O.SIM_BATCH)
        _within("sim_steps", steps, O.SIM_STEPS)
        assert 1 <= burn_in < steps and device in ("cpu", "cuda")
        return real_map(
            _tiny(cfg),
            x=x,
            nx=2,
            ny=2,
            x_range=x_range,
            y_range=y_range,
            batch=2,
            steps=6,
            burn_in=2,
            seed=seed,
            device="cpu",
            progress=progress,
        )

    def fake_region(cfg, x="sharpness", y="dampening", nx=200, ny=200, *args, **kw):
        _reached("region")
        _within("nx", nx, (2, max(O.REGION_GRID[1], O.MEASURE_GRID[1])))
        _within("ny", ny, (2, max(O.REGION_GRID[1], O.MEASURE_GRID[1])))
        return real_region(cfg, x, y, min(nx, 6), min(ny, 5), *args, **kw)

    def fake_bench(cfg, batch=32, steps=None, threads=None, reps=10, bf16_matmul=False, progress=None):
        _reached("bench")
        _within("batch", batch, O.BENCH_BATCH)
        _within("reps", reps, O.BENCH_REPS)
        assert threads is None or O.BENCH_THREADS[0] <= threads <= O.BENCH_THREADS[1]
        steps = cfg.steps if steps is None else steps
        assert batch * steps * cfg.n_rec <= O.MAX_ELEMENTS
        return {
            "n": cfg.n_rec,
            "batch": batch,
            "steps": steps,
            "threads": threads or 1,
            "reset": cfg.reset,
            "shape": cfg.shape,
            "bf16_matmul": bf16_matmul,
            "reps": reps,
            "ms": 1.0,
            "floor_ms": 0.5,
            "floor_row_ms": 0.6,
            "efficiency": 0.5,
            "efficiency_row": 0.6,
            "gemm_gflops": 1.0,
        }

    def fake_bench_cuda(cfg, batch=32, steps=None, reps=10, bf16_matmul=False, progress=None):
        return {
            **fake_bench(cfg, batch, steps, None, reps, bf16_matmul),
            "device": "fake",
            "graph_ms": 0.5,
            "graph_mode": "cuda-graph",
            "graph_note": None,
        }

    def fake_bench_ensemble(cfg, members, progress=None):
        _reached("bench")
        assert isinstance(cfg, TrainConfig) and 1 <= members <= memory.max_ensemble()
        cfg.check_limits()
        return {
            "members": members,
            "n": cfg.lif.n_rec,
            "n_in": cfg.lif.n_in,
            "batch": cfg.batch,
            "steps": cfg.time_steps,
            "train_steps": cfg.train_steps,
            "device": "cpu",
            "threads": 1,
            "execution": {"mode": "eager", "note": None},
            "ensemble_s": 1.0,
            "sequential_s": 2.0,
            "speedup": 2.0,
        }

    def fake_ensemble(members, callback=None, should_stop=None, cuda_graph=None):
        return [fake_train(cfg) for cfg, _ in members]

    def fake_train(cfg, callback=None, should_stop=None):
        _reached("train")
        assert isinstance(cfg, TrainConfig)
        cfg.check_limits()
        verdict = {"predicted": 0.5, "measured": 0.5, "agrees": True}
        return {
            "run_id": "foreground",
            "status": "finished",
            "stopped_early": None,
            "device": "cpu",
            "wall_s": 0.0,
            "task": {
                "name": cfg.task,
                "n_classes": cfg.classes,
                "n_in": cfg.lif.n_in,
                "time_steps": cfg.time_steps,
                "input_mean": 0.1,
                "input_var": 0.1,
            },
            "final": {
                "steps_done": cfg.train_steps,
                "accuracy": 0.5,
                "loss": 1.0,
                "firing_rate": [0.1],
                "rho2": 1.0,
                "grad_gain": 1.0,
            },
            "initial": {"firing_rate": [0.1], "rho2": 1.0, "grad_gain": 1.0},
            "verdict": {k: verdict for k in ("firing_rate", "rho", "rho2", "regime")},
            "prediction": {"voltage_model": cfg.lif.voltage_model},
        }

    class FakeLauncher:
        name = "local"

        def __init__(self):
            self.store = self

        def submit(self, cfg):
            _reached("submit")
            assert isinstance(cfg, TrainConfig)
            cfg.check_limits()
            return "fakerun00000"

        def submit_sweep(self, base, x, x_values, y=None, y_values=None):
            _reached("sweep")
            points = sweep_configs(base, x, x_values, y, y_values)
            assert len(points) <= limits()["queued"]
            for _, cfg in points:
                cfg.check_limits()
            return "fakesweep000", [f"fake{i:08d}" for i in range(len(points))]

        def wait(self, ids, timeout=None):
            return {i: "finished" for i in ids}

        def get(self, run_id, reap=False):
            return {
                "id": run_id,
                "status": "finished",
                "created": 0.0,
                "launcher": "local",
                "device": "cpu",
                "sweep_id": "fakesweep000",
                "sweep_label": "x=1",
                "error": None,
                "summary": None,
            }

    mp.setattr(simulate, "measure", fake_measure)
    mp.setattr(measured, "measure_map", fake_map)
    mp.setattr(theory, "region", fake_region)
    mp.setattr(cli_bench, "bench_lif", fake_bench)
    mp.setattr(cli_bench, "bench_lif_cuda", fake_bench_cuda)
    mp.setattr(cli_bench, "bench_ensemble", fake_bench_ensemble)
    mp.setattr(train, "run_ensemble", fake_ensemble)
    mp.setattr(train, "run", fake_train)
    mp.setattr(cli_runs, "_launcher", lambda args: FakeLauncher())
    mp.setattr(cli_runs, "ensure_dispatcher", lambda store: None)
    mp.setattr(cli_dashboard, "run_dashboard", lambda argv=(): _reached("dashboard") or 0)

    def fake_replicate(
        size, out_dir, launcher=None, device="cpu", command="", png=True, progress=None, force=False, budget=None
    ):
        _reached("replicate")
        assert size in evidence.SIZE_NAMES and launcher in (None, "local", "ray") and device in ("cpu", "auto")
        safeio.prepare_dir(out_dir, evidence.study.output_files(png), force)  # the real study's first step
        return {"size": size, "runs": 0, "wall_s": 0.0, "command": command, "claims": []}

    mp.setattr(evidence, "replicate", fake_replicate)

    def fake_generate(size, out_dir, jobs=2, device="cpu", command="", progress=None, force=False):
        _reached("outcomes")
        assert size in outcome_data.SIZES and 1 <= jobs <= 64
        safeio.prepare_dir(out_dir, list(outcome_data.FILES), force)  # the real dataset's first step
        return {"size": size, "runs": 0, "settings": 0, "wall_s": 0.0, "collapsed": 0, "diverged": 0}

    mp.setattr(outcome_data, "generate", fake_generate)

    def fake_factory(spec):
        # never import a fuzzed module name (it could be any installed module, os:abort included)
        _reached("check")
        raise O.UsageError(f"--factory {spec[:40]!r}: stubbed in the fuzz")

    mp.setattr(cli_check, "call_factory", fake_factory)


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory):
    """A private run store holding one (cancelled) run, the stubs, and a scratch working directory
    (relative --output paths land there)."""
    home = tmp_path_factory.mktemp("stabviz-home")
    work = tmp_path_factory.mktemp("cwd")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STABVIZ_HOME", str(home))
        mp.delenv("STABVIZ_DEBUG", raising=False)
        mp.chdir(work)
        _stubs(mp)
        store = RunStore()
        run = store.create(TrainConfig(train_steps=2))
        store.request_cancel(run)
        SEEDED.update({"@RUN": run, "@PREFIX": run[:4]})
        yield work
    SEEDED.clear()


class CaseTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise CaseTimeout(f"one CLI case ran past {CASE_SECONDS} s")


def check_case(argv: list[str], capsys) -> int:
    """Run one argv in-process; the properties every outcome must have."""
    capsys.readouterr()
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    try:
        rc = main(argv)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    out, err = capsys.readouterr()
    CASES["tried"] += 1
    CASES["by_status"][rc] = CASES["by_status"].get(rc, 0) + 1
    shown = f"argv {[a[:80] for a in argv]!r}: status {rc}, stderr {err[:600]!r}"
    assert "Traceback" not in err and "Traceback" not in out, shown
    assert rc in (0, 2), shown
    if rc == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("stabviz: error: "), shown
        assert len(lines[0]) <= 1100, shown
    return rc


# -- the fuzz -------------------------------------------------------------------------------------------


@pytest.mark.timeout(240 + 3 * EXAMPLES, method="thread")
@pytest.mark.parametrize("path", sorted(LEAVES), ids=" ".join)
def test_fuzz_command(path, fuzz_env, capsys):
    @FUZZ
    @given(argv=argv_for(path))
    def case(argv):
        check_case(argv, capsys)

    case()
    CASES["tests"].add(path)


@pytest.mark.timeout(240 + 3 * EXAMPLES, method="thread")
def test_fuzz_token_soup(fuzz_env, capsys):
    @settings(FUZZ, max_examples=(EXAMPLES or 80) * 5 // 2)
    @given(argv=any_argv())
    def case(argv):
        check_case(argv, capsys)

    case()


def test_fuzz_ran_and_reached_the_work(fuzz_env):
    """Run after the fuzz (file order): the cases were tried, and valid argv got through to the work."""
    print(f"\nCLI fuzz: {CASES['tried']} cases, exit statuses {CASES['by_status']}, reached {REACHED}")
    if CASES["tests"] != set(LEAVES):
        pytest.skip("run with every test_fuzz_command case")
    assert CASES["tried"] >= len(LEAVES) * FUZZ.max_examples // 2
    assert CASES["by_status"].get(0, 0) > 0 and CASES["by_status"].get(2, 0) > 0
    stubbed = {
        "bench",
        "dashboard",
        "measure-map",
        "region",
        "simulate",
        "submit",
        "sweep",
        "train",
        "replicate",
        "outcomes",
    }
    assert {k for k, v in REACHED.items() if v >= 5} >= stubbed, REACHED


# -- regressions: the findings of issue 9, one by one ---------------------------------------------------


def one_error_line(argv: list[str], capsys, status: int = 2) -> str:
    """Run ``argv``: it must end with ``status`` and exactly one stderr line, which is returned."""
    capsys.readouterr()
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == status and "Traceback" not in err, (rc, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


HUGE_400 = "1" + "0" * 400


@pytest.mark.parametrize(
    "argv,option",
    [
        (["recommend", "--n-rec", HUGE_400], "--n-rec"),  # was OverflowError: int too large for float
        (["recommend", "--n-rec", "1" + "0" * 5000], "--n-rec"),  # beyond int()'s digit limit
        (["recommend", "--seed", HUGE_400], "--seed"),
        (["region", "--steps", HUGE_400], "--steps"),
        (["train", "--batch", HUGE_400], "--batch"),
        (["train", "--samples", "-" + HUGE_400], "--samples"),
        (["submit", "--time-steps", HUGE_400], "--time-steps"),
        (["bench", "lif", "--threads", "1" + "0" * 30], "--threads"),  # was 'Overflow when unpacking long long'
    ],
)
def test_huge_whole_numbers_are_one_line_status_2(argv, option, fuzz_env, capsys):
    line = one_error_line(argv, capsys)
    assert option in line and "outside the allowed range" in line and len(line) < 200


@pytest.mark.timeout(60, method="thread")
def test_bench_huge_reps_is_refused_at_once(fuzz_env, capsys):
    before = REACHED.get("bench", 0)
    started = time.monotonic()
    line = one_error_line(["bench", "lif", "--reps", "99999999999999999999999"], capsys)  # was a hang
    assert "--reps" in line and "[1, 1000]" in line
    assert time.monotonic() - started < 5 and REACHED.get("bench", 0) == before


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["bench", "lif", "--reps", "0"], "--reps"),
        (["bench", "lif", "--batch", "0"], "--batch"),
        (["bench", "lif", "--n", "1"], "--n"),
        (["bench", "lif", "--n", "8192", "--batch", "4096", "--steps", "100000"], "bench lif"),
        # within the element cap, but about 12 GB: refused by its memory estimate before anything is allocated
        (["bench", "lif", "--n", "2048", "--batch", "512", "--steps", "256"], "STABVIZ_MAX_MEMORY_MB"),
        (["bench", "ensemble", "--members", "1024"], "1024 members"),  # was: refused after 25 s and 677 MB
    ],
)
def test_bench_sizes_are_bounded(argv, needle, fuzz_env, capsys):
    reached = dict(REACHED)
    assert needle in one_error_line(argv, capsys)
    assert REACHED == reached, "the work must not start"


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["simulate", "--batch", "-1"], "--batch"),  # was RuntimeError: negative dimension
        (["simulate", "--batch", "0"], "--batch"),  # was exit 0 with NaN measurements
        (["simulate", "--batch", HUGE_400], "--batch"),
        (["simulate", "--sim-steps", "1"], "--sim-steps"),
        (["simulate", "--sim-steps", "-5"], "--sim-steps"),
        (["simulate", "--burn-in", "-1"], "--burn-in"),
        (["simulate", "--burn-in", "300", "--sim-steps", "300"], "--burn-in"),
        (["simulate", "--device", "tpu"], "--device"),
        (["simulate", "--device", ""], "--device"),
        (["simulate", "--n-in", "100000", "--batch", "4096"], "simulate"),
        (["measure-map", "--burn-in", "0"], "--burn-in"),
        (["measure-map", "--nx", "201"], "--nx"),
        (["measure-map", "--ny", "1"], "--ny"),
        (["measure-map", "--batch", "4097"], "--batch"),
        (["region", "--nx", "2001"], "--nx"),
        (["region", "--ny", "1" + "0" * 30], "--ny"),
        (["recommend", "--voltage-model", "measured", "--n-in", "100000", "--n-rec", "8192"], "measured"),
    ],
)
def test_simulation_and_map_sizes_are_checked(argv, needle, fuzz_env, capsys):
    reached = dict(REACHED)
    assert needle in one_error_line(argv, capsys)
    assert REACHED == reached, "the work must not start"


def test_simulate_on_cuda_without_a_gpu_is_one_line(fuzz_env, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert "--device cuda" in one_error_line(["simulate", "--device", "cuda"], capsys)


@pytest.mark.parametrize("value", ["1" + "0" * 30, "-1", "0", "100001", "1e3"])
def test_runs_list_limit_is_bounded(value, fuzz_env, capsys):
    # 10^30 was OverflowError: Python int too large to convert to SQLite INTEGER; -1 listed everything
    assert "--limit" in one_error_line(["runs", "list", "--limit", value], capsys)


@pytest.mark.parametrize("command", ["show", "export", "cancel"])
@pytest.mark.parametrize("run_id", ["x" * 100_000, "x" * 65, ""])
def test_long_or_empty_run_ids_are_one_line(command, run_id, fuzz_env, capsys):
    line = one_error_line(["runs", command, run_id], capsys)
    assert "run id" in line and len(line) < 200


def test_run_id_of_64_characters_is_looked_up(fuzz_env, capsys):
    assert "no run with id" in one_error_line(["runs", "show", "f" * 64], capsys)
    assert "--sweep" in one_error_line(["runs", "list", "--sweep", "s" * 100_000], capsys)


def _export(output: str) -> list[str]:
    return ["runs", "export", SEEDED["@RUN"], "--output", output]


def test_export_output_is_written(fuzz_env, capsys):
    assert main(_export("exported.csv")) == 0
    assert (fuzz_env / "exported.csv").read_text().startswith("step")


@pytest.mark.parametrize(
    "output,reason",
    [
        ("{tmp}", "Is a directory"),
        ("{tmp}/missing/parent/out.csv", "No such file or directory"),
        ("{tmp}/" + "a" * 300 + ".csv", "File name too long"),
        ("a\x00b.csv", "NUL"),
        ("", "must not be empty"),
        ("x/" * 3000, "too long"),
    ],
)
def test_export_output_errors_name_the_option(output, reason, fuzz_env, tmp_path, capsys):
    line = one_error_line(_export(output.format(tmp=tmp_path)), capsys)
    assert "--output" in line and reason in line and len(line) < 300


def test_export_output_without_permission_names_the_option(fuzz_env, tmp_path, capsys, monkeypatch):
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        line = one_error_line(_export(str(locked / "out.csv")), capsys)
        assert "--output" in line and "Permission denied" in line

    def denied(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(safeio, "_temp_beside", denied)  # root may write anywhere: pretend
    line = one_error_line(_export(str(tmp_path / "out.csv")), capsys)  # a new file (the fuzz writes out.csv)
    assert "--output" in line and "Permission denied" in line


def test_sweep_grid_is_bounded_by_the_queue_limit(fuzz_env, capsys, monkeypatch):
    before = REACHED.get("sweep", 0)
    line = one_error_line(["sweep", "--x", "dampening", "--x-values", "1," * 50 + "1"], capsys)
    assert "--x-values" in line and "51 grid points" in line
    monkeypatch.setenv("STABVIZ_MAX_QUEUED", "3")
    line = one_error_line(
        ["sweep", "--x", "dampening", "--x-values", "1,2", "--y", "tail", "--y-values", "2,3"], capsys
    )
    assert "4 grid points" in line and "STABVIZ_MAX_QUEUED" in line
    assert REACHED.get("sweep", 0) == before


# -- main's one error path --------------------------------------------------------------------------------

from stabviz.cli import theory as cli_theory  # noqa: E402
from stabviz.runs.store import StoreError  # noqa: E402


@pytest.mark.parametrize(
    "exc,needle",
    [
        (OverflowError("int too large to convert to float"), "int too large"),
        (OSError(errno.ENAMETOOLONG, "File name too long", "a" * 5000), "File name too long: 'aaaa"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "/tmp"), "Is a directory: '/tmp'"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "/x/y.h5"), "No such file or directory"),
        (PermissionError(errno.EACCES, "Permission denied"), "Permission denied"),
        (StoreError("the run store is full", kind="full"), "store is full"),
        (MemoryError(), "not enough memory"),
        (ValueError("first line\nsecond line"), "first line"),
        (ValueError("x" * 10_000), "xxx…"),
    ],
)
def test_main_maps_bad_input_to_one_line_status_2(exc, needle, capsys, monkeypatch):
    def handler(args):
        raise exc

    monkeypatch.setattr(cli_theory, "cmd_presets", handler)
    line = one_error_line(["presets"], capsys)
    assert line.startswith("stabviz: error: ") and needle in line and len(line) <= 1100


def test_a_bug_is_one_line_status_1_and_its_traceback_with_stabviz_debug(capsys, monkeypatch):
    def handler(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli_theory, "cmd_presets", handler)
    monkeypatch.delenv("STABVIZ_DEBUG", raising=False)
    line = one_error_line(["presets"], capsys, status=1)
    assert line == (
        "stabviz: internal error: ZeroDivisionError: division by zero (set STABVIZ_DEBUG=1 for the traceback)"
    )
    monkeypatch.setenv("STABVIZ_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["presets"])


def test_help_in_process_returns_0(capsys):
    assert main(["presets", "--help"]) == 0
    assert "usage" in capsys.readouterr().out


def test_undecodable_argv_bytes_are_escaped(capsys):
    line = one_error_line(["recommend", "\udcff"], capsys)  # what `stabviz recommend $'\xff'` passes
    assert "\\xff" in line
    assert "\\ud800" in one_error_line(["recommend", "\ud800"], capsys)
