# Shared by every stage: config and site-sheet validation, wildcard constraints, paths
# and the input functions of all rules.

import re
import sys
from pathlib import Path

import pandas as pd
from snakemake.utils import min_version, validate

min_version("9.0")

# fedheme's names shared with the rules (fold names, the study grid, the figure list):
# light modules of this checkout's package, which import nothing outside the standard
# library.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from fedheme.folds import FOLD_PATTERN, SITE_PATTERN, Fold
import fedheme.grid as grid
from fedheme.report.catalogue import FIGURES

validate(config, "../schemas/config.schema.yaml")

SITES = pd.read_csv(
    config["sites"], sep="\t", dtype=str, keep_default_na=False, comment="#"
)
validate(SITES, "../schemas/sites.schema.yaml")


def _check_site_sheet(sheet):
    """Fail early, naming the sheet row, on what the schema cannot express."""
    problems = []
    for line, row in zip(range(2, len(sheet) + 2), sheet.itertuples()):
        where = f"{config['sites']}, line {line}"
        if row.disease not in config["diseases"]:
            problems.append(
                f"{where}, column 'disease': {row.disease!r} is not in config diseases"
            )
        if row.source == "file" and not row.patients:
            problems.append(
                f"{where}, column 'patients': a site with source 'file' needs its export path"
            )
        disease = config["diseases"].get(row.disease, {})
        if row.source == "simulated" and not (
            "cohort" in disease or "generator" in disease
        ):
            problems.append(
                f"{where}, column 'source': disease {row.disease!r} has no cohort or generator to simulate from"
            )
    duplicated = sheet.duplicated(["disease", "site_id"], keep="first")
    for line in (sheet.index[duplicated] + 2).tolist():
        problems.append(
            f"{config['sites']}, line {line}, column 'site_id': duplicate site of the same disease"
        )
    if problems:
        raise ValueError("invalid site sheet:\n" + "\n".join(problems))


_check_site_sheet(SITES)
if grid.endpoint_problems(config):
    raise ValueError(
        "invalid endpoints in config:\n" + "\n".join(grid.endpoint_problems(config))
    )
SITES = SITES.set_index(["disease", "site_id"], drop=False)

DISEASES = sorted(SITES["disease"].unique())

# Privacy mode: in deployment, the whole study is planned per site before any job runs
# and refused when a site's composed epsilon would exceed privacy.study_epsilon.
DEPLOYMENT = config["privacy"]["mode"] == "deployment"
if DEPLOYMENT:
    from fedheme.privacy.plan import check_plan

    PLAN = check_plan(
        config, {d: SITES[SITES["disease"] == d]["site_id"].tolist() for d in DISEASES}
    )


def kind_of(disease):
    """'iwgpm' (the MDS schema) or 'tabular' (declared columns, one CSV per site)."""
    return config["diseases"][disease].get("kind", "iwgpm")


def _alternatives(names):
    """A wildcard regex matching exactly these names (none: a regex that never matches)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


IWGPM_DISEASES = _alternatives([d for d in config["diseases"] if kind_of(d) == "iwgpm"])
TABULAR_DISEASES = _alternatives(
    [d for d in config["diseases"] if kind_of(d) == "tabular"]
)


def training_of(disease):
    """The training block with the disease's own overrides applied."""
    return grid.training_of(config, disease)


def train_endpoints(disease):
    return grid.train_endpoints(config["diseases"][disease])


def is_binary(disease, endpoint):
    cfg = config["diseases"][disease]
    return kind_of(disease) == "tabular" and cfg["outcome"]["type"] == "binary"


wildcard_constraints:
    disease="[a-z][a-z0-9_]*",
    site=SITE_PATTERN,
    subset="all|train",
    fold=FOLD_PATTERN,


def sites_of(disease, source=None):
    """Site ids of a disease in sheet order, optionally only those of one source."""
    rows = SITES[SITES["disease"] == disease]
    if source is not None:
        rows = rows[rows["source"] == source]
    return rows["site_id"].tolist()


def site_row(wildcards):
    return SITES.loc[(wildcards.disease, wildcards.site)]


def disease_config(wildcards):
    return config["diseases"][wildcards.disease]


