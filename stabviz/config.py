"""Validated parameter objects and presets: the one source of truth for names and ranges.

Every layer (theory, simulation, training, CLI, dashboard) takes a :class:`LIFConfig` (and, for
training, a :class:`TrainConfig`). A value outside its range raises ``ValueError`` naming the
parameter, the value and the allowed range; the CLI and the UI show that message verbatim.

The validation rule (one path, :func:`check_number`, :func:`check_choice`, :func:`check_flag`, used by
both dataclasses and by :mod:`stabviz.theory`'s grid functions):

* a number field takes a real number: ``int``, ``float`` or a numpy integer/floating scalar. ``bool``
  is refused (``True`` is not a neuron count); ``decimal.Decimal`` and ``fractions.Fraction`` are
  converted to ``float`` when the result is finite; ``str``, ``bytes`` and everything else (None,
  lists, arrays, complex) are refused: text is parsed by the CLI and the URL layer, never here;
* NaN and ±inf are refused, and the value must lie in its range (``RANGES`` / ``TRAIN_RANGES``). Huge
  ints are compared exactly, so they are refused by the range check, never by an OverflowError;
* an integer field (``n_rec``, ``steps``, ``batch``, ...) must be integral: 1.0 becomes 1, 1.5 is
  refused; a float field stores a plain ``float`` (an int 3 becomes 3.0);
* a choice field takes exactly one of its strings; a flag takes ``True`` or ``False`` (numpy bools too).

Every failure is a ``ValueError`` naming the parameter, the value (its repr cut to about 60 characters,
see :func:`show`) and what is allowed.
"""

from __future__ import annotations

import dataclasses
import decimal
import math
import numbers
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stabviz.shapes import SHAPE_TABLE

SHAPES = tuple(SHAPE_TABLE)  # one record per shape in stabviz/shapes.py: the names follow it
RESETS = ("subtract", "mult1", "mult2")
NEURONS = ("lif", "alif", "cuba")  # stabviz.lif.variants: the neuron model family
INITS = (
    "glorot-uniform",
    "glorot-normal",
    "he-normal",
    "orthogonal",
    "pytorch-default",
    "uniform",
    "normal",
    "conditions",
    "fluctuation",
)
#: fluctuation-driven input weights (Rossbroich, Gygax & Zenke 2022;
# docs/theory.md#96-fluctuation-driven-initialisation): drawn for a target
#: voltage mean μ_U (0, or θ for "-theta") and spread σ_U = θ given the input statistics and the PSP kernel
FLUCTUATION_INITS = ("fluctuation", "fluctuation-theta")
#: the input weights have no stability condition of their own; init_rec = "fluctuation" is the recurrent part of
#: the fluctuation-driven initialisation (the share ``rec_share`` of the voltage variance,
#: docs/theory.md#97-the-recurrent-part-of-the-fluctuation-driven-initialisation)
IN_INITS = INITS[:-2] + FLUCTUATION_INITS
VOLTAGE_MODELS = ("uniform", "gaussian", "measured")
FORMULAS = ("derived", "code")
TASKS = ("randman", "shd", "slmnist", "digits", "cues")
LOSSES = ("per-step", "time-mean", "last")
DEVICES = ("auto", "cpu", "cuda")

#: name -> (low, high, low_inclusive, high_inclusive). Widgets and CLI help read these too.
RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "n_rec": (2, 8192, True, True),
    "n_in": (1, 100_000, True, True),
    "leak": (0.0, 0.9999, True, True),
    "threshold": (1e-6, 100.0, True, True),
    "rec_std": (0.0, 100.0, True, True),
    "in_std": (0.0, 100.0, True, True),
    "rec_mean": (-100.0, 100.0, True, True),
    "in_mean": (-100.0, 100.0, True, True),
    "input_mean": (0.0, 1000.0, True, True),
    "input_var": (0.0, 1000.0, True, True),
    "bias": (-100.0, 100.0, True, True),
    "dampening": (0.0, 1000.0, False, True),
    "sharpness": (1e-3, 1000.0, True, True),
    "tail": (1.001, 1e4, True, True),
    "steps": (1, 100_000, True, True),
    "tolerance": (1e-6, 100.0, True, True),
    "seed": (0, 2**31 - 1, True, True),
    "adapt_decay": (0.0, 0.9999, True, True),  # ρ_a = exp(−1/τ_a), like the leak
    "adapt_strength": (0.0, 100.0, True, True),  # β_a ≥ 0: a spike raises the threshold
    "syn_decay": (0.0, 0.9999, True, True),  # α_s = exp(−1/τ_s)
    "rec_share": (0.0, 1.0, True, False),  # init_rec = "fluctuation": the recurrent share of σ_U²
}


