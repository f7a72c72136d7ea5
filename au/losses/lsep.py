"""LSEP: log-sum-exp pairwise ranking loss (Li, Song & Luo, CVPR 2017)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from au.losses.masking import full_mask
from au.losses.registry import register_loss


@register_loss("lsep", ranking=True)
class LSEPLoss(nn.Module):
    """``L = log(1 + Σ_{v∉Y} Σ_{u∈Y} exp(f_v - f_u))`` per sample, averaged over samples.

    The double sum factorises: ``Σ_v Σ_u exp(f_v - f_u) = exp(LSE_neg(f) + LSE_pos(-f))``, so
    the loss is ``softplus(LSE_neg(f) + LSE_pos(-f))``, computed in O(A) per sample and stable
    for any logit size. A sample without a coded positive or a coded negative AU has no pairs
    and contributes nothing; the mean runs over samples that have pairs.

    LSEP only ranks AUs within a sample: it is invariant to adding a constant to a sample's
    logits, so its outputs are not calibrated and decision thresholds must be tuned.
    """

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the mean LSEP over samples with at least one positive-negative pair."""
        mask = full_mask(targets, mask).bool()
        positive = mask & (targets > 0.5)  # (B, A)
        negative = mask & (targets <= 0.5)  # (B, A)
        has_pairs = positive.any(1) & negative.any(1)  # (B,)
        if not has_pairs.any():
            return (logits * 0).sum()
        logits, positive, negative = logits[has_pairs], positive[has_pairs], negative[has_pairs]
        neg_inf = torch.finfo(logits.dtype).min
        lse_negatives = torch.logsumexp(logits.masked_fill(~negative, neg_inf), dim=1)
        lse_positives = torch.logsumexp((-logits).masked_fill(~positive, neg_inf), dim=1)
        return F.softplus(lse_negatives + lse_positives).mean()
