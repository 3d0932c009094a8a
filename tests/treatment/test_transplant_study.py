"""The transplant study end to end on small simulated sites: federated training with the
time-dependent coding, a held-out site's evaluation, the cross-site tables and the
clinician's command."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fedheme.cli import main
from fedheme.federated.config import DesignSettings, TrainConfig
from fedheme.federated.fold import FoldInputs, train_fold
from fedheme.federated.releases import training_release
from fedheme.models.bundle import save_bundle
from fedheme.privacy.randomness import SiteRandomness
from fedheme.scores.mds import ipssm
from fedheme.standard.features import FeatureSpec
from fedheme.treatment.coding import TransplantCoding
from fedheme.treatment.evaluation import evaluate_transplant_site
from fedheme.treatment.pooling import effect_table, over_seeds, pool_transplant_metrics, term_names

FEATURES = {"numeric": ["age", "hb_g_dl", "plt_1e9_l", "bm_blast_pct", "cyto_ordinal"], "binary": ["mut_TP53", "mut_SF3B1"],
            "log1p": ["plt_1e9_l", "bm_blast_pct"],
            "bounds": {"age": [18, 100], "hb_g_dl": [4, 17], "plt_1e9_l": [0, 7.3], "bm_blast_pct": [0, 3.1], "cyto_ordinal": [0, 4]}}  # fmt: skip
DESIGN = {"kind": "iwgpm", "features": FEATURES, "endpoints": ["os"], "horizon_years": 10.0, "n_bins": 6}
SETTINGS = DesignSettings(FeatureSpec.from_config(FEATURES), {k: tuple(v) for k, v in FEATURES["bounds"].items()}, ("os",), 10.0, 6)
CODING = TransplantCoding((0.5, 1.0, 2.0, 4.0), 8.0)
NOISE = {"numeric": 10.0, "binary": 10.0, "histogram": 10.0}


@pytest.fixture(scope="module")
def study(small_sites, tmp_path_factory):
    """A loso fold trained on s1 and s2 (held out: s3), two seeds, and its bundle on disk."""
    sites = {s.site_id: s.cohort.patients for s in small_sites}
    train = {k: v for k, v in sites.items() if k != "s3"}
    releases = {"exact": {k: training_release(v, SETTINGS, k, {n: 0.0 for n in NOISE}, np.random.default_rng(1)) for k, v in train.items()}}
    for seed in (1, 2):
        releases[f"dp-s{seed}"] = {k: training_release(v, SETTINGS, k, NOISE, np.random.default_rng(seed)) for k, v in train.items()}
    keys = {k: SiteRandomness(bytes([i + 1]) * 32) for i, k in enumerate(train)}
    base = TrainConfig.from_config({"model": "linear", "rounds": 4, "local_epochs": 1, "batch_size": 32, "lr": 0.5, "clip_norm": 1.0,
                                    "fedprox_mu": 0.1, "fedadam": {"server_lr": 0.05, "beta1": 0.9, "beta2": 0.99, "tau": 0.001},
                                    "client_dropout": 0.0, "delta": 1e-5})  # fmt: skip
    bundle, ledger, _ = train_fold(FoldInputs("loso-s3", train, releases, keys), settings=SETTINGS, endpoint="hsct", base=base,
                                   strategies=["fedavg"], epsilons=[math.inf, 3.0], seeds=[1, 2], baselines=["pooled", "local", "cox"],
                                   checkpoint_dir=None, treatment=CODING)  # fmt: skip
    bundle["design"] = DESIGN
    bundle["treatment"]["delay_years"] = 1.0  # as train_fold_job records it
    path = tmp_path_factory.mktemp("hsct") / "models.pt"
    save_bundle(path, bundle)
    return sites, bundle, ledger, path


def test_training_writes_transplant_terms_and_accounts_every_dp_run(study):
    _, bundle, ledger, _ = study
    assert bundle["n_treatment"] == CODING.n_treatment and bundle["treatment"]["edges"] == list(CODING.edges)
    strategies = {r["strategy"] for r in bundle["runs"]}
    assert strategies == {"fedavg", "pooled", "local", "cox"}
    assert {r["kind"] for r in bundle["runs"] if r["strategy"] == "cox"} == {"cox_tv"}  # lifelines' time-varying Cox
    for run in bundle["runs"]:
        assert tuple(run["weights"]["treatment.weight"].shape) == (1, CODING.n_treatment)
    # lifelines fits every transplant term of the coding (their agreement with the federated
    # terms is reported on the real cohort, in hsct_effects.tsv)
    cox = next(r for r in bundle["runs"] if r["strategy"] == "cox")["weights"]["treatment.weight"].numpy().ravel()
    assert np.isfinite(cox).all() and np.abs(cox).max() > 0
    dp = ledger[ledger["target_epsilon"] == "3"]
    assert len(dp) and dp["epsilon"].max() <= 3.0 + 1e-6 and set(dp["site"]) == {"s1", "s2"}


def test_held_out_site_evaluation_and_cross_site_tables(study):
    sites, bundle, _, _ = study
    patients = sites["s3"]
    scores = pd.concat([patients[["patient_id"]], ipssm(patients)], axis=1)
    validation, rmst = evaluate_transplant_site(bundle, patients, scores, disease="mds", site_id="s3", settings=SETTINGS,
                                                randomness=SiteRandomness(b"\x09" * 32), taus=[8.0, 5.0], delay_years=1.0,
                                                n_bootstrap=30, confidence=0.95, min_cell_count=5)  # fmt: skip
    c = validation[validation["metric"] == "c_td"].set_index("strategy")
    assert {"ipssm", "fedavg", "pooled", "local"} <= set(c.index)
    assert 0.5 < c.loc["ipssm", "value"] < 1.0 and c.loc["ipssm", "ci_low"] <= c.loc["ipssm", "value"] <= c.loc["ipssm", "ci_high"]
    gains = rmst[rmst["metric"] == "rmst_gain_8y_at_diagnosis"]
    # the gain is the difference of the two policies' means, category by category
    for _, row in gains[gains["value"].notna()].iterrows():
        same = rmst[(rmst["endpoint"] == row["endpoint"]) & (rmst["strategy"] == row["strategy"]) & (rmst["seed"] == row["seed"])
                    & (rmst["epsilon"] == row["epsilon"])].set_index("metric")["value"]  # fmt: skip
        assert row["value"] == pytest.approx(same["rmst_8y_at_diagnosis"] - same["rmst_8y_never"], abs=2e-4)
    sizes = scores.set_index("patient_id")["ipssm_category"].value_counts()
    small = [c for c, k in sizes.items() if 0 < k < 5]
    assert small, "the test site should have a small category"
    hidden = rmst[rmst["endpoint"].isin([f"hsct:{c}" for c in small] + ["hsct:all"])]
    # a small category is withheld, and so is the row of all patients, which would give it back
    assert hidden["value"].isna().all() and hidden["n"].isna().all()
    assert hidden.loc[hidden["endpoint"] == "hsct:all", "note"].str.contains("give it back").all()
    shown = rmst[rmst["value"].notna()]
    assert len(shown) and (shown["n"] >= 5).all()
    assert (shown["events"].isna() | ((shown["events"] >= 5) & (shown["n"] - shown["events"] >= 5))).all()
    largest = sizes.index[0]
    summary = over_seeds(pool_transplant_metrics([rmst], 0.95), 0.95)
    row = summary[(summary["strategy"] == "fedavg") & (summary["epsilon"] == "3") & (summary["metric"] == "rmst_gain_8y_at_diagnosis")
                  & (summary["category"] == largest)].iloc[0]  # fmt: skip
    assert row["seeds"] == 2 and row["sd_seeds"] > 0 and row["ci_low"] < row["value"] < row["ci_high"]
    effects = effect_table(bundle)
    assert set(effects["term"]) == set(term_names(bundle["treatment"])) and set(effects["strategy"]) == {"fedavg", "pooled", "cox"}
    assert effects.loc[effects["strategy"] == "cox", "scale"].str.contains("hazard ratio").all()
    assert (effects.loc[effects["strategy"] == "pooled", "minus_pooled"] == 0).all()


def test_hsct_command_on_a_clinician_file(study, tmp_path, capsys):
    sites, _, _, path = study
    source = tmp_path / "patients.parquet"
    sites["s3"].iloc[:25].to_parquet(source)
    out = tmp_path / "hsct.tsv"
    assert main(["hsct", str(source), "--model", str(path), "-o", str(out), "--epsilon", "3"]) == 0
    printed = capsys.readouterr().out
    assert "not a randomised trial" in printed
    table = pd.read_csv(out, sep="\t")
    assert len(table) == 25 and (table["runs"] == 2).all()
    done = table[table["note"].isna()]
    assert len(done) > 15
    assert np.allclose(done["rmst_gain_8y_at_diagnosis"], done["rmst_8y_at_diagnosis"] - done["rmst_8y_never"], atol=2e-3)
    assert (done["rmst_gain_8y_at_diagnosis_low"] <= done["rmst_gain_8y_at_diagnosis_high"]).all()
    assert np.allclose(done["rmst_gain_8y_delayed"], done["rmst_8y_delayed"] - done["rmst_8y_never"], atol=2e-3)
    assert {"rmst_5y_never", "rmst_gain_5y_at_diagnosis", "rmst_gain_5y_delayed_high"} <= set(table.columns)
    assert ((done["rmst_8y_never"] > 0) & (done["rmst_8y_never"] <= 8)).all()


def test_hsct_command_rejects_bad_input_naming_line_and_column(study, tmp_path, capsys):
    sites, _, _, path = study
    frame = sites["s3"].iloc[:5].drop(columns=["age"]).copy()
    frame["hb_g_dl"] = frame["hb_g_dl"].astype(float)
    frame.iloc[1, frame.columns.get_loc("hb_g_dl")] = -3.0
    source = tmp_path / "patients.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "hsct.tsv"
    assert main(["hsct", str(source), "--model", str(path), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{source}, line 1, column 'age': required column is missing" in err
    assert f"{source}, line 3, column 'hb_g_dl'" in err
    assert not out.exists()
    good = tmp_path / "good.parquet"
    sites["s3"].iloc[:5].to_parquet(good)
    assert main(["hsct", str(good), "--model", str(path), "-o", str(out), "--epsilon", "0.5"]) == 2
    assert "have epsilon ['3', 'inf'], not '0.5'" in capsys.readouterr().err
    assert not out.exists()
    not_a_bundle = tmp_path / "models.pt"
    not_a_bundle.write_text("not a model")
    assert main(["hsct", str(good), "--model", str(not_a_bundle), "-o", str(out)]) == 2
    assert "cannot read the model bundle" in capsys.readouterr().err
    assert not out.exists()
