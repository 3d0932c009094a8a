"""DP federated training: the privacy guarantee is what the ledger says, and training is exact."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from opacus import GradSampleModule
from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent
from opacus.optimizers import DPOptimizer
from sksurv.metrics import concordance_index_censored

from fedheme.federated.client import Client
from fedheme.federated.config import DesignSettings, TrainConfig
from fedheme.federated.design import design_matrix
from fedheme.federated.fold import FoldInputs, train_fold
from fedheme.federated.releases import training_release
from fedheme.federated.server import combine_releases, run_federated
from fedheme.models.lightning import build_model
from fedheme.models.losses import logistic_hazard_loss
from fedheme.models.timebins import bin_edges_from_histogram, discretise
from fedheme.privacy.accounting import Mechanism, calibrate_noise, epsilon_of
from fedheme.privacy.randomness import SiteRandomness
from fedheme.standard.features import FeatureSpec

SPEC = FeatureSpec(numeric=("age", "hb_g_dl", "plt_1e9_l", "bm_blast_pct", "cyto_ordinal"), binary=("mut_TP53", "mut_SF3B1", "mut_ASXL1", "complex_karyotype"), log1p=("plt_1e9_l", "bm_blast_pct"))
BOUNDS = {"age": (18, 100), "hb_g_dl": (4, 17), "plt_1e9_l": (0, 7.3), "bm_blast_pct": (0, 3.1), "cyto_ordinal": (0, 4)}
#: Each test site's secret key (fixed here so that tests are reproducible).
KEYS = {s: bytes([k]) * 32 for k, s in enumerate(("s1", "s2", "s3"), start=1)}
SETTINGS = DesignSettings(SPEC, BOUNDS, ("os",), 10.0, 6)
NOISE = {"numeric": 10.0, "binary": 10.0, "histogram": 10.0}
EXACT = {k: 0.0 for k in NOISE}


@pytest.fixture(scope="module")
def federation(small_sites):
    """DP releases of the three small sites, and design matrices standardised with their exact
    pooled statistics (so that model-quality checks do not depend on release noise)."""
    releases = {s.site_id: training_release(s.cohort.patients, SETTINGS, s.site_id, NOISE, np.random.default_rng(0)) for s in small_sites}
    exact = [training_release(s.cohort.patients, SETTINGS, s.site_id, EXACT, np.random.default_rng(0)) for s in small_sites]
    stats = combine_releases(exact, SETTINGS)
    designs = {s.site_id: design_matrix(s.cohort.patients, SETTINGS, stats, "os") for s in small_sites}
    return releases, stats, designs


def harrell(test, weights) -> float:
    """Harrell's C of a linear model's risk score on a design matrix."""
    model = build_model("linear", test.x.shape[1], SETTINGS.n_bins, 0)
    model.load_state_dict(weights)
    with torch.no_grad():
        risk = model.risk(torch.from_numpy(test.x)).numpy()
    return concordance_index_censored(test.status.astype(bool), test.time, risk)[0]


def make_clients(federation, config, sites=("s1", "s2"), with_releases=True, device=torch.device("cpu")):
    releases, _, designs = federation
    return [
        Client(s, designs[s], config, SETTINGS.n_bins, [Mechanism(**m) for m in releases[s]["mechanisms"]] if with_releases else [], device,
               randomness=SiteRandomness(KEYS[s], ("test",)), released_n=releases[s]["numeric"][0])
        for s in sites
    ]


def test_loss_is_a_sum_over_patients():
    torch.manual_seed(0)
    logits = torch.randn(7, 6)
    bins = torch.tensor([0, 1, 2, 5, 3, 4, 5])
    events = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    batch = logistic_hazard_loss(logits, bins, events)
    single = torch.stack([logistic_hazard_loss(logits[i : i + 1], bins[i : i + 1], events[i : i + 1])[0] for i in range(7)])
    assert torch.allclose(batch, single)
    # a censored patient in bin 2 survives bins 0..2: -sum log(1 - h)
    expected = -torch.log1p(-torch.sigmoid(logits[1, :2])).sum()
    assert torch.allclose(batch[1], expected)


def test_per_patient_gradients_are_clipped_to_the_bound(federation):
    """With noise 0, a DP step's gradient equals the sum of each patient's own gradient
    clipped to C, and every one of those has norm <= C."""
    _, _, designs = federation
    d = designs["s1"]
    x, b, e = torch.from_numpy(d.x[:32]), torch.from_numpy(d.bin_index[:32]), torch.from_numpy(d.event[:32])
    clip = 0.5
    model = build_model("linear", x.shape[1], SETTINGS.n_bins, 3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    expected = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    norms = []
    for i in range(32):
        model.zero_grad()
        logistic_hazard_loss(model(x[i : i + 1]), b[i : i + 1], e[i : i + 1]).sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        norm = torch.sqrt(sum((g**2).sum() for g in grads.values()))
        factor = min(1.0, clip / (float(norm) + 1e-6))
        norms.append(float(norm) * factor)
        for n in expected:
            expected[n] += grads[n] * factor
    assert max(norms) <= clip + 1e-6
    module = GradSampleModule(model, loss_reduction="sum")
    optimizer = DPOptimizer(torch.optim.SGD(module.parameters(), lr=0.0), noise_multiplier=0.0, max_grad_norm=clip, expected_batch_size=32, loss_reduction="sum")
    optimizer.zero_grad()
    logistic_hazard_loss(module(x), b, e).sum().backward()
    optimizer.step()
    for name, param in model.named_parameters():
        assert torch.allclose(param.grad, expected[name], atol=1e-5), name


def independent_epsilon(rows: pd.DataFrame, delta: float) -> float:
    orders = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
    rdp = sum(np.array(compute_rdp(q=r.sample_rate, noise_multiplier=r.noise_multiplier, steps=int(r.steps), orders=orders)) for r in rows.itertuples() if r.steps > 0)
    return get_privacy_spent(orders=orders, rdp=rdp, delta=delta)[0]


def test_ledger_recomputes_to_the_reported_epsilon(small_sites, federation):
    releases, _, _ = federation
    inputs = FoldInputs(
        "loso-s3", {s.site_id: s.cohort.patients for s in small_sites[:2]},
        {"exact": {s: training_release(p.cohort.patients, SETTINGS, s, EXACT, np.random.default_rng(0)) for s, p in zip(["s1", "s2"], small_sites[:2])},
         "dp": {s: releases[s] for s in ("s1", "s2")}},
        {s: SiteRandomness(KEYS[s]) for s in ("s1", "s2")},
    )  # fmt: skip
    base = TrainConfig(rounds=4, batch_size=16, dropout=0.3)
    bundle, ledger, _ = train_fold(inputs, settings=SETTINGS, endpoint="os", base=base, strategies=["fedavg"], epsilons=[2.0], seeds=[1], baselines=[], checkpoint_dir=None)
    dp = ledger[ledger["run"].str.startswith("fedavg_eps2")]
    assert set(dp["mechanism"]) == {"gaussian-numeric-aggregates", "gaussian-binary-aggregates", "gaussian-histogram-aggregates", "dp-sgd"}
    for site, rows in dp.groupby("site"):
        reported = rows["epsilon"].iloc[0]
        recomputed = independent_epsilon(rows, rows["delta"].iloc[0])
        print(f"\n{site}: reported epsilon {reported:.4f}, recomputed from the ledger {recomputed:.4f}")
        assert recomputed == pytest.approx(reported, rel=1e-9)
        assert reported <= 2.0 + 1e-6
        assert (rows["delta"] == base.delta).all(), "delta is the public config value, not a function of n"
    assert all(run["max_site_epsilon"] <= 2.0 + 1e-6 for run in bundle["runs"])


def test_noise_is_calibrated_over_every_step_of_every_round():
    releases = [Mechanism("gaussian-numeric-aggregates", 10.0, 1.0, 1)]
    sigma_short = calibrate_noise(3.0, 1e-4, 0.1, 100, releases)
    sigma_long = calibrate_noise(3.0, 1e-4, 0.1, 1000, releases)
    assert sigma_long > sigma_short
    total = epsilon_of(releases + [Mechanism("dp-sgd", sigma_long, 0.1, 1000)], 1e-4)
    assert 2.99 <= total <= 3.0
    # the release alone costs budget: without it less noise would do
    assert calibrate_noise(3.0, 1e-4, 0.1, 1000, []) < sigma_long


def test_epsilon_inf_is_plain_training(federation):
    """No clipping and no noise: the DP machinery with noise 0 and an unreachable bound gives
    the same weights as the epsilon = inf path, which is plain SGD."""
    plain = TrainConfig(rounds=3, batch_size=16, seed=4)
    state_plain = run_federated(make_clients(federation, plain), plain, len(SPEC.names), SETTINGS.n_bins, {"s1": 1.0, "s2": 1.0})
    dp = TrainConfig(rounds=3, batch_size=16, seed=4, epsilon=1e9, clip_norm=1e9)
    clients = make_clients(federation, dp)
    for c in clients:
        c.noise_multiplier = 0.0
    state_dp = run_federated(clients, dp, len(SPEC.names), SETTINGS.n_bins, {"s1": 1.0, "s2": 1.0})
    for k in state_plain.weights:
        assert torch.allclose(state_plain.weights[k], state_dp.weights[k], atol=1e-5), k
    assert all(math.isinf(c.epsilon()) for c in make_clients(federation, plain))


def test_extreme_noise_is_near_chance(federation):
    """epsilon = 0.05 drowns the signal: over seeds the held-out C-index centres on 0.5
    (a random direction in feature space), while the same training without DP learns."""
    _, _, designs = federation
    test = designs["s3"]
    noisy = []
    for seed in range(6):
        config = TrainConfig(rounds=10, batch_size=16, epsilon=0.05, seed=seed, delta=1e-3)
        clients = make_clients(federation, config, with_releases=False)
        assert min(c.noise_multiplier for c in clients) > 20
        state = run_federated(clients, config, len(SPEC.names), SETTINGS.n_bins, {"s1": 1.0, "s2": 1.0})
        noisy.append(harrell(test, state.weights))
    clean_config = TrainConfig(rounds=30, batch_size=16, seed=0)
    clean = run_federated(make_clients(federation, clean_config), clean_config, len(SPEC.names), SETTINGS.n_bins, {"s1": 1.0, "s2": 1.0})
    good = harrell(test, clean.weights)
    print(f"\nheld-out C-index: epsilon 0.05, 6 seeds: mean {np.mean(noisy):.3f} (sd {np.std(noisy):.3f}); no DP: {good:.3f}")
    assert abs(np.mean(noisy) - 0.5) < 0.06
    assert good > 0.6 and good > np.mean(noisy) + 0.05


@pytest.mark.parametrize("strategy", ["fedavg", "fedprox", "fedadam"])
def test_kill_and_resume_gives_identical_weights(federation, tmp_path, strategy):
    config = TrainConfig(strategy=strategy, rounds=6, batch_size=16, epsilon=3.0, dropout=0.3, seed=9)
    whole = run_federated(make_clients(federation, config), config, len(SPEC.names), SETTINGS.n_bins, {"s1": 2.0, "s2": 1.0})
    checkpoint = tmp_path / "run.pt"
    first = run_federated(make_clients(federation, config), config, len(SPEC.names), SETTINGS.n_bins, {"s1": 2.0, "s2": 1.0}, checkpoint=checkpoint, stop_after=3)
    assert first.round == 3 and checkpoint.exists()
    fresh = make_clients(federation, config)  # a new process: new clients, state from disk
    resumed = run_federated(fresh, config, len(SPEC.names), SETTINGS.n_bins, {"s1": 2.0, "s2": 1.0}, checkpoint=checkpoint)
    assert resumed.round == 6
    for k in whole.weights:
        assert torch.equal(whole.weights[k], resumed.weights[k]), k
    assert [c.accountant.history for c in fresh] == [list(h) for h in whole.accountants.values()]


def test_a_checkpoint_of_other_settings_is_not_resumed(federation, tmp_path):
    checkpoint = tmp_path / "run.pt"
    old = TrainConfig(rounds=4, batch_size=16, seed=9)
    run_federated(make_clients(federation, old), old, len(SPEC.names), SETTINGS.n_bins, {"s1": 1.0, "s2": 1.0}, checkpoint=checkpoint)
    new = TrainConfig(rounds=4, batch_size=32, seed=9)
    resumed = run_federated(make_clients(federation, new), new, len(SPEC.names), SETTINGS.n_bins, {"s1": 1.0, "s2": 1.0}, checkpoint=checkpoint)
    fresh = run_federated(make_clients(federation, new), new, len(SPEC.names), SETTINGS.n_bins, {"s1": 1.0, "s2": 1.0})
    for k in fresh.weights:
        assert torch.equal(fresh.weights[k], resumed.weights[k]), k


def test_bin_edges_are_increasing_even_from_noisy_counts():
    rng = np.random.default_rng(0)
    counts = rng.normal(0, 30, size=40)  # pure noise, negative cells included
    edges = bin_edges_from_histogram(counts, 10, 10.0)
    assert len(edges) == 9 and np.all(np.diff(edges) > 0) and edges[0] > 0 and edges[-1] < 10
    index, event = discretise(np.array([0.1, 5.0, 12.0]), np.array([1.0, 1.0, 1.0]), edges, 10.0)
    assert index[-1] == 9 and event[-1] == 0  # followed beyond the horizon: censored there


def test_device_falls_back_to_the_cpu_without_a_gpu(monkeypatch):
    from fedheme.federated.fold import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        resolve_device("gpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (CI has none; run on a GPU machine)")
@pytest.mark.parametrize("epsilon", [math.inf, 3.0])
def test_a_gpu_run_matches_the_cpu_run(federation, epsilon):
    """The GPU path trains the same model: without DP the weights agree to float precision;
    with DP the accounting (noise multiplier, steps, epsilon) is identical and training
    still learns (the noise draws differ between devices)."""
    config = TrainConfig(rounds=4, batch_size=16, seed=5, epsilon=epsilon)
    runs = {}
    for name in ("cpu", "cuda"):
        clients = make_clients(federation, config, device=torch.device(name))
        state = run_federated(clients, config, len(SPEC.names), SETTINGS.n_bins, {"s1": 1.0, "s2": 1.0})
        runs[name] = (state, clients)
    (cpu, cpu_clients), (gpu, gpu_clients) = runs["cpu"], runs["cuda"]
    assert all(w.device.type == "cpu" for w in gpu.weights.values())  # weights leave the GPU
    if math.isinf(epsilon):
        for k in cpu.weights:
            assert torch.allclose(cpu.weights[k], gpu.weights[k], atol=1e-4), k
    else:
        assert [c.history() for c in cpu_clients] == [c.history() for c in gpu_clients]
        assert [c.epsilon() for c in cpu_clients] == [c.epsilon() for c in gpu_clients]
        assert all(torch.isfinite(w).all() for w in gpu.weights.values())


def test_tail_averaging_releases_the_mean_of_the_last_global_models(federation, tmp_path):
    """average_last = 0.4 of 5 rounds: the released model is the mean of the weights after rounds 4
    and 5, also across a kill and resume; the training itself is unchanged."""
    config = TrainConfig(rounds=5, batch_size=16, epsilon=3.0, seed=4, average_last=0.4)
    plain = replace(config, average_last=0.0)
    args = (len(SPEC.names), SETTINGS.n_bins, {"s1": 1.0, "s2": 1.0})
    after_4 = run_federated(make_clients(federation, plain), plain, *args, stop_after=4).weights
    after_5 = run_federated(make_clients(federation, plain), plain, *args)
    averaged = run_federated(make_clients(federation, config), config, *args, checkpoint=tmp_path / "run.pt", stop_after=4)
    averaged = run_federated(make_clients(federation, config), config, *args, checkpoint=tmp_path / "run.pt")
    for k in after_4:
        assert torch.equal(averaged.weights[k], after_5.weights[k]), k
        assert torch.allclose(averaged.released_weights()[k], (after_4[k] + after_5.weights[k]) / 2, atol=1e-7), k
    assert after_5.released_weights() is after_5.weights
    with pytest.raises(ValueError, match="average_last"):
        TrainConfig(rounds=5, average_last=1.0)


def test_each_seed_trains_from_its_own_dp_release(small_sites):
    """With one DP release per seed (dp-s<seed>), a seed's runs standardise with its own
    release's statistics, and its ledger lists that release under its own name."""
    sites = {s.site_id: s.cohort.patients for s in small_sites[:2]}
    releases = {f"dp-s{seed}": {s: training_release(p, SETTINGS, s, NOISE, np.random.default_rng(seed), release=f"training_release_all_s{seed}")
                                for s, p in sites.items()} for seed in (1, 2)}  # fmt: skip
    inputs = FoldInputs("loso-s3", sites, releases, {s: SiteRandomness(KEYS[s]) for s in sites})
    bundle, ledger, _ = train_fold(inputs, settings=SETTINGS, endpoint="os", base=TrainConfig(rounds=2, batch_size=16), strategies=["fedavg"],
                                   epsilons=[3.0], seeds=[1, 2], baselines=[], checkpoint_dir=None)  # fmt: skip
    assert sorted(bundle["stats"]) == ["dp-s1", "dp-s2"]
    assert {run["seed"]: run["mode"] for run in bundle["runs"]} == {1: "dp-s1", 2: "dp-s2"}
    assert bundle["stats"]["dp-s1"]["features"] != bundle["stats"]["dp-s2"]["features"], "two draws of the release noise"
    for seed in (1, 2):
        named = ledger[ledger["run"].str.contains(f"seed{seed}") & (ledger["mechanism"] != "dp-sgd")]["release"]
        assert set(named) == {f"training_release_all_s{seed}"}
