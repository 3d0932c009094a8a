"""The networked federation's logic without the network: the coordinator and the hospitals'
nodes called in one process train exactly the pipeline's runs, and a node refuses what its
study does not plan or what would reuse its noise."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import SMALL_CONFIG, make_workdir, snakemake
from network_sites import ENDPOINT, FOLD, STUDY, LocalTransport, max_difference, node_folders, pipeline_run, run_file

from fedheme.models.bundle import load_bundle
from fedheme.network.coordinator import CoordinatorSettings, coordinate
from fedheme.network.node import NodeError, NodeSettings, SiteNode
from fedheme.network.study import NetworkRun, load_study_config

TRAINING = f"results/mds/training/{ENDPOINT}/{FOLD}"


def test_networked_runs_equal_the_pipelines_in_process_runs(small_run, tmp_path):
    nodes = node_folders(small_run, tmp_path / "nodes")
    runs = [{"strategy": "fedavg", "epsilon": 3.0, "seed": 1}, {"strategy": "fedadam", "epsilon": 3.0, "seed": 1},
            {"strategy": "fedavg", "epsilon": math.inf, "seed": 1}]  # fmt: skip
    settings = CoordinatorSettings.read(run_file(tmp_path / "run.toml", runs))
    bundle = coordinate(LocalTransport(nodes), settings)
    reference = load_bundle(small_run / TRAINING / "models.pt")
    for run in bundle["runs"]:
        theirs = pipeline_run(reference, run["strategy"], run["epsilon"], run["seed"])
        assert max_difference(run["weights"], theirs["weights"]) <= 1e-6, run["strategy"]
        assert run["mode"] == theirs["mode"] and run["trained_on"] == theirs["trained_on"]
        assert run["max_site_epsilon"] == pytest.approx(theirs["max_site_epsilon"], rel=1e-12)
    assert set(bundle["stats"]) == {"dp-s1", "exact"}
    for mode, stats in bundle["stats"].items():
        assert stats == reference["stats"][mode]
    # the ledger: every site's rows of every run, as the pipeline's training job wrote them
    ours = pd.read_csv(settings.out / "ledger.tsv", sep="\t")
    pipeline = pd.read_csv(small_run / TRAINING / "ledger.tsv", sep="\t")
    pipeline = pipeline[pipeline["run"].isin(ours["run"].unique())]
    assert len(ours) == len(pipeline) > 0
    key = ["run", "site", "mechanism", "release"]
    pd.testing.assert_frame_equal(ours.sort_values(key).reset_index(drop=True), pipeline.sort_values(key).reset_index(drop=True))
    # the rounds: the same dropout draws and update norms; a DP run's loss is never sent
    rounds = pd.read_csv(settings.out / "rounds.tsv", sep="\t")
    theirs = pd.read_csv(small_run / TRAINING / "rounds.tsv", sep="\t").set_index(["run", "round"])
    for row in rounds.itertuples():
        assert row.sites == theirs.loc[(row.run, row.round), "sites"]
        assert row.update_norm == pytest.approx(theirs.loc[(row.run, row.round), "update_norm"], abs=1e-6)
    assert rounds.loc[rounds["epsilon"] == "3", "mean_train_loss"].isna().all()
    # each node's own ledger file holds its rows
    for site, path in nodes.items():
        node = SiteNode(NodeSettings.read(path))
        own = pd.read_csv(node.ledger_file(NetworkRun("mds", ENDPOINT, FOLD, "fedavg", 3.0, 1)), sep="\t")
        assert set(own["site"]) == {site} and (own["mechanism"] == "dp-sgd").sum() == 1


def test_a_node_refuses_runs_its_study_does_not_plan(small_run, tmp_path):
    nodes = node_folders(small_run, tmp_path / "nodes", sites=["siteA", "siteB"])
    held_out, site_b = (SiteNode(NodeSettings.read(nodes[s])) for s in ("siteA", "siteB"))
    with pytest.raises(NodeError, match="held out"):
        held_out.release(NetworkRun("mds", ENDPOINT, FOLD, "fedavg", 3.0, 1))
    for run, reason in [
        (NetworkRun("mds", ENDPOINT, FOLD, "fedavg", 10.0, 1), "epsilon 10 is not one of"),
        (NetworkRun("mds", ENDPOINT, FOLD, "fedprox", 3.0, 1), "strategy 'fedprox'"),
        (NetworkRun("mds", ENDPOINT, FOLD, "fedavg", 3.0, 7), "seed 7"),
        (NetworkRun("mds", "hsct", FOLD, "fedavg", 3.0, 1), "transplant"),
        (NetworkRun("mm", ENDPOINT, FOLD, "fedavg", 3.0, 1), "serves mds"),
        # folds the study does not run: each would draw fresh noise on the same patients
        (NetworkRun("mds", ENDPOINT, "loso-nosuchsite", "fedavg", 3.0, 1), "not one of the study's folds"),
        (NetworkRun("mds", ENDPOINT, "loso-siteC", "fedavg", 3.0, 1), "not one of the study's folds"),  # not held out in config
        (NetworkRun("mds", ENDPOINT, "all", "fedavg", 3.0, 1), "not one of the study's folds"),
        (NetworkRun("mds", ENDPOINT, "loso-../../escape", "fedavg", 3.0, 1), "not one of the study's folds"),
    ]:
        with pytest.raises(NodeError, match=reason):
            site_b.release(run)
    assert not list(tmp_path.rglob("*escape*"))  # nothing written on the way
    # in deployment mode nothing is trained without DP
    config = load_study_config(STUDY)
    config["privacy"] = {**config["privacy"], "mode": "deployment"}
    sites = ["siteA", "siteB", "siteC", "siteD"]
    assert "deployment" in " ".join(NetworkRun("mds", ENDPOINT, FOLD, "fedavg", math.inf, 1).problems(config, sites))
    assert not NetworkRun("mds", ENDPOINT, FOLD, "fedavg", 3.0, 1).problems(config, sites)


def test_a_node_answers_a_repeated_round_from_its_state_and_never_reuses_its_noise(small_run, tmp_path):
    nodes = node_folders(small_run, tmp_path / "nodes")
    transport = LocalTransport(nodes)
    run = NetworkRun("mds", ENDPOINT, FOLD, "fedavg", 3.0, 1)
    releases = {s: transport.nodes[s].release(run)["release"] for s in nodes}
    from fedheme.federated.server import combine_releases
    from fedheme.models.networks import build_network

    config = load_study_config(STUDY)
    settings = run.settings(config)
    stats = combine_releases([releases[s] for s in nodes], settings)
    weights = build_network("linear", len(settings.spec.names), settings.bins(ENDPOINT), 1).state_dict()
    node = transport.nodes["siteB"]
    first, reply = node.train(run, stats, weights, 1)
    steps = _dp_steps(reply["ledger"])
    # asked again (its reply was lost): the same answer, from its state; no step counted twice
    again, reply_again = SiteNode(NodeSettings.read(nodes["siteB"])).train(run, stats, weights, 1)
    assert max_difference(first, again) == 0 and _dp_steps(reply_again["ledger"]) == steps
    assert reply["loss"] is None  # a DP run's training loss is an exact function of the patients
    # the same round from other weights would reuse its noise on other inputs
    other = {k: v + 0.01 for k, v in weights.items()}
    with pytest.raises(NodeError, match="reuse its noise"):
        node.train(run, stats, other, 1)
    # the next round continues the same accountant
    _, reply2 = node.train(run, stats, first, 2)
    assert _dp_steps(reply2["ledger"]) == 2 * steps
    with pytest.raises(NodeError, match="round 1 is past"):
        node.train(run, stats, weights, 1)
    # a coordinator that misstates the site's released count (it sets the sample rate) is refused
    lying = {**stats, "site_n": {**stats["site_n"], "siteB": 5.0}}
    with pytest.raises(NodeError, match="count"):
        node.train(run, lying, first, 3)
    with pytest.raises(NodeError, match="outside"):
        node.train(run, stats, first, 99)
    # statistics or weights that could tell a patient's value through a non-finite gradient
    bad_stats = [
        {**stats, "features": {**stats["features"], "age": {"kind": "numeric", "mean": 0.0, "sd": 1e-9}}},
        {**stats, "features": {**stats["features"], "mut_TP53": {"kind": "binary", "mean": float("nan")}}},
        {**stats, "bin_edges": {ENDPOINT: [float("inf")] * len(stats["bin_edges"][ENDPOINT])}},
    ]
    for bad in bad_stats:
        with pytest.raises(NodeError, match="pooled statistics"):
            node.train(run, bad, first, 3)
    name = next(iter(first))
    for value in (float("inf"), float("nan"), 1e6):
        poisoned = {**first, name: first[name].clone().fill_(value)}
        with pytest.raises(NodeError, match="not finite or exceed"):
            node.train(run, stats, poisoned, 3)
    assert node.round_reached(run) == 2
    # another run of the same release (FedAdam, the same seed) gets the same release, not a new draw
    assert node.release(NetworkRun("mds", ENDPOINT, FOLD, "fedadam", 3.0, 1))["release"] == releases["siteB"]


def _dp_steps(ledger: list[dict]) -> int:
    return sum(int(r["steps"]) for r in ledger if r["mechanism"] == "dp-sgd")


def test_the_workflow_evaluates_a_networked_fold_like_the_simulated_one(small_run, tmp_path):
    """config network.folds: the coordinator's outputs stand where train_fold's would; the
    held-out site evaluates them, and gets the simulated run's metrics (same weights)."""
    from fedheme.io import read_run_table

    nodes = node_folders(small_run, tmp_path / "nodes")
    runs = [{"strategy": s, "epsilon": e, "seed": 1} for s in ("fedavg", "fedadam") for e in (math.inf, 3.0)]
    settings = CoordinatorSettings.read(run_file(tmp_path / "run.toml", runs))
    coordinate(LocalTransport(nodes), settings)
    workdir = make_workdir(tmp_path / "work")
    key = "results/mds/sites/siteA/private/secret.key"  # the same test site (its key: the same bootstrap draws)
    (workdir / key).parent.mkdir(parents=True)
    (workdir / key).write_bytes((small_run / key).read_bytes())
    override = tmp_path / "network.yaml"
    override.write_text(f'network:\n  folds:\n    "mds/{ENDPOINT}/{FOLD}": "{settings.out}"\n')
    target = f"results/mds/sites/siteA/shared/evaluation/{ENDPOINT}_{FOLD}_metrics.tsv"
    snakemake(workdir, "--configfile", SMALL_CONFIG, str(override), "--cores", "2", target)
    assert not (workdir / f"results/logs/train_fold/mds/{ENDPOINT}_{FOLD}.log").exists()
    assert (workdir / TRAINING / "models.pt").read_bytes() == (settings.out / "models.pt").read_bytes()
    ours, theirs = read_run_table(workdir / target), read_run_table(small_run / target)
    key_columns = [c for c in ours.columns if ours[c].dtype == object or str(ours[c].dtype) == "string"]
    theirs = theirs.merge(ours[key_columns].drop_duplicates(), on=key_columns)
    assert len(ours) == len(theirs) > 0 and set(ours["strategy"]) >= {"fedavg", "fedadam"}
    ours, theirs = (t.sort_values(key_columns).reset_index(drop=True) for t in (ours, theirs))
    pd.testing.assert_frame_equal(ours, theirs, check_exact=False, atol=1e-6)


