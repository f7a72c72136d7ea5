"""Cross-entropy of the emotion head, with unlabelled frames left out (``task=emotion``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from au.losses.registry import register_loss


@register_loss("cross_entropy", target="emotion")
class MaskedCrossEntropy(nn.Module):
    """Cross-entropy of class logits (B, C) against class indices (B,), -1 left out.

    A batch with no labelled frame gives 0 (still connected to the graph).

    Args:
        label_smoothing: Share of each target's probability spread evenly over the classes.
        class_weights: Weight per class (C,) (``None``: all 1); the mean is weighted by them.
    """

    def __init__(self, label_smoothing: float = 0.0, class_weights: torch.Tensor | None = None):
        super().__init__()
        self.label_smoothing, self.class_weights = label_smoothing, class_weights

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the labelled frames."""
        labelled = target >= 0
        if not bool(labelled.any()):
            return logits.sum() * 0.0
        weight = None if self.class_weights is None else self.class_weights.to(logits)
        return F.cross_entropy(
            logits[labelled],
            target[labelled].long(),
            weight=weight,
            label_smoothing=self.label_smoothing,
        )
