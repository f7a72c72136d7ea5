"""An exponential moving average of the weights that keeps the decision step fitted to it."""

from __future__ import annotations

from typing import Any

import lightning as L  # noqa: N812
import torch
from lightning.pytorch.callbacks import EMAWeightAveraging
from lightning.pytorch.trainer.states import TrainerFn

#: timm's and TensorFlow's EMA warm-up: the decay at the n-th averaged step is at most
#: ``(1 + n) / (WARMUP_STEPS + n)``, so the first updates follow the weights closely.
WARMUP_STEPS = 10


def warmup_decay(decay: float, num_averaged: int) -> float:
    """The decay of the ``num_averaged``-th update: ``min(decay, (1 + n) / (10 + n))``."""
    return min(decay, (1.0 + num_averaged) / (WARMUP_STEPS + num_averaged))


def warmup_ema_avg_fn(decay: float):
    """An ``AveragedModel`` ``avg_fn``: exponential averaging with :func:`warmup_decay`."""

    def average(
        averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor
    ) -> torch.Tensor:
        rate = warmup_decay(decay, int(num_averaged))
        return averaged + (current - averaged) * (1.0 - rate)

    return average


class AveragedWeights(EMAWeightAveraging):
    """Lightning's EMA of the weights, validated, checkpointed and tested with its own thresholds.

    Two choices make the average adapt to the length of the run, so one setting holds on a
    set of 500 frames (8 steps per epoch) and of 3,000 (50 per epoch):

    * **warm-up** (as timm's ``ModelEmaV3`` and TensorFlow's ``num_updates``): the decay of
      the n-th update is ``min(decay, (1 + n) / (10 + n))``, so a short run averages over a
      short horizon instead of dragging its starting weights along;
    * **restart at stage 2**: when the two-stage schedule unfreezes the backbone, the average
      restarts from the current weights (and its warm-up with it): fine-tuned weights are
      never averaged with frozen-backbone ones.

    Lightning's callback swaps the averaged weights in when validation starts and back when its
    ``on_validation_epoch_end`` hook runs, which is before the module's: au's module fits the
    decision step (per-AU thresholds, frame-threshold estimator) in that hook. Here the swap
    back waits for ``on_validation_end``: the decision step is fitted on the averaged weights'
    validation predictions and stays with them, and the checkpoints (written afterwards, this
    callback comes first in the list) hold averaged weights plus their own thresholds. Buffers
    are averaged like weights (BatchNorm statistics). Only a resumed fit restores the training
    weights a checkpoint keeps beside the average.

    Args:
        decay: Largest weight of the running average per optimizer step (0.99: about the
            last 100 steps once warmed up).
        warmup: Use the warm-up above (``False``: the constant ``decay`` from the first step).
    """

    def __init__(self, decay: float, warmup: bool = True):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"schedule.ema_decay must lie strictly between 0 and 1, got {decay}")
        super().__init__(decay=decay)
        self.decay, self.warmup = decay, warmup
        if warmup:
            self._kwargs["avg_fn"] = warmup_ema_avg_fn(decay)
        self.averaged_stage = 1

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Restart the average when the schedule has entered stage 2 since the last epoch."""
        stage = schedule_stage(trainer)
        if stage == 2 and self.averaged_stage != 2 and self._average_model is not None:
            self._average_model.n_averaged.zero_()  # the next update copies the weights
        self.averaged_stage = stage

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Keep the averaged weights in place until the module has fitted its decision step."""

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Swap the training weights back (the averaged ones take the fitted decision step)."""
        if self._average_model is not None:
            self._swap_models(pl_module)

    def state_dict(self) -> dict[str, Any]:
        """Lightning's state plus the stage the average belongs to."""
        return {**super().state_dict(), "averaged_stage": self.averaged_stage}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the state; checkpoints written before the stage was kept count as stage 1."""
        super().load_state_dict(state_dict)
        self.averaged_stage = state_dict.get("averaged_stage", 1)

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Restore both weight sets when a fit resumes; leave the averaged ones otherwise."""
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)


def schedule_stage(trainer: L.Trainer) -> int:
    """The two-stage schedule's current stage (1 or 2); 2 when no such schedule runs."""
    for callback in trainer.callbacks:
        if hasattr(callback, "stage") and hasattr(callback, "stage2_start_epoch"):
            return int(callback.stage)
    return 2
