"""Layout changes between the user's batch-major (batch, T, n) tensors and the fast path's time-major
(T, n, batch) buffers.

Layout: step t of a layer is the contiguous (n × batch) block [t]. The per-step product is then
Wᵀ (n × n) @ z_tᵀ (n × batch), about 20% faster on CPUs than z_t (batch × n) @ W, and the per-step
elementwise work runs on contiguous memory. Between layers the spikes are copied to feature-major
(n, T·batch) so that the next input projection and the readout are single GEMMs; that copy moves
whole 'batch' rows and is cheap."""

from __future__ import annotations

import torch


def _batch_to_time_major_copy(a: torch.Tensor) -> torch.Tensor:
    """(batch, T, n) -> contiguous (T, n, batch): one 2-D transpose of (batch, T·n)."""
    batch, steps, n = a.shape
    return a.reshape(batch, steps * n).t().contiguous().view(steps, n, batch)


def _time_to_batch_major_copy(a: torch.Tensor) -> torch.Tensor:
    """(T, n, batch) -> contiguous (batch, T, n)."""
    steps, n, batch = a.shape
    return a.reshape(steps * n, batch).t().contiguous().view(batch, steps, n)


class _BatchToTimeMajor(torch.autograd.Function):
    """Layout change (batch, T, n) -> (T, n, batch) whose backward is the inverse 2-D transpose."""

    @staticmethod
    def forward(ctx, a):
        return _batch_to_time_major_copy(a)

    @staticmethod
    def backward(ctx, grad):
        return _time_to_batch_major_copy(grad.contiguous())


def to_time_major(a: torch.Tensor) -> torch.Tensor:
    """(batch, T, n) -> contiguous (T, n, batch), differentiable."""
    return _BatchToTimeMajor.apply(a)


def _as_time_major(g: torch.Tensor, own: bool = False) -> torch.Tensor:
    """A gradient shaped (T, n, batch) (or (T, E, n, batch)) as a contiguous tensor (a fresh one when
    ``own``). Gradients of the user-facing views arrive as permutations of contiguous (batch, T, n)
    tensors: a 2-D transpose handles those."""
    if g.is_contiguous():
        return g.clone() if own else g
    user_layout = g.permute(2, 0, 1) if g.dim() == 3 else g
    if user_layout.is_contiguous():
        return _batch_to_time_major_copy(user_layout)
    return g.contiguous()
