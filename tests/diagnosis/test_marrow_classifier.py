"""The marrow-blast classifier: a softmax model through the same DP trainer (loss summed per
patient, per-patient clipping, the same accountant and ledger), scikit-learn's reference,
and its evaluation at a test site beside the peripheral-blast rule."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from opacus import GradSampleModule
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from fedheme.diagnosis.marrow import PERIPHERAL_CUTS, class_labels, design_settings, peripheral_rule
from fedheme.diagnosis.marrow_evaluation import balanced_accuracy, evaluate_marrow_site, macro_auroc
from fedheme.evaluation.metrics import EvaluationSettings
from fedheme.federated.config import TrainConfig
from fedheme.federated.design import design_matrix
from fedheme.federated.fold import FoldInputs, pooled_design, train_fold
from fedheme.federated.reference import fit_multinomial
from fedheme.federated.releases import training_release
from fedheme.federated.server import combine_releases
from fedheme.grid import DIAGNOSIS
from fedheme.models.bundle import bundle_model
from fedheme.models.losses import softmax_loss
from fedheme.models.networks import LinearSoftmaxNet, build_network
from fedheme.privacy.accounting import epsilon_of
from fedheme.privacy.randomness import SiteRandomness

STUDY = {
    "cuts": [5, 10],
    "features": {
        "numeric": ["age", "hb_g_dl", "plt_1e9_l", "anc_1e9_l", "pb_blast_pct"],
        "log1p": ["plt_1e9_l", "anc_1e9_l", "pb_blast_pct"],
        "binary": ["sex_male", "mut_TP53", "mut_SF3B1", "mut_RUNX1"],
        "bounds": {"age": [18, 100], "hb_g_dl": [4, 20], "plt_1e9_l": [0, 6.91], "anc_1e9_l": [0, 3.04], "pb_blast_pct": [0, 3.04]},
    },
}
TRAINING = {"horizon_years": 10, "n_bins": 6}
SETTINGS = design_settings(STUDY, TRAINING)
NOISE = {"numeric": 10.0, "binary": 10.0}
EXACT = {k: 0.0 for k in NOISE}
#: Marrow blasts of each simulated class (%): the class is what the model must recover.
CLASS_BLASTS = (2.0, 7.0, 14.0)


def with_simulated_blasts(patients: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The site's patients with marrow blasts drawn from a known multinomial model of
    peripheral blasts, haemoglobin and TP53 (the truth the classifier should find)."""
    rng = np.random.default_rng(seed)
    pb = np.log1p(patients["pb_blast_pct"].fillna(0.0).to_numpy())
    hb = patients["hb_g_dl"].fillna(10.0).to_numpy()
    tp53 = patients["mut_TP53"].fillna(0.0).to_numpy()
    logits = np.column_stack([np.zeros(len(pb)), -0.5 + 1.5 * pb - 0.6 * (hb - 10) + tp53, -1.0 + 2.5 * pb - 0.9 * (hb - 10) + 2 * tp53])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    label = np.array([rng.choice(3, p=row) for row in p])
    out = patients.copy()
    out["bm_blast_pct"] = np.asarray(CLASS_BLASTS)[label]
    out["true_p_high"] = 1.0 - p[:, 0]  # the truth's P(>= 5%), for the test only
    return out


@pytest.fixture(scope="module")
def marrow_sites(small_sites):
    return {s.site_id: with_simulated_blasts(s.cohort.patients, k) for k, s in enumerate(small_sites)}


def test_a_marrow_measurement_cannot_be_a_feature():
    for feature in ("bm_blast_pct", "cna_del5q", "cyto_ordinal", "ringed_sideroblasts_pct"):
        study = {**STUDY, "features": {**STUDY["features"], "binary": STUDY["features"]["binary"] + [feature]}}
        with pytest.raises(ValueError, match=f"{feature}.*marrow sample"):
            design_settings(study, TRAINING)