#: the integer fields of LIFConfig and TrainConfig (1.0 -> 1; 1.5 is refused)
INTEGER_FIELDS = frozenset(
    {
        "n_rec",
        "n_in",
        "steps",
        "seed",
        "layers",
        "train_steps",
        "batch",
        "time_steps",
        "classes",
        "samples",
        "manifold_dim",
        "log_every",
    }
)
SHOW_CHARS = 60
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = SHOW_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxarray = 4
_REPR.maxlevel = 3


def show(value: Any) -> str:
    """``repr(value)`` cut to about 60 characters: a 400-digit int or a long string cannot flood a page."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 190:
        # repr of an int over 4300 digits raises ValueError; say how big it is instead
        return f"{'-' if value < 0 else ''}<integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    try:
        text = _REPR.repr(value)
    except Exception:  # a repr that fails (huge ints inside a list, broken __repr__)
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= SHOW_CHARS else text[: SHOW_CHARS - 1] + "…"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(exponent: float) -> str:
    """10 to a whole exponent in superscripts (10⁻³⁷): never caret text, which a reader sees as code."""
    return "10" + f"{round(exponent):d}".translate(_SUPERSCRIPT)


def check_number(
    name: str, value: Any, ranges: Mapping[str, tuple] = RANGES, integer: bool | None = None
) -> int | float:
    """``value`` converted by the module's rule (see the module docstring) and checked against
    ``ranges[name]``: an ``int`` for integer fields (``integer=None``: the names in INTEGER_FIELDS),
    a ``float`` otherwise. ValueError naming the parameter, the value and the allowed range."""
    lo, hi, lo_in, hi_in = ranges[name]
    allowed = _fmt(lo, hi, lo_in, hi_in)
    integer = name in INTEGER_FIELDS if integer is None else integer
    if isinstance(value, bool) or type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        raise ValueError(f"{name} = {show(value)} is a boolean, not a number; allowed range {allowed}")
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        raise ValueError(f"{name} = {show(value)} is text, not a number; allowed range {allowed}")
    if isinstance(value, numbers.Integral):
        x: int | float = int(value)  # exact: huge ints compare exactly below
    elif isinstance(value, (numbers.Real, decimal.Decimal)):
        try:
            x = float(value)
        except (ArithmeticError, ValueError, TypeError):  # Fraction(10**400): OverflowError; sNaN
            x = math.nan
    else:
        raise ValueError(f"{name} = {show(value)} is not a number ({type(value).__name__}); allowed range {allowed}")
    ok = (
        x == x
        and not (isinstance(x, float) and math.isinf(x))
        and (x >= lo if lo_in else x > lo)
        and (x <= hi if hi_in else x < hi)
    )
    if not ok:
        raise ValueError(f"{name} = {show(value)} is outside the allowed range {allowed}")
    if integer:
        if isinstance(x, float):
            if not x.is_integer():
                raise ValueError(f"{name} = {show(value)} must be a whole number in {allowed}")
            x = int(x)
        return x
    return float(x)


def check_values(
    name: str, values: Any, ranges: Mapping[str, tuple] = RANGES, max_count: int = 4000
) -> float | list[float]:
    """A real number, or a non-empty list, tuple or 1-D array of at most ``max_count`` of them, each
    checked by :func:`check_number` against ``ranges[name]``: a float, or a list of floats."""
    if hasattr(values, "tolist") and hasattr(values, "ndim"):  # numpy arrays and scalars
        if values.ndim > 1:
            raise ValueError(
                f"{name} values = {show(values)} must be one number or a flat list (got {values.ndim} dimensions)"
            )
        values = values.tolist()
    if not isinstance(values, (list, tuple, range)):
        return check_number(name, values, ranges, integer=False)
    if not 1 <= len(values) <= max_count:
        raise ValueError(f"{name} values: {len(values)} given; between 1 and {max_count} allowed")
    return [check_number(name, v, ranges, integer=False) for v in values]


def check_range(name: str, value: Any, ranges: Mapping[str, tuple] = RANGES) -> None:
    """Raise ValueError unless ``value`` is a finite real number inside ``ranges[name]`` (the rule of
    :func:`check_number`, without the integer check)."""
    check_number(name, value, ranges, integer=False)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` if it is exactly one of the strings ``choices``, else ValueError."""
    if not (isinstance(value, str) and value in choices):
        raise ValueError(f"{name} = {show(value)} is not one of: {', '.join(choices)}")
    return str(value)


