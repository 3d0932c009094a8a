"""Jobs of ``workflow/rules/overview.smk``: the descriptive aggregates each MDS site releases
(inside the site), and the site overview table and heterogeneity figure drawn from them
(across sites, from released files only)."""

from __future__ import annotations

import pandas as pd

from fedheme.io import read_json, write_json, write_tsv


def site_aggregates_job(*, patients, features: dict, endpoints: list, site_id: str, subset: str, min_cell_count: int, out) -> None:
    """Write the suppressed aggregates of one site's ``subset`` (inside the site)."""
    from fedheme.data.iwgpm.aggregates import site_aggregates
    from fedheme.data.splits import subset_rows
    from fedheme.standard.features import FeatureSpec

    rows = subset_rows(pd.read_parquet(patients), subset)
    write_json(out, site_aggregates(rows, FeatureSpec.from_config(features), site_id, subset, min_cell_count,
                                     endpoints=tuple(endpoints)))


def _released_aggregates(paths: list, features: dict | None, release_mode: str | None) -> list[dict]:
    """Each site's released aggregates: read as they are, or (``features`` given:
    ``deployment`` mode) derived from its DP training release of ``release_mode``."""
    from fedheme.report.overview import aggregates_from_release

    released = [read_json(p) for p in paths]
    return released if features is None else [aggregates_from_release(r[release_mode], features) for r in released]


def site_overview_job(*, aggregates: list, features: dict | None = None, release_mode: str | None = None, out) -> None:
    """One row per site of released aggregates: size, age, event rates, missingness."""
    from fedheme.report.overview import site_overview

    write_tsv(out, site_overview(_released_aggregates(aggregates, features, release_mode)))


def heterogeneity_figure_job(*, aggregates: list, min_cell_count: int, features: dict | None = None, release_mode: str | None = None,
                             out_png, out_pdf) -> None:  # fmt: skip
    """The site-heterogeneity figure, drawn from released aggregates only."""
    from fedheme.report.heterogeneity import plot_site_heterogeneity

    plot_site_heterogeneity(_released_aggregates(aggregates, features, release_mode), out_png, out_pdf, min_cell_count)
