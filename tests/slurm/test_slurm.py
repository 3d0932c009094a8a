"""The SLURM profile, proven on a real (single-node) SLURM: jobs go through sbatch and the
outputs equal those of a local run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from conftest import ROOT, SMALL_CONFIG, make_workdir
from fedheme.privacy.randomness import KEY_FILE
from slurm_cluster import completed_jobs, local_slurm, unavailable_reason

SITES = "tests/fixtures/sites_slurm.tsv"

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the SLURM test: {reason}")
        pytest.skip(reason)
    with local_slurm(tmp_path_factory.mktemp("slurm")) as env:
        yield env


def test_cluster_specifics_live_in_the_profile():
    """The profile names executor, conda, partition and account; rules only portable resources."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["software-deployment-method"] == "conda"
    assert {"slurm_partition", "slurm_account", "mem_mb", "runtime"} <= set(profile["default-resources"])


def local_profile(tmp_path: Path) -> Path:
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    profile.pop("software-deployment-method")  # no conda channels here: the venv runs the jobs
    profile["default-resources"]["slurm_partition"] = "debug"
    profile["default-resources"].pop("slurm_account")
    profile.update(
        {
            "slurm-no-account": True,
            "slurm-status-command": "squeue",  # no slurmdbd here, so no sacct
            "slurm-init-seconds-before-status-checks": 2,
            "seconds-between-status-checks": 2,
            "slurm-keep-successful-logs": True,
            "latency-wait": 10,
            "jobs": 8,
        }
    )
    folder = tmp_path / "profile"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    return folder


def run(workdir: Path, env: dict, *args: str) -> None:
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
               "--configfile", SMALL_CONFIG, "--config", f"sites={SITES}", *args]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]


def saved_weights(path: Path) -> list[dict]:
    """The weights in a round checkpoint (one state) or a model bundle (one per run)."""
    saved = torch.load(path, weights_only=False)
    return [run["weights"] for run in saved["runs"]] if isinstance(saved, dict) else [saved.weights]


def compare_outputs(local: Path, remote: Path) -> int:
    """Assert every table, JSON and figure equals; returns how many files were compared."""
    files = sorted(p.relative_to(local) for p in (local / "results").rglob("*") if p.is_file() and "logs" not in p.parts and "benchmarks" not in p.parts)
    assert files
    for name in files:
        a, b = local / name, remote / name
        assert b.exists(), f"{name} missing from the SLURM run"
        if name.suffix == ".parquet":
            pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))
        elif name.suffix == ".pt":  # checkpoints and model bundles: the zip archive names its temp file
            for wa, wb in zip(saved_weights(a), saved_weights(b), strict=True):
                assert all(torch.equal(wa[k], wb[k]) for k in wa), f"{name}: weights differ"
        else:
            assert a.read_bytes() == b.read_bytes(), f"{name} differs between the local and the SLURM run"
    return len(files)


def test_pipeline_through_slurm_equals_a_local_run(cluster, tmp_path):
    local = make_workdir(tmp_path / "local")
    run(local, dict(os.environ), "--cores", "2")

    remote = make_workdir(tmp_path / "remote")
    for key in (local / "results").rglob(KEY_FILE):  # the same sites, holding the same secret keys
        (remote / key.relative_to(local)).parent.mkdir(parents=True)
        shutil.copy2(key, remote / key.relative_to(local))
    run(remote, cluster, "--profile", str(local_profile(tmp_path)))

    jobs = [j for j in completed_jobs(cluster) if j.get("WorkDir") == str(remote)]
    rules = sorted(j["Comment"].split("_wildcards")[0] for j in jobs)
    print(f"\n{len(jobs)} SLURM jobs: " + ", ".join(f"{r} x{rules.count(r)}" for r in sorted(set(rules))))
    assert all(j["JobState"] == "COMPLETED" for j in jobs), [j["JobState"] for j in jobs]
    assert rules.count("rule_ingest_site") == 2 and rules.count("rule_simulate_site") == 2
    assert "rule_site_heterogeneity_figure" in rules
    logs = list((remote / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert len(logs) == len(jobs)
    print(f"{compare_outputs(local, remote)} output files identical to the local run")
    overview = pd.read_csv(remote / "results" / "mds" / "tables" / "site_overview.tsv", sep="\t")
    assert overview["site_id"].tolist() == ["siteA", "siteB"]
    assert [json.loads((remote / "results" / "mds" / "sites" / s / "shared" / "aggregates_all.json").read_text())["site_id"] for s in ("siteA", "siteB")] == ["siteA", "siteB"]
