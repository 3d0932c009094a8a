"""Time-dependent concordance and person-period Brier score against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from fedheme.treatment.validation import person_period_brier, time_dependent_c

ONE = np.ones((1, 4))


def test_concordance_compares_each_event_with_those_event_free_after_its_bin():
    # patient 0: event in bin 0; 1: event in bin 1; 2: censored in bin 1; 3: event-free to bin 2
    bins, event = np.array([0, 1, 1, 2]), np.array([1.0, 1.0, 0.0, 0.0])
    # pairs: bin 0: (0 vs 1, 2, 3); bin 1: (1 vs 3); patient 2 censored in bin 1 is not a control there
    risk = np.array([[5.0, 0, 0], [1.0, 3.0, 0], [6.0, 9.0, 0], [0.0, 3.0, 0]])
    c, pairs = time_dependent_c(ONE, bins, event, risk)
    # bin 0: 0 beats 1 and 3, loses to 2 -> 2 of 3; bin 1: tie with 3 -> 1/2; C = 2.5 / 4
    assert pairs[0] == 4 and c[0] == pytest.approx(2.5 / 4)


def test_concordance_is_one_for_a_perfect_risk_and_zero_reversed():
    rng = np.random.default_rng(1)
    bins = rng.integers(0, 5, 80)
    event = (rng.random(80) < 0.6).astype(float)
    perfect = np.repeat(-bins[:, None].astype(float), 5, axis=1)  # earlier event, higher risk
    assert time_dependent_c(np.ones((1, 80)), bins, event, perfect)[0][0] == pytest.approx(1.0)
    assert time_dependent_c(np.ones((1, 80)), bins, event, -perfect)[0][0] == pytest.approx(0.0)


def test_bootstrap_weights_count_pairs_with_multiplicity():
    bins, event = np.array([0, 1, 1, 2]), np.array([1.0, 1.0, 0.0, 0.0])
    risk = np.array([[5.0, 0, 0], [1.0, 3.0, 0], [6.0, 9.0, 0], [0.0, 3.0, 0]])
    W = np.array([[2.0, 1.0, 1.0, 0.0]])  # patient 0 twice, patient 3 out
    c, pairs = time_dependent_c(W, bins, event, risk)
    # bin 0: 2 x (vs 1: win, vs 2: loss) = 2 of 4 pairs; bin 1: no control left
    assert pairs[0] == 4 and c[0] == pytest.approx(0.5)


def test_person_period_brier_by_hand():
    bins, event = np.array([0, 1]), np.array([1.0, 0.0])
    hazard = np.array([[0.2, 0.9], [0.1, 0.3]])
    # person-periods: (0,0) y=1; (1,0) y=0; (1,1) y=0 (censored: survives its last bin)
    expected = ((1 - 0.2) ** 2 + 0.1**2 + 0.3**2) / 3
    value, weight = person_period_brier(np.ones((1, 2)), bins, event, hazard)
    assert value[0] == pytest.approx(expected) and weight[0] == 3
