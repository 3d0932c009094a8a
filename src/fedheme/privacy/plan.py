"""The privacy plan of a study: every mechanism each site will run, known from config alone.

In ``deployment`` mode (:data:`MODES`) nothing about a site's patients leaves it without
noise, and every noise multiplier, sample rate and step count follows from public config:
the training releases (:func:`release_mechanisms`), each DP-SGD run (a public Poisson rate
``training.sample_rate``; the noise calibrated to the run's epsilon by
:func:`dp_sgd_mechanism`) and each count table a test site releases in evaluation. So the
whole study can be composed per site before any job runs (:func:`plan_study`): planning
refuses a grid whose composed epsilon exceeds ``privacy.study_epsilon``
(:func:`check_plan`), and each job charges the same :class:`Charge` s to the site's own
accountant (:mod:`fedheme.privacy.budget`) before it writes anything.

Every charge has an identity (disease, release or run, endpoint, fold, strategy, epsilon,
seed, purpose): a job that reruns the same identity draws the same noise from the site's
key and releases nothing new, so a charge counts once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from fedheme.grid import dp_release_mode, release_name, run_name, study_folds, train_endpoints, training_of
from fedheme.privacy.accounting import Mechanism, calibrate_noise, epsilon_of

#: The privacy modes (``privacy.mode``).
MODES = ("research", "deployment")
#: Mechanism of a count table a test site releases in ``deployment`` evaluation.
EVALUATION_TABLE = "gaussian-evaluation-table"
#: Defaults of ``privacy.evaluation_noise`` and ``privacy.evaluation_risk_edges`` (as the
#: config schema sets them).
EVALUATION_NOISE = 5.0
EVALUATION_RISK_EDGES = (0.1, 0.2, 0.35, 0.5, 0.7)
#: Columns of the study plan (one row per disease and site).
PLAN_COLUMNS = ["disease", "site", "charges", "releases", "dp_sgd_runs", "evaluation_tables", "delta",
                "epsilon_planned", "epsilon_planned_rdp_dp_accounting", "epsilon_planned_pld_dp_accounting",
                "study_epsilon"]  # fmt: skip


class BudgetExceeded(RuntimeError):
    """A plan or a job would spend more than a site's study budget."""


@dataclass(frozen=True)
class Charge:
    """One mechanism a site runs, with the identity of the release or run that makes it."""

    identity: str
    mechanism: Mechanism


def over_budget_message(disease: str, site: str, total: float, budget: float, delta: float) -> str:
    """The one message of a plan or job over budget: the site and its planned total."""
    return (f"privacy budget exceeded: {disease} site {site} would spend epsilon {total:.3f} (delta {delta:g}) over the "
            f"study, above privacy.study_epsilon = {budget:g}; shrink the grid (epsilons, seeds, strategies, folds, "
            f"endpoints) or raise the noise")  # fmt: skip


def release_mechanisms(noise_multipliers: dict[str, float], parts: tuple[str, ...], release: str) -> list[Mechanism]:
    """The Gaussian mechanisms of one training release (one step each; none when exact).

    Args:
        noise_multipliers: part -> noise multiplier (0: released exactly).
        parts: ``numeric``, ``binary`` and, with a survival endpoint, ``histogram``.
        release: the release's name (``training_release_<subset>``).
    """
    out = []
    for part in parts:
        sigma = float(noise_multipliers[part])
        out.append(Mechanism(f"gaussian-{part}-aggregates", sigma, 1.0, 1 if sigma > 0 else 0, release))
    return out


def dp_sgd_mechanism(config, releases: list[Mechanism]) -> Mechanism:
    """The DP-SGD mechanism of one site in one run at the public sample rate: the noise
    multiplier calibrated (as the client does) so the releases and every step meet the
    run's epsilon.

    Args:
        config: the run's :class:`fedheme.federated.config.TrainConfig` (finite epsilon,
            ``sample_rate`` set).
        releases: the site's training-release mechanisms the run uses.
    """
    if config.sample_rate is None:
        raise ValueError("a planned DP-SGD run needs the public training.sample_rate")
    q = float(config.sample_rate)
    steps = config.rounds * config.steps_per_round(q)
    fixed = tuple(m for m in releases if m.steps > 0)
    return Mechanism("dp-sgd", _calibrated(float(config.epsilon), float(config.delta), q, steps, fixed), q, steps)


