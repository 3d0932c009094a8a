"""Jobs of ``workflow/rules/train.smk``: a site's releases before training (inside the site),
one fold's training grid (the simulated federation: every training site's client and the
server in one job; no held-out patient is read), and the privacy ledger (across sites)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from fedheme.io import read_json, write_json, write_tsv


def site_releases(*, patients, disease_name: str, disease: dict, training: dict, site_id: str, subset: str, modes: list[str],
              seed: int, privacy: dict, diagnosis: dict | None) -> dict[str, dict]:  # fmt: skip
    """Each mode's release of one site's ``subset`` (see :func:`training_releases_job`); in
    ``deployment`` mode every mode is charged at once first (over budget: nothing is made)."""
    from fedheme.data.splits import subset_rows
    from fedheme.federated.config import study_settings
    from fedheme.federated.releases import training_release
    from fedheme.grid import DIAGNOSIS, release_name
    from fedheme.privacy.budget import site_accountant
    from fedheme.privacy.plan import release_charges, release_mechanisms
    from fedheme.privacy.randomness import data_digest, site_randomness

    private_dir = Path(patients).parent
    settings = study_settings(disease, training, diagnosis)
    study = "training" if diagnosis is None else DIAGNOSIS
    noise = {mode: {k: (float(v) if mode != "exact" else 0.0) for k, v in training["release_noise"].items()} for mode in modes}
    rows = subset_rows(pd.read_parquet(patients), subset)
    if diagnosis is not None:  # the classifier's patients: those with a marrow blast count
        from fedheme.diagnosis.marrow import labelled

        rows = labelled(rows)
    digest = data_digest(rows)
    accountant = site_accountant(private_dir, privacy=privacy, delta=training["delta"], disease=disease_name, site=site_id)
    if accountant is not None:
        if "exact" in modes:
            raise ValueError(f"{disease_name} site {site_id}: privacy.mode deployment releases nothing exact ({study}_release_{subset}_exact)")
        charges = []
        for mode in modes:
            release = release_name(subset, mode, study)
            charges += release_charges(disease_name, release, release_mechanisms(noise[mode], settings.release_parts, release))
        accountant.charge(charges, data=digest)
    out = {}
    for mode in modes:
        rng = site_randomness(private_dir, privacy.get("randomness", "site_key"), "release", subset, mode, seed, digest,
                              *(() if diagnosis is None else (DIAGNOSIS,))).numpy()  # fmt: skip
        out[mode] = training_release(rows, settings, site_id, noise[mode], rng, release=release_name(subset, mode, study))
    return out


def training_releases_job(*, patients, disease_name: str, disease: dict, training: dict, site_id: str, subset: str, modes: list[str],
                          seed: int, privacy: dict, out, diagnosis: dict | None = None) -> None:  # fmt: skip
    """The aggregates a site releases before training on ``subset`` of its patients ('all'
    or its 'train' split), in one file by mode: exact ('exact') and with Gaussian noise
    ('dp-s<seed>': one draw per seed of the grid) drawn from the site's secret key. In
    ``deployment`` mode the releases are charged to the site's study-wide accountant first:
    over budget, it stops and writes nothing. (One job per site and subset: each mode's
    release is a few sums, and a job costs a Python start-up.)

    Args:
        modes: the release modes of the grid (:func:`fedheme.grid.release_modes`).
        diagnosis: config ``diagnosis.marrow_blasts``: the marrow-blast classifier's releases
            (its features; named ``marrow_blasts_release_<subset>`` in the ledger) instead.
    """
    write_json(out, site_releases(patients=patients, disease_name=disease_name, disease=disease, training=training, site_id=site_id,
                              subset=subset, modes=list(modes), seed=seed, privacy=privacy, diagnosis=diagnosis))  # fmt: skip


def training_release_job(*, patients, disease_name: str, disease: dict, training: dict, site_id: str, subset: str, mode: str,
                         seed: int, privacy: dict, out, diagnosis: dict | None = None) -> None:  # fmt: skip
    """One mode's release alone (:func:`training_releases_job` with one mode), as its own file."""
    write_json(out, site_releases(patients=patients, disease_name=disease_name, disease=disease, training=training, site_id=site_id,
                              subset=subset, modes=[mode], seed=seed, privacy=privacy, diagnosis=diagnosis)[mode])  # fmt: skip


