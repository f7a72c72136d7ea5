"""AU intensity head: the paper's GAP → BatchNorm → ReLU → Dropout → FC, read out on 0-5.

Two read-outs share the same trunk:

* ``"regression"``: one linear output per AU, the intensity itself (B, A); decoded by clipping
  to ``[0, 5]``.
* ``"ordinal"``: one linear score ``f_a(x)`` per AU (the weights shared by all levels) minus
  ``K-1`` ordered cut-points ``θ_a0 < θ_a1 < ...`` per AU, giving the logits of "intensity > k"
  (B, A, K-1) that :class:`au.losses.ordinal.OrdinalIntensityLoss` takes. The cut-points are
  stored as the first one plus positive (softplus) gaps, so they stay ordered during training
  and the decoded intensities are rank-consistent by construction.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from au.losses.intensity import MAX_INTENSITY
from au.losses.ordinal import exceedance_targets, ordinal_decode

MODES = ("regression", "ordinal")
_MIN_GAP = 1e-3  # smallest cut-point gap set by init_from_prior (keeps softplus invertible)


def _inverse_softplus(values: torch.Tensor) -> torch.Tensor:
    return values + torch.log(-torch.expm1(-values))


class IntensityHead(nn.Module):
    """Maps pooled features (B, F) to raw intensity outputs per AU.

    Args:
        in_features: Backbone width (``num_features``).
        num_aus: Number of AUs.
        mode: ``"regression"`` (outputs (B, A)) or ``"ordinal"`` (outputs (B, A, 5)).
        dropout: Dropout probability before the linear layer (paper: 0.2).
    """

    def __init__(
        self, in_features: int, num_aus: int, mode: str = "regression", dropout: float = 0.2
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"intensity head mode must be one of {MODES}, got {mode!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"model.head.dropout must be in [0, 1), got {dropout}")
        self.mode = mode
        self.norm = nn.BatchNorm1d(in_features)
        self.act = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_aus, bias=mode == "regression")
        if mode == "ordinal":
            gaps = torch.full((num_aus, MAX_INTENSITY - 1), math.log(math.e - 1))  # softplus = 1
            self.first_cutpoint = nn.Parameter(torch.zeros(num_aus, 1))
            self.cutpoint_gaps = nn.Parameter(gaps)

    def cutpoints(self) -> torch.Tensor:
        """The ordered cut-points θ (A, K-1) of the ordinal read-out."""
        steps = F.softplus(self.cutpoint_gaps).cumsum(-1)  # (A, K-2)
        return torch.cat([self.first_cutpoint, self.first_cutpoint + steps], dim=-1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return raw outputs: intensities (B, A) or ordinal logits (B, A, K-1)."""
        scores = self.fc(self.dropout(self.act(self.norm(features))))  # (B, A)
        if self.mode == "regression":
            return scores
        return scores.unsqueeze(-1) - self.cutpoints()  # (B, A, K-1)

    def decode(self, outputs: torch.Tensor) -> torch.Tensor:
        """Intensities (B, A) in ``[0, 5]`` from the raw outputs of :meth:`forward`."""
        if self.mode == "regression":
            return outputs.clamp(0.0, float(MAX_INTENSITY))
        return ordinal_decode(outputs)[0]

    @torch.no_grad()
    def init_from_prior(self, intensities: torch.Tensor, mask: torch.Tensor) -> None:
        """Start the read-out at the training distribution (a zero score predicts the prior).

        Regression: the output bias becomes each AU's mean coded intensity. Ordinal: the
        cut-points become ``-logit P(y > k)`` of the coded training labels, so a sample with
        score 0 gets the training frequencies of every level.

        Args:
            intensities: Training intensities (N, A) on 0-5.
            mask: (N, A), 1 where coded.
        """
        coded = mask.sum(0).clamp(min=1)  # (A,)
        if self.mode == "regression":
            self.fc.bias.copy_((intensities * mask).sum(0) / coded)
            return
        answers = exceedance_targets(intensities, MAX_INTENSITY) * mask.unsqueeze(-1)
        exceed = (answers.sum(0) / coded.unsqueeze(-1)).clamp(1e-4, 1 - 1e-4)  # (A, K-1)
        theta = -torch.logit(exceed)  # non-decreasing in k
        gaps = (theta[:, 1:] - theta[:, :-1]).clamp(min=_MIN_GAP)
        self.first_cutpoint.copy_(theta[:, :1])
        self.cutpoint_gaps.copy_(_inverse_softplus(gaps))