def check_flag(name: str, value: Any) -> bool:
    """``value`` if it is True or False (a numpy bool too), else ValueError."""
    if isinstance(value, bool) or type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        return bool(value)
    raise ValueError(f"{name} = {show(value)} must be true or false")


def _fmt(lo, hi, lo_in, hi_in) -> str:
    def num(v):  # whole bounds in full (seed: 2147483647, not 2.14748e+09)
        return str(int(v)) if math.isfinite(v) and float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"

    return f"{'[' if lo_in else '('}{num(lo)}, {num(hi)}{']' if hi_in else ')'}"


def tau_to_leak(tau: Any, name: str = "tau") -> Any:
    """α = exp(−Δt/τ) with Δt = 1 (docs/theory.md#1-the-model): the one place a decay factor is computed
    from a time constant (the membrane's leak, and the same for τ_a and τ_s). ``tau`` in time steps, > 0,
    a number or a numpy array (elementwise, as numpy computes it: the sliders' grid of stops);
    ``name`` is the parameter a ValueError names."""
    if isinstance(tau, np.ndarray):
        if not np.all(tau > 0):
            raise ValueError(f"{name} = {show(float(np.min(tau)))} is outside the allowed range (0, inf)")
        return np.exp(-1.0 / tau)
    tau = check_number(name, tau, {name: (0.0, math.inf, False, False)}, integer=False)
    return math.exp(-1.0 / tau)


def leak_to_tau(leak: float) -> float:
    return math.inf if leak >= 1 else (0.0 if leak <= 0 else -1.0 / math.log(leak))


def _surrogate_value(name: str, value: Any) -> Any:
    """One numeric field of a :class:`Surrogate`: a number becomes a checked ``float``; a numpy array (or a
    list of numbers) a float array checked elementwise; a torch tensor is kept as it is (this layer never
    loads torch: the torch op checks tensors where it uses them)."""
    if type(value).__module__.partition(".")[0] == "torch":
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]  # a 0-d array is its number
    if isinstance(value, (list, tuple)) or hasattr(value, "ndim") and value.ndim > 0:
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} = {show(value)} is not a number or an array of numbers") from None
        lo, hi, lo_in, hi_in = RANGES[name]
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(arr) & (arr >= lo if lo_in else arr > lo) & (arr <= hi if hi_in else arr < hi)
        if not ok.all():
            check_range(name, float(arr[~ok].flat[0]))
        return arr
    return check_number(name, value, integer=False)


