"""Lightning callbacks."""

from au.callbacks.two_stage import TwoStageFineTuning

__all__ = ["TwoStageFineTuning"]
