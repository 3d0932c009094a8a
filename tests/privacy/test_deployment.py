"""``privacy.mode: deployment``: one accountant per site over the whole study.

Planning composes every release, DP-SGD run and evaluation table of each site from config
alone and refuses a grid over budget (or anything non-private) before any job runs; a job
that would overspend stops and writes nothing; a real run on the small config releases
nothing exact, spends what was planned, and the attacks of research mode find nothing.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import update_config

from conftest import DEPLOYMENT_CONFIG, ROOT, SMALL_CONFIG, make_workdir, snakemake
from fedheme.data.splits import subset_rows
from fedheme.io import read_json
from fedheme.jobs.train import training_release_job
from fedheme.privacy.budget import BUDGET_FILE, SiteAccountant
from fedheme.privacy.ledger import read_ledger
from fedheme.privacy.plan import BudgetExceeded, Charge, check_plan, over_budget_message, plan_study
from fedheme.privacy.accounting import Mechanism

SITES = pd.read_csv(ROOT / "tests" / "fixtures" / "sites_small.tsv", sep="\t", comment="#")


def deployment_config(**privacy) -> dict:
    """config.yaml, then the small config, then the deployment one (as snakemake merges them)."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for path in (SMALL_CONFIG, DEPLOYMENT_CONFIG):
        update_config(config, yaml.safe_load((ROOT / path).read_text()))
    config["privacy"].update(privacy)
    return config


def sites_by_disease() -> dict[str, list[str]]:
    return {d: SITES.loc[SITES["disease"] == d, "site_id"].tolist() for d in SITES["disease"].unique()}


def test_planning_refuses_a_grid_over_budget_before_any_job(tmp_path):
    plan = plan_study(deployment_config(), sites_by_disease(), independent=False)
    budget = 6.0
    over = plan[plan["epsilon_planned"] > budget]
    assert 0 < len(over) < len(plan)
    extra = tmp_path / "budget.yaml"
    extra.write_text(f"privacy: {{study_epsilon: {budget}}}\n")
    workdir = make_workdir(tmp_path / "run")
    result = snakemake(workdir, "--configfile", SMALL_CONFIG, DEPLOYMENT_CONFIG, str(extra), "--cores", "1", check=False)
    assert result.returncode != 0
    for row in over.itertuples():  # each site over budget named with its planned total
        assert over_budget_message(row.disease, row.site, row.epsilon_planned, budget, row.delta) in result.stdout + result.stderr
    assert not (workdir / "results").exists(), "nothing may run"


def test_planning_refuses_anything_non_private():
    config = deployment_config()
    config["training"].update(epsilons=[math.inf, 3.0], baselines=["pooled", "local"])
    config["training"].pop("sample_rate")
    config["diseases"]["scd"]["marker_features"] = ["tcd_cm_s"]
    with pytest.raises(ValueError) as refused:
        check_plan(config, sites_by_disease())
    message = str(refused.value)
    for expected in ("holds inf", "'pooled'", "marker_features", "sample_rate"):
        assert expected in message


def test_the_accountant_counts_a_rerun_once_changed_data_and_fresh_noise_again(tmp_path):
    charge = [Charge("mds/os/run", Mechanism("dp-sgd", 1.0, 0.1, 100))]
    keyed = SiteAccountant(tmp_path / "a", disease="mds", site="s1", study_epsilon=100, delta=1e-5)
    once = keyed.charge(charge, data="d1")
    assert keyed.charge(charge, data="d1") == once and len(keyed.spent()) == 1
    assert keyed.charge(charge, data="d2") > once, "the same run on changed data is a new release"
    fresh = SiteAccountant(tmp_path / "b", disease="mds", site="s1", study_epsilon=100, delta=1e-5, reproducible=False)
    fresh.charge(charge, data="d1")
    fresh.charge(charge, data="d1")
    assert len(fresh.spent()) == 2, "with the OS's randomness a rerun draws new noise: it counts again"
    assert oct((tmp_path / "a" / BUDGET_FILE).stat().st_mode & 0o777) == "0o600"


