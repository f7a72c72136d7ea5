"""Multi-label AU losses; every one is ``forward(logits, targets, mask=None) -> scalar``."""

from au.losses.bce import BCELoss, frequency_pos_weight
from au.losses.lsep import LSEPLoss
from au.losses.pr import PrecisionRecallLoss

__all__ = ["BCELoss", "LSEPLoss", "PrecisionRecallLoss", "frequency_pos_weight"]
