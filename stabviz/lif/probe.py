"""Gradient flow: ‖∂L/∂y_t‖ per layer and step, and the one-step gain fitted to it."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from stabviz.lif.network import LIFNetwork


def probe_gradient_flow(net: LIFNetwork, x: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """‖∂L/∂y_t‖ (Frobenius over batch and neurons) for every layer and step, shape (n_layers, T).

    L is the cross-entropy of the LAST step's readout against ``target`` (batch,), so row k shows how
    the error sent back from step T − 1 grows or shrinks on its way to earlier steps
    (docs/theory.md#14-the-backward-pass-the-one-step-jacobian-m: δ_{t−1} = M_tᵀ δ_t). Uses the reference path;
    parameter ``.grad`` fields are untouched.
    """
    target = torch.as_tensor(target, device=x.device)
    if target.dim() != 1 or target.shape[0] != x.shape[0]:
        raise ValueError(f"target must have shape ({x.shape[0]},); got {tuple(target.shape)}")
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= net.n_out):
        raise ValueError(f"target classes must lie in [0, {net.n_out - 1}]")
    with torch.enable_grad():
        readout, _, steps = net.reference_forward(x)
        loss = F.cross_entropy(readout[:, -1], target.long())
        flat = [y for layer in steps for y in layer]
        grads = torch.autograd.grad(loss, flat, allow_unused=True)
    norms = [0.0 if g is None else float(torch.linalg.vector_norm(g)) for g in grads]
    return np.asarray(norms, dtype=float).reshape(net.n_layers, x.shape[1])


def fit_gradient_gain(norms: Sequence[float] | np.ndarray) -> float | np.ndarray:
    """ρ̂ = exp(slope of log‖∂L/∂y_t‖ against the distance T − t from the loss step): the measured
    one-step gradient gain (docs/theory.md#55-the-measured-counterparts-and-the-training-verdict; ρ̂ < 1 vanishing, > 1
    exploding).

    ``norms`` has shape (T,) -> float, or (n_layers, T) -> one ρ̂ per row. Non-positive and non-finite
    entries are ignored; nan when fewer than 2 usable points remain.
    """
    a = np.asarray(norms, dtype=float)
    if a.ndim == 2:
        return np.array([fit_gradient_gain(row) for row in a])
    if a.ndim != 1:
        raise ValueError(f"norms must have shape (T,) or (n_layers, T); got {a.shape}")
    distance = len(a) - np.arange(len(a), dtype=float)
    usable = np.isfinite(a) & (a > 0)
    if usable.sum() < 2:
        return math.nan
    slope = np.polyfit(distance[usable], np.log(a[usable]), 1)[0]
    return float(np.exp(slope))
