"""ZLPR: zero-anchored multi-label softmax loss (Su et al., 2022), masked."""

from __future__ import annotations

import torch
from torch import nn

from au.losses.masking import full_mask
from au.losses.registry import register_loss


def _log_one_plus_sum_exp(scores: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``log(1 + Σ_{keep} exp(scores))`` per row (B,), as a logsumexp with a zero term."""
    kept = scores.masked_fill(~keep, float("-inf"))  # (B, A)
    anchored = torch.cat([torch.zeros_like(scores[:, :1]), kept], dim=1)  # (B, 1 + A)
    return torch.logsumexp(anchored, dim=1)


@register_loss("zlpr")
class ZLPRLoss(nn.Module):
    """``L = log(1 + Σ_{v∉Y} e^{s_v}) + log(1 + Σ_{u∈Y} e^{-s_u})`` per sample.

    Like LSEP it compares scores across AUs, but against a fixed zero anchor, so a positive AU
    is pushed above 0 and a negative one below 0 even when the frame has no positive (or no
    negative) AU, where LSEP has no pair and is silent. Score 0 is the decision boundary
    (``sigmoid(s) = 0.5``). Masked AUs take no part; samples with no coded AU contribute
    nothing, and the mean runs over the others. Each ``log(1 + Σ e^x)`` is a logsumexp with a
    zero term, so large logits stay finite and an empty sum gives exactly 0.
    """

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the mean ZLPR over samples with at least one coded AU."""
        mask = full_mask(targets, mask).bool()
        positive = mask & (targets > 0.5)  # (B, A)
        negative = mask & (targets <= 0.5)  # (B, A)
        coded = mask.any(1)  # (B,)
        if not coded.any():
            return (logits * 0).sum()
        per_sample = _log_one_plus_sum_exp(logits, negative) + _log_one_plus_sum_exp(
            -logits, positive
        )  # (B,)
        return per_sample[coded].mean()
