"""Masking helpers shared by the losses: labels a data set does not code never count."""

from __future__ import annotations

import torch


def full_mask(targets: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Return ``mask`` as a float tensor shaped like ``targets`` (all ones when ``None``)."""
    if mask is None:
        return torch.ones_like(targets)
    if mask.shape != targets.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} != targets shape {tuple(targets.shape)}")
    return mask.to(targets.dtype)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over entries where ``mask`` is 1; 0 (still in the graph) if none are."""
    total = mask.sum()
    if total == 0:
        return (values * 0).sum()
    return (values * mask).sum() / total
