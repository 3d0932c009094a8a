"""Rule privacy_audit: the audited sites' released audit figures stacked, and the audit
figure (fedheme.report.audit)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.audit import audit_table_job

with logged(snakemake.log[0]):
    audit_table_job(
        audits=list(snakemake.input.audits),
        rocs=list(snakemake.input.rocs),
        out_audit=snakemake.output.audit,
        out_roc=snakemake.output.roc,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
