"""The "Your network" page's science-free glue (no streamlit): a small snnTorch network built from the
numbers a user types, its seeded inputs, an uploaded NIR file read through the check package's file
checks, and the downloadable snippet that applies a chosen fix.

The numbers mean what they mean in snnTorch: ``beta`` is the leak α, ``threshold`` θ, the reset is
snnTorch's ``reset_mechanism`` and the surrogate is one of snnTorch's (stabviz.surrogates.LIBRARY_SURROGATES
gives its knob and default, as the sidebar's "From my library" panel does).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from typing import Any

from stabviz.config import show
from stabviz.surrogates import LIBRARY_SURROGATES, library_of

LIBRARY = "snntorch"
KINDS = ("Leaky", "RLeaky")
RESETS = ("subtract", "zero")
#: (low, high) of each typed number: small enough that one check takes about a second on a shared CPU
RANGES = {
    "n": (1, 1024),
    "n_in": (1, 1024),
    "beta": (0.0, 1.0),
    "threshold": (1e-3, 100.0),
    "knob": (1e-3, 1e4),
    "steps": (8, 500),
    "rate": (0.0, 1.0),
    "batch": (1, 64),
}
INTEGERS = ("n", "n_in", "steps", "batch")
#: an upload larger than this is refused before it is written anywhere (the check's own cap is 256 MB)
MAX_UPLOAD_MB = 32


def surrogate_names() -> list[str]:
    """snnTorch's surrogates stabviz translates (``snntorch.atan`` ...), the library default first."""
    names = [n for n in LIBRARY_SURROGATES if library_of(n) == LIBRARY]
    return sorted(names, key=lambda n: n != "snntorch.atan")


@dataclass(frozen=True)
class Numbers:
    """One spiking layer fed by a linear layer, as typed: the whole network the library path checks."""

    kind: str = "Leaky"
    n: int = 64
    n_in: int = 20
    beta: float = 0.9
    threshold: float = 1.0
    reset: str = "subtract"
    surrogate: str = "snntorch.atan"
    knob: float = 2.0
    steps: int = 50
    rate: float = 0.3
    batch: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        """One ValueError naming the number, its value and the allowed range."""
        if self.kind not in KINDS:
            raise ValueError(f"layer = {show(self.kind)} is not one of: {', '.join(KINDS)}")
        if self.reset not in RESETS:
            raise ValueError(f"reset = {show(self.reset)} is not one of: {', '.join(RESETS)}")
        if self.surrogate not in surrogate_names():
            raise ValueError(f"surrogate = {show(self.surrogate)} is not one of: {', '.join(surrogate_names())}")
        for name, (lo, hi) in RANGES.items():
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and lo <= value <= hi
            if ok and name in INTEGERS:
                ok = float(value).is_integer()
            if not ok:
                kind = "a whole number" if name in INTEGERS else "a number"
                raise ValueError(f"{name} = {show(value)} must be {kind} in [{lo:g}, {hi:g}]")

    def knob_name(self) -> str:
        return LIBRARY_SURROGATES[self.surrogate][0]


def build(numbers: Numbers):
    """(model, inputs): nn.Sequential(Linear(n_in, n), snn.Leaky/RLeaky(init_hidden=True, output=True)),
    seeded, and Bernoulli input spikes of shape (T, batch, n_in) at the typed rate."""
    import snntorch as snn
    import torch
    from snntorch import surrogate

    torch.manual_seed(numbers.seed)
    spike_grad = getattr(surrogate, numbers.surrogate.split(".", 1)[1])(numbers.knob)
    kw = dict(
        beta=numbers.beta,
        threshold=numbers.threshold,
        reset_mechanism=numbers.reset,
        spike_grad=spike_grad,
        init_hidden=True,
        output=True,
    )
    layer = snn.RLeaky(linear_features=numbers.n, **kw) if numbers.kind == "RLeaky" else snn.Leaky(**kw)
    model = torch.nn.Sequential(torch.nn.Linear(numbers.n_in, numbers.n), layer)
    g = torch.Generator().manual_seed(numbers.seed)
    inputs = (torch.rand(numbers.steps, numbers.batch, numbers.n_in, generator=g) < numbers.rate).float()
    return model, inputs


