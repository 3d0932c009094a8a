# fedheme: two commands. `make run` sets up .venv and runs the pipeline on the bundled
# data; `make test` sets up .venv and runs the tests. Nothing else needs installing.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test setup report figures lint format dry-run clean lock

run: $(VENV)/.installed
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)
	@echo
	@echo "fedheme finished. Outputs are under results/:"
	@echo "  results/<disease>/sites/<site>/private/qc_report.md   per-site QC (stays at the site)"
	@echo "  results/<disease>/tables/site_overview.tsv            site overview (aggregates only)"
	@echo "  results/<disease>/figures/site_heterogeneity.png      site heterogeneity figure"
	@echo "  results/tables/metrics.tsv                            every metric, strategy and test site, with 95% CIs"
	@echo "  results/tables/summary.md                             the headline comparison"
	@echo "  results/<disease>/figures/                            forest, privacy-utility, KM, calibration, convergence"
	@echo "  results/MANIFEST.tsv                                  sha256 of every table (compare two runs)"
	@echo "  results/privacy/ledger.tsv                            privacy ledger (epsilon per site and run)"

test: $(VENV)/.installed
	$(BIN)/python -m pytest

setup: $(VENV)/.installed

# The Snakemake report (figures with captions, tables, config, ledger, software
# versions) of the finished run; runs whatever is missing first.
report: run
	$(BIN)/snakemake --profile profiles/default --report results/report.html
	@echo "report: results/report.html"

# Reviewers: every figure from scratch (all jobs they depend on are rerun), then the
# table fingerprints to compare with results/MANIFEST.tsv of another run.
figures: $(VENV)/.installed
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) --forceall figures manifest
	@echo "figures: results/<disease>/figures/*.{png,pdf}; table checksums: results/MANIFEST.tsv"

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

dry-run: $(VENV)/.installed
	$(BIN)/snakemake --profile profiles/default --dry-run

lint: $(VENV)/.installed
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules/*.smk

format: $(VENV)/.installed
	$(BIN)/snakefmt Snakefile workflow/rules/*.smk

clean:
	rm -rf results .snakemake
