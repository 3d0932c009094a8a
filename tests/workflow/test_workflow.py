"""The Snakemake workflow: lint, format, dry run and a real run of the data stages on small data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from conftest import ROOT, SMALL_CONFIG, SMALL_SITES, make_workdir, snakemake

def test_lint_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", "-s", str(ROOT / "Snakefile"), "-d", str(ROOT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_snakefmt_is_clean():
    snakefmt = shutil.which("snakefmt", path=str(Path(sys.executable).parent))
    files = [str(ROOT / "Snakefile"), *map(str, sorted((ROOT / "workflow" / "rules").glob("*.smk")))]
    result = subprocess.run([snakefmt, "--check", *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_dry_run_of_the_default_config_plans_every_site(tmp_path):
    result = snakemake(make_workdir(tmp_path), "--dry-run", "--cores", "2")
    plan = result.stdout
    for rule, count in [("simulate_site", 8), ("ingest_site", 8), ("site_aggregates", 8),
                        ("simulate_tabular_site", 10), ("ingest_tabular_site", 10)]:  # fmt: skip
        assert any(line.split()[:2] == [rule, str(count)] for line in plan.splitlines()), plan


def test_dry_run_of_the_paper_grid_plans_every_fold_and_test_site(tmp_path):
    """config/paper.yaml: per disease and trained endpoint one job per held-out site and one
    for within; each fold evaluated at its test sites (the held-out one, or all)."""
    result = snakemake(make_workdir(tmp_path), "--dry-run", "--cores", "2", "--configfile", "config/paper.yaml")
    counts = {line.split()[0]: int(line.split()[1]) for line in result.stdout.splitlines() if len(line.split()) == 2 and line.split()[1].isdigit()}
    # MDS: 3 endpoints (OS and LFS censored at transplant, raw OS) x (8 + 1) folds, and the
    # transplant study's 8 loso folds and 'all'; MM: 2 x (5 + 1); SCD: 1 x (5 + 1)
    # and the marrow-blast classifier's 8 loso folds, within and 'all'
    assert counts["train_fold"] == 27 + 9 + 10 + 12 + 6, counts
    assert counts["evaluate_site"] == 3 * (8 + 8) + 2 * (5 + 5) + (5 + 5), counts
    assert counts["evaluate_transplant_site"] == 8 and counts["site_transplant_release"] == 8, counts
    assert counts["metrics_table"] == 1 and counts["transplant_tables"] == 1
    assert counts["site_classification"] == 8 and counts["reclassification_table"] == 1
    assert counts["evaluate_marrow_site"] == 8 and counts["marrow_blast_tables"] == 1
    assert counts["site_privacy_audit"] == 8 and counts["privacy_audit"] == 1  # the full audit: every MDS site


def test_real_run_produces_qc_overview_and_figure(small_run):
    results = small_run / "results" / "mds"
    sites = SMALL_SITES
    for site in sites:
        for name in ("patients.parquet", "qc_report.md", "qc_flags.tsv", "scores.parquet"):
            assert (results / "sites" / site / "private" / name).stat().st_size > 0
    overview = pd.read_csv(results / "tables" / "site_overview.tsv", sep="\t")
    assert overview["site_id"].tolist() == sites
    assert overview["n"].sum() == 600
    assert (results / "figures" / "site_heterogeneity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    patients = pd.concat(pd.read_parquet(results / "sites" / s / "private" / "patients.parquet") for s in sites)
    assert set(patients["split"]) == {"train", "test"}
    scores = pd.read_parquet(results / "sites" / "siteA" / "private" / "scores.parquet")
    assert {"ipssr_score", "ipssm_score", "ipssm_score_best", "ipssm_score_worst"} <= set(scores.columns)
    assert scores["ipssm_score"].notna().all()


def patient_ids(run: Path) -> set[str]:
    """Every patient identifier of every site of every disease of a run."""
    files = (run / "results").glob("*/sites/*/private/patients.parquet")
    return set().union(*(set(pd.read_parquet(f)["patient_id"]) for f in files))


def test_nothing_patient_level_crosses_sites(small_run):
    """Shared aggregates and evaluations, model bundles, federated statistics, tables,
    figures and logs hold no patient ID: everything outside a site's private folder."""
    results = small_run / "results"
    ids = patient_ids(small_run)
    crossing = [p for p in results.rglob("*") if p.is_file() and "private" not in p.parts and "exports" not in p.parts]
    assert any("shared" in p.parts for p in crossing) and any(p.suffix == ".png" for p in crossing)
    assert any(p.name == "models.pt" for p in crossing) and any(p.name == "metrics.tsv" for p in crossing)
    for path in crossing:
        text = path.read_bytes().decode("latin-1")
        leaked = [pid for pid in ids if pid in text]
        assert not leaked, f"{path} holds patient IDs {leaked[:3]}"
    aggregates = json.loads((results / "mds" / "sites" / "siteA" / "shared" / "aggregates_all.json").read_text())
    assert set(aggregates) >= {"numeric", "binary", "categorical", "endpoints", "suppressed"}


