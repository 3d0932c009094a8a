"""Federated training with record-level differential privacy at every site.

A :class:`Client` holds one site's design matrix and nothing else; each round it receives
the global weights, runs local epochs of DP-SGD (Opacus: per-patient clipping, Gaussian
noise, Poisson sampling) and returns its new weights. Its single accountant, created for
the whole run and seeded with the site's preprocessing releases, counts every step of
every round. The :class:`Server` sees only weights and the sites' released sizes and
combines them by FedAvg, FedProx (clients add a proximal term) or FedAdam (server-side
Adam on the averaged update), with sites dropping out at random each round.

Randomness (initial weights, sampling, noise, dropout) comes from generators seeded by
(seed, round, site), and every round is checkpointed, so a killed run resumes and ends
with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from opacus import GradSampleModule
from opacus.accountants import RDPAccountant
from opacus.optimizers import DPOptimizer
from opacus.utils.uniform_sampler import UniformWithReplacementSampler
from torch.utils.data import TensorDataset

from fedheme.design import DesignMatrix
from fedheme.io import atomic_path
from fedheme.models import build_model
from fedheme.privacy import Mechanism, calibrate_noise, default_delta, epsilon_of
from fedheme.seeding import derived_seed

STRATEGIES = ("fedavg", "fedprox", "fedadam")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one federated run (fixed in config before any test site is seen).

    Attributes:
        strategy: fedavg, fedprox or fedadam.
        epsilon: per-site target epsilon over the whole run; inf trains without DP.
        rounds, local_epochs: communication rounds; local passes over the data per round.
        batch_size: expected (Poisson) batch size; sample rate q = batch_size / n_site.
        lr: client learning rate (per average patient gradient).
        clip_norm: per-patient gradient clipping bound C (DP only).
        mu: FedProx proximal weight.
        server_lr, beta1, beta2, tau: FedAdam server optimiser.
        dropout: probability that a site skips a round.
        delta: per-site delta; None gives 1 / (10 n_site).
        model: 'linear' or 'mlp'.
        seed: seed of everything random in the run.
    """

    strategy: str = "fedavg"
    epsilon: float = math.inf
    rounds: int = 30
    local_epochs: int = 1
    batch_size: int = 64
    lr: float = 0.5
    clip_norm: float = 2.0
    mu: float = 0.1
    server_lr: float = 0.05
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3
    dropout: float = 0.0
    delta: float | None = None
    model: str = "linear"
    seed: int = 1

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {STRATEGIES}")
        if not self.epsilon > 0:
            raise ValueError("epsilon must be > 0 (inf for no DP)")

    @property
    def private(self) -> bool:
        return math.isfinite(self.epsilon)


def generator(*parts) -> torch.Generator:
    return torch.Generator().manual_seed(derived_seed(*parts))


class Client:
    """One site: its data, its accountant and its local DP-SGD.

    Args:
        site_id: the site.
        data: its design matrix (training patients only).
        config: the run's hyperparameters.
        n_bins: number of time bins.
        releases: the site's preprocessing releases, accounted before any step.
        device: where the local model and data live (a GPU when present and asked for).
    """

    def __init__(
        self,
        site_id: str,
        data: DesignMatrix,
        config: TrainConfig,
        n_bins: int,
        releases: list[Mechanism],
        device: torch.device = torch.device("cpu"),
    ):
        self.site_id = site_id
        self.device = device
        self.config = config
        self.n_bins = n_bins
        self.n = len(data.event)
        self.dataset = TensorDataset(
            *(torch.from_numpy(a).to(device) for a in (data.x, data.bin_index, data.event))
        )
        self.sample_rate = min(1.0, config.batch_size / self.n)
        # Opacus' Poisson sampler runs int(1 / q) steps per epoch
        self.steps_per_round = config.local_epochs * int(1 / self.sample_rate)
        self.delta = config.delta if config.delta is not None else default_delta(self.n)
        self.releases = [m for m in releases if m.steps > 0]
        self.accountant = RDPAccountant()
        self.accountant.history = [(m.noise_multiplier, m.sample_rate, m.steps) for m in self.releases]
        self.noise_multiplier = 0.0
        if config.private:
            planned = config.rounds * self.steps_per_round
            self.noise_multiplier = calibrate_noise(config.epsilon, self.delta, self.sample_rate, planned, self.releases)

    def history(self) -> list[Mechanism]:
        """Every mechanism this site has run so far (releases, then DP-SGD steps)."""
        names = [m.name for m in self.releases]
        out = []
        for i, (sigma, q, steps) in enumerate(self.accountant.history):
            out.append(Mechanism(names[i] if i < len(names) else "dp-sgd", sigma, q, steps))
        return out

    def epsilon(self) -> float:
        if not self.config.private:
            return math.inf
        return epsilon_of(self.history(), self.delta)

    def _build(self) -> None:
        """The local model, its Opacus wrapper and optimizer: built once, reused every round."""
        cfg = self.config
        self.model = build_model(cfg.model, self.dataset.tensors[0].shape[1], self.n_bins, cfg.seed).to(self.device)
        # the loss is a sum over patients; dividing the learning rate by the expected batch
        # size makes each step move by the (noisy, clipped) mean patient gradient
        step_size = cfg.lr / cfg.batch_size
        if cfg.private:
            self.module = GradSampleModule(self.model, loss_reduction="sum")
            self.optimizer = DPOptimizer(
                torch.optim.SGD(self.module.parameters(), lr=step_size),
                noise_multiplier=self.noise_multiplier,
                max_grad_norm=cfg.clip_norm,
                expected_batch_size=cfg.batch_size,
                loss_reduction="sum",
            )
            self.optimizer.attach_step_hook(self.accountant.get_optimizer_hook_fn(sample_rate=self.sample_rate))
        else:
            self.module = self.model
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=step_size)

    def train(self, global_state: dict, round_index: int) -> tuple[dict, float]:
        """Local epochs from the global weights; returns (new weights, mean loss per patient)."""
        cfg = self.config
        if not hasattr(self, "model"):
            self._build()
        model = self.model
        model.load_state_dict({k: v.to(self.device) for k, v in global_state.items()})
        anchor = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.optimizer.state.clear()
        if cfg.private:
            noise = torch.Generator(device=self.device).manual_seed(derived_seed(cfg.seed, round_index, self.site_id, "noise"))
            self.optimizer.generator = noise
        # Poisson sampling (Opacus' sampler): each patient joins each batch with probability q
        sampler = UniformWithReplacementSampler(
            num_samples=self.n, sample_rate=self.sample_rate, generator=generator(cfg.seed, round_index, self.site_id, "sample")
        )
        total_loss, seen = 0.0, 0
        for _ in range(cfg.local_epochs):
            for indices in sampler:
                index = torch.as_tensor(indices, dtype=torch.long, device=self.device)
                batch = tuple(t[index] for t in self.dataset.tensors)
                self.optimizer.zero_grad(set_to_none=True)
                loss = _sum_loss(self.module, batch)
                loss.backward()
                self.optimizer.step()
                if cfg.strategy == "fedprox":
                    with torch.no_grad():
                        for name, param in model.named_parameters():
                            param -= cfg.lr * cfg.mu * (param - anchor[name])
                total_loss += float(loss.detach())
                seen += int(batch[0].shape[0])
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, total_loss / max(seen, 1)