def check_upload(data: bytes, name: str) -> None:
    """Refuse an upload before anything reads it: not a .nir name, or above MAX_UPLOAD_MB."""
    if not str(name).lower().endswith(".nir"):
        raise ValueError(f"file {show(name)} must be a .nir file (NIR graphs are HDF5 files ending in .nir)")
    limit = MAX_UPLOAD_MB * 2**20
    if len(data) > limit:
        raise ValueError(f"file size {len(data)} bytes is above the limit {limit} bytes ({MAX_UPLOAD_MB} MB)")


def check_nir_bytes(data: bytes, name: str, **options: Any):
    """stabviz.check.check_nir on an uploaded file's bytes: written to a private temporary file, then read
    as data through the check package's file checks (HDF5 signature, no links, declared sizes); never run."""
    from stabviz.check import check_nir

    check_upload(data, name)
    fd, path = tempfile.mkstemp(suffix=".nir")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return check_nir(path, **options)
    finally:
        os.unlink(path)


def snippet(
    numbers: Numbers | None, suggestion: dict[str, Any], after: dict[str, Any] | None, scale: float | None = None
) -> str:
    """A Python file applying ``suggestion``: for the library path a runnable snnTorch network with the
    fixed numbers read back from the re-measured report ``after`` (and the weight ``scale``, if any); for a
    NIR file the change in the check's own words and the command that re-checks it."""
    head = [
        f"# stabviz suggestion: {suggestion['change']}",
        f"# why: {suggestion['why']}",
        f"# in your code: {suggestion['code']}",
    ]
    m = suggestion.get("measured") or {}
    if m.get("gain", {}).get("over_T") is not None:
        head.append(f"# measured with the change: {m['gain']['over_T']:+.2f} decades over T ({m['regime']})")
    if numbers is None or after is None:
        return "\n".join(head) + "\n"
    layer = after["layers"][0]
    fixed = {**asdict(numbers), "beta": layer["leak"], "threshold": layer["threshold"]}
    sg_key, knob = layer["surrogate"]["library_key"] or numbers.surrogate, layer["surrogate"]["knob"]
    name = sg_key.split(".", 1)[1]
    lines = head + [
        "import snntorch as snn",
        "import torch",
        "from snntorch import surrogate",
        "",
        f"spike_grad = surrogate.{name}({LIBRARY_SURROGATES[sg_key][0]}={knob:.6g})",
    ]
    args = (
        f"beta={fixed['beta']:.6g}, threshold={fixed['threshold']:.6g}, reset_mechanism={numbers.reset!r}, "
        "spike_grad=spike_grad, init_hidden=True, output=True"
    )
    if "reset_delay=True" in suggestion["code"]:
        args += ", reset_delay=True"
    cls = f"snn.RLeaky(linear_features={numbers.n}, " if numbers.kind == "RLeaky" else "snn.Leaky("
    lines += [
        f"torch.manual_seed({numbers.seed})",
        f"model = torch.nn.Sequential(torch.nn.Linear({numbers.n_in}, {numbers.n}), {cls}{args}))",
    ]
    if scale is not None and abs(scale - 1.0) > 1e-6:
        lines += [
            "with torch.no_grad():",
            f"    model[0].weight.mul_({scale:.6g})",
            f"    model[0].bias.mul_({scale:.6g})",
        ]
    return "\n".join(lines) + "\n"


def weight_scale(before, after) -> float | None:
    """The factor a suggestion multiplied the first Linear's weight by (None when it did not change it)."""
    import torch

    w0, w1 = before[0].weight.detach(), after[0].weight.detach()
    if torch.equal(w0, w1):
        return None
    return float((w1.norm() / w0.norm()).item())