def test_classes_follow_the_cut_points_and_unknown_blasts_are_left_out():
    patients = pd.DataFrame({"patient_id": list("abcdef"), "bm_blast_pct": [4.9, 5.0, 9.99, 10.0, 19.5, np.nan], "age": 70.0,
                             "hb_g_dl": 10.0, "plt_1e9_l": 100.0, "anc_1e9_l": 2.0, "pb_blast_pct": 0.0, "sex": "M",
                             "mut_TP53": 0.0, "mut_SF3B1": 1.0, "mut_RUNX1": np.nan})  # fmt: skip
    stats = combine_releases([training_release(patients, SETTINGS, "s", EXACT, np.random.default_rng(0))], SETTINGS)
    matrix = design_matrix(patients, SETTINGS, stats, DIAGNOSIS)
    assert matrix.patient_id.tolist() == list("abcde")
    assert matrix.bin_index.tolist() == [0, 1, 1, 2, 2]
    assert SETTINGS.bins(DIAGNOSIS) == 3 and SETTINGS.task(DIAGNOSIS) == "softmax"
    assert SETTINGS.release_parts == ("numeric", "binary")  # no time axis to release
    assert class_labels([5, 10]) == ["<5%", "5-<10%", ">=10%"]


def test_the_peripheral_rule_reads_the_who_2016_cut_points():
    assert PERIPHERAL_CUTS == (2.0, 5.0)
    assert peripheral_rule(np.array([0.0, 1.9, 2.0, 4.9, 5.0, 19.0, np.nan])).tolist() == [0, 0, 1, 1, 2, 2, -1]


def test_the_softmax_loss_is_a_sum_over_patients_and_clipped_per_patient():
    torch.manual_seed(0)
    x, label = torch.randn(7, 4), torch.tensor([0, 1, 2, 0, 2, 1, 0])
    net = build_network("linear", 4, 3, 0, task="softmax")
    torch.nn.init.normal_(net.risk_net.weight)
    per_patient = softmax_loss(net(x), label)
    expected = -torch.log_softmax(net(x), dim=1)[torch.arange(7), label]
    assert torch.allclose(per_patient, expected)
    module = GradSampleModule(net, loss_reduction="sum")
    softmax_loss(module(x), label).sum().backward()
    for i in range(7):  # Opacus' per-sample gradient is that patient's own gradient
        single = build_network("linear", 4, 3, 0, task="softmax")
        single.load_state_dict(net.state_dict())
        softmax_loss(single(x[i : i + 1]), label[i : i + 1]).sum().backward()
        for name, param in single.named_parameters():
            assert torch.allclose(dict(module.named_parameters())[f"_module.{name}"].grad_sample[i], param.grad, atol=1e-6)


def test_the_lightning_classifier_is_the_trainers_network_and_fits_with_a_lightning_trainer():
    import lightning.pytorch as pl

    from fedheme.models.lightning import build_model

    module, plain = build_model("linear", 4, 3, 5, task="softmax"), build_network("linear", 4, 3, 5, task="softmax")
    assert module.state_dict().keys() == plain.state_dict().keys()
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    label = (x[:, 0] > 0).long() + (x[:, 0] > 1).long()
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, label, torch.ones(64)), batch_size=16)
    before = float(softmax_loss(module(x), label).sum())
    pl.Trainer(max_epochs=5, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
               enable_model_summary=False).fit(module, data)  # fmt: skip
    assert float(softmax_loss(module(x), label).sum()) < before


def test_the_sklearn_reference_predicts_what_scikit_learn_predicts(marrow_sites):
    stats = combine_releases([training_release(p, SETTINGS, s, EXACT, np.random.default_rng(0)) for s, p in marrow_sites.items()], SETTINGS)
    design = pooled_design([design_matrix(p, SETTINGS, stats, DIAGNOSIS) for p in marrow_sites.values()])
    net = LinearSoftmaxNet(design.x.shape[1], 3)
    net.load_state_dict(fit_multinomial(design, 3))
    expected = LogisticRegression(C=1.0, max_iter=5000).fit(design.x.astype(float), design.bin_index).predict_proba(design.x.astype(float))
    with torch.no_grad():
        assert np.allclose(net.probabilities(torch.from_numpy(design.x)).numpy(), expected, atol=1e-4)


