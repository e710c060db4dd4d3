"""Weight sampling: the matrices have the entry laws the theory reports, zero recurrent diagonals, and
are reproducible from a seed."""

import math

import pytest
import torch

from stabviz import theory
from stabviz.config import LIFConfig, WeightLaw, standard_law
from stabviz.weights import DEEP_INPUT_MEAN, DEEP_INPUT_VAR, layer_config, layer_weights, sample_matrix


def off_diagonal(w: torch.Tensor) -> torch.Tensor:
    return w[~torch.eye(w.shape[0], dtype=torch.bool)]


def assert_law(values: torch.Tensor, law: WeightLaw, sigmas: float = 5.0) -> None:
    """Sample mean and variance equal the law's within ``sigmas`` standard errors."""
    v = values.double().flatten()
    n = v.numel()
    var = law.std**2
    assert abs(float(v.mean()) - law.mean) <= sigmas * law.std / math.sqrt(n)
    # Var of the sample variance: (μ4 − σ⁴)/n; μ4 = 1.8σ⁴ (uniform) or 3σ⁴ (normal)
    kurtosis = 1.8 if law.kind == "uniform" and not law.orthogonal else 3.0
    assert abs(float(v.var()) - var) <= sigmas * var * math.sqrt((kurtosis - 1) / n)


@pytest.mark.parametrize(
    "law", [WeightLaw("uniform", 0.3, 0.2), WeightLaw("normal", -0.1, 0.5), standard_law("orthogonal", 200, 200)]
)
def test_sampled_entries_follow_the_law(law):
    w = sample_matrix(law, 200, 200, torch.Generator().manual_seed(0))
    assert w.shape == (200, 200) and w.dtype == torch.float32
    assert_law(w, law)


def test_uniform_law_stays_inside_mean_plus_minus_root3_std():
    law = WeightLaw("uniform", 1.0, 0.1)
    w = sample_matrix(law, 50, 40, torch.Generator().manual_seed(1), dtype=torch.float64)
    a = math.sqrt(3) * 0.1
    assert float(w.min()) >= 1.0 - a and float(w.max()) <= 1.0 + a
    assert float(w.max() - w.min()) > 1.9 * a  # it fills the interval, not a narrower one


def test_orthogonal_matrix_is_a_scaled_rotation():
    law = standard_law("orthogonal", 64, 64)
    w = sample_matrix(law, 64, 64, torch.Generator().manual_seed(2), dtype=torch.float64)
    gram = w @ w.t() / (64 * law.std**2)
    assert torch.allclose(gram, torch.eye(64, dtype=torch.float64), atol=1e-10)


def test_zero_diagonal_and_its_precondition():
    w = sample_matrix(WeightLaw("normal", 1.0, 1.0), 30, 30, torch.Generator().manual_seed(3), zero_diagonal=True)
    assert torch.all(torch.diagonal(w) == 0)
    assert torch.all(off_diagonal(w) != 0)
    with pytest.raises(ValueError, match="zero_diagonal"):
        sample_matrix(WeightLaw("normal", 0.0, 1.0), 3, 4, zero_diagonal=True)


@pytest.mark.parametrize(
    "bad",
    [dict(rows=0), dict(cols=2.5), dict(law=WeightLaw("cauchy", 0.0, 1.0)), dict(law=WeightLaw("normal", 0.0, -1.0))],
)
def test_bad_arguments_raise_value_error(bad):
    args = dict(law=WeightLaw("normal", 0.0, 1.0), rows=3, cols=3) | bad
    with pytest.raises(ValueError):
        sample_matrix(args["law"], args["rows"], args["cols"])


