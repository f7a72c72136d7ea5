"""Build the pieces of a run (data, model, callbacks, loggers, trainer) from a Hydra config."""

from __future__ import annotations

from pathlib import Path

import lightning as L  # noqa: N812
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from au.callbacks import AveragedWeights, ReproducibleEpochs, TwoStageFineTuning
from au.data.datamodule import AUDataModule
from au.evaluation.run_record import run_facts
from au.losses.registry import options_from_training_labels
from au.models.checkpoint import AtomicCheckpointIO
from au.models.module import AULitModule
from au.models.preprocessing import backbone_normalization
from au.tasks.registry import build_task


def to_dict(config: DictConfig | dict | None) -> dict:
    """A plain, resolved dict of a config node."""
    if config is None:
        return {}
    if isinstance(config, DictConfig):
        return OmegaConf.to_container(config, resolve=True)
    return dict(config)


def build_datamodule(config: DictConfig) -> AUDataModule:
    """The data module of ``config.data`` (prepared and set up).

    The settings are saved in checkpoints (``datamodule_hyper_parameters["data"]``) so
    ``au.evaluate`` can rebuild the same splits from a checkpoint alone. Images are normalised
    with the backbone's own statistics (:mod:`au.models.preprocessing`), which the module
    saves in its ``data_config``.
    """
    options = to_dict(config.data)
    task = build_task(to_dict(config.get("task")))
    mean, std = backbone_normalization(config.model.backbone.name, options.get("channels", 3))
    datamodule = AUDataModule(**options, seed=int(config.seed), task=task, mean=mean, std=std)
    datamodule.save_hyperparameters({"data": options})
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def build_module(config: DictConfig, datamodule: AUDataModule) -> AULitModule:
    """The LightningModule of ``config.model`` for the data module's AUs."""
    model = to_dict(config.model)
    train = datamodule.datasets["train"]
    loss = options_from_training_labels(model["loss"], train.labels, train.mask)
    data_config = dict(
        image_size=datamodule.image_size,
        channels=datamodule.channels,
        mean=list(datamodule.mean),
        std=list(datamodule.std),
    )
    if getattr(datamodule, "clahe", False):
        data_config["clahe"] = True  # au.predict and au.evaluate preprocess the same way
    if getattr(datamodule, "crop_geometry", None):
        data_config["crop_geometry"] = datamodule.crop_geometry  # au.predict cuts faces alike
    module = AULitModule(
        aus=datamodule.aus,
        backbone=model["backbone"],
        head=model.get("head"),
        loss=loss,
        optimizer=model.get("optimizer"),
        data_config=data_config,
        channels_last=model.get("channels_last", False),
        decision=model.get("decision"),
        task=to_dict(config.get("task")) or None,
    )
    module.task.init_from_data(module, datamodule)  # a resumed fit then loads its weights
    return module


def build_callbacks(config: DictConfig, output_dir: Path) -> list[L.Callback]:
    """The two-stage schedule, checkpoints (best by val/f1 and last) and an LR monitor."""
    schedule = TwoStageFineTuning(**to_dict(config.schedule))
    # the average (if any) swaps back before the checkpoints are written: it comes first
    averaging = (
        [AveragedWeights(schedule.ema_decay, schedule.ema_warmup)]
        if schedule.ema_decay is not None
        else []
    )
    return [
        schedule,
        *averaging,
        *build_checkpoints(output_dir / "checkpoints", schedule.monitor, schedule.mode),
        ReproducibleEpochs(config.seed),
        LearningRateMonitor(logging_interval="epoch"),
    ]


def build_checkpoints(folder: Path, monitor: str, mode: str) -> list[ModelCheckpoint]:
    """``best.ckpt`` (by ``monitor``) and ``last.ckpt`` (the latest validation), in that order.

    ``last.ckpt`` comes from its own callback, written after every validation: since Lightning
    2.6, ``save_last=True`` writes it only when a top-k checkpoint is written at the same step,
    which with ``save_top_k=1`` makes it a copy of the best epoch, and a killed run would lose
    every epoch since the last improvement. The first is ``trainer.checkpoint_callback``.
    """
    best = ModelCheckpoint(
        dirpath=folder, filename="best", monitor=monitor, mode=mode, auto_insert_metric_name=False
    )
    # no monitor and one file kept: every validation overwrites last.ckpt
    latest = ModelCheckpoint(
        dirpath=folder, filename="last", monitor=None, save_top_k=1, enable_version_counter=False
    )
    return [best, latest]


def build_loggers(config: DictConfig, output_dir: Path) -> list[Logger]:
    """CSV always (unless disabled) and W&B (offline by default)."""
    options = to_dict(config.logger)
    loggers: list[Logger] = []
    if options.get("csv", True):
        keep_earlier_csv_log(output_dir / "csv")
        loggers.append(CSVLogger(save_dir=output_dir, name="csv", version=""))
    wandb = options.get("wandb")
    if wandb:
        wandb = {**wandb, "tags": comparison_tags(config, wandb.get("tags"))}
        loggers.append(WandbLogger(save_dir=str(output_dir), config=to_dict(config), **wandb))
    return loggers


@rank_zero_only
def keep_earlier_csv_log(folder: Path) -> None:
    """Rename a ``metrics.csv`` left by an interrupted run, so a resumed run does not erase it.

    Lightning's CSV logger starts its file afresh; the epochs logged before the interruption
    stay in ``metrics.part<k>.csv``. Under DDP only rank 0 renames (the other ranks' processes
    start later and would move rank 0's new log aside).
    """
    previous = folder / "metrics.csv"
    if previous.is_file():
        parts = len(list(folder.glob("metrics.part*.csv")))
        previous.rename(folder / f"metrics.part{parts + 1}.csv")


def comparison_tags(config: DictConfig, tags: list[str] | None = None) -> list[str]:
    """``tags`` plus ``key:value`` tags to filter W&B runs by loss, backbone, data, fold, seed."""
    facts = run_facts(config)
    keys = ("loss", "backbone", "data", "fold", "seed", "ablation")
    derived = [f"{key}:{facts[key]}" for key in keys if facts[key] is not None]
    return list(dict.fromkeys([*(tags or []), *derived]))


def build_trainer(config: DictConfig, output_dir: Path) -> L.Trainer:
    """A Lightning Trainer running both stages of the schedule.

    Checkpoints are written atomically (:class:`~au.models.checkpoint.AtomicCheckpointIO`).
    """
    callbacks = build_callbacks(config, output_dir)
    schedule = next(c for c in callbacks if isinstance(c, TwoStageFineTuning))
    options = {k: v for k, v in to_dict(config.trainer).items() if v is not None}
    if schedule.cache_features:
        options["reload_dataloaders_every_n_epochs"] = 1
    return L.Trainer(
        max_epochs=schedule.total_epochs,
        callbacks=callbacks,
        logger=build_loggers(config, output_dir),
        default_root_dir=output_dir,
        plugins=[AtomicCheckpointIO()],
        **options,
    )