def test_metrics_table_holds_every_strategy_design_and_site(small_run):
    """The tidy metrics table: both designs, every strategy and clinical score, each test
    site and the pooled row, every metric with its interval; predictions stay private."""
    table = pd.read_csv(small_run / "results" / "tables" / "metrics.tsv", sep="\t", dtype={"epsilon": str, "seed": str})
    assert set(table["disease"]) == {"mds", "mm", "scd"}
    table = table[table["disease"] == "mds"]
    assert list(table.columns) == ["disease", "endpoint", "design", "strategy", "epsilon", "seed", "test_site",
                                   "metric", "value", "ci_low", "ci_high", "se", "n", "events", "note"]  # fmt: skip
    assert set(table["design"]) == {"loso", "within"}
    assert set(table["strategy"]) == {"ipssr", "ipssm", "local", "pooled", "cox", "fedavg", "fedadam"}
    assert set(table.loc[table["strategy"] == "fedavg", "epsilon"]) == {"inf", "3"}
    assert set(table.loc[table["design"] == "loso", "test_site"]) == {"siteA", "siteB", "pooled"}
    assert set(table.loc[table["design"] == "within", "test_site"]) == set(SMALL_SITES) | {"pooled"}
    assert set(table["metric"]) == {"harrell_c", "uno_c", "auc_1y", "auc_2y", "ibs", "calibration_in_the_large_2y"}
    harrell = table[(table["metric"] == "harrell_c") & table["value"].notna()]
    assert len(harrell) > 0 and ((harrell["ci_low"] <= harrell["value"]) & (harrell["value"] <= harrell["ci_high"])).all()
    assert table.loc[table["strategy"].isin(["ipssr", "ipssm"]), ["epsilon", "seed"]].isna().all().all()
    scores_ibs = table[table["strategy"].isin(["ipssr", "ipssm"]) & (table["metric"] == "ibs")]
    # NA with its reason: no survival probabilities, or (a small within-site test split,
    # which the site's own key draws) too few events to estimate anything
    assert scores_ibs["value"].isna().all() and scores_ibs["note"].str.contains("without survival probabilities|fewer than 10").all()
    pooled = table[(table["test_site"] == "pooled") & (table["design"] == "loso") & (table["metric"] == "harrell_c")]
    assert (pooled["n"] == table[(table["design"] == "loso") & (table["test_site"] != "pooled")].groupby("test_site")["n"].first().sum()).all()
    summary = (small_run / "results" / "tables" / "summary.md").read_text()
    assert "leave one site out" in summary and "| fedavg, ε = 3 | 1 |" in summary
    for site in SMALL_SITES:
        predictions = pd.read_parquet(small_run / "results" / "mds" / "sites" / site / "private" / "predictions" / "os_nh_within.parquet")
        assert predictions["patient_id"].isin(patient_ids(small_run)).all()


