"""Per-rule conda envs: every rule names one, and every pin equals the venv's (requirements.txt)."""

from __future__ import annotations

import re

import yaml

from conftest import ROOT

# conda-forge name -> PyPI name, where they differ
CONDA_TO_PYPI = {"pytorch": "torch"}


def requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_every_env_pins_exact_versions_equal_to_requirements():
    pins = requirement_pins()
    envs = sorted((ROOT / "envs").glob("*.yaml"))
    assert envs
    for path in envs:
        spec = yaml.safe_load(path.read_text())
        for dep in spec["dependencies"]:
            entries = dep["pip"] if isinstance(dep, dict) else [dep]
            for entry in entries:
                if entry == "pip":
                    continue
                match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*==?\s*([^=\s]+)", entry)
                assert match, f"{path.name}: {entry!r} is not pinned to an exact version"
                name, version = match.group(1).lower(), match.group(2)
                if name in ("python", "pip"):
                    continue
                name = CONDA_TO_PYPI.get(name, name)
                assert name in pins, f"{path.name}: {name} is not in requirements.txt"
                assert version == pins[name], f"{path.name}: {name}={version} but requirements.txt has {pins[name]}"


def test_every_rule_has_conda_log_and_benchmark():
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        for rule in re.split(r"\n(?=rule )", text)[1:]:
            name = rule.split(":")[0]
            for directive in ("conda:", "log:", "benchmark:", "resources:"):
                assert f"    {directive}" in rule, f"{smk.name}: {name} has no {directive}"
