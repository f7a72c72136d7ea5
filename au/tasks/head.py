"""The paper's AU head: (GAP in the backbone) → BatchNorm → ReLU → Dropout → Linear."""

from __future__ import annotations

import torch
from torch import nn


class AUHead(nn.Module):
    """Maps pooled features (B, F) to one logit per AU (B, A); sigmoid gives probabilities.

    Args:
        in_features: Backbone width (``num_features``).
        num_aus: Number of AUs.
        dropout: Dropout probability before the linear layer (paper: 0.2).
    """

    def __init__(self, in_features: int, num_aus: int, dropout: float = 0.2):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"model.head.dropout must be in [0, 1), got {dropout}")
        self.norm = nn.BatchNorm1d(in_features)
        self.act = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_aus)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return logits (B, A) for pooled features (B, F)."""
        return self.fc(self.dropout(self.act(self.norm(features))))
