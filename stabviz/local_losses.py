"""DECOLLE-style training: a local readout and loss per layer (after Kaiser, Mostafa and Neftci 2020).

Each hidden layer k gets a fixed random readout R_k (n_rec × classes, never trained) and its own loss on
R_k's readout of its spikes; the gradient stops between layers (each layer's input spikes are detached),
so a hidden layer learns only from its own loss and the last layer only from the network's (trained)
readout. The forward values are the network's own: :func:`forward` changes what the gradient reaches,
not what the network computes, so evaluation and the probes run the plain forward.
"""

from __future__ import annotations

import torch

from stabviz.lif.layout import to_time_major
from stabviz.lif.network import LIFNetwork


def random_readouts(net: LIFNetwork, seed: int) -> list[torch.Tensor]:
    """One fixed readout per hidden layer (all but the last): N(0, 1/n_rec) entries, no gradient."""
    gen = torch.Generator().manual_seed(seed)
    like = net.w_out
    return [
        (torch.randn(w.shape[0], net.n_out, generator=gen, dtype=torch.float64) / w.shape[0] ** 0.5).to(
            dtype=like.dtype, device=like.device
        )
        for w in net.w_rec[:-1]
    ]


def forward(
    net: LIFNetwork, x: torch.Tensor, readouts: list[torch.Tensor]
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """x (batch, T, n_in) -> (the network's readout, [spikes per layer], [local readout per hidden layer]),
    every readout (batch, T, classes), with the gradient stopped between layers."""
    if len(readouts) != net.n_layers - 1:
        raise ValueError(f"readouts: {len(readouts)} given for {net.n_layers - 1} hidden layers")
    h = x.to(net.w_in[0].dtype)
    spikes, local = [], []
    for k in range(net.n_layers):
        current = to_time_major(h @ net.w_in[k] + net.bias[k])  # (T, n, batch)
        z, _ = net._layer(current, net.recurrent_weight(k))
        s = z.permute(2, 0, 1)  # (batch, T, n)
        spikes.append(s)
        if k < net.n_layers - 1:
            local.append(s @ readouts[k])
        h = s.detach()  # DECOLLE: no gradient from layer k + 1's loss into layer k
    return spikes[-1] @ net.w_out + net.b_out, spikes, local
