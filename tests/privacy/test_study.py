"""The study's privacy: the ledger lists every run, each site's releases and runs compose
into one study total, recomputed independently, and no ledger column gives a site's n."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from fedheme.federated.config import DesignSettings, TrainConfig
from fedheme.federated.fold import FoldInputs, train_fold
from fedheme.federated.releases import training_release
from fedheme.privacy.accounting import Mechanism, epsilon_of
from fedheme.privacy.independent import independent_epsilons
from fedheme.privacy.randomness import SiteRandomness
from fedheme.privacy.study import site_history, study_budget
from fedheme.standard.features import FeatureSpec

SPEC = FeatureSpec(numeric=("age", "hb_g_dl"), binary=("mut_TP53", "sex_male"))
SETTINGS = DesignSettings(SPEC, {"age": (18, 100), "hb_g_dl": (4, 17)}, ("os",), 10.0, 6)
NOISE = {"numeric": 5.0, "binary": 5.0, "histogram": 5.0}
EXACT = {k: 0.0 for k in NOISE}


@pytest.fixture(scope="module")
def fold(small_sites):
    """Two training sites; DP and non-private runs, pooled and local baselines."""
    sites = {s.site_id: s.cohort.patients for s in small_sites[:2]}
    draws = {s: SiteRandomness(bytes([i + 1]) * 32) for i, s in enumerate(sites)}
    releases = {
        "exact": {s: training_release(p, SETTINGS, s, EXACT, draws[s].numpy("release"), release="training_release_all") for s, p in sites.items()},
        "dp": {s: training_release(p, SETTINGS, s, NOISE, draws[s].numpy("release"), release="training_release_all") for s, p in sites.items()},
    }  # fmt: skip
    base = TrainConfig(rounds=3, batch_size=16)
    bundle, ledger, rounds = train_fold(FoldInputs("loso-s3", sites, releases, draws), settings=SETTINGS, endpoint="os", base=base,
                                        strategies=["fedavg", "fedprox"], epsilons=[math.inf, 2.0], seeds=[1, 2],
                                        baselines=["pooled", "local"], checkpoint_dir=None)  # fmt: skip
    return sites, releases, bundle, ledger.assign(disease="mds", endpoint="os", fold="loso-s3"), rounds


def test_the_ledger_lists_every_run_the_non_private_ones_marked(fold):
    _, _, bundle, ledger, _ = fold
    runs = {(r["strategy"], r["epsilon"], r["seed"], r["trained_on"]) for r in bundle["runs"]}
    listed = ledger[["strategy", "target_epsilon", "seed"]].drop_duplicates()
    assert len(listed) == len({r[:3] for r in runs}) == 2 * 2 * 2 + 2 + 2 * 2
    exact = ledger[ledger["target_epsilon"] == "inf"]
    assert (exact["mechanism"] == "non-private training").all() and np.isinf(exact["epsilon"]).all()
    assert set(exact.loc[exact["strategy"] == "pooled", "site"]) == {"s1", "s2"}, "a pooled run releases both sites' patients"
    private = ledger[ledger["target_epsilon"] == "2"]
    assert (private["epsilon"] <= 2.0 + 1e-6).all() and set(private["mechanism"]) >= {"dp-sgd", "gaussian-numeric-aggregates"}


def test_no_dp_run_releases_its_training_loss(fold):
    *_, rounds = fold
    private = rounds[rounds["epsilon"] == "2"]
    assert private["mean_train_loss"].isna().all() and (private["update_norm"] > 0).all()
    assert rounds.loc[rounds["epsilon"] == "inf", "mean_train_loss"].notna().all()


def test_the_study_total_composes_every_run_and_each_release_once(fold):
    _, _, _, ledger, _ = fold
    study = study_budget(ledger, {"mds": ["evaluation releases"]}).set_index("site")
    for site, rows in ledger.groupby("site"):
        dp = rows[rows["target_epsilon"] == "2"]
        releases = dp[dp["release"].fillna("") != ""].drop_duplicates(["release", "mechanism"])
        assert len(releases) == 3, "one release of three parts, counted once over 4 DP runs"
        history = site_history(rows)
        assert len(history) == 3 + (dp["mechanism"] == "dp-sgd").sum()
        total = epsilon_of(history, 1e-5)
        assert study.loc[site, "epsilon_dp"] == pytest.approx(total)
        per_run = dp.groupby("run")["epsilon"].first()
        assert per_run.max() < total < per_run.sum(), "composition costs more than one run, less than adding them"
        assert math.isinf(study.loc[site, "epsilon_study"]) and "runs without DP" in study.loc[site, "non_private"]


def test_dp_accounting_agrees_with_the_opacus_total(fold):
    """Google's dp-accounting, a second implementation: its RDP bound is within 5% of
    Opacus' (another grid of orders) and its PLD bound, tighter, never above it."""
    _, _, _, ledger, _ = fold
    for _, rows in ledger.groupby("site"):
        history = site_history(rows)
        ours = epsilon_of(history, 1e-5)
        theirs = independent_epsilons(history, 1e-5)
        assert theirs["rdp"] == pytest.approx(ours, rel=0.05)
        assert theirs["pld"] <= ours * 1.001
    sigma, q, steps = 1.1, 0.01, 1000
    single = [Mechanism("dp-sgd", sigma, q, steps)]
    assert independent_epsilons(single, 1e-5)["rdp"] == pytest.approx(epsilon_of(single, 1e-5), rel=0.02)
    assert independent_epsilons([Mechanism("exact", 0.0, 1.0, 1)], 1e-5) == {"rdp": math.inf, "pld": math.inf}


