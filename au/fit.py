"""``python -m au.fit``: train an AU detector (two-stage transfer learning) and test it.

Examples:
    python -m au.fit                                   # MobileNetV2 + BCE on the synthetic set
    python -m au.fit experiment=lsep backbone=densenet201 data.fold=2 seed=1
    python -m au.fit -m loss=bce,lsep,pr backbone=mobilenet_v1,mobilenet_v2
    python -m au.fit ckpt_path=logs/fit/runs/.../checkpoints/last.ckpt   # resume
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import hydra  # noqa: E402
import lightning as L  # noqa: N812, E402
from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402
from lightning.pytorch.loggers import WandbLogger  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from au.errors import ResumeMismatchError  # noqa: E402
from au.evaluation.paired_bootstrap import SubjectCounts  # noqa: E402
from au.evaluation.run_record import RESULTS_DIR, run_facts, write_run_record  # noqa: E402
from au.models.backbone import check_backbone_weights  # noqa: E402
from au.models.checkpoint import (  # noqa: E402
    detector_hyper_parameters,
    read_checkpoint,
    resume_differences,
)
from au.run.builders import build_datamodule, build_module, build_trainer, to_dict  # noqa: E402
from au.run.folder import bad_input_stops_run  # noqa: E402
from au.tasks.registry import task_class  # noqa: E402


def run_fit(config: DictConfig) -> dict:
    """Train and (optionally) test as configured; returns the test summary metrics."""
    output_dir = Path(config.paths.output_dir)
    resumed_from = checked_resume(config)
    check_backbone_weights(config.model.backbone)  # a missing or unreadable file stops here
    L.seed_everything(config.seed, workers=True)
    datamodule = build_datamodule(config)
    sizes = {split: len(ds) for split, ds in datamodule.datasets.items()}
    print(f"data: {datamodule.index.root} {sizes} subjects {datamodule.subjects}")
    module = build_module(config, datamodule)
    trainer = build_trainer(config, output_dir)
    try:
        started = time.perf_counter()
        trainer.fit(module, datamodule=datamodule, ckpt_path=config.get("ckpt_path"))
        facts = fit_facts(config, module, time.perf_counter() - started)
        facts["data_read"] = {"index": str(datamodule.index.root), "frames": sizes}
        facts["resumed_from"] = resumed_from
        print(
            f"training took {facts['train_seconds']:.0f} s; best checkpoint: "
            f"{trainer.checkpoint_callback.best_model_path}"
        )
        log_summary(trainer, facts)
        if not config.get("test", True):
            return {}
        tested = tested_checkpoint(trainer, config.schedule.get("test_checkpoint", "best"))
        trainer.test(module, datamodule=datamodule, ckpt_path=tested, verbose=False)
        facts["checkpoint"] = tested
        facts.update(checkpoint_stage_facts(trainer, tested))
        if trainer.is_global_zero:  # under DDP the test predictions are gathered on every rank
            write_test_record(trainer, module, datamodule, facts, output_dir / RESULTS_DIR)
        return {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    finally:
        finish_wandb(trainer)


#: ``ckpt_path`` values Lightning resolves itself (no file to check).
LIGHTNING_CKPT_NAMES = ("last", "best", "hpc", "registry")
#: The types of au.fit's own top-level keys (configs/fit.yaml); its sections are typed by the
#: code that receives them (:mod:`au.run.config_schema`).
CONFIG_KEYS: dict[str, object] = {
    "seed": int,
    "ckpt_path": str | None,
    "test": bool,
    "tags": list[str],
    "experiment_name": str,
}


def checked_resume(config: DictConfig) -> str | None:
    """The checkpoint a fit resumes (absolute path), checked before anything is built.

    Returns ``None`` for a fresh fit.

    Raises:
        CheckpointError: If the file is missing, truncated, needs code to load or is not au's.
        ResumeMismatchError: If the run's data, split, AUs, task or backbone differ from the
            checkpoint's (:func:`au.models.checkpoint.resume_differences`), naming each.
    """
    ckpt_path = config.get("ckpt_path")
    if not ckpt_path or str(ckpt_path) in LIGHTNING_CKPT_NAMES:
        return ckpt_path or None
    path = Path(ckpt_path).expanduser().resolve()
    checkpoint = read_checkpoint(path)
    detector_hyper_parameters(checkpoint, path)
    run = {
        "data": to_dict(config.data),
        "task": to_dict(config.get("task")),
        "model": {"backbone": to_dict(config.model.backbone)},
    }
    differences = resume_differences(checkpoint, run)
    if differences:
        raise ResumeMismatchError(
            f"ckpt_path={path} cannot be resumed with these settings ({'; '.join(differences)}); "
            "resume with the checkpoint's settings, or drop ckpt_path to start a new run"
        )
    return str(path)


def write_test_record(trainer, module, datamodule, facts: dict, out_dir: Path) -> None:
    """Score the gathered test predictions with the task's evaluator and write the run record.

    Rank 0 only; the evaluator may draw the task's figures into ``out_dir``.
    """
    evaluator = module.task.evaluator(module, datamodule, "test", figure_dir=out_dir)
    evaluator.process(module.test_results)
    result = evaluator.evaluate()
    text = write_run_record(out_dir, result, facts, split="test")
    if "predictions" in result.tables:  # AU occurrence predictions (task au or joint)
        log_subject_counts(trainer, result.tables["predictions"])
    log_record_media(trainer.loggers, result, out_dir)
    print("\n" + text + f"\nresults: {out_dir}")


#: Record tables W&B gets as tables (beside the scalars Lightning logged).
WANDB_TABLES = ("emotion_confusion", "emotion_summary", "emotion_by_condition", "f1_by_condition")


def log_record_media(loggers, result, out_dir: Path) -> None:
    """Give W&B the record's figures (``summary["figures"]``) and its small tables.

    E.g. an emotion run's confusion matrix, as ``test/emotion_confusion`` (image and table).
    Loggers without ``log_image``/``log_table`` (CSV) are skipped; call on rank 0 only.
    """
    for logger in loggers:
        if not (hasattr(logger, "log_image") and hasattr(logger, "log_table")):
            continue
        for name in result.summary.get("figures") or []:
            logger.log_image(key=f"test/{Path(name).stem}", images=[str(out_dir / name)])
        for name in WANDB_TABLES:
            if name in result.tables:
                logger.log_table(key=f"test/{name}", dataframe=result.tables[name])


def tested_checkpoint(trainer: L.Trainer, which: str) -> str:
    """The path of this fit's ``best.ckpt`` (by the monitor) or ``last.ckpt``.

    Each is the one file its checkpoint callback keeps (:func:`au.run.builders.build_checkpoints`).
    """
    callbacks = (c for c in trainer.callbacks if isinstance(c, ModelCheckpoint))
    return next(c for c in callbacks if c.filename == which).best_model_path


def checkpoint_stage_facts(trainer: L.Trainer, path: str) -> dict:
    """``checkpoint_epoch`` and ``checkpoint_stage`` (1: frozen backbone) of the tested file.

    An epoch before the one stage 2 began in belongs to stage 1; without a two-stage schedule
    the stage is not given.
    """
    schedule = next((c for c in trainer.callbacks if hasattr(c, "stage2_start_epoch")), None)
    epoch = int(read_checkpoint(path).get("epoch", -1))
    facts = {"checkpoint_epoch": epoch}
    if schedule is not None:
        in_stage2 = schedule.stage == 2 and epoch >= schedule.stage2_start_epoch
        facts["checkpoint_stage"] = 2 if in_stage2 else 1
    return facts


def fit_facts(config: DictConfig, module: L.LightningModule, train_seconds: float) -> dict:
    """What a run was (:func:`au.evaluation.run_record.run_facts`) and what it cost."""
    return {
        **run_facts(config),
        "params": sum(p.numel() for p in module.parameters()),
        "train_seconds": round(train_seconds, 2),
    }


def log_summary(trainer: L.Trainer, facts: dict) -> None:
    """Put the parameter count and training time into the W&B run summary (rank 0 only)."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger) and trainer.is_global_zero:
            logger.experiment.summary.update(
                {"params": facts["params"], "train_seconds": facts["train_seconds"]}
            )


