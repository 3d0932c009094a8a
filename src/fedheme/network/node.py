"""A hospital's node in the networked federation (site side: it reads the site's patients).

A node reads its data folder (the site's harmonised ``patients.parquet`` and its
``secret.key``: the pipeline's ``private/`` folder of that site). Its records of what it
released (releases, the round each run reached, accountants, replies, ledgers) live in
that folder's ``network/`` subfolder, beside the key and the study-wide budget: whoever
wipes them wipes the key too, so no replay guard can be lost while the draws it guards
can still be made. Its state folder holds only Flower's files and noise calibrations
(public numbers). It answers three requests of the coordinator, each for a run its own copy of the
study config and site sheet plans (:meth:`fedheme.network.study.NetworkRun.problems`):

* ``hello``: which site and disease it serves;
* ``release``: the aggregates it releases before training, made as the pipeline's
  release job makes them (the same draws from its key; charged to its study-wide
  accountant in ``deployment`` mode), made once per release and kept: asked again, by
  this run or another of the same release, the node sends the same release;
* ``train``: one round of local DP-SGD from the global weights, by the pipeline's own
  :class:`~fedheme.federated.client.Client`, with the same draws as the pipeline's
  in-process run of the same name.

What the coordinator sends is checked before it touches a patient row: the run (a
planned one), the round (within the run's rounds), the pooled statistics (finite, in the
ranges :func:`fedheme.federated.server.combine_releases` gives, the site's own count as it
released it: the count sets the sampling rate) and the weights (finite, bounded).

Its accountant lives in its state folder and survives the node: after each round the node
writes (atomically and durably, under a lock) the round reached, the accountant's history
and its reply. The last round asked again with the same global weights (its reply was
lost: a network failure, a node killed and restarted) is answered from that file, not
trained again; asked with other weights, or an earlier round, it is refused, since the
same noise on other inputs would let the difference of two replies cancel the noise. The
run's DP-SGD is charged to the study-wide accountant once, before its first step. A node's
ledger rows for the run are written beside it and sent with every reply (mechanisms only,
as in the pipeline's ledger). A DP run's training loss is never sent: it is an exact
function of the patients.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fedheme.network.study import NetworkRun, load_study_config, read_settings, study_sites

#: What a node's data folder holds (the pipeline's ``results/<disease>/sites/<site>/private``).
PATIENTS_FILE = "patients.parquet"
#: The node's records, inside its data folder.
RECORDS = "network"
#: Keys of a node's settings file.
NODE_KEYS = ("site", "disease", "data", "state", "study_config", "site_sheet")
#: The largest absolute weight a node trains from (a model of standardised features has
#: weights of a few units; huge ones could overflow a patient's loss).
MAX_WEIGHT = 1e3


class NodeError(ValueError):
    """A request the node refuses (a run its study does not plan, a replayed round, bad
    statistics or weights); its message says why and names no patient value."""


@dataclass(frozen=True)
class NodeSettings:
    """A hospital node's settings (a TOML file, ``fedheme node --site FILE``).

    Attributes:
        site: the site's id, as in the study's site sheet.
        disease: the disease the node trains.
        data: the site's private folder: ``patients.parquet`` and ``secret.key``.
        state: the node's own folder for Flower's files and noise calibrations (its records
            of what it released live in ``data/network``).
        study_config: the study's config files, merged in order (``config/config.yaml``
            first); the node's own copy, not the coordinator's.
        site_sheet: the study's site sheet (its folds: which site each holds out).
    """

    site: str
    disease: str
    data: Path
    state: Path
    study_config: tuple[Path, ...]
    site_sheet: Path

    @classmethod
    def read(cls, path: str | Path) -> "NodeSettings":
        """Read a settings file; relative paths are relative to the file's folder."""
        raw, here = read_settings(path, NODE_KEYS, error=NodeError, what="node settings")
        files = raw["study_config"] if isinstance(raw["study_config"], list) else [raw["study_config"]]
        settings = cls(str(raw["site"]), str(raw["disease"]), here / raw["data"], (here / raw["state"]).resolve(),
                       tuple(here / f for f in files), here / raw["site_sheet"])  # fmt: skip
        if not (settings.data / PATIENTS_FILE).is_file():
            raise NodeError(f"{path}: data folder {settings.data} has no {PATIENTS_FILE}")
        return settings


