"""The options every command group shares: the network/SG options, the training options, and the
one-line usage error.

Both option sets are parent parsers whose defaults are None (= the preset's / TrainConfig's), so a
config is the preset overridden by exactly the options the user gave.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from stabviz import safeio
from stabviz.config import (
    DEVICES,
    FORMULAS,
    IN_INITS,
    INITS,
    LOSSES,
    NEURONS,
    PRESETS,
    RANGES,
    RESETS,
    SHAPES,
    TASKS,
    TRAIN_RANGES,
    VOLTAGE_MODELS,
    LIFConfig,
    TrainConfig,
    check_rate_control,
    preset,
    run_preset,
    tau_to_leak,
)


class UsageError(ValueError):
    """A command-line mistake: reported on one line, exit status 2."""


# -- bounded option types -----------------------------------------------------------------------------
# Every count or size option is checked here, while argparse parses it, so nothing downstream ever sees a
# 400-digit batch (OverflowError), a negative tensor size or 10^23 repetitions (a hang). argparse reports a
# failed check as "argument --batch: <message>", naming the option.

#: CLI-side bounds where config.py has none (simulation, maps, benchmark, run store).
SIM_BATCH = (1, 4096)  # simulate / measure-map --batch
SIM_STEPS = (2, int(RANGES["steps"][1]))  # --sim-steps (including the burn-in)
BURN_IN = (0, SIM_STEPS[1] - 1)  # --burn-in; below --sim-steps (checked with it)
REGION_GRID = (2, 2000)  # region --nx/--ny (theory, cheap per cell)
MEASURE_GRID = (2, 200)  # measure-map --nx/--ny (one simulation per cell)
SEEDS = (1, 64)  # --seeds K: seeds seed ... seed+K−1 (simulate, submit)
BENCH_BATCH = (1, 4096)
BENCH_REPS = (1, 1000)
BENCH_THREADS = (1, 1024)
LIST_LIMIT = (1, 100_000)  # runs list --limit
RUN_ID_CHARS = 64  # run ids are 12 hex digits; a prefix is shorter
PATH_CHARS = 4096  # PATH_MAX on Linux
#: the most numbers one tensor of a simulation or benchmark may hold (2^28 float32 = 1 GiB)
MAX_ELEMENTS = 2**28


def shown(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut to about ``limit`` characters: error messages stay one short line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _numeric(kind: Any) -> bool:
    return kind in (int, float) or isinstance(kind, Whole)


def _looks_negative(token: str) -> bool:
    """'-5', '-0.5', '-inf', '-1e3': a value, not an option."""
    try:
        float(token)
    except ValueError:
        return False
    return True


class Whole:
    """argparse type: a whole number in [lo, hi], range-checked before any use."""

    def __init__(self, lo: int, hi: int):
        self.lo, self.hi = int(lo), int(hi)
        self.__name__ = "whole number"  # argparse names the type by it

    @classmethod
    def of(cls, name: str, ranges: Mapping[str, tuple] = RANGES) -> Whole:
        """The range of config's ``ranges[name]`` (RANGES or TRAIN_RANGES)."""
        lo, hi, lo_in, hi_in = ranges[name]
        return cls(math.ceil(lo) if lo_in else math.floor(lo) + 1, math.floor(hi) if hi_in else math.ceil(hi) - 1)

    def __call__(self, text: str) -> int:
        allowed = f"[{self.lo}, {self.hi}]"
        digits = text.strip()
        if not digits.isascii():  # int() would read '٣' or '１２' as 3 or 12
            raise argparse.ArgumentTypeError(f"{shown(text)} is not a whole number in {allowed} (ASCII digits 0-9)")
        if len(digits) > 1000 and re.fullmatch(r"[+-]?\d[\d_]*", digits):  # int() refuses > 4300 digits
            raise argparse.ArgumentTypeError(f"{digits[:39]}… is outside the allowed range {allowed}")
        try:
            value = int(digits)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{shown(text)} is not a whole number in {allowed}") from None
        if not self.lo <= value <= self.hi:
            raise argparse.ArgumentTypeError(f"{shown(value)} is outside the allowed range {allowed}")
        return value

    def __repr__(self) -> str:
        return f"Whole({self.lo}, {self.hi})"


