"""Multi-label AU losses; every one is ``forward(logits, targets, mask=None) -> scalar``.

Each is registered by name (:mod:`au.losses.registry`): adding one is a module here and a YAML
in ``configs/loss/``.
"""

from au.losses.asymmetric import AsymmetricLoss
from au.losses.bce import BCELoss, WeightedBCELoss, frequency_pos_weight
from au.losses.focal import FocalLoss
from au.losses.lsep import LSEPLoss
from au.losses.pr import PrecisionRecallLoss
from au.losses.registry import build_loss, register_loss, registered_losses
from au.losses.zlpr import ZLPRLoss

__all__ = [
    "AsymmetricLoss",
    "BCELoss",
    "FocalLoss",
    "LSEPLoss",
    "PrecisionRecallLoss",
    "WeightedBCELoss",
    "ZLPRLoss",
    "build_loss",
    "frequency_pos_weight",
    "register_loss",
    "registered_losses",
]