def _sum_loss(module: torch.nn.Module, batch) -> torch.Tensor:
    """The batch's summed negative log-likelihood through ``module`` (plain or GradSampleModule)."""
    from fedheme.survival import logistic_hazard_loss

    x, bin_index, event = batch
    return logistic_hazard_loss(module(x), bin_index, event).sum()


@dataclass
class ServerState:
    """Everything needed to resume: the round reached, weights, FedAdam moments, histories."""

    round: int
    weights: dict
    fingerprint: str = ""
    adam_m: dict = field(default_factory=dict)
    adam_v: dict = field(default_factory=dict)
    accountants: dict = field(default_factory=dict)
    log: list = field(default_factory=list)


def _aggregate(updates: list[tuple[dict, float]], weights: dict) -> dict:
    total = sum(w for _, w in updates)
    return {k: sum(u[k] * (w / total) for u, w in updates) - weights[k] for k in weights}


def run_fingerprint(clients: list[Client], config: TrainConfig, n_features: int, n_bins: int, site_n: dict) -> str:
    """Identifies a run: settings, model shape, sites and a digest of each site's data."""
    h = hashlib.sha256(repr((config, n_features, n_bins, sorted(site_n.items()))).encode())
    for client in clients:
        h.update(client.site_id.encode())
        for tensor in client.dataset.tensors:
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        h.update(repr(client.releases).encode())
    return h.hexdigest()


def run_federated(
    clients: list[Client],
    config: TrainConfig,
    n_features: int,
    n_bins: int,
    site_n: dict[str, float],
    checkpoint: str | Path | None = None,
    stop_after: int | None = None,
) -> ServerState:
    """Train ``config.rounds`` rounds; resume from ``checkpoint`` when it exists.

    Args:
        clients: the participating sites.
        site_n: each site's released patient count (weights of the average).
        checkpoint: file written after every round (atomically).
        stop_after: end after this round (for tests of kill-and-resume).
    """
    fingerprint = run_fingerprint(clients, config, n_features, n_bins, site_n)
    state = ServerState(0, build_model(config.model, n_features, n_bins, config.seed).state_dict(), fingerprint)
    if checkpoint is not None and Path(checkpoint).exists():
        saved = torch.load(checkpoint, weights_only=False)
        # resume only the same run: a checkpoint of other settings or data is ignored
        if getattr(saved, "fingerprint", None) == fingerprint:
            state = saved
            for client in clients:
                client.accountant.history = [tuple(h) for h in state.accountants[client.site_id]]
    for round_index in range(state.round + 1, config.rounds + 1):
        rng = np.random.default_rng(derived_seed(config.seed, round_index, "dropout"))
        present = [c for c in clients if rng.random() >= config.dropout] or [clients[int(rng.integers(len(clients)))]]
        updates, losses = [], []
        for client in present:
            new_weights, loss = client.train(state.weights, round_index)
            updates.append(({k: new_weights[k] for k in state.weights}, site_n[client.site_id]))
            losses.append(loss)
        delta = _aggregate(updates, state.weights)
        if config.strategy == "fedadam":
            for k, d in delta.items():
                g = -d
                m = config.beta1 * state.adam_m.get(k, torch.zeros_like(g)) + (1 - config.beta1) * g
                v = config.beta2 * state.adam_v.get(k, torch.zeros_like(g)) + (1 - config.beta2) * g * g
                state.adam_m[k], state.adam_v[k] = m, v
                state.weights[k] = state.weights[k] - config.server_lr * m / (torch.sqrt(v) + config.tau)
        else:
            state.weights = {k: state.weights[k] + delta[k] for k in state.weights}
        state.round = round_index
        state.accountants = {c.site_id: list(c.accountant.history) for c in clients}
        state.log.append({"round": round_index, "sites": len(present), "mean_train_loss": float(np.mean(losses))})
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save(state, tmp)
        if stop_after is not None and round_index >= stop_after:
            break
    return state
