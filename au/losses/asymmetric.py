"""Asymmetric loss, ASL (Ridnik et al., ICCV 2021), masked."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from au.losses.masking import full_mask, masked_mean
from au.losses.registry import register_loss


@register_loss("asl")
class AsymmetricLoss(nn.Module):
    """ASL: focusing with different exponents for positives and negatives, plus a margin.

    Per AU, with ``p = sigmoid(logit)`` and the shifted probability ``p_m = max(p - clip, 0)``:

    * positive: ``-(1 - p)^gamma_pos · log p``
    * negative: ``-p_m^gamma_neg · log(1 - p_m)``

    Negatives predicted below ``clip`` cost nothing, which discards the many easy negatives of
    rare AUs. The terms are averaged over coded labels (the paper sums them: only a scale).
    ``log p`` and ``log(1 - p_m)`` come from ``logsigmoid`` so large logits stay finite.

    Args:
        gamma_pos: Focusing exponent of positive labels (the paper: 0).
        gamma_neg: Focusing exponent of negative labels (the paper: 4).
        clip: Probability margin ``m`` shifted off negatives, in [0, 1) (the paper: 0.05).
    """

    def __init__(self, gamma_pos: float = 0.0, gamma_neg: float = 4.0, clip: float = 0.05):
        super().__init__()
        if gamma_pos < 0 or gamma_neg < 0 or not 0 <= clip < 1:
            raise ValueError(
                "loss needs gamma_pos >= 0, gamma_neg >= 0 and 0 <= clip < 1; "
                f"got {gamma_pos}, {gamma_neg}, {clip}"
            )
        self.gamma_pos, self.gamma_neg, self.clip = float(gamma_pos), float(gamma_neg), clip

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the masked mean ASL of ``logits`` (B, A) against ``targets`` (B, A)."""
        mask = full_mask(targets, mask)
        probs = torch.sigmoid(logits)  # (B, A)
        positive = -((1 - probs) ** self.gamma_pos) * F.logsigmoid(logits)
        if self.clip > 0:
            shifted = (probs - self.clip).clamp(min=0)  # p_m
            log_not_shifted = torch.log((torch.sigmoid(-logits) + self.clip).clamp(max=1))
        else:
            shifted, log_not_shifted = probs, F.logsigmoid(-logits)
        negative = -(shifted**self.gamma_neg) * log_not_shifted
        losses = targets * positive + (1 - targets) * negative  # (B, A)
        return masked_mean(losses, mask)
