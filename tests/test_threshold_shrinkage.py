"""``model.decision.shrink_positives``: tuned thresholds pulled toward 0.5 by their evidence."""

import pytest
import torch

from au.evaluation.occurrence_metrics import shrink_thresholds


def _labels(positives_per_au: list[int], frames: int = 2000):
    labels = torch.zeros(frames, len(positives_per_au))
    for j, n in enumerate(positives_per_au):
        labels[:n, j] = 1
    return labels, torch.ones_like(labels)


def test_ten_positives_worth_ten_more_at_half_move_halfway_in_logits():
    """logit(0.2) = ln(1/4); halfway to logit(0.5) = 0 is ln(1/2), i.e. 1/3."""
    labels, mask = _labels([10, 1000, 0])
    tuned = torch.tensor([0.2, 0.2, 0.2], dtype=torch.float64)
    shrunk = shrink_thresholds(tuned, labels, mask, prior_positives=10)
    assert float(shrunk[0]) == pytest.approx(1 / 3)
    # 1000 positives: w = 1000/1010, logit = 0.990 * ln(1/4)
    expected = torch.sigmoid(torch.tensor(1000 / 1010 * torch.log(torch.tensor(0.25)).item()))
    assert float(shrunk[1]) == pytest.approx(float(expected))
    assert float(shrunk[2]) == pytest.approx(0.5)  # no positive: the default


def test_masked_labels_are_not_counted_and_zero_prior_changes_nothing():
    labels, mask = _labels([10])
    mask[:5] = 0  # 5 of the 10 positives are not coded
    tuned = torch.tensor([0.8], dtype=torch.float64)
    # n = 5, k = 5: halfway between logit(0.8) = ln 4 and 0: ln 2 -> 2/3
    assert float(shrink_thresholds(tuned, labels, mask, 5)[0]) == pytest.approx(2 / 3)
    assert torch.equal(shrink_thresholds(tuned, labels, mask, 0), tuned)
