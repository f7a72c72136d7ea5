"""Each loss against values computed by hand."""

import math

import pytest
import torch

from au.losses import BCELoss, LSEPLoss, PrecisionRecallLoss, frequency_pos_weight
from au.losses.registry import build_loss


def test_bce_plain_value_and_mask():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 50.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])  # the huge wrong logit is not coded
    expected = (math.log(2) + math.log(1 + math.e**2) + math.log(1 + math.e**-1)) / 3
    assert BCELoss()(logits, targets, mask).item() == pytest.approx(expected, rel=1e-6)


def test_bce_pos_weight_scales_positive_term_only():
    logits = torch.zeros(1, 2)
    targets = torch.tensor([[1.0, 0.0]])
    loss = BCELoss(pos_weight=[3.0, 3.0])(logits, targets)
    assert loss.item() == pytest.approx((3 * math.log(2) + math.log(2)) / 2, rel=1e-6)


def test_frequency_pos_weight_is_neg_over_pos_and_clipped():
    labels = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    weight = frequency_pos_weight(labels, torch.ones_like(labels), max_weight=10)
    assert weight.tolist() == pytest.approx([3.0, 10.0])


def test_lsep_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    targets = torch.tensor([[1.0, 0.0, 1.0]])
    expected = math.log(1 + math.exp(0 - 2) + math.exp(0 - -1))
    assert LSEPLoss()(logits, targets).item() == pytest.approx(expected, rel=1e-6)


def test_lsep_samples_without_pairs_contribute_nothing():
    logits = torch.tensor([[2.0, 0.0, -1.0], [5.0, -3.0, 1.0], [1.0, 1.0, 1.0]])
    targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    expected = math.log(1 + math.exp(-2) + math.exp(1))
    assert LSEPLoss()(logits, targets).item() == pytest.approx(expected, rel=1e-6)


def test_lsep_no_pairs_at_all_is_zero_with_gradient():
    logits = torch.randn(3, 4, requires_grad=True)
    loss = LSEPLoss()(logits, torch.zeros(3, 4))
    loss.backward()
    assert loss.item() == 0.0 and torch.all(logits.grad == 0)


def test_lsep_large_logits_are_finite():
    logits = torch.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]], requires_grad=True)
    targets = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    loss = LSEPLoss()(logits, targets)
    loss.backward()
    assert loss.item() == pytest.approx(1000.0, rel=1e-6)  # (2000 + 0) / 2
    assert torch.isfinite(logits.grad).all()


def test_lsep_mask_removes_labels_from_pairs():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    targets = torch.tensor([[1.0, 0.0, 1.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])  # AU 3 not coded: one pair left
    expected = math.log(1 + math.exp(0 - 2))
    assert LSEPLoss()(logits, targets, mask).item() == pytest.approx(expected, rel=1e-6)


def test_lsep_is_shift_invariant_per_sample():
    logits = torch.randn(4, 5)
    targets = (torch.rand(4, 5) > 0.5).float()
    shift = torch.randn(4, 1) * 10
    assert LSEPLoss()(logits + shift, targets).item() == pytest.approx(
        LSEPLoss()(logits, targets).item(), rel=1e-5
    )


def test_pr_loss_by_hand():
    logits = torch.zeros(2, 1)  # p = 0.5 everywhere
    targets = torch.tensor([[1.0], [0.0]])
    # TP = 0.5, FP = 0.5, FN = 0.5 -> P = R = 0.5 -> 1 - 0.25
    assert PrecisionRecallLoss()(logits, targets).item() == pytest.approx(0.75, rel=1e-4)


def test_pr_loss_macro_skips_aus_without_positives_and_respects_mask():
    macro = PrecisionRecallLoss("macro")
    logits = torch.tensor([[0.0, 3.0], [0.0, 3.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    assert macro(logits, targets).item() == pytest.approx(0.75, rel=1e-4)
    mask = torch.tensor([[1.0, 1.0], [0.0, 1.0]])  # drop the negative of AU 1
    # TP = 0.5, FP = 0, FN = 0.5 -> P = 1, R = 0.5
    assert macro(logits, targets, mask).item() == pytest.approx(0.5, rel=1e-4)


def test_pr_loss_micro_pools_counts():
    logits = torch.tensor([[0.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0]])
    # TP = .5, FP = .5, FN = .5 over both AUs
    assert PrecisionRecallLoss("micro")(logits, targets).item() == pytest.approx(0.75, rel=1e-4)


def test_pr_loss_empty_batch_is_zero_and_safe():
    logits = torch.randn(4, 3, requires_grad=True)
    loss = PrecisionRecallLoss()(logits, torch.zeros(4, 3))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(logits.grad).all()


def test_pr_loss_rewards_better_predictions():
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    good = PrecisionRecallLoss()(torch.tensor([[4.0, -4.0], [-4.0, 4.0]]), targets)
    bad = PrecisionRecallLoss()(torch.tensor([[-4.0, 4.0], [4.0, -4.0]]), targets)
    assert good.item() < 0.05 and bad.item() > 0.95


def test_build_loss_rejects_unknown_names_and_weighted_bce_without_weights():
    with pytest.raises(
        ValueError, match="loss='focal2' is not a registered loss.*did you mean focal"
    ):
        build_loss({"name": "focal2"})
    with pytest.raises(ValueError, match="pos_weight"):
        build_loss({"name": "weighted_bce"})
    with pytest.raises(ValueError, match="loss.average must be 'micro' or 'macro'"):
        build_loss({"name": "pr", "average": "weighted"})


def test_pr_loss_absent_au_skip_vs_penalize_by_hand():
    # AU0 has a positive in the batch; AU1 has none (only false positives are possible).
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]])  # p: AU0 .5/.5, AU1 .5/.75
    targets = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    # AU0: TP .5, FP .5, FN .5 -> P = R = .5 -> term 1 - .25 = .75
    skip = PrecisionRecallLoss("macro", absent="skip")(logits, targets)
    assert skip.item() == pytest.approx(0.75, rel=1e-4)
    # AU1: soft false-positive rate (.5 + .75) / 2 = .625; mean of .75 and .625
    penalize = PrecisionRecallLoss("macro", absent="penalize")(logits, targets)
    assert penalize.item() == pytest.approx((0.75 + 0.625) / 2, rel=1e-4)


def test_pr_loss_skip_ignores_the_absent_au_penalize_pushes_it_down():
    logits = torch.tensor([[0.0, 1.0], [0.0, 2.0]], requires_grad=True)
    targets = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    PrecisionRecallLoss("macro", absent="skip")(logits, targets).backward()
    assert logits.grad[:, 1].abs().max().item() == 0.0  # AU1's false positives are unpunished
    logits.grad = None
    PrecisionRecallLoss("macro", absent="penalize")(logits, targets).backward()
    assert (logits.grad[:, 1] > 0).all()  # gradient descent lowers AU1's scores


def test_pr_loss_rejects_unknown_absent_mode():
    with pytest.raises(ValueError, match="loss.absent"):
        PrecisionRecallLoss(absent="ignore")
