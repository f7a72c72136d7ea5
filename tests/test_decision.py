"""Decision steps: per-frame threshold targets by hand, and LSEP's shift invariance handled."""

import pytest
import torch

from au.tasks.decision import FrameThresholdEstimator, frame_targets, resolve_decision


def test_frame_targets_by_hand():
    logits = torch.tensor(
        [
            [3.0, 1.0, -1.0],  # AU0 present only: cut between 3 and 1 -> 2
            [0.0, 2.0, 4.0],  # AU2 and AU1 present: cut between 2 and 0 -> 1
            [1.0, 0.0, -2.0],  # nothing present: above the top logit by the median gap
            [1.0, 0.5, 0.0],  # all present: below the lowest by the median gap
        ]
    )
    labels = torch.tensor([[1.0, 0, 0], [0, 1, 1], [0, 0, 0], [1, 1, 1]])
    gaps = torch.tensor([2.0, 2.0, 2.0, 2.0, 1.0, 2.0, 0.5, 0.5])  # consecutive sorted gaps
    margin = gaps.median().item()  # 2.0 (torch takes the lower middle value)
    targets = frame_targets(logits, labels, torch.ones_like(labels))
    assert targets.tolist() == pytest.approx([2.0, 1.0, 1.0 + margin, 0.0 - margin])


def test_frame_targets_ignore_uncoded_aus():
    logits = torch.tensor([[3.0, 9.0, -1.0]])
    labels = torch.tensor([[1.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 0.0, 1.0]])  # AU1's huge logit is not coded
    assert frame_targets(logits, labels, mask).tolist() == pytest.approx([1.0])


def test_frame_threshold_follows_a_shift_of_the_frame_logits():
    # Scores that rank perfectly within each frame but are shifted by a random offset per frame
    # (what LSEP's shift invariance allows): no single per-AU threshold separates them, the
    # frame-threshold estimator does.
    generator = torch.Generator().manual_seed(0)
    labels = (torch.rand(400, 6, generator=generator) < 0.3).float()
    offset = 5 * torch.randn(400, 1, generator=generator)
    logits = 2 * labels - 1 + offset + 0.1 * torch.randn(400, 6, generator=generator)
    estimator = FrameThresholdEstimator(6)
    estimator.fit(logits, labels, torch.ones_like(labels))
    accuracy = (estimator.decide(logits) == labels.bool()).float().mean().item()
    assert accuracy > 0.97
    per_au = (logits >= 0).float()  # the best a global threshold can do here is far worse
    assert (per_au == labels).float().mean().item() < 0.75


def test_auto_decision_gives_lsep_its_threshold_estimator():
    assert resolve_decision("auto", "lsep") == "frame_threshold"
    assert resolve_decision("auto", "bce") == "per_au"
    assert resolve_decision("per_au", "lsep") == "per_au"
