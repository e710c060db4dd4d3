"""Confirmation example: short randman runs at a setting the theory calls stable and at settings it
calls vanishing and exploding, each with K seeds, printing prediction vs the seeds' mean and 95% interval
and the group verdict (stabviz.intervals.group_verdict). `python -m benchmarks.confirm_runs [--seeds K]`

The stable setting puts the dampening on the condition-IV curve (ρ² = 1 at the current sharpness,
computed with the task's own input statistics); the others divide and multiply it by 4. The runs train one
after another (train.run), seeds seed ... seed+K−1 of each setting.
"""

from __future__ import annotations

import argparse
import json

import torch

from stabviz import intervals, theory, train
from stabviz.config import TrainConfig, preset
from stabviz.tasks import input_stats, load_task


def stable_dampening(cfg: TrainConfig) -> float:
    """γ on the condition-IV curve for the task's real input (m_x, v_x) and the network's n_in."""
    data = load_task(cfg)
    m_x, v_x = input_stats(data.x)
    lif = cfg.lif.replace(n_in=data.n_in, input_mean=m_x, input_var=v_x)
    p = theory.predict(lif.replace(dampening=1.0))
    A, C, D = theory.gain_coefficients(lif, p.firing_rate)
    return float(theory.gamma_iv(A, C, D, p.moment1, p.moment2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train-steps", type=int, default=150)
    ap.add_argument("--seeds", type=int, default=3, help="seeds per setting (K ≥ 2 gives 95%% intervals)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    lif = preset("shd-tau20", n_rec=128, steps=50, sharpness=1.0)
    base = TrainConfig(
        lif=lif,
        task="randman",
        classes=5,
        samples=1000,
        time_steps=50,
        train_steps=args.train_steps,
        batch=64,
        lr=2e-3,
        log_every=50,
    )
    seeds = intervals.seed_range(lif.seed, args.seeds)
    g = stable_dampening(base)
    rows = []
    for label, damp in (("vanishing (γ/4)", g / 4), ("stable (γ on IV)", g), ("exploding (4γ)", 4 * g)):
        runs = [train.run(base.replace(lif=lif.replace(dampening=damp, seed=s))) for s in seeds]
        v = intervals.group_verdict(runs)
        rows.append(
            {
                "setting": label,
                "dampening": damp,
                "seeds": seeds,
                "statuses": [r["status"] for r in runs],
                "regime_pred": runs[0]["prediction"]["regime"],
                "firing_rate": v["firing_rate"],
                "rho": v["rho"],
                "log10_gain": v["log10_gain"],
                "agrees": v["agrees"],
                "accuracy": intervals.mean_interval([r["final"].get("accuracy") for r in runs]).to_dict(),
                "wall_s": sum(r["wall_s"] for r in runs),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"{len(seeds)} seeds per setting; mean [95% interval] over the seeds, the prediction, and whether it "
        "lies inside the interval widened by the tolerance (rate) or the calibrated band (ρ̂)"
    )
    print(
        f"{'setting':<18}{'γ':>7}  {'p: mean [interval] / pred':<36}{'ρ̂: mean [interval] / pred':<36}"
        f"{'regime pred':<13}{'agrees':<8}{'acc':>6}{'s':>7}"
    )
    for r in rows:
        print(
            f"{r['setting']:<18}{r['dampening']:>7.3f}  {_interval(r['firing_rate']):<36}{_interval(r['rho']):<36}"
            f"{r['regime_pred']:<13}{_yes(r['agrees']):<8}{_fmt(r['accuracy']['mean']):>6}{r['wall_s']:>7.1f}"
        )


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}"


def _interval(q: dict) -> str:
    lo, hi = q["interval"] or (None, None)
    return f"{_fmt(q['mean'])} [{_fmt(lo)}, {_fmt(hi)}] / {_fmt(q['predicted'])} {_yes(q['agrees'])}"


def _yes(agrees) -> str:
    return {True: "yes", False: "no"}.get(agrees, "—")


if __name__ == "__main__":
    main()
