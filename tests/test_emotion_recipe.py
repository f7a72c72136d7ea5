"""The emotion head's recipe options: class-balanced weights and label smoothing, by hand."""

import math

import numpy as np
import pytest
import torch

from au.tasks.emotion import EmotionTask, MaskedCrossEntropy, balanced_class_weights


def test_balanced_weights_are_n_over_c_times_count():
    """Labels 0,0,0,1 (and one unlabelled): N = 4, C present = 2 -> 4/(2*3), 4/(2*1); class
    2 has no frame and gets 0."""
    weights = balanced_class_weights(np.array([0, 0, 0, 1, -1]), 3)
    assert weights.tolist() == pytest.approx([2 / 3, 2.0, 0.0])


def test_weighted_cross_entropy_matches_the_hand_computed_mean():
    """Two frames with logits (0, 0): each costs ln 2. Weighted mean with weights w0, w1 over
    targets 0 and 1 is (w0 ln2 + w1 ln2) / (w0 + w1) = ln 2; with smoothing 0.2 over 2
    classes the target is (0.9, 0.1) and the cost is still ln 2 at equal logits. With logits
    (2, 0) for target 0: -log softmax = log(1 + e^-2)."""
    loss = MaskedCrossEntropy(class_weights=torch.tensor([1.0, 3.0]))
    logits = torch.zeros(3, 2)
    assert float(loss(logits, torch.tensor([0, 1, -1]))) == pytest.approx(math.log(2))
    one = torch.tensor([[2.0, 0.0]])
    assert float(MaskedCrossEntropy()(one, torch.tensor([0]))) == pytest.approx(
        math.log(1 + math.exp(-2))
    )
    smoothed = MaskedCrossEntropy(label_smoothing=0.2)(one, torch.tensor([0]))
    # target (0.9, 0.1): 0.9 * log(1 + e^-2) + 0.1 * log(1 + e^2)
    expected = 0.9 * math.log(1 + math.exp(-2)) + 0.1 * math.log(1 + math.exp(2))
    assert float(smoothed) == pytest.approx(expected)


def test_label_smoothing_out_of_range_is_refused():
    with pytest.raises(ValueError, match="task.label_smoothing=1.0"):
        EmotionTask(label_smoothing=1.0)