def cohort_files(wildcards):
    folder = disease_config(wildcards)["cohort"]
    return [
        f"{folder}/{name}"
        for name in ("df_clinical.tsv", "df_mut.tsv", "df_cna.tsv", "maf.tsv")
    ]


def export_files(wildcards):
    """The site's export: simulated into results/, or the site's own files."""
    row = site_row(wildcards)
    if row["source"] == "simulated" and kind_of(wildcards.disease) == "tabular":
        return {
            "patients": f"results/{wildcards.disease}/exports/{wildcards.site}/patients.csv"
        }
    if row["source"] == "simulated":
        base = f"results/{wildcards.disease}/exports/{wildcards.site}"
        return {"patients": f"{base}/patients.txt", "variants": f"{base}/variants.txt"}
    files = {"patients": row["patients"]}
    if row["variants"]:
        files["variants"] = row["variants"]
    return files


def private(wildcards, name):
    """Path inside a site's private folder (patient-level; never crosses sites)."""
    return f"results/{wildcards.disease}/sites/{wildcards.site}/private/{name}"


def disease_aggregates(wildcards):
    """What the site overview is drawn from: each site's descriptive aggregates, or its DP
    training release in deployment mode (nothing exact crosses sites)."""
    if DEPLOYMENT:
        name = "training_release_all"
    else:
        name = "aggregates_all"
    return [
        f"results/{wildcards.disease}/sites/{s}/shared/{name}.json"
        for s in sites_of(wildcards.disease)
    ]


def overview_features(wildcards):
    """The features block that turns a DP training release into aggregates (deployment)."""
    return disease_config(wildcards)["features"] if DEPLOYMENT else None


def overview_release_mode(wildcards):
    """The DP release (of the first seed) the overview is drawn from (deployment)."""
    if not DEPLOYMENT:
        return None
    return grid.dp_release_mode(training_of(wildcards.disease)["seeds"][0])


def release_modes(disease, endpoint=None):
    """'exact' for epsilon = inf runs and the baselines without DP, and one 'dp-s<seed>'
    per seed when any epsilon is finite (each seed draws its own release noise); of the
    transplant model's or the marrow-blast classifier's training when ``endpoint`` is
    their study's."""
    return grid.release_modes(
        config, disease, grid.study_training(config, disease, endpoint)
    )


def fold_training(disease, endpoint):
    """The training block of a (disease, endpoint): the transplant model's or the
    marrow-blast classifier's for their studies."""
    return grid.study_training(config, disease, endpoint)


def diagnosis_of(disease):
    """The disease's marrow-blast classifier config, or None."""
    return grid.diagnosis_of(config, disease)


def diagnosis_diseases():
    return [d for d in DISEASES if diagnosis_of(d) is not None]


def diagnosis_folds(disease):
    """The classifier's folds (loso per held-out site, within, and 'all')."""
    return grid.diagnosis_folds(config, disease, sites_of(disease))


def diagnosis_site_models(wildcards):
    """The classifier's bundles a site evaluates: each fold it is a test site of."""
    return {
        fold: f"results/{wildcards.disease}/training/{grid.DIAGNOSIS}/{fold}/models.pt"
        for fold in diagnosis_folds(wildcards.disease)
        if wildcards.site in fold_test_sites(wildcards.disease, fold)
    }


def diagnosis_table_outputs():
    """The classifier's tables and figure, per disease that has it."""
    return [
        f"results/{disease}/{part}"
        for disease in diagnosis_diseases()
        for part in (
            "tables/marrow_blasts_metrics.tsv",
            "tables/marrow_blasts_summary.tsv",
            "tables/marrow_blasts_calibration.tsv",
            "figures/marrow_blasts.png",
            "figures/marrow_blasts.pdf",
        )
    ]


def transplant_of(disease):
    """The disease's transplant study config, or None."""
    return grid.transplant_of(config, disease)


def transplant_folds(disease):
    """The transplant study's folds: loso per held-out site, and 'all'."""
    return grid.transplant_folds(config, disease, sites_of(disease))


def transplant_diseases():
    return [d for d in DISEASES if transplant_of(d) is not None]


def transplant_test_folds(disease):
    """The transplant folds a site evaluates (all but 'all')."""
    return [f for f in transplant_folds(disease) if f != "all"]


def fold_train_sites(disease, fold):
    """Sites whose patients train a fold: all but the held-out one, or all (their train split)."""
    return Fold.parse(fold).train_sites(sites_of(disease))


