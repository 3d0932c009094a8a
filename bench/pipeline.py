"""Wall time of the default pipeline (what `make run` does, after set-up) and the share of
it lost to per-job start-up, with and without the warm worker (fedheme.jobs.warm).

Runs the whole default workflow from scratch in a fresh working directory on 2 cores (jobs
handed to the warm worker, as `make run` does). Every rule's Snakemake benchmark file gives
the wall time of each job. The start-up of a job (its interpreter, Snakemake's preamble and
the imports of its rule's script, before it does any work) is measured side by side, once
per kind of job, both ways: a fresh interpreter importing those modules (what a job pays
without the worker: conda, cluster or FEDHEME_WARM=off), and the same script handed over
to a running worker (what it pays with it). The worker's log says which scripts it forked
jobs of; jobs it did not fork are counted at the cold cost. The share is the summed
start-up (per kind, measured side by side, applied per job) over the summed job time. Saves bench/measurements/pipeline.json.

    .venv/bin/python bench/pipeline.py [--keep DIR]   # DIR: keep a copy of the run's tables
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from common import ROOT, machine_info, save
from fedheme.jobs import warm

#: What a job of each rule imports before it works (its script's imports).
IMPORTS = {
    "train_fold": "import fedheme.jobs.train, fedheme.federated.fold, torch, opacus",
    "evaluate_site": "import fedheme.jobs.evaluate, fedheme.evaluation.site, torch, sksurv.metrics",
    "site_heterogeneity_figure": "import fedheme.jobs.overview, fedheme.report.heterogeneity",
    "metrics_table": "import fedheme.jobs.evaluate, fedheme.evaluation.pooling, fedheme.report.summary",
    **{f"{figure}_figure": "import fedheme.jobs.figures, fedheme.report.figures" for figure in
       ("forest_cindex", "privacy_utility", "km_risk_groups", "calibration", "convergence")},
    "evaluate_marrow_site": "import fedheme.jobs.diagnosis, fedheme.diagnosis.marrow_evaluation, fedheme.models.bundle, torch",
    "evaluate_transplant_site": "import fedheme.jobs.treatment, fedheme.treatment.evaluation, fedheme.models.bundle, torch",
    "site_transplant_release": "import fedheme.jobs.treatment, fedheme.treatment.release, fedheme.privacy.budget",
    "site_privacy_audit": "import fedheme.jobs.audit, fedheme.audit.site, fedheme.models.bundle, torch, opacus",
    "transplant_tables": "import fedheme.jobs.treatment, fedheme.treatment.pooling, fedheme.report.treatment, fedheme.models.bundle",
    "default": "import fedheme.jobs.ingest, fedheme.data.iwgpm.ingest, fedheme.data.iwgpm.aggregates, fedheme.scores, pandas, pyarrow",
}
TARGET_SECONDS = 600
TARGET_STARTUP_SHARE = 0.10


#: What Snakemake's preamble imports in every script job (unpickling its ``snakemake`` object).
PREAMBLE = "import snakemake.logging, snakemake.iocontainers, snakemake.io"


def job_script(folder: Path, statement: str) -> Path:
    """A stand-in for a rule's script: bootstrap as workflow/scripts/checkout_path.py does
    (hand over to the worker when one is up), then the rule's imports."""
    script = folder / f"job_{abs(hash(statement))}.py"
    script.write_text(f"import sys; sys.path.insert(0, {str(ROOT / 'src')!r})\n{PREAMBLE}\n"
                      f"from fedheme.jobs.warm import hand_over; hand_over(__file__)\n{statement}\n")  # fmt: skip
    return script


