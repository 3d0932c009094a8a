"""Helpers of the networked-federation tests: hospital node folders made from a real
pipeline run (each node gets a copy of its site's private folder, nothing else), run
files, and the in-process transport that calls the nodes directly."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import ROOT, SMALL_CONFIG

from fedheme.network.node import NodeSettings, SiteNode
from fedheme.network.study import NetworkRun

#: The fold trained over the network in the tests: siteA held out, three training sites.
FOLD, ENDPOINT, TRAINING_SITES = "loso-siteA", "os_nh", ["siteB", "siteC", "siteD"]
STUDY = [ROOT / "config" / "config.yaml", ROOT / SMALL_CONFIG]


def _toml_list(paths) -> str:
    return "[" + ", ".join(f'"{p}"' for p in paths) + "]"


def node_folders(run_dir: Path, root: Path, sites=TRAINING_SITES) -> dict[str, Path]:
    """One folder per hospital: ``data`` (a copy of the site's private folder of the
    pipeline run), ``state`` and ``node.toml``; returns site -> its settings file."""
    out = {}
    for site in sites:
        folder = root / site
        shutil.copytree(run_dir / "results" / "mds" / "sites" / site / "private", folder / "data")
        text = f'site = "{site}"\ndisease = "mds"\ndata = "data"\nstate = "state"\nstudy_config = {_toml_list(STUDY)}\n'
        (folder / "node.toml").write_text(text)
        out[site] = folder / "node.toml"
    return out


def run_file(path: Path, runs: list[dict], *, sites=TRAINING_SITES, network: dict | None = None) -> Path:
    """A coordinator's run file training ``runs`` (strategy, epsilon, seed) of the test fold."""
    lines = [f"sites = {_toml_list(sites)}", f"study_config = {_toml_list(STUDY)}", 'out = "out"', ""]
    for run in runs:
        epsilon = "inf" if run["epsilon"] == float("inf") else repr(float(run["epsilon"]))
        lines += ["[[run]]", 'disease = "mds"', f'endpoint = "{ENDPOINT}"', f'fold = "{FOLD}"',
                  f'strategy = "{run["strategy"]}"', f"epsilon = {epsilon}", f"seed = {run['seed']}", ""]  # fmt: skip
    if network:
        lines.append("[network]")
        lines += [f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else f"{k} = {str(v).lower() if isinstance(v, bool) else v}"
                  for k, v in network.items()]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


class LocalTransport:
    """The nodes called in this process (what Flower carries between machines)."""

    def __init__(self, settings: dict[str, Path]):
        self.nodes = {site: SiteNode(NodeSettings.read(path)) for site, path in settings.items()}
        self.requests: list[tuple[str, str]] = []

    def ask(self, kind, requests):
        out = {}
        for site, (body, weights) in requests.items():
            self.requests.append((kind, site))
            run = NetworkRun.from_dict(body["run"])
            if kind == "release":
                out[site] = (self.nodes[site].release(run), None)
            else:
                new_weights, reply = self.nodes[site].train(run, body["stats"], weights, int(body["round"]))
                out[site] = (reply, new_weights)
        return out


def pipeline_run(bundle: dict, strategy: str, epsilon: str, seed: int) -> dict:
    """The pipeline's run of that strategy, epsilon label and seed in a bundle."""
    (run,) = [r for r in bundle["runs"] if (r["strategy"], r["epsilon"], r["seed"]) == (strategy, epsilon, seed)]
    return run


def max_difference(a: dict, b: dict) -> float:
    assert set(a) == set(b)
    return max(float((a[k] - b[k]).abs().max()) for k in a)
