"""Settings of federated training, from the ``training`` block of config and the disease's
``features`` block: :class:`TrainConfig` (one run's hyperparameters) and
:class:`DesignSettings` (features, bounds and time bins). Public configuration only: the
site clients and the server both read it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fedheme.standard.features import FeatureSpec
from fedheme.standard.mds import SURVIVAL_ENDPOINTS

STRATEGIES = ("fedavg", "fedprox", "fedadam")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one federated run (fixed in config before any test site is seen).

    Attributes:
        strategy: fedavg, fedprox or fedadam.
        epsilon: per-site target epsilon over the whole run; inf trains without DP.
        rounds, local_epochs: communication rounds; local passes over the data per round.
        batch_size: expected (Poisson) batch size; sample rate q = batch_size / the
            site's released noisy count, unless ``sample_rate`` is given.
        sample_rate: a public Poisson sampling rate q, the same at every site (required in
            ``deployment`` mode: the study's privacy plan must be known before any release).
        lr: client learning rate (per average patient gradient).
        clip_norm: per-patient gradient clipping bound C (DP only).
        mu: FedProx proximal weight.
        server_lr, beta1, beta2, tau: FedAdam server optimiser.
        dropout: probability that a site skips a round.
        delta: per-site delta, a public value (never a function of a site's size).
        model: 'linear' or 'mlp'.
        seed: seed of everything random in the run.
        average_last: the released model is the mean of the global weights after each of
            the last ``average_last`` share of rounds (0: the last round's). Post-processing
            of what the server already holds: no privacy cost, and it averages out part of
            the DP noise of the final iterates (Polyak-Ruppert averaging).
    """

    strategy: str = "fedavg"
    epsilon: float = math.inf
    rounds: int = 30
    local_epochs: int = 1
    batch_size: int = 64
    lr: float = 0.5
    clip_norm: float = 2.0
    mu: float = 0.1
    server_lr: float = 0.05
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3
    dropout: float = 0.0
    delta: float = 1e-5
    model: str = "linear"
    seed: int = 1
    sample_rate: float | None = None
    average_last: float = 0.0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {STRATEGIES}")
        if not self.epsilon > 0:
            raise ValueError("epsilon must be > 0 (inf for no DP)")
        if not 0 <= self.average_last < 1:
            raise ValueError(f"average_last must be a share of rounds in [0, 1), got {self.average_last}")

    @classmethod
    def from_config(cls, training: dict, **run) -> "TrainConfig":
        """The settings shared by every run of a training block; ``run`` sets strategy,
        epsilon and seed of one run."""
        adam = training["fedadam"]
        return cls(
            rounds=training["rounds"], local_epochs=training["local_epochs"], batch_size=training["batch_size"],
            lr=training["lr"], clip_norm=training["clip_norm"], mu=training["fedprox_mu"],
            server_lr=adam["server_lr"], beta1=adam["beta1"], beta2=adam["beta2"], tau=adam["tau"],
            dropout=training["client_dropout"], delta=training["delta"], model=training["model"],
            sample_rate=training.get("sample_rate"), average_last=float(training.get("average_last", 0.0)), **run,
        )  # fmt: skip

    @property
    def average_rounds(self) -> int:
        """How many final rounds the released model averages (0: none)."""
        return int(round(self.average_last * self.rounds))

    @property
    def private(self) -> bool:
        return math.isfinite(self.epsilon)

    def sample_rate_for(self, released_n: float) -> float:
        """Poisson sampling rate q at a site: the public ``sample_rate``, or
        ``batch_size / released_n`` (its released, noisy count; never its true n)."""
        if self.sample_rate is not None:
            return float(self.sample_rate)
        return min(1.0, self.batch_size / max(released_n, 1.0))

    def steps_per_round(self, sample_rate: float) -> int:
        """DP-SGD steps of one round: Opacus' Poisson sampler runs int(1 / q) per epoch."""
        return self.local_epochs * int(1 / sample_rate)


