"""The speed-ups leave results unchanged: the same workflow at an earlier commit and at
this checkout, with the same site keys and seeds, writes the same MANIFEST.tsv (the
SHA-256 of every released table), and how long each took, side by side in one run.

The earlier commit (default: 6096b28, before the warm worker and the linear models'
per-sample gradients) is checked out into a temporary git worktree and runs first, each
job in its own interpreter as it did then (PYTHONPATH set to its src/, so that its jobs
import its own fedheme); its site keys are then copied into this checkout's working
folder, which runs with the warm worker. Saves bench/measurements/identical.json.

    .venv/bin/python bench/identical.py [--before REV] [--config tests/fixtures/config_small.yaml]
    .venv/bin/python bench/identical.py --config config/config.yaml   # make run's (about 15 min)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine_info, save

BEFORE = "6096b28"
DEFAULT_CONFIG = "tests/fixtures/config_small.yaml"


def workdir(folder: Path, checkout: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("config", "resources"):
        (folder / name).symlink_to(checkout / name)
    (folder / "tests").mkdir()
    (folder / "tests" / "fixtures").symlink_to(checkout / "tests" / "fixtures")
    return folder


def run(checkout: Path, folder: Path, config: str, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "-s", str(checkout / "Snakefile"), "-d", str(folder), "--configfile", config,
                    "--cores", "2", "--quiet"], check=True, env=env, cwd=folder)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE, help="the earlier commit")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="config file, relative to the checkout (results: identical.json, or identical_<stem>.json for another)")
    args = parser.parse_args()
    revision = subprocess.run(["git", "rev-parse", "--short", args.before], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    here = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="fedheme-identical-") as tmp:
        tmp = Path(tmp)
        tree = tmp / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), revision], cwd=ROOT, check=True, capture_output=True)
        try:
            old = workdir(tmp / "old", tree)
            env = {k: v for k, v in os.environ.items() if not k.startswith("FEDHEME_WARM")}
            seconds_before = run(tree, old, args.config, {**env, "PYTHONPATH": str(tree / "src")})
            new = workdir(tmp / "new", ROOT)
            for key in (old / "results").rglob("secret.key"):
                target = new / key.relative_to(old)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(key, target)
            seconds_now = run(ROOT, new, args.config, env)
            manifests = [(folder / "results" / "MANIFEST.tsv").read_text() for folder in (old, new)]
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False, capture_output=True)
    lines = [m.splitlines() for m in manifests]
    differing = sorted({a.split("\t")[0] for a, b in zip(*lines) if a != b} | ({"(rows differ in number)"} if len(lines[0]) != len(lines[1]) else set()))
    identical = manifests[0] == manifests[1]
    print(f"{args.config}: {len(lines[1])} released tables; MANIFEST.tsv at {revision} and at {here} (same keys and seeds): "
          f"{'identical' if identical else 'DIFFERENT: ' + ', '.join(differing)}")  # fmt: skip
    print(f"wall time on 2 cores: {seconds_before:.0f} s at {revision}, {seconds_now:.0f} s at {here}: ratio {seconds_before / seconds_now:.2f}")
    name = "identical" if args.config == DEFAULT_CONFIG else f"identical_{Path(args.config).stem}"
    path = save(name, {"machine": machine_info(), "config": args.config, "before": revision, "after": here, "tables": len(lines[1]),
                              "identical": identical, "differing": differing, "seconds_before": seconds_before, "seconds_after": seconds_now})  # fmt: skip
    print(f"saved {path.relative_to(ROOT)}")
    if not identical:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
