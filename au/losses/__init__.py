"""Multi-label AU losses; every one is ``forward(logits, targets, mask=None) -> scalar``."""

from au.losses.asymmetric import AsymmetricLoss
from au.losses.bce import BCELoss, frequency_pos_weight
from au.losses.focal import FocalLoss
from au.losses.lsep import LSEPLoss
from au.losses.pr import PrecisionRecallLoss
from au.losses.zlpr import ZLPRLoss

__all__ = [
    "AsymmetricLoss",
    "BCELoss",
    "FocalLoss",
    "LSEPLoss",
    "PrecisionRecallLoss",
    "ZLPRLoss",
    "frequency_pos_weight",
]