def test_two_classes_and_a_class_missing_map_into_the_softmax_network():
    """scikit-learn fits one logit for two classes; a class absent from the training sites
    gets a prior of nearly 0."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 2)).astype(np.float32)
    label = (x[:, 0] + rng.normal(size=300) > 0).astype(np.int64) * 2  # classes 0 and 2 only
    from fedheme.federated.design import DesignMatrix

    design = DesignMatrix(x, label, np.ones(300, np.float32), np.zeros(300), label.astype(float), np.arange(300).astype(str))
    net = LinearSoftmaxNet(2, 3)
    net.load_state_dict(fit_multinomial(design, 3))
    expected = LogisticRegression(C=1.0, max_iter=5000).fit(x, label).predict_proba(x)
    with torch.no_grad():
        p = net.probabilities(torch.from_numpy(x)).numpy()
    assert np.allclose(p[:, [0, 2]], expected, atol=1e-4) and (p[:, 1] < 1e-10).all()


def test_a_small_class_is_not_estimated_and_its_size_is_not_said(trained, marrow_sites):
    test_site, bundle, _ = trained
    rows = marrow_sites[test_site].copy()
    high = rows.index[rows["bm_blast_pct"] >= 10]
    rows.loc[high[3:], "bm_blast_pct"] = 2.0  # 3 patients left in the top class, fewer than 5
    metrics, _, _ = evaluate_marrow_site(bundle, rows, design_settings=SETTINGS, settings=EvaluationSettings(n_bootstrap=20), disease="mds",
                                         site_id=test_site, randomness=SiteRandomness(b"k" * 32, ("test",)), declared=("fedavg", "3", "1"))  # fmt: skip
    small = metrics[metrics["metric"].isin(["macro_auroc", "balanced_accuracy"])]
    assert small["value"].isna().all()
    assert small["note"].str.contains("a class has fewer than 5 patients").all() and not small["note"].str.contains(r"\b3\b").any()


def test_the_release_job_names_the_classifiers_release_and_counts_labelled_patients_only(small_sites, tmp_path):
    from fedheme.io import read_json
    from fedheme.jobs.train import training_releases_job

    private = tmp_path / "s1" / "private"
    private.mkdir(parents=True)
    patients = small_sites[0].cohort.patients.assign(split="train")
    patients.loc[patients.index[:7], "bm_blast_pct"] = np.nan
    patients.to_parquet(private / "patients.parquet")
    out = tmp_path / "release.json"
    training_releases_job(patients=private / "patients.parquet", disease_name="mds", disease={}, training={**TRAINING, "delta": 1e-5,
                          "release_noise": NOISE}, site_id="s1", subset="all", modes=["exact", "dp-s1"], seed=7,
                          privacy={"randomness": "site_key", "min_cell_count": 5}, out=out, diagnosis=STUDY)  # fmt: skip
    released = read_json(out)
    assert released["exact"]["numeric"][0] == patients["bm_blast_pct"].notna().sum() < len(patients) - 6
    assert {m["release"] for m in released["dp-s1"]["mechanisms"]} == {"marrow_blasts_release_all_s1"}
    assert {m["release"] for m in released["exact"]["mechanisms"]} <= {"marrow_blasts_release_all"}


def test_the_multiclass_metrics_are_scikit_learns_and_bootstrap_weights_repeat_rows():
    rng = np.random.default_rng(3)
    label = rng.integers(0, 3, 120)
    scores = rng.dirichlet(np.ones(3), 120) + np.eye(3)[label] * 0.3
    predicted = scores.argmax(axis=1)
    ones = np.ones((1, 120))
    assert macro_auroc(ones, label, scores)[0] == pytest.approx(roc_auc_score(label, scores / scores.sum(1, keepdims=True), multi_class="ovr"))
    assert balanced_accuracy(ones, label, predicted, 3)[0] == pytest.approx(balanced_accuracy_score(label, predicted))
    counts = rng.multinomial(120, np.full(120, 1 / 120))
    rows = np.repeat(np.arange(120), counts)
    assert macro_auroc(counts[None, :].astype(float), label, scores)[0] == pytest.approx(
        roc_auc_score(label[rows], scores[rows] / scores[rows].sum(1, keepdims=True), multi_class="ovr"))
    assert balanced_accuracy(counts[None, :].astype(float), label, predicted, 3)[0] == pytest.approx(balanced_accuracy_score(label[rows], predicted[rows]))


@pytest.fixture(scope="module")
def trained(marrow_sites):
    """The leave-one-site-out fold of the first site: FedAvg without DP and at epsilon 3,
    the pooled model and scikit-learn's reference."""
    test_site, *train = list(marrow_sites)
    train_sites = {s: marrow_sites[s] for s in train}
    keys = {s: bytes([k + 1]) * 32 for k, s in enumerate(train)}
    releases = {"exact": {s: training_release(p, SETTINGS, s, EXACT, np.random.default_rng(0)) for s, p in train_sites.items()},
                "dp-s1": {s: training_release(p, SETTINGS, s, NOISE, np.random.default_rng(1), release="marrow_blasts_release_all_s1")
                          for s, p in train_sites.items()}}  # fmt: skip
    draws = {s: SiteRandomness(keys[s], ("test",)) for s in train}
    config = TrainConfig(rounds=40, batch_size=64, lr=1.0, clip_norm=1.0, delta=1e-5)
    bundle, ledger, _ = train_fold(FoldInputs(f"loso-{test_site}", train_sites, releases, draws), settings=SETTINGS, endpoint=DIAGNOSIS,
                                   base=config, strategies=["fedavg"], epsilons=[math.inf, 3.0], seeds=[1],
                                   baselines=["pooled", "sklearn", "cox"], checkpoint_dir=None)  # fmt: skip
    return test_site, bundle, ledger