@dataclass(frozen=True)
class DesignSettings:
    """How features are bounded and time is binned (the ``training`` block of config).

    Attributes:
        spec: the model features.
        bounds: numeric feature -> (low, high) in the feature's (transformed) scale: public
            clinical limits, fixed before seeing data; values are clipped to them.
        endpoints: endpoints released and trained.
        horizon: follow-up horizon in years; later follow-up is censored there.
        n_bins: number of time bins K of survival endpoints (a binary endpoint has one:
            the logistic-hazard model is then logistic regression).
        outcomes: endpoint -> (time column or None for a binary endpoint, event column);
            the MDS endpoints by default.
        categories: endpoint -> cut points of a categorical endpoint, whose outcome
            column is numeric and whose class is the number of cut points at or below
            the value (cuts (5, 10): < 5, 5 to < 10, >= 10); its time column is None.
    """

    spec: FeatureSpec
    bounds: dict[str, tuple[float, float]]
    endpoints: tuple[str, ...]
    horizon: float
    n_bins: int
    outcomes: dict[str, tuple[str | None, str]] = field(default_factory=lambda: dict(SURVIVAL_ENDPOINTS))
    categories: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def is_binary(self, endpoint: str) -> bool:
        return self.outcomes[endpoint][0] is None and endpoint not in self.categories

    def is_categorical(self, endpoint: str) -> bool:
        return endpoint in self.categories

    def task(self, endpoint: str) -> str:
        """What a network of the endpoint predicts (:data:`fedheme.models.networks.TASKS`)."""
        return "softmax" if self.is_categorical(endpoint) else "hazard"

    @property
    def survival_endpoints(self) -> tuple[str, ...]:
        return tuple(e for e in self.endpoints if self.outcomes[e][0] is not None)

    def bins(self, endpoint: str) -> int:
        """Outputs of the endpoint's network: time bins, 1 (binary) or classes (categorical)."""
        if self.is_categorical(endpoint):
            return len(self.categories[endpoint]) + 1
        return 1 if self.is_binary(endpoint) else self.n_bins

    @classmethod
    def from_config(cls, disease: dict, training: dict) -> "DesignSettings":
        """From a disease's config block and the (disease's) training block."""
        features = disease["features"]
        bounds = {k: tuple(v) for k, v in features.get("bounds", {}).items()}
        if disease.get("kind", "iwgpm") == "tabular":
            spec = FeatureSpec.from_config(features, tuple(disease["columns"]))
            outcomes = {name: (e.get("time"), e["event"]) for name, e in disease["outcome"]["endpoints"].items()}
            endpoints = tuple(outcomes)
        else:
            spec, outcomes, endpoints = FeatureSpec.from_config(features), dict(SURVIVAL_ENDPOINTS), tuple(disease["endpoints"])
        return cls(spec, bounds, endpoints, float(training["horizon_years"]), int(training["n_bins"]), outcomes)

    def __post_init__(self) -> None:
        missing = [f for f in self.spec.numeric if f not in self.bounds]
        if missing:
            raise ValueError(f"training.feature_bounds has no bounds for numeric features {missing}")
        for endpoint, cuts in self.categories.items():
            if self.outcomes[endpoint][0] is not None or list(cuts) != sorted(set(cuts)) or not cuts:
                raise ValueError(f"categorical endpoint {endpoint!r}: needs no time column and increasing cut points, got {cuts}")

    @property
    def release_parts(self) -> tuple[str, ...]:
        """The parts of a site's training release: a binary endpoint has no time axis."""
        return ("numeric", "binary") + (("histogram",) if self.survival_endpoints else ())

    @property
    def numeric_sensitivity(self) -> float:
        """L2 sensitivity of (n, and per numeric feature count, sum, sum of squares)."""
        return math.sqrt(1 + 3 * len(self.spec.numeric))

    @property
    def binary_sensitivity(self) -> float:
        """L2 sensitivity of (per binary feature count observed, count of ones)."""
        return math.sqrt(2 * len(self.spec.binary))

    @property
    def histogram_sensitivity(self) -> float:
        return math.sqrt(len(self.survival_endpoints))


def study_settings(disease: dict, training: dict, diagnosis: dict | None = None) -> DesignSettings:
    """The features and outcomes a study trains on: the disease's (its config block and
    training block), or with ``diagnosis`` (config ``diagnosis.marrow_blasts``) the
    marrow-blast classifier's (:func:`fedheme.diagnosis.marrow.design_settings`)."""
    if diagnosis is None:
        return DesignSettings.from_config(disease, training)
    from fedheme.diagnosis.marrow import design_settings

    return design_settings(diagnosis, training)
