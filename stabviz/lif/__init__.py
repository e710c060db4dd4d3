"""A recurrent LIF network (1 to 3 layers + linear readout) with fast back-propagation through time.

The dynamics are exactly docs/theory.md#1-the-model, in the row-vector convention:

    I_t = x_t W_in + z_{t−1} W_rec + b                       (W_rec has a zero diagonal)
    (L1) subtract:  y_t = α y_{t−1} + I_t − θ·sg(z_{t−1})
    (L2) mult1:     y_t = (α y_{t−1} + I_t)·(1 − sg(z_{t−1}))
    (L3) mult2:     y_t = α y_{t−1}·(1 − sg(z_{t−1})) + I_t
    z_t = H(y_t − θ)   (strict >),   ∂z_t/∂y_t := σ'(y_t − θ)   (docs/theory.md#2-the-surrogate-family)

with y_{−1} = z_{−1} = 0. ``sg`` is a stop-gradient unless ``cfg.reset_grad``; the recurrent current
always keeps its gradient. α (leak) and θ (threshold) are fixed; W_in, W_rec, b and the readout are
trained. Layers after the first read the previous layer's spikes. The readout is linear in the last
layer's *spikes*: out_t = z_t W_out + b_out, shape (batch, T, n_out); spikes rather than voltages, so
the readout sees exactly what a further spiking layer would see.

Two implementations compute the same numbers:

- ``fast=True``: a custom autograd function runs the time loop on preallocated time-major buffers
  (T, n, batch) — the per-step (n × n)@(n × batch) product is the fastest GEMM orientation on CPUs —
  saves only spikes, voltages (and the masks the multiplicative resets need), evaluates σ' for all
  steps at once in the backward pass, and forms ∂L/∂W_rec as ONE (n × T·batch)@(T·batch × n) GEMM.
- ``fast=False``: a plain autograd loop (:meth:`LIFNetwork.reference_forward`), the referee for the
  fast path's gradients and the path the gradient-flow probe uses.

The fast path is device-agnostic (CPU, CUDA). On CPU it calls :func:`keep_freed_cpu_memory` once.

The package keeps one idea per file; this module re-exports the public names, so ``stabviz.lif.X``
works as it always has:

- ``dynamics``: the fixed part of a layer (α, θ, reset, surrogate), alone or stacked for an ensemble;
- ``reference``: the plain-autograd layer (the referee);
- ``layout``: batch-major <-> time-major copies;
- ``bptt``: what the fast loops share: the autograd function, the recurrent products, ∂L/∂W_rec;
- ``fast``: the LIF's time loop with its hand-written backward;
- ``cpu_memory``: glibc malloc tuning for the fast path's buffers;
- ``network``: LIFNetwork and LIFEnsemble;
- ``graphs``: CUDA-graph capture of a training step;
- ``probe``: the gradient-flow probe and the fitted gain;
- ``variants``: the alif and cuba neurons: pure steps and their fast loop (LIFNetwork runs them by
  ``cfg.neuron``).
"""

from stabviz.lif.cpu_memory import keep_freed_cpu_memory
from stabviz.lif.dynamics import Dynamics, EnsembleDynamics, group_by_shape, shape_key
from stabviz.lif.fast import recurrent_lif, recurrent_lif_ensemble, recurrent_lif_time_major
from stabviz.lif.graphs import GRAPH_OFF_DEVICE, CapturedStep, capture_cuda_graph
from stabviz.lif.layout import to_time_major
from stabviz.lif.network import MAX_LAYERS, LIFEnsemble, LIFNetwork, resolve_device
from stabviz.lif.probe import fit_gradient_gain, probe_gradient_flow
from stabviz.lif.reference import lif_step, reference_recurrent
from stabviz.lif.variants import (
    STEPS,
    State,
    Variant,
    alif_step,
    cuba_step,
    recurrent_variant,
    recurrent_variant_time_major,
    reference_variant,
)

__all__ = [
    "CapturedStep",
    "Dynamics",
    "EnsembleDynamics",
    "GRAPH_OFF_DEVICE",
    "LIFEnsemble",
    "LIFNetwork",
    "MAX_LAYERS",
    "capture_cuda_graph",
    "fit_gradient_gain",
    "group_by_shape",
    "keep_freed_cpu_memory",
    "lif_step",
    "probe_gradient_flow",
    "recurrent_lif",
    "recurrent_lif_ensemble",
    "recurrent_lif_time_major",
    "reference_recurrent",
    "resolve_device",
    "shape_key",
    "to_time_major",
    "STEPS",
    "State",
    "Variant",
    "alif_step",
    "cuba_step",
    "recurrent_variant",
    "recurrent_variant_time_major",
    "reference_variant",
]
