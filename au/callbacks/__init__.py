"""Lightning callbacks."""

from au.callbacks.reproducible import ReproducibleEpochs
from au.callbacks.two_stage import TwoStageFineTuning
from au.callbacks.weight_averaging import AveragedWeights

__all__ = ["AveragedWeights", "ReproducibleEpochs", "TwoStageFineTuning"]
