"""Simulated cohorts with a known truth, for diseases without public patient-level data.

Multiple myeloma (time to event) and sickle cell disease (binary outcome at 24 months).
Each draws all sites of a disease at once (deterministic in the seed), with the
heterogeneity of a real network: unequal site sizes, a case-mix shift per site, a site
frailty the covariates do not explain, site-specific laboratory practice (missing tests,
a measurement offset) and treatment uptake. The true model's prediction is written as
``oracle_*`` columns: the event probability (or risk) from the covariate effects without
the site frailty, which no model of the covariates can beat on average (the ceiling).

Effect sizes are published-like, not published estimates:

* MM: progression hazard from beta2-microglobulin, albumin, high LDH, del(17p), t(4;14),
  t(14;16), 1q gain, age and transplant (Weibull, median PFS about 3 years at the
  reference); death hazard sharing most of it (median OS about 7 years). PFS is the first
  of progression and death.
* SCD (children): stroke, acute chest syndrome or death within 24 months from the
  transcranial Doppler velocity, prior acute chest syndrome, HbF, haemoglobin, LDH,
  reticulocytes, genotype and hydroxyurea (logistic, about 20% with events).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fedheme.data.simulation import site_sizes
from fedheme.io import atomic_path


@dataclass(frozen=True)
class GeneratorSettings:
    """``diseases.<d>.generator`` in config.

    Attributes:
        model: ``mm`` or ``scd``.
        n_patients: patients over all sites.
        seed: seed of the whole draw.
        concentration: Dirichlet concentration of site sizes (lower: more unequal).
        min_site_size: smallest site.
        case_mix: strength of the per-site shift of the covariates (0: none).
        frailty_sd: sd of the per-site log hazard (or log odds) shift the covariates miss.
    """

    model: str
    n_patients: int = 1200
    seed: int = 1
    concentration: float = 3.0
    min_site_size: int = 60
    case_mix: float = 0.6
    frailty_sd: float = 0.2

    @classmethod
    def from_config(cls, cfg: dict) -> "GeneratorSettings":
        return cls(**cfg)


def _lognormal(rng, median, sigma, size, low, high):
    return np.clip(rng.lognormal(np.log(median), sigma, size), low, high)


def _weibull_time(rng, scale, shape, lp):
    """Draw from S(t) = exp(-(t / scale)^shape * exp(lp))."""
    u = rng.uniform(size=len(lp))
    return scale * (-np.log(u) * np.exp(-lp)) ** (1 / shape)


def _weibull_survival(t, scale, shape, lp):
    return np.exp(-((t / scale) ** shape) * np.exp(lp))


MM_PFS = (3.0 / np.log(2) ** (1 / 1.2), 1.2)  # Weibull (scale, shape) of progression
MM_DEATH = (7.0 / np.log(2) ** (1 / 1.3), 1.3)
#: horizon (years) at which the oracle's risk is given for the MM endpoints
MM_ORACLE_YEARS = 3.0


def simulate_mm(site_ids: list[str], settings: GeneratorSettings) -> dict[str, pd.DataFrame]:
    """All MM sites: one frame each with the declared columns, outcomes and oracle risks."""
    rng = np.random.default_rng(settings.seed)
    sizes = site_sizes(settings.n_patients, len(site_ids), minimum=settings.min_site_size, concentration=settings.concentration, rng=rng)
    out = {}
    for site, n in zip(site_ids, sizes):
        shift, frailty = rng.normal() * settings.case_mix, rng.normal() * settings.frailty_sd
        age = np.clip(rng.normal(66 + 4 * shift, 9, n), 30, 90)
        b2m = _lognormal(rng, 3.5 * np.exp(0.25 * shift), 0.6, n, 0.5, 40)
        albumin = np.clip(rng.normal(3.6 - 0.15 * shift, 0.55, n), 1.5, 5.5)
        uln = float(rng.choice([220, 240, 250, 280]))
        ldh = _lognormal(rng, 0.85 * uln, 0.35, n, 60, 3000)
        ldh_high = (ldh > uln).astype(float)
        del17p, t414, t1416, gain1q = (rng.uniform(size=(4, n)) < np.array([[0.10], [0.12], [0.04], [0.38]])).astype(float)
        transplant = (rng.uniform(size=n) < np.where(age < 65, 0.6, 0.15)).astype(float)
        lp_progression = (0.45 * np.log(b2m / 3.5) - 0.35 * (albumin - 3.6) + 0.5 * ldh_high + 0.6 * del17p + 0.45 * t414
                          + 0.35 * t1416 + 0.35 * gain1q + 0.02 * (age - 66) - 0.5 * transplant)  # fmt: skip
        lp_death = 0.9 * lp_progression + 0.03 * (age - 66) - 0.2 * transplant
        progression = _weibull_time(rng, *MM_PFS, lp_progression + frailty)
        death = _weibull_time(rng, *MM_DEATH, lp_death + frailty)
        censor = np.minimum(rng.uniform(1, 7, n), rng.exponential(1 / 0.03, n))
        pfs = np.minimum(np.minimum(progression, death), censor)
        os_ = np.minimum(death, censor)
        frame = pd.DataFrame({
            "patient_id": [f"{site}-{i:05d}" for i in range(n)],
            "age": age.round(0), "sex_male": (rng.uniform(size=n) < 0.56).astype(float),
            "b2m_mg_l": b2m.round(2), "albumin_g_dl": albumin.round(2), "ldh_u_l": ldh.round(0), "ldh_uln_u_l": uln,
            "ldh_high": ldh_high, "del17p": del17p, "t_4_14": t414, "t_14_16": t1416, "gain_1q": gain1q, "transplant": transplant,
            "pfs_years": pfs.round(3), "pfs_status": (pfs < censor).astype(float),
            "os_years": os_.round(3), "os_status": (death <= censor).astype(float),
            "oracle_risk_pfs": 1 - _weibull_survival(MM_ORACLE_YEARS, *MM_PFS, lp_progression) * _weibull_survival(MM_ORACLE_YEARS, *MM_DEATH, lp_death),
            "oracle_risk_os": 1 - _weibull_survival(MM_ORACLE_YEARS, *MM_DEATH, lp_death),
        })  # fmt: skip
        # laboratory practice: some sites do not test t(14;16) or 1q, LDH is sometimes missing
        if rng.uniform() < 0.3:
            frame["t_14_16"] = np.nan
        if rng.uniform() < 0.2:
            frame["gain_1q"] = np.nan
        missing_ldh = rng.uniform(size=n) < rng.uniform(0, 0.15)
        frame.loc[missing_ldh, ["ldh_u_l", "ldh_high"]] = np.nan
        out[site] = frame
    return out


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def simulate_scd(site_ids: list[str], settings: GeneratorSettings) -> dict[str, pd.DataFrame]:
    """All SCD sites: children aged 2 to 18, one frame each with the declared columns, the
    24-month outcome and the oracle probability."""
    rng = np.random.default_rng(settings.seed)
    sizes = site_sizes(settings.n_patients, len(site_ids), minimum=settings.min_site_size, concentration=settings.concentration, rng=rng)
    out = {}
    genotypes = np.array(["HbSS", "HbSC", "HbSbeta0", "HbSbeta+"])
    for site, n in zip(site_ids, sizes):
        shift, frailty = rng.normal() * settings.case_mix, rng.normal() * settings.frailty_sd
        share_ss = np.clip(0.65 + 0.08 * shift, 0.4, 0.85)
        genotype = rng.choice(genotypes, size=n, p=[share_ss, 0.8 * (0.95 - share_ss), 0.05, 0.2 * (0.95 - share_ss)])
        severe = np.isin(genotype, ["HbSS", "HbSbeta0"]).astype(float)
        age = rng.uniform(2, 18, n)
        hydroxyurea = (rng.uniform(size=n) < np.clip(0.35 + 0.15 * shift, 0.05, 0.8) * (0.5 + 0.7 * severe)).astype(float)
        hbf = _lognormal(rng, np.where(severe == 1, 7.0, 2.5) * np.where(hydroxyurea == 1, 1.8, 1.0), 0.5, n, 0.5, 40)
        hb = np.clip(rng.normal(np.where(severe == 1, 8.3, 10.8) + 0.6 * hydroxyurea, 1.0), 4.5, 14)
        ldh = _lognormal(rng, np.where(severe == 1, 480, 300), 0.3, n, 120, 2500)
        retic = _lognormal(rng, np.where(severe == 1, 11, 4), 0.35, n, 0.5, 40)
        velocity = np.clip(rng.normal(np.where(severe == 1, 162 + 8 * (8.3 - hb), 120), 30), 60, 320)
        prior_acs = (rng.uniform(size=n) < np.where(severe == 1, 0.35, 0.15)).astype(float)
        logit = (-1.85 + 0.022 * (velocity - 150) + 0.9 * prior_acs - 0.05 * (hbf - 8) - 0.25 * (hb - 8.5)
                 + 0.35 * np.log(ldh / 450) + 0.25 * np.log(retic / 10) - 0.5 * hydroxyurea + 0.3 * severe)  # fmt: skip
        event = (rng.uniform(size=n) < _sigmoid(logit + frailty)).astype(float)
        # the site's Doppler reads with its own offset, and is done for ages 2-16 only
        measured = np.where(age <= 16, velocity + rng.normal(0, 8), np.nan)
        out[site] = pd.DataFrame({
            "patient_id": [f"{site}-{i:05d}" for i in range(n)],
            "age": age.round(1), "genotype": genotype, "severe_genotype": severe, "hbf_pct": hbf.round(1), "hb_g_dl": hb.round(1),
            "ldh_u_l": ldh.round(0), "retic_pct": retic.round(1), "tcd_cm_s": np.round(measured), "prior_acs": prior_acs,
            "hydroxyurea": hydroxyurea, "event_24m": event, "oracle_prob_event24m": _sigmoid(logit),
        })  # fmt: skip
        out[site]["oracle_risk_event24m"] = out[site]["oracle_prob_event24m"]
    return out


GENERATORS = {"mm": simulate_mm, "scd": simulate_scd}


def simulate_tabular(site_ids: list[str], settings: GeneratorSettings) -> dict[str, pd.DataFrame]:
    if settings.model not in GENERATORS:
        raise ValueError(f"unknown generator {settings.model!r}; choose one of {sorted(GENERATORS)}")
    return GENERATORS[settings.model](list(site_ids), settings)


def write_site_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """A site's file as a researcher would bring it: comma-separated, empty for missing."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, na_rep="", lineterminator="\n", float_format="%.6g")
