"""DECOLLE-style local losses: the forward values are the network's, the gradient stops between layers, a
hidden layer learns from its own fixed random readout, and train.run trains 2-3 layer networks with it."""

import pytest
import torch

from stabviz import local_losses, train
from stabviz.config import LIFConfig, TrainConfig
from stabviz.lif import LIFNetwork


def _net(layers=3, neuron="lif"):
    torch.manual_seed(0)
    return LIFNetwork(LIFConfig(n_rec=24, n_in=10, seed=1, neuron=neuron, threshold=0.1), n_layers=layers, n_out=4)


@pytest.mark.parametrize("neuron", ["lif", "cuba"])
def test_the_forward_is_the_networks_and_the_gradient_stops_between_layers(neuron):
    net = _net(neuron=neuron)
    x = torch.bernoulli(torch.full((5, 20, 10), 0.3))
    readouts = local_losses.random_readouts(net, seed=0)
    assert len(readouts) == 2 and not any(r.requires_grad for r in readouts)
    readout, spikes, local = local_losses.forward(net, x, readouts)
    plain, plain_spikes = net(x)
    assert torch.equal(readout, plain) and all(torch.equal(a, b) for a, b in zip(spikes, plain_spikes))
    # the network's loss reaches only the last layer; a local loss only its own layer
    readout.square().sum().backward(retain_graph=True)
    assert net.w_in[0].grad is None or net.w_in[0].grad.abs().sum() == 0
    assert net.w_in[2].grad.abs().sum() > 0
    net.zero_grad(set_to_none=True)
    local[0].square().sum().backward()
    assert net.w_in[0].grad.abs().sum() > 0
    assert net.w_in[1].grad is None and net.w_out.grad is None


def test_a_hidden_layer_learns_from_its_own_loss():
    """On a fixed batch, 25 Adam steps on the summed losses lower the hidden layer's local loss."""
    net = _net(layers=2)
    x = torch.bernoulli(torch.full((16, 20, 10), 0.3))
    y = torch.arange(16) % 4
    readouts = local_losses.random_readouts(net, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)

    def losses():
        readout, _, local = local_losses.forward(net, x, readouts)
        return train.task_loss(readout, y, "per-step"), train.task_loss(local[0], y, "per-step")

    first = float(losses()[1].detach())
    for _ in range(25):
        opt.zero_grad()
        sum(losses()).backward()
        opt.step()
    last = losses()[1].item()
    assert last < first - 0.05, (first, last)


def test_train_runs_a_two_layer_network_with_local_losses():
    cfg = TrainConfig(
        lif=LIFConfig(n_rec=48, n_in=100, seed=0),
        classes=3,
        samples=300,
        time_steps=30,
        train_steps=20,
        batch=32,
        lr=1e-2,
        log_every=10,
        device="cpu",
        layers=2,
        local_losses=True,
    )
    summary = train.run(cfg)
    assert summary["status"] == "finished" and summary["final"]["loss"] > 0
    assert "local_losses" not in TrainConfig().to_dict()  # off: stored runs keep their identity
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_bad_local_loss_settings_are_one_clear_message():
    with pytest.raises(ValueError, match=r"local_losses = True needs hidden layers: layers = 1 must be in \[2, 3\]"):
        TrainConfig(local_losses=True)
    cfg = TrainConfig(layers=2, local_losses=True)
    with pytest.raises(ValueError, match="train one at a time"):
        train.run_ensemble([(cfg, None), (cfg, None)])
    assert train.ensemble_key(cfg) != train.ensemble_key(cfg)  # never packed with another run


def test_local_losses_train_a_two_layer_network_well_above_chance_on_digits():
    """The setting of docs/notes: digits (10 classes, chance 0.1), 2 layers, local losses only below the top.
    150 steps reach 0.3 or more on the test split (0.72 and 0.75 after 300 steps with 64 neurons)."""
    cfg = TrainConfig(
        lif=LIFConfig(n_rec=48, seed=0),
        task="digits",
        layers=2,
        local_losses=True,
        train_steps=150,
        batch=32,
        lr=5e-3,
        device="cpu",
        log_every=50,
    )
    summary = train.run(cfg)
    assert summary["status"] == "finished" and summary["final"]["accuracy"] > 0.3, summary["final"]["accuracy"]