def test_same_seed_same_weights_other_seed_other_weights():
    cfg = LIFConfig(n_in=20, n_rec=16)
    first = layer_weights(cfg, generator=torch.Generator().manual_seed(7))
    again = layer_weights(cfg, generator=torch.Generator().manual_seed(7))
    other = layer_weights(cfg, generator=torch.Generator().manual_seed(8))
    for a, b in zip(first, again):
        assert torch.equal(a, b)
    assert not torch.equal(first[0], other[0]) and not torch.equal(first[1], other[1])
    # no generator: seeded by cfg.seed
    assert torch.equal(layer_weights(cfg)[1], layer_weights(cfg)[1])
    assert not torch.equal(layer_weights(cfg)[1], layer_weights(cfg.replace(seed=1))[1])


def test_float64_weights_are_the_float32_weights_at_higher_precision():
    cfg = LIFConfig(n_in=12, n_rec=10)
    w32 = layer_weights(cfg, dtype=torch.float32)[1]
    w64 = layer_weights(cfg, dtype=torch.float64)[1]
    assert w64.dtype == torch.float64 and torch.equal(w64.float(), w32)


@pytest.mark.parametrize("init", ["glorot-uniform", "he-normal", "orthogonal", "pytorch-default", "conditions"])
def test_layer_weights_follow_the_theory_laws(init):
    cfg = LIFConfig(
        n_in=300, n_rec=256, init_rec=init, init_in="glorot-normal", bias=0.02, input_mean=0.05, input_var=0.05
    )
    w_in, w_rec, b = layer_weights(cfg, generator=torch.Generator().manual_seed(4))
    assert w_in.shape == (300, 256) and w_rec.shape == (256, 256) and b.shape == (256,)
    assert torch.all(torch.diagonal(w_rec) == 0)
    assert torch.all(b == torch.tensor(0.02))
    assert_law(w_in, theory.input_law(cfg))
    assert_law(off_diagonal(w_rec), theory.recurrent_law(cfg))


def test_n_in_override_changes_the_fan_in_of_the_law():
    cfg = LIFConfig(n_in=784, n_rec=100, init_in="glorot-uniform")
    w_in = layer_weights(cfg, n_in=100, generator=torch.Generator().manual_seed(5))[0]
    assert w_in.shape == (100, 100)
    assert_law(w_in, theory.input_law(cfg.replace(n_in=100)))


def test_unattainable_condition_ii_raises_instead_of_nan_weights():
    cfg = LIFConfig(init_rec="conditions", input_mean=0.0, input_var=0.0)  # no input variance at all
    with pytest.raises(ValueError, match="condition II"):
        layer_weights(cfg)


def test_deeper_layers_see_spiking_inputs():
    cfg = LIFConfig(n_in=700, n_rec=64, input_mean=0.04, input_var=0.04)
    assert layer_config(cfg, 0) is cfg
    deep = layer_config(cfg, 2)
    assert (deep.n_in, deep.input_mean, deep.input_var) == (64, DEEP_INPUT_MEAN, DEEP_INPUT_VAR)
    assert deep.n_rec == 64 and deep.leak == cfg.leak
    with pytest.raises(ValueError, match="layer"):
        layer_config(cfg, -1)


def test_pytorch_default_is_nn_linears_own_initialisation():
    # nn.Linear(n_in, n_rec).weight is (n_rec, n_in): U(±1/√n_in); our W_in (n_in × n_rec) must be its transpose's law
    cfg = LIFConfig(n_in=400, n_rec=300, init_in="pytorch-default", init_rec="pytorch-default")
    w_in, w_rec, _ = layer_weights(cfg, generator=torch.Generator().manual_seed(2))
    torch.manual_seed(2)
    linear = torch.nn.Linear(400, 300).weight.detach()
    bound = 1 / math.sqrt(400)
    assert float(w_in.abs().max()) <= bound and float(linear.abs().max()) <= bound
    assert float(w_in.abs().max()) > 0.99 * bound  # the full width is used
    assert float(w_in.std()) == pytest.approx(float(linear.std()), rel=0.02)
    assert float(off_diagonal(w_rec).abs().max()) <= 1 / math.sqrt(300)
    assert_law(off_diagonal(w_rec), theory.recurrent_law(cfg))
