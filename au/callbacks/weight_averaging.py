"""An exponential moving average of the weights that keeps the decision step fitted to it."""

from __future__ import annotations

from typing import Any

import lightning as L  # noqa: N812
from lightning.pytorch.callbacks import EMAWeightAveraging
from lightning.pytorch.trainer.states import TrainerFn


class AveragedWeights(EMAWeightAveraging):
    """Lightning's EMA of the weights, validated, checkpointed and tested with its own thresholds.

    Lightning's callback swaps the averaged weights in when validation starts and back when its
    ``on_validation_epoch_end`` hook runs, which is before the module's: au's module fits the
    decision step (per-AU thresholds, frame-threshold estimator) in that hook, so the fitted
    buffers would land in the training weights and checkpoints would carry averaged stale
    thresholds. Here the swap back waits for ``on_validation_end``: the decision step is fitted
    on the averaged weights' validation predictions and stays with them, and the checkpoints
    (written afterwards, this callback comes first in the list) hold averaged weights plus
    their own thresholds. Buffers are averaged like weights (BatchNorm statistics); the decision
    buffers are refitted at every validation before anything reads them. Only a resumed fit
    restores the training weights a checkpoint keeps beside the average; testing a checkpoint
    (``trainer.test(ckpt_path=...)`` after the fit) keeps the averaged ones.

    Args:
        decay: Weight of the running average per optimizer step (0.99: about the last 100 steps).
    """

    def __init__(self, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"schedule.ema_decay must lie strictly between 0 and 1, got {decay}")
        super().__init__(decay=decay)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Keep the averaged weights in place until the module has fitted its decision step."""

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Swap the training weights back (the averaged ones take the fitted decision step)."""
        if self._average_model is not None:
            self._swap_models(pl_module)

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Restore both weight sets when a fit resumes; leave the averaged ones otherwise."""
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
