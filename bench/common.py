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