def test_a_study_of_dp_runs_only_has_a_finite_total(fold):
    _, _, _, ledger, _ = fold
    dp_only = ledger[ledger["target_epsilon"] == "2"]
    study = study_budget(dp_only, {})
    assert np.isfinite(study["epsilon_study"]).all() and (study["epsilon_study"] == study["epsilon_dp"]).all()


def test_the_ledger_does_not_reveal_a_site_size(fold):
    """The old ledger gave n twice: delta = 1/(10 n) and q = batch / n. Now delta is public
    and q comes from the released (noisy) count: n solved from the ledger is that noisy
    count, not the site's size."""
    sites, releases, _, ledger, _ = fold
    private = ledger[(ledger["target_epsilon"] == "2") & (ledger["mechanism"] == "dp-sgd")]
    assert private["delta"].nunique() == 1
    for site, rows in private.groupby("site"):
        n = len(sites[site].dropna(subset=["os_years", "os_status"]))
        solved = 16 / rows["sample_rate"].iloc[0]
        assert solved == pytest.approx(releases["dp"][site]["numeric"][0])
        assert abs(solved - n) > 0.5, f"{site}: the ledger's sample rate gives n = {n}"


def test_the_study_budget_survives_the_ledger_files(fold, tmp_path):
    """Through the jobs: each fold's ledger TSV, the study ledger, then the study budget: an
    empty release column read back must not turn DP-SGD rows into releases."""
    from fedheme.io import write_tsv
    from fedheme.jobs.train import privacy_ledger_job, study_budget_job
    from fedheme.privacy.ledger import read_ledger

    _, _, _, ledger, _ = fold
    write_tsv(tmp_path / "fold.tsv", ledger.drop(columns=["disease", "endpoint", "fold"]))
    privacy_ledger_job(ledgers=[tmp_path / "fold.tsv"], keys=[{"disease": "mds", "endpoint": "os", "fold": "loso-s3"}], out=tmp_path / "ledger.tsv")
    dp_only = read_ledger(tmp_path / "ledger.tsv").query("target_epsilon == '2'")
    write_tsv(tmp_path / "dp.tsv", dp_only)
    study_budget_job(ledger=tmp_path / "dp.tsv", non_private_releases={}, planned={}, out=tmp_path / "study.tsv")
    study = pd.read_csv(tmp_path / "study.tsv", sep="\t")
    direct = study_budget(dp_only, {})
    assert np.isfinite(study["epsilon_dp"]).all() and (study["releases"] == 1).all()
    assert study["epsilon_dp"].tolist() == pytest.approx(direct["epsilon_dp"].tolist(), rel=1e-6)


def test_cached_rdp_accounting_is_opacus_float_for_float():
    """epsilon_of keeps each mechanism's per-step RDP; the total is Opacus' own."""
    from opacus.accountants import RDPAccountant

    history = [Mechanism("release", 10.0, 1.0, 1), Mechanism("release", 7.5, 1.0, 1), Mechanism("dp-sgd", 1.13, 0.31, 180),
               Mechanism("dp-sgd", 0.9, 0.05, 1200)]  # fmt: skip
    reference = RDPAccountant()
    reference.history = [(m.noise_multiplier, m.sample_rate, m.steps) for m in history]
    for _ in range(2):  # the second call reads the cache
        assert epsilon_of(history, 1e-5) == reference.get_epsilon(delta=1e-5)


def test_noise_calibrations_are_shared_across_jobs_through_a_folder(tmp_path, monkeypatch):
    """A calibration computed by one job is read back, not recomputed, by the next; the
    file holds public numbers only."""
    from fedheme.privacy import accounting

    fixed = [Mechanism("training_release_all_s1", 10.0, 1.0, 1)]
    accounting.use_calibration_cache(tmp_path)
    try:
        sigma = accounting.calibrate_noise(3.0, 1e-5, 0.25, 120, fixed)
        (saved,) = tmp_path.glob("*.json")
        assert set(json.loads(saved.read_text())) == {"key", "noise_multiplier"}

        def recompute(*args):
            raise AssertionError("recomputed a cached calibration")

        monkeypatch.setattr(accounting, "_calibrate", recompute)  # a new process: nothing in memory
        again = accounting.calibrate_noise(3.0, 1e-5, 0.25, 120, [Mechanism("training_release_all_s2", 10.0, 1.0, 1)])
        assert again == sigma and epsilon_of(fixed + [Mechanism("dp-sgd", sigma, 0.25, 120)], 1e-5) <= 3.0
    finally:
        accounting.use_calibration_cache(None)
