"""au.compare's interval on simulated studies shaped like experiment 002: neither blind nor
reckless (au.evaluation.interval_calibration draws the per-subject counts of both arms)."""

import numpy as np
import pytest

from au.evaluation.interval_calibration import (
    SHIFT_PER_POINT,
    rejection_rates,
    simulate_studies,
)


def test_simulated_counts_share_labels_between_arms():
    counts = simulate_studies(np.random.default_rng(0), 2, folds=3, seeds=3)
    assert counts.shape == (2, 3, 3, 2, 13, 8, 3)
    positives = counts[..., 0] + counts[..., 2]  # TP + FN: the labels
    assert (positives == positives[:, :, :1, :1]).all()  # every seed and arm: same labels
    assert (counts[..., 1] >= 0).all() and (counts[..., 0] <= positives).all()


@pytest.fixture(scope="module")
def null_rates():
    return rejection_rates(simulate_studies(np.random.default_rng(11), 400), samples=200)


@pytest.fixture(scope="module")
def alternative_rates():
    counts = simulate_studies(np.random.default_rng(12), 300, shift=1.6 * SHIFT_PER_POINT)
    return rejection_rates(counts, samples=200)


@pytest.mark.slow  # about 6 s on 2 shared cores
def test_a_true_null_is_rejected_in_3_to_7_percent_of_studies(null_rates):
    assert abs(null_rates["difference"]) < 0.2  # points: no true difference
    assert 0.03 <= null_rates["au.compare"] <= 0.07


@pytest.mark.slow  # about 4 s
def test_a_true_difference_is_found_at_least_as_often_as_by_the_t_interval(alternative_rates):
    assert 1.3 <= alternative_rates["difference"] <= 1.9  # about 1.6 F1 points
    # 300 studies: Monte-Carlo standard error of a rate near 0.4 is about 0.03
    assert alternative_rates["au.compare"] >= alternative_rates["t over pairs"] - 0.03
