"""The columns and precision of the tables a test site releases (metrics, calibration
groups) and of the pooled metrics table."""

#: Columns of a site's released calibration groups.
CALIBRATION_COLUMNS = ["disease", "endpoint", "design", "strategy", "epsilon", "seed", "trained_on", "test_site", "group", "n", "predicted_risk", "observed_risk", "observed_low", "observed_high"]
#: Columns of a site's released metrics (and of the pooled table).
METRIC_COLUMNS = ["disease", "endpoint", "design", "strategy", "epsilon", "seed", "test_site",
                  "metric", "value", "ci_low", "ci_high", "n", "events", "note"]  # fmt: skip
#: Decimals of released metrics and calibration values.
DIGITS = 4
#: What identifies one pooled row (the test site aside).
POOL_KEYS = ["disease", "endpoint", "design", "strategy", "epsilon", "seed", "metric"]
