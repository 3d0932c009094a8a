"""Model bundles: what crosses from a training job to the test sites.

A bundle holds, per run, its strategy, epsilon, seed, release mode, the sites it was
trained on, the feature columns it uses (None: all) and its final weights; and per
release mode the pooled statistics (released aggregates) that standardise a test site's
features. It holds no patient-level data. Loading needs PyTorch only (no Lightning, no
Opacus), so evaluation jobs start fast.
"""

from __future__ import annotations

from pathlib import Path

import torch

from fedheme.io import atomic_path
from fedheme.models.cox import CoxNet
from fedheme.models.networks import LinearSoftmaxNet, LogisticHazardNet, SoftmaxNet, build_network


def save_bundle(path: str | Path, bundle: dict) -> None:
    """Write a model bundle atomically."""
    with atomic_path(path) as tmp:
        torch.save(bundle, tmp)


def load_bundle(path: str | Path) -> dict:
    return torch.load(path, weights_only=True)


def bundle_model(bundle: dict, run: dict) -> LogisticHazardNet | SoftmaxNet | CoxNet:
    """The trained network of one run of a bundle, in evaluation mode on the CPU (a
    :class:`~fedheme.models.cox.CoxNet` for the ``cox`` reference, a linear softmax network
    for the ``sklearn`` one; a bundle of a categorical endpoint has ``task`` softmax)."""
    width = bundle["n_features"] if run.get("columns") is None else len(run["columns"])
    if run.get("kind") == "cox":
        model = CoxNet(width, bundle["n_bins"])
    elif run.get("kind") == "sklearn":
        model = LinearSoftmaxNet(width, bundle["n_bins"])
    else:
        model = build_network(bundle["model"], width, bundle["n_bins"], n_treatment=bundle.get("n_treatment", 0),
                              task=bundle.get("task", "hazard"))  # fmt: skip
    model.load_state_dict(run["weights"])
    return model.eval()


def read_bundle(path: str | Path) -> dict:
    """:func:`load_bundle` for a file a user names: a file that is not a bundle is a
    ValueError naming it (torch raises several kinds), a missing one FileNotFoundError."""
    try:
        return load_bundle(path)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise ValueError(f"{path}: cannot read the model bundle ({type(err).__name__})") from err


def choose_runs(bundle: dict, strategy: str, epsilon: str | None) -> tuple[str, list[dict]]:
    """The runs of ``strategy`` at ``epsilon`` (default: the smallest finite epsilon, else
    inf), one per seed; library references without the network's parameters left out."""
    runs = [r for r in bundle["runs"] if r["strategy"] == strategy and r.get("kind") != "cox_tv"]
    if not runs:
        raise ValueError(f"the bundle has no {strategy!r} model; it has {sorted({r['strategy'] for r in bundle['runs']})}")
    labels = sorted({str(r["epsilon"]) for r in runs}, key=lambda e: float(e))
    chosen = epsilon if epsilon is not None else labels[0]
    picked = [r for r in runs if str(r["epsilon"]) == chosen]
    if not picked:
        raise ValueError(f"the bundle's {strategy} models have epsilon {labels}, not {chosen!r}")
    return chosen, picked


def model_digest(bundle: dict, run: dict) -> str:
    """A fingerprint (16 hex digits) of what one run of a bundle predicts with: its weights,
    byte for byte, and the pooled statistics of its release mode. A release computed from a
    model's predictions draws its noise (and is charged) under it: another model, another
    draw and another charge."""
    import hashlib
    import json

    h = hashlib.sha256(json.dumps(bundle["stats"].get(run.get("mode"), {}), sort_keys=True, default=str).encode())
    for name in sorted(run["weights"]):
        value = run["weights"][name]
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes() if torch.is_tensor(value) else repr(value).encode())
    return h.hexdigest()[:16]
