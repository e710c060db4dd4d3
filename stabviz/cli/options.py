"""The options every command group shares: the network/SG options, the training options, and the
one-line usage error.

Both option sets are parent parsers whose defaults are None (= the preset's / TrainConfig's), so a
config is the preset overridden by exactly the options the user gave.
"""
from __future__ import annotations

import argparse
from typing import Any

from stabviz.config import (DEVICES, FORMULAS, IN_INITS, INITS, LOSSES, PRESETS, RESETS, SHAPES, TASKS,
                            VOLTAGE_MODELS, LIFConfig, TrainConfig, preset, tau_to_leak)


class UsageError(ValueError):
    """A command-line mistake: reported on one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:      # one line, no usage dump
        raise UsageError(message)


# option dest -> LIFConfig field
_LIF_OPTIONS: dict[str, str] = {
    "n_rec": "n_rec", "n_in": "n_in", "threshold": "threshold", "reset": "reset", "init": "init_rec",
    "init_in": "init_in", "rec_mean": "rec_mean", "rec_std": "rec_std", "in_mean": "in_mean",
    "in_std": "in_std", "input_mean": "input_mean", "input_var": "input_var", "bias": "bias",
    "sg": "shape", "dampening": "dampening", "sharpness": "sharpness", "tail": "tail", "steps": "steps",
    "voltage_model": "voltage_model", "formula": "formula", "tolerance": "tolerance", "seed": "seed",
    "leak": "leak",
}


def lif_options(with_steps: bool = True) -> argparse.ArgumentParser:
    """The shared network/SG options, as a parent parser (every default None = take the preset's).

    Training commands leave out ``--steps`` (T of the theory): there T is the task's ``--time-steps``
    and ``--steps`` counts optimiser steps, as users of training scripts expect.
    """
    p = Parser(add_help=False)
    g = p.add_argument_group("network and surrogate (defaults: the preset's)")
    g.add_argument("--preset", choices=list(PRESETS), default="paper-slmnist", help="starting setting")
    g.add_argument("--n-rec", type=int, help="recurrent neurons n")
    g.add_argument("--n-in", type=int, help="input channels n_in")
    leak = g.add_mutually_exclusive_group()
    leak.add_argument("--tau", type=float, help="membrane time constant in steps (α = exp(−1/τ))")
    leak.add_argument("--leak", type=float, help="leak α in [0, 0.9999]")
    g.add_argument("--threshold", type=float, help="threshold θ")
    g.add_argument("--reset", choices=RESETS, help="reset mode")
    g.add_argument("--reset-grad", action=argparse.BooleanOptionalAction, default=None,
                   help="let the gradient flow through the reset term")
    g.add_argument("--init", choices=INITS, help="W_rec initialisation ('conditions' = conditions I, II)")
    g.add_argument("--init-in", choices=IN_INITS, help="W_in initialisation")
    for name in ("rec-mean", "rec-std", "in-mean", "in-std"):
        g.add_argument(f"--{name}", type=float, help="for init uniform/normal")
    g.add_argument("--input-mean", type=float, help="input spike mean m_x per channel and step")
    g.add_argument("--input-var", type=float, help="input spike variance v_x")
    g.add_argument("--bias", type=float, help="bias current b")
    g.add_argument("--sg", choices=SHAPES, help="surrogate-gradient shape")
    g.add_argument("--dampening", type=float, help="SG peak height γ")
    g.add_argument("--sharpness", type=float, help="SG inverse width β")
    g.add_argument("--tail", type=float, help="SG tail-fatness q (qpseudospike), > 1")
    if with_steps:
        g.add_argument("--steps", type=int, help="time steps T the gradient travels")
    g.add_argument("--voltage-model", choices=VOLTAGE_MODELS, help="voltage distribution model")
    g.add_argument("--formula", choices=FORMULAS, help="'derived' (default) or the reference 'code'")
    g.add_argument("--tolerance", type=float, help="decades of gradient gain over T still 'stable'")
    g.add_argument("--seed", type=int, help="random seed")
    return p


def lif_config_from_args(args: argparse.Namespace) -> LIFConfig:
    """The preset, overridden by every option the user gave (validated: ValueError names the field)."""
    changes: dict[str, Any] = {}
    for dest, fieldname in _LIF_OPTIONS.items():
        value = getattr(args, dest, None)
        if value is not None:
            changes[fieldname] = value
    if getattr(args, "tau", None) is not None:
        changes["leak"] = tau_to_leak(args.tau)
    if getattr(args, "reset_grad", None) is not None:
        changes["reset_grad"] = args.reset_grad
    return preset(getattr(args, "preset", "paper-slmnist") or "paper-slmnist", **changes)


_DEFAULTS = TrainConfig()
#: option dest -> TrainConfig field
TRAIN_OPTIONS = {"task": "task", "data_path": "data_path", "classes": "classes", "samples": "samples",
                 "manifold_dim": "manifold_dim", "time_steps": "time_steps", "train_steps": "train_steps",
                 "batch": "batch", "lr": "lr", "weight_decay": "weight_decay", "layers": "layers",
                 "loss": "loss", "recommended_sg": "use_recommended_sg", "sparsity_target": "sparsity_target",
                 "sparsity_weight": "sparsity_weight", "initial_rate": "initial_rate", "device": "device",
                 "time_limit": "time_limit", "log_every": "log_every"}


def train_options() -> argparse.ArgumentParser:
    """The training options as a parent parser (shared with `submit` and `sweep`). Every default is
    None, meaning TrainConfig's. ``--steps`` (alias ``--train-steps``) counts optimiser steps; the theory's
    T is the task's ``--time-steps`` (training commands get the LIF options without ``--steps``)."""
    d = _DEFAULTS
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("training (defaults: TrainConfig's)")
    g.add_argument("--task", choices=TASKS, help=f"data set (default {d.task}; shd/slmnist need --data-path)")
    g.add_argument("--data-path", help="local SHD .h5 or MNIST idx/.npz file (nothing is downloaded)")
    g.add_argument("--classes", type=int, help=f"randman classes (default {d.classes})")
    g.add_argument("--samples", type=int,
                   help=f"randman: samples generated; shd/slmnist: most samples loaded (default {d.samples})")
    g.add_argument("--manifold-dim", type=int, help=f"randman manifold dimension (default {d.manifold_dim})")
    g.add_argument("--time-steps", type=int, help=f"input time bins T of the task (default {d.time_steps})")
    g.add_argument("--steps", "--train-steps", dest="train_steps", type=int,
                   help=f"optimiser steps (default {d.train_steps})")
    g.add_argument("--batch", type=int, help=f"batch size (default {d.batch})")
    g.add_argument("--lr", type=float, help=f"AdamW learning rate (default {d.lr:g})")
    g.add_argument("--weight-decay", type=float, help=f"AdamW weight decay (default {d.weight_decay:g})")
    g.add_argument("--layers", type=int, help=f"LIF layers, 1-3 (default {d.layers})")
    g.add_argument("--loss", choices=LOSSES, help=f"cross-entropy per step or of the time mean (default {d.loss})")
    g.add_argument("--recommended-sg", action=argparse.BooleanOptionalAction, default=None,
                   help="replace (γ, β, q) by the first recommendation option (ρ² = 1)")
    g.add_argument("--sparsity-target", type=float, help="target firing rate f_target of the sparsity loss")
    g.add_argument("--sparsity-weight", type=float, help="weight of the sparsity loss (0 = off)")
    g.add_argument("--initial-rate", type=float, help="first train only the biases toward this rate f0")
    g.add_argument("--device", choices=DEVICES, help=f"auto = CUDA when available (default {d.device})")
    g.add_argument("--time-limit", type=float, help=f"seconds before the run stops itself (default {d.time_limit:g})")
    g.add_argument("--log-every", type=int, help=f"optimiser steps between metric records (default {d.log_every})")
    return p


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The LIF options' config plus every training option the user gave (validated by TrainConfig)."""
    changes = {field: getattr(args, dest) for dest, field in TRAIN_OPTIONS.items()
               if getattr(args, dest, None) is not None}
    return TrainConfig(lif=lif_config_from_args(args), **changes)
