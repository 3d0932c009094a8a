"""Clinical risk scores, the baselines every model is shown beside: IPSS-R, IPSS-M (MDS),
ISS, R-ISS, R2-ISS (multiple myeloma) and the TCD rule (sickle cell disease); and the
checked reading of a clinician's cohort file for ``fedheme score``.

Each score takes harmonised patient rows (a DataFrame, one row per patient) and returns
a DataFrame with the same index; missing inputs give a missing score, except in IPSS-M,
which has published rules for them.
"""

from fedheme.scores.mds import IPSSM_CUTS, IPSSR_CUTS, ipssm, ipssm_variables, ipssr, nres2_scenarios
from fedheme.scores.myeloma import iss, r2iss, riss
from fedheme.scores.sickle import tcd_rule

#: Every score by the name config and ``fedheme score`` use.
SCORES = {"ipssr": ipssr, "ipssm": ipssm, "iss": iss, "riss": riss, "r2iss": r2iss, "tcd_rule": tcd_rule}
#: Published risk categories of each score: inclusive upper bounds of all groups but the
#: last (stages and rules are their own groups). Public, so they may group released counts.
CATEGORY_CUTS = {"ipssr": IPSSR_CUTS, "ipssm": IPSSM_CUTS, "iss": (1, 2), "riss": (1, 2), "r2iss": (1, 2, 3), "tcd_rule": (0,)}

__all__ = ["CATEGORY_CUTS", "SCORES", "ipssm", "ipssm_variables", "ipssr", "iss", "nres2_scenarios", "r2iss", "riss", "tcd_rule"]
