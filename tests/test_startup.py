"""Start-up cost: what importing the theory and the quick CLI commands load (fresh subprocesses), and the
scalar root finder that replaced scipy.optimize's."""

import subprocess
import sys

import numpy as np
import pytest

from stabviz import theory
from stabviz.config import PRESETS, preset

#: modules the theory and the quick commands must not load: scipy.optimize alone costs ~140 ms of start-up
HEAVY = ("scipy.optimize", "torch", "streamlit", "plotly")


def loaded_after(code: str) -> list[str]:
    """Which of HEAVY a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [m for m in out.stdout.strip().split(",") if m]


def test_importing_the_theory_loads_no_optimizer_torch_or_ui():
    assert loaded_after("import stabviz.theory") == []


def test_region_and_recommend_commands_load_no_optimizer_torch_or_ui(tmp_path):
    code = (
        f"import os; os.environ['STABVIZ_HOME'] = {str(tmp_path)!r}\n"
        "import contextlib, io\nfrom stabviz.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['region']) == 0 and main(['recommend']) == 0\n"
    )
    assert loaded_after(code) == []


def test_a_gaussian_prediction_still_loads_no_optimizer():
    # one setting takes the scalar root (theory._root), which used to be scipy.optimize.brentq
    assert loaded_after("from stabviz import theory\ntheory.predict(theory.LIFConfig(), 'gaussian')") == []


def _settings():
    out = []
    for name in PRESETS:
        for leak in (0.0, 0.9, 0.99):
            for threshold in (0.01, 0.1, 1.0):
                out.append(preset(name).replace(leak=leak, threshold=threshold))
    return out


def test_the_scalar_root_matches_a_fine_bisection_to_machine_precision():
    worst, checked = 0.0, 0
    for cfg in _settings():
        rec = theory.recurrent_law(cfg, cfg.leak)

        def excess(p, cfg=cfg, rec=rec):
            mu, sd = theory._gaussian_moments_of_y(cfg, p, cfg.leak, rec)
            return float(theory.special.ndtr(-(cfg.threshold - mu) / sd) - p) if sd > 0 else None

        if excess(0.0) is None or not excess(0.0) > 0 > excess(1.0):
            continue
        lo, hi = 0.0, 1.0
        for _ in range(200):  # bisection down to adjacent floats: the reference
            mid = 0.5 * (lo + hi)
            if mid in (lo, hi):
                break
            lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
        worst = max(worst, abs(theory._root(excess, 0.0, 1.0) - 0.5 * (lo + hi)))
        checked += 1
        assert theory.gaussian_voltage(cfg).firing_rate == pytest.approx(0.5 * (lo + hi), abs=3e-15)
    assert checked > 20 and worst <= 3e-15


def test_the_scalar_root_handles_exact_hits_and_flat_steps():
    assert theory._root(lambda x: 0.5 - x, 0.0, 1.0) == 0.5  # hit exactly on the first step
    root = theory._root(lambda x: np.tanh(50 * (0.3 - x)), 0.0, 1.0)  # false position stalls here
    assert abs(root - 0.3) <= 1e-15
