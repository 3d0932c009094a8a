"""The study grid, from config alone: each disease's training block, the endpoints it
trains, its held-out sites and folds, and the name of each run.

Standard library only: the workflow's rules (``workflow/rules/common.smk``), the training
job and the privacy plan (:mod:`fedheme.privacy.plan`) all read the grid here, so the
plan composes exactly the runs the workflow makes.
"""

from __future__ import annotations

import math

from fedheme.folds import fold_names


def training_of(config: dict, disease: str) -> dict:
    """The training block with the disease's own overrides applied."""
    return {**config["training"], **config["diseases"][disease].get("training", {})}


def train_endpoints(disease: dict) -> list[str]:
    """The endpoints a disease (its config block) trains and evaluates."""
    return list(disease.get("train_endpoints", [disease["primary_endpoint"]]))


#: The survival endpoints of a harmonised MDS file (``fedheme.standard.mds.SURVIVAL_ENDPOINTS``).
MDS_ENDPOINTS = ("os", "lfs", "os_nh", "lfs_nh")


def endpoint_problems(config: dict) -> list[str]:
    """What is wrong with the diseases' endpoints, one line each (empty when nothing).

    A disease's ``primary_endpoint`` and ``train_endpoints`` must be among its
    ``endpoints`` (whose released histograms training needs); an MDS endpoint must be one
    the harmonised file holds; a tabular one a key of its ``outcome.endpoints``.
    """
    problems = []
    for name, disease in config["diseases"].items():
        declared = list(disease["endpoints"])
        if disease.get("kind", "iwgpm") == "iwgpm":
            known = list(MDS_ENDPOINTS)
        else:
            known = list(disease.get("outcome", {}).get("endpoints", {}))
        for endpoint in declared:
            if endpoint not in known:
                problems.append(f"diseases.{name}.endpoints: {endpoint!r} is not one of {known}")
        for key, chosen in (("primary_endpoint", [disease["primary_endpoint"]]), ("train_endpoints", train_endpoints(disease))):
            for endpoint in chosen:
                if endpoint not in declared:
                    problems.append(f"diseases.{name}.{key}: {endpoint!r} is not in its endpoints {declared}")
    return problems


def held_out_sites(config: dict, disease: str, sites: list[str]) -> list[str]:
    """The sites held out one at a time (``training.held_out_sites``: 'all' or a list)."""
    chosen = training_of(config, disease)["held_out_sites"]
    return list(sites) if chosen == "all" else [s for s in chosen if s in sites]


def study_folds(config: dict, disease: str, sites: list[str]) -> list[str]:
    """The folds of a disease: one per held-out site (loso) and ``within``."""
    return fold_names(config["evaluation"]["designs"], held_out_sites(config, disease, sites))


def dp_release_mode(seed) -> str:
    """The release mode of a DP run of ``seed``: every seed draws its own release noise, so
    that the spread over seeds includes it (``dp-s<seed>``)."""
    return f"dp-s{seed}"


def release_modes(config: dict, disease: str, training: dict | None = None) -> list[str]:
    """The training releases of each site: ``exact`` for epsilon = inf runs and the
    baselines without DP, and one ``dp-s<seed>`` per seed when any epsilon is finite
    (``training``: another training block of the disease than its own, the transplant one)."""
    training = training_of(config, disease) if training is None else training
    epsilons = [float(e) for e in training["epsilons"]]
    modes = []
    if math.inf in epsilons or {"pooled", "cox", "sklearn"} & set(training["baselines"]) or config["diseases"][disease].get("marker_features"):
        modes.append("exact")
    if any(math.isfinite(e) for e in epsilons):
        modes += [dp_release_mode(seed) for seed in training["seeds"]]
    return modes


def release_name(subset: str, mode: str, study: str = "training") -> str:
    """The name a training release goes by in the privacy ledger: one per study, subset,
    and per seed for a DP release (``training_release_all_s1``; the marrow-blast
    classifier's: ``marrow_blasts_release_all_s1``); a study composes each once."""
    return f"{study}_release_{subset}" + ("" if mode in ("exact", "dp") else f"_{mode.removeprefix('dp-')}")


def epsilon_label(epsilon: float) -> str:
    """'inf' or the epsilon as written in config ('3', '0.5')."""
    return "inf" if math.isinf(epsilon) else f"{epsilon:g}"


def run_name(strategy: str, epsilon: float, seed, fold: str) -> str:
    """A run's name in the ledger and the bundle (its group is appended there)."""
    return f"{strategy}_eps{epsilon_label(epsilon)}_seed{seed}_{fold}"


#: The ``endpoint`` under which the transplant study's runs appear in the ledger and tables.
TRANSPLANT = "hsct"


def transplant_of(config: dict, disease: str) -> dict | None:
    """The disease's transplant study (``diseases.<d>.treatment.transplant``), or None."""
    return config["diseases"][disease].get("treatment", {}).get("transplant")


def transplant_training(config: dict, disease: str) -> dict:
    """The training block of the transplant model: the disease's, with the study's overrides."""
    return {**training_of(config, disease), **(transplant_of(config, disease) or {}).get("training", {})}


def transplant_folds(config: dict, disease: str, sites: list[str]) -> list[str]:
    """The transplant study's folds: one per held-out site, and ``all`` (every site: the
    model a clinician uses), when the disease has the study."""
    if transplant_of(config, disease) is None:
        return []
    return fold_names(["loso"], held_out_sites(config, disease, sites)) + ["all"]


#: The ``endpoint`` of the diagnostic classifier: the marrow blast category from blood.
DIAGNOSIS = "marrow_blasts"


def diagnosis_of(config: dict, disease: str) -> dict | None:
    """The disease's marrow-blast classifier (``diseases.<d>.diagnosis.marrow_blasts``), or None."""
    return (config["diseases"][disease].get("diagnosis") or {}).get(DIAGNOSIS)


def diagnosis_training(config: dict, disease: str) -> dict:
    """The training block of the marrow-blast classifier: the disease's, with the study's overrides."""
    return {**training_of(config, disease), **(diagnosis_of(config, disease) or {}).get("training", {})}


def diagnosis_folds(config: dict, disease: str, sites: list[str]) -> list[str]:
    """The classifier's folds: the evaluation designs' (loso per held-out site, within), and
    ``all`` (every site: the model ``fedheme blasts`` serves), when the disease has the study."""
    if diagnosis_of(config, disease) is None:
        return []
    return study_folds(config, disease, sites) + ["all"]


def study_training(config: dict, disease: str, endpoint: str) -> dict:
    """The training block of an endpoint: the transplant or diagnosis study's, or the disease's."""
    if endpoint == TRANSPLANT:
        return transplant_training(config, disease)
    if endpoint == DIAGNOSIS:
        return diagnosis_training(config, disease)
    return training_of(config, disease)
