"""What a networked run is, and the study config every party reads (public).

A run of the networked federation is one run of the pipeline's grid: (disease, endpoint,
fold, strategy, epsilon, seed). Coordinator and nodes each read the study config from
their own copy of its files; a node takes part only in a run its copy of the grid holds
(:meth:`NetworkRun.problems`), so a coordinator cannot ask a hospital for a run the study
did not plan (another epsilon, an exact release in deployment mode).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import yaml

from fedheme.folds import Fold
from fedheme.grid import DIAGNOSIS, TRANSPLANT, diagnosis_of, run_name, study_training, train_endpoints

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

    def problems(self, config: dict, site: str | None = None) -> list[str]:
        """Why the study ``config`` does not plan this run (for ``site``, a training site
        of it); empty when it does."""
        if self.disease not in config.get("diseases", {}):
            return [f"disease {self.disease!r} is not in the study config"]
        disease = config["diseases"][self.disease]
        endpoints = train_endpoints(disease) + ([DIAGNOSIS] if diagnosis_of(config, self.disease) else [])
        out = []
        if self.endpoint == TRANSPLANT:
            out.append("the transplant model is not trained over the network (its cohort needs each site's transplant times)")
        elif self.endpoint not in endpoints:
            out.append(f"endpoint {self.endpoint!r} is not one the study trains ({endpoints})")
            return out
        training = self.training(config)
        try:
            fold = Fold.parse(self.fold)
        except ValueError as err:
            return out + [str(err)]
        if site is not None and fold.held_out == site:
            out.append(f"site {site} is held out of fold {self.fold}: it does not train it")
        if self.strategy not in NETWORK_STRATEGIES or self.strategy not in training["strategies"]:
            out.append(f"strategy {self.strategy!r} is not one of the study's federated strategies {training['strategies']}")
        if self.epsilon not in [float(e) for e in training["epsilons"]]:
            out.append(f"epsilon {self.epsilon:g} is not one of the study's {training['epsilons']}")
        if self.seed not in [int(s) for s in training["seeds"]]:
            out.append(f"seed {self.seed} is not one of the study's {training['seeds']}")
        if config.get("privacy", {}).get("mode", "research") == "deployment" and not self.private:
            out.append("privacy.mode deployment trains nothing without DP (epsilon = inf)")
        return out
