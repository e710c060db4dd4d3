"""Sampling the weight matrices of a LIF layer from the entry laws the theory uses.

One place turns a :class:`~stabviz.config.WeightLaw` into a torch matrix, so the network
(:mod:`stabviz.lif`), the Monte-Carlo check (:mod:`stabviz.simulate`) and the theory
(:mod:`stabviz.theory`) all talk about the same weights. Sampling always happens on the CPU with
the caller's generator, then moves to ``device``: the same seed gives the same weights on every device.
"""

from __future__ import annotations

import math

import torch

from stabviz import conditions, laws
from stabviz.config import LIFConfig, WeightLaw

#: Input statistics of a layer fed by another LIF layer at the firing rate p = ½ that conditions I/II
#: aim for (docs/theory.md#13-input-statistics-and-the-input-drive-d, "deeper layers"): m_x = ½, v_x = ¼.
DEEP_INPUT_MEAN = 0.5
DEEP_INPUT_VAR = 0.25


def sample_matrix(
    law: WeightLaw,
    rows: int,
    cols: int,
    generator: torch.Generator | None = None,
    zero_diagonal: bool = False,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """A (rows × cols) matrix whose entries follow ``law``.

    uniform: U(mean ± √3·std); normal: N(mean, std²); ``law.orthogonal``: a random orthogonal matrix
    (torch.nn.init.orthogonal_) scaled so each entry has variance std², plus the mean.
    ``zero_diagonal`` (square matrices only) zeroes the diagonal, as W_rec needs (docs/theory.md#1-the-model:
    each neuron has n − 1 recurrent inputs); the law then describes the off-diagonal entries.
    """
    rows, cols = _check_size("rows", rows), _check_size("cols", cols)
    if zero_diagonal and rows != cols:
        raise ValueError(f"zero_diagonal needs a square matrix, got rows = {rows}, cols = {cols}")
    if not (math.isfinite(law.mean) and math.isfinite(law.std) and law.std >= 0):
        raise ValueError(f"law = {law!r}: mean must be finite and std in [0, inf)")
    w = torch.empty(rows, cols, dtype=torch.float64)
    if law.orthogonal:
        torch.nn.init.orthogonal_(w, generator=generator)
        # orthonormal rows (or columns) of length max(rows, cols) have entry variance 1/max(rows, cols)
        w.mul_(law.std * math.sqrt(max(rows, cols))).add_(law.mean)
    elif law.kind == "uniform":
        w.uniform_(law.mean - law.half_width, law.mean + law.half_width, generator=generator)
    elif law.kind == "normal":
        w.normal_(law.mean, law.std, generator=generator)
    else:
        raise ValueError(f"law.kind = {law.kind!r} is not one of: uniform, normal")
    if zero_diagonal:
        w.fill_diagonal_(0.0)
    return w.to(dtype=dtype, device=device)


def layer_config(cfg: LIFConfig, layer: int) -> LIFConfig:
    """The LIFConfig describing layer ``layer`` (0-based) of a stack built from ``cfg``.

    Layer 0 is ``cfg`` itself. Deeper layers read the previous layer's spikes: n_in = n_rec and the
    input statistics of spikes at p = ½ (m_x = ½, v_x = ¼, docs/theory.md#13-input-statistics-and-the-input-drive-d), so
    conditions I/II
    and the standard initialisers use the fan-in each layer really has.
    """
    if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
        raise ValueError(f"layer = {layer!r} must be a whole number in [0, inf)")
    if layer == 0:
        return cfg
    return cfg.replace(n_in=cfg.n_rec, input_mean=DEEP_INPUT_MEAN, input_var=DEEP_INPUT_VAR)


def layer_weights(
    cfg: LIFConfig,
    n_in: int | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(W_in (n_in × n_rec), W_rec (n_rec × n_rec, zero diagonal), b (n_rec,)) for one layer.

    W_in follows ``laws.input_law``, W_rec ``conditions.recurrent_law`` (so ``init_rec="conditions"``
    gives conditions I/II, and raises ValueError where condition II is unattainable), b = cfg.bias.
    ``n_in`` overrides cfg.n_in (the laws are computed for that fan-in). Row-vector convention:
    I_t = x_t W_in + z_{t−1} W_rec + b (docs/theory.md#1-the-model). Without ``generator`` the draw is seeded
    by cfg.seed.
    """
    if n_in is not None and n_in != cfg.n_in:
        cfg = cfg.replace(n_in=n_in)
    if generator is None:
        generator = torch.Generator().manual_seed(cfg.seed)
    in_law, rec_law = laws.input_law(cfg), conditions.recurrent_law(cfg)
    w_in = sample_matrix(in_law, cfg.n_in, cfg.n_rec, generator, dtype=dtype, device=device)
    w_rec = sample_matrix(rec_law, cfg.n_rec, cfg.n_rec, generator, zero_diagonal=True, dtype=dtype, device=device)
    bias = torch.full((cfg.n_rec,), float(cfg.bias), dtype=dtype, device=device)
    return w_in, w_rec, bias


def _check_size(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} = {value!r} must be a whole number in [1, inf)")
    return value
