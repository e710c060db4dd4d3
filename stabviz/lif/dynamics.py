"""The fixed (untrained) part of a layer, alone or stacked for an ensemble, and which layers may
step together."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from stabviz import surrogates
from stabviz.config import LIFConfig, Surrogate


@dataclass(frozen=True)
class Dynamics:
    """The fixed (untrained) part of a layer: leak α, threshold θ, reset mode, and the surrogate."""

    leak: float
    threshold: float
    reset: str
    reset_grad: bool
    shape: str
    dampening: float
    sharpness: float
    tail: float

    @classmethod
    def of(cls, cfg: LIFConfig | Dynamics) -> Dynamics:
        if isinstance(cfg, Dynamics):
            return cfg
        return cls(
            float(cfg.leak),
            float(cfg.threshold),
            cfg.reset,
            bool(cfg.reset_grad),
            cfg.shape,
            float(cfg.dampening),
            float(cfg.sharpness),
            float(cfg.tail),
        )

    @functools.cached_property
    def surrogate(self) -> Surrogate:
        """The surrogate as one record, built once per Dynamics (it is read every time step)."""
        return Surrogate(self.shape, self.dampening, self.sharpness, self.tail)

    def spike(self, y: torch.Tensor) -> torch.Tensor:
        """z = H(y − θ) forward, σ'(y − θ) backward (autograd)."""
        return surrogates.spike(y - self.threshold, self.surrogate)

    def sg_prime(self, y: torch.Tensor) -> torch.Tensor:
        """σ'(y − θ), elementwise."""
        return surrogates.sg_prime_torch(y - self.threshold, self.surrogate)


@dataclass(frozen=True, eq=False)
class EnsembleDynamics:
    """The fixed part of E layers stepped together: each member's leak α, threshold θ and surrogate
    γ, β, q as (E, 1, 1) tensors (they broadcast over a member's (n, batch) block of the time-major
    (T, E, n, batch) buffers); the reset mode and the surrogate's shape are shared."""

    leak: torch.Tensor
    threshold: torch.Tensor
    reset: str
    reset_grad: bool
    shape: str
    dampening: torch.Tensor
    sharpness: torch.Tensor
    tail: torch.Tensor

    @classmethod
    def of(
        cls,
        members: Sequence[LIFConfig | Dynamics],
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> EnsembleDynamics:
        dyns = [Dynamics.of(m) for m in members]
        if not dyns:
            raise ValueError("an ensemble needs at least one member")
        shared = {(d.reset, d.reset_grad, d.shape) for d in dyns}
        if len(shared) > 1:
            raise ValueError(
                f"ensemble members must share the reset mode, reset grad and surrogate shape; "
                f"got {sorted(shared)} (split them with group_by_shape)"
            )
        column = lambda name: torch.tensor(
            [getattr(d, name) for d in dyns],
            dtype=dtype,  # noqa: E731
            device=device,
        ).view(-1, 1, 1)
        first = dyns[0]
        return cls(
            column("leak"),
            column("threshold"),
            first.reset,
            first.reset_grad,
            first.shape,
            column("dampening"),
            column("sharpness"),
            column("tail"),
        )

    @property
    def members(self) -> int:
        return self.leak.shape[0]

    def sg_prime(self, y: torch.Tensor) -> torch.Tensor:
        """σ'(y − θ) of every member at once, y (..., E, n, batch). The parameters were validated as
        LIFConfig fields, so the shape's formula runs directly: no host synchronisation (which a
        CUDA graph capture would refuse)."""
        unit = surrogates.SHAPE_TABLE[self.shape].torch_prime((y - self.threshold).abs_(), self.sharpness, self.tail)
        return unit.mul_(self.dampening)


def shape_key(cfg: LIFConfig) -> tuple:
    """What ensemble members must share: the layer sizes, the reset mode (and its gradient switch)
    and the surrogate's shape. α, θ, γ, β, q and the weights may differ. Only LIF layers step as an
    ensemble: an alif or cuba layer's key is unique (it equals no other), so it trains alone."""
    key = (cfg.n_in, cfg.n_rec, cfg.reset, bool(cfg.reset_grad), cfg.shape)
    return key if cfg.neuron == "lif" else key + (object(),)


def group_by_shape(configs: Sequence[LIFConfig], key=shape_key) -> list[list[int]]:
    """Indices of ``configs`` split into groups that can step together (equal ``key``), each group
    in input order, the groups in order of their first member."""
    groups: dict[tuple, list[int]] = {}
    for i, cfg in enumerate(configs):
        groups.setdefault(key(cfg), []).append(i)
    return list(groups.values())
