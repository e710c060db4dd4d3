"""Confirmation example: short randman runs at a setting the theory calls stable and at settings it
calls vanishing and exploding, printing prediction vs measurement. `python -m benchmarks.confirm_runs`

The stable setting puts the dampening on the condition-IV curve (ρ² = 1 at the current sharpness,
computed with the task's own input statistics); the others divide and multiply it by 4.
"""
from __future__ import annotations

import argparse
import json

import torch

from stabviz import theory, train
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
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    lif = preset("shd-tau20", n_rec=128, steps=50, sharpness=1.0)
    base = TrainConfig(lif=lif, task="randman", classes=5, samples=1000, time_steps=50,
                       train_steps=args.train_steps, batch=64, lr=2e-3, log_every=50)
    g = stable_dampening(base)
    rows = []
    for label, damp in (("vanishing (γ/4)", g / 4), ("stable (γ on IV)", g), ("exploding (4γ)", 4 * g)):
        s = train.run(base.replace(lif=lif.replace(dampening=damp)))
        v = s["verdict"]
        rows.append({"setting": label, "dampening": damp, "status": s["status"],
                     "rate_pred": v["firing_rate"]["predicted"], "rate_meas": v["firing_rate"]["measured"],
                     "rho_pred": v["rho"]["predicted"], "rho_hat": v["rho"]["measured"],
                     "regime_pred": v["regime"]["predicted"], "regime_meas": v["regime"]["measured"],
                     "accuracy": s["final"].get("accuracy"), "wall_s": s["wall_s"]})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'setting':<18}{'γ':>7}{'p pred':>8}{'p meas':>8}{'ρ pred':>8}{'ρ̂ meas':>8}  "
          f"{'regime pred/meas':<22}{'acc':>6}{'status':>10}{'s':>6}")
    for r in rows:
        fmt = lambda v: "—" if v is None else f"{v:.3f}"
        print(f"{r['setting']:<18}{r['dampening']:>7.3f}{fmt(r['rate_pred']):>8}{fmt(r['rate_meas']):>8}"
              f"{fmt(r['rho_pred']):>8}{fmt(r['rho_hat']):>8}  {r['regime_pred'] + '/' + str(r['regime_meas']):<22}"
              f"{fmt(r['accuracy']):>6}{r['status']:>10}{r['wall_s']:>6.1f}")


if __name__ == "__main__":
    main()
