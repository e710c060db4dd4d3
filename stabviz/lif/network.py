"""Networks of LIF layers with a linear readout: one network, or E of one shape stepped together."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from stabviz.config import TRAIN_RANGES, LIFConfig, standard_law
from stabviz.lif.dynamics import Dynamics, EnsembleDynamics, shape_key
from stabviz.lif.fast import recurrent_lif_ensemble, recurrent_lif_time_major
from stabviz.lif.layout import to_time_major
from stabviz.lif.reference import reference_recurrent
from stabviz.lif.variants import Variant, recurrent_variant_time_major, reference_variant
from stabviz.weights import layer_config, layer_weights, sample_matrix

MAX_LAYERS = int(TRAIN_RANGES["layers"][1])


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The one device resolver (networks, training runs, ensembles): 'auto' (or None) -> CUDA when
    available, else CPU; 'cpu', 'cuda', 'cuda:N' or such a torch.device as given. ValueError naming the
    value for any other device, and for CUDA where this torch sees none."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        resolved = None
    if resolved is None or resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device = {device!r} is not one of: auto, cpu, cuda")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device = {str(device)!r} but CUDA is not available here; use 'auto' or 'cpu'")
    return resolved


class LIFNetwork(torch.nn.Module):
    """``n_layers`` recurrent LIF layers (docs/theory.md#1-the-model) and a linear readout of the last layer's
    spikes. Every layer uses ``cfg``'s dynamics and surrogate; layer k > 0 is initialised with
    :func:`stabviz.weights.layer_config` (n_in = n_rec, spike-input statistics m_x = ½, v_x = ¼).

    Parameters: ``w_in[k]`` (n_in_k × n_rec), ``w_rec[k]`` (n_rec × n_rec; its diagonal is masked to
    zero in every forward pass, so it never acts and never receives a gradient), ``bias[k]`` (n_rec,),
    ``w_out`` (n_rec × n_out, Glorot-uniform), ``b_out`` (n_out,), zero. Weights are drawn on the CPU
    from ``generator`` (default: seeded with cfg.seed), then moved to ``device``.
    """

    def __init__(
        self,
        cfg: LIFConfig,
        n_layers: int = 1,
        n_out: int = 10,
        generator: torch.Generator | None = None,
        device: str | torch.device | None = "cpu",
        dtype: torch.dtype = torch.float32,
        bf16_matmul: bool = False,
    ):
        super().__init__()
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or not 1 <= n_layers <= MAX_LAYERS:
            raise ValueError(f"n_layers = {n_layers!r} is outside the allowed range [1, {MAX_LAYERS}]")
        if isinstance(n_out, bool) or not isinstance(n_out, int) or n_out < 1:
            raise ValueError(f"n_out = {n_out!r} must be a whole number in [1, inf)")
        device = resolve_device(device)
        generator = torch.Generator().manual_seed(cfg.seed) if generator is None else generator
        self.cfg, self.dyn, self.bf16_matmul = cfg, Dynamics.of(cfg), bool(bf16_matmul)
        self.variant = Variant.of(cfg)  # which neuron model (stabviz.lif.variants)
        if bf16_matmul and self.variant.neuron != "lif":
            raise ValueError(f"bf16_matmul = True is for neuron = 'lif' only; got neuron = {cfg.neuron!r}")
        self.layer_cfgs = [layer_config(cfg, k) for k in range(n_layers)]
        self.w_in, self.w_rec, self.bias = (torch.nn.ParameterList() for _ in range(3))
        for lc in self.layer_cfgs:
            w_in, w_rec, b = layer_weights(lc, generator=generator, dtype=dtype, device=device)
            self.w_in.append(torch.nn.Parameter(w_in))
            self.w_rec.append(torch.nn.Parameter(w_rec))
            self.bias.append(torch.nn.Parameter(b))
        out_law = standard_law("glorot-uniform", cfg.n_rec, n_out)
        self.w_out = torch.nn.Parameter(sample_matrix(out_law, cfg.n_rec, n_out, generator, dtype=dtype, device=device))
        self.b_out = torch.nn.Parameter(torch.zeros(n_out, dtype=dtype, device=device))
        off_diagonal = 1.0 - torch.eye(cfg.n_rec, dtype=dtype, device=device)
        self.register_buffer("off_diagonal", off_diagonal, persistent=False)

    @property
    def n_layers(self) -> int:
        return len(self.w_rec)

    @property
    def n_in(self) -> int:
        return self.w_in[0].shape[0]

    @property
    def n_out(self) -> int:
        return self.w_out.shape[1]

    def recurrent_weight(self, layer: int) -> torch.Tensor:
        """W_rec of ``layer`` as the dynamics use it (zero diagonal), differentiable."""
        return self.w_rec[layer] * self.off_diagonal

    def forward(self, x: torch.Tensor, fast: bool = True, return_voltages: bool = False):
        """x (batch, T, n_in) -> (readout (batch, T, n_out), [spikes (batch, T, n_rec) per layer]),
        plus [voltages (batch, T, n_rec) per layer] when ``return_voltages``.

        ``fast=False`` runs :meth:`reference_forward` (plain autograd)."""
        self._check_input(x)
        if not fast:
            readout, spikes, steps = self.reference_forward(x)
            voltages = [torch.stack(ys, 1) for ys in steps]
            return (readout, spikes, voltages) if return_voltages else (readout, spikes)
        batch, steps, n_in = x.shape
        x = x.to(self.w_in[0].dtype)
        # layer 0: one GEMM on the batch-major input, then one 2-D transpose to time-major
        current = to_time_major(
            torch.addmm(self.bias[0], x.reshape(batch * steps, n_in), self.w_in[0]).view(batch, steps, -1)
        )
        spikes, voltages, features = [], [], None  # features: the previous layer's spikes, (n, T·batch)
        for k in range(self.n_layers):
            if k:
                # feature-major (n, T·batch) spikes make the next input projection one GEMM
                current = torch.addmm(self.bias[k][:, None], self.w_in[k].t(), features)
                current = current.view(-1, steps, batch).transpose(0, 1).contiguous()
            z, y = self._layer(current, self.recurrent_weight(k))
            spikes.append(z.permute(2, 0, 1))
            voltages.append(y.permute(2, 0, 1))
            features = z.transpose(0, 1).reshape(z.shape[1], steps * batch)
        out = torch.addmm(self.b_out[:, None], self.w_out.t(), features)
        readout = out.view(-1, steps, batch).permute(2, 1, 0)
        return (readout, spikes, voltages) if return_voltages else (readout, spikes)

    def _layer(self, current: torch.Tensor, w_rec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One fast layer on time-major tensors, by the network's neuron model."""
        if self.variant.neuron == "lif":
            return recurrent_lif_time_major(current, w_rec, self.dyn, self.bf16_matmul)
        return recurrent_variant_time_major(current, w_rec, (self.dyn, self.variant))

    def reference_forward(self, x: torch.Tensor):
        """The same network by plain autograd (the referee). Returns (readout, [spikes per layer],
        [the T voltage tensors (batch, n_rec) of each layer, nodes of the autograd graph])."""
        self._check_input(x)
        h = x.to(self.w_in[0].dtype)
        spikes, voltage_steps = [], []
        for k in range(self.n_layers):
            current = h @ self.w_in[k] + self.bias[k]
            if self.variant.neuron == "lif":
                z, _, ys = reference_recurrent(current, self.recurrent_weight(k), self.dyn)
            else:
                z, _, ys = reference_variant(current, self.recurrent_weight(k), (self.dyn, self.variant))
            spikes.append(z)
            voltage_steps.append(ys)
            h = z
        return h @ self.w_out + self.b_out, spikes, voltage_steps

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[2] != self.n_in:
            raise ValueError(f"x must have shape (batch, T, {self.n_in}); got {tuple(x.shape)}")


class LIFEnsemble(torch.nn.Module):
    """E :class:`LIFNetwork` members of one shape (:func:`shape_key`, same layers and readout size)
    stepped together. Each member keeps its own parameters (its own leaves: an optimiser treats it
    exactly as a separate network); a forward pass stacks them and runs every layer with
    :func:`recurrent_lif_ensemble`. x (E, batch, T, n_in) -> (readout (E, batch, T, n_out),
    [spikes (E, batch, T, n_rec) per layer]); member k's numbers are ``members[k](x[k])``'s."""

    def __init__(self, members: Sequence[LIFNetwork]):
        super().__init__()
        members = list(members)
        if not members:
            raise ValueError("an ensemble needs at least one member")
        if any(m.variant.neuron != "lif" for m in members):
            raise ValueError("an ensemble steps LIF members only; train alif and cuba networks one at a time")
        first = members[0]
        sizes = {
            (shape_key(m.cfg), m.n_layers, m.n_out, m.w_in[0].dtype, m.w_in[0].device, m.bf16_matmul) for m in members
        }
        if len(sizes) > 1:
            raise ValueError(
                "ensemble members must share n_in, n_rec, layers, n_out, reset, surrogate shape, "
                "dtype and device (split them with group_by_shape)"
            )
        self.members = torch.nn.ModuleList(members)
        self.dyn = EnsembleDynamics.of([m.dyn for m in members], first.w_in[0].dtype, first.w_in[0].device)
        self.bf16_matmul = first.bf16_matmul

    def stacked(self, name: str, layer: int | None = None) -> torch.Tensor:
        """Parameter ``name`` (of ``layer``) of every member, stacked (differentiable)."""
        return torch.stack([getattr(m, name) if layer is None else getattr(m, name)[layer] for m in self.members])

    def forward(self, x: torch.Tensor):
        first = self.members[0]
        if x.dim() != 4 or x.shape[0] != len(self.members) or x.shape[3] != first.n_in:
            raise ValueError(f"x must have shape ({len(self.members)}, batch, T, {first.n_in}); got {tuple(x.shape)}")
        members, batch, steps, n_in = x.shape
        x = x.to(first.w_in[0].dtype)
        current = torch.baddbmm(
            self.stacked("bias", 0)[:, None, :], x.reshape(members, batch * steps, n_in), self.stacked("w_in", 0)
        )
        current = current.view(members, batch, steps, -1).permute(2, 0, 3, 1).contiguous()  # (T, E, n, B)
        spikes, features = [], None  # features: the previous layer's spikes, (E, n, T·batch)
        for k in range(first.n_layers):
            if k:
                current = torch.baddbmm(
                    self.stacked("bias", k)[:, :, None], self.stacked("w_in", k).transpose(1, 2), features
                )
                current = current.view(members, -1, steps, batch).permute(2, 0, 1, 3).contiguous()
            w_rec = self.stacked("w_rec", k) * first.off_diagonal
            z, _ = recurrent_lif_ensemble(current, w_rec, self.dyn, self.bf16_matmul)
            spikes.append(z.permute(1, 3, 0, 2))
            features = z.permute(1, 2, 0, 3).reshape(members, z.shape[2], steps * batch)
        out = torch.baddbmm(self.stacked("b_out")[:, :, None], self.stacked("w_out").transpose(1, 2), features)
        return out.view(members, -1, steps, batch).permute(0, 3, 2, 1), spikes
