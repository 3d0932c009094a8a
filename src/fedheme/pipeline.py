"""Job entry points of the Snakemake rules: plain functions of paths and settings.

Each ``workflow/scripts/*.py`` calls exactly one of these, so the rules stay thin and
every step can be run and tested without Snakemake.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

import pandas as pd

from fedheme.features import FeatureSpec
from fedheme.io import read_json, write_json, write_parquet, write_text, write_tsv
from fedheme.schema import SURVIVAL_ENDPOINTS


@contextlib.contextmanager
def logged(log_path: str | Path) -> Iterator[logging.Logger]:
    """Send logging and stderr of a job to its Snakemake log file."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as handle, contextlib.redirect_stderr(handle):
        logging.basicConfig(stream=handle, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
        logger = logging.getLogger("fedheme")
        try:
            yield logger
        except Exception as err:  # the log file is what Snakemake shows on failure
            print(f"{type(err).__name__}: {err}", file=handle)
            raise


def simulate_site_job(cohort_dir, site_ids, site_id, dialect_name, settings: dict, out_patients, out_variants, out_summary) -> None:
    """Draw all simulated sites of a disease (deterministic) and write ``site_id``'s export."""
    from fedheme.cohort import load_iwgpm
    from fedheme.dialects import load_dialect
    from fedheme.simulate import SimulationSettings, simulate_sites, site_summary, write_site_export

    cohort = load_iwgpm(cohort_dir)
    sites = simulate_sites(cohort, list(site_ids), SimulationSettings.from_config(settings))
    site = next(s for s in sites if s.site_id == site_id)
    write_site_export(site, load_dialect(dialect_name), out_patients, out_variants)
    write_json(out_summary, site_summary(site, dialect_name))


def simulate_tabular_site_job(site_ids, site_id: str, generator: dict, out) -> None:
    """Draw all simulated sites of a tabular disease (deterministic) and write ``site_id``'s CSV."""
    from fedheme.generators import GeneratorSettings, simulate_tabular, write_site_csv

    sites = simulate_tabular(list(site_ids), GeneratorSettings.from_config(generator))
    write_site_csv(sites[site_id], out)


def ingest_tabular_site_job(path, disease: dict, site_id: str, test_fraction: float, seed: int, max_errors: int,
                            out_patients, out_qc_json, out_qc_md) -> None:  # fmt: skip
    """Check one site's CSV against the disease's declared columns; split; QC report."""
    from fedheme.ingest import site_seed
    from fedheme.tabular import TabularSpec, assign_split, read_tabular_site, tabular_qc, tabular_qc_markdown

    spec = TabularSpec.from_config(disease)
    patients = assign_split(read_tabular_site(path, spec, max_errors), spec, disease["primary_endpoint"], test_fraction, site_seed(seed, site_id))
    summary = tabular_qc(patients, spec, site_id, str(path))
    write_parquet(out_patients, patients)
    write_json(out_qc_json, summary)
    write_text(out_qc_md, tabular_qc_markdown(summary))


def _subset(patients: pd.DataFrame, subset: str) -> pd.DataFrame:
    if subset == "all":
        return patients
    if subset in ("train", "test"):
        return patients[patients["split"] == subset]
    raise ValueError(f"unknown subset {subset!r}")


def aggregates_job(patients_path, features: dict, site_id: str, subset: str, min_cell_count: int, out) -> None:
    """Write the suppressed aggregates of one site's ``subset`` (what crosses sites)."""
    from fedheme.fedstats import site_aggregates

    patients = _subset(pd.read_parquet(patients_path), subset)
    write_json(out, site_aggregates(patients, FeatureSpec.from_config(features), site_id, subset, min_cell_count))


def combine_job(aggregate_paths, features: dict, scope: str, out) -> None:
    """Pool the released aggregates of the sites in ``scope`` into global statistics."""
    from fedheme.fedstats import combine_aggregates

    stats = combine_aggregates([read_json(p) for p in aggregate_paths], FeatureSpec.from_config(features))
    stats["scope"] = scope
    write_json(out, stats)


def standardise_job(patients_path, stats_path, features: dict, out) -> None:
    """Standardise and impute one site's features with global statistics (inside the site)."""
    from fedheme.fedstats import standardise

    patients = pd.read_parquet(patients_path)
    stats = read_json(stats_path)
    matrix, dropped = standardise(patients, FeatureSpec.from_config(features), stats)
    if dropped:
        logging.getLogger("fedheme").warning("features dropped (not released by any site or constant): %s", dropped)
    keep = ["patient_id", "split"] + [c for pair in SURVIVAL_ENDPOINTS.values() for c in pair]
    write_parquet(out, pd.concat([patients[keep], matrix], axis=1))


def scores_job(patients_path, baselines: list[str], out) -> None:
    """Clinical scores of one site's patients (patient-level: stays in the site's folder)."""
    from fedheme.scores import SCORES

    patients = pd.read_parquet(patients_path)
    parts = [patients[["patient_id", "split"]]] + [SCORES[name](patients) for name in baselines]
    parts.append(patients.filter(regex="^oracle_"))  # simulated data: the true model's predictions
    write_parquet(out, pd.concat(parts, axis=1))


def design_settings(disease: dict, training: dict):
    """The DesignSettings of a disease's config block and the training block."""
    from fedheme.design import DesignSettings

    features = disease["features"]
    bounds = {k: tuple(v) for k, v in features.get("bounds", {}).items()}
    if disease.get("kind", "iwgpm") == "tabular":
        spec = FeatureSpec.from_config(features, tuple(disease["columns"]))
        outcomes = {name: (e.get("time"), e["event"]) for name, e in disease["outcome"]["endpoints"].items()}
        endpoints = tuple(outcomes)
    else:
        spec, outcomes, endpoints = FeatureSpec.from_config(features), dict(SURVIVAL_ENDPOINTS), tuple(disease["endpoints"])
    return DesignSettings(spec, bounds, endpoints, float(training["horizon_years"]), int(training["n_bins"]), outcomes)


def training_release_job(patients_path, disease: dict, training: dict, site_id: str, subset: str, mode: str, seed: int, out) -> None:
    """The aggregates a site releases before training on ``subset`` of its patients ('all'
    or its 'train' split): exact ('exact') or with Gaussian noise ('dp')."""
    import numpy as np

    from fedheme.design import training_release
    from fedheme.seeding import derived_seed

    patients = _subset(pd.read_parquet(patients_path), subset)
    noise = {k: (float(v) if mode == "dp" else 0.0) for k, v in training["release_noise"].items()}
    rng = np.random.default_rng(derived_seed(seed, site_id, subset, "release"))
    write_json(out, training_release(patients, design_settings(disease, training), site_id, noise, rng))


def train_config(training: dict):
    """The TrainConfig shared by every run of the grid (strategy, epsilon, seed set per run)."""
    from fedheme.federated import TrainConfig

    adam = training["fedadam"]
    return TrainConfig(
        rounds=training["rounds"], local_epochs=training["local_epochs"], batch_size=training["batch_size"],
        lr=training["lr"], clip_norm=training["clip_norm"], mu=training["fedprox_mu"],
        server_lr=adam["server_lr"], beta1=adam["beta1"], beta2=adam["beta2"], tau=adam["tau"],
        dropout=training["client_dropout"], delta=training["delta"], model=training["model"],
    )  # fmt: skip


def train_fold_job(disease: dict, training: dict, endpoint: str, fold: str, patients_paths: dict, release_paths: dict,
                   checkpoint_dir, out_models, out_ledger, out_rounds) -> None:  # fmt: skip
    """Every run of the grid for one fold (see fedheme.training); reads training patients only."""
    from fedheme.bundle import save_bundle
    from fedheme.training import FoldInputs, resolve_device, train_fold, write_fold_outputs

    patients = {site: pd.read_parquet(path) for site, path in patients_paths.items()}
    if fold == "within":
        patients = {site: p[p["split"] == "train"] for site, p in patients.items()}
    releases = {mode: {site: read_json(path) for site, path in paths.items()} for mode, paths in release_paths.items()}
    device = resolve_device(training["device"])
    logging.getLogger("fedheme").info("training fold %s on %s", fold, device)
    bundle, ledger, rounds = train_fold(
        FoldInputs(fold, patients, releases), design_settings(disease, training), endpoint, train_config(training),
        training["strategies"], [float(e) for e in training["epsilons"]], training["seeds"], training["baselines"],
        checkpoint_dir, device, disease.get("marker_features"),
    )  # fmt: skip
    save_bundle(out_models, bundle)
    write_fold_outputs(ledger, rounds, out_ledger, out_rounds)


def evaluate_site_job(bundle_path, patients_path, scores_path, disease_name: str, disease: dict, training: dict, evaluation: dict,
                      figures: dict, min_cell_count: int, site_id: str, out_metrics, out_replicates, out_calibration, out_km,
                      out_predictions) -> None:  # fmt: skip
    """Evaluate a fold's models and the clinical scores at one test site, inside the site."""
    from fedheme.bundle import load_bundle
    from fedheme.evaluation import evaluate_site
    from fedheme.metrics import EvaluationSettings

    result = evaluate_site(
        load_bundle(bundle_path), pd.read_parquet(patients_path), pd.read_parquet(scores_path), disease["baselines"],
        design_settings(disease, training), EvaluationSettings.from_config(evaluation, min_cell_count), disease_name, site_id,
        tuple(figures["risk_thresholds"]), float(figures["km_step_years"]),
    )  # fmt: skip
    write_tsv(out_km, result.life_tables)
    write_tsv(out_metrics, result.metrics)
    write_parquet(out_replicates, result.replicates)
    write_tsv(out_calibration, result.calibration)
    write_parquet(out_predictions, result.predictions)


def concat_tables_job(paths, out) -> None:
    """Stack TSV tables (e.g. every fold's privacy ledger) into one."""
    write_tsv(out, pd.concat([pd.read_csv(p, sep="\t") for p in paths], ignore_index=True))


def read_metric_tsv(path) -> pd.DataFrame:
    """A metrics TSV with epsilon and seed kept as labels ('inf', '3', '1')."""
    return pd.read_csv(path, sep="\t", dtype={"epsilon": "string", "seed": "string"}, keep_default_na=True)


def metrics_table_job(metrics_paths, replicate_paths, calibration_paths, km_paths, confidence: float, out_metrics, out_summary,
                      out_calibration, out_km) -> None:  # fmt: skip
    """Stack every test site's metrics, pool them over sites, and write the summary."""
    from fedheme.evaluation import metrics_table
    from fedheme.summary import summary_markdown

    table = metrics_table([read_metric_tsv(p) for p in metrics_paths], [pd.read_parquet(p) for p in replicate_paths], confidence)
    write_tsv(out_metrics, table)
    write_text(out_summary, summary_markdown(table, confidence))
    write_tsv(out_calibration, pd.concat([read_metric_tsv(p) for p in calibration_paths], ignore_index=True))
    write_tsv(out_km, pd.concat([read_metric_tsv(p) for p in km_paths], ignore_index=True))


def convergence_table_job(rounds_paths, keys: list[dict], out) -> None:
    """Every fold's training loss by round, with its disease, endpoint and fold."""
    frames = [pd.read_csv(p, sep="\t", dtype={"epsilon": "string", "seed": "string"}).assign(**k) for p, k in zip(rounds_paths, keys)]
    table = pd.concat(frames, ignore_index=True)
    first = ["disease", "endpoint", "fold"]
    write_tsv(out, table[first + [c for c in table.columns if c not in first]])


def figure_job(kind: str, table_path, disease: str, endpoint: str, binary: bool, training: dict, evaluation: dict, figures: dict,
               min_cell_count: int, out_png, out_pdf) -> None:  # fmt: skip
    """Draw one validation figure of one disease from its released source table."""
    import math

    from fedheme import figures as fig

    table = read_metric_tsv(table_path)
    if "disease" in table.columns:
        table = table[table["disease"] == disease]
    metric = "auroc" if binary else "harrell_c"
    finite = sorted(float(e) for e in training["epsilons"] if math.isfinite(float(e)))
    strategy = figures["strategy"]
    private = f"{finite[0]:g}" if finite else "inf"
    if kind == "forest_cindex":
        fig.plot_forest(table, endpoint, out_png, out_pdf, metric=metric)
    elif kind == "privacy_utility":
        fig.plot_privacy_utility(table, endpoint, out_png, out_pdf, metric=metric)
    elif kind == "km_risk_groups":
        fig.plot_km_by_risk(table, endpoint, strategy, private, min_cell_count, out_png, out_pdf)
    elif kind == "calibration":
        runs = [("pooled", "inf"), (strategy, "inf")] + ([(strategy, private)] if finite else [])
        horizon = None if binary else float(evaluation["calibration_years"])
        fig.plot_calibration(table, endpoint, runs, horizon, out_png, out_pdf)
    elif kind == "convergence":
        fig.plot_convergence(table, endpoint, out_png, out_pdf)
    else:
        raise ValueError(f"unknown figure {kind!r}; choose one of {fig.FIGURES}")


def report_context_job(config: dict, out_config, out_software) -> None:
    """The run's configuration and the versions of what its jobs import, for the report."""
    import platform
    from importlib import metadata

    import yaml

    write_text(out_config, yaml.safe_dump(config, sort_keys=True))
    packages = ["snakemake", "snakemake-executor-plugin-slurm", "torch", "opacus", "lightning", "scikit-survival",
                "lifelines", "pandera", "pandas", "numpy", "pyarrow", "matplotlib", "scikit-learn", "scipy"]  # fmt: skip
    rows = [{"package": "python", "version": platform.python_version()}]
    rows += [{"package": p, "version": metadata.version(p)} for p in packages]
    rows.append({"package": "fedheme", "version": metadata.version("fedheme")})
    write_tsv(out_software, pd.DataFrame(rows))


def manifest_job(paths, out) -> None:
    """results/MANIFEST.tsv: path, size and sha256 of every table of the run."""
    import hashlib

    rows = [{"path": str(p), "bytes": Path(p).stat().st_size, "sha256": hashlib.sha256(Path(p).read_bytes()).hexdigest()} for p in paths]
    write_tsv(out, pd.DataFrame(rows))


def overview_job(aggregate_paths, out) -> None:
    """One row per site of released aggregates: size, age, event rates, categories."""
    from fedheme.overview import site_overview

    write_tsv(out, site_overview([read_json(p) for p in aggregate_paths]))


def heterogeneity_job(aggregate_paths, out_png, out_pdf, min_cell_count: int) -> None:
    """The site-heterogeneity figure, drawn from released aggregates only."""
    from fedheme.plots import plot_site_heterogeneity

    plot_site_heterogeneity([read_json(p) for p in aggregate_paths], out_png, out_pdf, min_cell_count)

