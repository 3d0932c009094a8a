"""Jobs of ``workflow/rules/diagnosis.smk``: each MDS site classifies its patients by WHO 2022
and ICC 2022 (inside the site: labels stay in its ``private/`` folder, a suppressed
cross-tabulation is released), and the reclassification table and figure across sites
(from the released cross-tabulations only)."""

from __future__ import annotations

import pandas as pd

from fedheme.io import read_json, write_json, write_parquet, write_tsv


def site_classification_job(*, patients, variants, site_id: str, min_cell_count: int, out_labels, out_release) -> None:
    """WHO 2022 and ICC 2022 labels with their reasons for every patient of the site, and its
    cross-tabulation with WHO 2016 (small cells suppressed; :mod:`fedheme.diagnosis.release`)."""
    from fedheme.diagnosis.classification import icc2022, who2022, with_sf3b1_vaf
    from fedheme.diagnosis.release import crosstab_release

    rows = with_sf3b1_vaf(pd.read_parquet(patients), pd.read_parquet(variants))
    labels = pd.concat([rows[["patient_id", "who_2016"]], who2022(rows), icc2022(rows)], axis=1)
    release = crosstab_release(labels, site_id=site_id, min_cell_count=min_cell_count)
    write_parquet(out_labels, labels)
    write_json(out_release, release)


def reclassification_table_job(*, releases: list, out_table, out_png, out_pdf) -> None:
    """The sites' cross-tabulations pooled, and the WHO 2016 -> 2022 -> ICC figure."""
    from fedheme.diagnosis.pooling import pool_crosstabs
    from fedheme.report.diagnosis import plot_reclassification

    table = pool_crosstabs([read_json(p) for p in releases])
    write_tsv(out_table, table)
    plot_reclassification(table, out_png, out_pdf)
