"""What a networked run is, and the study config every party reads (public).

A run of the networked federation is one run of the pipeline's grid: (disease, endpoint,
fold, strategy, epsilon, seed). Coordinator and nodes each read the study config and site
sheet from their own copies; a node takes part only in a run its copy of the grid holds
(:meth:`NetworkRun.problems`: one of the study's folds, strategies, epsilons and seeds),
so a coordinator cannot ask a hospital for a run the study did not plan (another fold or
epsilon, an exact release in deployment mode).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import yaml

from fedheme.folds import FOLD_PATTERN, Fold
from fedheme.grid import DIAGNOSIS, TRANSPLANT, diagnosis_folds, diagnosis_of, run_name, study_folds, study_training, train_endpoints

#: The strategies a networked run may train (the pipeline's federated ones).
NETWORK_STRATEGIES = ("fedavg", "fedprox", "fedadam")


def _merge(base: dict, update: dict) -> dict:
    """``update`` merged into ``base``, nested mappings key by key (as Snakemake merges
    ``--configfile`` into the Snakefile's config)."""
    out = dict(base)
    for key, value in update.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_study_config(paths: list[str | Path]) -> dict:
    """The study config: the YAML ``paths`` merged in order (``config/config.yaml`` first,
    then a study's own file, as ``snakemake --configfile`` would)."""
    config: dict = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a study config is a YAML mapping")
        config = _merge(config, loaded)
    return config


def read_settings(path: str | Path, required: tuple[str, ...], *, error: type[Exception], what: str) -> tuple[dict, Path]:
    """A TOML settings file (a node's, a coordinator's run file) and the folder its relative
    paths are relative to; ``error`` (naming the file) when it cannot be read or lacks a key."""
    import tomllib

    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise error(f"{path}: cannot read the {what}: {err}") from err
    missing = [k for k in required if k not in raw]
    if missing:
        raise error(f"{path}: {missing} missing from the {what} (keys: {list(required)})")
    return raw, path.resolve().parent


def study_sites(sheet: str | Path, disease: str) -> list[str]:
    """The sites of ``disease`` in the study's site sheet (TSV with ``site_id`` and
    ``disease`` columns), in the sheet's order (the order of the pipeline's sums)."""
    with open(sheet, encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader((line for line in handle if not line.startswith("#")), delimiter="\t")]
    if rows and not {"site_id", "disease"} <= set(rows[0]):
        raise ValueError(f"{sheet}: a site sheet has the columns site_id and disease")
    return [r["site_id"] for r in rows if r["disease"] == disease]


@dataclass(frozen=True)
class NetworkRun:
    """One run of the grid, trained over the network.

    Attributes:
        disease, endpoint, fold: as in the pipeline's paths (``fold``: ``loso-<site>``,
            ``within`` or ``all``).
        strategy: fedavg, fedprox or fedadam.
        epsilon: each site's target epsilon for the run (inf: no DP).
        seed: the run's seed (public: the draws come from each site's key).
    """

    disease: str
    endpoint: str
    fold: str
    strategy: str
    epsilon: float
    seed: int

    @classmethod
    def from_dict(cls, raw: dict) -> "NetworkRun":
        return cls(str(raw["disease"]), str(raw["endpoint"]), str(raw["fold"]), str(raw["strategy"]),
                   float(raw["epsilon"]), int(raw["seed"]))  # fmt: skip

    def to_dict(self) -> dict:
        out = asdict(self)
        out["epsilon"] = "inf" if math.isinf(self.epsilon) else self.epsilon
        return out

    @property
    def name(self) -> str:
        """The run's name in the ledger and bundle, as the pipeline names it."""
        return run_name(self.strategy, self.epsilon, self.seed, self.fold)

    @property
    def private(self) -> bool:
        return math.isfinite(self.epsilon)

    def training(self, config: dict) -> dict:
        """The training block of the run's study."""
        return study_training(config, self.disease, self.endpoint)

    def diagnosis(self, config: dict) -> dict | None:
        """The marrow-blast classifier's config when the run trains it, else None."""
        return diagnosis_of(config, self.disease) if self.endpoint == DIAGNOSIS else None

    def train_config(self, config: dict):
        """The run's hyperparameters (:class:`fedheme.federated.config.TrainConfig`)."""
        from fedheme.federated.config import TrainConfig

        return replace(TrainConfig.from_config(self.training(config)), strategy=self.strategy, epsilon=self.epsilon, seed=self.seed)

    def settings(self, config: dict):
        """The run's features and time bins (:class:`fedheme.federated.config.DesignSettings`)."""
        from fedheme.federated.config import study_settings

        return study_settings(config["diseases"][self.disease], self.training(config), self.diagnosis(config))

    def folds(self, config: dict, sites: list[str]) -> list[str]:
        """The folds the study trains for the run's endpoint."""
        if self.endpoint == DIAGNOSIS:
            return diagnosis_folds(config, self.disease, sites)
        return study_folds(config, self.disease, sites)

    def problems(self, config: dict, sites: list[str], site: str | None = None) -> list[str]:
        """Why the study (``config`` and its ``sites`` of the disease) does not plan this run
        (for ``site``: one of its training sites); empty when it does."""
        if self.disease not in config.get("diseases", {}):
            return [f"disease {self.disease!r} is not in the study config"]
        if self.endpoint == TRANSPLANT:
            return ["the transplant model is not trained over the network (its cohort needs each site's transplant times)"]
        endpoints = train_endpoints(config["diseases"][self.disease]) + ([DIAGNOSIS] if diagnosis_of(config, self.disease) else [])
        if self.endpoint not in endpoints:
            return [f"endpoint {self.endpoint!r} is not one the study trains ({endpoints})"]
        if not re.fullmatch(FOLD_PATTERN, self.fold) or self.fold not in self.folds(config, sites):
            return [f"fold {self.fold!r} is not one of the study's folds {self.folds(config, sites)}"]
        out = []
        if site is not None and site not in Fold.parse(self.fold).train_sites(sites):
            out.append(f"site {site} does not train fold {self.fold} (held out, or not in the study's site sheet)")
        training = self.training(config)
        if self.strategy not in NETWORK_STRATEGIES or self.strategy not in training["strategies"]:
            out.append(f"strategy {self.strategy!r} is not one of the study's federated strategies {training['strategies']}")
        if self.epsilon not in [float(e) for e in training["epsilons"]]:
            out.append(f"epsilon {self.epsilon:g} is not one of the study's {training['epsilons']}")
        if self.seed not in [int(s) for s in training["seeds"]]:
            out.append(f"seed {self.seed} is not one of the study's {training['seeds']}")
        if config.get("privacy", {}).get("mode", "research") == "deployment" and not self.private:
            out.append("privacy.mode deployment trains nothing without DP (epsilon = inf)")
        return out
