"""Lightning callbacks."""

from au.callbacks.reproducible import ReproducibleEpochs
from au.callbacks.two_stage import TwoStageFineTuning

__all__ = ["ReproducibleEpochs", "TwoStageFineTuning"]
