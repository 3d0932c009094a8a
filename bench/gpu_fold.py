"""One training fold on the CPU and on the GPU, side by side in one run.

Trains the ``within`` fold of the default config (every site's training split; FedAvg,
FedProx and FedAdam at each epsilon, pooled and local baselines, seed 1) once on each
device from the same released aggregates, and prints wall times and their ratio. Needs
a finished ``make run`` (for the sites' harmonised patients and releases) and a GPU;
without one it times the CPU only. Saves bench/measurements/gpu_fold.json.

    .venv/bin/python bench/gpu_fold.py [--rounds 60]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import yaml
from common import machine_info, save

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from fedheme.io import read_json  # noqa: E402
from fedheme.federated.config import DesignSettings, TrainConfig  # noqa: E402
from fedheme.privacy.randomness import site_randomness  # noqa: E402
from fedheme.federated.fold import FoldInputs, train_fold  # noqa: E402

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from fedheme.grid import release_modes

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default: config's)")
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    disease, training = config["diseases"]["mds"], dict(config["training"])
    if args.rounds:
        training["rounds"] = args.rounds
    sites = pd.read_csv(ROOT / "config" / "sites.tsv", sep="\t", comment="#")["site_id"].tolist()
    base = ROOT / "results" / "mds" / "sites"
    patients = {s: pd.read_parquet(base / s / "private" / "patients.parquet").query("split == 'train'") for s in sites}
    files = {s: read_json(base / s / "shared" / "training_release_train.json") for s in sites}
    releases = {m: {s: files[s][m] for s in sites} for m in release_modes(config, "mds")}
    epsilons = [float(e) for e in training["epsilons"]]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    seconds = {}
    for name in devices:
        start = time.perf_counter()
        draws = {s: site_randomness(base / s / "private", "site_key") for s in sites}
        train_fold(FoldInputs("within", patients, releases, draws), settings=DesignSettings.from_config(disease, training), endpoint=disease["primary_endpoint"],
                   base=TrainConfig.from_config(training), strategies=training["strategies"], epsilons=epsilons,
                   seeds=training["seeds"], baselines=training["baselines"], checkpoint_dir=None, device=torch.device(name))  # fmt: skip
        seconds[name] = time.perf_counter() - start
        print(f"{name}: {seconds[name]:.1f} s for the within fold ({training['rounds']} rounds)")
    result = {"machine": machine_info(), "rounds": training["rounds"], "seconds": seconds}
    if "cuda" in seconds:
        result["gpu_over_cpu"] = seconds["cuda"] / seconds["cpu"]
        print(f"GPU time / CPU time: {result['gpu_over_cpu']:.2f}")
    save("gpu_fold", result)


if __name__ == "__main__":
    main()