def test_a_test_site_charges_and_draws_its_model_table_under_the_models_fingerprint(small_run, tmp_path):
    """Deployment mode: a fold's bundle replaced (a coordinator's networked training, a
    retrained model) is evaluated with a fresh draw and charged again; the clinical scores'
    tables, which do not depend on the model, and a repeat of the same bundle, are not."""
    import shutil

    from fedheme.grid import training_of
    from fedheme.jobs.evaluate import evaluate_site_job
    from fedheme.models.bundle import save_bundle
    from fedheme.privacy.budget import BUDGET_FILE

    config = load_study_config(STUDY + [STUDY[1].parent / "config_deployment.yaml"])
    private = tmp_path / "siteA" / "private"
    shutil.copytree(small_run / "results/mds/sites/siteA/private", private)
    bundle = load_bundle(small_run / TRAINING / "models.pt")
    other = {**bundle, "runs": [{**r, "weights": {k: v + 0.01 for k, v in r["weights"].items()}} for r in bundle["runs"]]}
    for name, b in (("a.pt", bundle), ("b.pt", other)):
        save_bundle(tmp_path / name, b)

    def evaluate(models: str) -> pd.DataFrame:
        out = tmp_path / f"out_{models}"
        evaluate_site_job(models=tmp_path / models, patients=private / "patients.parquet", scores=private / "scores.parquet",
                          disease_name="mds", disease=config["diseases"]["mds"], training=training_of(config, "mds"),
                          evaluation=config["evaluation"], figures=config["figures"], privacy=config["privacy"], site_id="siteA",
                          endpoint=ENDPOINT, fold=FOLD, out_metrics=out / "m.tsv", out_calibration=out / "c.tsv", out_km=out / "k.tsv",
                          out_ledger=out / "l.tsv", out_predictions=out / "p.parquet")  # fmt: skip
        return pd.read_csv(private / BUDGET_FILE, sep="\t")

    first = evaluate("a.pt")
    again = evaluate("a.pt")
    replaced = evaluate("b.pt")
    model = first["identity"].str.contains("/evaluation/model")
    assert len(again) == len(first) and model.sum() == 1
    new = replaced[~replaced["identity"].isin(first["identity"])]
    assert len(new) == 1 and "/evaluation/model@" in new["identity"].iloc[0]


def test_settings_files_with_problems_are_refused_naming_the_file_and_what_is_wrong(tmp_path):
    broken = tmp_path / "node.toml"
    broken.write_text('site = "siteB"\ndisease = "mds"\n')
    with pytest.raises(NodeError, match=r"node\.toml: \['data', 'state', 'study_config', 'site_sheet'\] missing from the node settings"):
        NodeSettings.read(broken)
    broken.write_text('site = "siteB\n')
    with pytest.raises(NodeError, match=r"node\.toml: cannot read the node settings"):
        NodeSettings.read(broken)
    from fedheme.network.coordinator import CoordinationError

    run = run_file(tmp_path / "run.toml", [{"strategy": "fedavg", "epsilon": 3.0, "seed": 1}])
    run.write_text(run.read_text().replace('fold = "loso-siteA"', 'fold = "within"', 1) + '[[run]]\ndisease = "mds"\n')
    with pytest.raises(CoordinationError, match=r"run\.toml: a \[\[run\]\] needs disease, endpoint"):
        CoordinatorSettings.read(run)
