"""A hospital's node in the networked federation (site side: it reads the site's patients).

A node reads only its own data folder (the site's harmonised ``patients.parquet`` and its
``secret.key``, the pipeline's ``private/`` folder of that site) and answers three requests
of the coordinator, each for a run the node's own copy of the study config plans
(:meth:`fedheme.network.study.NetworkRun.problems`):

* ``hello``: which site and disease it serves;
* ``release``: the aggregates it releases before training, made as the pipeline's
  release job makes them (the same draws from its key; charged to its study-wide
  accountant in ``deployment`` mode);
* ``train``: one round of local DP-SGD from the global weights, by the pipeline's own
  :class:`~fedheme.federated.client.Client`, with the same draws as the pipeline's
  in-process run of the same name.

Its accountant lives in its state folder and survives the node: after each round the node
writes (atomically, under a lock) the round reached, the accountant's history and its
reply. A round asked again with the same global weights (its reply was lost: a network
failure, a node killed and restarted) is answered from that file, not trained again;
asked with other weights, it is refused, since the same noise on other inputs would let
the difference of the two replies cancel the noise. A node's ledger rows for the run are
written beside it and sent with every reply (mechanisms only, as in the pipeline's
ledger). A DP run's training loss is never sent: it is an exact function of the patients.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fedheme.network.study import NetworkRun, load_study_config

#: What a node's data folder holds (the pipeline's ``results/<disease>/sites/<site>/private``).
PATIENTS_FILE = "patients.parquet"
#: Keys of a node's settings file.
NODE_KEYS = ("site", "disease", "data", "state", "study_config")


class NodeError(ValueError):
    """A request the node refuses (a run its study does not plan, a replayed round)."""


@dataclass(frozen=True)
class NodeSettings:
    """A hospital node's settings (a TOML file, ``fedheme node --site FILE``).

    Attributes:
        site: the site's id, as in the study's site sheet.
        disease: the disease the node trains.
        data: the site's private folder: ``patients.parquet`` and ``secret.key``.
        state: the node's own folder: accountants, replies and ledgers of its runs.
        study_config: the study's config files, merged in order (``config/config.yaml``
            first); the node's own copy, not the coordinator's.
    """

    site: str
    disease: str
    data: Path
    state: Path
    study_config: tuple[Path, ...]

    @classmethod
    def read(cls, path: str | Path) -> "NodeSettings":
        """Read a settings file; relative paths are relative to the file's folder."""
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise NodeError(f"{path}: cannot read the node settings: {err}") from err
        missing = [k for k in NODE_KEYS if k not in raw]
        if missing:
            raise NodeError(f"{path}: node settings lack {missing} (keys: {list(NODE_KEYS)})")
        files = raw["study_config"] if isinstance(raw["study_config"], list) else [raw["study_config"]]
        here = path.resolve().parent
        settings = cls(str(raw["site"]), str(raw["disease"]), here / raw["data"], here / raw["state"],
                       tuple(here / f for f in files))  # fmt: skip
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


