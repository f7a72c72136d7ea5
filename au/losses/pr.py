"""The paper's Precision·Recall loss (seed paper 004, eq. 6): ``1 - P·R`` from soft counts."""

from __future__ import annotations

import torch
from torch import nn

from au.losses.masking import full_mask
from au.losses.registry import register_loss

AVERAGES = ("micro", "macro")
ABSENT_MODES = ("skip", "penalize")


@register_loss("pr")
class PrecisionRecallLoss(nn.Module):
    """``L = 1 - P·R`` with ``TP = Σ y·p``, ``FP = Σ (1-y)·p``, ``FN = Σ y·(1-p)``.

    ``p`` is the sigmoid of a logit; masked (uncoded) labels never count.

    Args:
        average: ``"micro"`` (default, eq. 6 as written): each sum runs once over every coded
            (frame, AU) entry of the batch, giving one P·R. ``"macro"``: P·R per AU over the
            batch, averaged over AUs (see ``absent``).
        absent: What to do with a term whose recall is undefined because it has no coded
            positive: with ``macro`` an AU without a positive in the batch (on the synthetic
            set AU1 has none in about one batch in five), with ``micro`` a batch without any.
            ``"skip"`` (default) leaves it out (with ``macro`` that AU's false positives go
            unpunished in that batch; with ``micro`` the loss is 0, still attached to the
            graph). ``"penalize"`` uses its soft false-positive rate ``FP / N`` (``N`` its coded
            entries) instead, pushing the scores of absent labels down.
        eps: Added to denominators.
    """

    def __init__(self, average: str = "micro", absent: str = "skip", eps: float = 1e-6):
        super().__init__()
        if average not in AVERAGES:
            raise ValueError(f"loss.average must be 'micro' or 'macro', got {average!r}")
        if absent not in ABSENT_MODES:
            raise ValueError(f"loss.absent must be one of {ABSENT_MODES}, got {absent!r}")
        self.average, self.absent, self.eps = average, absent, eps

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return ``1 - P·R``: one pooled term (micro) or the mean of the per-AU terms (macro)."""
        mask = full_mask(targets, mask)
        probs = torch.sigmoid(logits) * mask  # (B, A)
        y = targets * mask
        dims = (0, 1) if self.average == "micro" else 0
        tp = (y * probs).sum(dims)  # () micro, (A,) macro
        fp = ((1 - y) * probs).sum(dims)
        fn = (y * (1 - probs)).sum(dims)
        coded = mask.sum(dims)
        has_positive = y.sum(dims) > 0
        terms = 1 - (tp / (tp + fp + self.eps)) * (tp / (tp + fn + self.eps))
        if self.absent == "penalize":
            terms = torch.where(has_positive, terms, fp / coded.clamp(min=1))
            counted = coded > 0
        else:
            counted = has_positive
        if not counted.any():
            return (logits * 0).sum()
        return terms[counted].mean()
