"""Wall time of the default pipeline (what `make run` does, after set-up) and the share of
it lost to per-job start-up.

Runs the whole default workflow from scratch in a fresh working directory on 2 cores.
Every rule's Snakemake benchmark file gives the wall time of each job; the start-up cost
of a job (interpreter and imports of a rule's script before it does any work) is measured
by timing the same interpreter importing the same modules, once per kind of job. The
share is the summed start-up over the summed job time. Saves bench/measurements/pipeline.json.

    .venv/bin/python bench/pipeline.py [--keep DIR]   # DIR: keep a copy of the run's tables
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from common import ROOT, machine_info, save

#: What a job of each rule imports before it works (its script's imports).
IMPORTS = {
    "train_fold": "import fedheme.jobs.train, fedheme.federated.fold, torch, opacus",
    "evaluate_site": "import fedheme.jobs.evaluate, fedheme.evaluation.site, torch, sksurv.metrics",
    "site_heterogeneity_figure": "import fedheme.jobs.overview, fedheme.report.heterogeneity",
    "metrics_table": "import fedheme.jobs.evaluate, fedheme.evaluation.pooling, fedheme.report.summary",
    **{f"{figure}_figure": "import fedheme.jobs.figures, fedheme.report.figures" for figure in
       ("forest_cindex", "privacy_utility", "km_risk_groups", "calibration", "convergence")},
    "default": "import fedheme.jobs.ingest, fedheme.data.iwgpm.ingest, fedheme.data.iwgpm.aggregates, fedheme.scores, pandas, pyarrow",
}
TARGET_SECONDS = 600
TARGET_STARTUP_SHARE = 0.10


def startup_seconds(statement: str, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT / 'src')!r}); {statement}"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
    jobs = pd.DataFrame(jobs)
    startup = {kind: startup_seconds(statement) for kind, statement in IMPORTS.items()}
    jobs["startup"] = jobs["rule"].map(lambda r: startup.get(r, startup["default"]))
    per_rule = jobs.groupby("rule").agg(jobs=("seconds", "size"), seconds=("seconds", "sum"), startup=("startup", "sum"))
    share = jobs["startup"].sum() / jobs["seconds"].sum()
    print(per_rule.round(1).to_string())
    print(f"\nwall time of the default pipeline: {wall:.0f} s on 2 cores (target {TARGET_SECONDS} s): ratio {wall / TARGET_SECONDS:.2f}")
    print(f"jobs: {len(jobs)}, summed job time {jobs['seconds'].sum():.0f} s, of which start-up {jobs['startup'].sum():.0f} s")
    print(f"start-up share: {share:.1%} (target under {TARGET_STARTUP_SHARE:.0%})")
    print("start-up per job kind (s): " + ", ".join(f"{k} {v:.2f}" for k, v in startup.items()))
    path = save("pipeline", {"machine": machine_info(), "wall_seconds": wall, "jobs": int(len(jobs)), "job_seconds": float(jobs["seconds"].sum()),
                             "startup_seconds": float(jobs["startup"].sum()), "startup_share": float(share), "startup_per_kind": startup,
                             "per_rule": per_rule.reset_index().to_dict(orient="records")})  # fmt: skip
    print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
