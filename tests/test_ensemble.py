"""Ensembles: E LIF networks stepped together (stabviz.lif) and trained in lockstep (stabviz.train),
equal to E separate layers and runs; the CUDA-graph step's eager fallback; `train --seeds` and
`bench ensemble`."""
import json

import pytest
import torch

from stabviz import lif, train
from stabviz.config import LIFConfig, TrainConfig
from stabviz.lif import (CapturedStep, EnsembleDynamics, LIFEnsemble, LIFNetwork, group_by_shape,
                         recurrent_lif_ensemble, recurrent_lif_time_major)

RESETS = ["subtract", "mult1", "mult2"]


def member_cfgs(reset: str, reset_grad: bool, shape: str = "fastsigmoid", members: int = 3) -> list[LIFConfig]:
    """Members that differ in every per-member knob (α, θ, γ, β, q) and fire often enough that each
    reset path is exercised."""
    return [LIFConfig(n_in=5, n_rec=6, leak=0.7 + 0.05 * k, threshold=0.25 + 0.05 * k, reset=reset,
                      reset_grad=reset_grad, shape=shape, dampening=0.8 + 0.1 * k, sharpness=1.1 + 0.3 * k,
                      tail=2.0 + 0.5 * k, init_rec="normal", rec_std=0.5, seed=k) for k in range(members)]


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("reset_grad", [False, True])
@pytest.mark.parametrize("shape", ["fastsigmoid", "qpseudospike"])
def test_ensemble_layer_gradients_equal_separate_fast_layers(reset, reset_grad, shape):
    cfgs = member_cfgs(reset, reset_grad, shape)
    gen = torch.Generator().manual_seed(1)
    steps, n, batch = 12, 6, 4
    current = (0.3 + 0.4 * torch.randn(steps, len(cfgs), n, batch, generator=gen, dtype=torch.float64))
    w_rec = 0.5 * torch.randn(len(cfgs), n, n, generator=gen, dtype=torch.float64)
    probe_z = torch.randn(current.shape, generator=gen, dtype=torch.float64)
    probe_y = torch.randn(current.shape, generator=gen, dtype=torch.float64)

    c_e, w_e = current.clone().requires_grad_(), w_rec.clone().requires_grad_()
    z, y = recurrent_lif_ensemble(c_e, w_e, EnsembleDynamics.of(cfgs, torch.float64))
    ((z * probe_z).sum() + (y * probe_y).sum()).backward()
    spiking = float(z.detach().mean())
    assert 0.1 < spiking < 0.9
    for k, cfg in enumerate(cfgs):
        c_k, w_k = current[:, k].clone().requires_grad_(), w_rec[k].clone().requires_grad_()
        z_k, y_k = recurrent_lif_time_major(c_k, w_k, cfg)
        ((z_k * probe_z[:, k]).sum() + (y_k * probe_y[:, k]).sum()).backward()
        assert torch.equal(z[:, k], z_k)
        torch.testing.assert_close(y[:, k], y_k, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(c_e.grad[:, k], c_k.grad, rtol=1e-6, atol=1e-12)
        torch.testing.assert_close(w_e.grad[k], w_k.grad, rtol=1e-6, atol=1e-12)
