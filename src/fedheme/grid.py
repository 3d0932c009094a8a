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


def held_out_sites(config: dict, disease: str, sites: list[str]) -> list[str]:
    """The sites held out one at a time (``training.held_out_sites``: 'all' or a list)."""
    chosen = training_of(config, disease)["held_out_sites"]
    return list(sites) if chosen == "all" else [s for s in chosen if s in sites]


def study_folds(config: dict, disease: str, sites: list[str]) -> list[str]:
    """The folds of a disease: one per held-out site (loso) and ``within``."""
    return fold_names(config["evaluation"]["designs"], held_out_sites(config, disease, sites))


def epsilon_label(epsilon: float) -> str:
    """'inf' or the epsilon as written in config ('3', '0.5')."""
    return "inf" if math.isinf(epsilon) else f"{epsilon:g}"


def run_name(strategy: str, epsilon: float, seed, fold: str) -> str:
    """A run's name in the ledger and the bundle (its group is appended there)."""
    return f"{strategy}_eps{epsilon_label(epsilon)}_seed{seed}_{fold}"
