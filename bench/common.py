"""Shared by the benchmarks: machine facts and the real MDS design matrix."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "measurements"
sys.path.insert(0, str(ROOT / "src"))


def machine_info() -> dict:
    import opacus
    import torch

    info = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "opacus": opacus.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": "cpu",
    }
    if torch.cuda.is_available():
        info["device"] = torch.cuda.get_device_name(0)
    return info


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def mds_design(endpoint: str = "os_nh"):
    """All 2,957 IWG-PM patients as one design matrix (exact pooled statistics)."""
    from fedheme.data.iwgpm.cohort import load_iwgpm
    from fedheme.data.iwgpm.transplant import censor_at_transplant
    from fedheme.data.iwgpm.validation import derive_tp53
    from fedheme.federated.config import DesignSettings
    from fedheme.federated.design import design_matrix
    from fedheme.federated.releases import training_release
    from fedheme.federated.server import combine_releases

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    settings = DesignSettings.from_config(config["diseases"]["mds"], config["training"])
    cohort = load_iwgpm(ROOT / "resources" / "mds-iwgpm")
    patients = censor_at_transplant(derive_tp53(cohort.patients, cohort.variants))
    exact = {k: 0.0 for k in ("numeric", "binary", "histogram")}
    stats = combine_releases([training_release(patients, settings, "all", exact, np.random.default_rng(0))], settings)
    return design_matrix(patients, settings, stats, endpoint), settings


#: The generator's draws for tuning (never the config's, never a site's).
TRAIN_SEED, VALIDATION_SEED = 20241101, 20241102


def generator_study(training: dict):
    """Generated MM training sites, their DP releases and a separate generated validation
    cohort: where fedheme chooses its training defaults without reading a patient.

    Returns:
        dict with ``sites`` (id -> rows), ``validation`` (rows), ``settings``, ``releases``
        ({'dp': id -> release}), ``draws`` (id -> SiteRandomness), ``endpoint``,
        ``generator`` (its settings) and ``disease`` (the MM config block).
    """
    from fedheme.data.tabular.simulate import GeneratorSettings, simulate_tabular
    from fedheme.federated.config import DesignSettings
    from fedheme.federated.releases import training_release
    from fedheme.privacy.randomness import SiteRandomness

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    disease = config["diseases"]["mm"]
    settings = DesignSettings.from_config(disease, training)
    generator = {**disease["generator"], "seed": TRAIN_SEED}
    sites = simulate_tabular([f"gen{i}" for i in range(6)], GeneratorSettings.from_config(generator))
    validation = simulate_tabular(["validation"], GeneratorSettings.from_config({**generator, "seed": VALIDATION_SEED, "n_patients": 2000}))["validation"]
    draws = {s: SiteRandomness(bytes([i + 1]) * 32, ("selection",)) for i, s in enumerate(sites)}
    noise = {k: float(v) for k, v in training["release_noise"].items()}
    releases = {"dp": {s: training_release(p, settings, s, noise, draws[s].numpy("release")) for s, p in sites.items()}}
    return {"sites": sites, "validation": validation, "settings": settings, "releases": releases, "draws": draws,
            "endpoint": disease["primary_endpoint"], "generator": generator, "disease": disease}  # fmt: skip


def default_training() -> dict:
    """The ``training`` block of config/config.yaml."""
    return dict(yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["training"])


def validation_scores(bundle: dict, rows, settings, endpoint: str) -> list[dict]:
    """Each run of ``bundle`` on ``rows`` (a generated validation cohort, or training rows),
    standardised with the statistics of the run's own release: Harrell's C of its risk and
    its mean negative log-likelihood per patient (logistic hazard: a proper scoring rule,
    which also sees the baseline hazard that C ignores)."""
    import torch

    from fedheme.evaluation.bootstrap import harrell_c
    from fedheme.federated.design import design_matrix
    from fedheme.models.bundle import bundle_model
    from fedheme.models.losses import logistic_hazard_loss

    matrices = {mode: design_matrix(rows, settings, stats, endpoint) for mode, stats in bundle["stats"].items()}
    out = []
    for run in bundle["runs"]:
        matrix = matrices[run["mode"]]
        x, model = torch.from_numpy(matrix.x), bundle_model(bundle, run)
        with torch.no_grad():
            risk = model.risk(x).numpy().astype(float)
            nll = logistic_hazard_loss(model(x), torch.from_numpy(matrix.bin_index), torch.from_numpy(matrix.event)).mean()
        c = float(harrell_c(np.ones((1, len(risk))), matrix.time, matrix.status.astype(bool), risk)[0])
        out.append({"epsilon": run["epsilon"], "seed": run["seed"], "harrell_c": c, "nll": float(nll)})
    return out