def train_fold_inputs(wildcards):
    """The training sites' private patients (the simulated federation runs in one job)
    and their released aggregates; never the held-out patients."""
    base = f"results/{wildcards.disease}/sites"
    subset = Fold.parse(wildcards.fold).train_subset
    sites = fold_train_sites(wildcards.disease, wildcards.fold)
    study = grid.DIAGNOSIS if wildcards.endpoint == grid.DIAGNOSIS else "training"
    inputs = {f"patients_{s}": f"{base}/{s}/private/patients.parquet" for s in sites}
    for s in sites:
        inputs[f"release_{s}"] = f"{base}/{s}/shared/{study}_release_{subset}.json"
    return inputs


def network_fold_inputs(wildcards):
    """A fold trained over a networked federation (config ``network.folds``): the
    coordinator's output files. Other folds get a path no rule makes, so that
    ``train_fold`` trains them (``ruleorder: import_network_fold > train_fold``)."""
    key = f"{wildcards.disease}/{wildcards.endpoint}/{wildcards.fold}"
    folder = config.get("network", {}).get("folds", {}).get(key)
    if folder is None:
        return {"models": f"results/network/not-networked/{key}/models.pt"}
    return {
        name: f"{folder}/{name}.{ext}"
        for name, ext in (("models", "pt"), ("ledger", "tsv"), ("rounds", "tsv"))
    }


def folds_of(disease):
    """The training folds of a disease: one per held-out site (loso) and 'within'."""
    return grid.study_folds(config, disease, sites_of(disease))


def fold_test_sites(disease, fold):
    """Sites that evaluate a fold: the held-out site, or every site (its test split)."""
    return Fold.parse(fold).test_sites(sites_of(disease))


def training_endpoint_folds(disease):
    """(endpoint, fold) of every training job of the disease: the prognostic grid, then
    the transplant study's folds (endpoint 'hsct') and the marrow-blast classifier's."""
    pairs = [(e, f) for e in train_endpoints(disease) for f in folds_of(disease)]
    pairs += [(grid.TRANSPLANT, f) for f in transplant_folds(disease)]
    return pairs + [(grid.DIAGNOSIS, f) for f in diagnosis_folds(disease)]


def training_outputs(disease, kind):
    """One file per (endpoint, fold) of the disease: models.pt, ledger.tsv or rounds.tsv."""
    return [
        f"results/{disease}/training/{endpoint}/{fold}/{kind}"
        for endpoint, fold in training_endpoint_folds(disease)
    ]


def all_training_outputs(kind):
    return [path for disease in DISEASES for path in training_outputs(disease, kind)]


def training_output_keys():
    """(disease, endpoint, fold) of each file of all_training_outputs, in the same order."""
    return [
        {"disease": disease, "endpoint": endpoint, "fold": fold}
        for disease in DISEASES
        for endpoint, fold in training_endpoint_folds(disease)
    ]


def transplant_release_outputs(kind):
    """Every site's transplant count table ('json') or its ledger ('ledger.tsv')."""
    suffix = ".json" if kind == "json" else "_ledger.tsv"
    return [
        f"results/{disease}/sites/{site}/shared/transplant_by_ipssm{suffix}"
        for disease in transplant_diseases()
        for site in sites_of(disease)
    ]


def transplant_release_keys():
    """(disease, endpoint, fold) of each file of transplant_release_outputs."""
    return [
        {"disease": disease, "endpoint": grid.TRANSPLANT, "fold": ""}
        for disease in transplant_diseases()
        for site in sites_of(disease)
    ]


def transplant_evaluation_outputs(disease, kind):
    """Every test site's transplant evaluation file (validation.tsv or rmst.tsv)."""
    return [
        f"results/{disease}/sites/{site}/shared/evaluation/hsct_{fold}_{kind}"
        for fold in transplant_test_folds(disease)
        for site in fold_test_sites(disease, fold)
    ]


def transplant_table_outputs():
    """The transplant study's tables and figure, per disease that has it."""
    return [
        f"results/{disease}/{part}"
        for disease in transplant_diseases()
        for part in (
            "tables/hsct_validation.tsv",
            "tables/hsct_rmst.tsv",
            "tables/hsct_effects.tsv",
            "tables/hsct_transplanted_by_ipssm.tsv",
            "figures/hsct_rmst_gain.png",
            "figures/hsct_rmst_gain.pdf",
        )
    ]


