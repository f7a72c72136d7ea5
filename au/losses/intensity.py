"""Masked regression loss for AU intensities on the 0-5 scale (DISFA's coding)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from au.losses.masking import full_mask, masked_mean
from au.losses.registry import register_loss

#: Highest intensity code (FACS A-E coded as 1-5; 0 is absent).
MAX_INTENSITY = 5

_KINDS = ("mse", "smooth_l1")


def check_intensity_targets(targets: torch.Tensor, mask: torch.Tensor) -> None:
    """Raise ``ValueError`` if a coded target lies outside ``[0, MAX_INTENSITY]``.

    Uncoded entries (mask 0) may hold any placeholder value and are not checked.
    """
    coded = targets[mask > 0]
    if coded.numel() and (coded.min() < 0 or coded.max() > MAX_INTENSITY):
        raise ValueError(
            f"intensity targets must lie in [0, {MAX_INTENSITY}] where coded, got values in "
            f"[{float(coded.min())}, {float(coded.max())}] (are these occurrence labels?)"
        )


class IntensityRegressionLoss(nn.Module):
    """Masked MSE or smooth-L1 between estimated and coded intensities, both on the 0-5 scale.

    Args:
        kind: ``"mse"`` (squared error) or ``"smooth_l1"`` (Huber: quadratic below ``beta``,
            linear above, so a few badly coded frames do not dominate).
        beta: Where smooth-L1 turns from quadratic to linear (intensity units).
    """

    def __init__(self, kind: str = "mse", beta: float = 1.0):
        super().__init__()
        if kind not in _KINDS:
            raise ValueError(f"loss.kind must be one of {_KINDS}, got {kind!r}")
        if beta <= 0:
            raise ValueError(f"loss.beta must be > 0, got {beta}")
        self.kind = kind
        self.beta = beta

    def forward(
        self, outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the mean error of ``outputs`` (B, A) against ``targets`` (B, A) where coded."""
        mask = full_mask(targets, mask)
        check_intensity_targets(targets, mask)
        if self.kind == "mse":
            errors = F.mse_loss(outputs, targets, reduction="none")  # (B, A)
        else:
            errors = F.smooth_l1_loss(outputs, targets, reduction="none", beta=self.beta)
        return masked_mean(errors, mask)


@register_loss("mse", target="intensity")
class IntensityMSELoss(IntensityRegressionLoss):
    """``task.loss=mse``: masked squared error of the regression head's estimates."""

    #: The intensity head this loss trains (:class:`au.tasks.intensity.IntensityHead`).
    head_mode = "regression"

    def __init__(self):
        super().__init__("mse")


@register_loss("smooth_l1", target="intensity")
class IntensitySmoothL1Loss(IntensityRegressionLoss):
    """``task.loss=smooth_l1``: masked Huber loss, quadratic below ``beta`` (intensity units)."""

    head_mode = "regression"

    def __init__(self, beta: float = 1.0):
        super().__init__("smooth_l1", beta)
