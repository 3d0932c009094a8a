"""The README's "Use your own cohort" example works as written."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd

from conftest import ROOT


def readme_commands() -> list[str]:
    """The shell lines of the first code block of the README's own-cohort section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use your own cohort", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_own_cohort_example_runs_as_written(tmp_path):
    commands = readme_commands()
    assert commands[0] == "make setup"  # the venv this test runs in is that set-up
    for name in ("Snakefile", "workflow", "config", "resources", "profiles", "envs", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    venv_bin = Path(sys.executable).parent
    for command in commands[1:]:
        assert command.startswith(".venv/bin/")
        argv = shlex.split(command)
        argv[0] = str(venv_bin / Path(argv[0]).name)
        result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = pd.read_csv(tmp_path / "results" / "tables" / "metrics.tsv", sep="\t", dtype={"epsilon": str, "seed": str})
    assert set(table["disease"]) == {"mycohort"}
    assert {"iss", "pooled", "local", "fedavg"} <= set(table["strategy"])
    pooled = table[(table["test_site"] == "pooled") & (table["metric"] == "harrell_c") & (table["strategy"] == "pooled")]
    seeds = pooled["seed"].nunique()
    assert seeds == 3 and len(pooled) == 2 * seeds and pooled["value"].between(0.55, 0.8).all()
    assert (tmp_path / "results" / "mycohort" / "figures" / "forest_cindex.png").exists()
    # the predefined split of each file is the one used
    for site in ("hospital_a", "hospital_b", "hospital_c"):
        given = pd.read_csv(ROOT / "examples" / "own_cohort" / f"{site}.csv")["split"].value_counts().to_dict()
        qc = json.loads((tmp_path / "results" / "mycohort" / "sites" / site / "private" / "qc_report.json").read_text())
        assert qc["split"] == given