def reclassification_outputs():
    """The WHO 2016 -> 2022 -> ICC table and figure of each MDS (iwgpm) disease; none in
    deployment mode, where an exact (suppressed) cross-tabulation may not leave a site.
    """
    if DEPLOYMENT:
        return []
    return [
        f"results/{disease}/{part}"
        for disease in DISEASES
        if kind_of(disease) == "iwgpm"
        for part in (
            "tables/reclassification.tsv",
            "figures/reclassification.png",
            "figures/reclassification.pdf",
        )
    ]


def audit_config():
    """config privacy.audit, or None (none in deployment mode: its figures are exact)."""
    return None if DEPLOYMENT else config["privacy"].get("audit")


def audit_endpoint(disease):
    """The endpoint whose within fold the audit attacks: the disease's first trained one."""
    return train_endpoints(disease)[0]


def audited_sites(disease):
    """The sites of ``disease`` the audit runs at (none when it is not audited)."""
    audit = audit_config()
    if audit is None or disease not in audit["diseases"]:
        return []
    if "within" not in config["evaluation"]["designs"]:
        return []
    chosen = audit["sites"]
    return (
        sites_of(disease)
        if chosen == "all"
        else [s for s in chosen if s in sites_of(disease)]
    )


def _audit_problems():
    """What keeps the configured audit from running as listed: a missing within design, or
    diseases and sites this site sheet does not have (the default config audits site07 of
    the bundled cohort; another sheet simply has no such site)."""
    audit = config["privacy"].get("audit")
    if not audit or DEPLOYMENT:
        return []
    problems = []
    if "within" not in config["evaluation"]["designs"]:
        problems.append(
            "no audit: evaluation.designs lacks 'within' (its members are the training split)"
        )
    problems += [
        f"privacy.audit.diseases: {d!r} is not a disease of the site sheet: not audited"
        for d in audit["diseases"]
        if d not in DISEASES
    ]
    if audit["sites"] != "all":
        known = {s for d in audit["diseases"] if d in DISEASES for s in sites_of(d)}
        problems += [
            f"privacy.audit.sites: {s!r} is not a site of {audit['diseases']} in the site sheet: not audited"
            for s in audit["sites"]
            if s not in known
        ]
    return problems


def audit_outputs(kind):
    """Every audited site's released audit file ('membership_canary.tsv' or 'roc.tsv')."""
    return [
        f"results/{disease}/sites/{site}/shared/audit/{kind}"
        for disease in DISEASES
        for site in audited_sites(disease)
    ]


AUDIT_PROBLEMS = _audit_problems()
for _problem in AUDIT_PROBLEMS:
    print(f"fedheme: {_problem}", file=sys.stderr)


def audit_table_outputs():
    """The study's audit table, ROC points and figure, when any site is audited."""
    if not audit_outputs("roc.tsv"):
        return []
    return [
        "results/privacy/audit.tsv",
        "results/privacy/audit_roc.tsv",
        "results/privacy/figures/audit.png",
        "results/privacy/figures/audit.pdf",
    ]


def non_private_releases():
    """Per disease, the releases of every site's patients made without noise (besides the
    runs without DP, which the ledger lists): what makes a study total infinite. None in
    deployment mode."""
    from fedheme.privacy.study import non_private_release_kinds

    return {
        disease: (
            []
            if DEPLOYMENT
            else non_private_release_kinds(
                config["diseases"][disease],
                exact_releases=any(
                    "exact" in release_modes(disease, endpoint)
                    for endpoint in (None, grid.TRANSPLANT, grid.DIAGNOSIS)
                ),
                audited=bool(audited_sites(disease)),
            )
        )
        for disease in DISEASES
    }


def planned_totals():
    """Deployment mode: each site's planned study epsilon, keyed '<disease>/<site>'."""
    if not DEPLOYMENT:
        return {}
    return {
        f"{r.disease}/{r.site}": float(r.epsilon_planned) for r in PLAN.itertuples()
    }


def evaluation_output_keys():
    """(disease, endpoint, fold) of each file of evaluation_outputs, in the same order."""
    return [
        {"disease": disease, "endpoint": endpoint, "fold": fold}
        for disease in DISEASES
        for endpoint in train_endpoints(disease)
        for fold in folds_of(disease)
        for site in fold_test_sites(disease, fold)
    ]


