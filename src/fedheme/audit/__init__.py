"""Empirical privacy audit: membership inference against released models and canary auditing
of the DP trainer, run inside each site (:mod:`.site`; the shadow and canary models never
leave it), with the statistics of :mod:`.attacks` and the empirical epsilon of :mod:`.bounds`."""
