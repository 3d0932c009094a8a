"""Convergence diagnostic on the training splits only (within fold): training NLL and
in-sample C of the released model, last iterate vs tail average."""
import sys, warnings, yaml, numpy as np, pandas as pd, torch
warnings.filterwarnings("ignore")
sys.path.insert(0, "/work/main/src")
from fedheme import grid
from fedheme.federated.config import DesignSettings, TrainConfig
from fedheme.federated.fold import FoldInputs, train_fold
from fedheme.federated.design import design_matrix
from fedheme.models.bundle import bundle_model
from fedheme.models.losses import logistic_hazard_loss
from fedheme.evaluation.bootstrap import harrell_c
from fedheme.io import read_json
from fedheme.privacy.randomness import site_randomness
from fedheme.data.splits import subset_rows
R = "/tmp/runclone/results"
cfg = yaml.safe_load(open("/work/main/config/config.yaml"))
disease = cfg["diseases"]["mds"]
sites = [f"site0{i}" for i in range(1, 9)]
patients = {s: subset_rows(pd.read_parquet(f"{R}/mds/sites/{s}/private/patients.parquet"), "train") for s in sites}
releases = {m: {s: read_json(f"{R}/mds/sites/{s}/shared/training_release_train_{m}.json") for s in sites} for m in ("exact", "dp")}
draws = {s: site_randomness(f"{R}/mds/sites/{s}/private", "site_key") for s in sites}
for avg in (0.0, 0.5):
    training = {**grid.training_of(cfg, "mds"), "average_last": avg}
    settings = DesignSettings.from_config(disease, training)
    bundle, _, _ = train_fold(FoldInputs("within", patients, releases, draws), settings=settings, endpoint="os_nh",
                              base=TrainConfig.from_config(training), strategies=["fedavg"], epsilons=[float("inf"), 3.0],
                              seeds=[1, 2], baselines=[], checkpoint_dir=None)
    for run in bundle["runs"]:
        stats = bundle["stats"][run["mode"]]
        m = design_matrix(pd.concat(patients.values()), settings, stats, "os_nh")
        model = bundle_model(bundle, run)
        x = torch.from_numpy(m.x)
        with torch.no_grad():
            nll = float(logistic_hazard_loss(model(x), torch.from_numpy(m.bin_index), torch.from_numpy(m.event)).mean())
            risk = model.risk(x).numpy().astype(float)
        c = float(harrell_c(np.ones((1, len(risk))), m.time, m.status.astype(bool), risk)[0])
        print(f"average_last {avg} eps {run['epsilon']} seed {run['seed']}: train NLL {nll:.4f}  in-sample C {c:.4f}", flush=True)