@lru_cache(maxsize=None)
def _calibrated(epsilon: float, delta: float, q: float, steps: int, fixed: tuple[Mechanism, ...]) -> float:
    """:func:`calibrate_noise`, once per distinct run (a study repeats them across sites and folds)."""
    return calibrate_noise(epsilon, delta, q, steps, list(fixed))


def release_charges(disease: str, release: str, mechanisms: list[Mechanism]) -> list[Charge]:
    """The charges of one training release (``release``: its name, see :func:`fedheme.grid.release_name`)."""
    return [Charge(f"{disease}/{release}/{m.name}", m) for m in mechanisms if m.steps > 0]


def training_charges(disease_name: str, disease: dict, training: dict, *, endpoint: str, fold: str, site: str) -> list[Charge]:
    """The DP-SGD runs of one training site in one fold: every strategy (and the local-only
    baseline) at every epsilon and seed of the grid."""
    from fedheme.federated.config import DesignSettings, TrainConfig
    from fedheme.folds import Fold

    subset = Fold.parse(fold).train_subset
    settings = DesignSettings.from_config(disease, training)
    strategies = list(training["strategies"]) + (["local"] if "local" in training["baselines"] else [])
    out = []
    for strategy in strategies:
        for epsilon in (float(e) for e in training["epsilons"]):
            for seed in training["seeds"]:
                releases = release_mechanisms(training["release_noise"], settings.release_parts, release_name(subset, dp_release_mode(seed)))
                config = TrainConfig.from_config(training, strategy="fedavg" if strategy == "local" else strategy,
                                                 epsilon=epsilon, seed=seed)  # fmt: skip
                group = site if strategy == "local" else "federation"
                identity = f"{disease_name}/{endpoint}/{run_name(strategy, epsilon, seed, fold)}_{group}"
                out.append(Charge(identity, dp_sgd_mechanism(config, releases)))
    return out


def evaluation_scores(disease: dict) -> list[str]:
    """What a test site evaluates in ``deployment``: the declared model and each clinical score."""
    return ["model"] + list(disease["baselines"])


def evaluation_charges(disease_name: str, scores: list[str], *, endpoint: str, fold: str, noise_multiplier: float) -> list[Charge]:
    """One count table per evaluated score at one test site (sensitivity 1 each)."""
    return [Charge(f"{disease_name}/{endpoint}/{fold}/evaluation/{score}",
                   Mechanism(EVALUATION_TABLE, float(noise_multiplier), 1.0, 1, f"evaluation_{endpoint}_{fold}_{score}"))
            for score in scores]  # fmt: skip


def site_plan(config: dict, disease_name: str, sites: list[str]) -> dict[str, list[Charge]]:
    """Every charge of every site of one disease over the study (``deployment`` mode)."""
    from fedheme.federated.config import DesignSettings
    from fedheme.folds import Fold

    disease, training = config["diseases"][disease_name], training_of(config, disease_name)
    parts = DesignSettings.from_config(disease, training).release_parts
    folds = study_folds(config, disease_name, sites)
    noise = float(config["privacy"].get("evaluation_noise", EVALUATION_NOISE))
    plan: dict[str, list[Charge]] = {}
    for site in sites:
        subsets = {Fold.parse(f).train_subset for f in folds if site in Fold.parse(f).train_sites(sites)}
        if disease.get("kind", "iwgpm") == "iwgpm":
            subsets.add("all")  # the site overview is drawn from this release
        charges = []
        for subset in sorted(subsets):
            for seed in training["seeds"]:
                release = release_name(subset, dp_release_mode(seed))
                charges += release_charges(disease_name, release, release_mechanisms(training["release_noise"], parts, release))
        for endpoint in train_endpoints(disease):
            for fold in folds:
                if site in Fold.parse(fold).train_sites(sites):
                    charges += training_charges(disease_name, disease, training, endpoint=endpoint, fold=fold, site=site)
                if site in Fold.parse(fold).test_sites(sites):
                    charges += evaluation_charges(disease_name, evaluation_scores(disease), endpoint=endpoint, fold=fold, noise_multiplier=noise)
        plan[site] = charges
    return plan