def figure_params(name):
    """Params of a figure rule: the figure, the endpoint shown and the settings it reads."""
    return {
        "figure": name,
        "endpoint": lambda w: train_endpoints(w.disease)[0],
        "binary": lambda w: is_binary(w.disease, train_endpoints(w.disease)[0]),
        "training": lambda w: training_of(w.disease),
        "evaluation": config["evaluation"],
        "figures": config["figures"],
        "min_cell_count": config["privacy"]["min_cell_count"],
    }


def figures_of(disease):
    """The figures of a disease: no site-heterogeneity figure for tabular diseases (it
    draws the MDS schema), no Kaplan-Meier curves for a binary endpoint."""
    binary = is_binary(disease, train_endpoints(disease)[0])
    names = ["site_heterogeneity"] if kind_of(disease) == "iwgpm" else []
    return names + [f.name for f in FIGURES if not (binary and f.survival_only)]


def figure_outputs():
    return [
        f"results/{disease}/figures/{name}.{ext}"
        for disease in DISEASES
        for name in figures_of(disease)
        for ext in ("png", "pdf")
    ]


def manifest_inputs():
    """Every table of the run (what results/MANIFEST.tsv fingerprints)."""
    tables = [
        f"results/{d}/tables/site_overview.tsv"
        for d in DISEASES
        if kind_of(d) == "iwgpm"
    ]
    tables += [
        f"results/tables/{name}"
        for name in (
            "metrics.tsv",
            "summary.md",
            "calibration.tsv",
            "km_life_tables.tsv",
            "convergence.tsv",
        )
    ]
    tables += [p for p in transplant_table_outputs() if p.endswith(".tsv")]
    tables += [p for p in reclassification_outputs() if p.endswith(".tsv")]
    tables += [p for p in diagnosis_table_outputs() if p.endswith(".tsv")]
    tables += [p for p in audit_table_outputs() if p.endswith(".tsv")]
    return tables + ["results/privacy/ledger.tsv", "results/privacy/study.tsv"]


def evaluation_outputs(kind):
    """Every test site's evaluation file of ``kind`` (metrics.tsv, km.tsv,
    calibration.tsv) over diseases, endpoints and folds."""
    return [
        f"results/{disease}/sites/{site}/shared/evaluation/{endpoint}_{fold}_{kind}"
        for disease in DISEASES
        for endpoint in train_endpoints(disease)
        for fold in folds_of(disease)
        for site in fold_test_sites(disease, fold)
    ]


def final_outputs():
    """What `make run` builds: QC per site, every table (fingerprinted in the manifest),
    every figure, and the report's context."""
    targets = []
    for disease in DISEASES:
        for site in sites_of(disease):
            base = f"results/{disease}/sites/{site}"
            targets.append(f"{base}/private/qc_report.md")
    targets += figure_outputs()
    targets += [p for p in transplant_table_outputs() if not p.endswith(".tsv")]
    targets += [p for p in reclassification_outputs() if not p.endswith(".tsv")]
    targets += [p for p in diagnosis_table_outputs() if not p.endswith(".tsv")]
    targets += [p for p in audit_table_outputs() if not p.endswith(".tsv")]
    targets += [
        "results/MANIFEST.tsv",
        "results/report/config.yaml",
        "results/report/software.tsv",
    ]
    return targets


# A warm worker for local runs (fedheme.jobs.warm; FEDHEME_WARM=off to do without): each
# job starts in a fork of one process that imported torch, Opacus, scikit-survival and
# matplotlib once (waiting up to 60 s for it to listen, so that every job does). Not on a
# cluster, nor with conda or container deployment, where jobs run another interpreter.
from fedheme.jobs import warm

_WARM_WORKER = []


def start_warm_worker():
    if (
        workflow.is_main_process
        and workflow.local_exec
        and not workflow.deployment_settings.deployment_method
    ):
        _WARM_WORKER.append(
            warm.start(
                log="results/logs/warm_worker.log",
                src=Path(workflow.basedir) / "src",
                wait=60,
            )
        )


def stop_warm_worker():
    while _WARM_WORKER:
        warm.stop(_WARM_WORKER.pop())
