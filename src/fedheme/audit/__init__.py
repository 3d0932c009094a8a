"""Empirical privacy audit: membership inference against released models and canary auditing
of the DP trainer, run inside each site (:mod:`.attacks` statistics, :mod:`.bounds` empirical
epsilon)."""