class SiteNode:
    """One hospital's node: its data folder, its state and its copy of the study config."""

    def __init__(self, settings: NodeSettings):
        self.settings = settings
        self.config = load_study_config(list(settings.study_config))
        if settings.disease not in self.config.get("diseases", {}):
            raise NodeError(f"node {settings.site}: disease {settings.disease!r} is not in its study config")
        self.privacy = self.config.get("privacy", {})
        from fedheme.privacy.accounting import use_calibration_cache

        # noise calibrations (public numbers only) kept across the node's messages
        use_calibration_cache(settings.state / "noise_calibration")

    # -- requests -------------------------------------------------------------------------

    def hello(self) -> dict:
        return {"site": self.settings.site, "disease": self.settings.disease}

    def release(self, run: NetworkRun) -> dict:
        """The site's release before training ``run`` (its aggregates, as the pipeline's
        release job draws them), with the node's ledger rows for the run so far."""
        self._check(run)
        with self._locked(run):
            release = self.release_of(run)
            client = self._client(run, self._released_stats(run, release), release)
            saved = self._load(run)
            if saved is not None:
                client.accountant.history = [tuple(h) for h in saved["history"]]
            ledger = self._write_ledger(run, client)
        return {"release": release, "ledger": ledger, "epsilon": _finite(client.epsilon())}

    def train(self, run: NetworkRun, stats: dict, weights: dict, round_index: int) -> tuple[dict, dict]:
        """One round of local training from the global ``weights``; returns (new weights,
        reply: loss (runs without DP only), the site's epsilon so far and its ledger rows)."""
        self._check(run)
        if not 1 <= round_index <= run.train_config(self.config).rounds:
            raise NodeError(f"node {self.settings.site}: round {round_index} is outside the run's rounds")
        with self._locked(run):
            release = self.release_of(run)
        own_n = max(float(release["numeric"][0]), 1.0)
        if float(stats["site_n"].get(self.settings.site, math.nan)) != own_n:
            raise NodeError(f"node {self.settings.site}: the coordinator's count for this site is not the site's release")
        request = weights_digest(weights, round_index)
        with self._locked(run):
            saved = self._load(run)
            done = 0 if saved is None else int(saved["round"])
            if saved is not None and done == round_index:
                if saved["request"] != request:
                    raise NodeError(f"node {self.settings.site}: round {round_index} of {run.name} was already trained from other "
                                    "weights; training it again would reuse its noise")  # fmt: skip
                return saved["weights"], saved["reply"]
            if round_index < done:
                raise NodeError(f"node {self.settings.site}: {run.name} has reached round {done}; round {round_index} is past")
            self._charge_training(run)
            client = self._client(run, stats, release)
            if saved is not None:
                client.accountant.history = [tuple(h) for h in saved["history"]]
            new_weights, loss = client.train(weights, round_index)
            reply = {"loss": loss if not run.private else None, "epsilon": _finite(client.epsilon()),
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
        problems = run.problems(self.config, self.settings.site)
        if problems:
            raise NodeError(f"node {self.settings.site} refuses {run.name}: " + "; ".join(problems))

    def _mode(self, run: NetworkRun) -> str:
        from fedheme.grid import dp_release_mode

        return dp_release_mode(run.seed) if run.private else "exact"

    def release_of(self, run: NetworkRun) -> dict:
        """The site's release for ``run``: made once, kept in the node's state and sent
        again as it is (with ``privacy.randomness: os`` a new draw would be a new release)."""
        from fedheme.folds import Fold
        from fedheme.io import read_json, write_json
        from fedheme.jobs.train import site_releases

        path = self._state_file(run).with_suffix(".release.json")
        if path.exists():
            return read_json(path)
        mode = self._mode(run)
        release = site_releases(patients=self._patients_file, disease_name=run.disease, disease=self.config["diseases"][run.disease],
                                training=run.training(self.config), site_id=self.settings.site, subset=Fold.parse(run.fold).train_subset,
                                modes=[mode], seed=self.config["split"]["seed"], privacy=self.privacy,
                                diagnosis=run.diagnosis(self.config))[mode]  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
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
        before its first step (a charge already made counts once)."""
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
        mine = [c for c in charges if c.identity.split("/")[-1] == f"{run.name}_federation"]
        accountant.charge(mine, data=data_digest(self._rows(run)))

    # -- the node's state -------------------------------------------------------------------

    def _state_file(self, run: NetworkRun) -> Path:
        return self.settings.state / run.disease / run.endpoint / f"{run.name}.pt"

    @contextmanager
    def _locked(self, run: NetworkRun):
        path = self._state_file(run)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self, run: NetworkRun) -> dict | None:
        import torch

        path = self._state_file(run)
        return torch.load(path, weights_only=False) if path.exists() else None

    def _save(self, run: NetworkRun, state: dict) -> None:
        import torch

        from fedheme.io import atomic_path

        with atomic_path(self._state_file(run)) as tmp:
            torch.save(state, tmp)

    def ledger_file(self, run: NetworkRun) -> Path:
        """The node's ledger rows of ``run`` (what it has released so far)."""
        return self._state_file(run).with_suffix(".ledger.tsv")

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


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
