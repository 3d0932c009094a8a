"""Jobs of ``workflow/rules/figures.smk``, all across sites from released tables only: the
convergence table, one validation figure per rule, the report's context (config and
software versions) and ``results/MANIFEST.tsv``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fedheme.io import read_run_table, write_text, write_tsv


def convergence_table_job(*, rounds: list, keys: list[dict], out) -> None:
    """Every fold's training loss by round, with its disease, endpoint and fold."""
    frames = [pd.read_csv(p, sep="\t", dtype={"epsilon": "string", "seed": "string"}).assign(**k) for p, k in zip(rounds, keys)]
    table = pd.concat(frames, ignore_index=True)
    first = ["disease", "endpoint", "fold"]
    write_tsv(out, table[first + [c for c in table.columns if c not in first]])


def figure_job(*, figure: str, table, disease: str, endpoint: str, binary: bool, training: dict, evaluation: dict,
               figures: dict, min_cell_count: int, out_png, out_pdf) -> None:  # fmt: skip
    """Draw one validation figure (a name of :data:`fedheme.report.figures.FIGURES`) of one
    disease from its released source table."""
    from fedheme.report.figures import draw_figure

    rows = read_run_table(table)
    if "disease" in rows.columns:
        rows = rows[rows["disease"] == disease]
    draw_figure(figure, rows, endpoint=endpoint, binary=binary, epsilons=[float(e) for e in training["epsilons"]],
                strategy=figures["strategy"], calibration_years=float(evaluation["calibration_years"]),
                min_cell_count=min_cell_count, png=out_png, pdf=out_pdf)  # fmt: skip


def report_context_job(*, config: dict, out_config, out_software) -> None:
    """The run's configuration and the versions of what its jobs import, for the report."""
    import platform
    from importlib import metadata

    import yaml

    write_text(out_config, yaml.safe_dump(config, sort_keys=True))
    packages = ["snakemake", "snakemake-executor-plugin-slurm", "torch", "opacus", "lightning", "scikit-survival",
                "lifelines", "pandera", "pandas", "numpy", "pyarrow", "matplotlib", "scikit-learn", "scipy"]  # fmt: skip
    rows = [{"package": "python", "version": platform.python_version()}]
    rows += [{"package": p, "version": metadata.version(p)} for p in packages]
    rows.append({"package": "fedheme", "version": metadata.version("fedheme")})
    write_tsv(out_software, pd.DataFrame(rows))


def manifest_job(*, tables: list, out) -> None:
    """results/MANIFEST.tsv: path, size and sha256 of every table of the run."""
    import hashlib

    rows = [{"path": str(p), "bytes": Path(p).stat().st_size, "sha256": hashlib.sha256(Path(p).read_bytes()).hexdigest()} for p in tables]
    write_tsv(out, pd.DataFrame(rows))
