"""Writes the three example site files of examples/own_cohort/ (synthetic patients).

They stand for a researcher's own harmonised cohort: one CSV per site, the columns that
config.yaml declares, follow-up and event, and a predefined train/test split. Drawn from
fedheme's multiple myeloma generator (seed 7) and cut to the declared columns.

    .venv/bin/python examples/own_cohort/make_example.py
"""

from pathlib import Path

import numpy as np

from fedheme.data.tabular.simulate import GeneratorSettings, simulate_mm, write_site_csv

HERE = Path(__file__).parent
COLUMNS = ["patient_id", "age", "b2m_mg_l", "albumin_g_dl", "del17p", "ldh_high", "pfs_years", "pfs_status", "split"]

sites = simulate_mm(["hospital_a", "hospital_b", "hospital_c"], GeneratorSettings("mm", n_patients=600, seed=7, min_site_size=150))
rng = np.random.default_rng(7)
for site, frame in sites.items():
    frame = frame.assign(split=np.where(rng.uniform(size=len(frame)) < 0.3, "test", "train"))
    write_site_csv(frame[COLUMNS], HERE / f"{site}.csv")
