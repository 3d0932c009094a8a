"""The privacy audit inside one site: what an attacker holding a released model could learn
about the site's patients, and whether the DP trainer leaks more than its accountant says.

1. **Membership inference** against the models of the ``within`` fold (trained on every
   site's training split): the federated model of the declared strategy and the site's own
   local model, at every epsilon of the grid. Members are the site's training split,
   non-members its test split (the same population). Two attacks score each patient:
   the loss threshold (Yeom et al., CSF 2018) and the online likelihood-ratio attack
   (LiRA; Carlini et al., IEEE S&P 2022), whose shadow models the site trains itself on
   random halves of all its patients, with the target's settings and epsilon (for the
   federated target the shadows are local models: the site cannot re-run the federation,
   so LiRA is an approximation there). AUROC and TPR at 1% and 0.1% FPR come with
   bootstrap intervals (weights from the site's key).
2. **Canary auditing** of the mechanism (Jagielski et al., NeurIPS 2020; Nasr et al.,
   USENIX Security 2023): a crafted patient (features along the direction the site's
   patients vary least, :func:`canary`; an event in the first bin) is added to the site's
   training split; the site
   trains ``canary_runs`` local models with it and as many without (same settings, each
   run its own draws and initial weights) and turns how well the canary's predicted
   hazard tells them apart into an
   empirical epsilon lower bound at a stated confidence (Clopper-Pearson,
   :mod:`fedheme.audit.bounds`), beside the epsilon the run's accountant gives the same
   mechanism and the epsilon the grid claims. A lower bound above either is a bug.

Nothing here is released but the audit figures (research mode: a declared non-private
release, listed in the study budget); the shadow and canary models never leave the job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from fedheme.audit.attacks import LOW_FPR, attack_metrics, lira_scores, loss_threshold_scores, roc_points
from fedheme.audit.bounds import canary_bound, epsilon_lower_bound
from fedheme.data.splits import subset_rows
from fedheme.evaluation.bootstrap import multinomial_weights
from fedheme.federated.client import Client
from fedheme.federated.config import DesignSettings, TrainConfig
from fedheme.federated.design import DesignMatrix, design_matrix
from fedheme.federated.server import run_federated
from fedheme.grid import epsilon_label
from fedheme.models.bundle import bundle_model
from fedheme.models.losses import logistic_hazard_loss
from fedheme.privacy.randomness import SiteRandomness

#: Columns of a site's released audit table (and of ``results/privacy/audit.tsv``).
AUDIT_COLUMNS = ["disease", "endpoint", "site", "model", "epsilon", "test", "metric", "value", "ci_low", "ci_high", "confidence",
                 "members", "non_members", "note"]  # fmt: skip
#: Columns of a site's released ROC points (the audit figure).
ROC_COLUMNS = ["disease", "endpoint", "site", "model", "epsilon", "attack", "fpr", "tpr"]
#: Decimals of the released attack figures (coarse: an exact AUROC of a few hundred pairs
#: would help rank one patient's loss).
AUDIT_DIGITS = 2
#: What each attack is, in the released rows.
ATTACK_NOTES = {"loss": "loss threshold (Yeom et al. 2018)", "lira": "LiRA, online, fixed variance (Carlini et al. 2022)"}
#: False positive rates of the released ROC points: a log grid from 0.1% to 100%.
FPR_GRID = tuple(float(f) for f in np.round(np.logspace(-3, 0, 16), 6))


@dataclass(frozen=True)
class AuditSettings:
    """The ``privacy.audit`` block of config.

    Attributes:
        shadows: LiRA shadow models per epsilon (each on a random half of the site).
        canary_runs: models trained with the canary, and as many without, per epsilon.
        confidence: level of the intervals and of the canary's lower bound.
        n_bootstrap: bootstrap replicates of the attack metrics.
        strategy: the federated model audited (the figures' declared strategy).
        min_cell_count: a TPR is released only when at least this many members lie above
            its threshold (as every count a site releases).
    """

    shadows: int = 8
    canary_runs: int = 20
    confidence: float = 0.95
    n_bootstrap: int = 200
    strategy: str = "fedavg"
    min_cell_count: int = 5

    @classmethod
    def from_config(cls, audit: dict, *, n_bootstrap: int, confidence: float, strategy: str, min_cell_count: int) -> "AuditSettings":
        return cls(int(audit["shadows"]), int(audit["canary_runs"]), float(confidence), int(n_bootstrap), strategy, int(min_cell_count))


def patient_losses(model: torch.nn.Module, matrix: DesignMatrix) -> np.ndarray:
    """Each patient's negative log-likelihood under a logistic-hazard network, shape (n,)."""
    with torch.no_grad():
        logits = model(torch.from_numpy(matrix.x))
        return logistic_hazard_loss(logits, torch.from_numpy(matrix.bin_index), torch.from_numpy(matrix.event)).numpy().astype(float)


def train_local(design: DesignMatrix, config: TrainConfig, n_bins: int, randomness: SiteRandomness, *, released_n: float,
                site_id: str = "audit", releases: list | None = None) -> tuple[torch.nn.Module, float]:  # fmt: skip
    """One model trained at this site alone by the pipeline's own client (Opacus DP-SGD
    when ``config.epsilon`` is finite), as a local-only run is. Returns the trained network
    and the epsilon its accountant gives the run's DP-SGD steps (inf without DP).

    Args:
        released_n: the count the sample rate is set from (a public number in the audit:
            the same for the runs compared, so the canary's presence does not change q).
        releases: the site's preprocessing releases (:class:`fedheme.privacy.accounting.Mechanism`),
            accounted before the steps as in a pipeline run.
    """
    client = Client(site_id, design, config, n_bins, list(releases or []), randomness=randomness, released_n=released_n)
    state = run_federated([client], config, design.x.shape[1], n_bins, {site_id: released_n})
    from fedheme.models.networks import build_network

    model = build_network(config.model, design.x.shape[1], n_bins)
    model.load_state_dict(state.released_weights())
    return model.eval(), client.epsilon()


def _subset(matrix: DesignMatrix, keep: np.ndarray) -> DesignMatrix:
    return DesignMatrix(*(getattr(matrix, f)[keep] for f in ("x", "bin_index", "event", "time", "status", "patient_id")))


def _target_runs(bundle: dict, strategy: str, site_id: str, seed: str) -> list[tuple[str, dict]]:
    """(model name, run) of the audited models: the federated model of ``strategy`` and the
    site's local model, at every epsilon, of one seed."""
    out = []
    for run in bundle["runs"]:
        if str(run["seed"]) != seed or run.get("kind") in ("cox", "sklearn"):
            continue
        if run["strategy"] == strategy:
            out.append((strategy, run))
        elif run["strategy"] == "local" and run["trained_on"] == site_id:
            out.append(("local", run))
    return out


def membership_audit(bundle: dict, patients: pd.DataFrame, *, design_settings: DesignSettings, base: TrainConfig,
                     audit: AuditSettings, site_id: str, disease: str, randomness: SiteRandomness) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Loss-threshold and LiRA attacks on the ``within`` fold's audited models at this site.

    Args:
        bundle: the ``within`` fold's bundle of a prognostic endpoint.
        patients: the site's harmonised patients (both splits).
        base: the grid's training settings (the shadows train like the target).

    Returns:
        (rows, roc): the released audit rows (:data:`AUDIT_COLUMNS`) and ROC points
        (:data:`ROC_COLUMNS`).
    """
    if bundle["fold"] != "within":
        raise ValueError(f"membership is audited on the 'within' fold (members: the training split), not {bundle['fold']!r}")
    if bundle.get("task", "hazard") != "hazard":
        raise ValueError(f"the audit attacks logistic-hazard models, not a {bundle['task']!r} bundle")
    endpoint, n_bins = bundle["endpoint"], int(bundle["n_bins"])
    seed = str(min(int(r["seed"]) for r in bundle["runs"]))
    rows, roc, shadows = [], [], {}
    for name, run in _target_runs(bundle, audit.strategy, site_id, seed):
        matrix = design_matrix(patients, design_settings, bundle["stats"][run["mode"]], endpoint)
        member = np.isin(matrix.patient_id, subset_rows(patients, "train")["patient_id"].to_numpy())
        losses = patient_losses(bundle_model(bundle, run), matrix)
        epsilon = float("inf") if run["epsilon"] == "inf" else float(run["epsilon"])
        key = (run["mode"], run["epsilon"])
        if key not in shadows:  # shared by the federated and local targets of an epsilon
            shadows[key] = _shadow_losses(matrix, replace(base, strategy="fedavg", epsilon=epsilon, seed=int(seed)), n_bins, audit,
                                          randomness.child("audit-shadow", endpoint, run["mode"], run["epsilon"]))  # fmt: skip
        shadow_losses, shadow_in = shadows[key]
        W = multinomial_weights(len(losses), audit.n_bootstrap, randomness.numpy("audit-bootstrap", endpoint, name, run["epsilon"]))
        base_row = {"disease": disease, "endpoint": endpoint, "site": site_id, "model": name, "epsilon": run["epsilon"],
                    "confidence": audit.confidence, "members": int(member.sum()), "non_members": int((~member).sum())}  # fmt: skip
        n_members, n_non = int(member.sum()), int((~member).sum())
        for attack, scores in (("loss", loss_threshold_scores(losses)), ("lira", lira_scores(losses, shadow_losses, shadow_in))):
            note = ATTACK_NOTES[attack] + ("" if attack == "loss" or name == "local" else
                                           "; its shadows are local models (the site cannot re-run the federation)")  # fmt: skip
            for metric, (value, low, high) in attack_metrics(scores, member, W, confidence=audit.confidence).items():
                extra = ""
                if metric in LOW_FPR and LOW_FPR[metric] * n_non < 1:
                    extra = f"; {n_non} non-members: an FPR of {LOW_FPR[metric]:g} is below one non-member, so this is the TPR above every non-member"
                if metric in LOW_FPR and 0 < value * n_members < audit.min_cell_count:
                    value, low, high = math.nan, math.nan, math.nan
                    extra += f"; fewer than {audit.min_cell_count} members above the threshold: suppressed"
                rows.append({**base_row, "test": f"membership_{attack}", "metric": metric, "value": value, "ci_low": low, "ci_high": high,
                             "note": note + extra})  # fmt: skip
            for fpr, tpr in zip(FPR_GRID, roc_points(scores, member, np.asarray(FPR_GRID))):
                if fpr * n_non < 1 or 0 < tpr * n_members < audit.min_cell_count:
                    continue  # below one non-member, or a small count of members: not released
                roc.append({k: base_row[k] for k in ("disease", "endpoint", "site", "model", "epsilon")} | {"attack": attack, "fpr": fpr, "tpr": float(tpr)})
    rows = pd.DataFrame(rows, columns=AUDIT_COLUMNS).round({c: AUDIT_DIGITS for c in ("value", "ci_low", "ci_high")})
    return rows, pd.DataFrame(roc, columns=ROC_COLUMNS).round({"tpr": AUDIT_DIGITS})


def _shadow_losses(matrix: DesignMatrix, config: TrainConfig, n_bins: int, audit: AuditSettings,
                   randomness: SiteRandomness) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Every patient's loss under ``audit.shadows`` models, each trained on a random half of
    the site's patients; shapes (S, n) losses and (S, n) membership of each half."""
    n = len(matrix.event)
    rng = randomness.numpy("halves")
    losses, inside = np.empty((audit.shadows, n)), np.zeros((audit.shadows, n), bool)
    for s in range(audit.shadows):
        keep = rng.permutation(n)[: n // 2]
        inside[s, keep] = True
        model, _ = train_local(_subset(matrix, np.sort(keep)), config, n_bins, randomness.child("shadow", s), released_n=float(n // 2))
        losses[s] = patient_losses(model, matrix)
    return losses, inside


#: Length of the canary's feature vector (standardised units).
CANARY_NORM = 10.0


def canary(x: np.ndarray) -> np.ndarray:
    """The crafted patient's features, shape (p,): ``CANARY_NORM`` times the direction the
    site's own patients ``x`` (n, p) vary least in (their last principal axis), so that
    the other patients' gradients barely move the model along it and the canary's own
    clipped gradient is what shows (an input-space canary in the spirit of Nasr et al.'s
    gradient canaries). Computed inside the site; it never leaves."""
    centred = x.astype(float) - x.astype(float).mean(axis=0)
    direction = np.linalg.svd(centred, full_matrices=False)[2][-1]
    return (CANARY_NORM * direction).astype(np.float32)


def canary_score(model: torch.nn.Module, x: np.ndarray) -> float:
    """How strongly a model predicts the canary's early event: its hazard logit in the first
    bin (the loss of an event there is a decreasing function of it, and unlike the loss it
    does not saturate at 0 in float32)."""
    with torch.no_grad():
        return float(model(torch.from_numpy(x[None, :]))[0, 0])


def canary_audit(bundle: dict, patients: pd.DataFrame, *, design_settings: DesignSettings, base: TrainConfig, audit: AuditSettings,
                 epsilons: list[float], delta: float, site_id: str, disease: str, randomness: SiteRandomness,
                 releases: dict[str, list] | None = None) -> pd.DataFrame:  # fmt: skip
    """Canary auditing of the site's local DP-SGD mechanism at each epsilon, as the pipeline
    runs it (the site's preprocessing releases accounted first, the sample rate from its
    released count): ``audit.canary_runs`` models with the canary in the site's training
    split and as many without; the empirical epsilon lower bound beside the largest bound
    that many runs could show, the run's accounted epsilon and the claimed one.

    Args:
        releases: release mode -> the site's release mechanisms (of its training split), so
            that the noise is calibrated as in the pipeline's local runs (None: none).

    Returns:
        Released rows (:data:`AUDIT_COLUMNS`): per epsilon the lower bound (with the
        confidence), the largest bound the runs could show, the accounted epsilon and the
        claimed one.
    """
    endpoint, n_bins = bundle["endpoint"], int(bundle["n_bins"])
    train = subset_rows(patients, "train")
    dp_modes = sorted(m for m in bundle["stats"] if m != "exact")
    rows = []
    for epsilon in epsilons:
        label = epsilon_label(epsilon)
        if math.isfinite(epsilon) and not dp_modes:
            raise ValueError(f"the bundle holds no DP release to audit epsilon {label} with")
        mode = dp_modes[0] if math.isfinite(epsilon) else "exact"
        stats = bundle["stats"][mode]
        matrix = design_matrix(train, design_settings, stats, endpoint)
        x = canary(matrix.x)
        with_canary = DesignMatrix(np.vstack([matrix.x, x[None, :]]), np.append(matrix.bin_index, 0), np.append(matrix.event, np.float32(1.0)),
                                   np.append(matrix.time, 0.0), np.append(matrix.status, 1.0), np.append(matrix.patient_id, "canary"))  # fmt: skip
        # the site's released (noisy) count sets q, as in its pipeline runs: the same in both worlds
        released_n = float(stats.get("site_n", {}).get(site_id, len(matrix.event)))
        mechanisms = list((releases or {}).get(mode, [])) if math.isfinite(epsilon) else []
        scores, accounted = {True: [], False: []}, math.inf
        for included in (True, False):
            for r in range(audit.canary_runs):
                draws = randomness.child("audit-canary", endpoint, label, included, r)
                config = replace(base, strategy="fedavg", epsilon=epsilon, seed=int(draws.numpy("init").integers(2**31 - 1)))
                model, accounted = train_local(with_canary if included else matrix, config, n_bins, draws, released_n=released_n,
                                               releases=mechanisms)  # fmt: skip
                scores[included].append(canary_score(model, x))
        bound = canary_bound(np.array(scores[True]), np.array(scores[False]), delta=delta, confidence=audit.confidence,
                             rng=randomness.numpy("audit-canary-split", endpoint, label))  # fmt: skip
        half = audit.canary_runs // 2  # errors are counted on the held-out halves
        detectable = epsilon_lower_bound(false_positives=0, negatives=audit.canary_runs - half, false_negatives=0,
                                         positives=audit.canary_runs - half, delta=delta, confidence=audit.confidence)  # fmt: skip
        base_row = {"disease": disease, "endpoint": endpoint, "site": site_id, "model": "local", "epsilon": label, "test": "canary",
                    "confidence": audit.confidence, "members": audit.canary_runs, "non_members": audit.canary_runs}  # fmt: skip
        note = f"{audit.canary_runs} runs with the canary and {audit.canary_runs} without; threshold chosen on half of each, errors counted on the other half"
        if detectable <= epsilon:
            note += f"; inconclusive as a check of epsilon {label}: even no error would show at most {detectable:.2f}"
        rows.append({**base_row, "metric": "epsilon_lower_bound", "value": bound["epsilon_lower_bound"], "ci_low": math.nan, "ci_high": math.nan,
                     "note": note})  # fmt: skip
        rows.append({**base_row, "metric": "epsilon_detectable", "value": detectable, "ci_low": math.nan, "ci_high": math.nan,
                     "note": "the largest lower bound this many runs can show (no error on the held-out halves)"})  # fmt: skip
        rows.append({**base_row, "metric": "epsilon_accounted", "value": accounted, "ci_low": math.nan, "ci_high": math.nan,
                     "note": "the run's accountant (Opacus RDP): the site's preprocessing releases and its DP-SGD steps"})  # fmt: skip
        rows.append({**base_row, "metric": "epsilon_claimed", "value": epsilon, "ci_low": math.nan, "ci_high": math.nan, "note": "the grid's target"})
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)