def deployment_problems(config: dict) -> list[str]:
    """What a ``deployment`` config may not hold: anything non-private about a site's
    patients, or a plan that cannot be known before the first release."""
    problems = []
    privacy = config["privacy"]
    if "study_epsilon" not in privacy:
        problems.append("privacy.study_epsilon: deployment needs each site's budget over the study")
    edges = privacy.get("evaluation_risk_edges", EVALUATION_RISK_EDGES)
    missing = sorted(set(map(float, config["figures"]["risk_thresholds"])) - set(map(float, edges)))
    if missing:
        problems.append(f"privacy.evaluation_risk_edges: must include figures.risk_thresholds {missing}")
    if config["privacy"].get("audit"):
        problems.append("privacy.audit: the privacy audit is research mode only (its figures are exact releases); set it to null")
    for disease in config["diseases"]:
        training = training_of(config, disease)
        where = f"diseases.{disease}" if "training" in config["diseases"][disease] else "training"
        if training.get("sample_rate") is None:
            problems.append(f"{where}: training.sample_rate must be set (a public sampling rate, so the plan is known before any release)")
        if any(math.isinf(float(e)) for e in training["epsilons"]):
            problems.append(f"{where}: training.epsilons holds inf (a non-private run)")
        for baseline in sorted({"pooled", "cox", "sklearn"} & set(training["baselines"])):
            problems.append(f"{where}: training.baselines holds {baseline!r} (patients pooled without DP)")
        if config["diseases"][disease].get("marker_features"):
            problems.append(f"diseases.{disease}.marker_features: the markers baseline trains without DP")
        if config["diseases"][disease].get("treatment", {}).get("transplant"):
            problems.append(f"diseases.{disease}.treatment: the transplant study is not planned in deployment mode yet "
                            "(its pooled baseline trains without DP and its evaluation releases exact estimates)")
        if (config["diseases"][disease].get("diagnosis") or {}).get("marrow_blasts"):
            problems.append(f"diseases.{disease}.diagnosis: the marrow-blast classifier is not planned in deployment mode yet "
                            "(its pooled baselines train without DP and its evaluation releases exact estimates)")
    return problems


def plan_study(config: dict, sites_by_disease: dict[str, list[str]], *, independent: bool = True) -> pd.DataFrame:
    """One row per (disease, site): the planned charges composed (Opacus RDP), recomputed
    by ``dp-accounting`` (RDP and PLD; NaN with ``independent=False``, which is faster),
    beside ``privacy.study_epsilon``."""
    from fedheme.privacy.independent import independent_epsilons

    rows = []
    budget = float(config["privacy"].get("study_epsilon", math.inf))
    for disease in sorted(sites_by_disease):
        delta = float(training_of(config, disease)["delta"])
        for site, charges in site_plan(config, disease, sites_by_disease[disease]).items():
            history = [c.mechanism for c in charges]
            recomputed = independent_epsilons(history, delta) if independent else {"rdp": math.nan, "pld": math.nan}
            rows.append({
                "disease": disease, "site": site, "charges": len(charges),
                "releases": sum(c.mechanism.name.startswith("gaussian-") and c.mechanism.name != EVALUATION_TABLE for c in charges),
                "dp_sgd_runs": sum(c.mechanism.name == "dp-sgd" for c in charges),
                "evaluation_tables": sum(c.mechanism.name == EVALUATION_TABLE for c in charges), "delta": delta,
                "epsilon_planned": epsilon_of(history, delta), "epsilon_planned_rdp_dp_accounting": recomputed["rdp"],
                "epsilon_planned_pld_dp_accounting": recomputed["pld"], "study_epsilon": budget,
            })  # fmt: skip
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def check_plan(config: dict, sites_by_disease: dict[str, list[str]]) -> pd.DataFrame:
    """The plan of a ``deployment`` study, or :class:`BudgetExceeded` / ``ValueError``
    before any job runs: a config that would release anything non-private, or a site
    whose planned total exceeds ``privacy.study_epsilon`` (each such site named)."""
    problems = deployment_problems(config)
    if problems:
        raise ValueError("privacy.mode deployment refuses this config:\n" + "\n".join(f"  - {p}" for p in problems))
    plan = plan_study(config, sites_by_disease, independent=False)
    over = plan[plan["epsilon_planned"] > plan["study_epsilon"]]
    if len(over):
        raise BudgetExceeded("\n".join(over_budget_message(r.disease, r.site, r.epsilon_planned, r.study_epsilon, r.delta)
                                       for r in over.itertuples()))  # fmt: skip
    return plan