def test_a_job_that_would_overspend_stops_and_writes_nothing(small_sites, tmp_path):
    private = tmp_path / "sites" / "s1" / "private"
    private.mkdir(parents=True)
    patients = private / "patients.parquet"
    small_sites[0].cohort.patients.assign(split="train").to_parquet(patients)
    disease = {"kind": "iwgpm", "endpoints": ["os"], "features": {"numeric": ["age"], "binary": ["mut_TP53"], "bounds": {"age": [18, 100]}}}
    training = {"horizon_years": 10, "n_bins": 6, "delta": 1e-5, "release_noise": {"numeric": 2.0, "binary": 2.0, "histogram": 2.0}}
    privacy = {"mode": "deployment", "study_epsilon": 5.0, "randomness": "site_key", "min_cell_count": 5}
    out = tmp_path / "shared" / "release.json"
    arguments = dict(patients=patients, disease_name="mds", disease=disease, training=training, site_id="s1", mode="dp", seed=1, privacy=privacy)
    training_release_job(**arguments, subset="all", out=out)  # spends epsilon 4.0; a second release would pass 5
    spent = (private / BUDGET_FILE).read_text()
    with pytest.raises(BudgetExceeded, match="mds site s1 would spend epsilon"):
        training_release_job(**arguments, subset="train", out=tmp_path / "shared" / "release_train.json")
    assert not (tmp_path / "shared" / "release_train.json").exists()
    assert (private / BUDGET_FILE).read_text() == spent, "a refused charge is not recorded"
    assert out.exists()


# ------------------------------------------------------------------------------------------
# A real run in deployment mode
# ------------------------------------------------------------------------------------------


def test_the_plan_is_within_budget_spent_as_planned_and_recomputed_independently(deployment_run):
    results = deployment_run / "results"
    config = deployment_config()
    plan = plan_study(config, sites_by_disease()).set_index(["disease", "site"])
    assert (plan["epsilon_planned"] <= config["privacy"]["study_epsilon"]).all()
    # dp-accounting's RDP accountant (other orders) within 1%, its tighter PLD bound below
    assert np.allclose(plan["epsilon_planned_rdp_dp_accounting"], plan["epsilon_planned"], rtol=0.01)
    assert (plan["epsilon_planned_pld_dp_accounting"] <= plan["epsilon_planned"] + 1e-9).all()
    study = pd.read_csv(results / "privacy" / "study.tsv", sep="\t", keep_default_na=False, na_values=["NA"]).set_index(["disease", "site"])
    assert np.allclose(study["epsilon_planned"], plan.loc[study.index, "epsilon_planned"])
    # what the runs spent (fewer steps where a client skipped a round) never exceeds the plan
    assert (study["epsilon_dp"] <= study["epsilon_planned"] + 1e-9).all()
    for (disease, site), row in plan.iterrows():  # each site's own accountant holds exactly the plan
        accountant = SiteAccountant(results / disease / "sites" / site / "private", disease=disease, site=site,
                                    study_epsilon=config["privacy"]["study_epsilon"], delta=row["delta"])  # fmt: skip
        assert len(accountant.spent()) == row["charges"]
        assert math.isclose(accountant.epsilon(), row["epsilon_planned"], rel_tol=1e-9)


