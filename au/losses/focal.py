"""Sigmoid focal loss (Lin et al., ICCV 2017) per AU, masked."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import sigmoid_focal_loss

from au.losses.masking import full_mask, masked_mean
from au.losses.registry import register_loss


@register_loss("focal")
class FocalLoss(nn.Module):
    """``-α_t (1 - p_t)^γ log p_t`` per AU, averaged over coded labels.

    ``p_t`` is the predicted probability of the true label and ``α_t`` is ``alpha`` for
    positives and ``1 - alpha`` for negatives. ``gamma=0`` and ``alpha=None`` give plain BCE.
    The element-wise term is torchvision's :func:`~torchvision.ops.sigmoid_focal_loss`.

    Args:
        gamma: Focusing exponent; larger values down-weight well-classified labels more.
        alpha: Weight of the positive class in [0, 1], or ``None`` for no class weighting.
    """

    def __init__(self, gamma: float = 2.0, alpha: float | None = 0.25):
        super().__init__()
        if gamma < 0:
            raise ValueError(f"loss.gamma must be >= 0, got {gamma}")
        if alpha is not None and not 0 <= alpha <= 1:
            raise ValueError(f"loss.alpha must be in [0, 1] or null, got {alpha}")
        self.gamma = float(gamma)
        self.alpha = alpha

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the masked mean focal loss of ``logits`` (B, A) against ``targets`` (B, A)."""
        mask = full_mask(targets, mask)
        alpha = -1.0 if self.alpha is None else float(self.alpha)
        losses = sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=self.gamma)  # (B, A)
        return masked_mean(losses, mask)