def test_mm_and_scd_run_end_to_end_with_baselines_and_oracle(small_run):
    """The simulated diseases: MM (PFS, survival metrics) with ISS, R-ISS and R2-ISS and
    the true model; SCD (binary, AUROC...) with the TCD rule, the markers model and the
    true model; each with federated and DP runs."""
    table = pd.read_csv(small_run / "results" / "tables" / "metrics.tsv", sep="\t", dtype={"epsilon": str, "seed": str})
    mm, scd = table[table["disease"] == "mm"], table[table["disease"] == "scd"]
    assert set(mm["endpoint"]) == {"pfs"} and set(scd["endpoint"]) == {"event24m"}
    assert set(mm["strategy"]) == {"iss", "riss", "r2iss", "oracle", "local", "pooled", "cox", "fedavg"}
    assert set(scd["strategy"]) == {"tcd_rule", "markers", "oracle", "local", "pooled", "fedavg"}  # no Cox for a binary endpoint
    assert set(scd["metric"]) == {"auroc", "auprc", "brier", "calibration_in_the_large"}
    assert {"harrell_c", "uno_c", "ibs"} <= set(mm["metric"])
    for frame, metric in ((mm, "harrell_c"), (scd, "auroc")):
        pooled = frame[(frame["test_site"] == "pooled") & (frame["metric"] == metric) & (frame["design"] == "loso")]
        oracle = pooled.loc[pooled["strategy"] == "oracle", "value"].iloc[0]
        assert 0.6 < oracle < 0.9 and pooled["ci_low"].notna().all()
    assert set(mm.loc[mm["design"] == "loso", "test_site"]) == {"mmA", "pooled"}
    assert (small_run / "results" / "scd" / "figures" / "forest_cindex.png").stat().st_size > 20_000
    assert not (small_run / "results" / "scd" / "figures" / "km_risk_groups.png").exists()  # binary: no KM
    assert (small_run / "results" / "mm" / "figures" / "km_risk_groups.png").stat().st_size > 20_000


def test_no_patient_identifier_in_results_tables(small_run):
    ids = patient_ids(small_run)
    tables = list((small_run / "results" / "tables").iterdir())
    assert {p.name for p in tables} >= {"metrics.tsv", "summary.md", "calibration.tsv"}
    for path in tables:
        text = path.read_text()
        assert not [pid for pid in ids if pid in text], path


#: Size in pixels (figsize x 150 dpi) of each figure with the small test config.
FIGURE_SIZES = {
    "site_heterogeneity": (1650, 1170),
    "forest_cindex": (1125, 427),
    "privacy_utility": (975, 540),
    "km_risk_groups": (1200, 510),
    "calibration": (600, 540),  # one panel: the declared model
    "convergence": (960, 450),
    "hsct_rmst_gain": (1020, 435),  # MDS only: the transplant study, two policies
    "reclassification": (1500, 660),  # MDS only: WHO 2016 -> WHO 2022 -> ICC
    "marrow_blasts": (1485, 435),  # MDS only: the marrow-blast classifier
}


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_every_figure_renders_as_a_non_empty_image_of_its_size(small_run):
    mds_only = {"site_heterogeneity", "hsct_rmst_gain", "reclassification", "marrow_blasts"}
    for disease, names in (("mm", set(FIGURE_SIZES) - mds_only), ("scd", set(FIGURE_SIZES) - mds_only - {"km_risk_groups"})):
        assert {p.stem for p in (small_run / "results" / disease / "figures").glob("*.png")} == names
    folder = small_run / "results" / "mds" / "figures"
    assert {p.stem for p in folder.glob("*.png")} == set(FIGURE_SIZES)
    for name, size in FIGURE_SIZES.items():
        png, pdf = folder / f"{name}.png", folder / f"{name}.pdf"
        assert png_size(png) == size, name
        assert png.stat().st_size > 20_000, f"{name}.png looks empty"
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000, name


def test_report_holds_figures_config_ledger_and_versions_without_patient_ids(small_run):
    snakemake(small_run, "--configfile", SMALL_CONFIG, "--report", "results/report.html")
    html = (small_run / "results" / "report.html").read_text(encoding="utf-8")
    for expected in ("forest_cindex.png", "privacy_utility.png", "km_risk_groups.png", "calibration.png",
                     "convergence.png", "ledger.tsv", "config.yaml", "software.tsv", "metrics.tsv", "hsct_rmst_gain.png",
                     "hsct_rmst.tsv"):  # fmt: skip
        assert expected in html, expected
    assert not [pid for pid in patient_ids(small_run) if pid in html]
    software = pd.read_csv(small_run / "results" / "report" / "software.tsv", sep="\t")
    assert {"torch", "opacus", "scikit-survival", "snakemake"} <= set(software["package"])


