"""The paper's two-stage transfer learning as a reusable Lightning callback."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, get_args

import lightning as L  # noqa: N812
from lightning.pytorch.callbacks import Callback

from au.data.features import FeatureDataset, cached_features

Stage2LrDecay = Literal["none", "cosine"]
Mode = Literal["max", "min"]
TestCheckpoint = Literal["best", "last"]


class TwoStageFineTuning(Callback):
    """Stage 1 trains the head on a frozen backbone; stage 2 fine-tunes at a lower rate.

    Stage 1 runs until the monitored validation metric has not improved for ``patience``
    epochs, or for ``stage1_max_epochs``. Stage 2 then unfreezes all backbone blocks (or the
    last ``unfreeze_last_blocks``), sets the backbone to ``finetune_lr`` (its optimizer group
    was created with it) and the head to ``head_finetune_lr``, and runs ``stage2_epochs``
    epochs, or more when ``stage2_min_steps`` asks for more optimizer steps than those epochs
    hold (a small data set's epochs are short); with ``stage2_epochs=0`` training stops after
    stage 1. The stage survives a checkpoint/resume.

    Args:
        stage1_max_epochs: Upper bound on stage-1 epochs (0 skips stage 1).
        patience: Stage-1 epochs without improvement before switching.
        stage2_epochs: Fine-tuning epochs.
        stage2_min_steps: ``None``, or the fewest optimizer steps stage 2 takes: its length
            becomes ``max(stage2_epochs, ceil(stage2_min_steps / batches per epoch))`` epochs,
            fixed when stage 2 starts (and kept on resume).
        unfreeze_last_blocks: ``None`` unfreezes everything, N the last N blocks.
        finetune_lr: Learning rate of the backbone in stage 2 (informational: it is the
            backbone group's rate; set by the optimizer config).
        head_finetune_lr: Head learning rate in stage 2 (default: the backbone's).
        train_bn: Let BatchNorm layers of unfrozen blocks train (and update statistics).
        stage2_lr_decay: ``"none"`` keeps the stage-2 rates constant; ``"cosine"`` lowers
            them every step along a half cosine from their full value at the start of stage 2
            to zero at its end (the backbone from ``model.optimizer.finetune_lr``, the head
            from ``head_finetune_lr``), so the last epochs take small steps and the checkpoint
            chosen by validation hinges less on one noisy update.
        monitor: Validation metric to watch; ``mode`` ``"max"`` or ``"min"``.
        test_checkpoint: Which checkpoint ``au.fit`` tests (it reads ``schedule.test_checkpoint``;
            the value is checked here): ``"best"`` (by ``monitor``) or
            ``"last"`` (the end of stage 2, no choice among epochs).
        ema_decay: ``None``, or validate, checkpoint and test an exponential moving average of
            the weights with this (largest) decay per step, restarted when stage 2 begins
            (:class:`~au.callbacks.weight_averaging.AveragedWeights`, added by
            :func:`au.run.builders.build_callbacks`).
        ema_warmup: Warm the average's decay up from 0.1 (``(1 + n) / (10 + n)`` at the n-th
            update, as timm's EMA), so its horizon never exceeds the steps taken.
        cache_features: Train stage 1 on backbone features computed once (train and val
            images with evaluation preprocessing, i.e. no augmentation in stage 1); with
            ``stage2_epochs=0`` the backbone never trains and the test runs on cached
            features too. Needs an
            :class:`~au.data.datamodule.AUDataModule` and ``reload_dataloaders_every_n_epochs=1``.
        feature_cache_dir: Where cached features are kept between runs (``None``: memory only).
    """

    def __init__(
        self,
        stage1_max_epochs: int = 10,
        patience: int = 2,
        stage2_epochs: int = 5,
        unfreeze_last_blocks: int | None = None,
        head_finetune_lr: float | None = None,
        train_bn: bool = True,
        stage2_lr_decay: Stage2LrDecay = "none",
        monitor: str = "val/f1",
        mode: Mode = "max",
        test_checkpoint: TestCheckpoint = "best",
        ema_decay: float | None = None,
        ema_warmup: bool = True,
        cache_features: bool = False,
        feature_cache_dir: str | None = None,
        stage2_min_steps: int | None = None,
    ):
        if stage2_min_steps is not None and stage2_min_steps < 1:
            raise ValueError(
                f"schedule.stage2_min_steps must be null or >= 1, got {stage2_min_steps}"
            )
        if stage1_max_epochs < 0 or stage2_epochs < 0 or patience < 1:
            raise ValueError(
                "schedule needs stage1_max_epochs >= 0, stage2_epochs >= 0 and patience >= 1; "
                f"got {stage1_max_epochs}, {stage2_epochs}, {patience}"
            )
        choices = {
            "stage2_lr_decay": (stage2_lr_decay, Stage2LrDecay),
            "mode": (mode, Mode),
            "test_checkpoint": (test_checkpoint, TestCheckpoint),
        }
        for key, (value, options) in choices.items():
            if value not in get_args(options):
                raise ValueError(
                    f"schedule.{key} must be one of {', '.join(get_args(options))}, got {value!r}"
                )
        self.stage1_max_epochs, self.patience = stage1_max_epochs, patience
        self.stage2_epochs, self.unfreeze_last_blocks = stage2_epochs, unfreeze_last_blocks
        self.stage2_min_steps = stage2_min_steps
        #: Stage 2's epochs, fixed by its first epoch (``None`` until then).
        self.stage2_length: int | None = None
        self.head_finetune_lr, self.train_bn = head_finetune_lr, train_bn
        self.stage2_lr_decay = stage2_lr_decay
        self.monitor, self.mode = monitor, mode
        self.ema_decay, self.ema_warmup = ema_decay, ema_warmup
        self.cache_features = cache_features
        self.feature_cache_dir = Path(feature_cache_dir) if feature_cache_dir else None
        self.stage = 1 if stage1_max_epochs > 0 else 2
        self.best: float | None = None
        self.wait = 0
        self.stage2_start_epoch = 0

    @property
    def total_epochs(self) -> int:
        """Epochs of both stages at most (the Trainer's ``max_epochs``).

        -1 (no limit: this callback stops training) when ``stage2_min_steps`` makes stage 2's
        length depend on the data.
        """
        if self.stage2_min_steps is not None and self.stage2_epochs > 0:
            return -1
        return self.stage1_max_epochs + self.stage2_epochs

    def _fix_stage2_length(self, trainer: L.Trainer) -> None:
        """Stage 2's epochs: ``stage2_epochs``, or enough for ``stage2_min_steps`` steps."""
        self.stage2_length = self.stage2_epochs
        if self.stage2_min_steps is not None and self.stage2_epochs > 0:
            batches = max(int(trainer.num_training_batches), 1)
            self.stage2_length = max(self.stage2_epochs, math.ceil(self.stage2_min_steps / batches))

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Freeze (stage 1) or unfreeze (stage 2, e.g. on resume) before the first step."""
        if self.stage == 1:
            pl_module.freeze_backbone()
            if self.cache_features:
                self._install_features(trainer.datamodule, pl_module)
        else:
            pl_module.freeze_backbone()
            pl_module.unfreeze_backbone(self.unfreeze_last_blocks, self.train_bn)

    def _install_features(
        self, datamodule, pl_module: L.LightningModule, splits=("train", "val")
    ) -> None:
        if datamodule is None or not hasattr(datamodule, "use_features"):
            raise ValueError("schedule.cache_features needs an AUDataModule passed to fit()")
        if not trainer_reloads_loaders(pl_module.trainer):
            raise ValueError("schedule.cache_features needs reload_dataloaders_every_n_epochs=1")
        for split in splits:
            view = datamodule.eval_view(split)
            features = cached_features(
                pl_module.backbone,
                view,
                self.feature_cache_dir,
                datamodule.preprocessing_key(),
                batch_size=datamodule.eval_batch_size,
                desc=f"stage-1 features ({split})",
            )
            datamodule.use_features({split: FeatureDataset(features, view)})

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Fix stage 2's length when a run starts in stage 2 (its batches are known now)."""
        if self.stage == 2 and self.stage2_length is None:
            self._fix_stage2_length(trainer)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int
    ) -> None:
        """Set the stage-2 learning rates of this step (``stage2_lr_decay="cosine"``)."""
        if self.stage != 2 or self.stage2_lr_decay == "none" or not self.stage2_length:
            return
        batches = max(int(trainer.num_training_batches), 1)
        epochs_done = trainer.current_epoch - self.stage2_start_epoch + batch_idx / batches
        factor = stage2_lr_factor(epochs_done / self.stage2_length)
        backbone_lr = float(pl_module.optimizer_config["finetune_lr"])
        rates = {"backbone": backbone_lr, "head": self.head_finetune_lr or backbone_lr}
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                if group.get("name") in rates:
                    group["lr"] = rates[group["name"]] * factor

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Decide, after each epoch's validation, whether to switch stage or stop."""
        epoch = trainer.current_epoch
        if self.stage == 2:
            if epoch + 1 - self.stage2_start_epoch >= self.stage2_length:
                trainer.should_stop = True
            return
        if self._improved(trainer.callback_metrics.get(self.monitor)):
            self.wait = 0
        else:
            self.wait += 1
        if self.wait >= self.patience or epoch + 1 >= self.stage1_max_epochs:
            self._start_stage2(trainer, pl_module, epoch + 1)

    def _improved(self, value) -> bool:
        if value is None:
            return True
        value = float(value)
        better = self.best is None or (
            value > self.best if self.mode == "max" else value < self.best
        )
        if better:
            self.best = value
        return better

    def _start_stage2(self, trainer: L.Trainer, pl_module: L.LightningModule, epoch: int) -> None:
        self.stage, self.stage2_start_epoch = 2, epoch
        self._fix_stage2_length(trainer)
        if self.stage2_epochs == 0:
            trainer.should_stop = True
            if self.cache_features:  # the backbone never trains: test on its cached features
                self._install_features(trainer.datamodule, pl_module, splits=("test",))
            return
        if trainer.datamodule is not None and hasattr(trainer.datamodule, "use_images"):
            trainer.datamodule.use_images()
        pl_module.unfreeze_backbone(self.unfreeze_last_blocks, self.train_bn)
        for optimizer in trainer.optimizers:
            backbone_lr = next(g["lr"] for g in optimizer.param_groups if g["name"] == "backbone")
            for group in optimizer.param_groups:
                if group["name"] == "head":
                    group["lr"] = self.head_finetune_lr or backbone_lr
        pl_module.print(
            f"\nepoch {epoch}: stage 2 (fine-tuning the backbone at lr {backbone_lr:g} for "
            f"{self.stage2_length} epochs)"
        )

    def state_dict(self) -> dict:
        """Stage bookkeeping saved in checkpoints."""
        return {
            "stage": self.stage,
            "best": self.best,
            "wait": self.wait,
            "stage2_start_epoch": self.stage2_start_epoch,
            "stage2_length": self.stage2_length,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the stage on resume."""
        self.stage = state_dict["stage"]
        self.best, self.wait = state_dict["best"], state_dict["wait"]
        self.stage2_start_epoch = state_dict["stage2_start_epoch"]
        self.stage2_length = state_dict.get("stage2_length", self.stage2_epochs)


def stage2_lr_factor(progress: float) -> float:
    """The half-cosine factor of the full stage-2 rate at ``progress`` (0 start, 1 end)."""
    return 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


def trainer_reloads_loaders(trainer: L.Trainer) -> bool:
    """Whether the Trainer rebuilds its data loaders every epoch (needed to leave the cache)."""
    return trainer.reload_dataloaders_every_n_epochs == 1