class Text:
    """argparse type: a string of at most ``limit`` characters, without NUL (paths, ids, names); empty only
    with ``empty=True`` (an empty value is a slip: '--sweep ""' would list nothing, '--x ""' name nothing)."""

    def __init__(self, limit: int, what: str = "value", empty: bool = False):
        self.limit, self.what, self.empty = limit, what, empty
        self.__name__ = what

    def __call__(self, text: str) -> str:
        if not text and not self.empty:
            raise argparse.ArgumentTypeError(f"the {self.what} must not be empty")
        if len(text) > self.limit:
            raise argparse.ArgumentTypeError(
                f"the {self.what} {shown(text)} is too long ({len(text)} characters; at most {self.limit})"
            )
        if "\0" in text:
            raise argparse.ArgumentTypeError(f"the {self.what} {shown(text)} contains a NUL character")
        return text

    def __repr__(self) -> str:
        return f"Text({self.limit})"


class ValueList(Text):
    """argparse type: comma-separated values ("0.5,1,2"), none of them empty ("1,,2" or "1,2," is a typo
    that would otherwise drop a grid point silently)."""

    def __init__(self, limit: int = 100_000):
        super().__init__(limit, "value list", empty=False)

    def __call__(self, text: str) -> str:
        text = super().__call__(text)
        if not text.isascii():  # float() would read '１,２' as 1 and 2; names are ASCII too
            raise argparse.ArgumentTypeError(
                f"{shown(text)} holds characters other than ASCII; write numbers with the digits 0-9"
            )
        items = text.split(",")
        empty = [k + 1 for k, item in enumerate(items) if not item.strip()]
        if empty:
            raise argparse.ArgumentTypeError(
                f"{shown(text)}: value {empty[0]} of {len(items)} is empty; give comma-separated values, e.g. 0.5,1,2"
            )
        return text


def run_id() -> Text:
    """A run id or a unique prefix of one."""
    return Text(RUN_ID_CHARS, "run id", empty=False)


def path(empty: bool = False) -> Text:
    return Text(PATH_CHARS, "path", empty=empty)


def force_option(p: argparse.ArgumentParser, what: str = "the output file") -> None:
    """``--force``: every command that writes a file refuses to replace an existing one without it."""
    p.add_argument(
        "--force",
        action="store_true",
        help=f"replace {what} if it exists (a symbolic link, FIFO or device is refused even so)",
    )


@contextlib.contextmanager
def output_errors(option: str, value: str, os_errors: bool = True) -> Iterator[None]:
    """A refused or failed write (stabviz.safeio's rules, or with ``os_errors`` the OS's: wrap only the
    write then) as one UsageError naming ``option``."""
    try:
        yield
    except safeio.UnsafeOutput as e:
        raise UsageError(f"{option} {shown(value, 200)}: cannot write it ({e.reason})") from None
    except OSError as e:  # no permission, a full disk, a name too long...
        if not os_errors:
            raise
        reason = e.strerror or str(e).splitlines()[0]
        raise UsageError(f"{option} {shown(value, 200)}: cannot write it ({reason})") from None


def check_elements(what: str, limit: int = MAX_ELEMENTS, **sizes: int) -> None:
    """Raise UsageError when the product of ``sizes`` (one tensor's shape) is above ``limit`` numbers."""
    total = math.prod(sizes.values())
    if total > limit:
        shape = " × ".join(f"{k.replace('_', '-')} {v}" for k, v in sizes.items())
        raise UsageError(
            f"{what}: {shape} = {total:.3g} numbers in one tensor, above the limit {limit:.3g} "
            f"(about {4 * limit / 2**30:.0f} GiB); choose smaller sizes"
        )


class RateControl(ValueList):
    """argparse type: "f0,λ,steps" -> (f0, λ, steps), each part range-checked (config.check_rate_control)."""

    def __init__(self):
        super().__init__(limit=200)
        self.__name__ = "rate control"

    def __call__(self, text: str) -> tuple[float, float, int]:
        parts = super().__call__(text).split(",")
        if len(parts) != 3:
            raise argparse.ArgumentTypeError(f"{shown(text)} has {len(parts)} values; give f0,λ,steps, e.g. 0.158,1,50")
        try:
            # steps as written: '0' is reported as 0, not 0.0
            numbers = [float(p) for p in parts[:2]] + [int(parts[2]) if parts[2].strip().isdigit() else float(parts[2])]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{shown(text)} is not three numbers f0,λ,steps, e.g. 0.158,1,50"
            ) from None
        try:
            return check_rate_control(numbers)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None