def test_a_second_run_with_the_same_seeds_gives_byte_identical_tables(small_run, tmp_path):
    """Rerun every job from scratch in the same folder: MANIFEST.tsv (sha256 of every
    table) and every figure are byte-identical."""
    before = (small_run / "results" / "MANIFEST.tsv").read_text()
    figures = {p.relative_to(small_run): p.read_bytes() for d in ("mds", "mm", "scd") for p in (small_run / "results" / d / "figures").iterdir()}
    snakemake(small_run, "--configfile", SMALL_CONFIG, "--cores", "2", "--forceall")
    assert (small_run / "results" / "MANIFEST.tsv").read_text() == before
    manifest = pd.read_csv(small_run / "results" / "MANIFEST.tsv", sep="\t")
    assert {"results/tables/metrics.tsv", "results/privacy/ledger.tsv"} <= set(manifest["path"])
    assert len(figures) == 2 * (9 + 5 + 4)
    for name, data in figures.items():
        assert (small_run / name).read_bytes() == data, name


def test_a_bad_site_export_stops_the_run_with_its_location(tmp_path, small_run):
    """A site bringing its own (broken) export: the ingest job fails naming file, line, column."""
    workdir = make_workdir(tmp_path)
    good = small_run / "results" / "mds" / "exports" / "siteD"
    bad = tmp_path / "site_own.tsv"
    lines = (good / "patients.txt").read_text().splitlines()
    header = lines[0].split("\t")
    row = lines[3].split("\t")
    row[header.index("HB")] = "11,2"
    lines[3] = "\t".join(row)
    bad.write_text("\n".join(lines) + "\n")
    sheet = tmp_path / "sites_bad.tsv"
    sheet.write_text(
        "site_id\tdisease\tsource\tdialect\tpatients\tvariants\n"
        f"own\tmds\tfile\tiwgpm\t{bad}\t{good / 'variants.txt'}\n"
    )
    result = snakemake(workdir, "--configfile", SMALL_CONFIG, "--config", f"sites={sheet}", "--cores", "1", check=False)
    assert result.returncode != 0
    log = (workdir / "results" / "logs" / "ingest_site" / "mds" / "own.log").read_text()
    assert f"{bad}, line 4, column 'HB': '11,2' is not a number" in log
    assert not (workdir / "results" / "mds" / "sites" / "own" / "private").exists() or not any(
        (workdir / "results" / "mds" / "sites" / "own" / "private").iterdir()
    )


def test_an_invalid_site_sheet_is_rejected_before_anything_runs(tmp_path):
    workdir = make_workdir(tmp_path)
    sheet = tmp_path / "sites_dup.tsv"
    sheet.write_text(
        "site_id\tdisease\tsource\tdialect\tpatients\tvariants\n"
        "a\tmds\tsimulated\tfedheme\t\t\n"
        "a\tmds\tsimulated\tiwgpm\t\t\n"
        "b\taml\tsimulated\tfedheme\t\t\n"
    )
    result = snakemake(workdir, "--config", f"sites={sheet}", "--dry-run", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"{sheet}, line 3, column 'site_id': duplicate site of the same disease" in output
    assert f"{sheet}, line 4, column 'disease': 'aml' is not in config diseases" in output


def test_the_privacy_audit_reports_attacks_and_bounds_below_the_accounted_epsilon(small_run):
    """The small run audits siteD: attack AUROC and low-FPR TPRs with intervals for FedAvg
    and the local model at every epsilon, and canary bounds that stay below the accountant."""
    audit = pd.read_csv(small_run / "results" / "privacy" / "audit.tsv", sep="\t", dtype={"epsilon": str})
    assert set(audit["site"]) == {"siteD"} and set(audit["epsilon"]) == {"inf", "3"}
    membership = audit[audit["test"].str.startswith("membership")]
    assert set(membership["model"]) == {"fedavg", "local"}
    assert set(membership["metric"]) == {"auroc", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr"}
    auroc = membership[membership["metric"] == "auroc"]
    assert len(auroc) == 8 and (auroc["ci_low"] <= auroc["ci_high"]).all() and auroc["value"].between(0, 1).all()
    tpr = membership[membership["metric"] != "auroc"]  # withheld (NaN) where few members pass the threshold
    assert (tpr["value"].isna() | tpr["value"].between(0, 1)).all()
    assert tpr.loc[tpr["value"].isna(), "note"].str.contains("suppressed").all()
    canary = audit[audit["test"] == "canary"].pivot_table(index="epsilon", columns="metric", values="value", aggfunc="first")
    finite = canary.loc["3"]
    assert float(finite["epsilon_lower_bound"]) <= float(finite["epsilon_accounted"]) <= 3.0 + 1e-6
    assert (small_run / "results" / "privacy" / "figures" / "audit.png").stat().st_size > 20_000