def test_the_classifier_trains_through_the_dp_trainer_and_its_ledger(trained):
    _, bundle, ledger = trained
    assert bundle["task"] == "softmax" and bundle["categories"] == [5.0, 10.0] and bundle["n_bins"] == 3
    strategies = {(r["strategy"], r["epsilon"]) for r in bundle["runs"]}
    assert strategies == {("fedavg", "inf"), ("fedavg", "3"), ("pooled", "inf"), ("sklearn", "inf")}  # no Cox model of a category
    private = ledger[(ledger["target_epsilon"] == "3")]
    for site, rows in private.groupby("site"):
        assert "marrow_blasts_release_all_s1" in set(rows["release"])  # the classifier's own release, composed with its steps
        sigma_q_steps = [(float(r.noise_multiplier), float(r.sample_rate), int(r.steps)) for r in rows.itertuples()]
        from fedheme.privacy.accounting import Mechanism

        assert epsilon_of([Mechanism("m", *m) for m in sigma_q_steps], 1e-5) <= 3.0 + 1e-6
    assert set(ledger.loc[ledger["strategy"] == "sklearn", "note"]) == {"no DP: multinomial logistic regression (scikit-learn) on the pooled training sites"}


def test_the_test_site_scores_every_model_and_the_rule_on_the_same_patients(trained, marrow_sites):
    test_site, bundle, _ = trained
    metrics, calibration, predictions = evaluate_marrow_site(
        bundle, marrow_sites[test_site], design_settings=SETTINGS, settings=EvaluationSettings(n_bootstrap=50), disease="mds",
        site_id=test_site, randomness=SiteRandomness(b"k" * 32, ("test",)), declared=("fedavg", "3", "1"))  # fmt: skip
    auroc = metrics[metrics["metric"] == "auroc_ge5"].set_index("strategy")["value"]
    # the models find the truth: scikit-learn's and the pooled one near the true model's
    # AUROC, FedAvg without DP near them, at epsilon 3 well above chance
    site = marrow_sites[test_site]
    truth = roc_auc_score(site["bm_blast_pct"] >= 5, site["true_p_high"])
    assert auroc["sklearn"] > truth - 0.03 and abs(auroc["pooled"] - auroc["sklearn"]) < 0.03
    assert abs(auroc["fedavg"].max() - auroc["sklearn"]) < 0.03 and auroc["fedavg"].min() > 0.55
    assert set(metrics["metric"]) == {"auroc_ge5", "auprc_ge5", "brier_ge5", "calibration_in_the_large_ge5", "macro_auroc", "balanced_accuracy"}
    assert (metrics["n"] == len(predictions) // 4).all()  # every model on the same patients
    rule = metrics[metrics["strategy"] == "peripheral_blasts"]
    assert rule["note"].str.contains("have a peripheral blast count").all()
    assert rule.loc[rule["metric"] == "brier_ge5", "value"].isna().all()  # a rule has no probability
    assert not calibration.empty and set(calibration["strategy"]) == {"fedavg"} and (calibration["n"] >= 5).all()
    assert "patient_id" not in metrics.columns and "patient_id" not in calibration.columns
    with torch.no_grad():  # a bundle's run loads as the softmax network it was trained as
        p = bundle_model(bundle, bundle["runs"][0]).probabilities(torch.zeros(2, bundle["n_features"]))
    assert torch.allclose(p.sum(dim=1), torch.ones(2))


@pytest.fixture(scope="module")
def blasts_bundle(trained, tmp_path_factory):
    """The trained fold saved as the train job saves it (with the classifier's config)."""
    from fedheme.models.bundle import save_bundle

    _, bundle, _ = trained
    path = tmp_path_factory.mktemp("bundle") / "models.pt"
    save_bundle(path, {**bundle, "diagnosis": STUDY})
    return path


def test_blasts_command_on_a_clinician_file(blasts_bundle, marrow_sites, tmp_path, capsys):
    from fedheme.cli import main

    patients = next(iter(marrow_sites.values())).iloc[:20].drop(columns=["bm_blast_pct", "true_p_high", "mut_RUNX1"])
    source = tmp_path / "patients.parquet"
    patients.to_parquet(source)
    out = tmp_path / "blasts.tsv"
    assert main(["blasts", str(source), "--model", str(blasts_bundle), "-o", str(out), "--epsilon", "3"]) == 0
    assert "not a marrow examination" in capsys.readouterr().out
    table = pd.read_csv(out, sep="\t")
    assert len(table) == 20 and (table["runs"] == 1).all() and set(table["model"]) == {"fedavg, epsilon 3"}
    p = table[["p_<5%", "p_5-<10%", "p_>=10%"]].to_numpy()
    assert np.allclose(p.sum(axis=1), 1.0, atol=2e-3)
    assert np.allclose(table["p_ge5"], p[:, 1:].sum(axis=1), atol=2e-3)
    assert (table["p_ge5_low"] <= table["p_ge5"]).all() and (table["p_ge5"] <= table["p_ge5_high"]).all()
    assert table["note"].str.contains("mut_RUNX1").all()  # a gene the file lacks: imputed, and said
    assert (table["most_probable"] == np.array(["<5%", "5-<10%", ">=10%"])[p.argmax(axis=1)]).all()
    assert main(["blasts", str(source), "--model", str(blasts_bundle), "-o", str(out), "--strategy", "sklearn"]) == 0
    assert set(pd.read_csv(out, sep="\t")["model"]) == {"sklearn, epsilon inf"}


def test_blasts_command_rejects_bad_input_and_other_bundles(blasts_bundle, marrow_sites, tmp_path, capsys):
    from fedheme.cli import main

    frame = next(iter(marrow_sites.values())).iloc[:5].drop(columns=["pb_blast_pct"]).copy()
    frame["hb_g_dl"] = frame["hb_g_dl"].astype(float)
    frame.iloc[2, frame.columns.get_loc("hb_g_dl")] = -1.0
    source = tmp_path / "patients.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "blasts.tsv"
    assert main(["blasts", str(source), "--model", str(blasts_bundle), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{source}, line 1, column 'pb_blast_pct': required column is missing" in err
    assert f"{source}, line 4, column 'hb_g_dl'" in err
    assert not out.exists()
    good = tmp_path / "good.parquet"
    next(iter(marrow_sites.values())).iloc[:5].to_parquet(good)
    prognostic = tmp_path / "prognostic.pt"
    torch.save({"runs": [], "task": "hazard"}, prognostic)
    assert main(["blasts", str(good), "--model", str(prognostic), "-o", str(out)]) == 2
    assert "not a marrow-blast classifier bundle" in capsys.readouterr().err
    assert not out.exists()
