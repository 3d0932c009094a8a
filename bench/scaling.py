"""Training time and peak memory against the number of sites and of patients.

Synthetic federations are drawn from the real MDS design matrix (rows resampled with
replacement, features jittered), split evenly into sites:
- sites: 4, 8, 16, 32 sites of 300 patients each;
- patients: 1,000, 10,000, 100,000 patients over 8 sites.
Each point runs DP-FedAvg at epsilon 3 for a fixed number of rounds in a fresh process
(so peak RSS is that run's own), on a GPU when one is visible (the device name is saved
with the results), and the script prints the measured scaling exponent
(slope of log time on log size; 1 = linear). Saves bench/measurements/scaling.json.

    .venv/bin/python bench/scaling.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from common import ROOT, machine_info, save

WORKER = r"""
import json, math, resource, sys, time, warnings
import numpy as np, torch
warnings.filterwarnings("ignore")
sys.path.insert(0, sys.argv[1] + "/bench"); sys.path.insert(0, sys.argv[1] + "/src")
from common import mds_design
from fedheme.federated.client import Client
from fedheme.federated.config import TrainConfig
from fedheme.federated.design import DesignMatrix
from fedheme.federated.server import run_federated
from fedheme.privacy.randomness import SiteRandomness
from fedheme.federated.fold import resolve_device
torch.set_num_threads(1)
device = resolve_device("auto")  # a GPU when one is visible, else the CPU
n_sites, n_patients, rounds = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
design, settings = mds_design()
rng = np.random.default_rng(0)
rows = rng.integers(0, len(design.time), size=n_patients)
x = design.x[rows] + rng.normal(0, 0.05, size=(n_patients, design.x.shape[1])).astype(np.float32)
config = TrainConfig(epsilon=3.0, rounds=rounds, batch_size=128, clip_norm=3.0, seed=1)
clients = []
for k, part in enumerate(np.array_split(np.arange(n_patients), n_sites)):
    d = DesignMatrix(x[part], design.bin_index[rows][part], design.event[rows][part], design.time[rows][part], design.status[rows][part], design.patient_id[rows][part])
    clients.append(Client(f"s{k}", d, config, settings.n_bins, [], device, randomness=SiteRandomness(None), released_n=float(len(part))))
start = time.perf_counter()
run_federated(clients, config, x.shape[1], settings.n_bins, {c.site_id: float(c.n) for c in clients})
seconds = time.perf_counter() - start
print(json.dumps({"sites": n_sites, "patients": n_patients, "seconds": seconds, "device": str(device), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_point(n_sites: int, n_patients: int, rounds: int) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, str(ROOT), str(n_sites), str(n_patients), str(rounds)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def exponent(sizes, seconds) -> float:
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    by_sites = [run_point(k, 300 * k, args.rounds) for k in (4, 8, 16, 32)]
    by_patients = [run_point(8, n, args.rounds) for n in (1_000, 10_000, 100_000)]
    print(f"DP-FedAvg, epsilon 3, {args.rounds} rounds, 1 local epoch, batch 128, 1 thread")
    print(f"{'sites':>6} {'patients':>9} {'seconds':>9} {'peak RSS MB':>12}")
    for r in by_sites + by_patients:
        print(f"{r['sites']:>6} {r['patients']:>9} {r['seconds']:>9.2f} {r['peak_rss_mb']:>12.0f}")
    e_sites = exponent([r["sites"] for r in by_sites], [r["seconds"] for r in by_sites])
    e_patients = exponent([r["patients"] for r in by_patients], [r["seconds"] for r in by_patients])
    print(f"\nmeasured exponent, time ~ sites^b (300 patients each): b = {e_sites:.2f}")
    print(f"measured exponent, time ~ patients^b (8 sites):        b = {e_patients:.2f}")
    path = save("scaling", {"machine": machine_info(), "rounds": args.rounds, "by_sites": by_sites, "by_patients": by_patients,
                            "exponent_sites": e_sites, "exponent_patients": e_patients})  # fmt: skip
    print(f"saved {Path(path).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
