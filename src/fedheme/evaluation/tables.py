"""The columns and precision of the tables a test site releases (metrics, calibration
groups) and of the pooled metrics table."""

#: Columns of a site's released calibration groups.
CALIBRATION_COLUMNS = ["disease", "endpoint", "design", "strategy", "epsilon", "seed", "trained_on", "test_site", "group", "n", "predicted_risk", "observed_risk", "observed_low", "observed_high"]
#: Columns of a site's released metrics (and of the pooled table).
METRIC_COLUMNS = ["disease", "endpoint", "design", "strategy", "epsilon", "seed", "test_site",
                  "metric", "value", "ci_low", "ci_high", "se", "n", "events", "note"]  # fmt: skip
#: Decimals of released metrics and calibration values.
DIGITS = 4
#: Note of a site's Harrell's C that enters the pooled C but is shown as NA: the site has
#: fewer than ``evaluation.min_events`` events for an estimate of its own.
POOLED_ONLY = "not estimated alone; its comparable pairs enter the pooled C"
#: What identifies one pooled row (the test site aside).
POOL_KEYS = ["disease", "endpoint", "design", "strategy", "epsilon", "seed", "metric"]


def declared_model(strategy: str, epsilons: list[float], seeds: list[int]) -> tuple[str, str, str]:
    """(strategy, epsilon, seed) of the model whose calibration groups and life tables the
    test sites release, declared in config before evaluation: the figures' strategy at the
    smallest finite epsilon (inf when there is none) and the first seed."""
    finite = sorted(e for e in epsilons if e != float("inf"))
    return strategy, (f"{finite[0]:g}" if finite else "inf"), str(seeds[0])
