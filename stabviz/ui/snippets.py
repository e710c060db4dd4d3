"""Copyable code for the recommended initialisation (pure: no streamlit).

The PyTorch snippet is self-contained (it does not need stabviz installed): recurrent weights from
conditions I and II, the surrogate's backward pass with γ (condition III) and β or q (condition IV).
The σ' expressions are the shape records' ``snippet`` texts (the table of docs/theory.md#21-shapes-sg).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from stabviz.shapes import SHAPE_TABLE

#: σ'(v) for each shape as a torch expression in v, gamma, beta, q, copied from the shape records for
#: callers of the former table (pytorch_init reads the records).
TORCH_SG = {name: shape.snippet for name, shape in SHAPE_TABLE.items()}

_INPUT_INIT = {
    "glorot-uniform": "torch.nn.init.xavier_uniform_(w_in)",
    "glorot-normal": "torch.nn.init.xavier_normal_(w_in)",
    "he-normal": "torch.nn.init.kaiming_normal_(w_in.T, nonlinearity='linear')  # fan_in = n_in",
    "orthogonal": "torch.nn.init.orthogonal_(w_in)",
    # nn.Linear's own default: U(±1/√fan_in)
    "pytorch-default": "torch.nn.init.kaiming_uniform_(w_in.T, a=math.sqrt(5))  # fan_in = n_in",
}


def _num(x: float) -> str:
    return f"{x:.6g}"


def _input_init(cfg: Any) -> str:
    if cfg.init_in in _INPUT_INIT:
        return _INPUT_INIT[cfg.init_in]
    if cfg.init_in == "uniform":
        half = 3 ** 0.5 * cfg.in_std
        return f"torch.nn.init.uniform_(w_in, {_num(cfg.in_mean - half)}, {_num(cfg.in_mean + half)})"
    return f"torch.nn.init.normal_(w_in, {_num(cfg.in_mean)}, {_num(cfg.in_std)})"


def pytorch_init(cfg: Any, rec: Mapping[str, Any], option: Mapping[str, Any] | None = None) -> str:
    """A PyTorch snippet: weights (conditions I, II) and the surrogate spike function at one whole setting.

    ``rec`` is ``theory.recommend(cfg).to_dict()``; ``option`` one of its ``options`` (a setting with
    ρ² = 1), or None for the surrogate as currently set. γ, β and q always come from the same setting.
    """
    mean, var = rec.get("recurrent_mean"), rec.get("recurrent_var")
    chosen = option or {"label": "as set", "dampening": cfg.dampening, "sharpness": cfg.sharpness,
                        "tail": cfg.tail}
    gamma, beta, q = chosen["dampening"], chosen["sharpness"], chosen["tail"]
    lines = [
        "import math",
        "import torch",
        "",
        f"n_in, n_rec = {cfg.n_in}, {cfg.n_rec}",
        "w_in = torch.empty(n_in, n_rec)          # used as x @ w_in",
        _input_init(cfg),
    ]
    if mean is not None and var is not None:
        lines += ["# conditions I and II: recurrent weights N(mu, sigma^2), zero diagonal",
                  f"mu, sigma2 = {_num(mean)}, {_num(var)}",
                  "w_rec = mu + math.sqrt(sigma2) * torch.randn(n_rec, n_rec)"]
    else:
        lines += ["# condition II is unattainable here: keeping a Glorot-uniform recurrent matrix",
                  "w_rec = torch.nn.init.xavier_uniform_(torch.empty(n_rec, n_rec))"]
    lines += ["w_rec.fill_diagonal_(0.0)", ""]
    lines += [
        f"# surrogate: {cfg.shape}, {chosen['label']}"
        + (" (condition IV: rho^2 = 1 in theory)" if option else " (the current setting)"),
        f"gamma, beta, q = {_num(gamma)}, {_num(beta)}, {_num(q)}",
        "",
        "class SurrogateSpike(torch.autograd.Function):",
        "    @staticmethod",
        "    def forward(ctx, v):                 # v = y - threshold",
        "        ctx.save_for_backward(v)",
        "        return (v > 0).to(v.dtype)       # Heaviside forward",
        "",
        "    @staticmethod",
        "    def backward(ctx, grad):",
        "        (v,) = ctx.saved_tensors",
        f"        return grad * {SHAPE_TABLE[cfg.shape].snippet}",
        "",
        "spike = SurrogateSpike.apply",
    ]
    return "\n".join(lines)


#: How a translation_table name becomes a call in the library's own namespace.
_CALL_PREFIX = {"snntorch": "snntorch.surrogate.", "spikingjelly": "spikingjelly.activation_based.surrogate.",
                "pytorch": ""}


def library_call(name: str, knob: str, value: Any) -> str:
    """Python for one library surrogate: ``snntorch.fast_sigmoid``, slope, 2 ->
    ``snntorch.surrogate.fast_sigmoid(slope=2)``; Norse picks its surrogate through LIFParameters."""
    lib, _, fn = name.partition(".")
    shown = "None" if value is None else _num(float(value))
    if lib == "norse":
        return f'norse.torch.LIFParameters(method="{fn}", {knob}={shown})'
    return f"{_CALL_PREFIX.get(lib, lib + '.')}{fn}({knob}={shown})"


def same_shape(translations: Iterable[Any]) -> list[Any]:
    """The rows of ``surrogates.translation_table`` that offer the same shape (exact or not)."""
    return [t for t in translations if not (t.note or "").startswith("different shape")]


def library_calls(translations: Iterable[Any]) -> str:
    """The same surrogate in other libraries, one call per line with its caveat, from
    ``surrogates.translation_table`` rows (attributes name, knob, value, exact, note)."""
    rows = same_shape(translations)
    if not rows:
        return "# no library offers this shape: use the SurrogateSpike snippet above"
    return "\n".join(f"{library_call(t.name, t.knob, t.value)}  # "
                     + ("exact" if t.exact else f"approximate: {t.note}") for t in rows)
