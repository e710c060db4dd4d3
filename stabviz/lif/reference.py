"""The LIF layer by plain autograd, one step at a time: the referee for the fast path's gradients and
the path the gradient-flow probe uses."""

from __future__ import annotations

import torch

from stabviz import neuron
from stabviz.config import LIFConfig
from stabviz.lif.dynamics import Dynamics


def lif_step(
    current: torch.Tensor, z_prev: torch.Tensor, y_prev: torch.Tensor, w_rec: torch.Tensor, dyn: Dynamics
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of L1/L2/L3. ``current`` = x_t W_in + b (batch, n); returns (z_t, y_t)."""
    total = current + z_prev @ w_rec
    reset = z_prev if dyn.reset_grad else z_prev.detach()
    y = neuron.integrate(y_prev, reset, total, dyn.leak, dyn.threshold, dyn.reset)
    return dyn.spike(y), y


def reference_recurrent(
    current: torch.Tensor,
    w_rec: torch.Tensor,
    dyn: LIFConfig | Dynamics,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """The layer by plain autograd. ``current`` (batch, T, n) = x W_in + b.

    Returns (spikes (batch, T, n), voltages (batch, T, n), the T voltage tensors (batch, n) that are
    nodes of the autograd graph: ask for their gradients to see ∂L/∂y_t)."""
    dyn = Dynamics.of(dyn)
    _check_layer_inputs(current, w_rec)
    z = current.new_zeros(current.shape[0], current.shape[2])
    y = torch.zeros_like(z)
    zs, ys = [], []
    for c in current.unbind(1):
        z, y = lif_step(c, z, y, w_rec, dyn)
        zs.append(z)
        ys.append(y)
    return torch.stack(zs, 1), torch.stack(ys, 1), ys


def _check_layer_inputs(current: torch.Tensor, w_rec: torch.Tensor) -> None:
    if current.dim() != 3:
        raise ValueError(f"current must have shape (batch, T, n); got {tuple(current.shape)}")
    n = current.shape[2]
    if w_rec.shape != (n, n):
        raise ValueError(f"w_rec must have shape ({n}, {n}) to match current; got {tuple(w_rec.shape)}")
