"""A site's client in federated training, with record-level differential privacy.

A :class:`Client` holds one site's design matrix and nothing else; each round it receives
the global weights, runs local epochs of DP-SGD (Opacus: per-patient clipping, Gaussian
noise, Poisson sampling) and returns its new weights. Its single accountant, created for
the whole run and seeded with the site's preprocessing releases, counts every step of
every round. The server (:mod:`fedheme.federated.server`) sees only the weights.

Its Poisson batches and DP noise are drawn from the site's secret key and the run's
identity (:mod:`fedheme.privacy.randomness`): nobody else can regenerate them, and no two
runs or rounds share a draw.
"""

from __future__ import annotations

import torch
from opacus import GradSampleModule
from opacus.accountants import RDPAccountant
from opacus.optimizers import DPOptimizer
from opacus.utils.uniform_sampler import UniformWithReplacementSampler
from torch.utils.data import TensorDataset

from fedheme.federated.config import TrainConfig
from fedheme.federated.design import DesignMatrix
from fedheme.federated.per_sample import LinearGradSampler, supports
from fedheme.models.networks import build_network
from fedheme.models.losses import LOSSES
from fedheme.privacy.accounting import Mechanism, calibrate_noise, epsilon_of
from fedheme.privacy.randomness import SiteRandomness


