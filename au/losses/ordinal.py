"""Ordinal (cumulative-link) loss for AU intensities, CORAL style (Cao, Mirjalili & Raschka 2020).

An intensity ``y`` in ``0..K-1`` (K = 6 codes) is split into ``K-1`` binary questions "is
``y > k``?" for ``k = 0..K-2``. The model answers each with a logit ``f(x) - θ_k``: one score per
AU shared by all questions and ``K-1`` ordered cut-points (see ``au.tasks.intensity``). With
``θ_0 < θ_1 < ...`` the answers are rank-consistent: ``P(y > k)`` falls as ``k`` grows, so the
expected intensity ``Σ_k P(y > k)`` and the class "number of yes answers" never contradict.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from au.losses.intensity import MAX_INTENSITY, check_intensity_targets
from au.losses.masking import full_mask, masked_mean
from au.losses.registry import register_loss


def exceedance_targets(targets: torch.Tensor, num_thresholds: int = MAX_INTENSITY) -> torch.Tensor:
    """Binary answers ``1[y > k]`` for ``k = 0..num_thresholds-1``: (B, A) -> (B, A, K-1)."""
    levels = torch.arange(num_thresholds, device=targets.device, dtype=targets.dtype)
    return (targets.unsqueeze(-1) > levels).to(targets.dtype)


def ordinal_decode(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected intensity and intensity class from ordinal logits (B, A, K-1).

    The expected intensity is ``Σ_k P(y > k)`` (the mean of a variable on ``0..K-1``); the class
    counts the questions answered "yes" (``P(y > k) > 0.5``), CORAL's rule.

    Returns:
        ``expected`` (B, A) float in ``[0, K-1]`` and ``classes`` (B, A) int64 in ``0..K-1``.
    """
    exceed = torch.sigmoid(logits)  # (B, A, K-1)
    return exceed.sum(-1), (exceed > 0.5).sum(-1)


@register_loss("ordinal", target="intensity")
class OrdinalIntensityLoss(nn.Module):
    """Masked CORAL loss: binary cross-entropy of each "``y > k``" logit, summed over ``k``.

    ``L = -Σ_k [1[y > k]·log σ(z_k) + 1[y <= k]·log(1 - σ(z_k))]`` per coded (sample, AU) entry,
    averaged over coded entries. Uncoded entries never count.
    """

    #: The intensity head this loss trains: CORAL cut-points (B, A, K-1).
    head_mode = "ordinal"

    def forward(
        self, outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the loss of ``outputs`` (B, A, K-1) against intensities ``targets`` (B, A)."""
        if outputs.dim() != 3 or outputs.shape[:2] != targets.shape:
            raise ValueError(
                f"ordinal outputs must be (B, A, K-1) with (B, A) = targets shape "
                f"{tuple(targets.shape)}, got {tuple(outputs.shape)}"
            )
        mask = full_mask(targets, mask)
        check_intensity_targets(targets, mask)
        answers = exceedance_targets(targets, outputs.shape[-1])  # (B, A, K-1)
        losses = F.binary_cross_entropy_with_logits(outputs, answers, reduction="none")
        return masked_mean(losses.sum(-1), mask)