class Parser(argparse.ArgumentParser):
    """Every command's parser. Beyond argparse's checks, for every option of every command: a number must
    be written in ASCII (Python's int() and float() also read '１２' or '٣'), a text value must not be
    empty, and an option given twice (under any of its names, e.g. --steps and --train-steps) must be
    given the same value both times: a conflict is an error, never settled by the last one."""

    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(message)

    def parse_known_args(self, args=None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        self._refuse_conflicts(args)
        return super().parse_known_args(args, namespace)

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        # argparse's one conversion hook (a private method, stable since Python 3.2): every command's values
        if _numeric(action.type) and not arg_string.isascii():
            raise argparse.ArgumentError(action, f"{shown(arg_string)} is not a number written with ASCII digits (0-9)")
        if action.type in (None, str) and not arg_string.strip() and action.option_strings:
            raise argparse.ArgumentError(action, "an empty value; give one or leave the option out")
        return super()._get_value(action, arg_string)

    def _refuse_conflicts(self, args: list[str]) -> None:
        """UsageError when one option is given twice with different values (this parser's part of argv:
        up to its subcommand, whose parser checks the rest)."""
        seen: dict[argparse.Action, tuple[str, str]] = {}
        commands = {name for a in self._actions if isinstance(a, argparse._SubParsersAction) for name in a.choices}
        i = 0
        while i < len(args):
            token = args[i]
            if token == "--" or token in commands:
                return
            action, name, value = self._option_at(args, i)
            i += 1
            if action is None:
                continue
            if value is None:  # the value follows as its own words
                n = action.nargs if isinstance(action.nargs, int) else (0 if action.nargs == 0 else 1)
                value, i = " ".join(args[i : i + n]) if n else name, i + n
            if isinstance(action, (argparse._AppendAction, argparse._CountAction)):
                continue
            if action in seen and seen[action][1] != value:
                first, earlier = seen[action]
                names = first if first == name else f"{first}/{name}"
                raise UsageError(
                    f"{names} given twice with different values ({shown(earlier)} and {shown(value)}); give it once"
                )
            seen.setdefault(action, (name, value))

    def _option_at(self, args: list[str], i: int) -> tuple[argparse.Action | None, str, str | None]:
        """(the option args[i] names or None, the name as written, its ``=value`` or None). Unique
        prefixes count, as argparse allows them (--train-st = --train-steps)."""
        token = args[i]
        if not token.startswith("-") or token == "-" or _looks_negative(token):
            return None, token, None
        name, eq, value = token.partition("=")
        actions = self._option_string_actions
        if name not in actions and name.startswith("--"):
            matches = {actions[o] for o in actions if o.startswith(name)}
            name = next((o for o in actions if o.startswith(name)), name) if len(matches) == 1 else name
        action = actions.get(name)
        return action, name, (value if eq else None)


# option dest -> LIFConfig field
_LIF_OPTIONS: dict[str, str] = {
    "n_rec": "n_rec",
    "n_in": "n_in",
    "threshold": "threshold",
    "reset": "reset",
    "init": "init_rec",
    "init_in": "init_in",
    "rec_mean": "rec_mean",
    "rec_std": "rec_std",
    "in_mean": "in_mean",
    "in_std": "in_std",
    "input_mean": "input_mean",
    "input_var": "input_var",
    "bias": "bias",
    "sg": "shape",
    "dampening": "dampening",
    "sharpness": "sharpness",
    "tail": "tail",
    "steps": "steps",
    "voltage_model": "voltage_model",
    "formula": "formula",
    "tolerance": "tolerance",
    "seed": "seed",
    "leak": "leak",
    "neuron": "neuron",
    "beta_a": "adapt_strength",
    "rec_share": "rec_share",
}
#: option dest -> the LIFConfig decay it sets as exp(−1/τ) (τ in steps, > 0)
_TAU_OPTIONS: dict[str, str] = {"tau_adapt": "adapt_decay", "tau_syn": "syn_decay"}


def lif_options(with_steps: bool = True) -> argparse.ArgumentParser:
    """The shared network/SG options, as a parent parser (every default None = take the preset's).

    Training commands leave out ``--steps`` (T of the theory): there T is the task's ``--time-steps``
    and ``--steps`` counts optimiser steps, as users of training scripts expect.
    """
    p = Parser(add_help=False)
    g = p.add_argument_group("network and surrogate (defaults: the preset's)")
    g.add_argument("--preset", choices=list(PRESETS), default="paper-slmnist", help="starting setting")
    g.add_argument("--n-rec", type=Whole.of("n_rec"), help="recurrent neurons n")
    g.add_argument("--n-in", type=Whole.of("n_in"), help="input channels n_in")
    leak = g.add_mutually_exclusive_group()
    leak.add_argument("--tau", type=float, help="membrane time constant in steps (α = exp(−1/τ))")
    leak.add_argument("--leak", type=float, help="leak α in [0, 0.9999]")
    g.add_argument("--threshold", type=float, help="threshold θ")
    g.add_argument("--reset", choices=RESETS, help="reset mode")
    g.add_argument(
        "--reset-grad",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let the gradient flow through the reset term",
    )
    g.add_argument(
        "--init",
        choices=INITS,
        help="W_rec initialisation ('conditions' = conditions I, II; "
        "'fluctuation' = the recurrent share of --init-in's target)",
    )
    g.add_argument("--init-in", choices=IN_INITS, help="W_in initialisation")
    g.add_argument(
        "--rec-share",
        type=float,
        help="--init fluctuation: the recurrent share of the voltage variance "
        "σ_U², in [0, 1) (default 0.1, Rossbroich et al.'s α = 0.9)",
    )
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
        g.add_argument("--steps", type=Whole.of("steps"), help="time steps T the gradient travels")
    g.add_argument(
        "--neuron",
        choices=NEURONS,
        help="neuron model: lif, alif (adaptive threshold) or cuba (synaptic current); docs/theory.md section 9",
    )
    g.add_argument("--beta-a", type=float, help="alif: threshold jump β_a per unit adaptation, ≥ 0")
    g.add_argument("--tau-adapt", type=float, help="alif: adaptation time constant τ_a in steps (ρ_a = exp(−1/τ_a))")
    g.add_argument(
        "--adapt-grad",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="alif: let the gradient flow through the adaptation a_t",
    )
    g.add_argument("--tau-syn", type=float, help="cuba: synaptic time constant τ_s in steps (α_s = exp(−1/τ_s))")
    g.add_argument("--voltage-model", choices=VOLTAGE_MODELS, help="voltage distribution model")
    g.add_argument("--formula", choices=FORMULAS, help="'derived' (default) or the reference 'code'")
    g.add_argument("--tolerance", type=float, help="decades of gradient gain over T still 'stable'")
    g.add_argument("--seed", type=Whole.of("seed"), help="random seed")
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
    if getattr(args, "adapt_grad", None) is not None:
        changes["adapt_grad"] = args.adapt_grad
    for dest, fieldname in _TAU_OPTIONS.items():
        tau = getattr(args, dest, None)
        if tau is not None:
            changes[fieldname] = tau_to_leak(tau, dest)
    return preset(getattr(args, "preset", "paper-slmnist") or "paper-slmnist", **changes)


_DEFAULTS = run_preset("cli")
#: option dest -> TrainConfig field
TRAIN_OPTIONS = {
    "task": "task",
    "data_path": "data_path",
    "classes": "classes",
    "samples": "samples",
    "manifold_dim": "manifold_dim",
    "time_steps": "time_steps",
    "train_steps": "train_steps",
    "batch": "batch",
    "lr": "lr",
    "weight_decay": "weight_decay",
    "layers": "layers",
    "loss": "loss",
    "recommended": "use_recommended_setting",
    "local_losses": "local_losses",
    "sparsity_target": "sparsity_target",
    "sparsity_weight": "sparsity_weight",
    "initial_rate": "initial_rate",
    "rate_control": "rate_control",
    "device": "device",
    "time_limit": "time_limit",
    "log_every": "log_every",
}


def train_options() -> argparse.ArgumentParser:
    """The training options as a parent parser (shared with `submit` and `sweep`). Every default is
    None, meaning TrainConfig's. ``--steps`` (alias ``--train-steps``) counts optimiser steps; the theory's
    T is the task's ``--time-steps`` (training commands get the LIF options without ``--steps``)."""
    d = _DEFAULTS
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("training (defaults: TrainConfig's)")
    g.add_argument(
        "--task",
        choices=TASKS,
        help=f"data set (default {d.task}; shd/slmnist need --data-path; digits is scikit-learn's "
        "bundled set, 16 steps × 64 channels whatever --time-steps says)",
    )
    g.add_argument("--data-path", type=path(), help="local SHD .h5 or MNIST idx/.npz file (nothing is downloaded)")
    whole = lambda name: Whole.of(name, TRAIN_RANGES)  # noqa: E731
    g.add_argument("--classes", type=whole("classes"), help=f"randman classes (default {d.classes})")
    g.add_argument(
        "--samples",
        type=whole("samples"),
        help=f"randman: samples generated; shd/slmnist: most samples loaded (default {d.samples})",
    )
    g.add_argument(
        "--manifold-dim", type=whole("manifold_dim"), help=f"randman manifold dimension (default {d.manifold_dim})"
    )
    g.add_argument(
        "--time-steps", type=whole("time_steps"), help=f"input time bins T of the task (default {d.time_steps})"
    )
    g.add_argument(
        "--steps",
        "--train-steps",
        dest="train_steps",
        type=whole("train_steps"),
        help=f"optimiser steps (default {d.train_steps})",
    )
    g.add_argument("--batch", type=whole("batch"), help=f"batch size (default {d.batch})")
    g.add_argument("--lr", type=float, help=f"AdamW learning rate (default {d.lr:g})")
    g.add_argument("--weight-decay", type=float, help=f"AdamW weight decay (default {d.weight_decay:g})")
    g.add_argument("--layers", type=whole("layers"), help=f"LIF layers, 1-3 (default {d.layers})")
    g.add_argument("--loss", choices=LOSSES, help=f"cross-entropy per step or of the time mean (default {d.loss})")
    g.add_argument(
        "--recommended",
        "--recommended-sg",
        dest="recommended",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train the outcome model's recommended whole setting instead (γ, β, q and the "
        "recurrent initialisation; `recommend` shows it with its P(collapse))",
    )
    g.add_argument(
        "--local-losses",
        dest="local_losses",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="DECOLLE-style: a fixed random readout and loss per hidden layer, no gradient between "
        "layers (needs --layers 2 or 3)",
    )
    g.add_argument("--sparsity-target", type=float, help="target firing rate f_target of the sparsity loss")
    g.add_argument("--sparsity-weight", type=float, help="weight of the sparsity loss (0 = off)")
    g.add_argument("--initial-rate", type=float, help="first train only the biases toward this rate f0")
    g.add_argument(
        "--rate-control",
        type=RateControl(),
        metavar="F0,LAMBDA,STEPS",
        help="add λ·|mean rate − f0| per layer to the objective for the first STEPS optimiser steps "
        "(the paper's rate control; f0 in (0, 1), λ >= 0, STEPS >= 1), e.g. 0.158,1,50",
    )
    g.add_argument("--device", choices=DEVICES, help=f"auto = CUDA when available (default {d.device})")
    g.add_argument("--time-limit", type=float, help=f"seconds before the run stops itself (default {d.time_limit:g})")
    g.add_argument(
        "--log-every", type=whole("log_every"), help=f"optimiser steps between metric records (default {d.log_every})"
    )
    return p


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The LIF options' config plus every training option the user gave (validated by TrainConfig)."""
    changes = {
        field: getattr(args, dest) for dest, field in TRAIN_OPTIONS.items() if getattr(args, dest, None) is not None
    }
    return run_preset("cli", lif=lif_config_from_args(args), **changes)


def size_flags(parser: argparse.ArgumentParser) -> None:
    """--smoke, --quick or --full (one of them; ``args.size``, None when none is given): the study sizes of
    `replicate` and `outcomes`."""
    sizes = parser.add_mutually_exclusive_group()
    for name in ("smoke", "quick", "full"):
        sizes.add_argument(f"--{name}", dest="size", action="store_const", const=name, help=f"the {name} size")
