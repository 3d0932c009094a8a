"""Tabular diseases: a researcher's CSV is checked cell by cell, the MM and SCD generators
have a known truth, and the binary path trains and evaluates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sksurv.metrics import concordance_index_censored

from conftest import ROOT
from fedheme.data.issues import ExportValidationError
from fedheme.data.tabular.ingest import assign_split
from fedheme.data.tabular.reading import read_tabular_site
from fedheme.data.tabular.simulate import GeneratorSettings, simulate_mm, simulate_scd
from fedheme.evaluation.metrics import EvaluationSettings, SiteOutcome, evaluate_binary
from fedheme.federated.config import DesignSettings
from fedheme.federated.design import design_matrix
from fedheme.federated.releases import training_release
from fedheme.federated.server import combine_releases
from fedheme.scores import iss, tcd_rule
from fedheme.standard.features import FeatureSpec
from fedheme.standard.tabular import TabularSpec

CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
MM, SCD = CONFIG["diseases"]["mm"], CONFIG["diseases"]["scd"]


def write(tmp_path, rows: list[str], name="site.csv"):
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return path


HEADER = "patient_id,age,b2m_mg_l,albumin_g_dl,ldh_high,del17p,pfs_years,pfs_status,os_years,os_status"


def test_a_valid_file_is_read_typed_and_missing_values_stay_missing(tmp_path):
    path = write(tmp_path, [HEADER, "p1,61,3.2,3.9,0,1,2.5,1,4.0,0", "p2,70,,3.1,NA,0,1.0,0,1.0,0"])
    frame = read_tabular_site(path, TabularSpec.from_config(MM))
    assert frame["patient_id"].tolist() == ["p1", "p2"]
    assert frame.loc[0, "del17p"] == 1.0 and math.isnan(frame.loc[1, "b2m_mg_l"]) and math.isnan(frame.loc[1, "ldh_high"])
    assert frame["pfs_years"].dtype == float


def test_every_problem_is_reported_with_file_line_and_column(tmp_path):
    path = write(tmp_path, [
        HEADER + ",split",
        "p1,61,abc,3.9,0,1,2.5,1,4.0,0,train",
        "p1,61,3.2,9.5,0,2,2.5,1,4.0,0,train",
        "p3,61,3.2,3.9,0,1,-1,1,4.0,0,later",
        "p4,61,3.2,3.9,0,1,,1,4.0,0,test",
    ])  # fmt: skip
    with pytest.raises(ExportValidationError) as info:
        read_tabular_site(path, TabularSpec.from_config(MM))
    message = str(info.value)
    for expected in (
        f"{path}, line 2, column 'b2m_mg_l': 'abc' is not a number",
        f"{path}, line 3, column 'patient_id': 'p1' already appears on line 2",
        f"{path}, line 3, column 'albumin_g_dl': 9.5 g/dL is outside the allowed range [0.5, 7] g/dL",
        f"{path}, line 3, column 'del17p': '2' is not 0/1",
        f"{path}, line 4, column 'pfs_years': follow-up -1 years is negative",
        f"{path}, line 4, column 'split': 'later' is not 'train' or 'test'",
        f"{path}, line 5, column 'pfs_years': outcome is missing",
    ):
        assert expected in message, message


def test_a_missing_required_column_is_named(tmp_path):
    path = write(tmp_path, ["patient_id,b2m_mg_l,pfs_years,pfs_status,os_years,os_status", "p1,3,1,1,1,1"])
    with pytest.raises(ExportValidationError, match=r"line 1, column 'age': required column is missing"):
        read_tabular_site(path, TabularSpec.from_config(MM))


def test_a_provided_split_is_kept_and_otherwise_drawn_by_event(tmp_path):
    spec = TabularSpec.from_config(MM)
    rows = [HEADER + ",split"] + [f"p{i},60,3,3.5,0,0,{1 + i % 5},{i % 2},{2 + i % 5},0,{'test' if i < 4 else 'train'}" for i in range(20)]
    frame = read_tabular_site(write(tmp_path, rows), spec)
    assert assign_split(frame, spec, "pfs", 0.5, np.random.default_rng(1))["split"].tolist() == ["test"] * 4 + ["train"] * 16
    drawn = assign_split(frame.drop(columns="split"), spec, "pfs", 0.3, np.random.default_rng(1))
    assert set(drawn["split"]) == {"train", "test"}
    assert drawn.groupby("pfs_status")["split"].apply(lambda s: (s == "test").sum()).tolist() == [3, 3]


def test_mm_generator_is_deterministic_heterogeneous_and_its_oracle_beats_iss():
    settings = GeneratorSettings("mm", n_patients=3000, seed=3)
    sites = simulate_mm([f"s{i}" for i in range(6)], settings)
    again = simulate_mm([f"s{i}" for i in range(6)], settings)
    pd.testing.assert_frame_equal(sites["s2"], again["s2"])
    cohort = pd.concat(sites.values())
    assert len(cohort) == 3000 and min(len(s) for s in sites.values()) >= settings.min_site_size
    ages = [s["age"].mean() for s in sites.values()]
    assert max(ages) - min(ages) > 2  # case mix differs by site
    assert (cohort["pfs_years"] <= cohort["os_years"] + 1e-9).all()
    event, time = cohort["pfs_status"].astype(bool), cohort["pfs_years"]
    oracle = concordance_index_censored(event, time, cohort["oracle_risk_pfs"])[0]
    stage = iss(cohort)["iss_stage"]
    assert oracle > concordance_index_censored(event, time, stage)[0] + 0.05 and 0.6 < oracle < 0.8


def test_scd_generator_rates_and_the_tcd_rule():
    sites = simulate_scd([f"s{i}" for i in range(5)], GeneratorSettings("scd", n_patients=3000, seed=4))
    cohort = pd.concat(sites.values())
    assert 0.12 < cohort["event_24m"].mean() < 0.3
    assert cohort.loc[cohort["age"] > 16, "tcd_cm_s"].isna().all()  # Doppler for ages 2-16 only
    rule = tcd_rule(cohort)["tcd_rule_score"]
    measured = rule.notna()
    oracle = roc_auc_score(cohort["event_24m"], cohort["oracle_prob_event24m"])
    assert oracle > roc_auc_score(cohort.loc[measured, "event_24m"], rule[measured]) + 0.1 and oracle > 0.7


def test_a_binary_endpoint_is_one_bin_and_releases_no_time_histogram():
    site = simulate_scd(["a", "b"], GeneratorSettings("scd", n_patients=400, seed=2))["a"]
    spec = FeatureSpec.from_config(SCD["features"], tuple(SCD["columns"]))
    settings = DesignSettings(spec, {k: tuple(v) for k, v in SCD["features"]["bounds"].items()}, ("event24m",), 10.0, 10, {"event24m": (None, "event_24m")})
    release = training_release(site, settings, "a", {"numeric": 0.0, "binary": 0.0, "histogram": 0.0}, np.random.default_rng(0))
    assert [m["name"] for m in release["mechanisms"]] == ["gaussian-numeric-aggregates", "gaussian-binary-aggregates"]
    design = design_matrix(site, settings, combine_releases([release], settings), "event24m")
    assert settings.bins("event24m") == 1 and (design.bin_index == 0).all()
    assert np.array_equal(design.event, site["event_24m"].to_numpy(dtype=np.float32))
    assert not np.isnan(design.x).any()  # Doppler of older children imputed


def test_binary_metrics_equal_scikit_learn_and_replicates_equal_repeated_rows():
    rng = np.random.default_rng(5)
    y = rng.uniform(size=300) < 0.25
    p = np.clip(0.25 + 0.3 * (y - 0.25) + rng.normal(0, 0.15, 300), 0.01, 0.99).round(2)  # ties
    outcome = SiteOutcome(np.zeros(300), y)
    settings = EvaluationSettings(n_bootstrap=5)
    outcome.draw(settings, rng)
    values, groups = evaluate_binary(outcome, p, p, settings)
    got = {v.metric: v for v in values}
    assert got["auroc"].value == roc_auc_score(y, p)
    assert got["auprc"].value == average_precision_score(y, p)
    assert got["brier"].value == brier_score_loss(y, p)
    assert got["calibration_in_the_large"].value == pytest.approx(p.mean() - y.mean())
    for b, w in enumerate(outcome.weights):
        rows = np.repeat(np.arange(300), w.astype(int))
        assert got["auroc"].replicates[b] == pytest.approx(roc_auc_score(y[rows], p[rows]), abs=1e-12)
        assert got["brier"].replicates[b] == pytest.approx(brier_score_loss(y[rows], p[rows]), abs=1e-12)
        assert got["auprc"].replicates[b] == pytest.approx(average_precision_score(y[rows], p[rows]), abs=1e-12)
    assert sum(g.n for g in groups) == 300
    few = SiteOutcome(np.zeros(300), np.arange(300) < 8)
    few.draw(settings, rng)
    assert all("8 events and 292 non-events" in v.note for v in evaluate_binary(few, p, p, settings)[0])


def test_one_bin_logistic_hazard_is_logistic_regression():
    """With K = 1 the model's loss is the binary cross-entropy of a logistic regression."""
    from fedheme.models.lightning import build_model
    from fedheme.models.losses import logistic_hazard_loss

    model = build_model("linear", 3, 1, 0)
    with torch.no_grad():
        model.risk_net.weight.copy_(torch.tensor([[0.5, -1.0, 0.2]]))
    x = torch.randn(10, 3)
    y = (torch.rand(10) < 0.5).float()
    logit = model(x)[:, 0]
    loss = logistic_hazard_loss(model(x), torch.zeros(10, dtype=torch.long), y)
    assert torch.allclose(loss, torch.nn.functional.binary_cross_entropy_with_logits(logit, y, reduction="none"))
    assert torch.allclose(1 - model.survival(x)[:, 0], torch.sigmoid(logit))
