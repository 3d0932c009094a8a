"""DP-SGD over plain SGD: time of one epoch on the same model and data, per Opacus mode.

Data: the whole IWG-PM cohort (2,799 patients with known OS) as one design matrix; expected
batch 64 (44 steps an epoch) and 128 (config.yaml's training.batch_size), Poisson sampling. Modes: Opacus' per-sample gradients by
hooks, functorch (vmap) and expanded weights ('ew'), ghost clipping (no per-sample
gradients materialised), and 'sampler': what fedheme trains the linear models with
(fedheme.federated.per_sample: Opacus' nn.Linear grad sampler fed from one backward pass
to the layers' outputs, then Opacus' DPOptimizer; the MLP has a LayerNorm, so it is not
applicable there and fedheme uses hooks). Also a non-DP epoch through the Lightning Trainer, to show why
fedheme drives its LightningModules with a plain loop. Prints ratios measured side by side
in this one run and saves them with machine facts to bench/measurements/dp_overhead.json.

    .venv/bin/python bench/dp_overhead.py [--epochs 9] [--batches 64 128]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from common import machine_info, mds_design, save

import torch  # noqa: E402
from opacus import PrivacyEngine  # noqa: E402
from opacus.optimizers import DPOptimizer  # noqa: E402
from opacus.utils.uniform_sampler import UniformWithReplacementSampler  # noqa: E402

warnings.filterwarnings("ignore")
BATCH = 64  # the expected batch of the epoch being timed (main() sets it per row)


def batches(tensors, n, rate, seed):
    sampler = UniformWithReplacementSampler(num_samples=n, sample_rate=rate, generator=torch.Generator().manual_seed(seed))
    for indices in sampler:
        index = torch.as_tensor(indices, dtype=torch.long)
        yield tuple(t[index] for t in tensors)


def epoch_time(kind: str, mode: str, tensors, n_bins: int, seed: int) -> float:
    """Seconds for one epoch of ``mode`` ('plain' or an Opacus grad_sample_mode)."""
    from fedheme.federated.per_sample import LinearGradSampler
    from fedheme.models.lightning import build_model
    from fedheme.models.losses import LogisticHazardLoss

    n = tensors[0].shape[0]
    rate = BATCH / n
    model = build_model(kind, tensors[0].shape[1], n_bins, seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5 / BATCH)
    criterion = LogisticHazardLoss("sum")
    sampler = None
    if mode == "sampler":
        sampler = LinearGradSampler(model)
        optimizer = DPOptimizer(optimizer, noise_multiplier=1.0, max_grad_norm=2.0, expected_batch_size=BATCH, loss_reduction="sum")
    elif mode != "plain":
        engine = PrivacyEngine(accountant="rdp")
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*tensors), batch_size=BATCH)
        wrapped = engine.make_private(
            module=model, optimizer=optimizer, data_loader=loader, criterion=criterion, noise_multiplier=1.0,
            max_grad_norm=2.0, poisson_sampling=True, grad_sample_mode=mode, loss_reduction="sum",
        )  # fmt: skip
        if mode == "ghost":
            model, optimizer, criterion, _ = wrapped
        else:
            model, optimizer, _ = wrapped
    start = time.perf_counter()
    for x, b, e in batches(tensors, n, rate, seed):
        optimizer.zero_grad()
        if sampler is None:
            loss = criterion(model(x), b, e)
            loss.backward()
        else:
            with sampler.recording():
                loss = criterion(model(x), b, e)
            sampler.backward(loss)
        optimizer.step()
    return time.perf_counter() - start


def lightning_epoch_time(kind: str, tensors, n_bins: int, seed: int) -> float:
    import lightning.pytorch as pl

    from fedheme.models.lightning import build_model

    model = build_model(kind, tensors[0].shape[1], n_bins, seed)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*tensors), batch_size=BATCH, shuffle=True)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    start = time.perf_counter()
    trainer.fit(model, loader)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=9, help="epochs timed per mode (median reported)")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 128], help="expected batch sizes")
    args = parser.parse_args()
    global BATCH
    torch.set_num_threads(1)
    design, settings = mds_design()
    tensors = (torch.from_numpy(design.x), torch.from_numpy(design.bin_index), torch.from_numpy(design.event))
    modes = ["plain", "sampler", "hooks", "functorch", "ew", "ghost"]
    rows = []
    for BATCH in args.batches:
        for kind in ("linear", "mlp"):
            times = {}
            for mode in modes:
                try:
                    epoch_time(kind, mode, tensors, settings.n_bins, 0)  # warm-up
                    times[mode] = statistics.median(epoch_time(kind, mode, tensors, settings.n_bins, s) for s in range(args.epochs))
                except Exception as err:  # a mode Opacus does not support for this model
                    times[mode] = None
                    print(f"{kind}/{mode}: not applicable ({type(err).__name__}: {err})")
            lightning_epoch_time(kind, tensors, settings.n_bins, 0)
            times["lightning-trainer (no DP)"] = statistics.median(lightning_epoch_time(kind, tensors, settings.n_bins, s) for s in range(args.epochs))
            for mode, seconds in times.items():
                ratio = None if seconds is None else seconds / times["plain"]
                rows.append({"batch": BATCH, "model": kind, "mode": mode, "epoch_ms": None if seconds is None else round(1000 * seconds, 2), "ratio_to_plain": None if ratio is None else round(ratio, 2)})
    print(f"\nOne epoch, {len(design.time)} patients, {torch.get_num_threads()} thread(s):")
    print(f"{'batch':>5} {'model':8} {'mode':28} {'ms/epoch':>10} {'x plain SGD':>12}")
    for r in rows:
        ms = "n/a" if r["epoch_ms"] is None else f"{r['epoch_ms']:.1f}"
        ratio = "n/a" if r["ratio_to_plain"] is None else f"{r['ratio_to_plain']:.2f}"
        print(f"{r['batch']:>5} {r['model']:8} {r['mode']:28} {ms:>10} {ratio:>12}")
    path = save("dp_overhead", {"machine": machine_info(), "patients": int(len(design.time)), "batches": args.batches, "epochs_timed": args.epochs, "rows": rows})
    print(f"\nsaved {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
