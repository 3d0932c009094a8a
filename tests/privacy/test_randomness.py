"""Randomness over patients comes from a per-site secret and the run's identity: nobody
else regenerates it, no two runs share a draw, and the site reruns byte for byte."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import torch

from fedheme.federated.client import Client
from fedheme.federated.config import DesignSettings, TrainConfig
from fedheme.federated.design import DesignMatrix
from fedheme.io import read_json
from fedheme.jobs.train import training_release_job
from fedheme.privacy.randomness import KEY_FILE, SiteRandomness, site_key, site_randomness
from fedheme.seeding import derived_seed


def test_a_site_key_is_created_once_owner_only_and_reused(tmp_path):
    private = tmp_path / "site" / "private"
    with ThreadPoolExecutor(8) as pool:  # jobs of one site racing to create it
        keys = list(pool.map(lambda _: site_key(private), range(16)))
    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert stat.S_IMODE((private / KEY_FILE).stat().st_mode) == 0o600
    assert sorted(p.name for p in private.iterdir()) == [KEY_FILE], "no temporary file is left"
    assert site_key(private) == keys[0]
    assert site_key(tmp_path / "other" / "private") != keys[0]


def test_every_identity_has_its_own_stream_and_reruns_exactly():
    a, b = SiteRandomness(b"a" * 32, ("os", "loso-s1")), SiteRandomness(b"b" * 32, ("os", "loso-s1"))
    assert a.seed("noise", 1) == a.seed("noise", 1)
    assert len({a.seed("noise", 1), a.seed("noise", 2), a.seed("sample", 1), a.child("x").seed("noise", 1), b.seed("noise", 1)}) == 5
    assert np.array_equal(a.numpy("r").normal(size=5), a.numpy("r").normal(size=5))
    assert torch.equal(torch.randn(5, generator=a.torch("r")), torch.randn(5, generator=a.torch("r")))


def test_os_randomness_is_not_reproducible_and_asks_for_secure_noise(tmp_path):
    draws = site_randomness(tmp_path / "private", "os", "release")
    assert draws.secure and draws.seed() != draws.seed()
    assert not (tmp_path / "private").exists(), "os mode creates no key"
    with pytest.raises(ValueError, match="privacy.randomness"):
        site_randomness(tmp_path / "private", "config_seed")


def site_files(small_sites, tmp_path):
    site = small_sites[0]
    private = tmp_path / "results" / "mds" / "sites" / site.site_id / "private"
    private.mkdir(parents=True)
    site.cohort.patients.assign(split="train").to_parquet(private / "patients.parquet")
    return site, private / "patients.parquet"


MDS = {"kind": "iwgpm", "endpoints": ["os"], "features": {"numeric": ["age", "hb_g_dl"], "binary": ["mut_TP53"],
                                                           "bounds": {"age": [18, 100], "hb_g_dl": [4, 17]}}}  # fmt: skip
TRAINING = {"horizon_years": 10, "n_bins": 6, "delta": 1e-5, "release_noise": {"numeric": 10.0, "binary": 10.0, "histogram": 10.0}}


def release(patients, tmp_path, mode: str, randomness: str = "site_key") -> dict:
    out = tmp_path / f"release_{mode}.json"
    training_release_job(patients=patients, disease_name="mds", disease=MDS, training=TRAINING, site_id="s1", subset="all",
                         mode=mode, seed=7, privacy={"randomness": randomness, "min_cell_count": 5}, out=out)  # fmt: skip
    return read_json(out)


def test_release_noise_cannot_be_regenerated_from_config_and_shared_files(small_sites, tmp_path):
    """The attack on the old design: seeds were derived from config values, so subtracting
    the regenerated noise from a DP release gave the exact aggregates (and n). With the
    site's key the attacker's residual is as noisy as the release itself."""
    site, patients = site_files(small_sites, tmp_path)
    exact = np.array(release(patients, tmp_path, "exact")["numeric"])
    noisy = np.array(release(patients, tmp_path, "dp")["numeric"])
    settings = DesignSettings.from_config(MDS, TRAINING)
    sd = 10.0 * settings.numeric_sensitivity
    guesses = [np.random.default_rng(derived_seed(seed, "s1", "all", "release")) for seed in (7, 1, 0)]
    guesses += [np.random.default_rng(seed) for seed in (7, 1, 0)]
    for rng in guesses:  # every public seed the config and the code offer
        attempt = noisy - rng.normal(0.0, sd, size=noisy.shape)
        assert np.abs(attempt - exact).max() > 0.5 * sd, "the release noise was regenerated from public values"
    assert abs(noisy[0] - len(site.cohort.patients)) > 1e-6, "the released count is noisy"
    # the site itself reruns its release byte for byte
    assert release(patients, tmp_path, "dp")["numeric"] == noisy.tolist()


def test_two_runs_of_one_site_share_no_draw(small_sites):
    """Runs that differ only in strategy (or epsilon, fold, seed) draw other batches and
    other noise, so their updates do not cancel each other's noise."""
    rng = np.random.default_rng(0)
    n = 300
    data = DesignMatrix(rng.normal(size=(n, 3)).astype(np.float32), rng.integers(0, 4, n), (rng.random(n) < 0.3).astype(np.float32),
                        rng.random(n), rng.random(n) < 0.3, np.arange(n).astype(str))  # fmt: skip
    key = b"k" * 32
    config = TrainConfig(epsilon=3.0, rounds=2, batch_size=32)

    def first_step(identity):
        client = Client("s1", data, config, 4, [], randomness=SiteRandomness(key, identity), released_n=float(n))
        noise = client.randomness.torch("noise", 1)
        batches = [list(b) for b in torch.utils.data.DataLoader(range(n), batch_sampler=_sampler(client, 1))]
        return batches[0], torch.randn(8, generator=noise)

    fedavg, fedprox, again = first_step(("os", "fedavg_eps3_seed1_loso-s2")), first_step(("os", "fedprox_eps3_seed1_loso-s2")), first_step(("os", "fedavg_eps3_seed1_loso-s2"))
    assert fedavg[0] != fedprox[0] and not torch.equal(fedavg[1], fedprox[1])
    assert fedavg[0] == again[0] and torch.equal(fedavg[1], again[1])


def _sampler(client, round_index):
    from opacus.utils.uniform_sampler import UniformWithReplacementSampler

    return UniformWithReplacementSampler(num_samples=client.n, sample_rate=client.sample_rate, generator=client.randomness.torch("sample", round_index))


def test_the_key_never_leaves_the_site_folder(small_run):
    """After a real run: one key per site, owner-only, inside that site's private folder,
    and its bytes appear in no file outside the private folders."""
    results = small_run / "results"
    keys = sorted(results.rglob(KEY_FILE))
    sites = sorted(results.glob("*/sites/*"))
    assert [k.parent.parent for k in keys] == sites and all(k.parent.name == "private" for k in keys)
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
    secrets = [k.read_bytes() for k in keys]
    for path in results.rglob("*"):
        if path.is_file() and "private" not in path.parts:
            data = path.read_bytes()
            assert not any(s in data or s.hex().encode() in data for s in secrets), f"{path} holds a site key"
    assert pd.read_parquet(results / "mds" / "sites" / "siteA" / "private" / "patients.parquet")["split"].isin(["train", "test"]).all()
