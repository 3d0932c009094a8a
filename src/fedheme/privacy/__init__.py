"""Differential privacy: secret per-site randomness for every draw over patients, the
Gaussian mechanism of releases, RDP accounting and noise calibration, the privacy ledger
and the study budget, the study's plan and each site's study-wide accountant
(``deployment`` mode), and small-cell suppression of released counts."""

from fedheme._exports import lazy_exports

_EXPORTS = {
    "Mechanism": "accounting",
    "epsilon_of": "accounting",
    "calibrate_noise": "accounting",
    "gaussian_release": "mechanisms",
    "LEDGER_COLUMNS": "ledger",
    "ledger_rows": "ledger",
    "recompute_epsilon": "ledger",
    "RUN_LEDGER_COLUMNS": "ledger",
    "history_of": "ledger",
    "read_ledger": "ledger",
    "is_small": "suppression",
    "count_pair": "suppression",
    "SiteRandomness": "randomness",
    "data_digest": "randomness",
    "BudgetExceeded": "plan",
    "Charge": "plan",
    "check_plan": "plan",
    "plan_study": "plan",
    "SiteAccountant": "budget",
    "site_accountant": "budget",
    "site_key": "randomness",
    "site_randomness": "randomness",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