def startup_seconds(script: Path, env: dict, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, str(script)], check=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_startup(folder: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Start-up per kind of job (s): in a fresh interpreter, and handed to a warm worker."""
    scripts = {kind: job_script(folder, statement) for kind, statement in IMPORTS.items()}
    cold_env = {k: v for k, v in os.environ.items() if k != warm.ENV_SOCKET}
    cold = {kind: startup_seconds(script, cold_env) for kind, script in scripts.items()}
    saved = dict(os.environ)
    worker = warm.start(log=folder / "worker.log", src=ROOT / "src", wait=120)
    try:
        if not Path(worker.address).exists():
            raise RuntimeError(f"the warm worker did not start: {(folder / 'worker.log').read_text()}")
        hot = {kind: startup_seconds(script, dict(os.environ)) for kind, script in scripts.items()}
    finally:
        warm.stop(worker)
        os.environ.clear()
        os.environ.update(saved)
    return cold, hot


def folder_scripts() -> dict[str, set[str]]:
    """The scripts (file stems) whose jobs write their benchmark under each folder of
    results/benchmarks/ (a folder's name is usually its rule's; some rules share one), read
    from workflow/rules/*.smk."""
    scripts: dict[str, set[str]] = {}
    for path in (ROOT / "workflow" / "rules").glob("*.smk"):
        for body in re.split(r"^\s*rule\b", path.read_text(), flags=re.M)[1:]:
            script = re.search(r'scripts/(\w+)\.py"', body)
            folder = re.search(r'results/benchmarks/(\w+)/', body)
            if script and folder:
                scripts.setdefault(folder.group(1), set()).add(script.group(1))
    return scripts


def forked_per_script(log: Path) -> dict[str, int]:
    """Jobs the worker forked, per script stem (its log: ``job PID tmpXXXX.<stem>.py: forked``)."""
    counts: dict[str, int] = {}
    for stem in re.findall(r"^job \d+ \S*?\.?(\w+)\.py: forked$", log.read_text() if log.exists() else "", flags=re.M):
        counts[stem] = counts.get(stem, 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="copy results/tables, results/privacy and each disease's tables and figures of the run here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fedheme-bench-") as tmp:
        workdir = Path(tmp)
        for name in ("config", "resources"):
            (workdir / name).symlink_to(ROOT / name)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", "2", "--quiet"], check=True)
        wall = time.perf_counter() - start
        if args.keep:
            parts = ["tables", "privacy"] + [str(p.relative_to(workdir / "results")) for p in (workdir / "results").glob("*/tables")]
            parts += [str(p.relative_to(workdir / "results")) for p in (workdir / "results").glob("*/figures")]
            for part in parts:
                shutil.copytree(workdir / "results" / part, args.keep / part, dirs_exist_ok=True)
        jobs = []
        for path in (workdir / "results" / "benchmarks").rglob("*.tsv"):
            rule = path.relative_to(workdir / "results" / "benchmarks").parts[0]
            jobs.append({"rule": rule, "seconds": float(pd.read_csv(path, sep="\t")["s"].iloc[0])})
        forked = forked_per_script(workdir / "results" / "logs" / "warm_worker.log")
        folder = workdir / "startup"
        folder.mkdir()
        cold, hot = measure_startup(folder)
    jobs = pd.DataFrame(jobs)
    scripts = folder_scripts()
    # jobs the worker did not fork (it refused them, or they started before it listened)
    # paid the cold cost: per benchmark folder, as many warm jobs as its scripts' forks
    left = dict(forked)  # forks not yet attributed, per script (a script may serve two folders)
    warm_jobs = {}
    for rule, count in jobs["rule"].value_counts().items():
        warm_jobs[rule] = 0
        for script in sorted(scripts.get(rule, ())):
            taken = min(count - warm_jobs[rule], left.get(script, 0))
            warm_jobs[rule] += taken
            left[script] = left.get(script, 0) - taken
    jobs["warm"] = jobs.groupby("rule").cumcount() < jobs["rule"].map(warm_jobs)
    kind = jobs["rule"].map(lambda r: "forest_cindex_figure" if r == "figures" else r if r in IMPORTS else "default")
    jobs["startup_cold"] = kind.map(cold)
    jobs["startup"] = jobs["startup_cold"].where(~jobs["warm"], kind.map(hot))
    per_rule = jobs.groupby("rule").agg(jobs=("seconds", "size"), warm=("warm", "sum"), seconds=("seconds", "sum"), startup=("startup", "sum"))
    share = jobs["startup"].sum() / jobs["seconds"].sum()
    print(per_rule.round(1).to_string())
    print(f"\nwall time of the default pipeline: {wall:.0f} s on 2 cores (target {TARGET_SECONDS} s): ratio {wall / TARGET_SECONDS:.2f}")
    print(f"jobs: {len(jobs)}, of which {int(jobs['warm'].sum())} forked by the warm worker; summed job time {jobs['seconds'].sum():.0f} s, of which start-up {jobs['startup'].sum():.0f} s")
    print(f"start-up share: {share:.1%} (target under {TARGET_STARTUP_SHARE:.0%})")
    print("start-up per job kind, fresh interpreter / warm worker (s): "
          + ", ".join(f"{k} {cold[k]:.2f}/{hot[k]:.2f} ({cold[k] / hot[k]:.1f}x)" for k in IMPORTS))  # fmt: skip
    path = save("pipeline", {"machine": machine_info(), "wall_seconds": wall, "jobs": int(len(jobs)), "jobs_forked_by_warm_worker": int(jobs["warm"].sum()),
                             "job_seconds": float(jobs["seconds"].sum()), "startup_seconds": float(jobs["startup"].sum()), "startup_share": float(share),
                             "startup_seconds_if_cold": float(jobs["startup_cold"].sum()), "startup_per_kind_cold": cold, "startup_per_kind_warm": hot,
                             "per_rule": per_rule.reset_index().to_dict(orient="records")})  # fmt: skip
    print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