def train_fold_job(*, disease_name: str, disease: dict, training: dict, endpoint: str, fold: str, patients: dict,
                   releases: dict, modes: list[str], privacy: dict, checkpoint_dir, out_models, out_ledger, out_rounds,
                   calibration_cache=None, transplant: dict | None = None, diagnosis: dict | None = None) -> None:  # fmt: skip
    """Every run of the grid for one fold (see :mod:`fedheme.federated.fold`).

    In ``deployment`` mode every training site's DP-SGD runs are charged to its study-wide
    accountant before any training: a site over budget stops the job, which writes nothing.

    Args:
        patients: training site -> its private patients file (never a held-out site's).
        releases: training site -> its released aggregates file (mode -> release).
        modes: the release modes the runs train from.
        calibration_cache: folder of noise calibrations shared by the study's jobs (public
            numbers only: :func:`fedheme.privacy.accounting.use_calibration_cache`).
        transplant: config ``treatment.transplant``: train the transplant model (transplant
            as a time-dependent treatment, :mod:`fedheme.treatment.coding`) instead.
        diagnosis: config ``diagnosis.marrow_blasts``: train the marrow-blast classifier
            (softmax over the marrow blast categories, :mod:`fedheme.diagnosis.marrow`) instead.
    """
    from fedheme.data.splits import subset_rows
    from fedheme.federated.config import TrainConfig, study_settings
    from fedheme.federated.fold import FoldInputs, resolve_device, train_fold
    from fedheme.folds import Fold
    from fedheme.models.bundle import save_bundle
    from fedheme.privacy.accounting import use_calibration_cache
    from fedheme.privacy.budget import site_accountant
    from fedheme.privacy.plan import training_charges
    from fedheme.privacy.randomness import data_digest, site_randomness
    from fedheme.treatment.coding import TransplantCoding

    use_calibration_cache(calibration_cache)
    subset = Fold.parse(fold).train_subset
    train_sites = {site: subset_rows(pd.read_parquet(path), subset) for site, path in patients.items()}
    digests = {site: data_digest(rows) for site, rows in train_sites.items()}
    charged = {}
    for site, path in patients.items():
        accountant = site_accountant(Path(path).parent, privacy=privacy, delta=training["delta"], disease=disease_name, site=site)
        if accountant is not None:
            charges = training_charges(disease_name, disease, training, endpoint=endpoint, fold=fold, site=site)
            accountant.charge(charges, data=digests[site])
            charged.update({(c.identity.split("/")[-1], site): c.mechanism.noise_multiplier for c in charges})
    files = {site: read_json(path) for site, path in releases.items()}
    released = {mode: {site: file[mode] for site, file in files.items()} for mode in modes}
    # each site's client draws from that site's own key (the simulated federation runs them in one job)
    randomness = privacy.get("randomness", "site_key")
    draws = {site: site_randomness(Path(path).parent, randomness, digests[site]) for site, path in patients.items()}
    # fold 'all' (every site; nobody tests) makes the model a study deploys: local-only
    # models there would spend budget on runs nobody evaluates
    baselines = [b for b in training["baselines"] if not (fold == "all" and b == "local")]
    if transplant is not None and fold != "all":  # the time-varying Cox reference is compared on the effects of fold 'all'
        baselines = [b for b in baselines if b != "cox"]
    device = resolve_device(training["device"])
    logging.getLogger("fedheme").info("training fold %s on %s", fold, device)
    bundle, ledger, rounds = train_fold(
        FoldInputs(fold, train_sites, released, draws), settings=study_settings(disease, training, diagnosis), endpoint=endpoint,
        base=TrainConfig.from_config(training), strategies=training["strategies"],
        epsilons=[float(e) for e in training["epsilons"]], seeds=training["seeds"], baselines=baselines,
        checkpoint_dir=checkpoint_dir, device=device,
        marker_features=None if transplant or diagnosis else disease.get("marker_features"),
        treatment=None if transplant is None else TransplantCoding.from_config(transplant),
    )  # fmt: skip
    if charged:  # the runs must be the mechanisms charged, noise multiplier for noise multiplier
        ran = ledger[ledger["mechanism"] == "dp-sgd"]
        mismatch = [(r.run, r.site) for r in ran.itertuples() if charged.get((r.run, r.site)) != r.noise_multiplier]
        if mismatch:
            raise RuntimeError(f"{fold}: the runs differ from the charged plan at {mismatch}")
    if diagnosis is not None:  # what a clinician's tool needs: the classifier's features and cut points
        bundle["diagnosis"] = diagnosis
    if transplant is not None:  # what a clinician's tool needs: the policies compared, a patient's features
        bundle["treatment"]["delay_years"] = transplant.get("delay_years")
        bundle["design"] = {"kind": disease.get("kind", "iwgpm"), "features": disease["features"], "endpoints": list(disease["endpoints"]),
                            "horizon_years": training["horizon_years"], "n_bins": training["n_bins"]}  # fmt: skip
    save_bundle(out_models, bundle)
    write_tsv(out_ledger, ledger)
    write_tsv(out_rounds, rounds)


def import_network_fold_job(*, models, ledger, rounds, disease_name: str, endpoint: str, fold: str, training: dict,
                            train_sites: list[str], out_models, out_ledger, out_rounds) -> None:  # fmt: skip
    """A fold trained over a networked federation (``fedheme coordinate``), checked
    (:func:`fedheme.network.coordinator.check_network_fold`) and written where the
    simulated training's bundle, ledger and rounds would be (across sites: the
    coordinator's outputs only)."""
    import shutil

    from fedheme.io import atomic_path
    from fedheme.models.bundle import load_bundle
    from fedheme.network.coordinator import check_network_fold
    from fedheme.privacy.ledger import read_ledger

    check_network_fold(load_bundle(models), read_ledger(ledger), disease=disease_name, endpoint=endpoint, fold=fold, training=training,
                       sites=train_sites, source=models)  # fmt: skip
    for source, target in ((models, out_models), (ledger, out_ledger), (rounds, out_rounds)):
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)


def privacy_ledger_job(*, ledgers: list, keys: list[dict], out) -> None:
    """Stack every fold's privacy ledger, with its disease, endpoint and fold, into the
    study's ledger (across sites: released rows only)."""
    from fedheme.privacy.ledger import LEDGER_COLUMNS, read_ledger

    frames = [read_ledger(p).assign(**k) for p, k in zip(ledgers, keys)]
    write_tsv(out, pd.concat(frames, ignore_index=True)[LEDGER_COLUMNS])


def study_budget_job(*, ledger, non_private_releases: dict[str, list[str]], planned: dict[str, float], out) -> None:
    """Each site's epsilon over the whole study (see :mod:`fedheme.privacy.study`), beside
    its planned total (``deployment`` mode; keys ``<disease>/<site>``)."""
    from fedheme.privacy.ledger import read_ledger
    from fedheme.privacy.study import study_budget

    write_tsv(out, study_budget(read_ledger(ledger), non_private_releases, planned))
