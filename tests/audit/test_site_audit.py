"""The privacy audit at a site finds leakage where it must, and catches a DP trainer that
adds no noise while its accountant claims epsilon = 1."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from fedheme.audit.site import AuditSettings, canary_audit, membership_audit, train_local
from fedheme.federated.config import DesignSettings, TrainConfig
from fedheme.federated.design import design_matrix
from fedheme.federated.releases import training_release
from fedheme.federated.server import combine_releases
from fedheme.privacy.randomness import SiteRandomness

from conftest import ROOT

CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
_MDS = DesignSettings.from_config(CONFIG["diseases"]["mds"], CONFIG["training"])
#: The default MDS features (24), overall survival in 4 bins.
SETTINGS = DesignSettings(_MDS.spec, _MDS.bounds, ("os",), 10.0, 4)
EXACT = {"numeric": 0.0, "binary": 0.0, "histogram": 0.0}
KEY = SiteRandomness(b"a" * 32, ("audit-test",))


def site_bundle(patients: pd.DataFrame, runs: list[dict], modes=("exact",)) -> dict:
    """A within-fold bundle of one site: pooled statistics from its exact release."""
    stats = combine_releases([training_release(patients, SETTINGS, "s1", EXACT, np.random.default_rng(0))], SETTINGS)
    return {"fold": "within", "endpoint": "os", "model": "linear", "n_features": len(SETTINGS.spec.names), "n_bins": SETTINGS.n_bins,
            "stats": {m: stats for m in modes}, "runs": runs}  # fmt: skip


def test_an_overfit_model_of_a_tiny_site_leaks_membership(small_sites):
    """60 patients, 24 features, no DP, many passes: the attacks must see who trained it."""
    rng = np.random.default_rng(0)
    everyone = pd.concat([s.cohort.patients for s in small_sites], ignore_index=True)
    patients = everyone.dropna(subset=["os_years", "os_status"]).head(60).copy()
    patients["split"] = np.where(rng.permutation(len(patients)) < 30, "train", "test")
    overfit = TrainConfig(rounds=60, local_epochs=20, batch_size=16, lr=2.0, seed=1)
    bundle = site_bundle(patients, [])
    train = design_matrix(patients[patients["split"] == "train"], SETTINGS, bundle["stats"]["exact"], "os")
    model, _ = train_local(train, overfit, SETTINGS.n_bins, KEY.child("target"), released_n=30.0)
    bundle["runs"] = [{"strategy": "local", "epsilon": "inf", "seed": 1, "mode": "exact", "trained_on": "s1",
                       "weights": model.state_dict()}]  # fmt: skip
    audit = AuditSettings(shadows=16, canary_runs=4, n_bootstrap=100)
    rows, roc = membership_audit(bundle, patients, design_settings=SETTINGS, base=overfit, audit=audit, site_id="s1", disease="mds",
                                 randomness=KEY)  # fmt: skip
    auroc = rows[rows["metric"] == "auroc"].set_index("test")
    # many members' losses are small anyway (censored early), so the loss threshold sees less
    # than LiRA, which calibrates each patient against shadows with and without them
    assert auroc.loc["membership_lira", "value"] > 0.7 and auroc.loc["membership_lira", "ci_low"] > 0.5
    assert auroc.loc["membership_loss", "value"] > 0.55
    assert set(rows["members"]) == {30} and set(rows["non_members"]) == {30}
    assert (np.diff(roc[roc["attack"] == "loss"]["tpr"].to_numpy()) >= -1e-12).all()  # a ROC curve rises


@pytest.fixture(scope="module")
def canary_site(small_sites):
    patients = small_sites[1].cohort.patients.dropna(subset=["os_years", "os_status"]).copy()
    return patients.assign(split="train")


def canary_bounds(patients, epsilon: float, runs: int) -> pd.Series:
    base = TrainConfig(rounds=8, batch_size=32, lr=1.0, clip_norm=1.0, delta=1e-5)
    table = canary_audit(site_bundle(patients, [], modes=("exact", "dp-s1")), patients, design_settings=SETTINGS, base=base,
                         audit=AuditSettings(shadows=2, canary_runs=runs), epsilons=[epsilon], delta=1e-5, site_id="s1", disease="mds",
                         randomness=KEY)  # fmt: skip
    return table.set_index("metric")["value"]


def test_a_trainer_that_adds_no_noise_is_caught_by_the_canaries(canary_site, monkeypatch):
    """The planted bug: Opacus' noise is zero while the run's noise multiplier (and so its
    accountant and ledger) says epsilon = 1. The canary's lower bound exceeds the claim.
    (A tenth of the noise gave a bound of 0.79 with 50 runs each way: a partial leak needs
    more runs to show.)"""
    import opacus.optimizers.optimizer as optimizer

    monkeypatch.setattr(optimizer, "_generate_noise", lambda std, reference, generator=None, secure_mode=False: torch.zeros_like(reference))
    bounds = canary_bounds(canary_site, 1.0, runs=50)
    assert bounds["epsilon_accounted"] <= 1.0 + 1e-6 and bounds["epsilon_claimed"] == 1.0
    assert bounds["epsilon_lower_bound"] > 1.0


def test_the_correct_trainer_stays_below_its_accounted_epsilon(canary_site):
    """With the noise it should have, 50 runs each way at epsilon 1 (which could show up to
    1.84) find no more than the accountant allows."""
    bounds = canary_bounds(canary_site, 1.0, runs=50)
    assert bounds["epsilon_detectable"] > 1.0  # the check could have failed
    assert bounds["epsilon_lower_bound"] <= bounds["epsilon_accounted"] <= 1.0 + 1e-6


def test_without_dp_the_canary_is_seen(canary_site):
    bounds = canary_bounds(canary_site, math.inf, runs=20)
    assert bounds["epsilon_lower_bound"] > 0.5 and math.isinf(bounds["epsilon_accounted"])
    assert replace(TrainConfig(), epsilon=math.inf).private is False