class Client:
    """One site: its data, its accountant and its local DP-SGD.

    Args:
        site_id: the site.
        data: its design matrix (training patients only).
        config: the run's hyperparameters.
        n_bins: number of time bins (task ``hazard``) or classes (task ``softmax``).
        releases: the site's preprocessing releases, accounted before any step.
        device: where the local model and data live (a GPU when present and asked for).
        randomness: the site's draws for this run (its key and the run's identity); with
            operating-system randomness, DP noise uses Opacus' ``secure_mode``.
        released_n: the site's patient count as it released it (noisy under DP): the
            sample rate is the public ``config.sample_rate`` or batch_size / released_n,
            so q and the steps per round, which the ledger publishes, reveal nothing the
            release did not.
        task: ``hazard`` (a logistic-hazard network) or ``softmax`` (a categorical
            outcome: class in the design matrix's ``bin_index``).
        per_sample: how DP-SGD gets per-patient gradients: ``auto`` (from the layers'
            output gradients for networks made of ``nn.Linear`` layers,
            :mod:`fedheme.federated.per_sample`; Opacus' hooks otherwise) or ``hooks``
            (Opacus' GradSampleModule always). Both give the same gradients bit for bit.
    """

    def __init__(
        self,
        site_id: str,
        data: DesignMatrix,
        config: TrainConfig,
        n_bins: int,
        releases: list[Mechanism],
        device: torch.device = torch.device("cpu"),
        *,
        randomness: SiteRandomness,
        released_n: float,
        task: str = "hazard",
        per_sample: str = "auto",
    ):
        if per_sample not in ("auto", "hooks"):
            raise ValueError(f"per_sample must be 'auto' or 'hooks', not {per_sample!r}")
        self.per_sample = per_sample
        self.site_id = site_id
        self.task = task
        self.loss = LOSSES[task]
        self.randomness = randomness
        self.device = device
        self.config = config
        self.n_bins = n_bins
        self.n = len(data.event)
        self.dataset = TensorDataset(*(torch.from_numpy(a).to(device) for a in data.tensors()))
        # width of the per-bin treatment coding (0: a prognostic model without treatment term)
        self.n_treatment = 0 if data.treatment is None else int(data.treatment.shape[2])
        self.sample_rate = config.sample_rate_for(released_n)
        self.steps_per_round = config.steps_per_round(self.sample_rate)
        # the expected batch (q times the released count): the step size is per average patient
        self.expected_batch = max(1.0, self.sample_rate * released_n) if config.sample_rate else float(config.batch_size)
        self.delta = config.delta
        self.releases = [m for m in releases if m.steps > 0]
        self.accountant = RDPAccountant()
        self.accountant.history = [(m.noise_multiplier, m.sample_rate, m.steps) for m in self.releases]
        self.noise_multiplier = 0.0
        if config.private:
            planned = config.rounds * self.steps_per_round
            self.noise_multiplier = calibrate_noise(config.epsilon, self.delta, self.sample_rate, planned, self.releases)

    def history(self) -> list[Mechanism]:
        """Every mechanism this site has run so far (releases, then DP-SGD steps)."""
        out = []
        for i, (sigma, q, steps) in enumerate(self.accountant.history):
            made = self.releases[i] if i < len(self.releases) else None
            out.append(Mechanism(made.name, sigma, q, steps, made.release) if made else Mechanism("dp-sgd", sigma, q, steps))
        return out

    def training_summary(self, rounds: int) -> Mechanism:
        """What a run without DP did with the site's patients (a non-private release)."""
        return Mechanism("non-private training", 0.0, self.sample_rate, rounds * self.steps_per_round)

    def update_fingerprint(self, digest) -> None:
        """Feed the site's id, data and releases into ``digest`` (a hashlib object), so a
        checkpoint is resumed only by the same run on the same data."""
        digest.update(self.site_id.encode())
        for tensor in self.dataset.tensors:
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        digest.update(repr(self.releases).encode())

    def epsilon(self) -> float:
        if not self.config.private:
            return float("inf")
        return epsilon_of(self.history(), self.delta)

    def _build(self) -> None:
        """The local model, its Opacus wrapper and optimizer: built once, reused every round."""
        cfg = self.config
        # the plain network of the LightningModule (same weights for the same seed): the
        # loop below is the training step, and importing Lightning costs a job ~3 s
        self.model = build_network(cfg.model, self.dataset.tensors[0].shape[1], self.n_bins, cfg.seed,
                                   n_treatment=self.n_treatment, task=self.task).to(self.device)  # fmt: skip
        # the loss is a sum over patients; dividing the learning rate by the expected batch
        # size makes each step move by the (noisy, clipped) mean patient gradient
        step_size = cfg.lr / self.expected_batch
        self.sampler = None
        if cfg.private:
            if self.per_sample == "auto" and supports(self.model):
                self.sampler = LinearGradSampler(self.model)
                self.module = self.model
            else:
                self.module = GradSampleModule(self.model, loss_reduction="sum")
            self.optimizer = DPOptimizer(
                torch.optim.SGD(self.module.parameters(), lr=step_size),
                noise_multiplier=self.noise_multiplier,
                max_grad_norm=cfg.clip_norm,
                expected_batch_size=max(1, round(self.expected_batch)),
                loss_reduction="sum",
                secure_mode=self.randomness.secure,
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
            self.optimizer.generator = self.randomness.torch("noise", round_index, device=self.device)
        # Poisson sampling (Opacus' sampler): each patient joins each batch with probability q
        sampler = UniformWithReplacementSampler(
            num_samples=self.n, sample_rate=self.sample_rate, generator=self.randomness.torch("sample", round_index)
        )
        total_loss, seen = 0.0, 0
        for _ in range(cfg.local_epochs):
            for indices in sampler:
                index = torch.as_tensor(indices, dtype=torch.long, device=self.device)
                batch = tuple(t[index] for t in self.dataset.tensors)
                self.optimizer.zero_grad(set_to_none=True)
                if self.sampler is None:
                    loss = _sum_loss(self.module, batch, self.loss)
                    loss.backward()
                else:
                    with self.sampler.recording():
                        loss = _sum_loss(self.module, batch, self.loss)
                    self.sampler.backward(loss)
                self.optimizer.step()
                if cfg.strategy == "fedprox":
                    with torch.no_grad():
                        for name, param in model.named_parameters():
                            param -= cfg.lr * cfg.mu * (param - anchor[name])
                total_loss += float(loss.detach())
                seen += int(batch[0].shape[0])
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, total_loss / max(seen, 1)


def _sum_loss(module: torch.nn.Module, batch, loss) -> torch.Tensor:
    """The batch's summed negative log-likelihood through ``module`` (plain or GradSampleModule):
    one term per patient, a patient's bins (and treatment terms) summed inside it.

    Args:
        loss: the task's per-patient loss (:data:`fedheme.models.losses.LOSSES`).
    """
    x, bin_index, event, *treatment = batch
    return loss(module(x, *treatment), bin_index, event).sum()
