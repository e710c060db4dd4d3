"""Copyable code for the recommended initialisation (pure: no streamlit).

The PyTorch snippet is self-contained (it does not need stabviz installed). Every snippet is rendered from
one :class:`stabviz.ui.advice.Setting`: the weights from its laws (the initialisation that was judged:
conditions I and II or a standard one), the surrogate's backward pass with its γ, β and q.
The σ' expressions are the shape records' ``snippet`` texts (the table of docs/theory.md#21-shapes-sg).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from stabviz.shapes import SHAPE_TABLE

#: σ'(v) for each shape as a torch expression in v, gamma, beta, q, copied from the shape records for
#: callers of the former table (pytorch_init reads the records).
TORCH_SG = {name: shape.snippet for name, shape in SHAPE_TABLE.items()}

#: How each initialisation is known in PyTorch (a comment beside the law the snippet draws from).
INIT_NAMES = {
    "glorot-uniform": "torch.nn.init.xavier_uniform_",
    "glorot-normal": "torch.nn.init.xavier_normal_",
    "he-normal": "torch.nn.init.kaiming_normal_ (fan_in, ReLU gain)",
    "orthogonal": "torch.nn.init.orthogonal_",
    "pytorch-default": "nn.Linear's own default, kaiming_uniform_(a=sqrt(5))",
    "uniform": "uniform, as set",
    "normal": "normal, as set",
    "conditions": "conditions I and II",
    "fluctuation": "fluctuation-driven, voltage mean 0 and spread θ",
    "fluctuation-theta": "fluctuation-driven, voltage mean θ and spread θ",
}


def _num(x: float) -> str:
    return f"{x:.6g}"


def _exact(x: float) -> str:
    """Python text that reads back as exactly ``x`` (the setting's own float, not a rounded one)."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def matrix_lines(name: str, law: Any, rows: str, cols: str, init: str) -> list[str]:
    """Python drawing the matrix ``name`` (rows × cols, names of ints) from the weight law ``law``
    (config.WeightLaw: the law stabviz.weights samples), with the initialisation's name as a comment."""
    mean, std = float(law.mean), float(law.std)
    head = f"# {name}: {init} ({INIT_NAMES[init]})"
    if law.orthogonal:
        # orthonormal rows of length max(rows, cols) have entry variance 1/max(rows, cols): scale to std
        return [
            head,
            f"{name} = torch.nn.init.orthogonal_(torch.empty({rows}, {cols})) * ({_exact(std)} * "
            f"math.sqrt(max({rows}, {cols}))) + {_exact(mean)}",
        ]
    if law.kind == "uniform":
        half = law.half_width
        return [
            head + f": U({_num(mean - half)}, {_num(mean + half)})",
            f"{name} = torch.empty({rows}, {cols}).uniform_({_exact(mean - half)}, {_exact(mean + half)})",
        ]
    return [
        head + f": N({_num(mean)}, {_num(std)}^2)",
        f"mu, sigma = {_exact(mean)}, {_exact(std)}",
        f"{name} = mu + sigma * torch.randn({rows}, {cols})",
    ]


def verdict_comment(setting: Any) -> str:
    """The theory's verdict on the whole setting, as the snippet's first comment."""
    lo, hi = setting.band
    if setting.is_fix:
        said = "stable: the whole calibrated band is"
    elif setting.regime == "uncertain":
        said = "uncertain: the theory can't tell here, measure it (stabviz simulate); the band is"
    elif setting.cant_tell:
        said = (
            f"{setting.regime} in theory, but the voltage model is off here: measure it (stabviz simulate); the band is"
        )
    else:
        said = f"{setting.regime}: the band is"
    return (
        f"# stabviz's verdict on this whole setting ({setting.label}): {said} "
        f"{_num(lo)} to {_num(hi)} decades of gradient gain over T = {setting.cfg.steps} steps"
    )


def pytorch_init(setting: Any) -> str:
    """A PyTorch snippet: the weights and the surrogate spike function of one whole setting.

    ``setting`` is an :class:`stabviz.ui.advice.Setting`: the weights are drawn from its laws (its
    initialisation, conditions I and II or another), γ, β and q are its surrogate's. Nothing is re-derived,
    so the snippet builds the network the setting's verdict is about.
    """
    cfg = setting.cfg
    lines = [
        verdict_comment(setting),
        "import math",
        "import torch",
        "",
        f"n_in, n_rec = {cfg.n_in}, {cfg.n_rec}",
        *matrix_lines("w_in", setting.in_law, "n_in", "n_rec", cfg.init_in),
        "# (used as x @ w_in: nn.Linear layers take w_in.T)",
        *matrix_lines("w_rec", setting.rec_law, "n_rec", "n_rec", cfg.init_rec),
        "w_rec.fill_diagonal_(0.0)               # each neuron has n_rec - 1 recurrent inputs",
        "",
        f"# surrogate: {cfg.shape}, {setting.label}"
        + (" (condition IV: rho^2 = 1 in theory)" if setting.solved else ""),
        f"gamma, beta, q = {_exact(cfg.dampening)}, {_exact(cfg.sharpness)}, {_exact(cfg.tail)}",
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
_CALL_PREFIX = {
    "snntorch": "snntorch.surrogate.",
    "spikingjelly": "spikingjelly.activation_based.surrogate.",
    "pytorch": "",
}


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
    return "\n".join(
        f"{library_call(t.name, t.knob, t.value)}  # " + ("exact" if t.exact else f"approximate: {t.note}")
        for t in rows
    )


# ---------------------------------------------------------------------------------------------
# The whole recurrent layer in each library, with the weights and the surrogate of the snippet above

#: library -> what its snippet builds (the dashboard's tab names)
LIBRARIES = {"pytorch": "PyTorch", "snntorch": "snnTorch", "spikingjelly": "SpikingJelly", "norse": "Norse"}

#: How a library model's native surrogate is constructed, by translation-table name.
_NATIVE = {
    "snntorch.fast_sigmoid": "surrogate.fast_sigmoid(slope={v})",
    "snntorch.atan": "surrogate.atan(alpha={v})",
    "snntorch.sigmoid": "surrogate.sigmoid(slope={v})",
    "spikingjelly.ATan": "surrogate.ATan(alpha={v})",
    "spikingjelly.Sigmoid": "surrogate.Sigmoid(alpha={v})",
    "spikingjelly.QPseudoSpike": "surrogate.QPseudoSpike(alpha={v})",
}

#: The input and recurrent projections of the libraries whose neuron has none (SpikingJelly, Norse), and the
#: recommended weights loaded into them.
_LINEARS = ["fc = torch.nn.Linear(n_in, n_rec)", "rec = torch.nn.Linear(n_rec, n_rec, bias=False)"]
_LOAD_LINEARS = [
    "with torch.no_grad():",
    "    fc.weight.copy_(w_in.T)              # nn.Linear keeps weight as (out, in)",
    "    fc.bias.fill_(bias)",
    "    rec.weight.copy_(w_rec.T)",
]

_RUN_DOC = [
    '    """x: input spikes (T, batch, n_in); extra: an optional current added at every step (T, batch, n_rec),',
    "    e.g. zeros with requires_grad to read the gradient reaching each step. Returns spikes and voltages",
    '    (T, batch, n_rec)."""',
]


def native_surrogate(library: str, cfg: Any, translations: Iterable[Any]) -> str | None:
    """The library's own surrogate call when it reproduces (shape, γ, β, q) exactly, else None (the
    model then uses the snippet's SurrogateSpike: the library's knob would drop γ or change the shape)."""
    for t in translations:
        if t.exact and t.name.startswith(library + ".") and t.name in _NATIVE:
            return _NATIVE[t.name].format(v=_exact(t.value))
    return None


def _surrogate_lines(library: str, call: str | None, name: str) -> list[str]:
    if call:
        return [f"{name} = {call}  # the library's own surrogate: exactly (shape, gamma, beta, q)"]
    return [
        f"{name} = spike  # SurrogateSpike above: {LIBRARIES[library]}'s own surrogates have no height knob for gamma"
        " (or not this shape)"
    ]


def _pytorch_model(cfg: Any) -> list[str]:
    """The layer as a plain loop; for alif and cuba the variant's own step (stabviz.lif.variants)."""
    crossed = "theta_prev" if cfg.neuron == "alif" else "threshold"
    update = {
        "subtract": f"y = alpha * y + i - {crossed} * z_reset",
        "mult1": "y = (alpha * y + i) * (1 - z_reset)",
        "mult2": "y = alpha * y * (1 - z_reset) + i",
    }[cfg.reset]
    state = {"cuba": ["    i_syn = torch.zeros_like(y)"], "alif": ["    a = torch.zeros_like(y)"]}.get(cfg.neuron, [])
    current = {
        "cuba": [
            "        i_syn = alpha_s * i_syn + i  # cuba: the synaptic current filters the input",
            "        i = i_syn",
        ],
        "alif": ["        theta_prev = threshold + beta_a * a  # alif: the threshold the last spike crossed"],
    }.get(cfg.neuron, [])
    if cfg.neuron == "alif":
        fire = [
            "        a = rho_a * a + (1 - rho_a) * z"
            + ("" if cfg.adapt_grad else "\n        a = a.detach()  # no gradient through a"),
            "        z = spike(y - (threshold + beta_a * a))  # the adaptive threshold",
        ]
    else:
        fire = ["        z = spike(y - threshold)"]
    return [
        "def run(x, extra=None):",
        *_RUN_DOC,
        "    y = torch.zeros(x.shape[1], n_rec, dtype=x.dtype)",
        "    z = torch.zeros_like(y)",
        *state,
        "    zs, ys = [], []",
        "    for t in range(x.shape[0]):",
        "        i = x[t] @ w_in + bias + z @ w_rec" + " + (0 if extra is None else extra[t])",
        *current,
        "        z_reset = z" + ("" if cfg.reset_grad else ".detach()  # the reset carries no gradient"),
        f"        {update}",
        *fire,
        "        zs.append(z); ys.append(y)",
        "    return torch.stack(zs), torch.stack(ys)",
    ]


def _snntorch_model(cfg: Any, call: str | None, feed_forward: bool = False) -> list[str]:
    if cfg.reset == "mult2" or cfg.reset_grad:
        note = [
            "# snnTorch resets by subtraction (L1) or to zero (L2), always detached: "
            f"reset = {cfg.reset}, reset_grad = {cfg.reset_grad} cannot be expressed; using the nearest"
        ]
    else:
        note = []
    mechanism = "zero" if cfg.reset == "mult1" else "subtract"
    if feed_forward:
        return _snntorch_feed_forward(cfg, call, note, mechanism)
    if cfg.neuron == "cuba":
        neuron = [
            "lif = snn.RSynaptic(alpha=alpha_s, beta=alpha, threshold=threshold, spike_grad=spike_grad,",
            f'                   linear_features=n_rec, reset_mechanism="{mechanism}")',
            "# syn = alpha*syn + fc(x) + recurrent(spk);  mem = beta*mem + syn - reset",
        ]
        start, step = "    spk, syn, mem = lif.init_rsynaptic()", "        spk, syn, mem = lif(i, spk, syn, mem)"
    else:
        neuron = [
            "lif = snn.RLeaky(beta=alpha, threshold=threshold, spike_grad=spike_grad, linear_features=n_rec,",
            f'                reset_mechanism="{mechanism}")  # mem = beta*mem + fc(x) + recurrent(spk) - reset',
        ]
        start, step = "    spk, mem = lif.reset_mem()", "        spk, mem = lif(i, spk, mem)"
    return [
        "import snntorch as snn",
        "from snntorch import surrogate",
        "",
        *note,
        *_surrogate_lines("snntorch", call, "spike_grad"),
        "fc = torch.nn.Linear(n_in, n_rec)",
        *neuron,
        "with torch.no_grad():",
        "    fc.weight.copy_(w_in.T)              # nn.Linear keeps weight as (out, in): the transpose of x @ w_in",
        "    fc.bias.fill_(bias)",
        "    lif.recurrent.weight.copy_(w_rec.T)",
        "    lif.recurrent.bias.zero_()           # nn.Linear's own bias would add a constant current",
        "",
        "def run(x, extra=None):",
        *_RUN_DOC,
        start,
        "    zs, ys = [], []",
        "    for t in range(x.shape[0]):",
        "        i = fc(x[t]) + (0 if extra is None else extra[t])",
        step,
        "        zs.append(spk); ys.append(mem)",
        "    return torch.stack(zs), torch.stack(ys)",
    ]


def _snntorch_feed_forward(cfg: Any, call: str | None, note: list[str], mechanism: str) -> list[str]:
    """snnTorch's feed-forward cell (Synaptic for cuba, Leaky for the LIF) with the recurrent weights in an
    nn.Linear of their own: the same layer as RSynaptic / RLeaky, for networks built from the plain cells."""
    if cfg.neuron == "cuba":
        neuron = [
            "lif = snn.Synaptic(alpha=alpha_s, beta=alpha, threshold=threshold, spike_grad=spike_grad,",
            f'                  reset_mechanism="{mechanism}")',
            "# syn = alpha*syn + input;  mem = beta*mem + syn - reset",
        ]
        start, step = "    syn, mem = lif.reset_mem()", "        spk, syn, mem = lif(i, syn, mem)"
    else:
        neuron = [
            "lif = snn.Leaky(beta=alpha, threshold=threshold, spike_grad=spike_grad,",
            f'              reset_mechanism="{mechanism}")',
        ]
        start, step = "    mem = lif.reset_mem()", "        spk, mem = lif(i, mem)"
    return [
        "import snntorch as snn",
        "from snntorch import surrogate",
        "",
        *note,
        *_surrogate_lines("snntorch", call, "spike_grad"),
        *_LINEARS,
        *neuron,
        *_LOAD_LINEARS,
        "",
        "def run(x, extra=None):",
        *_RUN_DOC,
        start,
        "    spk = torch.zeros(x.shape[1], n_rec, dtype=x.dtype)",
        "    zs, ys = [], []",
        "    for t in range(x.shape[0]):",
        "        i = fc(x[t]) + rec(spk) + (0 if extra is None else extra[t])",
        step,
        "        zs.append(spk); ys.append(mem)",
        "    return torch.stack(zs), torch.stack(ys)",
    ]


def _spikingjelly_model(cfg: Any, call: str | None) -> list[str]:
    # LIFNode charges v = v - v/tau + x (decay_input=False), fires, then resets in the same step:
    # v_reset = 0 gives (L3) exactly; a soft reset (v_reset=None) subtracts alpha*threshold instead of (L1)'s threshold
    note = (
        []
        if cfg.reset == "mult2"
        else [
            f"# SpikingJelly resets within the step: reset = {cfg.reset} is not expressible exactly; "
            "the hard reset to 0 below is (L3) (mult2)"
        ]
    )
    return [
        "from spikingjelly.activation_based import functional, neuron, surrogate",
        "",
        *note,
        *_surrogate_lines("spikingjelly", call, "surrogate_function"),
        *_LINEARS,
        "lif = neuron.LIFNode(tau=1 / (1 - alpha), decay_input=False, v_threshold=threshold, v_reset=0.0,",
        f"                     surrogate_function=surrogate_function, detach_reset={not cfg.reset_grad})"
        "  # alpha = 1 - 1/tau",
        *_LOAD_LINEARS,
        "",
        "def run(x, extra=None):",
        *_RUN_DOC,
        "    functional.reset_net(lif)",
        "    z = torch.zeros(x.shape[1], n_rec, dtype=x.dtype)",
        "    zs, ys = [], []",
        "    for t in range(x.shape[0]):",
        "        z = lif(fc(x[t]) + rec(z) + (0 if extra is None else extra[t]))",
        "        zs.append(z); ys.append(lif.v)",
        "    return torch.stack(zs), torch.stack(ys)",
    ]


#: A Norse cell's layer: the projections with the recommended weights, and the loop over time (the cells
#: scale their input by dt·tau_mem_inv = 1 − alpha, so the current is divided by it)
_NORSE_LAYER = [
    *_LINEARS,
    *_LOAD_LINEARS,
    "",
    "def run(x, extra=None):",
    *_RUN_DOC,
    "    z, state = torch.zeros(x.shape[1], n_rec, dtype=x.dtype), None",
    "    zs, ys = [], []",
    "    for t in range(x.shape[0]):",
    "        i = fc(x[t]) + rec(z) + (0 if extra is None else extra[t])",
    "        z, state = cell(i / (1 - alpha), state)  # the cell scales its input by dt*tau_mem_inv = 1 - alpha",
    "        zs.append(z); ys.append(state.v)",
    "    return torch.stack(zs), torch.stack(ys)",
]


def _norse_threshold_lines(module: str) -> list[str]:
    """Norse's threshold function (in norse.torch.functional.``module``) replaced by SurrogateSpike: its
    surrogates have no height knob (γ) and few shapes, and 1.1.0's SuperSpike backward drops its alpha."""
    return [
        'method, norse_alpha = "super", 2 * beta',
        "# Norse's threshold function is replaced by SurrogateSpike above, so the cell differentiates with",
        "# exactly (shape, gamma, beta, q): its surrogates have no height knob (gamma) and few shapes",
        f"import norse.torch.functional.{module} as norse_{module}",
        f"norse_{module}.threshold = lambda v, method, norse_alpha: spike(v)",
    ]


def _norse_cuba_model(cfg: Any) -> list[str]:
    # LIFCell (Norse 1.1's lif_feed_forward_step): i = i + input; v = v + dt*tau_mem_inv*(i - v); z = H(v - v_th);
    # v = (1 - z) v + z v_reset; i = (1 - dt*tau_syn_inv) i. With dt = 1, tau_mem_inv = 1 - alpha, tau_syn_inv =
    # 1 - alpha_s and the input scaled by 1 / (1 - alpha) this is cuba with (L3), its reset not detached.
    exact = cfg.reset == "mult2" and cfg.reset_grad
    note = (
        []
        if exact
        else [
            f"# Norse's LIFCell resets to 0 within the step, the reset not detached: that is (L3) with reset grad; "
            f"reset = {cfg.reset}, reset_grad = {cfg.reset_grad} is not expressible, this is the nearest"
        ]
    )
    method = _norse_threshold_lines("lif")
    return [
        "import norse.torch as norse",
        "",
        *note,
        *method,
        "params = norse.LIFParameters(tau_syn_inv=torch.tensor(1 - alpha_s), tau_mem_inv=torch.tensor(1 - alpha),",
        "                             v_leak=torch.tensor(0.0), v_th=torch.tensor(threshold),",
        "                             v_reset=torch.tensor(0.0), method=method, alpha=torch.tensor(norse_alpha))",
        "cell = norse.LIFCell(params, dt=1.0)  # alpha_s = 1 - dt*tau_syn_inv, alpha = 1 - dt*tau_mem_inv",
        *_NORSE_LAYER,
    ]


def _norse_model(cfg: Any) -> list[str]:
    # LIFBoxCell: v = v + dt*tau_mem_inv*(i - v), then z = H(v - v_th) and the reset, in the same step.
    # With dt = 1, tau_mem_inv = 1 - alpha and i = I / (1 - alpha) this is (L3) (reset to 0), or (L1) when the
    # reset subtracts threshold/alpha (it is then multiplied by alpha at the next step).
    if cfg.reset == "mult2":
        reset = "(1 - z{d}) * v".format(d="" if cfg.reset_grad else ".detach()")
    else:
        reset = "v - z{d} * threshold / alpha".format(d="" if cfg.reset_grad else ".detach()")
    note = (
        []
        if cfg.reset != "mult1"
        else ["# Norse resets within the step: reset = mult1 (L2) is not expressible; this is (L3) (mult2)"]
    )
    method = _norse_threshold_lines("lif_box")
    return [
        "import norse.torch as norse",
        "",
        *note,
        *method,
        "params = norse.LIFBoxParameters(tau_mem_inv=torch.tensor(1 - alpha), v_leak=torch.tensor(0.0),",
        "                                v_th=torch.tensor(threshold), v_reset=torch.tensor(0.0), method=method,",
        "                                alpha=torch.tensor(norse_alpha),",
        f"                                reset_method=lambda z, v, v_reset, v_th: {reset})",
        "cell = norse.LIFBoxCell(params, dt=1.0)",
        *_NORSE_LAYER,
    ]


#: the neuron models each library's snippet builds as such; the others get the LIF layer, said in its first lines
EXPRESSES = {
    "pytorch": ("lif", "alif", "cuba"),
    "snntorch": ("lif", "cuba"),
    "spikingjelly": ("lif",),
    "norse": ("lif", "cuba"),
}


def expresses(library: str, neuron: str) -> bool:
    """Whether ``library``'s snippet builds ``neuron`` itself (else the LIF layer, with a note saying so)."""
    return neuron in EXPRESSES[library]


def variant_note(library: str, neuron: str) -> str | None:
    """Why ``library``'s snippet is the LIF's for ``neuron`` (None when it builds the neuron itself)."""
    if expresses(library, neuron):
        return None
    from stabviz.surrogates.translate import NO_LIBRARY_VARIANT

    return (
        f"neuron = {neuron}: {NO_LIBRARY_VARIANT[(library, neuron)]}; this snippet is the plain LIF layer "
        f"(the PyTorch snippet builds the {neuron})"
    )


def _variant_lines(library: str, cfg: Any) -> list[str]:
    """The variant's parameters, or the note that this library's layer is the LIF's."""
    note = variant_note(library, cfg.neuron)
    if note:
        return [f"# NOTE {note}"]
    if cfg.neuron == "cuba":
        from stabviz.surrogates.translate import variant_to_library

        t = variant_to_library(library, cfg)
        return [f"alpha_s = {_exact(cfg.syn_decay)}  # cuba: synaptic decay exp(-1/tau_s); {t.neuron}: {t.note}"]
    if cfg.neuron == "alif":
        return [
            f"rho_a, beta_a = {_exact(cfg.adapt_decay)}, {_exact(cfg.adapt_strength)}"
            "  # alif: trace decay exp(-1/tau_a), threshold step per unit trace"
        ]
    return []


def library_model(library: str, setting: Any, feed_forward: bool = False) -> str:
    """The snippet of :func:`pytorch_init` followed by the whole recurrent layer built in ``library``
    (one of LIBRARIES) with those weights (nn.Linear takes the transpose), a zero recurrent bias, the
    setting's leak, threshold and reset, and a surrogate that keeps γ; ``run(x)`` steps it over time.
    ``setting``: an :class:`stabviz.ui.advice.Setting`, the one record every part is read from.
    ``feed_forward``: for snnTorch, its feed-forward cell (Synaptic, Leaky) with the recurrent weights in an
    nn.Linear of its own instead of RSynaptic / RLeaky (the same layer)."""
    from stabviz import surrogates

    if library not in LIBRARIES:
        raise ValueError(f"library = {library!r} is not one of: {', '.join(LIBRARIES)}")
    cfg = setting.cfg
    table = surrogates.translation_table(cfg.surrogate)
    lines = [
        pytorch_init(setting),
        "",
        f"# the layer: leak alpha = exp(-1/tau), threshold, bias, reset {cfg.reset} "
        f"(docs/theory.md#11-the-layer-equations-l1-to-l3)",
        f"alpha, threshold, bias = {_exact(cfg.leak)}, {_exact(cfg.threshold)}, {_exact(cfg.bias)}",
        *_variant_lines(library, cfg),
        "",
    ]
    if library == "pytorch":
        body = _pytorch_model(cfg)
    elif library == "snntorch":
        body = _snntorch_model(cfg, native_surrogate("snntorch", cfg, table), feed_forward)
    elif library == "spikingjelly":
        body = _spikingjelly_model(cfg, native_surrogate("spikingjelly", cfg, table))
    else:
        body = _norse_cuba_model(cfg) if cfg.neuron == "cuba" else _norse_model(cfg)
    return "\n".join(lines + body) + "\n"


def setting_calls(setting: Any) -> str:
    """The setting's surrogate as other libraries' calls (:func:`library_calls` of its translation table)."""
    from stabviz import surrogates

    return library_calls(surrogates.translation_table(setting.cfg.surrogate))


def notebook(code: str, title: str, input_mean: float, steps: int) -> str:
    """A Jupyter notebook (nbformat 4, as JSON text) of a :func:`library_model` snippet: a title, the
    snippet, and a cell that runs the layer on Bernoulli input spikes and prints its firing rate."""

    def cell(kind: str, text: str) -> dict[str, Any]:
        lines = text.splitlines(keepends=True)
        out: dict[str, Any] = {"cell_type": kind, "metadata": {}, "source": lines}
        if kind == "code":
            out.update(execution_count=None, outputs=[])
        return out

    demo = (
        f"x = torch.bernoulli(torch.full(({steps}, 8, n_in), {_exact(input_mean)}))  # input spikes (T, batch, n_in)\n"
        "z, y = run(x)\n"
        "print(f'initial firing rate: {z.mean().item():.3f} spikes per neuron and step')\n"
    )
    doc = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            cell(
                "markdown",
                f"# {title}\n\nFrom stabviz: weights from conditions I and II, the "
                "surrogate with its height γ, the layer's leak, threshold and reset.",
            ),
            cell("code", code),
            cell("code", demo),
        ],
    }
    for i, c in enumerate(doc["cells"]):
        c["id"] = f"stabviz-{i}"
    return json.dumps(doc, indent=1, ensure_ascii=False)
