"""Which features a model sees: a :class:`FeatureSpec` from the disease's ``features`` block
in config. Names only (public configuration): computing the features from a site's rows is
:mod:`fedheme.data.features`."""

from __future__ import annotations

from dataclasses import dataclass

from fedheme.standard.mds import VARIABLES_BY_NAME

#: IPSS-M model variables usable as features (computed by the code ``fedheme score`` uses):
#: feature name -> IPSS-M variable (Bernard et al., NEJM Evidence 2022).
IPSSM_FEATURES = {"ipssm_tp53multi": "TP53multi", "ipssm_sf3b1_5q": "SF3B1_5q", "ipssm_sf3b1_alpha": "SF3B1_alpha",
                  "ipssm_flt3": "FLT3", "ipssm_nres2": "Nres2"}  # fmt: skip
#: Features derived from harmonised MDS columns (computed by fedheme.data.features).
DERIVED_FEATURE_NAMES = ("sex_male", "cyto_ordinal", *IPSSM_FEATURES)


@dataclass(frozen=True)
class FeatureSpec:
    """Which features a model sees. ``log1p`` names numeric features to log-transform."""

    numeric: tuple[str, ...]
    binary: tuple[str, ...]
    log1p: tuple[str, ...] = ()
    #: columns a tabular disease declares (empty: the MDS harmonised schema)
    declared: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        known = set(self.declared) if self.declared else set(VARIABLES_BY_NAME) | set(DERIVED_FEATURE_NAMES)
        for name in self.numeric + self.binary:
            if name not in known:
                what = "a declared column" if self.declared else f"a harmonised variable or one of {sorted(DERIVED_FEATURE_NAMES)}"
                raise ValueError(f"feature {name!r} is not {what}")
        stray = set(self.log1p) - set(self.numeric)
        if stray:
            raise ValueError(f"log1p features must be numeric features: {sorted(stray)}")

    @property
    def names(self) -> list[str]:
        return list(self.numeric) + list(self.binary)

    @classmethod
    def from_config(cls, cfg: dict, declared: tuple[str, ...] = ()) -> "FeatureSpec":
        return cls(tuple(cfg.get("numeric", ())), tuple(cfg.get("binary", ())), tuple(cfg.get("log1p", ())), tuple(declared))