def test_nothing_exact_leaves_a_site(deployment_run):
    results = deployment_run / "results"
    shared = [p for p in results.rglob("*") if p.is_file() and "private" not in p.parts and "exports" not in p.parts]
    assert not [p for p in shared if p.name.endswith("_exact.json") or p.name.startswith("aggregates_")]
    ledger = read_ledger(results / "privacy" / "ledger.tsv")
    assert (ledger["mechanism"] != "non-private training").all() and (ledger["noise_multiplier"] > 0).all()
    assert np.isfinite(ledger["epsilon"].astype(float)).all()
    assert set(ledger["mechanism"]) >= {"dp-sgd", "gaussian-evaluation-table", "gaussian-numeric-aggregates"}
    study = pd.read_csv(results / "privacy" / "study.tsv", sep="\t", keep_default_na=False, na_values=["NA"])
    assert (study["non_private"] == "").all() and np.isfinite(study["epsilon_study"]).all()
    assert "deployment" in (results / "tables" / "summary.md").read_text()
    overview = pd.read_csv(results / "mds" / "tables" / "site_overview.tsv", sep="\t")
    assert len(overview) == 4


def test_the_sample_rate_in_the_ledger_is_public(deployment_run):
    ledger = read_ledger(deployment_run / "results" / "privacy" / "ledger.tsv")
    sgd = ledger[ledger["mechanism"] == "dp-sgd"]
    assert (sgd["sample_rate"] == deployment_config()["training"]["sample_rate"]).all()


def test_evaluation_releases_do_not_give_away_a_patient(deployment_run):
    """An attacker who knows every test patient of a site but one differences the released
    event counts against the others' events to learn the last one's outcome. In research
    mode the counts are exact and the attack is always right; here it is a coin toss."""
    results = deployment_run / "results"
    metrics = pd.read_csv(results / "tables" / "metrics.tsv", sep="\t", dtype={"epsilon": str, "seed": str})
    model = metrics[(metrics["test_site"] != "pooled") & (metrics["disease"] == "mds") & (metrics["epsilon"] == "3")]
    right, tried = 0, 0
    for row in model.itertuples():
        fold = f"loso-{row.test_site}" if row.design == "loso" else "within"
        patients = pd.read_parquet(results / "mds" / "sites" / row.test_site / "private" / "patients.parquet")
        rows = subset_rows(patients, "all" if row.design == "loso" else "test")
        rows = rows[rows["os_nh_years"].notna() & rows["os_nh_status"].notna()]
        events = (rows["os_nh_status"].astype(bool) & (rows["os_nh_years"] < 10)).to_numpy()
        assert row.n != len(rows) or row.events != events.sum(), f"{fold} at {row.test_site}: exact counts released"
        for target in range(len(events)):  # everyone else's events known: guess the target's
            others = events.sum() - events[target]
            right += int((row.events - others >= 0.5) == events[target])
            tried += 1
    assert tried > 500 and right / tried < 0.65


def test_no_site_key_leaves_its_site_in_deployment(deployment_run):
    from fedheme.privacy.randomness import KEY_FILE

    results = deployment_run / "results"
    secrets = [k.read_bytes() for k in results.rglob(KEY_FILE)]
    assert len(secrets) == len(SITES)
    for path in results.rglob("*"):
        if path.is_file() and "private" not in path.parts:
            data = path.read_bytes()
            assert not any(s in data or s.hex().encode() in data for s in secrets), f"{path} holds a site key"


def test_the_overview_is_post_processing_of_the_dp_release(deployment_run):
    from fedheme.report.overview import aggregates_from_release

    results = deployment_run / "results"
    features = deployment_config()["diseases"]["mds"]["features"]
    release = read_json(results / "mds" / "sites" / "siteA" / "shared" / "training_release_all.json")["dp-s1"]
    aggregates = aggregates_from_release(release, features)
    overview = pd.read_csv(results / "mds" / "tables" / "site_overview.tsv", sep="\t").set_index("site_id")
    assert overview.loc["siteA", "n"] == aggregates["n"] == round(release["numeric"][0])
    true_n = len(pd.read_parquet(results / "mds" / "sites" / "siteA" / "private" / "patients.parquet"))
    assert abs(aggregates["n"] - true_n) < 200  # noisy, not wild
    assert Path(results / "mds" / "figures" / "site_heterogeneity.png").exists()
