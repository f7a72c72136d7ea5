"""The P·R loss of seed paper 004 (eq. 6), pooled (micro, the default) and per AU (macro)."""

import math

import pytest
import torch

from au.losses import PrecisionRecallLoss
from au.losses.registry import build_loss

# A batch of 2 frames x 3 AUs, probabilities chosen so that every count is exact:
#   targets  [[1, 0, 0],        probs  [[.75, .25, .50],
#             [1, 1, 0]]               [.50, .75, .25]]
TARGETS = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
PROBS = torch.tensor([[0.75, 0.25, 0.5], [0.5, 0.75, 0.25]])
LOGITS = torch.logit(PROBS)
# Masking frame 0's AU2 (a negative) and frame 1's AU1 (a positive):
MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])


def loss(average: str, absent: str = "skip", mask: torch.Tensor | None = None) -> float:
    return PrecisionRecallLoss(average, absent=absent)(LOGITS, TARGETS, mask).item()


def test_micro_is_one_product_over_the_whole_batch_by_hand():
    # TP = .75 + .50 + .75 = 2     (the three positives' probabilities)
    # FP = .25 + .50 + .25 = 1     (the three negatives' probabilities)
    # FN = .25 + .50 + .25 = 1     (one minus the positives' probabilities)
    # P = R = 2 / 3 -> L = 1 - 4/9 = 5/9
    assert loss("micro") == pytest.approx(5 / 9, rel=1e-5)
    assert PrecisionRecallLoss()(LOGITS, TARGETS).item() == pytest.approx(5 / 9, rel=1e-5)


def test_micro_drops_masked_entries_by_hand():
    # without (0, AU2) = .50 (negative) and (1, AU1) = .75 (positive):
    # TP = .75 + .50 = 1.25, FP = .25 + .25 = .5, FN = .25 + .50 = .75
    # P = 1.25 / 1.75 = 5/7, R = 1.25 / 2 = 5/8 -> L = 1 - 25/56 = 31/56
    assert loss("micro", mask=MASK) == pytest.approx(31 / 56, rel=1e-5)


def test_macro_averages_per_au_terms_by_hand():
    # AU0: TP 1.25, FP 0, FN .75 -> P 1, R .625 -> 1 - .625 = .375
    # AU1: TP .75, FP .25, FN .25 -> P = R = .75 -> 1 - .5625 = .4375
    # AU2: no positive -> skip: left out; penalize: FP / N = (.5 + .25) / 2 = .375
    assert loss("macro") == pytest.approx((0.375 + 0.4375) / 2, rel=1e-5)
    assert loss("macro", "penalize") == pytest.approx((0.375 + 0.4375 + 0.375) / 3, rel=1e-5)


def test_macro_with_mask_by_hand():
    # AU0 unchanged (.375); AU1 keeps only frame 0 (a negative, .25); AU2 only frame 1 (.25)
    # skip: AU1 and AU2 have no positive -> .375; penalize: their FP / N = .25 each
    assert loss("macro", mask=MASK) == pytest.approx(0.375, rel=1e-5)
    assert loss("macro", "penalize", MASK) == pytest.approx((0.375 + 0.25 + 0.25) / 3, rel=1e-5)


def test_micro_batch_without_positive_skip_is_zero_penalize_is_its_fp_rate():
    logits = torch.logit(torch.tensor([[0.5, 0.25], [0.75, 0.5]])).requires_grad_()
    targets = torch.zeros(2, 2)
    skipped = PrecisionRecallLoss("micro", absent="skip")(logits, targets)
    skipped.backward()
    assert skipped.item() == 0.0 and logits.grad.abs().max().item() == 0.0
    # FP / N = (.5 + .25 + .75 + .5) / 4 = .5
    penalized = PrecisionRecallLoss("micro", absent="penalize")(logits, targets)
    assert penalized.item() == pytest.approx(0.5, rel=1e-5)
    mask = torch.tensor([[1.0, 0.0], [0.0, 0.0]])  # only the .5 entry is coded
    assert PrecisionRecallLoss("micro", absent="penalize")(
        logits, targets, mask
    ).item() == pytest.approx(0.5, rel=1e-5)
    nothing = PrecisionRecallLoss("micro", absent="penalize")(logits, targets, mask * 0)
    assert nothing.item() == 0.0 and math.isfinite(nothing.item())


def test_micro_pools_an_au_with_positives_and_one_without():
    # the pooled form punishes false positives of an AU absent from the batch (AU2 above):
    # raising AU2's scores lowers the pooled precision, so its gradient is positive
    logits = LOGITS.clone().requires_grad_()
    PrecisionRecallLoss("micro")(logits, TARGETS).backward()
    assert (logits.grad[:, 2] > 0).all()


def test_default_and_stored_configs_rebuild_their_average():
    # configs/loss/pr.yaml always stored `average`; checkpoints trained before micro became
    # the default hold average: macro and rebuild as they were trained
    assert build_loss({"name": "pr"}).average == "micro"
    old = build_loss({"name": "pr", "average": "macro", "absent": "skip"})
    assert (old.average, old.absent) == ("macro", "skip")
    assert old(LOGITS, TARGETS).item() == pytest.approx((0.375 + 0.4375) / 2, rel=1e-5)


def test_loss_pr_config_composes_to_micro():
    from tests.conftest import compose_fit

    assert compose_fit(["loss=pr"]).model.loss.average == "micro"
    assert compose_fit(["experiment=pr"]).model.loss.average == "micro"
    macro = compose_fit(["experiment=pr", "model.loss.average=macro"]).model.loss
    assert (macro.name, macro.average, macro.absent) == ("pr", "macro", "skip")
