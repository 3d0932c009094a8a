"""Per-patient gradients of the linear networks from their layers' output gradients
(fedheme.federated.per_sample): the same tensors as Opacus' hooks, bit for bit, so DP
training gives the same weights either way."""

from __future__ import annotations

import pytest
import torch
from opacus import GradSampleModule
from opacus.optimizers import DPOptimizer

from fedheme.federated.client import Client
from fedheme.federated.config import TrainConfig
from fedheme.federated.per_sample import LinearGradSampler, supports
from fedheme.federated.server import run_federated
from fedheme.models.losses import LOSSES
from fedheme.models.networks import build_network
from fedheme.privacy.accounting import Mechanism
from fedheme.privacy.randomness import SiteRandomness
from test_training import KEYS, SETTINGS, SPEC, federation  # noqa: F401  (the fixture)

#: (task, network kwargs, batch maker): the linear hazard model, with the transplant
#: model's per-bin treatment term, and the marrow-blast classifier's softmax model.
CASES = {
    "hazard": ("hazard", {}),
    "hazard+treatment": ("hazard", {"n_treatment": 3}),
    "softmax": ("softmax", {}),
}


def batch(task: str, n: int, n_features: int, n_bins: int, n_treatment: int = 0, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_features, generator=generator, dtype=torch.float64).float()
    bins = torch.randint(0, n_bins, (n,), generator=generator)
    event = torch.randint(0, 2, (n,), generator=generator).float()
    extra = [torch.randn(n, n_bins, n_treatment, generator=generator)] if n_treatment else []
    return (x, bins, event, *extra)


def perturbed(task: str, kwargs: dict, seed: int):
    model = build_network("linear", 7, 5, seed, task=task, **kwargs)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(seed)) * 0.5)
    return model


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("n", [1, 33, 0])
def test_the_sampler_gives_opacus_hooks_per_sample_gradients_bit_for_bit(case, n):
    task, kwargs = CASES[case]
    x, bins, event, *treatment = batch(task, n, 7, 5, kwargs.get("n_treatment", 0), seed=n)
    loss = LOSSES[task]
    hooked = perturbed(task, kwargs, 1)
    module = GradSampleModule(hooked, loss_reduction="sum")
    loss(module(x, *treatment), bins, event).sum().backward()
    expected = {name: p.grad_sample for name, p in hooked.named_parameters()}

    model = perturbed(task, kwargs, 1)
    sampler = LinearGradSampler(model)
    with sampler.recording():
        total = loss(model(x, *treatment), bins, event).sum()
    sampler.backward(total)
    for name, p in model.named_parameters():
        assert p.grad_sample.shape == (n, *p.shape), name
        assert torch.equal(p.grad_sample, expected[name]), name
        assert p.grad is None  # left to the DP optimizer
    if n:  # and they are each patient's own gradient
        for i in (0, n - 1):
            model.zero_grad()
            loss(model(x[i : i + 1], *(t[i : i + 1] for t in treatment)), bins[i : i + 1], event[i : i + 1]).sum().backward()
            for name, p in model.named_parameters():
                assert torch.allclose(p.grad_sample[i], p.grad, atol=1e-6), name


def test_a_dp_step_through_the_sampler_clips_each_patient_to_the_bound():
    """With noise 0 the DP optimizer's gradient is the sum of each patient's gradient
    clipped to C; with noise it is the hooks' step exactly, draw for draw."""
    x, bins, event = batch("hazard", 40, 7, 5, seed=3)
    loss = LOSSES["hazard"]
    clip = 0.3
    steps = {}
    for kind in ("hooks", "sampler"):
        model = perturbed("hazard", {}, 2)
        if kind == "hooks":
            module, sampler = GradSampleModule(model, loss_reduction="sum"), None
        else:
            module, sampler = model, LinearGradSampler(model)
        optimizer = DPOptimizer(torch.optim.SGD(module.parameters(), lr=0.1), noise_multiplier=1.3, max_grad_norm=clip,
                                expected_batch_size=40, loss_reduction="sum")  # fmt: skip
        optimizer.generator = torch.Generator().manual_seed(11)
        optimizer.zero_grad(set_to_none=True)
        if sampler is None:
            loss(module(x), bins, event).sum().backward()
        else:
            with sampler.recording():
                total = loss(module(x), bins, event).sum()
            sampler.backward(total)
        norms = torch.stack([g.reshape(40, -1).norm(dim=1) for g in optimizer.grad_samples], dim=1).norm(dim=1)
        clipped = {n: torch.einsum("i,i...", (clip / (norms + 1e-6)).clamp(max=1.0), p.grad_sample) for n, p in model.named_parameters()}
        optimizer.step()
        steps[kind] = {n: p.detach().clone() for n, p in model.named_parameters()}
        assert all(torch.allclose(p.summed_grad, clipped[n], atol=1e-6) for n, p in model.named_parameters())
        assert float(norms.max()) > clip  # some patients were clipped
    for name in steps["hooks"]:
        assert torch.equal(steps["hooks"][name], steps["sampler"][name]), name