def weights_digest(weights: dict, round_index: int) -> str:
    """Identifies a training request: the round and the global weights, byte for byte."""
    h = hashlib.sha256(str(round_index).encode())
    for name in sorted(weights):
        h.update(name.encode())
        h.update(weights[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def check_weights(weights: dict) -> None:
    """Refuse global weights that are not finite or exceed :data:`MAX_WEIGHT`: a
    non-finite gradient would pass clipping and noise and tell whether some patient's
    feature sits exactly where the coordinator chose."""
    import torch

    for name, value in weights.items():
        if not torch.is_tensor(value) or not torch.isfinite(value).all() or (value.numel() and float(value.abs().max()) > MAX_WEIGHT):
            raise NodeError(f"the global weights {name!r} are not finite or exceed {MAX_WEIGHT:g} in absolute value")


def check_stats(stats: dict, settings, endpoint: str, *, site: str, own_n: float) -> None:
    """Refuse pooled statistics outside what :func:`~fedheme.federated.server.combine_releases`
    makes: feature means and sds finite and in range (sd >= 0.05), bin edges finite and
    increasing, and this site's count equal to its own release's."""
    problems = []
    features = stats.get("features", {})
    for name in settings.spec.numeric:
        f = features.get(name, {})
        if not (_finite(f.get("mean")) and -1 <= f["mean"] <= 1 and _finite(f.get("sd")) and 0.05 <= f["sd"] <= 1):
            problems.append(f"numeric feature {name}")
    for name in settings.spec.binary:
        f = features.get(name, {})
        if not (_finite(f.get("mean")) and 0 <= f["mean"] <= 1):
            problems.append(f"binary feature {name}")
    if settings.task(endpoint) == "hazard":
        edges = stats.get("bin_edges", {}).get(endpoint, [])
        if len(edges) != settings.bins(endpoint) - 1 or not all(map(_finite, edges)) or list(edges) != sorted(set(edges)):
            problems.append(f"bin edges of {endpoint}")
    if not _finite(stats.get("site_n", {}).get(site)) or float(stats["site_n"][site]) != own_n:
        problems.append("this site's count differs from its release")
    if problems:
        raise NodeError("the coordinator's pooled statistics are not valid: " + "; ".join(problems))


class SiteNode:
    """One hospital's node: its data folder, its state and its copy of the study config."""

    def __init__(self, settings: NodeSettings):
        from fedheme.privacy.accounting import use_calibration_cache

        self.settings = settings
        self.config = load_study_config(list(settings.study_config))
        if settings.disease not in self.config.get("diseases", {}):
            raise NodeError(f"node {settings.site}: disease {settings.disease!r} is not in its study config")
        self.sites = study_sites(settings.site_sheet, settings.disease)
        if settings.site not in self.sites:
            raise NodeError(f"node {settings.site}: not a {settings.disease} site of the site sheet {settings.site_sheet}")
        self.privacy = self.config.get("privacy", {})
        # noise calibrations (public numbers only) kept across the node's messages
        use_calibration_cache(settings.state / "noise_calibration")

    # -- requests -------------------------------------------------------------------------

    def hello(self) -> dict:
        return {"site": self.settings.site, "disease": self.settings.disease}

    def release(self, run: NetworkRun) -> dict:
        """The site's release before training ``run``, with the node's ledger rows for the
        run so far and its epsilon."""
        self._check(run)
        with self._locked(run):
            release = self.release_of(run)
            client = self._client(run, self._released_stats(run, release), release)
            saved = self._load(run)
            if saved is not None:
                client.accountant.history = [tuple(h) for h in saved["history"]]
            ledger = self._write_ledger(run, client)
        return {"release": release, "ledger": ledger, "epsilon": _finite_or_none(client.epsilon())}

    def train(self, run: NetworkRun, stats: dict, weights: dict, round_index: int) -> tuple[dict, dict]:
        """One round of local training from the global ``weights``; returns (new weights,
        reply: loss (runs without DP only), the site's epsilon so far and its ledger rows)."""
        self._check(run)
        if not 1 <= round_index <= run.train_config(self.config).rounds:
            raise NodeError(f"node {self.settings.site}: round {round_index} is outside the run's rounds")
        check_weights(weights)
        with self._locked(run):
            release = self.release_of(run)
            check_stats(stats, run.settings(self.config), run.endpoint, site=self.settings.site, own_n=max(float(release["numeric"][0]), 1.0))
            request = weights_digest(weights, round_index)
            saved = self._load(run)
            done = 0 if saved is None else int(saved["round"])
            if saved is not None and done == round_index:
                if saved["request"] != request:
                    raise NodeError(f"node {self.settings.site}: round {round_index} of {run.name} was already trained from other "
                                    "weights; training it again would reuse its noise")  # fmt: skip
                return saved["weights"], saved["reply"]
            if round_index < done:
                raise NodeError(f"node {self.settings.site}: {run.name} has reached round {done}; round {round_index} is past")
            if saved is None:  # the run's first step: its DP-SGD charged once, before it
                self._charge_training(run)
            client = self._client(run, stats, release)
            if saved is not None:
                client.accountant.history = [tuple(h) for h in saved["history"]]
            new_weights, loss = client.train(weights, round_index)
            reply = {"loss": loss if not run.private else None, "epsilon": _finite_or_none(client.epsilon()),
                     "ledger": self._ledger_rows(run, client)}  # fmt: skip
            self._save(run, {"round": round_index, "request": request, "history": list(client.accountant.history),
                             "weights": new_weights, "reply": reply})  # fmt: skip
            self._write_ledger(run, client)
        return new_weights, reply

    # -- the site's data and draws ----------------------------------------------------------

    @property
    def _patients_file(self) -> Path:
        return self.settings.data / PATIENTS_FILE

    def _check(self, run: NetworkRun) -> None:
        if run.disease != self.settings.disease:
            raise NodeError(f"node {self.settings.site} serves {self.settings.disease}, not {run.disease}")
        problems = run.problems(self.config, self.sites, self.settings.site)
        if problems:
            raise NodeError(f"node {self.settings.site} refuses {run.name}: " + "; ".join(problems))

    def _mode(self, run: NetworkRun) -> str:
        from fedheme.grid import dp_release_mode

        return dp_release_mode(run.seed) if run.private else "exact"

    def _release_name(self, run: NetworkRun) -> str:
        from fedheme.folds import Fold
        from fedheme.grid import DIAGNOSIS, release_name

        study = DIAGNOSIS if run.endpoint == DIAGNOSIS else "training"
        return release_name(Fold.parse(run.fold).train_subset, self._mode(run), study)

    def release_of(self, run: NetworkRun) -> dict:
        """The site's release for ``run``: made once per release (subset, seed, study) of
        these patient rows and kept in the node's records; every run of that release gets
        the same one (with ``privacy.randomness: os`` a new draw would be a new release;
        on changed rows the pipeline, too, draws a new one)."""
        from fedheme.folds import Fold
        from fedheme.io import read_json, write_json
        from fedheme.jobs.train import site_releases
        from fedheme.privacy.randomness import data_digest

        name = f"{self._release_name(run)}@{data_digest(self._rows(run))}"
        path = self._inside_records(self.records / run.disease / "releases" / f"{name}.json")
        with _file_lock(path.with_suffix(".lock")):
            if path.exists():
                return read_json(path)
            mode = self._mode(run)
            release = site_releases(patients=self._patients_file, disease_name=run.disease, disease=self.config["diseases"][run.disease],
                                    training=run.training(self.config), site_id=self.settings.site,
                                    subset=Fold.parse(run.fold).train_subset, modes=[mode], seed=self.config["split"]["seed"],
                                    privacy=self.privacy, diagnosis=run.diagnosis(self.config))[mode]  # fmt: skip
            write_json(path, release)
        return release

    def _rows(self, run: NetworkRun) -> pd.DataFrame:
        from fedheme.data.splits import subset_rows
        from fedheme.folds import Fold

        return subset_rows(pd.read_parquet(self._patients_file), Fold.parse(run.fold).train_subset)

    def _released_stats(self, run: NetworkRun, release: dict) -> dict:
        """Statistics from the site's own release alone (only to build its accountant before
        the coordinator has pooled every site's)."""
        from fedheme.federated.server import combine_releases

        return combine_releases([release], run.settings(self.config))

    def _client(self, run: NetworkRun, stats: dict, release: dict):
        """The pipeline's client of this site for ``run``, as :func:`fedheme.federated.fold.train_fold` builds it."""
        import torch

        from fedheme.federated.client import Client
        from fedheme.federated.design import design_matrix
        from fedheme.privacy.accounting import Mechanism
        from fedheme.privacy.randomness import data_digest, site_randomness

        torch.set_num_threads(1)
        rows = self._rows(run)
        settings = run.settings(self.config)
        draws = site_randomness(self.settings.data, self.privacy.get("randomness", "site_key"), data_digest(rows))
        return Client(self.settings.site, design_matrix(rows, settings, stats, run.endpoint), run.train_config(self.config),
                      settings.bins(run.endpoint), [Mechanism(**m) for m in release["mechanisms"]],
                      randomness=draws.child(run.endpoint, run.name, "federation"), released_n=stats["site_n"][self.settings.site],
                      task=settings.task(run.endpoint))  # fmt: skip

    def _charge_training(self, run: NetworkRun) -> None:
        """``deployment`` mode: the run's DP-SGD charged to the site's study-wide accountant
        before its first step, under the identity the pipeline's training job charges."""
        from fedheme.privacy.budget import site_accountant
        from fedheme.privacy.plan import training_charges
        from fedheme.privacy.randomness import data_digest

        training = run.training(self.config)
        accountant = site_accountant(self.settings.data, privacy=self.privacy, delta=training["delta"], disease=run.disease,
                                     site=self.settings.site)  # fmt: skip
        if accountant is None:
            return
        charges = training_charges(run.disease, self.config["diseases"][run.disease], training, endpoint=run.endpoint,
                                   fold=run.fold, site=self.settings.site)  # fmt: skip
        identity = f"{run.disease}/{run.endpoint}/{run.name}_federation"
        mine = [c for c in charges if c.identity == identity]
        if len(mine) != 1:
            raise NodeError(f"node {self.settings.site}: the study's privacy plan has no charge {identity}")
        accountant.charge(mine, data=data_digest(self._rows(run)))

    # -- the node's state -------------------------------------------------------------------

    @property
    def records(self) -> Path:
        """The node's records of what it released, beside the site's key and budget."""
        return (self.settings.data / RECORDS).resolve()

    def _inside_records(self, path: Path) -> Path:
        """``path``, refused unless it lies inside the node's records folder."""
        resolved = path.resolve()
        if self.records not in resolved.parents:
            raise NodeError(f"node {self.settings.site}: {path} is outside its records folder")
        return resolved

    def _state_file(self, run: NetworkRun) -> Path:
        return self._inside_records(self.records / run.disease / run.endpoint / f"{run.name}.pt")

    @contextmanager
    def _locked(self, run: NetworkRun):
        with _file_lock(self._state_file(run).with_suffix(".lock")):
            yield
    def _load(self, run: NetworkRun) -> dict | None:
        import torch

        path = self._state_file(run)
        return torch.load(path, weights_only=False) if path.exists() else None

    def _save(self, run: NetworkRun, state: dict) -> None:
        import torch

        from fedheme.io import atomic_path

        with atomic_path(self._state_file(run), durable=True) as tmp:
            torch.save(state, tmp)

    def ledger_file(self, run: NetworkRun) -> Path:
        """The node's ledger rows of ``run`` (what it has released so far)."""
        return self._state_file(run).with_suffix(".ledger.tsv")

    def round_reached(self, run: NetworkRun) -> int:
        """The last round of ``run`` the node has trained (0: none)."""
        saved = self._load(run)
        return 0 if saved is None else int(saved["round"])

    def _ledger_rows(self, run: NetworkRun, client) -> list[dict]:
        """The rows the pipeline's training job writes for this site and run."""
        from fedheme.grid import epsilon_label
        from fedheme.privacy.ledger import ledger_rows

        identity = {"run": f"{run.name}_federation", "strategy": run.strategy, "target_epsilon": epsilon_label(run.epsilon), "seed": run.seed}
        if run.private:
            return ledger_rows(identity, self.settings.site, client.history(), client.delta)
        summary = client.training_summary(client.config.rounds)
        return ledger_rows(identity, self.settings.site, [summary], client.delta, "no DP (epsilon = inf): exact releases, plain SGD")

    def _write_ledger(self, run: NetworkRun, client) -> list[dict]:
        from fedheme.io import write_tsv
        from fedheme.privacy.ledger import RUN_LEDGER_COLUMNS

        rows = self._ledger_rows(run, client)
        write_tsv(self.ledger_file(run), pd.DataFrame(rows, columns=RUN_LEDGER_COLUMNS))
        return rows


@contextmanager
def _file_lock(path: Path):
    """An exclusive lock on ``path`` (created), held for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