@dataclass(frozen=True)
class Surrogate:
    """The surrogate gradient σ' (docs/theory.md#2-the-surrogate-family): its shape, dampening γ (peak
    height σ'(0)), sharpness β (inverse width) and tail q (tail-fatness, read by qpseudospike only).

    The one place these defaults are written: :class:`LIFConfig` stores the same four fields (its
    ``surrogate`` property builds this record), and the curves, moments, torch op, library translations
    and snippets take it. Each number is checked against ``RANGES``; for the vectorised theory (region
    maps, root searches) a field may hold a numpy array, checked elementwise, or a torch tensor, checked
    by the torch op. A record with arrays neither hashes nor compares.
    """

    shape: str = "fastsigmoid"
    dampening: float = 1.0
    sharpness: float = 1.0
    tail: float = 1.56

    def __post_init__(self) -> None:
        check_choice("shape", self.shape, SHAPES)
        for name in ("dampening", "sharpness", "tail"):
            object.__setattr__(self, name, _surrogate_value(name, getattr(self, name)))

    def replace(self, **changes: Any) -> Surrogate:
        """A copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The four fields by name: the LIFConfig fields (and the setting keys) they are stored under."""
        return {f: getattr(self, f) for f in SURROGATE_FIELDS}

    @classmethod
    def of(cls, value: Surrogate | str) -> Surrogate:
        """``value`` itself, or the named shape at the default γ, β, q; ValueError for anything else."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls(value)
        raise ValueError(
            f"surrogate = {show(value)} must be a Surrogate record or a shape name (one of: {', '.join(SHAPES)})"
        )


#: the record at its defaults; LIFConfig's surrogate fields default to it
DEFAULT_SURROGATE = Surrogate()
SURROGATE_FIELDS = ("shape", "dampening", "sharpness", "tail")  # σ' (docs/theory.md#2-the-surrogate-family)


@dataclass(frozen=True)
class WeightLaw:
    """The distribution of the entries of one weight matrix: ``kind`` is 'uniform' (mean ± half_width)
    or 'normal' (mean, std). 'orthogonal' matrices are treated as normal with the same variance."""

    kind: str
    mean: float
    std: float
    orthogonal: bool = False

    @property
    def half_width(self) -> float:
        return math.sqrt(3.0) * self.std

    @property
    def second_moment(self) -> float:
        """E[w²] = std² + mean²."""
        return self.std**2 + self.mean**2


def standard_law(init: str, fan_in: int, fan_out: int, mean: float = 0.0, std: float = 0.0) -> WeightLaw:
    """The entry law of a standard initialiser for a (fan_in × fan_out) matrix used as ``x @ W``."""
    if init == "glorot-uniform":
        return WeightLaw("uniform", 0.0, math.sqrt(2.0 / (fan_in + fan_out)))
    if init == "glorot-normal":
        return WeightLaw("normal", 0.0, math.sqrt(2.0 / (fan_in + fan_out)))
    if init == "he-normal":
        return WeightLaw("normal", 0.0, math.sqrt(2.0 / fan_in))
    if init == "orthogonal":
        return WeightLaw("normal", 0.0, 1.0 / math.sqrt(max(fan_in, fan_out)), orthogonal=True)
    if init == "pytorch-default":
        # nn.Linear's own init (kaiming_uniform_ with a = √5): U(±1/√fan_in), so std = 1/√(3 fan_in)
        return WeightLaw("uniform", 0.0, 1.0 / math.sqrt(3.0 * fan_in))
    if init == "uniform":
        return WeightLaw("uniform", mean, std)
    if init == "normal":
        return WeightLaw("normal", mean, std)
    raise ValueError(f"init = {init!r} has no standard law (one of: {', '.join(IN_INITS)})")


@dataclass(frozen=True)
class LIFConfig:
    """One recurrent LIF layer, its initialisation, its input and its surrogate gradient.

    Units: time in steps (Δt = 1); ``leak`` is α = exp(−1/τ); voltages in threshold units of the
    user's choice. Defaults are the paper's sl-MNIST setting (preset ``paper-slmnist``).
    """

    n_rec: int = 128
    n_in: int = 784
    leak: float = tau_to_leak(0.1)  # the reference code's default
    threshold: float = 0.01
    reset: str = "subtract"
    reset_grad: bool = False
    init_rec: str = "glorot-uniform"
    rec_mean: float = 0.0  # only for init_rec in {uniform, normal}
    rec_std: float = 0.1
    init_in: str = "glorot-uniform"
    in_mean: float = 0.0  # only for init_in in {uniform, normal}
    in_std: float = 0.1
    input_mean: float = 0.003673  # m_x: mean input spike count per channel and step
    input_var: float = 0.003659  # v_x
    bias: float = 0.0
    # the surrogate, stored field by field (stored runs and links keep their keys): see ``surrogate``
    shape: str = DEFAULT_SURROGATE.shape
    dampening: float = DEFAULT_SURROGATE.dampening  # γ: peak height σ'(0)
    sharpness: float = DEFAULT_SURROGATE.sharpness  # β: inverse width
    tail: float = DEFAULT_SURROGATE.tail  # q: tail-fatness, qpseudospike only
    steps: int = 100  # T: time steps the gradient travels
    voltage_model: str = "gaussian"
    formula: str = "derived"
    tolerance: float = 1.0  # decades of gradient gain over T still called 'stable'
    seed: int = 0
    # The neuron model (stabviz.lif.variants; docs/theory.md#9-neuron-variants). A plain LIF ignores the
    # rest; they come last and to_dict leaves them out for it, so a LIF's record is the one it always was.
    neuron: str = "lif"
    adapt_decay: float = tau_to_leak(200.0)  # ρ_a (alif): τ_a = 200 steps, Bellec et al.'s LSNN
    adapt_strength: float = 1.8  # β_a (alif): θ_t = θ + β_a a_t, the LSNN's β
    adapt_grad: bool = True  # alif: the gradient flows through a_t
    syn_decay: float = tau_to_leak(5.0)  # α_s (cuba): τ_s = 5 steps
    # init_rec = "fluctuation": the recurrent share of the free voltage's variance σ_U² (Rossbroich, Gygax &
    # Zenke 2022 give the feed-forward inputs α = 0.9 of it, their reference code's default: 1 − α = 0.1)
    rec_share: float = 0.1

    def __post_init__(self) -> None:
        _validate(
            self,
            RANGES,
            {
                "reset": RESETS,
                "init_rec": INITS,
                "init_in": IN_INITS,
                "shape": SHAPES,
                "voltage_model": VOLTAGE_MODELS,
                "formula": FORMULAS,
                "neuron": NEURONS,
            },
            ("reset_grad", "adapt_grad"),
        )

    @property
    def tau(self) -> float:
        return leak_to_tau(self.leak)

    @property
    def surrogate(self) -> Surrogate:
        """The surrogate gradient of this layer as one record (its four fields, already validated)."""
        return Surrogate(self.shape, self.dampening, self.sharpness, self.tail)

    def replace(self, **changes: Any) -> LIFConfig:
        """A copy with ``changes`` applied (validated). ``tau=`` is accepted in place of ``leak=``, and
        ``surrogate=`` (a :class:`Surrogate`) in place of its four fields."""
        if "tau" in changes:
            changes["leak"] = tau_to_leak(changes.pop("tau"))
        if "surrogate" in changes:
            changes = {**Surrogate.of(changes.pop("surrogate")).to_dict(), **changes}
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_record(self) -> dict[str, Any]:
        """:meth:`to_dict` as a run's stored config: a plain LIF with the variant fields at their defaults
        leaves them out, so runs and evidence configs written before the variants keep their identity."""
        d = self.to_dict()
        if self.neuron == "lif" and all(d[f] == _VARIANT_DEFAULTS[f] for f in NEURON_FIELDS[1:]):
            for f in NEURON_FIELDS:
                del d[f]
        if self.rec_share == REC_SHARE_DEFAULT:  # added later: records from before it keep their identity
            del d["rec_share"]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LIFConfig:
        """Build from a mapping, ignoring unknown keys; ``tau`` is accepted in place of ``leak``."""
        if not isinstance(data, Mapping):
            raise ValueError(f"lif = {show(data)} must be a mapping of LIFConfig fields")
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in data.items() if k in names}
        if "tau" in data and "leak" not in data:
            kw["leak"] = tau_to_leak(data["tau"])
        return cls(**kw)


#: LIFConfig's fields grouped by what they change. Every cache of a computation keys on the groups
#: it reads (:func:`config_key`), so settings that differ only in the other groups share an entry:
#: a dampening-slider move reuses the voltage state and the region's axis terms.
GRADIENT_FIELDS = ("reset_grad", "adapt_grad")  # the backward pass only
MODEL_FIELDS = ("voltage_model",)  # which voltage model predicts
DISPLAY_FIELDS = ("steps", "tolerance")  # how a gain is read: T, the band
NEURON_FIELDS = ("neuron", "adapt_decay", "adapt_strength", "adapt_grad", "syn_decay")  # the model family
_VARIANT_DEFAULTS = {f.name: f.default for f in dataclasses.fields(LIFConfig) if f.name in NEURON_FIELDS}
REC_SHARE_DEFAULT = LIFConfig.rec_share
FIELDS = tuple(f.name for f in dataclasses.fields(LIFConfig))
#: The layer, its initialisation and its input: firing rates and voltages (the forward pass). ``formula``
#: belongs here because the conditions initialisation follows it.
FORWARD_FIELDS = tuple(f for f in FIELDS if f not in SURROGATE_FIELDS + GRADIENT_FIELDS + MODEL_FIELDS + DISPLAY_FIELDS)


def fields_except(*names: str) -> tuple[str, ...]:
    """Every LIFConfig field but ``names``, in declaration order."""
    return tuple(f for f in FIELDS if f not in names)


def config_key(cfg: LIFConfig, fields: tuple[str, ...] = FIELDS, digits: int | None = 10) -> tuple:
    """The cache key of ``cfg`` restricted to ``fields``: their values in order, floats rounded to
    ``digits`` significant digits (None: exact), so the same setting reached by two routes (a preset,
    a link) shares one entry."""
    if digits is None:
        return tuple(getattr(cfg, f) for f in fields)
    return tuple(_rounded(getattr(cfg, f), digits) for f in fields)


def _rounded(v: Any, digits: int) -> Any:
    return float(f"{v:.{digits}g}") if isinstance(v, float) else v


class Keyed:
    """A config that hashes and compares by its :func:`config_key` alone: the argument of a
    functools cache that should share one entry among settings differing only outside ``fields``."""

    __slots__ = ("cfg", "key")

    def __init__(self, cfg: LIFConfig, fields: tuple[str, ...] = FIELDS, digits: int | None = 10):
        self.cfg, self.key = cfg, config_key(cfg, fields, digits)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Keyed) and self.key == other.key


PRESETS: dict[str, dict[str, Any]] = {
    "paper-slmnist": dict(
        n_in=784,
        n_rec=128,
        leak=tau_to_leak(0.1),
        threshold=0.01,
        init_rec="glorot-uniform",
        init_in="glorot-uniform",
        reset="subtract",
        reset_grad=False,
        input_mean=0.003673,
        input_var=0.003659,
        shape="fastsigmoid",
        dampening=1.0,
        sharpness=1.0,
    ),
    "paper-shd": dict(
        n_in=700,
        n_rec=256,
        leak=tau_to_leak(0.1),
        threshold=0.01,
        init_rec="glorot-uniform",
        init_in="glorot-uniform",
        reset="subtract",
        reset_grad=False,
        input_mean=0.04388,
        input_var=0.04196,
        shape="fastsigmoid",
        dampening=1.0,
        sharpness=1.0,
    ),
}
PRESETS["shd-tau20"] = {**PRESETS["paper-shd"], "leak": tau_to_leak(20.0)}
# Library defaults, expressed in (γ, β, q) (docs/theory.md#2-the-surrogate-family), on the SHD network.
PRESETS["snntorch"] = {**PRESETS["shd-tau20"], "shape": "cauchy", "dampening": 1.0, "sharpness": 1.0}  # atan(alpha=2)
PRESETS["spikingjelly"] = {
    **PRESETS["shd-tau20"],
    "shape": "sigmoid",
    "dampening": 1.0,
    "sharpness": 1.0,
}  # Sigmoid(alpha=4)
PRESETS["norse"] = {
    **PRESETS["shd-tau20"],
    "shape": "fastsigmoid",
    "dampening": 1.0,
    "sharpness": 50.0,
}  # SuperSpike(alpha=100)

PRESET_NOTES = {
    "paper-slmnist": "The paper's sl-MNIST layer: 784 latency-coded inputs, 128 LIF, τ = 0.1, θ = 0.01.",
    "paper-shd": "The paper's SHD layer: 700 inputs, 256 LIF, τ = 0.1, θ = 0.01.",
    "shd-tau20": "paper-shd with a realistic leak, τ = 20 steps (α ≈ 0.951).",
    "snntorch": "snnTorch's default surrogate atan(alpha=2) = Cauchy γ = β = 1, on shd-tau20.",
    "spikingjelly": "SpikingJelly's default surrogate Sigmoid(alpha=4) = the sigmoid surrogate at γ = β = 1, "
    "on shd-tau20.",
    "norse": "Norse's default SuperSpike(alpha=100) = fast sigmoid γ = 1, β = 50, on shd-tau20.",
}


def preset(name: str, **overrides: Any) -> LIFConfig:
    """The named preset as a LIFConfig, with ``overrides`` applied."""
    check_choice("preset", name, tuple(PRESETS))
    return LIFConfig().replace(**{**PRESETS[name], **overrides})


# ---------------------------------------------------------------------------------------------
# Training runs

#: Limits that protect the machine; overridable by environment variables STABVIZ_MAX_<NAME>.
DEFAULT_LIMITS = {"neurons": 1024, "layers": 3, "train_steps": 5000, "batch": 512, "time_steps": 1000, "queued": 50}


def limits() -> dict[str, int]:
    import os

    out = {}
    for k, v in DEFAULT_LIMITS.items():
        raw = os.environ.get(f"STABVIZ_MAX_{k.upper()}")
        out[k] = int(raw) if raw and raw.isdigit() else v
    return out


TRAIN_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "layers": (1, 3, True, True),
    "train_steps": (1, 1_000_000, True, True),
    "batch": (1, 100_000, True, True),
    "time_steps": (1, 100_000, True, True),
    "lr": (0.0, 10.0, False, True),
    "weight_decay": (0.0, 10.0, True, True),
    "classes": (2, 1000, True, True),
    "samples": (2, 1_000_000, True, True),
    "manifold_dim": (1, 10, True, True),
    "sparsity_target": (0.0, 1.0, True, True),
    "sparsity_weight": (0.0, 1e6, True, True),
    "initial_rate": (0.0, 1.0, True, True),
    "time_limit": (0.0, 1e6, False, True),
    "log_every": (1, 1_000_000, True, True),
}


#: The parts of TrainConfig.rate_control (f0, λ, steps): the target rate strictly inside (0, 1), the weight
#: λ >= 0 and the number of first optimiser steps it acts on.
RATE_CONTROL_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "rate_control f0": (0.0, 1.0, False, False),
    "rate_control λ": (0.0, 1e6, True, True),
    "rate_control steps": (1, 1_000_000, True, True),
}


def check_rate_control(value: Any) -> tuple[float, float, int] | None:
    """``value`` as (f0, λ, steps), or None; ValueError naming the part, its value and its range. A stored
    run's JSON gives a list, which becomes the tuple again."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 3:
        raise ValueError(f"rate_control = {show(value)} must be three numbers (f0, λ, steps), e.g. (0.158, 1.0, 50)")
    f0, lam, steps = (
        check_number(name, v, RATE_CONTROL_RANGES, integer=name.endswith("steps"))
        for name, v in zip(RATE_CONTROL_RANGES, value)
    )
    return (f0, lam, steps)


