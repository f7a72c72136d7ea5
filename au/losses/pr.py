"""The paper's Precision·Recall loss: ``1 - P·R`` from soft counts of sigmoid outputs."""

from __future__ import annotations

import torch
from torch import nn

from au.losses.masking import full_mask
from au.losses.registry import register_loss

ABSENT_MODES = ("skip", "penalize")


@register_loss("pr")
class PrecisionRecallLoss(nn.Module):
    """``L = 1 - P·R`` with ``TP = Σ y·p``, ``FP = Σ (1-y)·p``, ``FN = Σ y·(1-p)``.

    Soft counts run over the coded frames of the batch (masked labels never count).

    Args:
        average: ``"macro"`` (default) computes P·R per AU over the batch and averages over AUs
            (see ``absent``); ``"micro"`` pools the counts of all AUs into one P·R.
        absent: What ``macro`` does with an AU that has no coded positive in the batch, whose
            recall is undefined. ``"skip"`` (the default, the paper's formula taken literally)
            leaves it out of the average, so its false positives go unpunished in that batch
            (on the synthetic set AU1 has no positive in about one batch in five).
            ``"penalize"`` adds its soft false-positive rate ``FP / N`` (``N`` its coded
            frames) as that AU's term, so scores of AUs absent from a batch are pushed down.
        eps: Added to denominators.

    A batch with no coded positive at all gives 0 with ``absent="skip"`` (there is no recall
    to maximise), still attached to the graph.
    """

    def __init__(self, average: str = "macro", absent: str = "skip", eps: float = 1e-6):
        super().__init__()
        if average not in ("macro", "micro"):
            raise ValueError(f"loss.average must be 'macro' or 'micro', got {average!r}")
        if absent not in ABSENT_MODES:
            raise ValueError(f"loss.absent must be one of {ABSENT_MODES}, got {absent!r}")
        self.average, self.absent, self.eps = average, absent, eps

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return ``1 - P·R`` (macro over AUs, or micro)."""
        mask = full_mask(targets, mask)
        probs = torch.sigmoid(logits) * mask  # (B, A)
        y = targets * mask
        dims = (0, 1) if self.average == "micro" else 0
        tp = (y * probs).sum(dims)
        fp = ((1 - y) * probs).sum(dims)
        fn = (y * (1 - probs) * mask).sum(dims)
        has_positive = y.sum(dims) > 0
        terms = 1 - (tp / (tp + fp + self.eps)) * (tp / (tp + fn + self.eps))
        if self.average == "macro" and self.absent == "penalize":
            coded = mask.sum(0)
            false_positive_rate = fp / coded.clamp(min=1)
            terms = torch.where(has_positive, terms, false_positive_rate)
            return terms[coded > 0].mean() if (coded > 0).any() else (logits * 0).sum()
        if not has_positive.any():
            return (logits * 0).sum()
        return terms[has_positive].mean()
