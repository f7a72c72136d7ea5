"""Binary cross-entropy over AUs, optionally with per-AU positive weights (weighted BCE)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from au.losses.masking import full_mask, masked_mean
from au.losses.registry import register_loss


@register_loss("bce")
class BCELoss(nn.Module):
    """Masked BCE on logits: ``-w·y·log p - (1-y)·log(1-p)``, averaged over coded labels.

    Args:
        pos_weight: Optional per-AU weight of the positive term (A,), e.g. ``neg/pos`` counts
            for "weighted BCE"; ``None`` gives plain BCE.
    """

    def __init__(self, pos_weight: Sequence[float] | torch.Tensor | None = None):
        super().__init__()
        weight = None if pos_weight is None else torch.as_tensor(pos_weight, dtype=torch.float32)
        self.register_buffer("pos_weight", weight)

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the masked mean BCE of ``logits`` (B, A) against ``targets`` (B, A)."""
        mask = full_mask(targets, mask)
        weight = None if self.pos_weight is None else self.pos_weight.to(logits.device)
        losses = F.binary_cross_entropy_with_logits(
            logits, targets, pos_weight=weight, reduction="none"
        )  # (B, A)
        return masked_mean(losses, mask)


def frequency_pos_weight(labels: torch.Tensor, mask: torch.Tensor, max_weight: float = 50.0):
    """Positive weights ``negatives / positives`` per AU from training labels (B, A).

    AUs with no positive get ``max_weight``; every weight is clipped to ``[1/max_weight,
    max_weight]`` so a very rare AU cannot dominate the loss.
    """
    positives = (labels * mask).sum(0)
    negatives = ((1 - labels) * mask).sum(0)
    weight = negatives / positives.clamp(min=1)
    weight[positives == 0] = max_weight
    return weight.clamp(1.0 / max_weight, max_weight)


@register_loss("weighted_bce")
class WeightedBCELoss(BCELoss):
    """BCE with per-AU positive weights ``negatives / positives`` from the training labels.

    Args:
        pos_weight: Per-AU positive weights (A,); ``au.fit`` derives them from the training
            labels (:meth:`options_from_training_labels`) and saves them in the checkpoint.
        max_weight: Clip of the weights (see :func:`frequency_pos_weight`).
    """

    def __init__(
        self, pos_weight: Sequence[float] | torch.Tensor | None = None, max_weight: float = 50.0
    ):
        if pos_weight is None:
            raise ValueError(
                "loss weighted_bce needs pos_weight (au.fit computes it from the training labels)"
            )
        super().__init__(pos_weight)
        self.max_weight = max_weight

    @classmethod
    def options_from_training_labels(
        cls, labels: torch.Tensor, mask: torch.Tensor, options: dict
    ) -> dict:
        """``pos_weight`` from the training labels (N, A) and mask (N, A), rounded to 4 places."""
        weight = frequency_pos_weight(labels, mask, options.get("max_weight", 50.0))
        return {"pos_weight": [round(float(w), 4) for w in weight]}