@dataclass(frozen=True)
class TrainConfig:
    """One short training run on top of a LIFConfig (which sets every layer's dynamics and init).

    ``time_steps`` is the number of input time bins of the task; ``lif.steps`` is ignored for
    training. Conditions I, II for W_rec: set ``lif.init_rec = "conditions"``. ``use_recommended_setting``
    trains the outcome model's recommended whole setting instead of ``lif``'s (γ, β, q and the recurrent
    initialisation: stabviz.train.recommended_setting; stored runs' older name for it, ``use_recommended_sg``,
    is read by :meth:`from_dict`). ``initial_rate`` (f0), when set, first trains only the
    biases toward that rate.
    ``rate_control`` (f0, λ, steps), when set, adds the paper's firing-rate control term λ·Σ_layers |mean rate − f0|
    to the objective for the first ``steps`` optimiser steps.
    """

    lif: LIFConfig = field(default_factory=LIFConfig)
    layers: int = 1
    task: str = "randman"
    data_path: str = ""  # for shd / slmnist: a local file the user already has
    classes: int = 5
    samples: int = 1000  # randman: samples generated; shd/slmnist: most samples loaded
    manifold_dim: int = 1
    time_steps: int = 50
    train_steps: int = 200
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    loss: str = "per-step"
    use_recommended_setting: bool = False  # train the outcome model's recommended whole setting instead
    local_losses: bool = False  # DECOLLE-style: a fixed random readout and loss per hidden layer
    sparsity_target: float = 0.0
    sparsity_weight: float = 0.0  # 0 switches the sparsity loss off
    initial_rate: float | None = None
    rate_control: tuple[float, float, int] | None = None  # (f0, λ, steps): λ·|mean rate − f0| for a first phase
    device: str = "auto"
    time_limit: float = 600.0  # seconds of wall time before the run stops itself
    log_every: int = 10

    def __post_init__(self) -> None:
        if isinstance(self.lif, Mapping):
            object.__setattr__(self, "lif", LIFConfig.from_dict(self.lif))
        elif not isinstance(self.lif, LIFConfig):
            raise ValueError(f"lif = {show(self.lif)} must be a LIFConfig or a mapping of its fields")
        if not isinstance(self.data_path, str):
            raise ValueError(f"data_path = {show(self.data_path)} must be a file path (text)")
        _validate(
            self,
            TRAIN_RANGES,
            {"task": TASKS, "loss": LOSSES, "device": DEVICES},
            ("use_recommended_setting", "local_losses"),
            optional=("initial_rate",),
        )
        object.__setattr__(self, "rate_control", check_rate_control(self.rate_control))
        if self.local_losses and self.layers < 2:
            raise ValueError(f"local_losses = True needs hidden layers: layers = {self.layers} must be in [2, 3]")
        if self.task in ("shd", "slmnist") and not self.data_path:
            raise ValueError(f"task = {self.task!r} needs data_path: a local file (nothing is downloaded)")

    def check_limits(self, lim: Mapping[str, int] | None = None) -> None:
        """Raise ValueError when the run is larger than the machine's configured limits."""
        lim = limits() if lim is None else lim
        asked = {
            "neurons": self.lif.n_rec,
            "layers": self.layers,
            "train_steps": self.train_steps,
            "batch": self.batch,
            "time_steps": self.time_steps,
        }
        for k, v in asked.items():
            if v > lim[k]:
                raise ValueError(
                    f"{k} = {v} is above this machine's limit {lim[k]} (raise it with STABVIZ_MAX_{k.upper()})"
                )

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = {**dataclasses.asdict(self), "lif": self.lif.to_record()}
        for name in ("local_losses", "rate_control"):  # left out when off: stored runs keep their identity
            if not d[name]:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """The config of a record (``to_dict``), a stored run's included: fields of older names are read
        under their new ones (:func:`train_record`); unknown keys are left out."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in train_record(data).items() if k in names}
        if "lif" in kw and isinstance(kw["lif"], Mapping):
            kw["lif"] = LIFConfig.from_dict(kw["lif"])
        return cls(**kw)


def _validate(
    obj: Any,
    ranges: Mapping[str, tuple],
    choices: Mapping[str, tuple[str, ...]],
    flags: tuple[str, ...],
    optional: tuple[str, ...] = (),
) -> None:
    """The one validation pass of a frozen config: every number converted and range-checked (names in
    ``optional`` may be None), every choice and flag checked; the converted values are stored back."""
    for name in ranges:
        value = getattr(obj, name)
        if not (name in optional and value is None):
            object.__setattr__(obj, name, check_number(name, value, ranges))
    for name, allowed in choices.items():
        object.__setattr__(obj, name, check_choice(name, getattr(obj, name), allowed))
    for name in flags:
        object.__setattr__(obj, name, check_flag(name, getattr(obj, name)))


#: TrainConfig fields renamed since runs were first stored: old key -> new field.
RENAMED_TRAIN_FIELDS = {"use_recommended_sg": "use_recommended_setting"}


def train_record(data: Mapping[str, Any]) -> dict[str, Any]:
    """A TrainConfig record with renamed fields under their current names (a stored run's config from an
    older stabviz reads as today's; where both names are present, the current one wins)."""
    out = dict(data)
    for old, new in RENAMED_TRAIN_FIELDS.items():
        if old in out:
            value = out.pop(old)
            out.setdefault(new, value)
    return out


#: Named run presets: what "a default run" means where each kind of run starts, as the TrainConfig fields
#: that differ from its own defaults (one place; every entry point builds its run with :func:`run_preset`).
#: ``cli``: `train`, `submit` and `sweep` without options (TrainConfig's defaults). ``quick``: the
#: confirmation run Explore launches (docs/confirmation.md says why this size suffices; built by
#: stabviz.runs.confirm.quick_config at the setting's T). ``form``: the Runs page's launch form, the quick
#: run with a sparsity target ready (its weight stays 0: off until the user sets it). ``sweep``: each run
#: of the Sweep page's grid.
RUN_PRESETS: dict[str, dict[str, Any]] = {
    "cli": {},
    "quick": dict(task="randman", samples=400, train_steps=40, batch=16, log_every=2, time_limit=300.0),
    "sweep": dict(task="randman", train_steps=60, batch=32, log_every=5),
}
RUN_PRESETS["form"] = {**RUN_PRESETS["quick"], "sparsity_target": 0.05}


def run_preset(name: str, **changes: Any) -> TrainConfig:
    """The named run preset (:data:`RUN_PRESETS`) as a TrainConfig, with ``changes`` applied (``lif``
    among them). ValueError naming the preset when it is unknown."""
    check_choice("run preset", name, tuple(RUN_PRESETS))
    return TrainConfig(**{**RUN_PRESETS[name], **changes})