@pytest.mark.parametrize("strategy", ["fedavg", "fedprox", "fedadam"])
def test_dp_training_gives_the_same_weights_with_the_sampler_and_with_opacus_hooks(federation, strategy):  # noqa: F811
    releases, _, designs = federation
    config = TrainConfig(strategy=strategy, rounds=4, batch_size=16, epsilon=3.0, dropout=0.3, seed=5)
    runs = {}
    for per_sample in ("auto", "hooks"):
        clients = [Client(s, designs[s], config, SETTINGS.n_bins, [Mechanism(**m) for m in releases[s]["mechanisms"]],
                          randomness=SiteRandomness(KEYS[s], ("test", strategy)), released_n=releases[s]["numeric"][0],
                          per_sample=per_sample) for s in ("s1", "s2")]  # fmt: skip
        runs[per_sample] = run_federated(clients, config, len(SPEC.names), SETTINGS.n_bins, {"s1": 2.0, "s2": 1.0})
        assert (clients[0].sampler is not None) == (per_sample == "auto")
    for key in runs["hooks"].weights:
        assert torch.equal(runs["auto"].weights[key], runs["hooks"].weights[key]), key
    assert runs["auto"].accountants == runs["hooks"].accountants


class Shifted(torch.nn.Linear):
    """A Linear subclass whose forward is not Linear's: not for the sampler."""

    def forward(self, x):
        return super().forward(x - x.mean(0))


def test_networks_with_other_layers_keep_opacus_hooks():
    assert supports(build_network("linear", 4, 3)) and supports(build_network("linear", 4, 3, n_treatment=2))
    assert supports(build_network("linear", 4, 3, task="softmax"))
    for model in (build_network("mlp", 4, 3), torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3, affine=False)),
                  torch.nn.Sequential(Shifted(4, 3))):  # fmt: skip
        assert not supports(model)
        with pytest.raises(ValueError, match="other than nn.Linear"):
            LinearGradSampler(model)


def test_a_layer_used_twice_sums_its_per_sample_gradients_as_opacus_does():
    layer = torch.nn.Linear(4, 2)
    x = torch.randn(6, 4)
    def twice(m, v):
        return (m(v) + m(2 * v)).pow(2).sum(dim=1)
    module = GradSampleModule(torch.nn.Sequential(layer), loss_reduction="sum")
    twice(module, x).sum().backward()
    expected = {n: p.grad_sample.clone() for n, p in layer.named_parameters()}
    model = torch.nn.Sequential(torch.nn.Linear(4, 2))
    model[0].load_state_dict(layer.state_dict())
    sampler = LinearGradSampler(model)
    with sampler.recording():
        total = twice(model, x).sum()
    sampler.backward(total)
    for name, p in model[0].named_parameters():
        assert torch.allclose(p.grad_sample, expected[name], atol=1e-6), name


def test_a_frozen_layer_is_left_out_and_an_output_changed_in_place_is_refused():
    model = build_network("linear", 4, 3)
    model.baseline.weight.requires_grad_(False)
    sampler = LinearGradSampler(model)
    x, bins, event = batch("hazard", 5, 4, 3)
    with sampler.recording():
        total = LOSSES["hazard"](model(x), bins, event).sum()
    sampler.backward(total)
    assert model.risk_net.weight.grad_sample.shape == (5, 1, 4) and getattr(model.baseline.weight, "grad_sample", None) is None
    changed = torch.nn.Sequential(torch.nn.Linear(4, 2))
    changed.register_forward_hook(lambda _m, _i, out: out.mul_(3))
    sampler = LinearGradSampler(changed)
    with sampler.recording():
        total = changed(x).sum()
    with pytest.raises(RuntimeError, match="changed in place"):
        sampler.backward(total)


def test_the_sampler_refuses_a_step_it_did_not_record():
    model = build_network("linear", 4, 3)
    sampler = LinearGradSampler(model)
    x, bins, event = batch("hazard", 5, 4, 3)
    total = LOSSES["hazard"](model(x), bins, event).sum()  # outside recording(): nothing kept
    with pytest.raises(RuntimeError, match="no layer ran inside recording"):
        sampler.backward(total)
    with sampler.recording(), torch.no_grad():
        model(x)  # evaluation: not recorded
    with pytest.raises(RuntimeError, match="no layer ran"):
        sampler.backward(total)
    sampler.remove()
    assert not any(layer._forward_hooks for layer in sampler.layers)
