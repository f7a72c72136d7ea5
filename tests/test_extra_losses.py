"""Focal, asymmetric (ASL) and ZLPR losses against values computed by hand."""

import math

import pytest
import torch

from au.losses import AsymmetricLoss, BCELoss, FocalLoss, LSEPLoss, ZLPRLoss
from au.losses.registry import build_loss, registered_losses

LN2, LN3 = math.log(2), math.log(3)


def close(value: torch.Tensor, expected: float) -> bool:
    return math.isclose(float(value), expected, rel_tol=1e-6, abs_tol=1e-9)


# ---- focal ----------------------------------------------------------------------------------
def test_focal_by_hand():
    # AU a: logit 0 (p=.5), positive: alpha .25 * (1-.5)^2 * ln 2 = 0.0625 ln 2
    # AU b: logit ln 3 (p=.75), negative: .75 * .75^2 * ln 4 = 0.84375 ln 2
    logits, targets = torch.tensor([[0.0, LN3]]), torch.tensor([[1.0, 0.0]])
    assert close(FocalLoss(2.0, 0.25)(logits, targets), (0.0625 + 0.84375) * LN2 / 2)
    assert close(FocalLoss(2.0, 0.25)(logits, targets, torch.tensor([[1.0, 0.0]])), 0.0625 * LN2)
    # no alpha: (1-.5)^2 ln 2 = .25 ln 2 and .75^2 ln 4 = 1.125 ln 2
    assert close(FocalLoss(2.0, None)(logits, targets), (0.25 + 1.125) * LN2 / 2)


def test_focal_without_focusing_is_bce():
    logits, targets = torch.randn(6, 5), (torch.rand(6, 5) > 0.5).float()
    mask = (torch.rand(6, 5) > 0.3).float()
    expected = BCELoss()(logits, targets, mask)
    assert torch.allclose(FocalLoss(0.0, None)(logits, targets, mask), expected)


# ---- asymmetric -----------------------------------------------------------------------------
def test_asymmetric_by_hand():
    loss = AsymmetricLoss(gamma_pos=0.0, gamma_neg=4.0, clip=0.05)
    # positive, p=.5: -(1-.5)^0 log .5 = ln 2
    # negative, p=.75: p_m=.70, .70^4 * -log(.30)
    # negative, p=.04 < clip: p_m = 0, no loss
    logits = torch.tensor([[0.0, LN3, math.log(0.04 / 0.96)]])
    targets = torch.tensor([[1.0, 0.0, 0.0]])
    expected = (LN2 + 0.7**4 * -math.log(0.3) + 0.0) / 3
    assert close(loss(logits, targets), expected)
    assert close(
        loss(logits, targets, torch.tensor([[0.0, 1.0, 1.0]])), 0.7**4 * -math.log(0.3) / 2
    )


def test_asymmetric_without_asymmetry_is_bce():
    logits, targets = torch.randn(4, 6), (torch.rand(4, 6) > 0.5).float()
    assert torch.allclose(
        AsymmetricLoss(0.0, 0.0, 0.0)(logits, targets), BCELoss()(logits, targets)
    )


# ---- ZLPR -----------------------------------------------------------------------------------
def test_zlpr_by_hand():
    logits = torch.tensor([[1.0, -2.0, 0.5], [1.0, 2.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    first = math.log(1 + math.exp(-2) + math.exp(0.5)) + math.log(1 + math.exp(-1))
    second = math.log(1 + math.e + math.e**2 + 1)  # no positive: the positive term is log 1 = 0
    assert close(ZLPRLoss()(logits, targets), (first + second) / 2)


def test_zlpr_speaks_where_lsep_is_silent():
    logits, targets = torch.tensor([[3.0, -1.0]]), torch.zeros(1, 2)  # no AU present
    assert float(LSEPLoss()(logits, targets)) == 0.0
    assert close(ZLPRLoss()(logits, targets), math.log(1 + math.exp(3) + math.exp(-1)))


def test_zlpr_masks():
    logits, targets = torch.tensor([[1.0, -2.0, 5.0]]), torch.tensor([[1.0, 0.0, 0.0]])
    masked = ZLPRLoss()(logits, targets, torch.tensor([[1.0, 1.0, 0.0]]))
    assert close(masked, math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1)))
    # a sample with nothing coded takes no part in the mean
    two = ZLPRLoss()(
        torch.cat([logits, torch.tensor([[9.0, 9.0, 9.0]])]),
        torch.cat([targets, torch.ones(1, 3)]),
        torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]),
    )
    assert close(two, float(masked))


# ---- shared behaviour -----------------------------------------------------------------------
NEW_LOSSES = [FocalLoss(), AsymmetricLoss(), ZLPRLoss()]


@pytest.mark.parametrize("loss", NEW_LOSSES, ids=lambda m: type(m).__name__)
def test_empty_mask_gives_zero_with_gradient(loss):
    logits = torch.randn(3, 4, requires_grad=True)
    value = loss(logits, torch.ones(3, 4), torch.zeros(3, 4))
    value.backward()
    assert float(value.detach()) == 0.0 and torch.equal(logits.grad, torch.zeros(3, 4))


@pytest.mark.parametrize("loss", NEW_LOSSES, ids=lambda m: type(m).__name__)
def test_large_logits_stay_finite(loss):
    logits = torch.tensor([[1000.0, -1000.0, 80.0, -80.0]], requires_grad=True)
    wrong = loss(logits, torch.tensor([[0.0, 1.0, 0.0, 1.0]]))
    right = loss(logits, torch.tensor([[1.0, 0.0, 1.0, 0.0]]))
    (wrong + right).backward()
    assert torch.isfinite(wrong) and torch.isfinite(logits.grad).all()
    assert float(wrong) > 10 and float(right) < 1e-6


def test_zlpr_large_logits_value():
    logits = torch.tensor([[-1000.0, 1000.0]])  # the positive far below 0, the negative above
    assert close(ZLPRLoss()(logits, torch.tensor([[1.0, 0.0]])), 2000.0)


def test_registered_and_selectable_with_their_options():
    assert {"focal", "asl", "zlpr"} <= set(registered_losses())
    # the options reach the loss: focal gamma 1, no alpha, p=.5 positive: (1-.5)^1 ln 2
    focal = build_loss({"name": "focal", "gamma": 1.0, "alpha": None})
    assert close(focal(torch.tensor([[0.0]]), torch.tensor([[1.0]])), 0.5 * LN2)
    # asl gamma_neg 2, negative p=.75 shifted by clip .05 to .70: .70^2 * -log(.30)
    asl = build_loss({"name": "asl", "gamma_neg": 2.0})
    assert close(asl(torch.tensor([[LN3]]), torch.tensor([[0.0]])), 0.7**2 * -math.log(0.3))
    # zlpr at logits 0: log(1 + e^0) for the negative + log(1 + e^0) for the positive
    zlpr = build_loss({"name": "zlpr"})
    assert close(zlpr(torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]])), 2 * LN2)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="alpha"):
        FocalLoss(alpha=1.5)
    with pytest.raises(ValueError, match="clip"):
        AsymmetricLoss(clip=1.0)
