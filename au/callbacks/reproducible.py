"""Per-epoch seeding, so an interrupted and resumed run ends exactly like an uninterrupted one."""

from __future__ import annotations

import random

import lightning as L  # noqa: N812
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback


class ReproducibleEpochs(Callback):
    """Reseeds every RNG at the start of each epoch from ``(seed, epoch)``.

    Dropout, augmentation (via the data module's ``set_epoch``) and the shuffle
    (:class:`~au.data.datamodule.EpochShuffleSampler`) then depend only on the seed and the
    epoch, not on what ran before, so resuming from an epoch-end checkpoint replays the
    remaining epochs exactly.
    """

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Seed Python, NumPy and torch, and tell the training images the epoch."""
        epoch_seed = int(
            np.random.SeedSequence([self.seed, trainer.current_epoch]).generate_state(1)[0]
        )
        random.seed(epoch_seed)
        np.random.seed(epoch_seed)
        torch.manual_seed(epoch_seed)
        if hasattr(trainer.datamodule, "set_epoch"):
            trainer.datamodule.set_epoch(self.seed, trainer.current_epoch)