def log_subject_counts(trainer: L.Trainer, predictions) -> None:
    """Put per-subject TP/FP/FN counts into the W&B summary (``au.compare --wandb`` CIs)."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger) and trainer.is_global_zero:
            counts = SubjectCounts.from_predictions(predictions).to_json()
            logger.experiment.summary.update({"test/subject_counts": json.dumps(counts)})


def finish_wandb(trainer: L.Trainer) -> None:
    """Close the W&B run so each job of a multirun (or fold) gets its own run."""
    if any(isinstance(logger, WandbLogger) for logger in trainer.loggers):
        import wandb

        wandb.finish()


def monitored_test_metric(config: DictConfig) -> str:
    """The test score of the task's headline, as the task logs it.

    ``test/f1`` (``task=au``), ``test/icc`` (intensity), ``test/macro_f1`` (emotion, joint).
    """
    name = (to_dict(config.get("task")) or {}).get("name", "au")
    return f"test/{task_class(name).headline}"  # the class's: no task is built for it


@hydra.main(version_base="1.3", config_path="../configs", config_name="fit")
def main(config: DictConfig) -> float | None:
    """Hydra entry point; returns the task's headline test score (for sweepers), or None."""
    with bad_input_stops_run(config, CONFIG_KEYS):
        return run_fit(config).get(monitored_test_metric(config))


if __name__ == "__main__":
    main()
