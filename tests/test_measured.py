"""The measured stability map: every cell is `simulate.measure` at that setting, batched."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from stabviz import measured, preset, simulate, theory  # noqa: E402  (after the torch skip)
from stabviz.config import LIFConfig  # noqa: E402
from stabviz.measured import measure_map  # noqa: E402

SMALL = dict(n_rec=48, n_in=64, steps=40)
SIM = dict(batch=8, steps=120, burn_in=60)


@pytest.mark.parametrize("x,reset", [("sharpness", "subtract"), ("tail", "mult1"), ("leak", "mult2")])
def test_cells_equal_simulate_measure(x, reset):
    cfg = preset(
        "shd-tau20",
        reset=reset,
        reset_grad=reset != "subtract",
        shape="qpseudospike" if x == "tail" else "fastsigmoid",
        **SMALL,
    )
    m = measure_map(cfg, x=x, nx=3, ny=3, **SIM)
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        cell = cfg.replace(dampening=float(m.y[i]), **{x: float(m.x[j])})
        assert m.rho_hat[i, j] == pytest.approx(simulate.measure(cell, **SIM).rho_hat, rel=1e-3)


def test_map_is_on_the_theory_grid_and_reports_agreement():
    cfg = preset("shd-tau20", **SMALL)
    calls = []
    m = measure_map(cfg, x="sharpness", nx=4, ny=5, progress=lambda done, total: calls.append((done, total)), **SIM)
    pred = theory.region(cfg, x="sharpness", y="dampening", nx=4, ny=5)
    np.testing.assert_allclose(m.x, pred.x)
    np.testing.assert_allclose(m.predicted_log10_gain, pred.log10_gain)
    np.testing.assert_allclose(m.measured_log10_gain, cfg.steps * np.log10(m.rho_hat))
    assert m.agreement == pytest.approx(np.mean(m.measured_regime == m.predicted_regime))
    assert calls[-1] == (20, 20)
    d = m.to_dict()
    assert (
        np.array(d["measured_log10_gain"]).shape == (5, 4)
        and d["measured_regime"][0][0] in theory.REGIME_NAMES.values()
    )
    # where the surrogate is wide enough to matter, the gain grows with the dampening
    assert (np.diff(m.rho_hat[:, 0]) > 0).all() and m.rho_hat[-1, 0] > 2 * m.rho_hat[0, 0]


def test_bad_axis_is_a_clear_error():
    with pytest.raises(ValueError, match="x = 'dampening'"):
        measure_map(preset("shd-tau20"), x="dampening")


def test_cli_measure_map_json(capsys):
    import json

    from stabviz.cli import main

    rc = main(
        [
            "measure-map",
            "--preset",
            "shd-tau20",
            "--n-rec",
            "32",
            "--n-in",
            "40",
            "--steps",
            "30",
            "--nx",
            "3",
            "--ny",
            "2",
            "--batch",
            "4",
            "--sim-steps",
            "80",
            "--burn-in",
            "40",
            "--json",
        ]
    )
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    for key in (
        "x",
        "y",
        "measured_log10_gain",
        "predicted_log10_gain",
        "measured_regime",
        "predicted_regime",
        "agreement",
        "seconds",
    ):
        assert key in d
    assert np.array(d["measured_log10_gain"]).shape == (2, 3) and 0 <= d["agreement"] <= 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cli_cuda_without_gpu_is_one_line(capsys):
    from stabviz.cli import main

    assert main(["measure-map", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no CUDA GPU" in err


def test_within_chunks_reports_inside_a_chunk_and_changes_no_number():
    """The CLI's progress (issue 20): a big grid's first chunk may take minutes, so its cells are counted
    as the push-back steps go, not only when the chunk ends."""
    cfg = preset("shd-tau20", n_rec=16, n_in=20, steps=40)
    kw = dict(x="sharpness", nx=3, ny=2, batch=4, steps=80, burn_in=30)
    coarse, fine = [], []
    a = measure_map(cfg, **kw, progress=lambda d, t: coarse.append(d))
    b = measure_map(cfg, **kw, progress=lambda d, t: fine.append(d), within_chunks=True)
    np.testing.assert_array_equal(a.rho_hat, b.rho_hat)
    assert fine == sorted(fine) and fine[-1] == 6 and len(fine) > len(coarse)
    assert 0 < fine[1] < 6  # part of the one chunk counted before it ended


@pytest.mark.parametrize("x,reset", [("sharpness", "mult1"), ("leak", "subtract")])
def test_blocks_run_in_threads_give_every_cell_of_simulate_measure(x, reset):
    """The push-back in cache-sized blocks, run in parallel threads (issue 21, item 7): every cell still equals
    `simulate.measure` at that setting, the progress counts only grow, and torch's thread count comes back."""
    cfg = preset("shd-tau20", reset=reset, reset_grad=reset != "subtract", **SMALL)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        calls = []
        one_cell = SIM["batch"] * cfg.n_rec  # chunk_elements of one cell: 9 blocks
        m = measure_map(
            cfg,
            x=x,
            nx=3,
            ny=3,
            chunk_elements=one_cell,
            within_chunks=True,
            progress=lambda done, total: calls.append(done),
            **SIM,
        )
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    for i in range(3):
        for j in range(3):
            cell = cfg.replace(dampening=float(m.y[i]), **{x: float(m.x[j])})
            assert m.rho_hat[i, j] == pytest.approx(simulate.measure(cell, **SIM).rho_hat, rel=1e-3)
    assert calls == sorted(calls) and calls[-1] == 9


def test_a_failing_block_stops_the_others_and_raises():
    """An error in one block (here: a progress callback that raises, as Ctrl-C would) ends the map with it."""
    cfg = preset("shd-tau20", **SMALL)
    before = torch.get_num_threads()
    torch.set_num_threads(2)

    def boom(done, total):
        if done:
            raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            measure_map(cfg, x="sharpness", nx=3, ny=3, chunk_elements=SIM["batch"] * cfg.n_rec, progress=boom, **SIM)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_progress_chunk_pushes_whole_columns_in_about_the_asked_number_of_updates():
    cfg = LIFConfig(n_rec=32)
    column = 24 * 64 * 32  # one column of a 24-row map, batch 64
    assert measured.progress_chunk(cfg, nx=24, ny=24, batch=64, updates=10) == 3 * column  # 8 chunks of 3 columns
    assert measured.progress_chunk(cfg, nx=24, ny=24, batch=64, updates=100) == column  # never less than a column
    big = measured.progress_chunk(LIFConfig(n_rec=1024), nx=400, ny=400, batch=256, updates=2)
    assert big == measured.MAX_CHUNK_ELEMENTS  # the memory bound holds
