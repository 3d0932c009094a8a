"""Transplant as a time-dependent treatment in the discrete-time logistic hazard, inside a site.

The time axis is public and fixed (config ``treatment.transplant``: ``edges_years`` and
``horizon_years``), not fitted from released event counts: the bins carry the early
post-transplant period finely and end at the RMST horizon, and cost no release. A patient
transplanted at time ``T`` (years) in bin ``j = bin_of(T)`` is untreated in bins ``< j``
and treated from bin ``j`` on (time-dependent coding: the time before transplant counts as
untreated). Treated time is split into two phases, because transplant first kills
(transplant-related mortality) and later protects: early, ``[T, T + early_years)``, and
late, from ``T + early_years`` on. Each phase's indicator in bin ``k`` is the share of the
bin it covers, ``|[s_k, e_k) ∩ phase| / (e_k - s_k)``: the transplant bin counts only its
part after the transplant (the time before it, which the patient necessarily survived,
is not credited to transplant: no immortal-time bias within the bin), and a phase that ends
inside a wide bin weighs only its part of it. Policies that transplant on a bin edge (at
diagnosis, or after a delay that is an edge) have whole-bin indicators.

The hazard of patient ``i`` in bin ``k`` is ``logit h_ik = alpha_k + beta . x_i + theta .
t_ik`` with the coding ``t_ik`` of width ``D = 2 (1 + m)``:
``[early, early * w_i1, ..., early * w_im, late, late * w_i1, ..., late * w_im]``, where
``w_i`` are effect modifiers (the patient's IPSS-M score and age, centred and scaled by
public constants :data:`MODIFIERS`). So the effect of transplant, in each phase, depends on
the patient's risk. Each patient's terms sum into one per-patient loss
(:func:`fedheme.models.losses.logistic_hazard_loss`), so per-patient clipping bounds them
together.

This module is public metadata (no patient row); a site builds its patients' coding with
:mod:`fedheme.treatment.cohort`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Effect modifiers: name -> (low, high, centre, scale), public constants fixed before any
#: data: the value is clipped to [low, high], then (value - centre) / scale.
MODIFIERS = {
    "ipssm_score": (-3.0, 3.0, 0.0, 2.0),  # IPSS-M risk score (mean scenario; Bernard et al. 2022)
    "age": (18.0, 95.0, 65.0, 15.0),  # years at diagnosis
}


@dataclass(frozen=True)
class TransplantCoding:
    """The public time axis and coding of the transplant model.

    Attributes:
        edges: interior bin edges (years), strictly increasing, shape (K - 1,).
        horizon: end of the last bin (years); follow-up beyond it is censored there.
        early_years: length of the early (transplant-related mortality) phase.
        modifiers: names of the effect modifiers (keys of :data:`MODIFIERS`).
    """

    edges: tuple[float, ...]
    horizon: float
    early_years: float = 1.0
    modifiers: tuple[str, ...] = ("ipssm_score", "age")

    def __post_init__(self) -> None:
        edges = np.asarray(self.edges, dtype=float)
        if len(edges) == 0 or np.any(np.diff(edges) <= 0) or edges[0] <= 0 or edges[-1] >= self.horizon:
            raise ValueError(f"treatment bin edges {list(self.edges)} must increase strictly within (0, {self.horizon})")
        unknown = set(self.modifiers) - set(MODIFIERS)
        if unknown:
            raise ValueError(f"unknown effect modifiers {sorted(unknown)}; choose from {sorted(MODIFIERS)}")

    @classmethod
    def from_config(cls, transplant: dict) -> "TransplantCoding":
        """From config ``diseases.<d>.treatment.transplant``."""
        return cls(tuple(float(e) for e in transplant["edges_years"]), float(transplant["horizon_years"]),
                   float(transplant.get("early_years", 1.0)), tuple(transplant.get("modifiers", ("ipssm_score", "age"))))  # fmt: skip

    def to_dict(self) -> dict:
        return {"edges": list(self.edges), "horizon": self.horizon, "early_years": self.early_years, "modifiers": list(self.modifiers)}

    @property
    def n_bins(self) -> int:
        return len(self.edges) + 1

    @property
    def n_treatment(self) -> int:
        """Width D of the coding: (1 + m) terms per phase, two phases."""
        return 2 * (1 + len(self.modifiers))

    @property
    def starts(self) -> np.ndarray:
        """Start of each bin (years), shape (K,)."""
        return np.concatenate([[0.0], self.edges])

    @property
    def knots(self) -> np.ndarray:
        """0, the edges and the horizon (years), shape (K + 1,)."""
        return np.concatenate([[0.0], self.edges, [self.horizon]])

    def bin_of(self, time: np.ndarray) -> np.ndarray:
        """Bin (0..K-1) of each time; K for a time at or beyond the horizon (or inf: never)."""
        time = np.asarray(time, dtype=float)
        index = np.searchsorted(np.asarray(self.edges), time, side="right")
        return np.where(time >= self.horizon, self.n_bins, index)

    def phases(self, transplant_years: np.ndarray) -> np.ndarray:
        """Share of each bin in the early and in the late phase, shape (n, K, 2), float32
        (0 before the transplant bin; whole bins 1).

        Args:
            transplant_years: time of transplant per patient (years); inf for none (a
                transplant at or after the horizon counts as none).
        """
        t = np.asarray(transplant_years, dtype=float)[:, None]
        t = np.where(t >= self.horizon, np.inf, t)
        starts, ends = self.knots[None, :-1], self.knots[None, 1:]
        width = ends - starts

        def share(low, high):
            return np.clip(np.minimum(ends, high) - np.maximum(starts, low), 0.0, None) / width

        early = share(t, t + self.early_years)
        late = share(t + self.early_years, np.inf)
        return np.stack([early, late], axis=2).astype(np.float32)

    def code(self, transplant_years: np.ndarray, modifiers: np.ndarray) -> np.ndarray:
        """The per-bin coding ``t_ik``, shape (n, K, D), float32.

        Args:
            transplant_years: shape (n,), inf for no transplant.
            modifiers: scaled effect modifiers (:func:`modifier_matrix`), shape (n, m).
        """
        phases = self.phases(transplant_years)
        terms = np.concatenate([np.ones((len(modifiers), 1), np.float32), np.asarray(modifiers, np.float32)], axis=1)
        return np.concatenate([phases[:, :, p, None] * terms[:, None, :] for p in range(2)], axis=2).astype(np.float32)

    def policy(self, n: int, modifiers: np.ndarray, at_years: float | None) -> np.ndarray:
        """The coding of a policy for ``n`` patients: transplant at ``at_years`` (0: at
        diagnosis) or never (None); shape (n, K, D)."""
        when = np.full(n, np.inf if at_years is None else float(at_years))
        return self.code(when, modifiers)
