"""The paper's Precision·Recall loss: ``1 - P·R`` from soft counts of sigmoid outputs."""

from __future__ import annotations

import torch
from torch import nn

from au.losses.masking import full_mask


class PrecisionRecallLoss(nn.Module):
    """``L = 1 - P·R`` with ``TP = Σ y·p``, ``FP = Σ (1-y)·p``, ``FN = Σ y·(1-p)``.

    Args:
        average: ``"macro"`` (default) computes P·R per AU over the batch and averages over the
            AUs that have at least one coded positive in the batch (recall is undefined for the
            others); ``"micro"`` pools the counts of all AUs.
        eps: Added to denominators.

    A batch with no coded positive at all gives 0 (there is no recall to maximise), still
    attached to the graph.
    """

    def __init__(self, average: str = "macro", eps: float = 1e-6):
        super().__init__()
        if average not in ("macro", "micro"):
            raise ValueError(f"loss.average must be 'macro' or 'micro', got {average!r}")
        self.average = average
        self.eps = eps

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return ``1 - P·R`` (macro over AUs with positives, or micro)."""
        mask = full_mask(targets, mask)
        probs = torch.sigmoid(logits) * mask  # (B, A)
        y = targets * mask
        dims = (0, 1) if self.average == "micro" else 0
        tp = (y * probs).sum(dims)
        fp = ((1 - y) * probs).sum(dims)
        fn = (y * (1 - probs) * mask).sum(dims)
        has_positive = y.sum(dims) > 0
        if not has_positive.any():
            return (logits * 0).sum()
        precision = tp / (tp + fp + self.eps)
        recall = tp / (tp + fn + self.eps)
        return 1 - (precision * recall)[has_positive].mean()
