"""The study grid read from config: endpoint checks made before any job starts."""

from __future__ import annotations

import copy

import yaml

from fedheme import grid
from fedheme.standard.mds import SURVIVAL_ENDPOINTS

from conftest import ROOT


def default_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_the_grid_knows_the_mds_endpoints_of_the_harmonised_schema():
    assert set(grid.MDS_ENDPOINTS) == set(SURVIVAL_ENDPOINTS)


def test_the_default_config_has_consistent_endpoints():
    config = default_config()
    assert grid.endpoint_problems(config) == []
    assert config["diseases"]["mds"]["primary_endpoint"] == "os_nh"


def test_endpoint_mistakes_are_named():
    config = copy.deepcopy(default_config())
    config["diseases"]["mds"]["endpoints"] = ["os_nh", "overall"]
    config["diseases"]["mds"]["train_endpoints"] = ["lfs_nh"]
    config["diseases"]["mm"]["primary_endpoint"] = "efs"
    problems = grid.endpoint_problems(config)
    assert "diseases.mds.endpoints: 'overall' is not one of ['os', 'lfs', 'os_nh', 'lfs_nh']" in problems
    assert "diseases.mds.train_endpoints: 'lfs_nh' is not in its endpoints ['os_nh', 'overall']" in problems
    assert "diseases.mm.primary_endpoint: 'efs' is not in its endpoints ['pfs', 'os']" in problems
    assert len(problems) == 3


def test_each_seed_draws_its_own_dp_release():
    config = default_config()
    seeds = config["training"]["seeds"]
    assert grid.release_modes(config, "mds") == ["exact"] + [f"dp-s{s}" for s in seeds]
    assert grid.release_name("all", "dp-s2") == "training_release_all_s2"
    assert grid.release_name("train", "exact") == grid.release_name("train", "dp") == "training_release_train"
    private_only = copy.deepcopy(config)
    private_only["training"].update(epsilons=[3.0], baselines=["local"])
    private_only["diseases"]["mds"].pop("marker_features", None)
    assert grid.release_modes(private_only, "mds") == [f"dp-s{s}" for s in seeds]
